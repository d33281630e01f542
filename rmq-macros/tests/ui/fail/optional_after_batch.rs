use rmq_runtime::macros::rocketmq_listener;
use rmq_runtime::Headers;

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[rocketmq_listener(topic = "orders", consumer_group = "stock")]
async fn on_orders(orders: Vec<Order>, headers: Option<Headers>) {
    let _ = (orders, headers);
}

fn main() {}
