use rmq_runtime::macros::rocketmq_listener;

#[rocketmq_listener(topic = "orders", consumer_group = "orders")]
async fn on_order(_body: String) {}

fn main() {
    let _ = rmq_runtime::listener!(on_ordr);
}
