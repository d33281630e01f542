use rmq_runtime::macros::rocketmq_listener;

#[rocketmq_listener(topic = "orders", consumer_group = "stock")]
async fn on_order<T: serde::de::DeserializeOwned>(body: T) {
    let _ = body;
}

fn main() {}
