//! Messages and bytes in per topic (send path) and out per topic and consumer group (pull path).
//!
//! The counters live in `prometheus_client` families, which encode them. The hot paths do not look them up
//! there (that needs an owned label set, i.e. a `String` allocation per call): they go through a cache keyed by
//! `&str` under a read lock, so a send to a known topic costs one uncontended read lock, one hash and two
//! relaxed atomic adds. The write lock is taken once per new topic (or topic × group).

use std::collections::HashMap;

use parking_lot::RwLock;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicGroupLabels {
    topic: String,
    consumer_group: String,
}

/// Handles on one series pair: a message count and a byte count.
#[derive(Debug, Clone, Default)]
struct Pair {
    messages: Counter,
    bytes: Counter,
}

impl Pair {
    fn add(&self, messages: u64, bytes: u64) {
        self.messages.inc_by(messages);
        self.bytes.inc_by(bytes);
    }
}

/// The four traffic families plus the handle caches in front of them.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    messages_in: Family<TopicLabels, Counter>,
    throughput_in: Family<TopicLabels, Counter>,
    messages_out: Family<TopicGroupLabels, Counter>,
    throughput_out: Family<TopicGroupLabels, Counter>,
    /// topic → handles.
    inbound: RwLock<HashMap<String, Pair>>,
    /// topic → group → handles (nested so a lookup borrows both keys).
    outbound: RwLock<HashMap<String, HashMap<String, Pair>>>,
}

impl Traffic {
    /// Registers the families under RocketMQ 5's names (`_total` is added by the encoder).
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "rocketmq_messages_in",
            "Messages stored by producers' sends (batches count every message), per topic",
            self.messages_in.clone(),
        );
        registry.register(
            "rocketmq_throughput_in",
            "Body bytes of the messages counted in rocketmq_messages_in_total, per topic",
            self.throughput_in.clone(),
        );
        registry.register(
            "rocketmq_messages_out",
            "Messages returned to consumers by pulls, per topic and consumer group",
            self.messages_out.clone(),
        );
        registry.register(
            "rocketmq_throughput_out",
            "Body bytes of the messages counted in rocketmq_messages_out_total, per topic and consumer group",
            self.throughput_out.clone(),
        );
    }

    /// Counts stored messages of `topic`.
    pub(crate) fn add_in(&self, topic: &str, messages: u64, bytes: u64) {
        if let Some(pair) = self.inbound.read().get(topic) {
            pair.add(messages, bytes);
            return;
        }
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        let pair = Pair {
            messages: self.messages_in.get_or_create_owned(&labels),
            bytes: self.throughput_in.get_or_create_owned(&labels),
        };
        pair.add(messages, bytes);
        self.inbound.write().insert(labels.topic, pair);
    }

    /// Counts messages of `topic` pulled by `group`.
    pub(crate) fn add_out(&self, topic: &str, group: &str, messages: u64, bytes: u64) {
        if let Some(pair) = self.outbound.read().get(topic).and_then(|g| g.get(group)) {
            pair.add(messages, bytes);
            return;
        }
        let labels = TopicGroupLabels {
            topic: topic.to_owned(),
            consumer_group: group.to_owned(),
        };
        let pair = Pair {
            messages: self.messages_out.get_or_create_owned(&labels),
            bytes: self.throughput_out.get_or_create_owned(&labels),
        };
        pair.add(messages, bytes);
        self.outbound
            .write()
            .entry(labels.topic)
            .or_default()
            .insert(labels.consumer_group, pair);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn cached_handles_feed_the_registered_families() {
        let traffic = Traffic::default();
        let mut reg = Registry::default();
        traffic.register(&mut reg);
        traffic.add_in("T", 1, 10);
        traffic.add_in("T", 3, 30);
        traffic.add_out("T", "g", 2, 20);
        traffic.add_out("T", "g", 2, 20);
        traffic.add_out("T", "h", 1, 5);
        let mut text = String::new();
        encode(&mut text, &reg).expect("encode");
        for line in [
            "rocketmq_messages_in_total{topic=\"T\"} 4",
            "rocketmq_throughput_in_total{topic=\"T\"} 40",
            "rocketmq_messages_out_total{topic=\"T\",consumer_group=\"g\"} 4",
            "rocketmq_throughput_out_total{topic=\"T\",consumer_group=\"g\"} 40",
            "rocketmq_messages_out_total{topic=\"T\",consumer_group=\"h\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
