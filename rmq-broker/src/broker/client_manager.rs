//! Who is connected: producer and consumer groups, their channels, and consumer subscriptions from heartbeats.
//!
//! A consumer group's membership drives rebalancing on the clients, so any change of its client-id set is
//! reported to the caller, which then sends NOTIFY_CONSUMER_IDS_CHANGED to the group (docs/protocol.md §2.3.4).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use rmq_protocol::body::SubscriptionData;

pub use super::client_channel::ClientChannel;
use super::producer_channel::{GrpcProducerChannel, ProducerChannel};
use crate::remoting::Connection;

/// A consumer group as reported by heartbeats.
#[derive(Debug, Clone, Default)]
pub struct ConsumerGroupInfo {
    /// Channels by connection id.
    pub channels: HashMap<u64, ClientChannel>,
    /// Subscriptions by topic (the latest heartbeat wins).
    pub subscriptions: HashMap<String, SubscriptionData>,
    /// CONSUME_ACTIVELY / CONSUME_PASSIVELY / CONSUME_POP.
    pub consume_type: String,
    /// CLUSTERING / BROADCASTING.
    pub message_model: String,
    /// Where new consumers start.
    pub consume_from_where: String,
}

impl ConsumerGroupInfo {
    /// Sorted distinct client ids.
    pub fn client_ids(&self) -> Vec<String> {
        let ids: BTreeSet<&String> = self.channels.values().map(|c| &c.client_id).collect();
        ids.into_iter().cloned().collect()
    }
}

/// A consumer registration taken from one heartbeat entry.
#[derive(Debug, Clone)]
pub struct ConsumerRegistration {
    /// Group name.
    pub group: String,
    /// The client's channel.
    pub channel: ClientChannel,
    /// Consume type.
    pub consume_type: String,
    /// Message model.
    pub message_model: String,
    /// Consume-from-where.
    pub consume_from_where: String,
    /// Subscriptions.
    pub subscriptions: Vec<SubscriptionData>,
}

/// Producer and consumer groups.
#[derive(Debug, Default)]
pub struct ClientManager {
    consumers: RwLock<HashMap<String, ConsumerGroupInfo>>,
    producers: RwLock<HashMap<String, HashMap<u64, ClientChannel>>>,
    /// Producers connected over gRPC, by group and then client id (they have no remoting connection id).
    grpc_producers: RwLock<HashMap<String, HashMap<String, GrpcProducerChannel>>>,
}

impl ClientManager {
    /// Registers or renews a consumer; returns true when the group's set of client ids changed.
    pub fn register_consumer(&self, reg: ConsumerRegistration) -> bool {
        let mut groups = self.consumers.write();
        let info = groups.entry(reg.group).or_default();
        let before = info.client_ids();
        info.consume_type = reg.consume_type;
        info.message_model = reg.message_model;
        info.consume_from_where = reg.consume_from_where;
        info.channels
            .insert(reg.channel.connection.id(), reg.channel);
        for sub in reg.subscriptions {
            match info.subscriptions.get(&sub.topic) {
                Some(old) if old.sub_version > sub.sub_version => {}
                _ => {
                    info.subscriptions.insert(sub.topic.clone(), sub);
                }
            }
        }
        info.client_ids() != before
    }

    /// Registers or renews a producer channel.
    pub fn register_producer(&self, group: &str, channel: ClientChannel) {
        self.producers
            .write()
            .entry(group.to_string())
            .or_default()
            .insert(channel.connection.id(), channel);
    }

    /// Registers or renews a producer connected over gRPC in `group` (its Telemetry stream carries the
    /// check-backs); a newer stream of the same client id replaces the older one.
    pub fn register_grpc_producer(&self, group: &str, channel: GrpcProducerChannel) {
        self.grpc_producers
            .write()
            .entry(group.to_string())
            .or_default()
            .insert(channel.client_id.clone(), channel);
    }

    /// Drops the gRPC producer registrations of `client_id` made over the stream `sender` feeds (a stream that
    /// ended must not remove the registration of a newer stream of the same client).
    pub fn unregister_grpc_producer(
        &self,
        client_id: &str,
        sender: &tokio::sync::mpsc::Sender<super::producer_channel::OrphanedTransaction>,
    ) {
        self.grpc_producers.write().retain(|_, chs| {
            chs.retain(|id, ch| id != client_id || !ch.sender.same_channel(sender));
            !chs.is_empty()
        });
    }

    /// Every live producer of `group` a transaction check-back can go to, remoting and gRPC alike.
    pub fn check_channels(&self, group: &str) -> Vec<ProducerChannel> {
        let mut out: Vec<ProducerChannel> = self
            .producer_channels(group)
            .into_iter()
            .map(ProducerChannel::Remoting)
            .collect();
        if let Some(chs) = self.grpc_producers.read().get(group) {
            out.extend(chs.values().cloned().map(ProducerChannel::Grpc));
        }
        out.retain(ProducerChannel::is_live);
        out
    }

    /// Removes a consumer of a group by connection; true when the group's ids changed.
    pub fn unregister_consumer(&self, group: &str, connection: u64) -> bool {
        let mut groups = self.consumers.write();
        let Some(info) = groups.get_mut(group) else {
            return false;
        };
        let before = info.client_ids();
        info.channels.remove(&connection);
        let changed = info.client_ids() != before;
        if info.channels.is_empty() {
            groups.remove(group);
        }
        changed
    }

    /// Removes a producer of a group by connection.
    pub fn unregister_producer(&self, group: &str, connection: u64) {
        let mut producers = self.producers.write();
        if let Some(chs) = producers.get_mut(group) {
            chs.remove(&connection);
            if chs.is_empty() {
                producers.remove(group);
            }
        }
    }

    /// Drops everything registered over a closed connection; returns the consumer groups whose ids changed.
    pub fn connection_closed(&self, connection: u64) -> Vec<String> {
        self.remove_where(|ch| ch.connection.id() == connection)
    }

    /// Drops channels without a heartbeat for `expiry`; returns the consumer groups whose ids changed.
    pub fn expire(&self, now: Instant, expiry: Duration) -> Vec<String> {
        self.remove_where(|ch| {
            now.duration_since(ch.last_update) > expiry || ch.connection.is_closed()
        })
    }

    fn remove_where(&self, gone: impl Fn(&ClientChannel) -> bool) -> Vec<String> {
        let mut changed = Vec::new();
        {
            let mut groups = self.consumers.write();
            groups.retain(|group, info| {
                let before = info.client_ids();
                info.channels.retain(|_, ch| !gone(ch));
                if info.client_ids() != before {
                    changed.push(group.clone());
                }
                !info.channels.is_empty()
            });
        }
        self.producers.write().retain(|_, chs| {
            chs.retain(|_, ch| !gone(ch));
            !chs.is_empty()
        });
        self.grpc_producers.write().retain(|_, chs| {
            chs.retain(|_, ch| ch.is_live());
            !chs.is_empty()
        });
        changed
    }

    /// A consumer group's current state.
    pub fn consumer_group(&self, group: &str) -> Option<ConsumerGroupInfo> {
        self.consumers.read().get(group).cloned()
    }

    /// The subscription a group holds for a topic, from heartbeats.
    pub fn subscription(&self, group: &str, topic: &str) -> Option<SubscriptionData> {
        self.consumers
            .read()
            .get(group)
            .and_then(|g| g.subscriptions.get(topic).cloned())
    }

    /// Sorted client ids of a consumer group.
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        self.consumers
            .read()
            .get(group)
            .map(ConsumerGroupInfo::client_ids)
            .unwrap_or_default()
    }

    /// Connections of a consumer group (one per channel).
    pub fn consumer_connections(&self, group: &str) -> Vec<Connection> {
        self.consumers
            .read()
            .get(group)
            .map(|g| g.channels.values().map(|c| c.connection.clone()).collect())
            .unwrap_or_default()
    }

    /// The live channel of consumer `client_id` in `group` (broker → client admin calls); the latest heartbeat
    /// wins when the id has several connections.
    pub fn find_consumer_channel(&self, group: &str, client_id: &str) -> Option<ClientChannel> {
        self.consumers
            .read()
            .get(group)?
            .channels
            .values()
            .filter(|c| c.client_id == client_id && !c.connection.is_closed())
            .max_by_key(|c| c.last_update)
            .cloned()
    }

    /// Channels of a producer group (transaction check-backs pick one).
    pub fn producer_channels(&self, group: &str) -> Vec<ClientChannel> {
        self.producers
            .read()
            .get(group)
            .map(|chs| chs.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The connection of the producer whose heartbeat reported `client_id` (Java's
    /// `ProducerManager.findChannel`): request-reply pushes a reply to the client named in the request's
    /// `REPLY_TO_CLIENT`. Every client announces at least one producer group (consumers report
    /// `CLIENT_INNER_PRODUCER`); the most recent heartbeat wins when one id has several connections.
    pub fn find_producer_by_client_id(&self, client_id: &str) -> Option<ClientChannel> {
        self.producers
            .read()
            .values()
            .flat_map(HashMap::values)
            .filter(|ch| ch.client_id == client_id && !ch.connection.is_closed())
            .max_by_key(|ch| ch.last_update)
            .cloned()
    }

    /// Names of all consumer groups online.
    pub fn consumer_groups(&self) -> Vec<String> {
        self.consumers.read().keys().cloned().collect()
    }

    /// Number of producer and consumer channels, for runtime info.
    pub fn counts(&self) -> (usize, usize) {
        let producers = self.producers.read().values().map(HashMap::len).sum();
        let consumers = self
            .consumers
            .read()
            .values()
            .map(|g| g.channels.len())
            .sum();
        (producers, consumers)
    }
}
