//! What `#[rocketmq_listener]` and `#[rocketmq_transaction_listener]` expand to: the registrations they make
//! and the handler shims, called directly with a hand-built `AppContext`.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rmq_runtime::context::{AppContext, CodecHandle};
use rmq_runtime::listener::{FromMessage, HandlerResult, Headers, ListenerDef};
use rmq_runtime::macros::{rocketmq_listener, rocketmq_transaction_listener};
use rmq_runtime::producer::LocalTransactionState;
use rmq_runtime::protocol::message::{properties, Properties};
use rmq_runtime::settings::Settings;
use rmq_runtime::transaction_listener::TransactionListenerDef;
use rmq_runtime::{Bean, Json, ListenerError, LocalTransactionListener, Message, MessageExt};
use serde::{Deserialize, Serialize};

// The README's snippets, laid out as the README shows them (so not rustfmt's layout).
#[rustfmt::skip]
#[path = "snippets/readme.rs"]
mod readme;

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Order {
    id: u64,
    item: String,
}

#[derive(Debug, Deserialize)]
struct QuoteRequest {
    item: String,
    qty: u32,
}

#[derive(Debug, Serialize)]
struct Quote {
    item: String,
    total_cents: u64,
}

/// A bean the listeners write what they saw to.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Recorder {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// What the bean-less listeners saw, by listener.
static SEEN: Mutex<Vec<(&str, String)>> = Mutex::new(Vec::new());

fn seen(listener: &str) -> Vec<String> {
    SEEN.lock()
        .unwrap()
        .iter()
        .filter(|(l, _)| *l == listener)
        .map(|(_, s)| s.clone())
        .collect()
}

// --- the listeners -------------------------------------------------------------------------------------

#[rocketmq_listener(
    topic = "${mq.order.topic:orders}",
    consumer_group = "json-group",
    selector_type = "SQL92",
    selector_expression = "amount > 5 AND region = 'eu'",
    consume_mode = "ORDERLY",
    consume_thread_max = 4,
    enable = false
)]
async fn on_json(Json(order): Json<Order>) -> Result<(), ListenerError> {
    SEEN.lock()
        .unwrap()
        .push(("on_json", format!("{}:{}", order.id, order.item)));
    Ok(())
}

/// A bare payload type; id 0 is a transient failure.
#[rocketmq_listener(topic = "orders", consumer_group = "plain-group", max_reconsume_times = -1)]
async fn on_plain(order: Order) -> Result<(), io::Error> {
    if order.id == 0 {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "stock service timed out",
        ));
    }
    SEEN.lock().unwrap().push(("on_plain", order.item));
    Ok(())
}

#[rocketmq_listener(
    topic = "notes",
    consumer_group = "text-group",
    message_model = "BROADCASTING"
)]
async fn on_text(text: String) {
    SEEN.lock().unwrap().push(("on_text", text));
}

#[rocketmq_listener(
    topic = "orders",
    consumer_group = "raw-group",
    selector_expression = "paid || created"
)]
async fn on_raw(msg: MessageExt, recorder: Bean<Recorder>) -> Result<(), ListenerError> {
    recorder.push(format!(
        "{} {} {}",
        msg.topic,
        msg.msg_id(),
        String::from_utf8_lossy(&msg.body)
    ));
    Ok(())
}

#[rocketmq_listener(
    topic = "orders",
    consumer_group = "batch-group",
    consume_thread_number = "8"
)]
async fn on_batch(orders: Vec<Json<Order>>, recorder: Bean<Recorder>) -> Result<(), ListenerError> {
    for Json(o) in orders {
        recorder.push(format!("batch {}", o.id));
    }
    Ok(())
}

#[rocketmq_listener(topic = "quotes", consumer_group = "quote-group", reply_timeout = 5000)]
async fn on_quote(req: Json<QuoteRequest>) -> Result<Quote, ListenerError> {
    if req.qty == 0 {
        return Err(ListenerError::dead_letter_msg("a quote needs a quantity"));
    }
    Ok(Quote {
        item: req.item.clone(),
        total_cents: 250 * u64::from(req.qty),
    })
}

#[rocketmq_listener(topic = "echo", consumer_group = "echo-group")]
async fn on_echo(text: String) -> Result<String, io::Error> {
    Ok(text.to_uppercase())
}

#[rocketmq_listener(topic = "blobs", consumer_group = "blob-group")]
async fn on_blob(body: Vec<u8>, ctx: Arc<AppContext>) -> Result<Bytes, ListenerError> {
    let suffix = ctx.settings().get("blob.suffix").unwrap_or_default();
    let mut out = body;
    out.extend_from_slice(suffix.as_bytes());
    Ok(Bytes::from(out))
}

/// A user's own argument type: the tenant a message belongs to, from its `tenant` property.
#[derive(Debug, PartialEq)]
struct Tenant(String);

impl FromMessage for Tenant {
    fn from_message(msg: &MessageExt, _ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        msg.property("tenant")
            .map(|t| Tenant(t.to_string()))
            .ok_or_else(|| ListenerError::dead_letter_msg("no tenant property"))
    }
}

#[rocketmq_listener(topic = "tenants", consumer_group = "tenant-group")]
async fn on_tenant(tenant: Tenant, headers: Headers, text: String) {
    let user: Vec<String> = headers.user().map(|(k, v)| format!("{k}={v}")).collect();
    let keys: Vec<&str> = headers.keys().collect();
    SEEN.lock().unwrap().push((
        "on_tenant",
        format!(
            "{} {text} tag={:?} keys={keys:?} user={user:?}",
            tenant.0,
            headers.tag()
        ),
    ));
}

#[rocketmq_listener(topic = "maybe", consumer_group = "maybe-group")]
async fn on_maybe(order: Option<Order>, tenant: Option<Tenant>, recorder: Option<Bean<Recorder>>) {
    SEEN.lock().unwrap().push((
        "on_maybe",
        format!(
            "{:?} {:?} recorder={}",
            order.map(|o| o.id),
            tenant.map(|t| t.0),
            recorder.is_some()
        ),
    ));
}

#[rocketmq_listener(topic = "tenant-batches", consumer_group = "tenant-batch-group")]
async fn on_tenant_batch(tenants: Vec<Tenant>, recorder: Option<Bean<Recorder>>) {
    let names: Vec<String> = tenants.into_iter().map(|t| t.0).collect();
    SEEN.lock().unwrap().push((
        "on_tenant_batch",
        format!("{names:?} {}", recorder.is_some()),
    ));
}

#[derive(Debug)]
struct OutOfStock;

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("out of stock")
    }
}

impl std::error::Error for OutOfStock {}

#[rocketmq_listener(topic = "boxed", consumer_group = "boxed-group")]
async fn on_boxed(text: String) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if text == "fail" {
        return Err(Box::new(OutOfStock));
    }
    let n: u32 = text.parse()?;
    let _ = n;
    Ok(())
}

#[rocketmq_listener(topic = "boxed-local", consumer_group = "boxed-local-group")]
async fn on_boxed_local(text: String) -> Result<String, Box<dyn std::error::Error>> {
    let n: u32 = text.parse()?;
    Ok(format!("{}", n + 1))
}

#[cfg(feature = "anyhow")]
#[rocketmq_listener(topic = "anyhow", consumer_group = "anyhow-group")]
async fn on_anyhow(text: String) -> anyhow::Result<()> {
    use anyhow::Context;
    let _: u32 = text.parse().context("the body is not a count")?;
    Ok(())
}

#[derive(Default)]
struct OrderTx;

#[rocketmq_transaction_listener]
impl LocalTransactionListener for OrderTx {
    type Arg = ();

    async fn execute(&self, _msg: &Message, _arg: &(), _ctx: &AppContext) -> LocalTransactionState {
        LocalTransactionState::Commit
    }

    async fn check(&self, _msg: &MessageExt, _ctx: &AppContext) -> LocalTransactionState {
        LocalTransactionState::Rollback
    }
}

#[derive(Default)]
struct PointsTx;

#[rocketmq_transaction_listener(template = "pointsTemplate")]
impl LocalTransactionListener for PointsTx {
    type Arg = ();

    async fn execute(&self, _msg: &Message, _arg: &(), _ctx: &AppContext) -> LocalTransactionState {
        LocalTransactionState::Unknown
    }

    async fn check(&self, _msg: &MessageExt, _ctx: &AppContext) -> LocalTransactionState {
        LocalTransactionState::Commit
    }
}

// --- helpers -------------------------------------------------------------------------------------------

fn def(name: &str) -> &'static ListenerDef {
    ListenerDef::all()
        .find(|d| d.name == name && d.module == module_path!())
        .unwrap_or_else(|| panic!("{name} is not registered"))
}

fn message(id: &str, body: impl Into<Bytes>) -> MessageExt {
    let mut props = Properties::new();
    props.insert(properties::UNIQ_KEY, id);
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
        born_host: "127.0.0.1:1".parse().unwrap(),
        store_timestamp: 0,
        store_host: "127.0.0.1:2".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: body.into(),
        topic: "orders".into(),
        properties: props,
    }
}

fn context(recorder: Option<Arc<Recorder>>) -> Arc<AppContext> {
    let mut beans: HashMap<TypeId, Arc<dyn Any + Send + Sync>> = HashMap::new();
    if let Some(r) = recorder {
        beans.insert(TypeId::of::<Recorder>(), r);
    }
    Arc::new(AppContext::new(
        beans,
        HashMap::new(),
        Settings::from_pairs([("blob.suffix", "!")]),
        CodecHandle::default(),
    ))
}

async fn run(name: &str, ctx: &Arc<AppContext>, msgs: Vec<MessageExt>) -> HandlerResult {
    (def(name).handler)(ctx.clone(), msgs).await
}

fn order_json(id: u64, item: &str) -> String {
    format!(r#"{{"id":{id},"item":"{item}"}}"#)
}

// --- registrations -------------------------------------------------------------------------------------

#[test]
fn every_listener_is_registered_with_its_attributes_as_written() {
    let d = def("on_json");
    assert_eq!(
        d.attrs,
        &[
            ("topic", "${mq.order.topic:orders}"),
            ("consumer_group", "json-group"),
            ("selector_type", "SQL92"),
            ("selector_expression", "amount > 5 AND region = 'eu'"),
            ("consume_mode", "ORDERLY"),
            ("consume_thread_max", "4"),
            // The alias is stored under its canonical key.
            ("enabled", "false"),
        ]
    );
    assert_eq!(d.attr("topic"), Some("${mq.order.topic:orders}"));
    assert_eq!(d.attr("message_model"), None);
    assert!(d.file.ends_with("listener_macro.rs"), "{}", d.file);
    assert!(!d.batch && !d.reply && d.beans.is_empty());

    assert_eq!(def("on_plain").attr("max_reconsume_times"), Some("-1"));
    assert_eq!(def("on_text").attr("message_model"), Some("BROADCASTING"));
    assert_eq!(
        def("on_raw").attr("selector_expression"),
        Some("paid || created")
    );
    assert_eq!(def("on_batch").attr("consume_thread_number"), Some("8"));
    assert_eq!(def("on_quote").attr("reply_timeout"), Some("5000"));

    for (name, batch, reply, beans) in [
        ("on_json", false, false, 0),
        ("on_plain", false, false, 0),
        ("on_text", false, false, 0),
        ("on_raw", false, false, 1),
        ("on_batch", true, false, 1),
        ("on_quote", false, true, 0),
        ("on_echo", false, true, 0),
        ("on_blob", false, true, 0),
    ] {
        let d = def(name);
        assert_eq!(
            (d.batch, d.reply, d.beans.len()),
            (batch, reply, beans),
            "{name}"
        );
        for b in d.beans {
            assert_eq!((b.type_id)(), TypeId::of::<Recorder>(), "{name}");
            assert!((b.type_name)().ends_with("Recorder"), "{name}");
        }
    }
}

#[test]
fn the_registered_line_is_the_function_not_the_attribute() {
    // `on_json`'s attribute spans several lines; the registration names the `async fn` line.
    let src = include_str!("listener_macro.rs");
    let fn_line = src
        .lines()
        .position(|l| l.starts_with("async fn on_json("))
        .unwrap() as u32
        + 1;
    assert_eq!(def("on_json").line, fn_line);
}

#[test]
fn transaction_listeners_are_registered_for_their_template() {
    let mine: Vec<_> = TransactionListenerDef::all()
        .filter(|d| d.name == "OrderTx" || d.name == "PointsTx")
        .map(|d| (d.name, d.template))
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert!(mine.contains(&("OrderTx", "rocketMQTemplate")));
    assert!(mine.contains(&("PointsTx", "pointsTemplate")));
}

#[tokio::test]
async fn transaction_listener_is_built_with_default_and_runs_async() {
    let d = TransactionListenerDef::all()
        .find(|d| d.name == "OrderTx")
        .unwrap();
    let listener = (d.create)();
    let ctx = context(None);
    let msg = Message::new("orders", "x");
    assert_eq!(listener.arg_type().0, std::any::TypeId::of::<()>());
    assert_eq!(
        listener.execute_erased(&msg, &(), &ctx).await,
        LocalTransactionState::Commit
    );
    assert_eq!(
        listener.check_erased(&message("T1", "x"), &ctx).await,
        LocalTransactionState::Rollback
    );
}

// --- shims ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn json_argument_is_decoded_and_a_malformed_body_is_dead_lettered() {
    let ctx = context(None);
    let ok = run("on_json", &ctx, vec![message("J1", order_json(7, "tea"))]).await;
    assert_eq!(ok.unwrap(), None);
    assert_eq!(seen("on_json"), ["7:tea"]);

    let err = run("on_json", &ctx, vec![message("J2", "{not json")])
        .await
        .unwrap_err();
    assert!(err.is_dead_letter(), "{err}");
    assert!(err.to_string().contains("J2"), "{err}");
    assert_eq!(seen("on_json").len(), 1, "the function was not called");
}

#[tokio::test]
async fn plain_type_is_the_decoded_payload_and_an_io_error_retries() {
    let ctx = context(None);
    run("on_plain", &ctx, vec![message("P1", order_json(3, "cup"))])
        .await
        .unwrap();
    assert_eq!(seen("on_plain"), ["cup"]);

    let err = run("on_plain", &ctx, vec![message("P2", order_json(0, "cup"))])
        .await
        .unwrap_err();
    assert!(!err.is_dead_letter(), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn string_argument_and_unit_return() {
    let ctx = context(None);
    assert_eq!(
        run("on_text", &ctx, vec![message("S1", "hello")])
            .await
            .unwrap(),
        None
    );
    assert_eq!(seen("on_text"), ["hello"]);

    let err = run("on_text", &ctx, vec![message("S2", vec![0xff, 0xfe])])
        .await
        .unwrap_err();
    assert!(err.is_dead_letter(), "not UTF-8: {err}");
}

#[tokio::test]
async fn a_single_message_listener_refuses_other_delivery_sizes() {
    let ctx = context(None);
    let two = vec![message("S3", "a"), message("S4", "b")];
    let err = run("on_text", &ctx, two).await.unwrap_err();
    assert!(err.is_dead_letter(), "{err}");
    assert!(run("on_text", &ctx, vec![]).await.is_err());
}

#[tokio::test]
async fn message_ext_and_bean_arguments() {
    let recorder = Arc::new(Recorder::default());
    let ctx = context(Some(recorder.clone()));
    run("on_raw", &ctx, vec![message("M1", "payload")])
        .await
        .unwrap();
    assert_eq!(recorder.take(), ["orders M1 payload"]);

    // Without the bean: a retryable error (the application is misconfigured, not the message).
    let err = run("on_raw", &context(None), vec![message("M2", "x")])
        .await
        .unwrap_err();
    assert!(!err.is_dead_letter(), "{err}");
    assert!(err.to_string().contains("Recorder"), "{err}");
}

#[tokio::test]
async fn batch_listener_extracts_every_message() {
    let recorder = Arc::new(Recorder::default());
    let ctx = context(Some(recorder.clone()));
    let msgs = (1..=3)
        .map(|i| message(&format!("B{i}"), order_json(i, "x")))
        .collect();
    assert_eq!(run("on_batch", &ctx, msgs).await.unwrap(), None);
    assert_eq!(recorder.take(), ["batch 1", "batch 2", "batch 3"]);

    // One malformed message fails the whole delivery, before the function runs.
    let msgs = vec![message("B4", order_json(4, "x")), message("B5", "[]")];
    let err = run("on_batch", &ctx, msgs).await.unwrap_err();
    assert!(err.is_dead_letter(), "{err}");
    assert!(recorder.take().is_empty());

    // An empty delivery is a no-op.
    assert_eq!(run("on_batch", &ctx, vec![]).await.unwrap(), None);
}

#[tokio::test]
async fn reply_listener_answers_with_json() {
    let ctx = context(None);
    let reply = run(
        "on_quote",
        &ctx,
        vec![message("Q1", r#"{"item":"tea","qty":3}"#)],
    )
    .await
    .unwrap()
    .expect("a reply body");
    let v: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(v, serde_json::json!({"item": "tea", "total_cents": 750}));

    let err = run(
        "on_quote",
        &ctx,
        vec![message("Q2", r#"{"item":"tea","qty":0}"#)],
    )
    .await
    .unwrap_err();
    assert!(err.is_dead_letter(), "{err}");
}

#[tokio::test]
async fn string_and_bytes_replies_are_sent_as_they_are() {
    let ctx = context(None);
    let reply = run("on_echo", &ctx, vec![message("E1", "ping")])
        .await
        .unwrap();
    assert_eq!(reply.as_deref(), Some(&b"PING"[..]));

    let reply = run("on_blob", &ctx, vec![message("E2", vec![1u8, 2])])
        .await
        .unwrap();
    assert_eq!(reply.as_deref(), Some(&[1u8, 2, b'!'][..]));
}

#[tokio::test]
async fn the_function_stays_callable_as_written() {
    assert_eq!(on_echo("abc".into()).await.unwrap(), "ABC");
    assert!(on_plain(Order {
        id: 0,
        item: "x".into()
    })
    .await
    .is_err());
}

// --- extractors ----------------------------------------------------------------------------------------

fn with_props(mut m: MessageExt, pairs: &[(&str, &str)]) -> MessageExt {
    for (k, v) in pairs {
        m.properties.insert(*k, *v);
    }
    m
}

#[tokio::test]
async fn a_users_own_from_message_type_and_headers_are_arguments() {
    let ctx = context(None);
    let m = with_props(
        message("T1", "hello"),
        &[
            ("tenant", "acme"),
            ("TAGS", "vip"),
            ("KEYS", "k1 k2"),
            ("region", "eu"),
        ],
    );
    run("on_tenant", &ctx, vec![m]).await.unwrap();
    assert_eq!(
        seen("on_tenant"),
        [r#"acme hello tag=Some("vip") keys=["k1", "k2"] user=["tenant=acme", "region=eu"]"#]
    );
    // The user's extractor decides what a missing property means: here, dead-letter.
    let err = run("on_tenant", &ctx, vec![message("T2", "hello")])
        .await
        .unwrap_err();
    assert!(err.is_dead_letter(), "{err}");
    assert!(err.to_string().contains("no tenant property"), "{err}");
}

#[tokio::test]
async fn option_arguments_are_none_where_the_inner_type_does_not_extract() {
    let with_bean = context(Some(Arc::new(Recorder::default())));
    let m = with_props(message("O1", order_json(7, "pen")), &[("tenant", "acme")]);
    run("on_maybe", &with_bean, vec![m]).await.unwrap();
    // Undecodable body, no tenant, no bean: each is None and the message is still consumed.
    run("on_maybe", &context(None), vec![message("O2", "not json")])
        .await
        .unwrap();
    assert_eq!(
        seen("on_maybe"),
        [
            r#"Some(7) Some("acme") recorder=true"#,
            "None None recorder=false"
        ]
    );
    // An optional bean is not a start-up requirement.
    assert!(def("on_maybe").beans.is_empty());
}

#[tokio::test]
async fn a_batch_of_a_users_type_with_an_optional_bean() {
    let msgs = vec![
        with_props(message("B1", "x"), &[("tenant", "a")]),
        with_props(message("B2", "y"), &[("tenant", "b")]),
    ];
    run("on_tenant_batch", &context(None), msgs).await.unwrap();
    assert_eq!(seen("on_tenant_batch"), [r#"["a", "b"] false"#]);
    assert!(def("on_tenant_batch").batch);
}

// --- error types ---------------------------------------------------------------------------------------

#[tokio::test]
async fn boxed_errors_are_listener_returns_and_retry() {
    let ctx = context(None);
    run("on_boxed", &ctx, vec![message("E1", "7")])
        .await
        .unwrap();
    let e = run("on_boxed", &ctx, vec![message("E2", "fail")])
        .await
        .unwrap_err();
    assert!(!e.is_dead_letter());
    assert_eq!(e.to_string(), "out of stock (will retry)");
    let e = run("on_boxed", &ctx, vec![message("E3", "x")])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid digit"), "{e}");
    // A `Box<dyn Error>` that is not Send works too, on a reply listener.
    let reply = run("on_boxed_local", &ctx, vec![message("E4", "41")])
        .await
        .unwrap();
    assert_eq!(reply.as_deref(), Some(&b"42"[..]));
    let e = run("on_boxed_local", &ctx, vec![message("E5", "x")])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid digit"), "{e}");
}

#[cfg(feature = "anyhow")]
#[tokio::test]
async fn anyhow_errors_keep_their_context_chain() {
    let e = run("on_anyhow", &context(None), vec![message("A1", "x")])
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the body is not a count: invalid digit found in string (will retry)"
    );
}

#[test]
fn a_tuple_struct_beans_own_field_is_not_shadowed() {
    struct Pool(u32);
    let bean = Bean::new(Arc::new(Pool(7)));
    // `.0` is the bean's own field, through Deref.
    assert_eq!(bean.0, 7);
    assert_eq!(Arc::strong_count(bean.arc()), 1);
}
