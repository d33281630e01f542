//! Every supported form compiles.

use std::sync::Arc;

use bytes::Bytes;
use rmq_runtime::context::AppContext;
use rmq_runtime::macros::{rocketmq_listener, rocketmq_transaction_listener};
use rmq_runtime::producer::LocalTransactionState;
use rmq_runtime::{
    Bean, Json, ListenerError, LocalTransactionListener, Message, MessageExt, RocketMqTemplate,
};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Order {
    id: u64,
}

#[derive(Serialize)]
struct Receipt {
    id: u64,
}

struct Stock;

#[rocketmq_listener(
    topic = "${mq.topic}",
    consumer_group = "${mq.group:stock}",
    selector_type = "SQL92",
    selector_expression = "a BETWEEN 1 AND 3 OR b IS NULL",
    consume_mode = "CONCURRENTLY",
    message_model = "CLUSTERING",
    consume_thread_max = 64,
    consume_thread_number = "${threads:20}",
    max_reconsume_times = -1,
    consume_timeout = 15,
    delay_level_when_next_consume = 0,
    suspend_current_queue_time_millis = 1_000,
    await_termination_millis_when_shutdown = 1000,
    name_server = "127.0.0.1:9876",
    namespace = "dev",
    instance_name = "stock-1",
    enabled = "${listeners.on:true}",
    reply_timeout = 3000
)]
async fn every_attribute(
    Json(order): Json<Order>,
    stock: Bean<Stock>,
) -> Result<(), ListenerError> {
    let _ = (order.id, &*stock);
    Ok(())
}

#[rocketmq_listener(topic = "orders", consumer_group = "plain", enable = true)]
async fn plain(order: Order, template: RocketMqTemplate, ctx: Arc<AppContext>) {
    let _ = (order.id, template, ctx);
}

#[rocketmq_listener(topic = "orders", consumer_group = "raw")]
async fn raw(
    body: Vec<u8>,
    bytes: Bytes,
    text: String,
    msg: MessageExt,
) -> Result<(), std::io::Error> {
    let _ = (body, bytes, text, msg);
    Ok(())
}

#[rocketmq_listener(topic = "orders", consumer_group = "batch")]
async fn batch(orders: Vec<Order>, _stock: Bean<Stock>) {
    let _ = orders.len();
}

#[rocketmq_listener(topic = "orders", consumer_group = "batch-raw")]
async fn batch_of_bodies(bodies: Vec<Vec<u8>>) {
    let _ = bodies;
}

#[rocketmq_listener(topic = "orders", consumer_group = "array")]
async fn json_array(Json(orders): Json<Vec<Order>>) {
    let _ = orders.len();
}

#[rocketmq_listener(topic = "quotes", consumer_group = "reply")]
async fn reply(order: Order) -> Result<Receipt, ListenerError> {
    Ok(Receipt { id: order.id })
}

#[rocketmq_listener(topic = "echo", consumer_group = "echo")]
async fn echo(text: String) -> Result<String, ListenerError> {
    Ok(text)
}

#[rocketmq_listener(topic = "blob", consumer_group = "blob")]
async fn blob(body: Bytes) -> Result<Vec<u8>, ListenerError> {
    Ok(body.to_vec())
}

#[rocketmq_listener(topic = "ping", consumer_group = "ping", crate = "::rmq_runtime")]
async fn no_arguments() {}

mod nested {
    use rmq_runtime::macros::rocketmq_listener;

    #[rocketmq_listener(topic = "orders", consumer_group = "nested")]
    pub async fn in_a_module(text: String) -> Result<(), rmq_runtime::ListenerError> {
        let _ = text;
        Ok(())
    }
}

#[derive(Default)]
struct OrderTx;

#[rocketmq_transaction_listener(template = "txTemplate")]
impl LocalTransactionListener for OrderTx {
    type Arg = ();

    async fn execute(&self, _msg: &Message, _arg: &(), _ctx: &AppContext) -> LocalTransactionState {
        LocalTransactionState::Commit
    }

    async fn check(&self, _msg: &MessageExt, _ctx: &AppContext) -> LocalTransactionState {
        LocalTransactionState::Commit
    }
}

/// A template name the application declares and the transaction listener binds to, written once.
const POINTS_TEMPLATE: &str = "pointsTemplate";

#[derive(Default)]
struct PointsTx;

#[rocketmq_transaction_listener(template = POINTS_TEMPLATE)]
impl LocalTransactionListener for PointsTx {
    type Arg = u64;

    async fn execute(&self, _msg: &Message, _arg: &u64, _ctx: &AppContext) -> LocalTransactionState {
        LocalTransactionState::Commit
    }

    async fn check(&self, _msg: &MessageExt, _ctx: &AppContext) -> LocalTransactionState {
        LocalTransactionState::Commit
    }
}

fn main() {
    let names: Vec<&str> = rmq_runtime::listener::ListenerDef::all()
        .map(|d| d.name)
        .collect();
    assert_eq!(names.len(), 13, "{names:?}");
    let _ = nested::in_a_module;
    // Listener names checked by the compiler, usable where a string is.
    let only: Vec<String> = vec![
        rmq_runtime::listener!(own_extractor_headers_and_options).into(),
        rmq_runtime::listener!(nested::in_a_module).into(),
    ];
    assert_eq!(only, ["own_extractor_headers_and_options", "in_a_module"]);
    let templates: Vec<&str> = rmq_runtime::transaction_listener::TransactionListenerDef::all()
        .filter(|d| d.name == "PointsTx")
        .map(|d| d.template)
        .collect();
    assert_eq!(templates, ["pointsTemplate"]);
}

/// A user's own extractor.
struct Tenant(String);

impl rmq_runtime::FromMessage for Tenant {
    fn from_message(msg: &MessageExt, _ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        Ok(Tenant(msg.property("tenant").unwrap_or_default().to_string()))
    }
}

#[rocketmq_listener(topic = "tenants", consumer_group = "tenants")]
async fn own_extractor_headers_and_options(
    tenant: Tenant,
    headers: rmq_runtime::Headers,
    order: Option<Order>,
    json: Option<Json<Order>>,
    stock: Option<Bean<Stock>>,
    maybe_tenant: Option<Tenant>,
) {
    let _ = (tenant.0, headers.tag(), order, json, stock, maybe_tenant);
}

#[rocketmq_listener(topic = "tenant-batches", consumer_group = "tenant-batches")]
async fn batch_of_own_type(tenants: Vec<Tenant>, stock: Option<Bean<Stock>>) {
    let _ = (tenants.len(), stock);
}
