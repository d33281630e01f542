use rmq_runtime::macros::rocketmq_listener;

const TOPIC: &str = "orders";

#[rocketmq_listener(topic = TOPIC, consumer_group = "orders")]
async fn on_order(_body: String) {}

fn main() {}
