use rmq_runtime::macros::rocketmq_listener;

struct NotSerde;

#[rocketmq_listener(topic = "orders", consumer_group = "stock")]
async fn on_order(body: NotSerde) {
    let _ = body;
}

fn main() {}
