//! Exactly-once effects under at-least-once delivery: a consumer-log guard over sqlx.
//!
//! RocketMQ delivers a message at least once: a consumer that crashes before acknowledging, a rebalance, or
//! a retry after a timeout all deliver it again. A handler whose effect is a database change (restore stock,
//! refund a balance) must therefore apply it once however often it runs. [`IdempotencyGuard`] does that with
//! the shop's `trade_mq_consumer_log` table, keyed by (consumer group, tag, key):
//!
//! 1. Begin one transaction and *claim* the key: insert the row with status 0 (processing), or, if it exists,
//!    lock it and read its status.
//! 2. Status 1 (done): roll back and report [`Outcome::Duplicate`]; the listener acknowledges.
//!    Status 2 (failed) with the attempts used up: roll back and return [`GuardError::AttemptsExhausted`].
//! 3. Otherwise run the handler *on the same transaction* (inside a savepoint), set status 1 and
//!    `consumer_times + 1`, commit: the effect and the "done" mark become visible together or not at all.
//! 4. If the handler fails: roll back to the savepoint (its writes vanish, the claim stays), record the
//!    failure (status 2, `consumer_times + 1`, remark = the error) and commit that alone; then return
//!    [`GuardError::HandlerFailed`] so the listener asks the broker to redeliver, or
//!    [`GuardError::AttemptsExhausted`] when that was the last allowed attempt so the listener dead-letters.
//!    If the claiming transaction cannot be used any more (connection lost), it rolls back whole and the
//!    failure is recorded in a transaction of its own instead.
//!
//! Recording the failure under the claim, rather than after a full rollback, closes a window: between a
//! rollback and a separate record, a racing delivery could claim the key, so attempts were over-counted and
//! a late failure record could land on a key that had just succeeded. Either way the failure record
//! commits without the handler's writes, which is what the shop spec asks for.
//!
//! This fixes the three holes of the course notes' version (see `shared/research/shop-spec.md`): there, the
//! "processing" row was committed on its own, so a crash left it stuck and every redelivery skipped it; the
//! business change and the log update were separate statements; and the exception was swallowed, so the
//! broker never retried.
//!
//! # States a redelivery can find
//!
//! | row | how it came about | what a redelivery does |
//! |---|---|---|
//! | none | never run, or every run so far was interrupted before committing | claims and runs |
//! | status 1 | the handler's writes committed with it | [`Outcome::Duplicate`], handler not run |
//! | status 2, times < limit | earlier runs failed and were recorded | claims and runs again |
//! | status 2, times ≥ limit | the limit was reached | [`GuardError::AttemptsExhausted`], not run |
//! | status 0, committed | not written by this guard (the notes' code, a manual insert) | treated as not done: runs |
//!
//! Status 0 is only ever visible inside the claiming transaction: it commits as 1 or 2, or rolls back to
//! the previous state. So a crash mid-handler (process killed, connection lost, the future dropped) leaves
//! *no* stuck "processing" row: the database rolls the transaction back (PostgreSQL when the connection
//! drops, SQLite from its journal on the next open) and the redelivery runs the handler again. Such an
//! interrupted run is not counted as an attempt; the broker's own reconsume limit still bounds how often
//! that can happen.
//!
//! # Concurrency
//!
//! Two deliveries of one message may run at once (a rebalance hands the queue to another instance while the
//! first is still working). The claim serialises them on the primary key: the second claim waits until the
//! first transaction ends, then sees status 1 and reports a duplicate (or, if the first failed, sees the
//! recorded failure and runs again while attempts remain). On PostgreSQL the wait is the row lock of `INSERT .. ON CONFLICT DO
//! UPDATE`; on SQLite, which has no row locks or `SELECT .. FOR UPDATE`, the claim begins with `BEGIN
//! IMMEDIATE`, taking the database's single write lock before reading anything, so the claim can never see a
//! state that a concurrent writer is about to change. On SQLite this serialises *all* guarded handlers of one
//! database file (SQLite has one writer at a time anyway); a handler holding the lock longer than the
//! connection's busy timeout (sqlx default 5 s) makes the others fail with a database error and retry.
//!
//! Because a failure is recorded before the claim is released, the attempt count is exact under racing
//! deliveries too. (The fallback record, used only when the claiming transaction is broken, leaves a done
//! row alone and reports [`Outcome::Duplicate`] if a concurrent delivery succeeded meanwhile.)
//!
//! # The table
//!
//! [`IdempotencyGuard::ensure_table`] creates it if missing; the same DDL is the migration file
//! `rmq-runtime/migrations/20240101000000_trade_mq_consumer_log.sql` ([`CONSUMER_LOG_DDL`]), which an app
//! that keeps its schema in sqlx migrations copies into its own directory.
//!
//! # Examples
//!
//! One wrapper call inside a listener:
//!
//! ```no_run
//! use rmq_runtime::idempotency::{IdempotencyGuard, Outcome};
//! use rmq_runtime::{ConsumeOutcome, MessageExt};
//! use sqlx::SqlitePool;
//!
//! # async fn demo(pool: SqlitePool, msg: MessageExt) -> Result<(), Box<dyn std::error::Error>> {
//! let guard = IdempotencyGuard::new(pool).max_attempts(3);
//! guard.ensure_table().await?;
//!
//! let goods_id = 7_i64;
//! let result = guard
//!     .run_message("goods_order_cancel_group", &msg, |conn| {
//!         Box::pin(async move {
//!             sqlx::query("UPDATE trade_goods SET goods_number = goods_number + 1 WHERE goods_id = $1")
//!                 .bind(goods_id)
//!                 .execute(&mut *conn)
//!                 .await?;
//!             Ok::<_, sqlx::Error>(())
//!         })
//!     })
//!     .await;
//! let answer: ConsumeOutcome = match &result {
//!     Ok(Outcome::Applied(())) | Ok(Outcome::Duplicate) => ConsumeOutcome::Success,
//!     Err(e) => e.consume_outcome(),
//! };
//! # let _ = answer;
//! # Ok(())
//! # }
//! ```
//!
//! Or [`IdempotencyGuard::listener`], which wraps a handler into a whole [`MessageListener`].

mod backend;
mod error;
mod key;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::{Acquire, Pool};

pub use backend::GuardDatabase;
pub use error::{BoxError, GuardError};
pub use key::{ConsumeKey, MAX_REMARK, MAX_STORED_BODY};

use crate::consumer::{ConsumeContext, ConsumeOutcome, MessageListener};
use crate::message::MessageExt;
use backend::{is_valid_table_name, Statements};

/// The shop's table name, the guard's default.
pub const DEFAULT_TABLE: &str = "trade_mq_consumer_log";

/// The attempt limit the course notes use.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// DDL of the consumer log for SQLite and PostgreSQL alike (`CREATE TABLE IF NOT EXISTS`), named
/// [`DEFAULT_TABLE`]; the migration file shipped in `rmq-runtime/migrations/`.
pub const CONSUMER_LOG_DDL: &str =
    include_str!("../../migrations/20240101000000_trade_mq_consumer_log.sql");

/// `consumer_status` values, as the notes define them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConsumerStatus {
    /// 0: claimed by a transaction that has not ended (or a row this guard did not write).
    Processing,
    /// 1: the effect is committed.
    Done,
    /// 2: the last run failed and was rolled back.
    Failed,
}

impl ConsumerStatus {
    /// The column value.
    pub fn code(self) -> i32 {
        match self {
            ConsumerStatus::Processing => 0,
            ConsumerStatus::Done => 1,
            ConsumerStatus::Failed => 2,
        }
    }

    /// The status for a column value; NULL and unknown values count as processing, i.e. not done, so the
    /// guard runs the handler rather than skip an effect.
    pub fn from_code(code: Option<i32>) -> Self {
        match code {
            Some(1) => ConsumerStatus::Done,
            Some(2) => ConsumerStatus::Failed,
            _ => ConsumerStatus::Processing,
        }
    }
}

/// One consumer-log row as [`IdempotencyGuard::entry`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// `consumer_status`.
    pub status: ConsumerStatus,
    /// `consumer_times`: handler runs recorded (failed ones, plus the successful one).
    pub times: u32,
    /// `remark`: the last failure's error, kept after a later success so flaky handlers stay visible.
    pub remark: Option<String>,
}

/// What a guarded run did when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Outcome<T> {
    /// The handler ran and its writes committed together with the "done" mark; `T` is what it returned.
    Applied(T),
    /// The key was already done (by an earlier delivery, or a concurrent one that won); nothing ran, or a
    /// failed run lost to a concurrent successful one. Acknowledge the message.
    Duplicate,
}

impl<T> Outcome<T> {
    /// Whether this run applied the effect.
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied(_))
    }
}

/// The answer a push consumer gives the broker for a guarded run: success for applied and duplicate,
/// [`GuardError::consume_outcome`] for errors.
pub fn consume_outcome<T>(result: &Result<Outcome<T>, GuardError>) -> ConsumeOutcome {
    match result {
        Ok(_) => ConsumeOutcome::Success,
        Err(e) => e.consume_outcome(),
    }
}

/// Runs message handlers so that each (group, tag, key) takes effect once; see the [module docs](self).
///
/// Cheap to clone (the pool and the prepared SQL text are shared), so one guard per table can be built at
/// startup and cloned into each listener.
pub struct IdempotencyGuard<DB: GuardDatabase> {
    pool: Pool<DB>,
    sql: Arc<Statements>,
    max_attempts: u32,
}

impl<DB: GuardDatabase> Clone for IdempotencyGuard<DB> {
    fn clone(&self) -> Self {
        IdempotencyGuard {
            pool: self.pool.clone(),
            sql: Arc::clone(&self.sql),
            max_attempts: self.max_attempts,
        }
    }
}

impl<DB: GuardDatabase> fmt::Debug for IdempotencyGuard<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyGuard")
            .field("table", &self.sql.table)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl<DB: GuardDatabase> IdempotencyGuard<DB> {
    /// A guard over `pool`'s [`DEFAULT_TABLE`] with [`DEFAULT_MAX_ATTEMPTS`].
    ///
    /// The handlers' own tables must be in the same database: the point is one transaction for both.
    pub fn new(pool: Pool<DB>) -> Self {
        IdempotencyGuard {
            pool,
            sql: Arc::new(Statements::new(DEFAULT_TABLE)),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// Uses another table of the same shape (e.g. one per service, or `schema.table` on PostgreSQL).
    ///
    /// # Errors
    /// [`GuardError::InvalidTableName`] unless `name` is `ident` or `schema.ident` of ASCII letters, digits
    /// and `_`: the name is spliced into SQL text, so nothing that would need quoting is accepted.
    pub fn table(mut self, name: &str) -> Result<Self, GuardError> {
        if !is_valid_table_name(name) {
            return Err(GuardError::InvalidTableName(name.to_string()));
        }
        self.sql = Arc::new(Statements::new(name));
        Ok(self)
    }

    /// How many failed runs a key gets before the guard gives up on it (default 3). 0 is taken as 1: a
    /// guard that never runs the handler has no use.
    ///
    /// Keep it below the consumer's `max_reconsume_times` (16 by default), or the broker dead-letters first
    /// and the guard's count never reaches the limit.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The pool, for the app's own queries.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The configured table name.
    pub fn table_name(&self) -> &str {
        &self.sql.table
    }

    /// The configured attempt limit.
    pub fn attempt_limit(&self) -> u32 {
        self.max_attempts
    }

    /// Creates the consumer-log table if it does not exist ([`CONSUMER_LOG_DDL`] with the configured name).
    ///
    /// # Errors
    /// [`GuardError::Database`] when the DDL fails.
    pub async fn ensure_table(&self) -> Result<(), GuardError> {
        let ddl = CONSUMER_LOG_DDL.replace(DEFAULT_TABLE, &self.sql.table);
        DB::exec_raw(&self.pool, &ddl).await?;
        Ok(())
    }

    /// Runs `handler` for `key` at most once to a committed effect; see the [module docs](self) for the
    /// algorithm and the states a redelivery can find.
    ///
    /// The handler gets the claiming transaction's connection (inside a savepoint) and must do all its
    /// database work on it (`.execute(&mut *conn)`); work done through the pool or another connection is
    /// outside the guarantee. Its future is boxed, as in sqlx's own `Connection::transaction`, because it
    /// borrows the connection.
    ///
    /// # Errors
    /// - [`GuardError::HandlerFailed`]: the handler failed; rolled back and recorded. Retry later.
    /// - [`GuardError::AttemptsExhausted`]: the key has used its attempts (now, or before). Dead-letter.
    /// - [`GuardError::FailureNotRecorded`], [`GuardError::Database`]: the database failed. Retry later.
    ///
    /// # Cancel safety
    /// Dropping the future rolls the transaction back (sqlx rolls back a dropped transaction), so nothing is
    /// applied and no failure is recorded. A panicking handler behaves the same, and the panic propagates.
    pub async fn run<T, E, F>(&self, key: &ConsumeKey, handler: F) -> Result<Outcome<T>, GuardError>
    where
        F: for<'c> FnOnce(&'c mut DB::Connection) -> BoxFuture<'c, Result<T, E>>,
        E: Into<BoxError>,
    {
        let mut tx = match DB::BEGIN_CLAIM {
            Some(begin) => self.pool.begin_with(begin).await?,
            None => self.pool.begin().await?,
        };
        let (status, times) = DB::claim(&mut *tx, &self.sql.claim, key).await?;
        let times = times_of(times);
        match ConsumerStatus::from_code(status) {
            ConsumerStatus::Done => {
                tx.rollback().await?;
                tracing::debug!(
                    group = key.group(),
                    tag = key.tag(),
                    key = key.key(),
                    "duplicate delivery acknowledged without effect"
                );
                return Ok(Outcome::Duplicate);
            }
            ConsumerStatus::Failed if times >= self.max_attempts => {
                tx.rollback().await?;
                return Err(GuardError::AttemptsExhausted {
                    attempts: times,
                    max_attempts: self.max_attempts,
                    source: None,
                });
            }
            _ => {}
        }

        // The handler runs inside a savepoint, so that its failure undoes only its own writes and the
        // failure is recorded while the claim still holds the key: the count stays exact under racing
        // deliveries, and no other delivery can run between the rollback and the record.
        let mut savepoint = tx.begin().await?;
        // Into a BoxError at once, so an `E` that is not `Send` is never held across an await.
        let result: Result<T, BoxError> = handler(&mut *savepoint).await.map_err(Into::into);
        match result {
            Ok(value) => {
                savepoint.commit().await?;
                DB::exec_key(&mut *tx, &self.sql.mark_done, key).await?;
                tx.commit().await?;
                Ok(Outcome::Applied(value))
            }
            Err(e) => {
                let remark = error_chain(&*e);
                let remark = key::truncate(&remark, MAX_REMARK);
                let in_claim = match savepoint.rollback().await {
                    Ok(()) => {
                        match DB::record_failure(&mut *tx, &self.sql.record_failure, key, remark)
                            .await
                        {
                            Ok(times) => tx.commit().await.map(|()| times),
                            Err(err) => Err(err),
                        }
                    }
                    Err(err) => Err(err),
                };
                let recorded = match in_claim {
                    Ok(times) => times,
                    Err(in_tx) => {
                        // The claiming transaction is unusable (a lost connection, a PostgreSQL error that
                        // a savepoint cannot undo); it rolls back as it drops. Record the failure in a
                        // transaction of its own instead, as long as the database answers at all.
                        tracing::warn!(error = %in_tx, "recording a guarded failure in its claim failed; retrying on its own");
                        let fallback = async {
                            let mut conn = self.pool.acquire().await?;
                            DB::record_failure(&mut conn, &self.sql.record_failure, key, remark)
                                .await
                        };
                        match fallback.await {
                            Ok(times) => times,
                            Err(source) => {
                                return Err(GuardError::FailureNotRecorded { handler: e, source })
                            }
                        }
                    }
                };
                self.failure_outcome(key, recorded, e)
            }
        }
    }

    /// [`run`](Self::run) keyed by [`ConsumeKey::from_message`]: the message's tag and keys (or id), with its
    /// id and a copy of its body stored for people reading the log.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn run_message<T, E, F>(
        &self,
        group: &str,
        msg: &MessageExt,
        handler: F,
    ) -> Result<Outcome<T>, GuardError>
    where
        F: for<'c> FnOnce(&'c mut DB::Connection) -> BoxFuture<'c, Result<T, E>>,
        E: Into<BoxError>,
    {
        self.run(&ConsumeKey::from_message(group, msg), handler)
            .await
    }

    /// The error (or, exceptionally, the duplicate) a recorded failure turns into.
    fn failure_outcome<T>(
        &self,
        key: &ConsumeKey,
        recorded: Option<Option<i32>>,
        e: BoxError,
    ) -> Result<Outcome<T>, GuardError> {
        let Some(times) = recorded else {
            // Only on the fallback path: between the claim's rollback and the record, another delivery
            // claimed the key and applied the effect.
            tracing::warn!(group = key.group(), tag = key.tag(), key = key.key(), error = %e,
                "guarded handler failed, but a concurrent delivery applied the effect meanwhile");
            return Ok(Outcome::Duplicate);
        };
        let attempts = times_of(times);
        if attempts >= self.max_attempts {
            Err(GuardError::AttemptsExhausted {
                attempts,
                max_attempts: self.max_attempts,
                source: Some(e),
            })
        } else {
            Err(GuardError::HandlerFailed {
                attempts,
                max_attempts: self.max_attempts,
                source: e,
            })
        }
    }

    /// The consumer-log row of `key`, if any: for tests, dashboards and operators deciding on a resend.
    ///
    /// # Errors
    /// [`GuardError::Database`].
    pub async fn entry(&self, key: &ConsumeKey) -> Result<Option<LogEntry>, GuardError> {
        let mut conn = self.pool.acquire().await?;
        let row = DB::fetch_entry(&mut conn, &self.sql.entry, key).await?;
        Ok(row.map(|(status, times, remark)| LogEntry {
            status: ConsumerStatus::from_code(status),
            times: times_of(times),
            remark,
        }))
    }

    /// Gives a failed key its attempts back (consumer_times 0, status and remark kept), so that a message
    /// resent from the DLQ after fixing the cause is run again. Done keys are left alone; returns whether a
    /// row was reset.
    ///
    /// # Errors
    /// [`GuardError::Database`].
    pub async fn reset(&self, key: &ConsumeKey) -> Result<bool, GuardError> {
        let mut conn = self.pool.acquire().await?;
        Ok(DB::exec_key(&mut conn, &self.sql.reset, key).await? > 0)
    }

    /// A whole [`MessageListener`] for consumer group `group`: each message of a batch runs `handler` under
    /// the guard, in order. The first error decides the batch's answer ([`GuardError::consume_outcome`]) and
    /// the rest of the batch is left for the redelivery, where the already applied ones are duplicates.
    ///
    /// The handler gets the message (owned, so its future may keep it) and the claiming transaction's
    /// connection, as in [`run`](Self::run).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use rmq_runtime::idempotency::IdempotencyGuard;
    /// # fn demo(guard: IdempotencyGuard<sqlx::Sqlite>) {
    /// let listener = guard.listener("order_order_cancel_group", |msg, conn| {
    ///     Box::pin(async move {
    ///         let order_id: i64 = msg.keys().first().copied().unwrap_or_default().parse()?;
    ///         sqlx::query("UPDATE trade_order SET order_status = 2 WHERE order_id = $1")
    ///             .bind(order_id)
    ///             .execute(&mut *conn)
    ///             .await?;
    ///         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    ///     })
    /// });
    /// # let _ = listener;
    /// # }
    /// ```
    pub fn listener<E, F>(&self, group: impl Into<String>, handler: F) -> impl MessageListener
    where
        F: for<'c> Fn(MessageExt, &'c mut DB::Connection) -> BoxFuture<'c, Result<(), E>>
            + Send
            + Sync
            + 'static,
        E: Into<BoxError> + 'static,
    {
        let guard = self.clone();
        let group: Arc<str> = Arc::from(group.into());
        let handler = Arc::new(handler);
        move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let guard = guard.clone();
            let group = Arc::clone(&group);
            let handler = Arc::clone(&handler);
            async move {
                for msg in msgs {
                    let key = ConsumeKey::from_message(&*group, &msg);
                    let handler = Arc::clone(&handler);
                    let result = guard.run(&key, move |conn| handler(msg, conn)).await;
                    if let Err(e) = &result {
                        tracing::warn!(group = &*group, key = key.key(), error = %e, "guarded message handler failed");
                        return e.consume_outcome();
                    }
                }
                ConsumeOutcome::Success
            }
        }
    }
}

/// consumer_times as a count; NULL (a table from elsewhere) is 0, a negative value is 0.
fn times_of(times: Option<i32>) -> u32 {
    times.and_then(|t| u32::try_from(t).ok()).unwrap_or(0)
}

/// "outer: cause: root cause", for the remark column.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        next = cause.source();
    }
    s
}
