use rmq_runtime::macros::rocketmq_listener;

#[rocketmq_listener(topic = "orders", consumer_group = "stock")]
async fn on_order(body: &str) {
    let _ = body;
}

fn main() {}
