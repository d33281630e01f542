//! Turning a name server's route into the queues a producer writes to and a consumer reads from.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rmq_protocol::body::{MessageQueue, TopicRouteData};
use rmq_protocol::message::sysflag::perm;

/// Where a topic can be written: its writable queues on brokers with a master, and a round-robin cursor.
#[derive(Debug)]
pub struct PublishInfo {
    /// Writable queues, grouped by broker in route order.
    pub queues: Vec<MessageQueue>,
    /// The route they came from.
    pub route: Arc<TopicRouteData>,
    /// Round-robin position (starts at a random-ish point so processes do not all hit queue 0 first).
    cursor: AtomicUsize,
}

impl PublishInfo {
    /// The writable queues of `topic` in `route` (Java `topicRouteData2TopicPublishInfo`).
    pub fn from_route(topic: &str, route: Arc<TopicRouteData>) -> PublishInfo {
        let mut queues = Vec::new();
        if let Some(conf) = route.order_topic_conf.as_deref().filter(|c| !c.is_empty()) {
            // "brokerA:4;brokerB:4": a fixed order topic layout from the name server's KV config.
            for item in conf.split(';') {
                if let Some((broker, n)) = item.split_once(':') {
                    let n: i32 = n.trim().parse().unwrap_or(0);
                    queues.extend((0..n).map(|queue_id| MessageQueue {
                        topic: topic.to_string(),
                        broker_name: broker.trim().to_string(),
                        queue_id,
                    }));
                }
            }
        } else {
            let mut datas = route.queue_datas.clone();
            datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
            for qd in datas.iter().filter(|qd| perm::is_writeable(qd.perm)) {
                let has_master = route
                    .broker_datas
                    .iter()
                    .any(|bd| bd.broker_name == qd.broker_name && bd.master_addr().is_some());
                if !has_master {
                    continue;
                }
                queues.extend((0..qd.write_queue_nums).map(|queue_id| MessageQueue {
                    topic: topic.to_string(),
                    broker_name: qd.broker_name.clone(),
                    queue_id,
                }));
            }
        }
        let start = (std::process::id() as usize).wrapping_add(seed());
        PublishInfo {
            queues,
            route,
            cursor: AtomicUsize::new(start),
        }
    }

    /// Whether there is anywhere to write.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// The next position of the round-robin.
    pub fn next_index(&self) -> usize {
        self.cursor.fetch_add(1, Ordering::Relaxed)
    }
}

/// The readable queues of `topic` in `route` (what a consumer rebalances over).
pub fn subscribe_queues(topic: &str, route: &TopicRouteData) -> Vec<MessageQueue> {
    let mut queues: Vec<MessageQueue> = route
        .queue_datas
        .iter()
        .filter(|qd| perm::is_readable(qd.perm))
        .flat_map(|qd| {
            (0..qd.read_queue_nums).map(move |queue_id| MessageQueue {
                topic: topic.to_string(),
                broker_name: qd.broker_name.clone(),
                queue_id,
            })
        })
        .collect();
    queues.sort();
    queues
}

/// A cheap per-call seed (nanoseconds of the clock) so round-robin starts differ between producers.
fn seed() -> usize {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as usize)
}
