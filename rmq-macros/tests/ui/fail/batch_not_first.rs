use rmq_runtime::macros::rocketmq_listener;

use rmq_runtime::Bean;

struct Stock;

#[rocketmq_listener(topic = "orders", consumer_group = "stock")]
async fn on_orders(stock: Bean<Stock>, bodies: Vec<String>) {
    let _ = (stock, bodies);
}

fn main() {}
