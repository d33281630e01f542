//! The databases the guard runs on, and the SQL it sends.
//!
//! The SQL text is the same for SQLite (≥ 3.35, for `RETURNING`; sqlx bundles a newer one) and PostgreSQL
//! (≥ 9.5, for `ON CONFLICT`): `$N` placeholders, which sqlx binds by number on SQLite too, `INSERT .. AS`
//! aliases, `excluded`, `CURRENT_TIMESTAMP`, and `CAST(.. AS INTEGER)` on what is read back so that a
//! table declared with `SMALLINT` or nullable columns (as the notes' MySQL one is) still decodes.
//! What differs is how the claiming transaction begins; see [`GuardDatabase`].

use futures::future::BoxFuture;
use sqlx::Pool;
#[cfg(feature = "postgres")]
use sqlx::Postgres;
#[cfg(feature = "sqlite")]
use sqlx::Sqlite;

use super::key::ConsumeKey;

/// A database the [`IdempotencyGuard`](super::IdempotencyGuard) supports: `sqlx::Sqlite` (feature `sqlite`,
/// on by default) and `sqlx::Postgres` (feature `postgres`).
///
/// The guard is generic over the database, not over `sqlx::Any` or an enum of pools, so that the handler
/// gets a typed `&mut SqliteConnection` or `&mut PgConnection` inside the claiming transaction: every column
/// type and `query!` macro of that driver works in the handler, in the same transaction as the claim. `Any` would
/// limit the handler to `Any`'s few types; an enum would make every handler match on the database.
///
/// Sealed: the guard's locking argument is made per database (see the module docs), so other databases
/// cannot be plugged in without making it again.
pub trait GuardDatabase: sqlx::Database + sealed::Backend {}

#[cfg(feature = "sqlite")]
impl GuardDatabase for Sqlite {}
#[cfg(feature = "postgres")]
impl GuardDatabase for Postgres {}

/// Column values the claim reads back: (consumer_status, consumer_times), NULL-tolerant.
pub(crate) type ClaimRow = (Option<i32>, Option<i32>);

/// (consumer_status, consumer_times, remark), NULL-tolerant.
pub(crate) type EntryRow = (Option<i32>, Option<i32>, Option<String>);

pub(crate) mod sealed {
    use super::*;

    /// What the guard needs from a database, implemented by the same macro for each so the SQL and the
    /// binding stay identical. Each statement runs on a connection: the claiming transaction's, or one
    /// from the pool for the fallback failure record and the inspection calls. (Taking the concrete
    /// connection type, not a generic executor, keeps `Executor` bounds out of the guard's signatures.)
    pub trait Backend: sqlx::Database {
        /// How the claiming transaction begins. SQLite: `BEGIN IMMEDIATE`, which takes the database's
        /// write lock before anything is read (waiting up to the busy timeout), so two claims of one key
        /// run one after the other and the second sees the first's committed row. PostgreSQL: a plain
        /// `BEGIN` (READ COMMITTED); the claim's `INSERT .. ON CONFLICT DO UPDATE` locks the row, or waits
        /// for a concurrent inserter of the same key to commit or roll back.
        const BEGIN_CLAIM: Option<&'static str>;

        /// Runs the claim upsert; returns the row as it is after the claim.
        fn claim<'a>(
            conn: &'a mut Self::Connection,
            sql: &'a str,
            key: &'a ConsumeKey,
        ) -> BoxFuture<'a, Result<ClaimRow, sqlx::Error>>;

        /// Runs a statement binding the primary key as $1..$3; returns rows affected.
        fn exec_key<'a>(
            conn: &'a mut Self::Connection,
            sql: &'a str,
            key: &'a ConsumeKey,
        ) -> BoxFuture<'a, Result<u64, sqlx::Error>>;

        /// Upserts a failure; returns consumer_times after it, or `None` when the row was done and so was
        /// left alone.
        fn record_failure<'a>(
            conn: &'a mut Self::Connection,
            sql: &'a str,
            key: &'a ConsumeKey,
            remark: &'a str,
        ) -> BoxFuture<'a, Result<Option<Option<i32>>, sqlx::Error>>;

        /// Reads one row.
        fn fetch_entry<'a>(
            conn: &'a mut Self::Connection,
            sql: &'a str,
            key: &'a ConsumeKey,
        ) -> BoxFuture<'a, Result<Option<EntryRow>, sqlx::Error>>;

        /// Runs DDL (possibly several statements).
        fn exec_raw<'a>(
            pool: &'a Pool<Self>,
            sql: &'a str,
        ) -> BoxFuture<'a, Result<(), sqlx::Error>>;
    }
}

macro_rules! impl_backend {
    ($db:ty, $begin:expr) => {
        impl sealed::Backend for $db {
            const BEGIN_CLAIM: Option<&'static str> = $begin;

            fn claim<'a>(
                conn: &'a mut Self::Connection,
                sql: &'a str,
                key: &'a ConsumeKey,
            ) -> BoxFuture<'a, Result<ClaimRow, sqlx::Error>> {
                Box::pin(async move {
                    sqlx::query_as::<_, ClaimRow>(sql)
                        .bind(key.group.as_str())
                        .bind(key.tag.as_str())
                        .bind(key.key.as_str())
                        .bind(key.msg_id.as_deref())
                        .bind(key.body.as_deref())
                        .fetch_one(conn)
                        .await
                })
            }

            fn exec_key<'a>(
                conn: &'a mut Self::Connection,
                sql: &'a str,
                key: &'a ConsumeKey,
            ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
                Box::pin(async move {
                    let done = sqlx::query(sql)
                        .bind(key.group.as_str())
                        .bind(key.tag.as_str())
                        .bind(key.key.as_str())
                        .execute(conn)
                        .await?;
                    Ok(done.rows_affected())
                })
            }

            fn record_failure<'a>(
                conn: &'a mut Self::Connection,
                sql: &'a str,
                key: &'a ConsumeKey,
                remark: &'a str,
            ) -> BoxFuture<'a, Result<Option<Option<i32>>, sqlx::Error>> {
                Box::pin(async move {
                    let row = sqlx::query_as::<_, (Option<i32>,)>(sql)
                        .bind(key.group.as_str())
                        .bind(key.tag.as_str())
                        .bind(key.key.as_str())
                        .bind(key.msg_id.as_deref())
                        .bind(key.body.as_deref())
                        .bind(remark)
                        .fetch_optional(conn)
                        .await?;
                    Ok(row.map(|(times,)| times))
                })
            }

            fn fetch_entry<'a>(
                conn: &'a mut Self::Connection,
                sql: &'a str,
                key: &'a ConsumeKey,
            ) -> BoxFuture<'a, Result<Option<EntryRow>, sqlx::Error>> {
                Box::pin(async move {
                    sqlx::query_as::<_, EntryRow>(sql)
                        .bind(key.group.as_str())
                        .bind(key.tag.as_str())
                        .bind(key.key.as_str())
                        .fetch_optional(conn)
                        .await
                })
            }

            fn exec_raw<'a>(
                pool: &'a Pool<Self>,
                sql: &'a str,
            ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
                Box::pin(async move {
                    sqlx::raw_sql(sql).execute(pool).await?;
                    Ok(())
                })
            }
        }
    };
}

#[cfg(feature = "sqlite")]
impl_backend!(Sqlite, Some("BEGIN IMMEDIATE"));
#[cfg(feature = "postgres")]
impl_backend!(Postgres, None);

/// The guard's statements for one table name, built once when the guard is configured.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) table: String,
    pub(crate) claim: String,
    pub(crate) mark_done: String,
    pub(crate) record_failure: String,
    pub(crate) entry: String,
    pub(crate) reset: String,
}

const KEY_MATCH: &str = "group_name = $1 AND msg_tag = $2 AND msg_key = $3";

impl Statements {
    /// Statements for `table`, which the caller has checked with [`is_valid_table_name`].
    pub(crate) fn new(table: &str) -> Self {
        Statements {
            table: table.to_string(),
            // The no-op DO UPDATE is what makes a duplicate wait: it locks the existing row (PostgreSQL) and
            // returns it, so one statement both claims a new key and reads the state of a known one.
            claim: format!(
                "INSERT INTO {table} AS l \
                 (group_name, msg_tag, msg_key, msg_id, msg_body, consumer_status, consumer_times, consumer_timestamp) \
                 VALUES ($1, $2, $3, $4, $5, 0, 0, CURRENT_TIMESTAMP) \
                 ON CONFLICT (group_name, msg_tag, msg_key) DO UPDATE SET consumer_status = l.consumer_status \
                 RETURNING CAST(consumer_status AS INTEGER), CAST(consumer_times AS INTEGER)"
            ),
            mark_done: format!(
                "UPDATE {table} SET consumer_status = 1, consumer_times = COALESCE(consumer_times, 0) + 1, \
                 consumer_timestamp = CURRENT_TIMESTAMP WHERE {KEY_MATCH}"
            ),
            // The WHERE keeps a done row done. Under the claim it cannot be done; on the fallback path (its own
            // transaction, after the claim rolled back) another delivery may have applied the key meanwhile.
            record_failure: format!(
                "INSERT INTO {table} AS l \
                 (group_name, msg_tag, msg_key, msg_id, msg_body, consumer_status, consumer_times, consumer_timestamp, remark) \
                 VALUES ($1, $2, $3, $4, $5, 2, 1, CURRENT_TIMESTAMP, $6) \
                 ON CONFLICT (group_name, msg_tag, msg_key) DO UPDATE SET consumer_status = 2, \
                 consumer_times = COALESCE(l.consumer_times, 0) + 1, consumer_timestamp = CURRENT_TIMESTAMP, \
                 remark = excluded.remark \
                 WHERE l.consumer_status IS NULL OR l.consumer_status <> 1 \
                 RETURNING CAST(consumer_times AS INTEGER)"
            ),
            entry: format!(
                "SELECT CAST(consumer_status AS INTEGER), CAST(consumer_times AS INTEGER), remark \
                 FROM {table} WHERE {KEY_MATCH}"
            ),
            reset: format!(
                "UPDATE {table} SET consumer_times = 0 WHERE {KEY_MATCH} AND consumer_status = 2"
            ),
        }
    }
}

/// Whether `name` is `ident` or `schema.ident`, each an ASCII letter or `_` followed by letters, digits or
/// `_`, at most 63 bytes (PostgreSQL's limit). Nothing else is spliced into SQL.
pub(crate) fn is_valid_table_name(name: &str) -> bool {
    let ident = |s: &str| {
        let mut chars = s.chars();
        s.len() <= 63
            && chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut parts = name.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(t), None, None) => ident(t),
        (Some(s), Some(t), None) => ident(s) && ident(t),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert!(is_valid_table_name("trade_mq_consumer_log"));
        assert!(is_valid_table_name("shop.trade_mq_consumer_log"));
        assert!(is_valid_table_name("_x1"));
        for bad in [
            "",
            "1abc",
            "a.b.c",
            "a;drop table x",
            "a b",
            "\"quoted\"",
            ".a",
            "a.",
        ] {
            assert!(!is_valid_table_name(bad), "{bad:?} accepted");
        }
        assert!(!is_valid_table_name(&"a".repeat(64)));
    }
}
