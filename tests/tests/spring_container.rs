//! The listener container and application over the real bundled broker, with listeners registered exactly as
//! `#[rocketmq_listener]` expands (a handler shim + `inventory::submit!`), so this runs without the macro.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rmq_runtime::__private::{inventory, BoxFuture};
use rmq_runtime::container::StartError;
use rmq_runtime::listener::{
    no_reply, reply_json, single, BeanRequirement, FromMessage, HandlerResult, ListenerDef,
    ListenerError,
};
use rmq_runtime::protocol::message::properties;
use rmq_runtime::testing::{await_handled, expect_dead_letter, test_app};
use rmq_runtime::{AppContext, Bean, Json, MessageExt};

#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

// ---- listeners, as the macro would write them ----

async fn on_order(body: String, seen: Bean<Seen>) -> Result<(), ListenerError> {
    seen.0.lock().push(body);
    Ok(())
}

fn shim_on_order(ctx: Arc<AppContext>, msgs: Vec<MessageExt>) -> BoxFuture<'static, HandlerResult> {
    Box::pin(async move {
        let msg = single(msgs)?;
        let a0 = <String as FromMessage>::from_message(&msg, &ctx)?;
        let a1 = <Bean<Seen> as FromMessage>::from_message(&msg, &ctx)?;
        no_reply(on_order(a0, a1).await)
    })
}

inventory::submit! {
    ListenerDef {
        name: "on_order",
        module: module_path!(),
        file: file!(),
        line: line!(),
        attrs: &[
            ("topic", "${mq.order.topic}"),
            ("consumer_group", "${mq.order.group:order_group}"),
            ("selector_expression", "${mq.order.tags:paid || cancel}"),
            ("consume_thread_max", "${threads:4}"),
        ],
        handler: shim_on_order,
        beans: &[BeanRequirement::of::<Seen>()],
        batch: false,
        reply: false,
    }
}

async fn always_fails(ext: MessageExt) -> Result<(), std::io::Error> {
    Err(std::io::Error::other(format!(
        "cannot handle {}",
        ext.msg_id()
    )))
}

fn shim_always_fails(
    ctx: Arc<AppContext>,
    msgs: Vec<MessageExt>,
) -> BoxFuture<'static, HandlerResult> {
    Box::pin(async move {
        let msg = single(msgs)?;
        let a0 = <MessageExt as FromMessage>::from_message(&msg, &ctx)?;
        no_reply(always_fails(a0).await)
    })
}

inventory::submit! {
    ListenerDef {
        name: "always_fails",
        module: module_path!(),
        file: file!(),
        line: line!(),
        attrs: &[
            ("topic", "FailTopic"),
            ("consumer_group", "fail_group"),
            ("max_reconsume_times", "1"),
            ("delay_level_when_next_consume", "1"),
        ],
        handler: shim_always_fails,
        beans: &[],
        batch: false,
        reply: false,
    }
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Quote {
    sku: String,
    price_cents: i64,
}

async fn quote(req: Json<Quote>) -> Result<Quote, ListenerError> {
    Ok(Quote {
        sku: req.sku.clone(),
        price_cents: req.price_cents * 2,
    })
}

fn shim_quote(ctx: Arc<AppContext>, msgs: Vec<MessageExt>) -> BoxFuture<'static, HandlerResult> {
    Box::pin(async move {
        let msg = single(msgs)?;
        let a0 = <Json<Quote> as FromMessage>::from_message(&msg, &ctx)?;
        reply_json(quote(a0).await)
    })
}

inventory::submit! {
    ListenerDef {
        name: "quote",
        module: module_path!(),
        file: file!(),
        line: line!(),
        attrs: &[("topic", "QuoteTopic"), ("consumer_group", "quote_group")],
        handler: shim_quote,
        beans: &[],
        batch: false,
        reply: true,
    }
}

// Invalid definitions: each must be refused at start-up, naming the listener.
fn shim_noop(_ctx: Arc<AppContext>, _msgs: Vec<MessageExt>) -> BoxFuture<'static, HandlerResult> {
    Box::pin(async { Ok(None) })
}

inventory::submit! {
    ListenerDef { name: "unresolved", module: "", file: "x.rs", line: 1,
        attrs: &[("topic", "${nowhere}"), ("consumer_group", "g1")], handler: shim_noop, beans: &[], batch: false, reply: false }
}
inventory::submit! {
    ListenerDef { name: "orderly_broadcast", module: "", file: "x.rs", line: 2,
        attrs: &[("topic", "T"), ("consumer_group", "g2"), ("consume_mode", "${mode:ORDERLY}"), ("message_model", "BROADCASTING")],
        handler: shim_noop, beans: &[], batch: false, reply: false }
}
inventory::submit! {
    ListenerDef { name: "dup_a", module: "", file: "x.rs", line: 3,
        attrs: &[("topic", "T"), ("consumer_group", "g3")], handler: shim_noop, beans: &[], batch: false, reply: false }
}
inventory::submit! {
    ListenerDef { name: "dup_b", module: "", file: "x.rs", line: 4,
        attrs: &[("topic", "T"), ("consumer_group", "g3")], handler: shim_noop, beans: &[], batch: false, reply: false }
}
inventory::submit! {
    ListenerDef { name: "bad_sql", module: "", file: "x.rs", line: 5,
        attrs: &[("topic", "T"), ("consumer_group", "g4"), ("selector_type", "SQL92"), ("selector_expression", "${expr:a >}")],
        handler: shim_noop, beans: &[], batch: false, reply: false }
}
inventory::submit! {
    ListenerDef { name: "inconsistent", module: "", file: "x.rs", line: 6,
        attrs: &[("topic", "Other"), ("consumer_group", "g3"), ("message_model", "BROADCASTING")],
        handler: shim_noop, beans: &[], batch: false, reply: false }
}

// ---- tests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placeholders_tag_filter_and_beans_reach_the_handler() {
    let started = std::time::Instant::now();
    let app = test_app()
        .set("mq.order.topic", "OrderTopic")
        .bean(Seen::default())
        .only_listeners(["on_order"])
        .start()
        .await
        .expect("starts");
    let startup = started.elapsed();
    let t = app.template();
    t.sync_send("OrderTopic:paid", "order-1 paid")
        .await
        .unwrap();
    t.sync_send("OrderTopic:shipped", "order-1 shipped")
        .await
        .unwrap();
    t.sync_send("OrderTopic:cancel", "order-2 cancel")
        .await
        .unwrap();
    await_handled(&app, "on_order", 2, Duration::from_secs(10))
        .await
        .unwrap();
    let seen = app.context().bean::<Seen>().unwrap();
    let mut got = seen.0.lock().clone();
    got.sort();
    assert_eq!(
        got,
        vec!["order-1 paid", "order-2 cancel"],
        "the TAG selector from the placeholder default filters"
    );
    assert!(
        app.consumer("order_group").is_some(),
        "group from the placeholder default"
    );
    eprintln!("embedded application start-up took {startup:?}");
    app.shutdown().await;
}

/// The harness runs the app's own application.toml (nested placeholders included) over the embedded broker;
/// `config_dir` with `settings` is refused; a bean shared as an `Arc` is found through `bean_arc`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_runs_the_apps_own_config_and_shared_beans() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("application.toml"),
        "[app]\nname = \"shop\"\n[mq.order]\ntopic = \"${app.name}OrderTopic\"\ngroup = \"${app.name}_orders\"\n\
         [rocketmq]\nname-server = \"10.0.0.1:9876\"\n",
    )
    .unwrap();
    let shared = Arc::new(Seen::default());
    let app = test_app()
        .config_dir(dir.path())
        .bean_arc(shared.clone())
        .only_listeners(["on_order"])
        .start()
        .await
        .expect("starts on the embedded broker despite the file's name server");
    app.template()
        .sync_send("shopOrderTopic:paid", "order-7 paid")
        .await
        .unwrap();
    await_handled(&app, "on_order", 1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        *shared.0.lock(),
        vec!["order-7 paid"],
        "the same Arc reached the handler"
    );
    assert!(
        app.consumer("shop_orders").is_some(),
        "group from the nested placeholder"
    );
    app.shutdown().await;

    let both = rmq_runtime::Application::builder()
        .settings(rmq_runtime::settings::Settings::from_pairs([("a", "b")]))
        .config_dir(dir.path())
        .start()
        .await;
    let e = both.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("config_dir") && e.contains("settings"), "{e}");

    let arc_registered = test_app()
        .set("mq.order.topic", "OrderTopic")
        .bean(Arc::new(Seen::default()))
        .only_listeners(["on_order"])
        .start()
        .await;
    let e = arc_registered
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains(".bean_arc(arc)"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_listener_retries_with_its_delay_then_dead_letters() {
    let app = test_app()
        .only_listeners(["always_fails"])
        .start()
        .await
        .expect("starts");
    app.template()
        .sync_send("FailTopic", "poison")
        .await
        .unwrap();
    let dead = expect_dead_letter(&app, "fail_group", Duration::from_secs(30), |m| {
        &m.body[..] == b"poison"
    })
    .await
    .expect("dead-lettered after max_reconsume_times");
    assert_eq!(
        dead.property(properties::DLQ_ORIGIN_TOPIC)
            .or(dead.property(properties::RETRY_TOPIC)),
        Some("FailTopic")
    );
    let stats = app.listener_stats("always_fails").unwrap();
    assert_eq!(stats.failed(), 2, "first delivery + 1 retry");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_listener_answers_send_and_receive() {
    let app = test_app()
        .only_listeners(["quote"])
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
        .send_and_receive("QuoteTopic", req, Duration::from_secs(10))
        .await
        .expect("reply");
    assert_eq!(
        answer,
        Quote {
            sku: "A-1".into(),
            price_cents: 300
        }
    );
    app.shutdown().await;
}

async fn start_err(names: &[&str]) -> String {
    match test_app()
        .only_listeners(names.iter().copied())
        .start()
        .await
    {
        Ok(app) => {
            app.shutdown().await;
            panic!("{names:?} started")
        }
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_listeners_are_refused_at_startup_naming_the_listener() {
    let e = start_err(&["unresolved"]).await;
    assert!(
        e.contains("listener unresolved") && e.contains("${nowhere}"),
        "{e}"
    );
    let e = start_err(&["orderly_broadcast"]).await;
    assert!(
        e.contains("listener orderly_broadcast") && e.contains("BROADCASTING"),
        "{e}"
    );
    let e = start_err(&["dup_a", "dup_b"]).await;
    assert!(e.contains("dup_b") && e.contains("dup_a"), "{e}");
    let e = start_err(&["bad_sql"]).await;
    assert!(e.contains("listener bad_sql") && e.contains("SQL92"), "{e}");
    let e = start_err(&["dup_a", "inconsistent"]).await;
    assert!(
        e.contains("inconsistent") && e.contains("message_model"),
        "{e}"
    );
    let missing_bean = test_app()
        .set("mq.order.topic", "T")
        .only_listeners(["on_order"])
        .start()
        .await;
    let e = missing_bean
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("Bean<") && e.contains("Seen"),
        "missing bean: {e}"
    );
    let e = start_err(&["no_such_listener"]).await;
    assert!(e.contains("no_such_listener"), "{e}");
    let bad_key = test_app()
        .set("rocketmq.producer.grup", "x")
        .only_listeners(Vec::<String>::new())
        .start()
        .await;
    let e = bad_key.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        e.contains("rocketmq.producer.grup") && e.contains("rocketmq.producer.group"),
        "{e}"
    );
    let _ = StartError::Broker(String::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_receives_from_its_pull_consumer_and_sends_every_way() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Ping {
        n: u32,
    }
    let app = test_app()
        .set("rocketmq.pull-consumer.group", "pull_group")
        .set("rocketmq.pull-consumer.topic", "PullTopic")
        .only_listeners(Vec::<String>::new())
        .start()
        .await
        .expect("starts");
    let t = app.template();
    for n in 0..3 {
        t.convert_and_send("PullTopic", &Ping { n }).await.unwrap();
    }
    t.sync_send_delay_level("PullTopic", t.payload(&Ping { n: 3 }).unwrap(), 1)
        .await
        .unwrap();
    t.sync_send_orderly("PullTopic", t.payload(&Ping { n: 4 }).unwrap(), "k")
        .await
        .unwrap();
    t.async_send("PullTopic", t.payload(&Ping { n: 5 }).unwrap())
        .await
        .unwrap();
    t.send_one_way(
        "PullTopic",
        t.payload(&Ping { n: 6 })
            .unwrap()
            .key("seven")
            .header("h", "v"),
    )
    .await
    .unwrap();
    t.sync_send_batch(
        "PullTopic",
        vec![
            t.payload(&Ping { n: 7 }).unwrap(),
            t.payload(&Ping { n: 8 }).unwrap(),
        ],
    )
    .await
    .unwrap();
    t.convert_and_send_with("PullTopic", &Ping { n: 9 }, |m| {
        m.key("nine").header("region", "eu")
    })
    .await
    .unwrap();
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got.len() < 10 && std::time::Instant::now() < deadline {
        got.extend(t.receive_raw(Duration::from_secs(2)).await.unwrap());
    }
    let ping = |m: &MessageExt| serde_json::from_slice::<Ping>(&m.body).unwrap().n;
    let mut ns: Vec<u32> = got.iter().map(ping).collect();
    ns.sort_unstable();
    assert_eq!(
        ns,
        (0..10).collect::<Vec<_>>(),
        "each send form arrives once (the delayed one after ~1 s)"
    );
    let nine = got.iter().find(|m| ping(m) == 9).unwrap();
    assert_eq!(nine.property("KEYS"), Some("nine"));
    assert_eq!(nine.property("region"), Some("eu"));
    let err = t.sync_send("bad topic", "x").await.unwrap_err();
    assert!(err.to_string().contains("topic"), "{err}");
    app.shutdown().await;
}

/// rocketmq-spring 2.0–2.2.2 configured `RocketMQTemplate.receive`'s pull consumer under `rocketmq.consumer.*`
/// (2.2.3 moved it to `rocketmq.pull-consumer.*`); applications and guides still carry those keys, as TOML
/// tables and in either spelling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocketmq_consumer_keys_configure_the_templates_pull_consumer() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Ping {
        n: u32,
    }
    let settings = rmq_runtime::settings::Settings::from_toml_str(
        r#"
[rocketmq]
name-server = "embedded"

[rocketmq.consumer]
group = "legacy_pull_group"
topic = "LegacyPullTopic"
selector-type = "TAG"
selectorExpression = "keep || also"
pullBatchSize = 2
namespace = "tenant1"
instance-name = "legacy-pull"
message-model = "CLUSTERING"
access-key = ""
secret-key = ""
enable-msg-trace = false
customized-trace-topic = "RMQ_SYS_TRACE_TOPIC"
tls-enable = false
"#,
    )
    .expect("toml");
    let app = rmq_runtime::Application::builder()
        .settings(settings)
        .set("rocketmq.producer.namespace", "tenant1")
        .only_listeners(Vec::<String>::new())
        .start()
        .await
        .expect("starts");
    let t = app.template();
    let consumer = t
        .consumer()
        .expect("rocketmq.consumer.group + topic build a pull consumer");
    assert_eq!(consumer.group(), "tenant1%legacy_pull_group");

    let batch = |from: u32, to: u32| -> Vec<rmq_runtime::Outgoing> {
        (from..to)
            .map(|n| t.payload(&Ping { n }).unwrap())
            .collect()
    };
    t.sync_send_batch("LegacyPullTopic:drop", batch(100, 103))
        .await
        .unwrap();
    t.sync_send_batch("LegacyPullTopic:keep", batch(0, 6))
        .await
        .unwrap();
    t.sync_send("LegacyPullTopic:also", t.payload(&Ping { n: 6 }).unwrap())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut largest = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got.len() < 7 && std::time::Instant::now() < deadline {
        let polled = t.receive::<Ping>(Duration::from_secs(2)).await.unwrap();
        largest = largest.max(polled.len());
        got.extend(polled);
    }
    let mut ns: Vec<u32> = got.iter().map(|p| p.n).collect();
    ns.sort_unstable();
    assert_eq!(
        ns,
        (0..7).collect::<Vec<_>>(),
        "the tag selector keeps `keep` and `also` and drops `drop`"
    );
    assert!(
        largest <= 2,
        "pullBatchSize = 2 bounds every receive (largest was {largest})"
    );
    app.shutdown().await;
}

async fn start_error(pairs: &[(&str, &str)]) -> String {
    let mut b = test_app().only_listeners(Vec::<String>::new());
    for (k, v) in pairs {
        b = b.set(*k, *v);
    }
    match b.start().await {
        Ok(app) => {
            app.shutdown().await;
            panic!("{pairs:?} must not start")
        }
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_keys_rmq_cannot_honour_stop_start_up_naming_the_key() {
    for (key, value, says) in [
        ("rocketmq.consumer.accessKey", "AK", "ACL"),
        ("rocketmq.consumer.secret-key", "SK", "ACL"),
        ("rocketmq.pull-consumer.access-key", "AK", "ACL"),
        ("rocketmq.consumer.tls-enable", "true", "TLS"),
        ("rocketmq.consumer.enableMsgTrace", "true", "trace"),
        ("rocketmq.consumer.namespace-v2", "ns", "namespaceV2"),
        ("rocketmq.producer.access-key", "AK", "ACL"),
    ] {
        let e = start_error(&[(key, value)]).await;
        assert!(
            e.contains(key) && e.contains(says) && e.contains("not implemented"),
            "{key}: {e}"
        );
    }
    let e = start_error(&[("rocketmq.consumer.enable-msg-trace", "maybe")]).await;
    assert!(
        e.contains("rocketmq.consumer.enable-msg-trace") && e.contains("true or false"),
        "{e}"
    );
    let e = start_error(&[
        ("rocketmq.pull-consumer.group", "g1"),
        ("rocketmq.consumer.group", "g2"),
        ("rocketmq.consumer.topic", "T"),
    ])
    .await;
    assert!(
        e.contains("rocketmq.consumer.group") && e.contains("rocketmq.pull-consumer.group"),
        "conflicting spellings name both keys: {e}"
    );
    let e = start_error(&[("rocketmq.consumer.group", "g")]).await;
    assert!(
        e.contains("rocketmq.consumer.group") && e.contains("topic is missing"),
        "{e}"
    );
    let e = start_error(&[
        ("rocketmq.consumer.group", "g"),
        ("rocketmq.consumer.topic", "T"),
        ("rocketmq.consumer.pull-batch-size", "0"),
    ])
    .await;
    assert!(e.contains("rocketmq.consumer.pull-batch-size"), "{e}");
    let e = start_error(&[
        ("rocketmq.consumer.group", "g"),
        ("rocketmq.consumer.topic", "T"),
        ("rocketmq.consumer.selector-type", "REGEX"),
    ])
    .await;
    assert!(
        e.contains("rocketmq.consumer.selector-type") && e.contains("TAG or SQL92"),
        "{e}"
    );
    let e = start_error(&[("rocketmq.embedded.flush-disk-type", "SYNC")]).await;
    assert!(
        e.contains("rocketmq.embedded.flush-disk-type") && e.contains("SYNC_FLUSH"),
        "a misspelt flush type is refused, not taken as ASYNC_FLUSH: {e}"
    );
}
