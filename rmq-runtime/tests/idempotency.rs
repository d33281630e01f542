//! The idempotency guard against real databases.
//!
//! Every scenario runs three times: SQLite in its default rollback-journal mode, SQLite in WAL mode (each a
//! file in a temp dir behind a pool of several connections, so concurrency is real), and PostgreSQL when
//! `RMQ_TEST_POSTGRES_URL` (or a `postgres://` `DATABASE_URL`) is set; without one the PostgreSQL tests
//! print a note and pass. Each PostgreSQL test uses its own tables, named after the test and the process.
//!
//! The "effect" of every handler is a row in an `effects` table written on the guard's transaction, so
//! counting rows tells how often an effect was committed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rmq_protocol::body::MessageQueue;
use rmq_protocol::message::{properties, Properties};
use rmq_runtime::idempotency::{
    ConsumeKey, ConsumerStatus, GuardDatabase, GuardError, IdempotencyGuard, Outcome,
};
use rmq_runtime::{ConsumeContext, ConsumeOutcome, MessageExt, MessageListener};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Pool, Postgres, Sqlite};

/// A guard on a fresh consumer-log table, plus the name of a fresh effects table.
struct Fixture<DB: GuardDatabase> {
    guard: IdempotencyGuard<DB>,
    effects: String,
    // Keeps the SQLite file alive for the test.
    _dir: Option<tempfile::TempDir>,
}

impl<DB: GuardDatabase> Fixture<DB> {
    fn pool(&self) -> &Pool<DB> {
        self.guard.pool()
    }
}

async fn sqlite_fixture(test: &str, journal: SqliteJournalMode) -> Option<Fixture<Sqlite>> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("rmq-idempotency-{test}-"))
        .tempdir()
        .expect("temp dir");
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("shop.db"))
        .create_if_missing(true)
        .journal_mode(journal)
        // Ten racing tasks each hold the write lock briefly; leave them room on a loaded machine.
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .expect("open sqlite");
    let guard = IdempotencyGuard::new(pool).max_attempts(3);
    guard.ensure_table().await.expect("consumer log table");
    let effects = "effects".to_string();
    sqlx::query(&format!(
        "CREATE TABLE {effects} (k TEXT NOT NULL, n INTEGER NOT NULL)"
    ))
    .execute(guard.pool())
    .await
    .expect("effects table");
    Some(Fixture {
        guard,
        effects,
        _dir: Some(dir),
    })
}

fn postgres_url() -> Option<String> {
    std::env::var("RMQ_TEST_POSTGRES_URL")
        .ok()
        .or_else(|| {
            std::env::var("DATABASE_URL")
                .ok()
                .filter(|u| u.starts_with("postgres"))
        })
        .filter(|u| !u.is_empty())
}

/// A CI run (`RMQ_CI` or `CI` set, as rmq-tests' `ci()` reads them): a missing database fails instead of skipping.
fn ci() -> bool {
    ["RMQ_CI", "CI"].iter().any(|k| {
        std::env::var(k)
            .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
    })
}

async fn postgres_fixture(test: &str) -> Option<Fixture<Postgres>> {
    let Some(url) = postgres_url() else {
        assert!(
            !ci(),
            "{test}: PostgreSQL is required in CI (RMQ_CI or CI is set); set RMQ_TEST_POSTGRES_URL=postgres://..."
        );
        eprintln!(
            "note: {test}: PostgreSQL skipped; set RMQ_TEST_POSTGRES_URL=postgres://... to run it"
        );
        return None;
    };
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .expect("connect to RMQ_TEST_POSTGRES_URL");
    let suffix = format!("{test}_{}", std::process::id());
    let log = format!("consumer_log_{suffix}");
    let effects = format!("effects_{suffix}");
    for table in [&log, &effects] {
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(&pool)
            .await
            .expect("drop old table");
    }
    let guard = IdempotencyGuard::new(pool)
        .table(&log)
        .expect("table name")
        .max_attempts(3);
    guard.ensure_table().await.expect("consumer log table");
    sqlx::query(&format!(
        "CREATE TABLE {effects} (k TEXT NOT NULL, n INTEGER NOT NULL)"
    ))
    .execute(guard.pool())
    .await
    .expect("effects table");
    Some(Fixture {
        guard,
        effects,
        _dir: None,
    })
}

/// A delivered message as the push consumer hands it over.
fn message(tag: &str, keys: Option<&str>, uniq: &str, body: &str) -> MessageExt {
    let mut props = Properties::new();
    props.insert(properties::TAGS, tag);
    if let Some(k) = keys {
        props.insert(properties::KEYS, k);
    }
    props.insert(properties::UNIQ_KEY, uniq);
    let host: SocketAddr = "127.0.0.1:10911".parse().expect("addr");
    MessageExt {
        store_size: 0,
        magic: 0,
        body_crc: 0,
        queue_id: 0,
        flag: 0,
        queue_offset: 0,
        commit_log_offset: 0,
        sys_flag: 0,
        born_timestamp: 0,
        born_host: host,
        store_timestamp: 0,
        store_host: host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::copy_from_slice(body.as_bytes()),
        topic: "orderTopic".into(),
        properties: props,
    }
}

fn context() -> ConsumeContext {
    ConsumeContext {
        queue: MessageQueue {
            topic: "orderTopic".into(),
            broker_name: "broker-a".into(),
            queue_id: 0,
        },
        orderly: false,
    }
}

/// Generates one module of scenarios for a database. The bodies are the same text for every database; the
/// macro only fixes the types, so the handlers' queries run on a concrete `Transaction<Sqlite|Postgres>`.
macro_rules! scenarios {
    ($module:ident, $db:ty, |$test:ident| $fixture:expr) => {
        mod $module {
            use super::*;

            type Db = $db;

            async fn fixture($test: &str) -> Option<Fixture<Db>> {
                $fixture
            }

            async fn count_effects(fx: &Fixture<Db>, k: &str) -> i64 {
                let (n,): (i64,) =
                    sqlx::query_as(&format!("SELECT COUNT(*) FROM {} WHERE k = $1", fx.effects))
                        .bind(k)
                        .fetch_one(fx.pool())
                        .await
                        .expect("count effects");
                n
            }

            /// Runs a handler that writes one effect row for `k` and then succeeds or fails.
            async fn apply(
                fx: &Fixture<Db>,
                key: &ConsumeKey,
                fail: bool,
            ) -> Result<Outcome<()>, GuardError> {
                let effects = fx.effects.clone();
                let k = key.key().to_string();
                fx.guard
                    .run(key, move |conn| {
                        Box::pin(async move {
                            sqlx::query(&format!("INSERT INTO {effects} (k, n) VALUES ($1, 1)"))
                                .bind(k)
                                .execute(&mut *conn)
                                .await?;
                            if fail {
                                return Err::<(), Box<dyn std::error::Error + Send + Sync>>(
                                    "stock service unavailable".into(),
                                );
                            }
                            Ok(())
                        })
                    })
                    .await
            }

            async fn cleanup(fx: Fixture<Db>) {
                if stringify!($module) == "postgres" {
                    for table in [fx.guard.table_name(), fx.effects.as_str()] {
                        let _ = sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
                            .execute(fx.pool())
                            .await;
                    }
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn duplicate_is_applied_once() {
                let Some(fx) = fixture("duplicate").await else {
                    return;
                };
                let key = ConsumeKey::new("goods_order_cancel_group", "order_cancel", "1001");
                assert_eq!(apply(&fx, &key, false).await.unwrap(), Outcome::Applied(()));
                assert_eq!(apply(&fx, &key, false).await.unwrap(), Outcome::Duplicate);
                assert_eq!(apply(&fx, &key, false).await.unwrap(), Outcome::Duplicate);
                assert_eq!(count_effects(&fx, "1001").await, 1);
                let entry = fx.guard.entry(&key).await.unwrap().expect("row");
                assert_eq!(entry.status, ConsumerStatus::Done);
                assert_eq!(entry.times, 1);
                cleanup(fx).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn failure_then_success_applies_once() {
                let Some(fx) = fixture("fail_then_ok").await else {
                    return;
                };
                let key = ConsumeKey::new("user_order_cancel_group", "order_cancel", "1002");

                let err = apply(&fx, &key, true).await.unwrap_err();
                assert!(
                    matches!(err, GuardError::HandlerFailed { attempts: 1, max_attempts: 3, .. }),
                    "{err:?}"
                );
                assert_eq!(err.consume_outcome(), ConsumeOutcome::RETRY_LATER);
                assert_eq!(count_effects(&fx, "1002").await, 0, "the failed run's write is rolled back");
                let entry = fx.guard.entry(&key).await.unwrap().expect("row");
                assert_eq!(entry.status, ConsumerStatus::Failed);
                assert_eq!(entry.times, 1);
                assert_eq!(entry.remark.as_deref(), Some("stock service unavailable"));

                assert_eq!(apply(&fx, &key, false).await.unwrap(), Outcome::Applied(()));
                assert_eq!(apply(&fx, &key, false).await.unwrap(), Outcome::Duplicate);
                assert_eq!(count_effects(&fx, "1002").await, 1);
                let entry = fx.guard.entry(&key).await.unwrap().expect("row");
                assert_eq!(entry.status, ConsumerStatus::Done);
                assert_eq!(entry.times, 2, "one failed run and the successful one");
                assert_eq!(
                    entry.remark.as_deref(),
                    Some("stock service unavailable"),
                    "the last failure stays visible"
                );
                cleanup(fx).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn always_failing_gives_up_after_max_attempts() {
                let Some(fx) = fixture("exhausted").await else {
                    return;
                };
                let key = ConsumeKey::new("coupon_order_cancel_group", "order_cancel", "1003");

                for attempt in 1..=2 {
                    let err = apply(&fx, &key, true).await.unwrap_err();
                    assert!(
                        matches!(err, GuardError::HandlerFailed { attempts, .. } if attempts == attempt),
                        "{err:?}"
                    );
                }
                let err = apply(&fx, &key, true).await.unwrap_err();
                assert!(
                    matches!(err, GuardError::AttemptsExhausted { attempts: 3, source: Some(_), .. }),
                    "the third failure is the last: {err:?}"
                );
                assert_eq!(err.consume_outcome(), ConsumeOutcome::DEAD_LETTER);
                assert!(!err.is_retryable());

                // A further delivery does not run the handler at all.
                let ran = Arc::new(AtomicUsize::new(0));
                let ran2 = Arc::clone(&ran);
                let err = fx
                    .guard
                    .run(&key, move |_conn| {
                        Box::pin(async move {
                            ran2.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, sqlx::Error>(())
                        })
                    })
                    .await
                    .unwrap_err();
                assert!(
                    matches!(err, GuardError::AttemptsExhausted { attempts: 3, source: None, .. }),
                    "{err:?}"
                );
                assert_eq!(ran.load(Ordering::SeqCst), 0);

                assert_eq!(count_effects(&fx, "1003").await, 0, "no partial effect");
                let entry = fx.guard.entry(&key).await.unwrap().expect("row");
                assert_eq!(entry.status, ConsumerStatus::Failed);
                assert_eq!(entry.times, 3);

                // After the cause is fixed, an operator resets the key and resends from the DLQ.
                assert!(fx.guard.reset(&key).await.unwrap());
                assert_eq!(apply(&fx, &key, false).await.unwrap(), Outcome::Applied(()));
                assert_eq!(count_effects(&fx, "1003").await, 1);
                assert!(!fx.guard.reset(&key).await.unwrap(), "a done key is not reset");
                assert_eq!(apply(&fx, &key, false).await.unwrap(), Outcome::Duplicate);
                cleanup(fx).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_duplicates_apply_once() {
                let Some(fx) = fixture("concurrent").await else {
                    return;
                };
                let fx = Arc::new(fx);
                let key = ConsumeKey::new("order_order_cancel_group", "order_cancel", "1004");
                let start = Arc::new(tokio::sync::Barrier::new(10));
                let mut tasks = Vec::new();
                for _ in 0..10 {
                    let fx = Arc::clone(&fx);
                    let key = key.clone();
                    let start = Arc::clone(&start);
                    tasks.push(tokio::spawn(async move {
                        start.wait().await;
                        let effects = fx.effects.clone();
                        fx.guard
                            .run(&key, move |conn| {
                                Box::pin(async move {
                                    sqlx::query(&format!(
                                        "INSERT INTO {effects} (k, n) VALUES ('1004', 1)"
                                    ))
                                    .execute(&mut *conn)
                                    .await?;
                                    // Hold the claim a while so the others really wait on it.
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                    Ok::<_, sqlx::Error>(())
                                })
                            })
                            .await
                    }));
                }
                let mut applied = 0;
                let mut duplicates = 0;
                for t in tasks {
                    match t.await.expect("task") {
                        Ok(Outcome::Applied(())) => applied += 1,
                        Ok(Outcome::Duplicate) => duplicates += 1,
                        Err(e) => panic!("racing delivery failed: {e}"),
                    }
                }
                assert_eq!((applied, duplicates), (1, 9));
                assert_eq!(count_effects(&fx, "1004").await, 1);
                let entry = fx.guard.entry(&key).await.unwrap().expect("row");
                assert_eq!((entry.status, entry.times), (ConsumerStatus::Done, 1));
                if let Ok(fx) = Arc::try_unwrap(fx) {
                    cleanup(fx).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn racing_failures_never_undo_a_success() {
                let Some(fx) = fixture("race_fail").await else {
                    return;
                };
                let fx = Arc::new(fx);
                let key = ConsumeKey::new("pay_log_group", "paid", "1005");
                let start = Arc::new(tokio::sync::Barrier::new(8));
                let mut tasks = Vec::new();
                for i in 0..8 {
                    let fx = Arc::clone(&fx);
                    let key = key.clone();
                    let start = Arc::clone(&start);
                    tasks.push(tokio::spawn(async move {
                        start.wait().await;
                        // Odd tasks fail, even ones succeed.
                        apply(&fx, &key, i % 2 == 1).await
                    }));
                }
                let mut applied = 0;
                for t in tasks {
                    match t.await.expect("task") {
                        Ok(Outcome::Applied(())) => applied += 1,
                        Ok(Outcome::Duplicate) => {}
                        Err(GuardError::HandlerFailed { .. })
                        | Err(GuardError::AttemptsExhausted { .. }) => {}
                        Err(e) => panic!("unexpected: {e}"),
                    }
                }
                // Up to three failures may come first and exhaust the key before a success runs; otherwise
                // exactly one success applies and the row stays done whatever fails after it.
                let entry = fx.guard.entry(&key).await.unwrap().expect("row");
                if applied == 1 {
                    assert_eq!(entry.status, ConsumerStatus::Done);
                    assert_eq!(count_effects(&fx, "1005").await, 1);
                } else {
                    assert_eq!(applied, 0);
                    assert_eq!((entry.status, entry.times), (ConsumerStatus::Failed, 3));
                    assert_eq!(count_effects(&fx, "1005").await, 0);
                }
                if let Ok(fx) = Arc::try_unwrap(fx) {
                    cleanup(fx).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn database_error_in_handler_is_recorded() {
                // On PostgreSQL a failed statement aborts the whole transaction; the guard's savepoint is
                // what lets it still record the failure next to the claim.
                let Some(fx) = fixture("db_error").await else {
                    return;
                };
                let key = ConsumeKey::new("goods_order_cancel_group", "order_cancel", "1007");
                let effects = fx.effects.clone();
                let err = fx
                    .guard
                    .run(&key, move |conn| {
                        Box::pin(async move {
                            sqlx::query(&format!("INSERT INTO {effects} (k, n) VALUES ('1007', 1)"))
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("INSERT INTO no_such_table (x) VALUES (1)")
                                .execute(&mut *conn)
                                .await?;
                            Ok::<_, sqlx::Error>(())
                        })
                    })
                    .await
                    .unwrap_err();
                assert!(matches!(err, GuardError::HandlerFailed { attempts: 1, .. }), "{err:?}");
                assert_eq!(count_effects(&fx, "1007").await, 0);
                let entry = fx.guard.entry(&key).await.unwrap().expect("row");
                assert_eq!((entry.status, entry.times), (ConsumerStatus::Failed, 1));
                assert!(
                    entry.remark.as_deref().is_some_and(|r| r.contains("no_such_table")),
                    "{:?}",
                    entry.remark
                );
                cleanup(fx).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn interrupted_run_leaves_no_processing_row() {
                let Some(fx) = fixture("interrupted").await else {
                    return;
                };
                let key = ConsumeKey::new("goods_order_cancel_group", "order_cancel", "1008");
                let effects = fx.effects.clone();
                // A handler that never finishes, dropped mid-way: what a crash looks like from the database.
                let stuck = fx.guard.run(&key, move |conn| {
                    Box::pin(async move {
                        sqlx::query(&format!("INSERT INTO {effects} (k, n) VALUES ('1008', 1)"))
                            .execute(&mut *conn)
                            .await?;
                        std::future::pending::<()>().await;
                        Ok::<_, sqlx::Error>(())
                    })
                });
                assert!(tokio::time::timeout(Duration::from_millis(200), stuck).await.is_err());
                assert_eq!(fx.guard.entry(&key).await.unwrap(), None, "the claim rolled back");
                assert_eq!(count_effects(&fx, "1008").await, 0);
                assert_eq!(apply(&fx, &key, false).await.unwrap(), Outcome::Applied(()));
                assert_eq!(count_effects(&fx, "1008").await, 1);

                // A committed status-0 row written by someone else (the notes' code) is not a reason to skip.
                let stale = ConsumeKey::new("goods_order_cancel_group", "order_cancel", "1009");
                sqlx::query(&format!(
                    "INSERT INTO {} (group_name, msg_tag, msg_key, consumer_status, consumer_times) \
                     VALUES ($1, $2, $3, 0, 0)",
                    fx.guard.table_name()
                ))
                .bind(stale.group())
                .bind(stale.tag())
                .bind(stale.key())
                .execute(fx.pool())
                .await
                .unwrap();
                assert_eq!(apply(&fx, &stale, false).await.unwrap(), Outcome::Applied(()));
                assert_eq!(count_effects(&fx, "1009").await, 1);
                cleanup(fx).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn each_group_applies_its_own_effect() {
                let Some(fx) = fixture("groups").await else {
                    return;
                };
                for group in ["goods_order_cancel_group", "coupon_order_cancel_group"] {
                    let key = ConsumeKey::new(group, "order_cancel", "1006");
                    assert_eq!(apply(&fx, &key, false).await.unwrap(), Outcome::Applied(()));
                }
                assert_eq!(count_effects(&fx, "1006").await, 2);
                cleanup(fx).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn message_keys_identify_the_event() {
                let Some(fx) = fixture("msg_keys").await else {
                    return;
                };
                let effects = fx.effects.clone();
                let run = |msg: MessageExt| {
                    let effects = effects.clone();
                    let guard = fx.guard.clone();
                    async move {
                        guard
                            .run_message("goods_order_cancel_group", &msg, move |conn| {
                                Box::pin(async move {
                                    sqlx::query(&format!(
                                        "INSERT INTO {effects} (k, n) VALUES ('msg', 1)"
                                    ))
                                    .execute(&mut *conn)
                                    .await?;
                                    Ok::<_, sqlx::Error>(())
                                })
                            })
                            .await
                    }
                };
                // Same key, different sends (different ids): one effect, keyed by the business key.
                let first = message("order_cancel", Some("2001"), "UNIQ-A", "{\"orderId\":2001}");
                let resent = message("order_cancel", Some("2001"), "UNIQ-B", "{\"orderId\":2001}");
                assert!(run(first).await.unwrap().is_applied());
                assert_eq!(run(resent).await.unwrap(), Outcome::Duplicate);
                // No keys: the message id is the key, so a redelivery of the same send is a duplicate.
                let unkeyed = message("order_cancel", None, "UNIQ-C", "{}");
                assert!(run(unkeyed.clone()).await.unwrap().is_applied());
                assert_eq!(run(unkeyed).await.unwrap(), Outcome::Duplicate);
                assert_eq!(count_effects(&fx, "msg").await, 2);

                let by_id = ConsumeKey::new("goods_order_cancel_group", "order_cancel", "UNIQ-C");
                assert_eq!(
                    fx.guard.entry(&by_id).await.unwrap().map(|e| e.status),
                    Some(ConsumerStatus::Done)
                );
                let (msg_id, body): (Option<String>, Option<String>) = sqlx::query_as(&format!(
                    "SELECT msg_id, msg_body FROM {} WHERE msg_key = '2001'",
                    fx.guard.table_name()
                ))
                .fetch_one(fx.pool())
                .await
                .unwrap();
                assert_eq!(msg_id.as_deref(), Some("UNIQ-A"));
                assert_eq!(body.as_deref(), Some("{\"orderId\":2001}"));
                cleanup(fx).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn listener_wrapper_answers_the_broker() {
                let Some(fx) = fixture("listener").await else {
                    return;
                };
                let effects = fx.effects.clone();
                let ok = fx.guard.listener("goods_order_cancel_group", move |msg, conn| {
                    let effects = effects.clone();
                    Box::pin(async move {
                        let k = msg.keys().join(" ");
                        sqlx::query(&format!("INSERT INTO {effects} (k, n) VALUES ($1, 1)"))
                            .bind(k)
                            .execute(&mut *conn)
                            .await?;
                        Ok::<_, sqlx::Error>(())
                    })
                });
                let msg = message("order_cancel", Some("3001"), "UNIQ-3001", "{}");
                assert_eq!(ok.consume(vec![msg.clone()], context()).await, ConsumeOutcome::Success);
                assert_eq!(ok.consume(vec![msg], context()).await, ConsumeOutcome::Success);
                assert_eq!(count_effects(&fx, "3001").await, 1);

                let failing = fx.guard.listener("goods_order_cancel_group", |_msg, _conn| {
                    Box::pin(async { Err::<(), _>("always fails") })
                });
                let msg = message("order_cancel", Some("3002"), "UNIQ-3002", "{}");
                let mut answers = Vec::new();
                for _ in 0..4 {
                    answers.push(failing.consume(vec![msg.clone()], context()).await);
                }
                assert_eq!(
                    answers,
                    [
                        ConsumeOutcome::RETRY_LATER,
                        ConsumeOutcome::RETRY_LATER,
                        ConsumeOutcome::DEAD_LETTER,
                        ConsumeOutcome::DEAD_LETTER
                    ]
                );
                cleanup(fx).await;
            }
        }
    };
}

scenarios!(sqlite, Sqlite, |test| sqlite_fixture(
    test,
    SqliteJournalMode::Delete
)
.await);
scenarios!(sqlite_wal, Sqlite, |test| sqlite_fixture(
    test,
    SqliteJournalMode::Wal
)
.await);
scenarios!(postgres, Postgres, |test| postgres_fixture(test).await);

#[test]
fn table_names_that_would_need_quoting_are_refused() {
    // Building a pool needs no connection: connect_lazy only parses the URL.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let pool = SqlitePoolOptions::new()
            .connect_lazy("sqlite::memory:")
            .expect("lazy pool");
        let guard = IdempotencyGuard::new(pool);
        for bad in ["log; DROP TABLE trade_order", "a b", "\"x\"", "1x", "a.b.c"] {
            assert!(matches!(
                guard.clone().table(bad),
                Err(GuardError::InvalidTableName(name)) if name == bad
            ));
        }
        let guard = guard.table("shop.consumer_log").expect("schema.table");
        assert_eq!(guard.table_name(), "shop.consumer_log");
        assert_eq!(guard.max_attempts(0).attempt_limit(), 1);
    });
}
