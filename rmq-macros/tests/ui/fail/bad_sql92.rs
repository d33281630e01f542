use rmq_runtime::macros::rocketmq_listener;

#[rocketmq_listener(
    topic = "orders",
    consumer_group = "stock",
    selector_type = "SQL92",
    selector_expression = "amount > 5 AND (region = 'eu'"
)]
async fn on_order(body: String) {
    let _ = body;
}

fn main() {}
