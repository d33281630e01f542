//! The topics a consumer group owns besides the ones it subscribes to.

/// The group's retry topic (Java `MixAll.getRetryTopic`).
pub fn retry_topic(group: &str) -> String {
    format!("%RETRY%{group}")
}

/// The group's dead-letter topic.
pub fn dlq_topic(group: &str) -> String {
    format!("%DLQ%{group}")
}
