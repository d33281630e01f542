//! The topics a consumer group owns besides the ones it subscribes to (named by `rmq_protocol::topic`, which
//! the broker uses too: Java's `MixAll.getRetryTopic` and `getDLQTopic`).

pub use rmq_protocol::topic::{dlq_topic, retry_topic};
