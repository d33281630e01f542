use rmq_runtime::macros::rocketmq_listener;

struct Service;

impl Service {
    #[rocketmq_listener(topic = "orders", consumer_group = "stock")]
    async fn on_order(&self, body: String) {
        let _ = body;
    }
}

fn main() {}
