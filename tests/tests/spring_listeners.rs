//! The listener acceptance list with the real `#[rocketmq_listener]` / `#[rocketmq_transaction_listener]`
//! macros, over the real bundled broker: every attribute's effect, placeholders in every attribute,
//! request-reply, batches, transactions, the idempotency guard under duplicate delivery, graceful shutdown.
//!
//! Each test starts its own application(s) with `only_listeners([...])`; nothing sleeps to synchronise:
//! tests await handler counts (`await_handled`), stored messages (`expect_message`, `expect_dead_letter`) or
//! the listeners' own logs (`Log::wait_for`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rmq_runtime::idempotency::{
    BoxError, ConsumeKey, ConsumerStatus, GuardError, IdempotencyGuard,
};
use rmq_runtime::prelude::*;
use rmq_runtime::protocol::message::properties;
use rmq_runtime::testing::{await_handled, expect_dead_letter, expect_message, test_app};
use rmq_runtime::{MessageModel, MessageSelector};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::Sqlite;
use tokio::sync::Notify;

/// Generous: a failing test says what it waited for; a passing one never waits this long.
const WAIT: Duration = Duration::from_secs(20);

/// What handlers saw, in order, with a way to wait for a condition on it.
struct Log<T> {
    items: Mutex<Vec<T>>,
    changed: Notify,
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Log {
            items: Mutex::new(Vec::new()),
            changed: Notify::new(),
        }
    }
}

impl<T: Clone + std::fmt::Debug> Log<T> {
    fn push(&self, item: T) {
        self.items.lock().push(item);
        self.changed.notify_waiters();
    }

    fn snapshot(&self) -> Vec<T> {
        self.items.lock().clone()
    }

    /// Waits until `done` holds for the log; panics naming `what` with the log's content on timeout.
    async fn wait_for(&self, what: &str, done: impl Fn(&[T]) -> bool) -> Vec<T> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.changed.notified();
            {
                let items = self.items.lock();
                if done(&items) {
                    return items.clone();
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("timed out waiting for {what}; log: {:?}", self.snapshot());
            }
        }
    }
}

/// Message bodies a listener handled (a bean; each application registers its own).
type Seen = Log<String>;

fn body_of(msg: &MessageExt) -> String {
    String::from_utf8_lossy(&msg.body).into_owned()
}

// ---------------------------------------------------------------------------------------------------------
// Selectors

#[rocketmq_listener(
    topic = "TagTopic",
    consumer_group = "tag_group",
    selector_expression = "paid || cancel",
    consume_thread_max = 1
)]
async fn on_paid_or_cancel(msg: MessageExt, seen: Bean<Seen>) {
    seen.push(format!("{}:{}", msg.tags().unwrap_or("-"), body_of(&msg)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_selector_takes_only_the_listed_tags() {
    let app = test_app()
        .bean(Seen::default())
        .only_listeners(["on_paid_or_cancel"])
        .start()
        .await
        .expect("starts");
    let t = app.template();
    // One queue (one hash key), the non-matching ones first: if the broker let them through, they would be
    // handled before the matching ones are all in.
    for (dest, body) in [
        ("TagTopic:shipped", "1"),
        ("TagTopic", "2"),
        ("TagTopic:paid_late", "3"),
        ("TagTopic:paid", "4"),
        ("TagTopic:created", "5"),
        ("TagTopic:cancel", "6"),
    ] {
        t.sync_send_orderly(dest, body, "one-queue").await.unwrap();
    }
    await_handled(&app, "on_paid_or_cancel", 2, WAIT)
        .await
        .unwrap();
    let mut seen = app.context().bean::<Seen>().unwrap().snapshot();
    seen.sort();
    assert_eq!(seen, ["cancel:6", "paid:4"]);
    assert_eq!(
        app.listener_stats("on_paid_or_cancel").unwrap().handled(),
        2
    );
    app.shutdown().await;
}

#[rocketmq_listener(
    topic = "SqlTopic",
    consumer_group = "sql_group",
    selector_type = "SQL92",
    selector_expression = "region = 'eu' AND amount > 100",
    consume_thread_max = 1
)]
async fn on_big_eu_order(body: String, seen: Bean<Seen>) {
    seen.push(body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sql92_selector_filters_on_user_properties() {
    let app = test_app()
        .bean(Seen::default())
        .only_listeners(["on_big_eu_order"])
        .start()
        .await
        .expect("starts");
    let t = app.template();
    let order = |body: &str, region: Option<&str>, amount: Option<i64>| {
        let mut out = Outgoing::new(body.to_string());
        if let Some(r) = region {
            out = out.header("region", r);
        }
        if let Some(a) = amount {
            out = out.header("amount", a.to_string());
        }
        out
    };
    for out in [
        order("eu-50", Some("eu"), Some(50)),
        order("us-500", Some("us"), Some(500)),
        order("no-properties", None, None),
        order("eu-no-amount", Some("eu"), None),
        order("eu-150", Some("eu"), Some(150)),
        order("eu-100", Some("eu"), Some(100)),
        order("eu-101", Some("eu"), Some(101)),
    ] {
        t.sync_send_orderly("SqlTopic", out, "one-queue")
            .await
            .unwrap();
    }
    await_handled(&app, "on_big_eu_order", 2, WAIT)
        .await
        .unwrap();
    let mut seen = app.context().bean::<Seen>().unwrap().snapshot();
    seen.sort();
    assert_eq!(seen, ["eu-101", "eu-150"]);
    assert_eq!(app.listener_stats("on_big_eu_order").unwrap().handled(), 2);
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// ORDERLY

/// (key, sequence number) in handling order.
type Sequence = Log<(String, u32)>;

#[rocketmq_listener(
    topic = "OrderlyTopic",
    consumer_group = "orderly_group",
    consume_mode = "ORDERLY",
    consume_thread_max = 4,
    suspend_current_queue_time_millis = 100
)]
async fn in_key_order(msg: MessageExt, seq: Bean<Sequence>) -> Result<(), ListenerError> {
    let body = body_of(&msg);
    let (key, n) = body.split_once('/').expect("key/n");
    let n: u32 = n.parse().expect("number");
    // One failure in the middle of a key: orderly consumption suspends the queue and redelivers this same
    // message before anything after it.
    if key == "k1" && n == 5 && msg.reconsume_times == 0 {
        return Err(ListenerError::retry_msg("k1/5 fails once"));
    }
    tokio::task::yield_now().await;
    seq.push((key.to_string(), n));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_consumption_keeps_per_key_order() {
    const KEYS: usize = 6;
    const PER_KEY: u32 = 25;
    let app = test_app()
        .bean(Sequence::default())
        .only_listeners(["in_key_order"])
        .start()
        .await
        .expect("starts");
    // One sender per key, all at once: the keys interleave in the queues, each key's messages in order.
    let sends = (0..KEYS).map(|k| {
        let t = app.template();
        async move {
            let key = format!("k{k}");
            for n in 0..PER_KEY {
                t.sync_send_orderly("OrderlyTopic", format!("{key}/{n}"), &key)
                    .await
                    .unwrap();
            }
        }
    });
    futures::future::join_all(sends).await;
    let total = KEYS as u64 * u64::from(PER_KEY);
    await_handled(&app, "in_key_order", total, WAIT)
        .await
        .unwrap();
    let log = app.context().bean::<Sequence>().unwrap().snapshot();
    let mut by_key: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (key, n) in log {
        by_key.entry(key).or_default().push(n);
    }
    assert_eq!(by_key.len(), KEYS);
    for (key, ns) in &by_key {
        assert_eq!(
            ns,
            &(0..PER_KEY).collect::<Vec<_>>(),
            "{key} handled out of order"
        );
    }
    assert_eq!(
        app.listener_stats("in_key_order").unwrap().failed(),
        1,
        "the one failure was redelivered in place"
    );
    let consumer = app.consumer("orderly_group").unwrap();
    assert!(consumer.options().orderly);
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// BROADCASTING

#[rocketmq_listener(
    topic = "BcTopic",
    consumer_group = "bc_group",
    selector_expression = "bc",
    message_model = "BROADCASTING",
    instance_name = "${bc.instance:bc-first}"
)]
async fn on_broadcast(body: String, seen: Bean<Seen>) {
    seen.push(body);
}

/// Broadcasting consumers start at the end of a queue they have no offset for (as Java's do), so a test
/// waits until each has taken its queues before sending.
async fn until_queues_assigned(app: &Application, group: &str) {
    let consumer = app.consumer(group).expect("consumer running");
    let deadline = Instant::now() + WAIT;
    while consumer.assigned_queues().is_empty() {
        assert!(Instant::now() < deadline, "{group} never got queues");
        consumer.rebalance().await;
        if consumer.assigned_queues().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasting_delivers_every_message_to_every_instance() {
    let first = test_app()
        .bean(Seen::default())
        .only_listeners(["on_broadcast"])
        .start()
        .await
        .expect("first starts");
    let offsets = tempfile::tempdir().unwrap();
    let second = test_app()
        .set("rocketmq.name-server", first.namesrv_addr())
        .set("rocketmq.producer.instance-name", "bc-second")
        .set("bc.instance", "bc-second")
        .set(
            "rocketmq.consumer.local-offset-store-dir",
            offsets.path().display().to_string(),
        )
        .bean(Seen::default())
        .only_listeners(["on_broadcast"])
        .start()
        .await
        .expect("second starts");
    assert_eq!(
        first.consumer("bc_group").unwrap().options().message_model,
        MessageModel::Broadcasting
    );
    // Creates the topic; its tag is not selected, so no instance counts it.
    first
        .template()
        .sync_send("BcTopic:warmup", "warmup")
        .await
        .unwrap();
    until_queues_assigned(&first, "bc_group").await;
    until_queues_assigned(&second, "bc_group").await;

    let bodies: Vec<String> = (0..8).map(|i| format!("news-{i}")).collect();
    for b in &bodies {
        first
            .template()
            .sync_send("BcTopic:bc", b.as_str())
            .await
            .unwrap();
    }
    for (name, app) in [("first", &first), ("second", &second)] {
        await_handled(app, "on_broadcast", bodies.len() as u64, WAIT)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut seen = app.context().bean::<Seen>().unwrap().snapshot();
        seen.sort();
        assert_eq!(seen, bodies, "{name} got every message once");
    }
    second.shutdown().await;
    first.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// max_reconsume_times and delay_level_when_next_consume

/// Each delivery's store time (on the broker's clock, virtual in the harness) and reconsume count.
type Tries = Log<(i64, i32)>;

#[rocketmq_listener(
    topic = "RetryTopic",
    consumer_group = "retry_group",
    max_reconsume_times = 2,
    delay_level_when_next_consume = 1
)]
async fn always_fails(msg: MessageExt, tries: Bean<Tries>) -> Result<(), ListenerError> {
    tries.push((msg.store_timestamp, msg.reconsume_times));
    Err(ListenerError::retry_msg(format!(
        "cannot handle {}",
        body_of(&msg)
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_wait_for_the_delay_level_then_max_reconsume_times_dead_letters() {
    let app = test_app()
        .bean(Tries::default())
        .only_listeners(["always_fails"])
        .start()
        .await
        .expect("starts");
    app.template()
        .sync_send("RetryTopic:x", "poison")
        .await
        .unwrap();
    let dead = expect_dead_letter(&app, "retry_group", WAIT, |m| &m.body[..] == b"poison")
        .await
        .expect("dead-lettered after max_reconsume_times");
    assert_eq!(
        dead.property(properties::DLQ_ORIGIN_TOPIC)
            .or(dead.property(properties::RETRY_TOPIC)),
        Some("RetryTopic")
    );
    assert_eq!(
        dead.reconsume_times, 3,
        "the dead letter counts the three deliveries, as Java's"
    );
    let tries = app.context().bean::<Tries>().unwrap().snapshot();
    let counts: Vec<i32> = tries.iter().map(|(_, n)| *n).collect();
    assert_eq!(
        counts,
        [0, 1, 2],
        "the first delivery and max_reconsume_times = 2 retries"
    );
    // Measured on the broker's clock: a retry is stored back when its level is due.
    for pair in tries.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= 1_000,
            "a retry came {gap} ms after the failure; delay level 1 is 1 s"
        );
        assert!(
            gap < 8_000,
            "{gap} ms: the broker's own schedule (level 3 = 10 s), not level 1"
        );
    }
    assert_eq!(app.listener_stats("always_fails").unwrap().failed(), 3);
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// Virtual time: the default back-off (levels 3..18) to the dead-letter queue, a level-18 delay by `advance`

#[rocketmq_listener(topic = "SlowRetryTopic", consumer_group = "slow_retry_group")]
async fn fails_every_time(msg: MessageExt, tries: Bean<Tries>) -> Result<(), ListenerError> {
    tries.push((msg.store_timestamp, msg.reconsume_times));
    Err(ListenerError::retry_msg("still failing"))
}

/// The broker's default delay levels 3..=18, in seconds: the wait before retries 1..=16.
const RETRY_BACKOFF_S: [i64; 16] = [
    10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 1200, 1800, 3600, 7200,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_default_retries_reach_the_dead_letter_queue_in_virtual_time() {
    let started = Instant::now();
    let app = test_app()
        .bean(Tries::default())
        .only_listeners(["fails_every_time"])
        .start()
        .await
        .expect("starts");
    app.template()
        .sync_send("SlowRetryTopic", "never")
        .await
        .unwrap();
    // In production this chain takes 4 h 45 min 40 s; the harness's clock jumps to each retry.
    let dead = expect_dead_letter(&app, "slow_retry_group", WAIT, |m| &m.body[..] == b"never")
        .await
        .expect("dead-lettered after 16 retries");
    assert_eq!(dead.reconsume_times, 17, "1 delivery + 16 retries");
    let tries = app.context().bean::<Tries>().unwrap().snapshot();
    assert_eq!(
        tries.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        (0..=16).collect::<Vec<_>>()
    );
    for (i, pair) in tries.windows(2).enumerate() {
        let gap = pair[1].0 - pair[0].0;
        let want = RETRY_BACKOFF_S[i] * 1_000;
        assert!(
            (want..want + 5_000).contains(&gap),
            "retry {} came {gap} ms after the previous delivery; its level waits {want} ms",
            i + 1
        );
    }
    let total: i64 = RETRY_BACKOFF_S.iter().sum();
    assert!(
        app.clock().offset() >= Duration::from_secs(total as u64) - started.elapsed(),
        "virtual time moved {:?}, the back-off adds up to {total} s",
        app.clock().offset()
    );
    println!(
        "16 retries to the DLQ: {total} s of back-off in {:?} of wall time",
        started.elapsed()
    );
    app.shutdown().await;
}

#[rocketmq_listener(topic = "LaterTopic", consumer_group = "later_group")]
async fn later(body: String, seen: Bean<Seen>) {
    seen.push(body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_18_delay_is_delivered_when_the_test_advances_two_hours() {
    let app = test_app()
        .virtual_time()
        .bean(Seen::default())
        .only_listeners(["later"])
        .start()
        .await
        .expect("starts");
    let t = app.template();
    t.sync_send_delay_level("LaterTopic", "in two hours", 18)
        .await
        .unwrap();
    t.sync_send("LaterTopic", "now").await.unwrap();
    let seen = app.context().bean::<Seen>().unwrap();
    // The message sent after the delayed one is handled: the delayed one is not, and stays so.
    seen.wait_for("the undelayed message", |s| s.iter().any(|b| b == "now"))
        .await;
    // Virtual time runs on with the wall clock, so leave the wall time of a loaded machine some room: 10 s short
    // of the two hours, then the rest.
    app.advance(Duration::from_secs(7_190));
    t.sync_send("LaterTopic", "marker").await.unwrap();
    let before = seen
        .wait_for("the marker", |s| s.iter().any(|b| b == "marker"))
        .await;
    assert!(
        !before.iter().any(|b| b == "in two hours"),
        "delivered before its two hours: {before:?}"
    );
    app.advance(Duration::from_secs(10));
    seen.wait_for("the delayed message after the advance", |s| {
        s.iter().any(|b| b == "in two hours")
    })
    .await;
    app.shutdown().await;
}

#[rocketmq_listener(
    topic = "OrderlyPoisonTopic",
    consumer_group = "orderly_poison_group",
    consume_mode = "ORDERLY",
    max_reconsume_times = 2
)]
async fn orderly_always_fails(msg: MessageExt, tries: Bean<Tries>) -> Result<(), ListenerError> {
    tries.push((msg.store_timestamp, msg.reconsume_times));
    Err(ListenerError::retry_msg("orderly poison"))
}

#[rocketmq_listener(topic = "RefusedTopic", consumer_group = "refused_group")]
async fn refuses(_body: String) -> Result<(), ListenerError> {
    Err(ListenerError::dead_letter_msg("not for us"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_counts_its_deliveries_in_every_mode() {
    let app = test_app()
        .bean(Tries::default())
        .only_listeners(["orderly_always_fails", "refuses"])
        .start()
        .await
        .expect("starts");
    let t = app.template();
    t.sync_send_orderly("OrderlyPoisonTopic", "poison", "k")
        .await
        .unwrap();
    t.sync_send("RefusedTopic", "refused").await.unwrap();
    // ORDERLY retries in place (suspending the queue, 1 s each on the virtual clock), then hands the
    // message to the DLQ with the same count a CONCURRENTLY consumed one gets: its deliveries.
    let orderly = expect_dead_letter(&app, "orderly_poison_group", WAIT, |m| {
        &m.body[..] == b"poison"
    })
    .await
    .expect("orderly poison dead-lettered");
    assert_eq!(orderly.reconsume_times, 3, "three orderly deliveries");
    assert_eq!(
        orderly.property(properties::RETRY_TOPIC),
        Some("OrderlyPoisonTopic")
    );
    let tries = app.context().bean::<Tries>().unwrap().snapshot();
    assert_eq!(tries.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [0, 1, 2]);
    let refused = expect_dead_letter(&app, "refused_group", WAIT, |m| &m.body[..] == b"refused")
        .await
        .expect("refused message dead-lettered");
    assert_eq!(
        refused.reconsume_times, 1,
        "dead-lettered on its one delivery"
    );
    app.shutdown().await;
}

/// A log sink for one test's subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

// Current-thread runtime: the application's and the embedded broker's tasks all log through the
// subscriber set for this thread.
#[tokio::test]
async fn start_up_lists_listeners_and_templates_and_a_dead_letter_is_one_warning() {
    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(log.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = test_app()
        .only_listeners([rmq_runtime::listener!(refuses)])
        .start()
        .await
        .expect("starts");
    app.template()
        .sync_send("RefusedTopic", "refused-and-logged")
        .await
        .unwrap();
    expect_dead_letter(&app, "refused_group", WAIT, |m| {
        &m.body[..] == b"refused-and-logged"
    })
    .await
    .expect("dead-lettered");
    app.shutdown().await;
    let text = String::from_utf8_lossy(&log.0.lock()).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let has = |needles: &[&str]| lines.iter().any(|l| needles.iter().all(|n| l.contains(n)));
    assert!(has(&["INFO", "rmq: embedded broker started"]), "{text}");
    assert!(
        has(&[
            "INFO",
            "rmq: listener",
            "listener=\"refuses\"",
            "topic=RefusedTopic",
            "group=refused_group",
            "selector=TAG *",
            "CONCURRENTLY"
        ]),
        "{text}"
    );
    assert!(
        has(&["INFO", "rmq: template", "template=rocketMQTemplate"]),
        "{text}"
    );
    let warnings: Vec<&&str> = lines.iter().filter(|l| l.contains(" WARN ")).collect();
    let dead: Vec<&&&str> = warnings
        .iter()
        .filter(|l| l.contains("message dead-lettered to %DLQ%refused_group"))
        .collect();
    assert_eq!(
        dead.len(),
        1,
        "one WARN line per dead letter: {warnings:#?}"
    );
    assert!(
        dead[0].contains("not for us"),
        "the reason is in the line: {}",
        dead[0]
    );
    assert!(
        !warnings.iter().any(|l| l.contains("no route yet")),
        "a topic the app is about to create is not a warning: {warnings:#?}"
    );
}

#[tokio::test]
async fn the_default_subscriber_switch_takes_only_true_or_false() {
    let err = test_app()
        .set("rocketmq.logging.default-subscriber", "maybe")
        .only_listeners(Vec::<String>::new())
        .start()
        .await
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("rocketmq.logging.default-subscriber"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// enabled = false and rocketmq.consumer.listeners.<group>.<topic> = false

#[rocketmq_listener(topic = "OffTopic", consumer_group = "off_attr_group", enabled = false)]
async fn off_by_attribute(_body: String) {
    panic!("a disabled listener ran");
}

#[rocketmq_listener(topic = "OffTopic", consumer_group = "off_switch_group")]
async fn off_by_switch(_body: String) {
    panic!("a switched-off listener ran");
}

#[rocketmq_listener(topic = "OffTopic", consumer_group = "witness_group")]
async fn off_topic_witness(_body: String) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabled_false_and_the_config_switch_turn_listeners_off() {
    let app = test_app()
        .set(
            "rocketmq.consumer.listeners.off_switch_group.OffTopic",
            "false",
        )
        .only_listeners(["off_by_attribute", "off_by_switch", "off_topic_witness"])
        .start()
        .await
        .expect("starts");
    for n in 0..3 {
        app.template()
            .sync_send("OffTopic", format!("m{n}"))
            .await
            .unwrap();
    }
    await_handled(&app, "off_topic_witness", 3, WAIT)
        .await
        .unwrap();
    for (listener, group) in [
        ("off_by_attribute", "off_attr_group"),
        ("off_by_switch", "off_switch_group"),
    ] {
        assert!(app.consumer(group).is_none(), "{group} has a consumer");
        assert!(app.listener_stats(listener).is_none(), "{listener} runs");
    }
    app.shutdown().await;

    // The switch set to anything but false leaves the listener on.
    let app = test_app()
        .set(
            "rocketmq.consumer.listeners.off_switch_group.OffTopic",
            "true",
        )
        .only_listeners(["off_by_switch"])
        .start()
        .await
        .expect("starts");
    assert!(app.consumer("off_switch_group").is_some());
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// Placeholders in every attribute

#[rocketmq_listener(
    topic = "${ph.topic}",
    consumer_group = "${ph.group}",
    selector_type = "${ph.selector-type}",
    selector_expression = "${ph.expression}",
    consume_mode = "${ph.mode}",
    message_model = "${ph.model}",
    consume_thread_max = "${ph.threads}",
    consume_thread_number = "${ph.threads-min:2}",
    max_reconsume_times = "${ph.max-reconsume}",
    consume_timeout = "${ph.timeout-minutes:15}",
    delay_level_when_next_consume = "${ph.delay-level}",
    suspend_current_queue_time_millis = "${ph.suspend-ms}",
    await_termination_millis_when_shutdown = "${ph.await-ms:700}",
    reply_timeout = "${ph.reply-ms:4000}",
    name_server = "${ph.name-server}",
    namespace = "${ph.namespace}",
    instance_name = "${ph.instance:ph-instance}",
    enabled = "${ph.enabled}"
)]
async fn configured_entirely(
    msg: MessageExt,
    tries: Bean<Tries>,
    seen: Bean<Seen>,
) -> Result<(), ListenerError> {
    let body = body_of(&msg);
    if body == "red-fails" {
        tries.push((msg.store_timestamp, msg.reconsume_times));
        return Err(ListenerError::retry_msg("red-fails always fails"));
    }
    seen.push(body);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attribute_resolves_its_placeholder_from_config() {
    // The listener consumes from this broker through its name_server attribute; its own application runs
    // another embedded broker.
    let remote = test_app()
        .only_listeners(Vec::<String>::new())
        .start()
        .await
        .expect("remote broker starts");
    let app = test_app()
        .set("ph.topic", "PhTopic")
        .set("ph.group", "ph_group")
        .set("ph.selector-type", "SQL92")
        .set("ph.expression", "color = 'red'")
        .set("ph.mode", "CONCURRENTLY")
        .set("ph.model", "CLUSTERING")
        .set("ph.threads", "3")
        .set("ph.max-reconsume", "1")
        .set("ph.timeout-minutes", "2")
        .set("ph.delay-level", "1")
        .set("ph.suspend-ms", "150")
        .set("ph.name-server", remote.namesrv_addr())
        .set("ph.namespace", "phns")
        .set("ph.enabled", "true")
        .bean(Tries::default())
        .bean(Seen::default())
        .only_listeners(["configured_entirely"])
        .start()
        .await
        .expect("starts");
    assert_ne!(app.namesrv_addr(), remote.namesrv_addr());

    let consumer = app.consumer("ph_group").expect("ph.enabled = true");
    let o = consumer.options();
    assert_eq!(consumer.group(), "phns%ph_group", "namespace");
    assert_eq!(o.client.namespace.as_deref(), Some("phns"));
    assert_eq!(o.client.namesrv_addr, remote.namesrv_addr(), "name_server");
    assert_eq!(
        o.client.instance_name, "ph-instance",
        "instance_name default"
    );
    assert_eq!(
        o.subscriptions,
        [(
            "PhTopic".to_string(),
            MessageSelector::Sql92("color = 'red'".into())
        )]
    );
    assert!(!o.orderly);
    assert_eq!(o.message_model, MessageModel::Clustering);
    assert_eq!(
        o.consume_thread_max, 3,
        "consume_thread_max wins over _number"
    );
    assert_eq!(o.max_reconsume_times, 1);
    assert_eq!(
        o.consume_timeout,
        Duration::from_secs(120),
        "a set key wins over the default"
    );
    assert_eq!(o.suspend_current_queue_time, Duration::from_millis(150));
    assert_eq!(o.await_termination, Duration::from_millis(700), "default");

    // Behaviour: the selector, the namespace and the name server decide what arrives; the delay level and
    // max_reconsume_times what a failure does.
    let t = remote.template();
    let colored = |body: &str, color: &str| Outgoing::new(body.to_string()).header("color", color);
    t.sync_send("phns%PhTopic", colored("blue-1", "blue"))
        .await
        .unwrap();
    t.sync_send("PhTopic", colored("red-outside-namespace", "red"))
        .await
        .unwrap();
    t.sync_send("phns%PhTopic", colored("red-1", "red"))
        .await
        .unwrap();
    t.sync_send("phns%PhTopic", colored("red-fails", "red"))
        .await
        .unwrap();
    t.sync_send("phns%PhTopic", colored("red-2", "red"))
        .await
        .unwrap();
    expect_dead_letter(&remote, "phns%ph_group", WAIT, |m| {
        &m.body[..] == b"red-fails"
    })
    .await
    .expect("dead-lettered in the namespaced group after max_reconsume_times = 1");
    await_handled(&app, "configured_entirely", 2, WAIT)
        .await
        .unwrap();
    let mut seen = app.context().bean::<Seen>().unwrap().snapshot();
    seen.sort();
    assert_eq!(seen, ["red-1", "red-2"]);
    let tries = app.context().bean::<Tries>().unwrap().snapshot();
    assert_eq!(tries.len(), 2, "one delivery and one retry");
    // Stored back on the broker's clock when delay level 1 (1 s) was due.
    let gap = tries[1].0 - tries[0].0;
    assert!(
        (1_000..8_000).contains(&gap),
        "retry after {gap} ms; delay level 1 is 1 s"
    );
    app.shutdown().await;
    remote.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolved_placeholder_stops_startup_naming_the_attribute() {
    let err = test_app()
        .set("ph.topic", "PhTopic")
        .only_listeners(["configured_entirely"])
        .start()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("configured_entirely") && err.contains("${ph.group}"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Request-reply

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Quote {
    sku: String,
    price_cents: i64,
}

#[rocketmq_listener(topic = "QuoteTopic", consumer_group = "quote_group")]
async fn quote(Json(req): Json<Quote>) -> Result<Quote, ListenerError> {
    Ok(Quote {
        sku: req.sku,
        price_cents: req.price_cents * 2,
    })
}

#[rocketmq_listener(topic = "GreetTopic", consumer_group = "greet_group")]
async fn greet(name: String) -> Result<String, ListenerError> {
    Ok(format!("hello, {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_listeners_answer_with_a_struct_and_with_a_string() {
    let app = test_app()
        .only_listeners(["quote", "greet"])
        .start()
        .await
        .expect("starts");
    let t = app.template();
    let req = t
        .payload(&Quote {
            sku: "A-1".into(),
            price_cents: 150,
        })
        .unwrap();
    let answer: Quote = t
        .send_and_receive("QuoteTopic", req, WAIT)
        .await
        .expect("struct reply");
    assert_eq!(
        answer,
        Quote {
            sku: "A-1".into(),
            price_cents: 300
        }
    );
    let hello: String = t
        .send_and_receive("GreetTopic", "rmq", WAIT)
        .await
        .expect("string reply");
    assert_eq!(hello, "hello, rmq");
    let raw = t
        .send_and_receive_raw("GreetTopic", "raw", WAIT)
        .await
        .expect("raw reply");
    assert_eq!(
        &raw.body[..],
        b"hello, raw",
        "a String reply is its UTF-8 text, not JSON"
    );
    assert_eq!(await_handled(&app, "greet", 2, WAIT).await.ok(), Some(()));
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// Batch

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
struct Item {
    id: u32,
}

/// Sizes of the batches delivered, and the ids in them.
type Batches = Log<Vec<u32>>;

#[rocketmq_listener(topic = "BatchTopic", consumer_group = "batch_group")]
async fn on_items(items: Vec<Json<Item>>, batches: Bean<Batches>) {
    batches.push(items.iter().map(|i| i.id).collect());
}

/// Shares its group with `on_items`, which takes batches: refused at start-up.
#[rocketmq_listener(topic = "OtherBatchTopic", consumer_group = "batch_group")]
async fn single_in_a_batch_group(_item: Json<Item>) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_listener_receives_many_messages_per_call() {
    const N: u32 = 200;
    let app = test_app()
        .bean(Batches::default())
        .only_listeners(["on_items"])
        .start()
        .await
        .expect("starts");
    let t = app.template();
    let items: Vec<Outgoing> = (0..N).map(|id| t.payload(&Item { id }).unwrap()).collect();
    // Two batch sends (each lands in one queue), so pulls find many messages at once.
    let second = items[100..].to_vec();
    t.sync_send_batch("BatchTopic", items[..100].to_vec())
        .await
        .unwrap();
    t.sync_send_batch("BatchTopic", second).await.unwrap();
    await_handled(&app, "on_items", u64::from(N), WAIT)
        .await
        .unwrap();
    let batches = app.context().bean::<Batches>().unwrap().snapshot();
    let ids: BTreeSet<u32> = batches.iter().flatten().copied().collect();
    assert_eq!(ids, (0..N).collect(), "every item arrived");
    let largest = batches.iter().map(Vec::len).max().unwrap_or_default();
    assert!(
        largest > 1 && largest <= 32,
        "batches of up to 32, got sizes {:?}",
        batches.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert!(batches.len() < N as usize, "not one call per message");
    app.shutdown().await;

    let err = test_app()
        .bean(Batches::default())
        .only_listeners(["on_items", "single_in_a_batch_group"])
        .start()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("single_in_a_batch_group") && err.contains("batch"),
        "a group mixing batch and single-message listeners: {err}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Transactions through #[rocketmq_transaction_listener], bound to a named template so that the other
// applications of this binary (which do not declare it) are unaffected.

/// The local "database" of the transaction test: payments whose local transaction committed, and the
/// check-backs the broker made.
#[derive(Default)]
struct Ledger {
    committed: Mutex<BTreeSet<String>>,
    checks: Log<String>,
}

#[derive(Debug, Clone, Copy)]
enum Plan {
    Commit,
    Rollback,
    /// Commits locally, but the answer is lost: the broker asks, and the check says commit.
    CommitAnswerLost,
    /// Fails locally, and the answer is lost: the check says roll back.
    FailAnswerLost,
}

#[derive(Default)]
struct PayTx;

#[rocketmq_transaction_listener(template = "txTemplate")]
impl LocalTransactionListener for PayTx {
    type Arg = Plan;

    async fn execute(&self, msg: &Message, arg: &Plan, ctx: &AppContext) -> LocalTransactionState {
        let ledger = ctx.bean::<Ledger>().expect("Ledger bean");
        let payment = String::from_utf8_lossy(&msg.body).into_owned();
        match arg {
            Plan::Commit => {
                ledger.committed.lock().insert(payment);
                LocalTransactionState::Commit
            }
            Plan::Rollback => LocalTransactionState::Rollback,
            Plan::CommitAnswerLost => {
                ledger.committed.lock().insert(payment);
                LocalTransactionState::Unknown
            }
            Plan::FailAnswerLost => LocalTransactionState::Unknown,
        }
    }

    async fn check(&self, msg: &MessageExt, ctx: &AppContext) -> LocalTransactionState {
        let ledger = ctx.bean::<Ledger>().expect("Ledger bean");
        let payment = body_of(msg);
        let committed = ledger.committed.lock().contains(&payment);
        ledger.checks.push(payment);
        if committed {
            LocalTransactionState::Commit
        } else {
            LocalTransactionState::Rollback
        }
    }
}

#[rocketmq_listener(topic = "PayTxTopic", consumer_group = "pay_tx_group")]
async fn on_payment(body: String, seen: Bean<Seen>) {
    seen.push(body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_listener_commits_rolls_back_and_answers_check_backs() {
    let app = test_app()
        .set("rocketmq.embedded.broker.transactionTimeOut", "300")
        .set("rocketmq.embedded.broker.transactionCheckInterval", "100")
        .transactional_template("txTemplate", "tx_group")
        .bean(Ledger::default())
        .bean(Seen::default())
        .only_listeners(["on_payment"])
        .start()
        .await
        .expect("starts");
    let tx = app.template_named("txTemplate").expect("declared");
    let plans = [
        ("pay-1", Plan::Commit, LocalTransactionState::Commit),
        ("pay-2", Plan::Rollback, LocalTransactionState::Rollback),
        (
            "pay-3",
            Plan::CommitAnswerLost,
            LocalTransactionState::Unknown,
        ),
        (
            "pay-4",
            Plan::FailAnswerLost,
            LocalTransactionState::Unknown,
        ),
    ];
    for (payment, plan, state) in plans {
        let r = tx
            .send_in_transaction("PayTxTopic:paid", payment, plan)
            .await
            .unwrap();
        assert_eq!(r.state, state, "{payment}");
    }
    let ledger = app.context().bean::<Ledger>().unwrap();
    ledger
        .checks
        .wait_for("check-backs of pay-3 and pay-4", |c| {
            c.iter().any(|p| p == "pay-3") && c.iter().any(|p| p == "pay-4")
        })
        .await;
    await_handled(&app, "on_payment", 2, WAIT).await.unwrap();
    let mut seen = app.context().bean::<Seen>().unwrap().snapshot();
    seen.sort();
    assert_eq!(
        seen,
        ["pay-1", "pay-3"],
        "committed, and committed by check-back"
    );
    for rolled_back in ["pay-2", "pay-4"] {
        let found = expect_message(&app, "PayTxTopic", Duration::from_millis(500), |m| {
            body_of(m) == rolled_back
        })
        .await;
        assert!(found.is_err(), "{rolled_back} was delivered");
    }
    assert!(
        ledger
            .checks
            .snapshot()
            .iter()
            .all(|p| p == "pay-3" || p == "pay-4"),
        "only unknown outcomes are checked"
    );
    let err = app
        .template()
        .send_in_transaction("PayTxTopic", "pay-5", ())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no transaction listener"),
        "the default template is not transactional: {err}"
    );
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// Duplicate delivery through the idempotency guard

#[rocketmq_listener(
    topic = "IdemTopic",
    consumer_group = "idem_group",
    delay_level_when_next_consume = 1
)]
async fn restore_stock(
    msg: MessageExt,
    guard: Bean<IdempotencyGuard<Sqlite>>,
) -> Result<(), ListenerError> {
    let key = msg.keys().join(" ");
    // The "flaky" payment's handler fails on its first two deliveries.
    let fail = key.starts_with("flaky") && msg.reconsume_times < 2;
    let _applied_or_duplicate = guard
        .run_message("idem_group", &msg, |conn| {
            Box::pin(async move {
                if fail {
                    return Err::<(), BoxError>("stock service unavailable".into());
                }
                sqlx::query(
                    "INSERT INTO effects (k, n) VALUES (?, 1) ON CONFLICT (k) DO UPDATE SET n = n + 1",
                )
                .bind(key)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await
        .map_err(GuardError::into_listener_error)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idempotency_guard_applies_duplicate_deliveries_once() {
    let dir = tempfile::tempdir().unwrap();
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(dir.path().join("stock.db"))
                .create_if_missing(true),
        )
        .await
        .unwrap();
    sqlx::query("CREATE TABLE effects (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let guard = IdempotencyGuard::new(pool.clone());
    guard.ensure_table().await.unwrap();
    let app = test_app()
        .bean(guard.clone())
        .only_listeners(["restore_stock"])
        .start()
        .await
        .expect("starts");
    let t = app.template();
    // The same business event sent twice (same tag and key), and one whose handler fails twice.
    t.sync_send("IdemTopic:cancel", Outgoing::new("order 1").key("dup-1"))
        .await
        .unwrap();
    t.sync_send("IdemTopic:cancel", Outgoing::new("order 1").key("dup-1"))
        .await
        .unwrap();
    t.sync_send("IdemTopic:cancel", Outgoing::new("order 2").key("flaky-2"))
        .await
        .unwrap();
    await_handled(&app, "restore_stock", 3, WAIT).await.unwrap();
    let stats = app.listener_stats("restore_stock").unwrap();
    assert_eq!(
        (stats.handled(), stats.failed()),
        (3, 2),
        "two deliveries of dup-1 acknowledged, flaky-2 failed twice then succeeded"
    );

    let effects: BTreeMap<String, i64> = sqlx::query_as("SELECT k, n FROM effects")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        effects,
        BTreeMap::from([("dup-1".to_string(), 1), ("flaky-2".to_string(), 1)]),
        "one effect per business event"
    );
    let dup = guard
        .entry(&ConsumeKey::new("idem_group", "cancel", "dup-1"))
        .await
        .unwrap()
        .expect("logged");
    assert_eq!((dup.status, dup.times), (ConsumerStatus::Done, 1));
    let flaky = guard
        .entry(&ConsumeKey::new("idem_group", "cancel", "flaky-2"))
        .await
        .unwrap()
        .expect("logged");
    assert_eq!(
        (flaky.status, flaky.times),
        (ConsumerStatus::Done, 3),
        "two failures and the success"
    );
    assert!(
        flaky
            .remark
            .as_deref()
            .unwrap_or_default()
            .contains("stock service unavailable"),
        "{flaky:?}"
    );
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// Graceful shutdown

/// Jobs whose handler started and finished, across every application of the test.
#[derive(Default)]
struct WorkLog {
    started: Log<String>,
    finished: Log<String>,
}

/// A bean shared by two applications.
#[derive(Clone)]
struct Work(Arc<WorkLog>);

impl std::ops::Deref for Work {
    type Target = WorkLog;
    fn deref(&self) -> &WorkLog {
        &self.0
    }
}

#[rocketmq_listener(
    topic = "SlowTopic",
    consumer_group = "slow_group",
    consume_thread_max = 4,
    instance_name = "${slow.instance}",
    await_termination_millis_when_shutdown = 5000
)]
async fn slow_job(job: String, work: Bean<Work>) {
    work.started.push(job.clone());
    tokio::time::sleep(Duration::from_millis(150)).await;
    work.finished.push(job);
}

async fn worker(broker: &Application, name: &str, work: &Work) -> Application {
    test_app()
        .set("rocketmq.name-server", broker.namesrv_addr())
        .set("rocketmq.producer.instance-name", name)
        .set("slow.instance", name)
        .bean(work.clone())
        .only_listeners(["slow_job"])
        .start()
        .await
        .unwrap_or_else(|e| panic!("{name} starts: {e}"))
}

fn counts(jobs: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for j in jobs {
        *m.entry(j.clone()).or_default() += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_running_handlers_and_another_instance_finishes_the_rest() {
    const JOBS: usize = 40;
    let broker = test_app()
        .only_listeners(Vec::<String>::new())
        .start()
        .await
        .expect("broker starts");
    let work = Work(Arc::default());
    let a = worker(&broker, "slow-a", &work).await;
    let jobs: Vec<String> = (0..JOBS).map(|i| format!("job-{i:02}")).collect();
    let t = broker.template();
    futures::future::try_join_all(jobs.iter().map(|j| t.async_send("SlowTopic", j.as_str())))
        .await
        .unwrap();

    // Shut the first worker down while it is busy.
    await_handled(&a, "slow_job", 4, WAIT).await.unwrap();
    let a_stats = a.listener_stats("slow_job").unwrap();
    a.shutdown().await;
    let started = work.0.started.snapshot();
    let finished = work.0.finished.snapshot();
    assert_eq!(
        counts(&started),
        counts(&finished),
        "shutdown returned with a handler still running"
    );
    let a_done = a_stats.handled();
    assert!(
        (a_done as usize) < JOBS,
        "the first worker was shut down while busy"
    );

    // The second worker of the group takes the queues over from the committed offsets.
    let b = worker(&broker, "slow-b", &work).await;
    let all: BTreeSet<String> = jobs.iter().cloned().collect();
    work.0
        .finished
        .wait_for("every job finished at least once", |f| {
            all.iter().all(|j| f.contains(j))
        })
        .await;
    let b_stats = b.listener_stats("slow_job").unwrap();
    b.shutdown().await;
    let b_done = b_stats.handled();
    assert!(
        (b_done as usize) < JOBS,
        "the second worker redid everything ({b_done}): the first one's acknowledged work was lost"
    );
    assert!(a_done + b_done >= JOBS as u64);
    eprintln!("first worker handled {a_done}, second {b_done}, of {JOBS}");
    assert_eq!(
        counts(&work.0.started.snapshot()),
        counts(&work.0.finished.snapshot()),
        "every handler that started finished"
    );
    broker.shutdown().await;
}
