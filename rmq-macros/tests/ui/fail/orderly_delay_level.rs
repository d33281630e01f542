use rmq_runtime::macros::rocketmq_listener;

#[rocketmq_listener(
    topic = "orders",
    consumer_group = "stock",
    consume_mode = "ORDERLY",
    delay_level_when_next_consume = 3
)]
async fn on_order(body: String) {
    let _ = body;
}

fn main() {}
