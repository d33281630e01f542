use rmq_runtime::macros::rocketmq_listener;

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

#[rocketmq_listener(topic = "orders", consumer_group = "stock")]
async fn on_orders(orders: Option<Vec<Order>>, again: Option<Option<Order>>) {
    let _ = (orders, again);
}

fn main() {}
