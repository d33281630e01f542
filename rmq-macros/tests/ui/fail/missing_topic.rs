use rmq_runtime::macros::rocketmq_listener;

#[rocketmq_listener(consumer_group = "stock")]
async fn on_order(body: String) {
    let _ = body;
}

fn main() {}
