//! What a producer is started with; defaults are Java's `DefaultMQProducer` defaults.

use std::time::Duration;

use crate::config::ClientConfig;

/// Producer settings; defaults are Java's `DefaultMQProducer` defaults.
#[derive(Debug, Clone)]
pub struct ProducerOptions {
    /// Producer group (transaction check-backs are routed by it).
    pub group: String,
    /// Client instance settings (name servers, instance name).
    pub client: ClientConfig,
    /// Budget of one send including retries (3 s).
    pub send_timeout: Duration,
    /// Extra attempts of a failed sync send, on another broker when possible (2).
    pub retry_times_when_send_failed: u32,
    /// Extra attempts of a failed async send (2).
    pub retry_times_when_send_async_failed: u32,
    /// Bodies larger than this are zlib-compressed (4 KiB).
    pub compress_msg_body_over_howmuch: usize,
    /// zlib level (5).
    pub compress_level: u32,
    /// Largest body accepted (4 MiB).
    pub max_message_size: usize,
    /// Queues of a topic the broker auto-creates on first send (4).
    pub default_topic_queue_nums: i32,
    /// Template topic for auto-create (`TBW102`).
    pub create_topic_key: String,
    /// Skip brokers that were slow or failing (on: the issue asks for latency-based avoidance).
    pub send_latency_fault_enable: bool,
}

impl ProducerOptions {
    /// Defaults for `group` on the name servers `namesrv_addr`.
    pub fn new(group: impl Into<String>, namesrv_addr: impl Into<String>) -> Self {
        ProducerOptions {
            group: group.into(),
            client: ClientConfig::new(namesrv_addr),
            send_timeout: Duration::from_secs(3),
            retry_times_when_send_failed: 2,
            retry_times_when_send_async_failed: 2,
            compress_msg_body_over_howmuch: 4 * 1024,
            compress_level: 5,
            max_message_size: 4 * 1024 * 1024,
            default_topic_queue_nums: 4,
            create_topic_key: "TBW102".to_string(),
            send_latency_fault_enable: true,
        }
    }
}
