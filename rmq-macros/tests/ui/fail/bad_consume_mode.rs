use rmq_runtime::macros::rocketmq_listener;

#[rocketmq_listener(topic = "orders", consumer_group = "stock", consume_mode = "orderly")]
async fn on_order(body: String) {
    let _ = body;
}

fn main() {}
