//! The test harness: each test gets its own bundled broker (ephemeral ports, temp store) and a started
//! application, plus ways to await effects instead of sleeping.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! let app = rmq_runtime::testing::test_app()
//!     .set("mq.order.topic", "orderTopic")
//!     .only_listeners(["on_cancel"])
//!     .start()
//!     .await?;
//! app.template().sync_send("orderTopic:order_cancel", "42").await?;
//! rmq_runtime::testing::await_handled(&app, "on_cancel", 1, Duration::from_secs(5)).await?;
//! app.shutdown().await;
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmq_protocol::headers::PullMessageRequestHeader;
use rmq_protocol::message::sysflag::pull as pull_flag;
use tokio::sync::mpsc;

use crate::app::{Application, ApplicationBuilder, EMBEDDED};
use crate::consumer::broker_calls::PullOutcome;
use crate::message::MessageExt;
use crate::route::subscribe_queues;

/// Why a harness expectation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// The listener did not handle enough messages in time.
    #[error("listener {listener} handled {handled} of {expected} messages within {timeout:?} ({failed} failures)")]
    NotHandled {
        /// Listener name.
        listener: String,
        /// Wanted count.
        expected: u64,
        /// Actual count.
        handled: u64,
        /// Failures seen.
        failed: u64,
        /// How long it waited.
        timeout: Duration,
    },
    /// No such listener is running.
    #[error("no running listener named {0}")]
    UnknownListener(String),
    /// No matching message arrived on the topic in time.
    #[error("no matching message on {topic} within {timeout:?} ({seen} other messages seen)")]
    NoMessage {
        /// Topic watched.
        topic: String,
        /// How long it waited.
        timeout: Duration,
        /// Messages that did not match.
        seen: usize,
    },
}

/// An application builder on a fresh embedded broker. Settings come only from `.set`, unless
/// `.config_dir(dir)` names the application's own `application.*` files (their name server is replaced by
/// the embedded broker, so a test runs the app's real configuration).
///
/// Time is virtual and jumps to each next delivery (see [`Application::auto_advance`]): a retry that waits
/// 10 s, 30 s, 1 min ... in production (delay levels 3..18), a delayed message or an orderly queue's
/// suspension happens at once, while the messages still carry the times they would have. Use
/// `.virtual_time()` for exact steps with [`Application::advance`], `.real_time()` for the system clock.
pub fn test_app() -> ApplicationBuilder {
    test_app_from(ApplicationBuilder::new().without_default_config_files())
}

/// The application a service builds itself (its `application.*` files, beans, templates), on a fresh
/// embedded broker under the harness's virtual time: expose `fn app() -> ApplicationBuilder` from the
/// service and test `test_app_from(app())`. Its name server is replaced by the embedded broker.
pub fn test_app_from(builder: ApplicationBuilder) -> ApplicationBuilder {
    builder.for_harness().set("rocketmq.name-server", EMBEDDED)
}

/// Waits until `listener` has handled `n` messages in total.
pub async fn await_handled(
    app: &Application,
    listener: impl AsRef<str>,
    n: u64,
    timeout: Duration,
) -> Result<(), HarnessError> {
    let listener = listener.as_ref();
    let stats = app
        .listener_stats(listener)
        .ok_or_else(|| HarnessError::UnknownListener(listener.to_string()))?;
    if stats.wait_handled(n, timeout).await {
        Ok(())
    } else {
        Err(HarnessError::NotHandled {
            listener: listener.to_string(),
            expected: n,
            handled: stats.handled(),
            failed: stats.failed(),
            timeout,
        })
    }
}

/// Waits for a message on `topic` (stored at any time, before or after the call) matching `pred`.
///
/// Reads every queue from its first offset with long-polling pulls, so it wakes when a message is stored.
pub async fn expect_message(
    app: &Application,
    topic: &str,
    timeout: Duration,
    pred: impl Fn(&MessageExt) -> bool,
) -> Result<MessageExt, HarnessError> {
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let group = format!("rmq_test_probe_{}", PROBES.fetch_add(1, Ordering::Relaxed));
    let instance = app.template().producer().instance().clone();
    let deadline = tokio::time::Instant::now() + timeout;
    let no_message = |seen| HarnessError::NoMessage {
        topic: topic.to_string(),
        timeout,
        seen,
    };
    // The topic may not exist yet; its route appears when the first message creates it.
    let route = loop {
        match instance.update_route(topic).await {
            Ok(r) => break r,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return Err(no_message(0)),
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<MessageExt>();
    let mut tasks = Vec::new();
    for mq in subscribe_queues(topic, &route) {
        let instance = instance.clone();
        let tx = tx.clone();
        let group = group.clone();
        tasks.push(tokio::spawn(async move {
            let mut offset = 0;
            loop {
                let header = PullMessageRequestHeader {
                    consumer_group: group.clone(),
                    topic: mq.topic.clone(),
                    queue_id: mq.queue_id,
                    queue_offset: offset,
                    max_msg_nums: 32,
                    sys_flag: pull_flag::build(false, true, true, false),
                    commit_offset: 0,
                    suspend_timeout_millis: 1000,
                    subscription: Some("*".into()),
                    sub_version: 0,
                    expression_type: Some("TAG".into()),
                    max_msg_bytes: None,
                    request_source: None,
                    proxy_forward_client_id: None,
                };
                match instance.pull(header, &mq, Duration::from_secs(5)).await {
                    Ok(PullOutcome::Found { msgs, next }) => {
                        offset = next;
                        for m in msgs {
                            if tx.send(m).is_err() {
                                return;
                            }
                        }
                    }
                    Ok(PullOutcome::Empty { next }) | Ok(PullOutcome::OffsetMoved { next }) => {
                        offset = next
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }));
    }
    drop(tx);
    let mut seen = 0;
    let result = loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(m)) if pred(&m) => break Ok(m),
            Ok(Some(_)) => seen += 1,
            Ok(None) | Err(_) => break Err(no_message(seen)),
        }
    };
    for t in tasks {
        t.abort();
    }
    result
}

/// Messages of `group` that reached its dead-letter queue within `timeout` (waits for the first one).
pub async fn expect_dead_letter(
    app: &Application,
    group: &str,
    timeout: Duration,
    pred: impl Fn(&MessageExt) -> bool,
) -> Result<MessageExt, HarnessError> {
    expect_message(app, &crate::consumer::dlq_topic(group), timeout, pred).await
}
