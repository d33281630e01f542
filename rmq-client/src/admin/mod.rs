//! Cluster administration: what `mqadmin` does, as typed async calls (Java `DefaultMQAdminExt`).
//!
//! An [`Admin`] sits on a [`ClientInstance`] of its own (instance name `<name>-admin`), so its connections and
//! shutdown never disturb the producers and consumers of the same process. Every call goes to the name servers
//! or straight to broker masters, without caching: a route is fetched fresh for each call, so a topic deleted a
//! moment ago is seen as gone.
//!
//! Calls and the requests behind them:
//!
//! | area | calls | requests |
//! |---|---|---|
//! | cluster | [`cluster_info`](Admin::cluster_info), [`all_masters`](Admin::all_masters), [`cluster_masters`](Admin::cluster_masters), [`broker_runtime_info`](Admin::broker_runtime_info), [`broker_config`](Admin::broker_config) | GET_BROKER_CLUSTER_INFO (106), GET_BROKER_RUNTIME_INFO (28), GET_BROKER_CONFIG (26) |
//! | topics | [`create_topic`](Admin::create_topic), [`create_topic_in_cluster`](Admin::create_topic_in_cluster), [`delete_topic`](Admin::delete_topic), [`topic_list`](Admin::topic_list), [`topic_route`](Admin::topic_route), [`topic_status`](Admin::topic_status) | UPDATE_AND_CREATE_TOPIC (17), DELETE_TOPIC_IN_BROKER (215) + DELETE_TOPIC_IN_NAMESRV (216), GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206), GET_ROUTEINFO_BY_TOPIC (105), GET_TOPIC_STATS_INFO (202) |
//! | groups | [`create_subscription_group`](Admin::create_subscription_group), [`subscription_group`](Admin::subscription_group), [`delete_subscription_group`](Admin::delete_subscription_group), [`consumer_connections`](Admin::consumer_connections), [`consumer_progress`](Admin::consumer_progress), [`consumer_progress_all`](Admin::consumer_progress_all), [`committed_offsets`](Admin::committed_offsets), [`reset_offset_by_timestamp`](Admin::reset_offset_by_timestamp), [`reset_offset_running`](Admin::reset_offset_running) | UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200), GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), DELETE_SUBSCRIPTIONGROUP (207), GET_CONSUMER_CONNECTION_LIST (203), GET_CONSUME_STATS (208), GET_MAX_OFFSET + QUERY_CONSUMER_OFFSET (30 / 14) + SEARCH_OFFSET_BY_TIMESTAMP (29) + UPDATE_CONSUMER_OFFSET (15), INVOKE_BROKER_TO_RESET_OFFSET (222) |
//! | operations | [`consumer_running_info`](Admin::consumer_running_info), [`consume_message_directly`](Admin::consume_message_directly), [`producer_connections`](Admin::producer_connections), [`topic_consumed_by`](Admin::topic_consumed_by), [`clone_group_offsets`](Admin::clone_group_offsets), [`clone_group_offset_on_broker`](Admin::clone_group_offset_on_broker), [`broker_consume_stats`](Admin::broker_consume_stats), [`broker_stats`](Admin::broker_stats), [`query_consume_queue`](Admin::query_consume_queue), [`clean_expired_consume_queue`](Admin::clean_expired_consume_queue), [`clean_unused_topic`](Admin::clean_unused_topic), [`update_broker_config`](Admin::update_broker_config) | GET_CONSUMER_RUNNING_INFO (307), CONSUME_MESSAGE_DIRECTLY (309), GET_PRODUCER_CONNECTION_LIST (204), QUERY_TOPIC_CONSUME_BY_WHO (300), GET_CONSUME_STATS + UPDATE_CONSUMER_OFFSET, CLONE_GROUP_OFFSET (314), GET_BROKER_CONSUME_STATS (317), VIEW_BROKER_STATS_DATA (315), QUERY_CONSUME_QUEUE (321), CLEAN_EXPIRED_CONSUMEQUEUE (306), CLEAN_UNUSED_TOPIC (316), UPDATE_BROKER_CONFIG (25) |
//! | messages | [`query_messages`](Admin::query_messages), [`view_message`](Admin::view_message), [`message_at`](Admin::message_at), [`pull_messages`](Admin::pull_messages), [`search_offset`](Admin::search_offset), [`resend_dlq_message`](Admin::resend_dlq_message) | QUERY_MESSAGE (12), VIEW_MESSAGE_BY_ID (33), PULL_MESSAGE (11), SEARCH_OFFSET_BY_TIMESTAMP (29), RMQ_RESEND_DLQ_MESSAGE (40001, rmq) |
//! | name server ([`namesrv`]) | [`put_kv_config`](Admin::put_kv_config), [`delete_kv_config`](Admin::delete_kv_config), [`kv_config`](Admin::kv_config), [`kv_list`](Admin::kv_list), [`order_conf`](Admin::order_conf) / [`put_order_conf`](Admin::put_order_conf) / [`delete_order_conf`](Admin::delete_order_conf), [`namesrv_config`](Admin::namesrv_config), [`update_namesrv_config`](Admin::update_namesrv_config), [`wipe_write_perm`](Admin::wipe_write_perm), [`add_write_perm`](Admin::add_write_perm) | PUT / GET / DELETE_KV_CONFIG (100 / 101 / 102), GET_KVLIST_BY_NAMESPACE (219), GET_NAMESRV_CONFIG (319), UPDATE_NAMESRV_CONFIG (318), WIPE_WRITE_PERM_OF_BROKER (205), ADD_WRITE_PERM_OF_BROKER (327) |
//!
//! Failures are [`ClientError`]s: a refusal keeps the server's code and remark ([`ClientError::Broker`]), an
//! unknown topic is [`ClientError::NoRoute`], bad input names the argument ([`ClientError::InvalidArgument`]).
//!
//! Every Apache RocketMQ version serves GET_TOPIC_STATS_INFO and GET_CONSUME_STATS. A broker that answers them
//! with REQUEST_CODE_NOT_SUPPORTED (a partial, non-Java implementation) gets the per-queue requests instead:
//! GET_MIN_OFFSET / GET_MAX_OFFSET (31 / 30) and a one-message PULL for [`topic_status`](Admin::topic_status),
//! GET_MAX_OFFSET and QUERY_CONSUMER_OFFSET (14) for [`consumer_progress`](Admin::consumer_progress).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use futures::future::try_join_all;
use rmq_protocol::body::{
    self, ClusterInfo, ConsumeStats, ConsumerConnection, KvTable, MessageQueue, OffsetWrapper,
    TopicList, TopicRouteData, TopicStatsTable,
};
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{
    CreateTopicRequestHeader, DeleteTopicRequestHeader, GetConsumeStatsRequestHeader,
    GetConsumerConnectionListRequestHeader, GetTopicStatsInfoRequestHeader,
    PullMessageRequestHeader, QueryMessageRequestHeader, ViewMessageRequestHeader,
};
use rmq_protocol::message::sysflag::{perm, pull as pull_flag};
use rmq_protocol::message::{decode_all, decode_offset_msg_id, properties as keys};
use rmq_protocol::{ProtocolError, RemotingCommand};

use crate::config::ClientConfig;
use crate::consumer::broker_calls::PullOutcome;
use crate::consumer::pull_request::pull_header;
use crate::consumer::selector::{subscription_data, MessageSelector};
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::message::{check_topic, decompress_in_place, MessageExt};
use crate::remoting::ensure_success;

mod operations;
pub use operations::ConsumeQueueQuery;
pub mod namesrv;

/// The consumer group admin pulls use (Java `MixAll.TOOLS_CONSUMER_GROUP`).
pub const TOOLS_CONSUMER_GROUP: &str = "TOOLS_CONSUMER";

/// What errors name when a name server refused (the failover call does not say which one answered).
const NAMESRV: &str = "name server";

/// A topic to create or update on brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Queues consumers read.
    pub read_queue_nums: i32,
    /// Queues producers write.
    pub write_queue_nums: i32,
    /// PermName bits ([`perm::READ`] | [`perm::WRITE`] = 6 by default).
    pub perm: i32,
    /// Ordered topic (the broker stores the flag; ordering itself is the producer's queue choice).
    pub order: bool,
    /// Topic attributes as mqadmin's `-a` takes them, `+key=value,+k2=v2` (e.g. `+message.type=FIFO`);
    /// empty for none.
    pub attributes: String,
}

impl TopicSpec {
    /// A readable and writable topic with `queues` read and write queues.
    pub fn new(name: impl Into<String>, queues: i32) -> Self {
        TopicSpec {
            name: name.into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: perm::READ | perm::WRITE,
            order: false,
            attributes: String::new(),
        }
    }

    fn header(&self) -> CreateTopicRequestHeader {
        CreateTopicRequestHeader {
            topic: self.name.clone(),
            default_topic: "TBW102".to_string(),
            read_queue_nums: self.read_queue_nums,
            write_queue_nums: self.write_queue_nums,
            perm: self.perm,
            topic_filter_type: "SINGLE_TAG".to_string(),
            topic_sys_flag: Some(0),
            order: self.order,
            attributes: Some(self.attributes.clone()).filter(|a| !a.is_empty()),
            force: None,
        }
    }
}

pub use rmq_protocol::body::{SubscriptionGroupConfig, SubscriptionGroupWrapper};

/// One queue of a topic: what is stored and when it was last written (Java `TopicOffset`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus {
    /// The queue.
    pub queue: MessageQueue,
    /// First offset still stored.
    pub min_offset: i64,
    /// Next offset to be written (messages ever written to the queue).
    pub max_offset: i64,
    /// Store time of the last message, epoch ms; `None` when nothing is stored.
    pub last_update_timestamp: Option<i64>,
}

/// Every queue of a topic on every broker serving it (Java `TopicStatsTable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStatus {
    /// Topic.
    pub topic: String,
    /// Queues in (broker name, queue id) order.
    pub queues: Vec<QueueStatus>,
}

impl TopicStatus {
    /// Messages currently stored, summed over queues.
    pub fn stored_messages(&self) -> i64 {
        self.queues
            .iter()
            .map(|q| q.max_offset - q.min_offset)
            .sum()
    }
}

/// One queue of a consumer group's progress (Java `OffsetWrapper`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueProgress {
    /// The queue.
    pub queue: MessageQueue,
    /// The broker's max offset (next offset to be written).
    pub broker_offset: i64,
    /// The group's committed offset; `None` when the group has consumed nothing from this queue: no committed
    /// offset, or one at 0 (GET_CONSUME_STATS reports both as 0, as Java's broker does, so they read the same
    /// here whichever request answered).
    pub consumer_offset: Option<i64>,
    /// Store time of the last consumed message (the one at `consumer_offset - 1`), epoch ms; `None` when
    /// nothing was consumed or that message is no longer stored.
    pub last_timestamp: Option<i64>,
    /// `broker_offset - consumer_offset` (a queue never committed counts from 0, as Java's consume stats do),
    /// never negative.
    pub lag: i64,
}

impl QueueProgress {
    fn from_wrapper(queue: MessageQueue, o: &OffsetWrapper) -> QueueProgress {
        QueueProgress {
            queue,
            broker_offset: o.broker_offset,
            consumer_offset: (o.consumer_offset > 0).then_some(o.consumer_offset),
            last_timestamp: (o.last_timestamp > 0).then_some(o.last_timestamp),
            lag: o.lag().max(0),
        }
    }
}

/// A consumer group's progress on a topic (Java `ConsumeStats`, one topic of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerProgress {
    /// Consumer group.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Queues in (broker name, queue id) order.
    pub queues: Vec<QueueProgress>,
    /// Sum of the queues' lag (Java `computeTotalDiff`).
    pub total_lag: i64,
}

impl ConsumerProgress {
    fn new(group: &str, topic: &str, mut queues: Vec<QueueProgress>) -> ConsumerProgress {
        queues.sort_by(|a, b| a.queue.cmp(&b.queue));
        ConsumerProgress {
            group: group.to_string(),
            topic: topic.to_string(),
            total_lag: queues.iter().map(|q| q.lag).sum(),
            queues,
        }
    }
}

/// A topic's brokers as its route names them: master address and queue counts.
#[derive(Debug, Clone)]
struct TopicBroker {
    addr: String,
    broker_name: String,
    read_queue_nums: i32,
    write_queue_nums: i32,
}

impl TopicBroker {
    fn queues(&self, topic: &str, count: i32) -> impl Iterator<Item = MessageQueue> + '_ {
        let topic = topic.to_string();
        (0..count).map(move |queue_id| MessageQueue {
            topic: topic.clone(),
            broker_name: self.broker_name.clone(),
            queue_id,
        })
    }
}

/// Whether `e` is a broker's REQUEST_CODE_NOT_SUPPORTED, the one refusal the per-queue fallbacks answer.
fn unsupported(e: &ClientError) -> bool {
    e.response_code() == Some(response::REQUEST_CODE_NOT_SUPPORTED)
}

/// What a reset by timestamp did to one queue (Java `RollbackStats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackStats {
    /// The queue.
    pub queue: MessageQueue,
    /// The broker's max offset.
    pub broker_offset: i64,
    /// The group's committed offset before the reset (0 if never committed).
    pub consumer_offset: i64,
    /// The queue offset of the timestamp.
    pub timestamp_offset: i64,
    /// The group's offset now: `timestamp_offset` if it was written, else unchanged.
    pub rollback_offset: i64,
}

/// Where a resent dead letter was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResendResult {
    /// Offset message id of the new record.
    pub offset_msg_id: String,
    /// Queue of the target topic.
    pub queue_id: i32,
    /// Offset in that queue.
    pub queue_offset: i64,
}

/// What one [`Admin::pull_messages`] read: the messages found and where reading goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledMessages {
    /// Messages from the requested offset on, oldest first, bodies decompressed; empty when none is stored
    /// there (offset at the end of the queue, or out of its range).
    pub messages: Vec<MessageExt>,
    /// Where the next read starts (the broker's `nextBeginOffset`; the requested offset when it sent none).
    pub next_offset: i64,
}

/// Admin calls over one client instance; cheap to clone.
#[derive(Debug, Clone)]
pub struct Admin {
    instance: Arc<ClientInstance>,
}

impl Admin {
    /// An admin client for the name servers of `config`, on its own instance `<instance_name>-admin`.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] when `config.namesrv_addr` is not a `host:port` list.
    pub async fn start(config: ClientConfig) -> Result<Admin> {
        let name = format!("{}-admin", config.instance_name);
        let instance = ClientInstance::get_or_create(&config.with_instance_name(name))?;
        Ok(Admin { instance })
    }

    /// The client instance (connections, timeouts).
    pub fn instance(&self) -> &Arc<ClientInstance> {
        &self.instance
    }

    /// Closes the admin's connections. Admins started with the same config share them, so stop them together.
    pub fn shutdown(&self) {
        self.instance.shutdown();
    }

    pub(crate) async fn call(&self, addr: &str, cmd: RemotingCommand) -> Result<RemotingCommand> {
        self.instance
            .invoke(addr, cmd, self.instance.config().request_timeout)
            .await
    }

    pub(crate) async fn call_namesrv(&self, cmd: RemotingCommand) -> Result<RemotingCommand> {
        let resp = self.instance.invoke_namesrv(cmd).await?;
        ensure_success(NAMESRV, resp)
    }

    // ---- cluster ----

    /// Every broker and cluster the name servers know (GET_BROKER_CLUSTER_INFO).
    ///
    /// # Errors
    /// No name server reachable, or a body that does not decode.
    pub async fn cluster_info(&self) -> Result<ClusterInfo> {
        let resp = self
            .call_namesrv(RemotingCommand::request(
                request::GET_BROKER_CLUSTER_INFO,
                HashMap::new(),
            ))
            .await?;
        Ok(body::from_json(&resp.body)?)
    }

    /// Every master address the name servers know, in any cluster, sorted (what cluster-wide reads visit).
    ///
    /// # Errors
    /// No name server reachable, or a body that does not decode.
    pub async fn all_masters(&self) -> Result<Vec<String>> {
        let info = self.cluster_info().await?;
        let mut masters: Vec<String> = info
            .broker_addr_table
            .values()
            .filter_map(|bd| bd.master_addr().map(str::to_string))
            .collect();
        masters.sort();
        masters.dedup();
        Ok(masters)
    }

    /// The master addresses of `cluster`'s brokers, sorted.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] (field `cluster`) when the name servers do not know the cluster.
    pub async fn cluster_masters(&self, cluster: &str) -> Result<Vec<String>> {
        let info = self.cluster_info().await?;
        let Some(names) = info.cluster_addr_table.get(cluster) else {
            let mut known: Vec<&String> = info.cluster_addr_table.keys().collect();
            known.sort();
            return Err(ClientError::InvalidArgument {
                field: "cluster",
                reason: format!("no cluster {cluster:?} in the name servers (known: {known:?})"),
            });
        };
        let mut masters: Vec<String> = names
            .iter()
            .filter_map(|n| {
                info.broker_addr_table
                    .get(n)?
                    .master_addr()
                    .map(str::to_string)
            })
            .collect();
        masters.sort();
        masters.dedup();
        Ok(masters)
    }

    /// A broker's counters and store figures (GET_BROKER_RUNTIME_INFO), e.g. `msgPutTotalTodayNow`,
    /// `commitLogMaxOffset`, `brokerVersionDesc`.
    ///
    /// # Errors
    /// The broker is unreachable or refuses.
    pub async fn broker_runtime_info(&self, broker_addr: &str) -> Result<BTreeMap<String, String>> {
        let resp = self
            .call(
                broker_addr,
                RemotingCommand::request(request::GET_BROKER_RUNTIME_INFO, HashMap::new()),
            )
            .await?;
        let table: KvTable = body::from_json(&resp.body)?;
        Ok(table.table.into_iter().collect())
    }

    /// A broker's effective configuration (GET_BROKER_CONFIG), broker.conf keys to values.
    ///
    /// # Errors
    /// The broker is unreachable or refuses.
    pub async fn broker_config(&self, broker_addr: &str) -> Result<BTreeMap<String, String>> {
        let resp = self
            .call(
                broker_addr,
                RemotingCommand::request(request::GET_BROKER_CONFIG, HashMap::new()),
            )
            .await?;
        Ok(parse_properties(&String::from_utf8_lossy(&resp.body)))
    }

    // ---- topics ----

    /// Creates or updates `spec` on one broker (UPDATE_AND_CREATE_TOPIC); the broker re-registers with the name
    /// servers, so the route follows shortly after.
    ///
    /// # Errors
    /// A bad topic name or queue count ([`ClientError::InvalidArgument`]), or the broker's refusal.
    pub async fn create_topic(&self, broker_addr: &str, spec: &TopicSpec) -> Result<()> {
        check_spec(spec)?;
        self.call(
            broker_addr,
            RemotingCommand::request_with(request::UPDATE_AND_CREATE_TOPIC, &spec.header()),
        )
        .await
        .map(drop)
    }

    /// Creates or updates `spec` on every master of `cluster`; returns the masters written.
    ///
    /// # Errors
    /// As [`Admin::create_topic`] and [`Admin::cluster_masters`]; stops at the first master that fails.
    pub async fn create_topic_in_cluster(
        &self,
        cluster: &str,
        spec: &TopicSpec,
    ) -> Result<Vec<String>> {
        check_spec(spec)?;
        let masters = self.cluster_masters(cluster).await?;
        for addr in &masters {
            self.create_topic(addr, spec).await?;
        }
        Ok(masters)
    }

    /// Deletes `topic` from every master of `cluster` (DELETE_TOPIC_IN_BROKER: config, offsets, queues), then
    /// from every name server (DELETE_TOPIC_IN_NAMESRV), as Java's `deleteTopic` does.
    ///
    /// # Errors
    /// The first broker or name server that refuses or cannot be reached.
    pub async fn delete_topic(&self, cluster: &str, topic: &str) -> Result<()> {
        check_topic(topic)?;
        let header = DeleteTopicRequestHeader {
            topic: topic.to_string(),
        };
        for addr in self.cluster_masters(cluster).await? {
            self.call(
                &addr,
                RemotingCommand::request_with(request::DELETE_TOPIC_IN_BROKER, &header),
            )
            .await?;
        }
        for namesrv in self.instance.config().namesrv_list()? {
            let mut cmd = RemotingCommand::request_with(request::DELETE_TOPIC_IN_NAMESRV, &header);
            cmd.ext_fields
                .insert("clusterName".to_string(), cluster.to_string());
            self.call(&namesrv, cmd).await?;
        }
        Ok(())
    }

    /// Every topic the name servers route, sorted (GET_ALL_TOPIC_LIST_FROM_NAMESERVER).
    ///
    /// # Errors
    /// No name server reachable.
    pub async fn topic_list(&self) -> Result<BTreeSet<String>> {
        let resp = self
            .call_namesrv(RemotingCommand::request(
                request::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
                HashMap::new(),
            ))
            .await?;
        let list: TopicList = body::from_json(&resp.body)?;
        Ok(list.topic_list)
    }

    /// `topic`'s route, fetched now (GET_ROUTEINFO_BY_TOPIC).
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] when no name server knows the topic.
    pub async fn topic_route(&self, topic: &str) -> Result<TopicRouteData> {
        Ok((*self.instance.update_route(topic).await?).clone())
    }

    /// Min and max offset and last write time of every queue of `topic` on every master serving it
    /// (GET_TOPIC_STATS_INFO, one request per master, as Java's `examineTopicStats`).
    ///
    /// The queues are those each broker reports (Apache 5.x: `max(readQueueNums, writeQueueNums)`). A broker
    /// that answers REQUEST_CODE_NOT_SUPPORTED gets GET_MIN_OFFSET, GET_MAX_OFFSET and a one-message PULL at
    /// `max - 1` for each of its write queues instead.
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] for an unknown topic, or the first failing request (e.g. TOPIC_NOT_EXIST from a
    /// master the route names but that no longer has the topic).
    pub async fn topic_status(&self, topic: &str) -> Result<TopicStatus> {
        let brokers = self.topic_brokers(topic).await?;
        let parts =
            try_join_all(brokers.iter().map(|b| self.broker_topic_status(b, topic))).await?;
        let mut queues: Vec<QueueStatus> = parts.into_iter().flatten().collect();
        queues.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(TopicStatus {
            topic: topic.to_string(),
            queues,
        })
    }

    async fn broker_topic_status(&self, b: &TopicBroker, topic: &str) -> Result<Vec<QueueStatus>> {
        let header = GetTopicStatsInfoRequestHeader {
            topic: topic.to_string(),
        };
        let cmd = RemotingCommand::request_with(request::GET_TOPIC_STATS_INFO, &header);
        match self.call(&b.addr, cmd).await {
            Ok(resp) => {
                let table = TopicStatsTable::from_json(&resp.body)?;
                Ok(table
                    .offset_table
                    .into_iter()
                    .filter(|(q, _)| q.topic == topic)
                    .map(|(queue, o)| QueueStatus {
                        queue,
                        min_offset: o.min_offset,
                        max_offset: o.max_offset,
                        last_update_timestamp: (o.last_update_timestamp > 0)
                            .then_some(o.last_update_timestamp),
                    })
                    .collect())
            }
            Err(e) if unsupported(&e) => {
                try_join_all(
                    b.queues(topic, b.write_queue_nums)
                        .map(|queue| self.queue_status(&b.addr, queue)),
                )
                .await
            }
            Err(e) => Err(e),
        }
    }

    async fn queue_status(&self, addr: &str, queue: MessageQueue) -> Result<QueueStatus> {
        let min = self.min_offset(addr, &queue).await?;
        let max = self.max_offset(addr, &queue).await?;
        let last_update_timestamp = if max > min {
            self.pull_one(addr, &queue, max - 1)
                .await?
                .map(|m| m.store_timestamp)
        } else {
            None
        };
        Ok(QueueStatus {
            queue,
            min_offset: min,
            max_offset: max,
            last_update_timestamp,
        })
    }

    /// The masters serving `topic` with their queue counts, fetched from the name servers now.
    async fn topic_brokers(&self, topic: &str) -> Result<Vec<TopicBroker>> {
        check_topic(topic)?;
        let route = self.instance.update_route(topic).await?;
        let mut out = Vec::with_capacity(route.queue_datas.len());
        for qd in &route.queue_datas {
            let addr = route
                .broker_datas
                .iter()
                .find(|bd| bd.broker_name == qd.broker_name)
                .and_then(|bd| bd.master_addr())
                .ok_or_else(|| ClientError::NoBrokerAddr {
                    broker_name: qd.broker_name.clone(),
                })?;
            out.push(TopicBroker {
                addr: addr.to_string(),
                broker_name: qd.broker_name.clone(),
                read_queue_nums: qd.read_queue_nums,
                write_queue_nums: qd.write_queue_nums,
            });
        }
        out.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
        Ok(out)
    }

    /// (master address, queue) for each read queue of `topic`, in queue order.
    async fn read_queue_targets(&self, topic: &str) -> Result<Vec<(String, MessageQueue)>> {
        let brokers = self.topic_brokers(topic).await?;
        Ok(brokers
            .iter()
            .flat_map(|b| {
                b.queues(topic, b.read_queue_nums)
                    .map(|q| (b.addr.clone(), q))
            })
            .collect())
    }

    async fn max_offset(&self, addr: &str, queue: &MessageQueue) -> Result<i64> {
        self.instance.max_offset_at(addr, queue, Some(true)).await
    }

    async fn min_offset(&self, addr: &str, queue: &MessageQueue) -> Result<i64> {
        self.instance.min_offset_at(addr, queue).await
    }

    // ---- groups ----

    /// Creates or replaces a consumer group's settings on one broker (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).
    ///
    /// # Errors
    /// An empty group name ([`ClientError::InvalidArgument`]), or the broker's refusal.
    pub async fn create_subscription_group(
        &self,
        broker_addr: &str,
        config: &SubscriptionGroupConfig,
    ) -> Result<()> {
        if config.group_name.trim().is_empty() {
            return Err(ClientError::InvalidArgument {
                field: "group_name",
                reason: "the consumer group name is empty".into(),
            });
        }
        let cmd =
            RemotingCommand::request(request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, HashMap::new())
                .with_body(body::try_to_json(config)?);
        self.call(broker_addr, cmd).await.map(drop)
    }

    /// Creates or replaces a consumer group on every master of `cluster`; returns the masters written.
    ///
    /// # Errors
    /// As [`Admin::create_subscription_group`] and [`Admin::cluster_masters`].
    pub async fn create_subscription_group_in_cluster(
        &self,
        cluster: &str,
        config: &SubscriptionGroupConfig,
    ) -> Result<Vec<String>> {
        let masters = self.cluster_masters(cluster).await?;
        for addr in &masters {
            self.create_subscription_group(addr, config).await?;
        }
        Ok(masters)
    }

    /// One group's settings on a broker, `None` if it has none (GET_ALL_SUBSCRIPTIONGROUP_CONFIG).
    ///
    /// # Errors
    /// The broker is unreachable or refuses.
    pub async fn subscription_group(
        &self,
        broker_addr: &str,
        group: &str,
    ) -> Result<Option<SubscriptionGroupConfig>> {
        let resp = self
            .call(
                broker_addr,
                RemotingCommand::request(request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG, HashMap::new()),
            )
            .await?;
        let mut w: SubscriptionGroupWrapper = body::from_json(&resp.body)?;
        Ok(w.subscription_group_table.remove(group))
    }

    /// Deletes a group's settings on one broker (DELETE_SUBSCRIPTIONGROUP), and its committed offsets when
    /// `clean_offset`.
    ///
    /// # Errors
    /// The broker is unreachable or refuses.
    pub async fn delete_subscription_group(
        &self,
        broker_addr: &str,
        group: &str,
        clean_offset: bool,
    ) -> Result<()> {
        let mut ext = HashMap::new();
        ext.insert("groupName".to_string(), group.to_string());
        ext.insert("cleanOffset".to_string(), clean_offset.to_string());
        self.call(
            broker_addr,
            RemotingCommand::request(request::DELETE_SUBSCRIPTIONGROUP, ext),
        )
        .await
        .map(drop)
    }

    /// Who is in a consumer group and what it subscribes to, merged over every master the name servers know
    /// (GET_CONSUMER_CONNECTION_LIST).
    ///
    /// # Errors
    /// When no master answers with connections, the last refusal: CONSUMER_NOT_ONLINE (206) for a group with no
    /// live member, REQUEST_CODE_NOT_SUPPORTED (3) from a broker without the request. A refusal other than
    /// CONSUMER_NOT_ONLINE is returned at once.
    pub async fn consumer_connections(&self, group: &str) -> Result<ConsumerConnection> {
        let info = self.cluster_info().await?;
        let mut masters: Vec<String> = info
            .broker_addr_table
            .values()
            .filter_map(|bd| bd.master_addr().map(str::to_string))
            .collect();
        masters.sort();
        let header = GetConsumerConnectionListRequestHeader {
            consumer_group: group.to_string(),
        };
        let mut merged: Option<ConsumerConnection> = None;
        let mut seen = HashSet::new();
        let mut last_err = None;
        for addr in masters {
            let cmd = RemotingCommand::request_with(request::GET_CONSUMER_CONNECTION_LIST, &header);
            match self.call(&addr, cmd).await {
                Ok(resp) => {
                    let cc: ConsumerConnection = body::from_json(&resp.body)?;
                    let m = merged.get_or_insert_with(|| ConsumerConnection {
                        connection_set: Vec::new(),
                        ..cc.clone()
                    });
                    for c in cc.connection_set {
                        if seen.insert(c.client_id.clone()) {
                            m.connection_set.push(c);
                        }
                    }
                    for (topic, sub) in cc.subscription_table {
                        m.subscription_table.entry(topic).or_insert(sub);
                    }
                }
                Err(e) if e.response_code() == Some(response::CONSUMER_NOT_ONLINE) => {
                    last_err = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        match (merged, last_err) {
            (Some(m), _) => Ok(m),
            (None, Some(e)) => Err(e),
            (None, None) => Err(ClientError::Broker {
                addr: NAMESRV.to_string(),
                code: response::CONSUMER_NOT_ONLINE,
                remark: format!("no broker master is known, so group {group} has no connection"),
            }),
        }
    }

    /// A consumer group's progress on `topic`: per queue the broker's max offset, the group's committed offset
    /// and the lag, plus the total lag (GET_CONSUME_STATS with the topic, one request per master serving it).
    ///
    /// As in Java, a broker leaves the topic out when the group is online there but does not subscribe to it,
    /// and a group unknown to a broker gets 0 offsets. A broker that answers REQUEST_CODE_NOT_SUPPORTED gets
    /// GET_MAX_OFFSET and QUERY_CONSUMER_OFFSET for each of its read queues (and a one-message PULL for the last
    /// consumed message's time) instead.
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] for an unknown topic, or the first failing request.
    pub async fn consumer_progress(&self, group: &str, topic: &str) -> Result<ConsumerProgress> {
        let brokers = self.topic_brokers(topic).await?;
        let parts = try_join_all(
            brokers
                .iter()
                .map(|b| self.broker_consumer_progress(b, group, topic)),
        )
        .await?;
        Ok(ConsumerProgress::new(
            group,
            topic,
            parts.into_iter().flatten().collect(),
        ))
    }

    /// A consumer group's progress on every topic it has offsets for, its retry topic `%RETRY%group` included,
    /// keyed by topic (GET_CONSUME_STATS without a topic to every master the name servers know; Java's
    /// `examineConsumeStats(group)` asks only the masters of the retry topic's route, which misses groups that
    /// never heartbeated there).
    ///
    /// A group no broker knows has no entry. There is no per-queue fallback: without the broker's list of the
    /// group's topics there is nothing to ask about.
    ///
    /// # Errors
    /// The first master that refuses (REQUEST_CODE_NOT_SUPPORTED from a broker without the request) or cannot
    /// be reached.
    pub async fn consumer_progress_all(
        &self,
        group: &str,
    ) -> Result<BTreeMap<String, ConsumerProgress>> {
        let masters = self.all_masters().await?;
        let header = GetConsumeStatsRequestHeader {
            consumer_group: group.to_string(),
            topic: None,
        };
        let answers = try_join_all(masters.iter().map(|addr| async {
            let cmd = RemotingCommand::request_with(request::GET_CONSUME_STATS, &header);
            let resp = self.call(addr, cmd).await?;
            Ok::<_, ClientError>(ConsumeStats::from_json(&resp.body)?)
        }))
        .await?;
        let mut by_topic: BTreeMap<String, Vec<QueueProgress>> = BTreeMap::new();
        for stats in answers {
            for (queue, o) in stats.offset_table {
                by_topic
                    .entry(queue.topic.clone())
                    .or_default()
                    .push(QueueProgress::from_wrapper(queue, &o));
            }
        }
        Ok(by_topic
            .into_iter()
            .map(|(topic, queues)| {
                let p = ConsumerProgress::new(group, &topic, queues);
                (topic, p)
            })
            .collect())
    }

    async fn broker_consumer_progress(
        &self,
        b: &TopicBroker,
        group: &str,
        topic: &str,
    ) -> Result<Vec<QueueProgress>> {
        let header = GetConsumeStatsRequestHeader {
            consumer_group: group.to_string(),
            topic: Some(topic.to_string()),
        };
        let cmd = RemotingCommand::request_with(request::GET_CONSUME_STATS, &header);
        match self.call(&b.addr, cmd).await {
            Ok(resp) => {
                let stats = ConsumeStats::from_json(&resp.body)?;
                Ok(stats
                    .offset_table
                    .into_iter()
                    .filter(|(q, _)| q.topic == topic)
                    .map(|(queue, o)| QueueProgress::from_wrapper(queue, &o))
                    .collect())
            }
            Err(e) if unsupported(&e) => {
                try_join_all(
                    b.queues(topic, b.read_queue_nums)
                        .map(|queue| self.queue_progress(&b.addr, group, queue)),
                )
                .await
            }
            Err(e) => Err(e),
        }
    }

    /// One queue's progress by GET_MAX_OFFSET, QUERY_CONSUMER_OFFSET and a PULL of the last consumed message.
    async fn queue_progress(
        &self,
        addr: &str,
        group: &str,
        queue: MessageQueue,
    ) -> Result<QueueProgress> {
        let broker_offset = self.max_offset(addr, &queue).await?;
        let committed = self
            .consumer_offset(addr, group, &queue)
            .await?
            .unwrap_or(0);
        let last_timestamp = if committed > 0 {
            self.pull_one(addr, &queue, committed - 1)
                .await?
                .map(|m| m.store_timestamp)
        } else {
            None
        };
        Ok(QueueProgress {
            queue,
            broker_offset,
            consumer_offset: (committed > 0).then_some(committed),
            last_timestamp,
            lag: (broker_offset - committed).max(0),
        })
    }

    /// The committed offset, `None` when the broker has none (QUERY_NOT_FOUND with `setZeroIfNotFound=false`).
    async fn consumer_offset(
        &self,
        addr: &str,
        group: &str,
        queue: &MessageQueue,
    ) -> Result<Option<i64>> {
        self.instance
            .query_consumer_offset_at(addr, group, queue, Some(false))
            .await
    }

    /// `group`'s committed offset on each read queue of `topic`, `None` where it has committed nothing
    /// (QUERY_CONSUMER_OFFSET per queue). What a reset report shows as the "old" offsets.
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] for an unknown topic, or the first failing request.
    pub async fn committed_offsets(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<BTreeMap<MessageQueue, Option<i64>>> {
        let targets = self.read_queue_targets(topic).await?;
        let offsets = try_join_all(
            targets
                .iter()
                .map(|(addr, queue)| self.consumer_offset(addr, group, queue)),
        )
        .await?;
        Ok(targets.into_iter().map(|(_, q)| q).zip(offsets).collect())
    }

    /// The offset of the first message of `queue` stored at or after `timestamp_ms` (the queue's max offset
    /// when none is), as SEARCH_OFFSET_BY_TIMESTAMP answers: where to start reading "from a point in time".
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] / [`ClientError::NoBrokerAddr`] when the queue's broker is unknown, or the
    /// broker's refusal.
    pub async fn search_offset(&self, queue: &MessageQueue, timestamp_ms: i64) -> Result<i64> {
        check_topic(&queue.topic)?;
        let addr = self
            .instance
            .master_addr_for(&queue.broker_name, &queue.topic)
            .await?;
        self.instance
            .search_offset_at(&addr, queue, timestamp_ms)
            .await
    }

    /// Moves `group`'s committed offsets on `topic` to the first message stored at or after `timestamp_ms`
    /// (SEARCH_OFFSET_BY_TIMESTAMP, then UPDATE_CONSUMER_OFFSET per read queue), as Java's
    /// `resetOffsetByTimestampOld`: without `force` a queue only moves back, never forward.
    ///
    /// Running consumers keep their in-memory offsets and overwrite the reset at their next commit, so stop them
    /// first, or use [`Admin::reset_offset_running`] (INVOKE_BROKER_TO_RESET_OFFSET), where the broker tells live
    /// consumers to reset.
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] for an unknown topic, or the first failing request (queues before it are reset).
    pub async fn reset_offset_by_timestamp(
        &self,
        group: &str,
        topic: &str,
        timestamp_ms: i64,
        force: bool,
    ) -> Result<Vec<RollbackStats>> {
        let targets = self.read_queue_targets(topic).await?;
        let mut out = Vec::with_capacity(targets.len());
        for (addr, queue) in targets {
            let broker_offset = self.max_offset(&addr, &queue).await?;
            let consumer_offset = self
                .consumer_offset(&addr, group, &queue)
                .await?
                .unwrap_or(0);
            let timestamp_offset = self
                .instance
                .search_offset_at(&addr, &queue, timestamp_ms)
                .await?;
            let mut rollback_offset = consumer_offset;
            if force || timestamp_offset <= consumer_offset {
                self.instance
                    .update_consumer_offset_at(&addr, group, &queue, timestamp_offset)
                    .await?;
                rollback_offset = timestamp_offset;
            }
            out.push(RollbackStats {
                queue,
                broker_offset,
                consumer_offset,
                timestamp_offset,
                rollback_offset,
            });
        }
        Ok(out)
    }

    /// Moves a group's offsets on `topic` to `timestamp_ms` (-1: each queue's end) through the brokers
    /// (INVOKE_BROKER_TO_RESET_OFFSET), which commit them and tell running consumers to restart from there.
    /// Without `force` a queue only moves back. Returns the offset chosen per queue.
    pub async fn reset_offset_running(
        &self,
        group: &str,
        topic: &str,
        timestamp_ms: i64,
        force: bool,
    ) -> Result<BTreeMap<MessageQueue, i64>> {
        check_topic(topic)?;
        let route = self.instance.update_route(topic).await?;
        let mut out = BTreeMap::new();
        for bd in &route.broker_datas {
            let Some(addr) = bd.master_addr() else {
                continue;
            };
            let header = rmq_protocol::headers::ResetOffsetRequestHeader {
                topic: topic.to_string(),
                group: group.to_string(),
                timestamp: timestamp_ms,
                is_force: force,
                queue_id: None,
                offset: None,
            };
            let resp = self
                .call(
                    addr,
                    RemotingCommand::request_with(request::INVOKE_BROKER_TO_RESET_OFFSET, &header),
                )
                .await?;
            let body = rmq_protocol::body::ResetOffsetBody::from_json(&resp.body)?;
            out.extend(body.offset_table);
        }
        Ok(out)
    }

    // ---- messages ----

    /// Messages of `topic` whose KEYS contain `key`, stored between `begin_ms` and `end_ms`, at most `max_num`,
    /// oldest first (QUERY_MESSAGE on every master serving the topic, merged). Bodies are decompressed.
    ///
    /// The brokers' index is a hash: hits whose KEYS do not contain `key` are dropped here, as Java does.
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] for an unknown topic, `max_num <= 0` ([`ClientError::InvalidArgument`]), or a
    /// broker failure other than QUERY_NOT_FOUND (which means "no hit there").
    pub async fn query_messages(
        &self,
        topic: &str,
        key: &str,
        max_num: i32,
        begin_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<MessageExt>> {
        self.query_by(topic, key, false, max_num, begin_ms, end_ms)
            .await
    }

    /// QUERY_MESSAGE for `key` as a business key (KEYS) or, with `unique`, as a UNIQ_KEY (Java's
    /// `_UNIQUE_KEY_QUERY`), merged over the masters serving `topic`.
    pub(crate) async fn query_by(
        &self,
        topic: &str,
        key: &str,
        unique: bool,
        max_num: i32,
        begin_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<MessageExt>> {
        if max_num <= 0 {
            return Err(ClientError::InvalidArgument {
                field: "max_num",
                reason: format!("{max_num} is not a positive count"),
            });
        }
        check_topic(topic)?;
        let route = self.instance.update_route(topic).await?;
        let header = QueryMessageRequestHeader {
            topic: topic.to_string(),
            key: key.to_string(),
            max_num,
            begin_timestamp: begin_ms,
            end_timestamp: end_ms,
        };
        let masters: Vec<String> = route
            .broker_datas
            .iter()
            .filter_map(|bd| bd.master_addr().map(str::to_string))
            .collect();
        let answers = try_join_all(masters.iter().map(|addr| {
            let mut cmd = RemotingCommand::request_with(request::QUERY_MESSAGE, &header);
            cmd.ext_fields
                .insert("_UNIQUE_KEY_QUERY".to_string(), unique.to_string());
            async move {
                match self.call(addr, cmd).await {
                    Ok(resp) => Ok(decode_all(&resp.body)),
                    Err(e) if e.response_code() == Some(response::QUERY_NOT_FOUND) => {
                        Ok(Vec::new())
                    }
                    Err(e) => Err(e),
                }
            }
        }))
        .await?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for mut m in answers.into_iter().flatten() {
            let matches = if unique {
                m.property(keys::UNIQ_KEY) == Some(key)
            } else {
                m.property(keys::KEYS)
                    .is_some_and(|ks| ks.split(keys::KEY_SEPARATOR).any(|k| k == key))
            };
            if m.topic != topic || !matches || !seen.insert((m.store_host, m.commit_log_offset)) {
                continue;
            }
            decompress_in_place(&mut m)?;
            out.push(m);
        }
        out.sort_by_key(|m| (m.store_timestamp, m.commit_log_offset));
        out.truncate(max_num as usize);
        Ok(out)
    }

    /// The message an offset message id names (VIEW_MESSAGE_BY_ID to the store host the id encodes), body
    /// decompressed.
    ///
    /// # Errors
    /// [`ClientError::Protocol`] for an id that is not an offset message id (a UNIQ_KEY is not: use
    /// [`SendResult::offset_msg_id`](crate::producer::SendResult::offset_msg_id)), or the broker's refusal.
    pub async fn view_message(&self, offset_msg_id: &str) -> Result<MessageExt> {
        let (store_host, offset) = decode_offset_msg_id(offset_msg_id)?;
        let addr = store_host.to_string();
        let header = ViewMessageRequestHeader {
            offset,
            topic: None,
        };
        let resp = self
            .call(
                &addr,
                RemotingCommand::request_with(request::VIEW_MESSAGE_BY_ID, &header),
            )
            .await?;
        let mut m = decode_all(&resp.body)
            .into_iter()
            .next()
            .ok_or_else(|| bad_body("VIEW_MESSAGE_BY_ID", "no message record"))?;
        decompress_in_place(&mut m)?;
        Ok(m)
    }

    /// The message at `offset` of `queue`, `None` when the queue holds nothing there (a PULL of one message as
    /// group [`TOOLS_CONSUMER_GROUP`], committing nothing). Body decompressed.
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] / [`ClientError::NoBrokerAddr`] when the queue's broker is unknown, or a
    /// refusal other than "no message there".
    pub async fn message_at(
        &self,
        queue: &MessageQueue,
        offset: i64,
    ) -> Result<Option<MessageExt>> {
        let addr = self
            .instance
            .master_addr_for(&queue.broker_name, &queue.topic)
            .await?;
        self.pull_one(&addr, queue, offset).await
    }

    async fn pull_one(
        &self,
        addr: &str,
        queue: &MessageQueue,
        offset: i64,
    ) -> Result<Option<MessageExt>> {
        let pulled = self
            .pull_at(addr, TOOLS_CONSUMER_GROUP, queue, offset, 1)
            .await?;
        Ok(pulled
            .messages
            .into_iter()
            .next()
            .filter(|m| m.queue_offset == offset))
    }

    /// Up to `max_nums` messages of `queue` from `offset` on, read as consumer `group` (Java's tools use
    /// [`TOOLS_CONSUMER_GROUP`]) with a plain PULL that commits nothing and does not wait for new messages:
    /// what `mqadmin consumeMessage` and `printMsg` read with. Bodies are decompressed.
    ///
    /// The broker may return fewer than `max_nums` (it caps a pull by size); continue from
    /// [`PulledMessages::next_offset`]. An offset beyond the queue's end, or before its start, gives no
    /// messages, with `next_offset` where the broker suggests reading instead.
    ///
    /// # Errors
    /// `max_nums <= 0` ([`ClientError::InvalidArgument`]); [`ClientError::NoRoute`] /
    /// [`ClientError::NoBrokerAddr`] when the queue's broker is unknown; a refusal such as NO_PERMISSION for a
    /// group whose consumption is disabled.
    pub async fn pull_messages(
        &self,
        group: &str,
        queue: &MessageQueue,
        offset: i64,
        max_nums: i32,
    ) -> Result<PulledMessages> {
        if max_nums <= 0 {
            return Err(ClientError::InvalidArgument {
                field: "max_nums",
                reason: format!("{max_nums} is not a positive count"),
            });
        }
        check_topic(&queue.topic)?;
        let addr = self
            .instance
            .master_addr_for(&queue.broker_name, &queue.topic)
            .await?;
        self.pull_at(&addr, group, queue, offset, max_nums).await
    }

    async fn pull_at(
        &self,
        addr: &str,
        group: &str,
        queue: &MessageQueue,
        offset: i64,
        max_nums: i32,
    ) -> Result<PulledMessages> {
        let everything = subscription_data(&queue.topic, &MessageSelector::all(), 0)?;
        let header = PullMessageRequestHeader {
            max_msg_nums: max_nums,
            sys_flag: pull_flag::SUBSCRIPTION,
            commit_offset: 0,
            suspend_timeout_millis: 0,
            ..pull_header(group, queue, offset, &everything)
        };
        let timeout = self.instance.config().request_timeout;
        match self
            .instance
            .pull_at(addr, request::PULL_MESSAGE, header, timeout)
            .await?
        {
            PullOutcome::Found { mut msgs, next } => {
                if msgs.is_empty() {
                    return Err(bad_body("PULL_MESSAGE", "FOUND without a message record"));
                }
                for m in &mut msgs {
                    decompress_in_place(m)?;
                }
                let last = msgs.last().map_or(offset, |m| m.queue_offset + 1);
                Ok(PulledMessages {
                    next_offset: next.max(last),
                    messages: msgs,
                })
            }
            PullOutcome::Empty { next } | PullOutcome::OffsetMoved { next } => Ok(PulledMessages {
                messages: Vec::new(),
                next_offset: next,
            }),
        }
    }

    /// Puts a dead letter back on its original topic with a fresh retry count (RMQ_RESEND_DLQ_MESSAGE, an rmq
    /// extension), or on `topic` when given. `dlq_offset_msg_id` is the offset message id of the `%DLQ%group`
    /// record (e.g. from [`Admin::message_at`] on the DLQ topic, [`MessageExt::offset_msg_id`]).
    ///
    /// # Errors
    /// [`ClientError::Protocol`] for a malformed id; the broker's refusal: QUERY_NOT_FOUND (no record there),
    /// INVALID_PARAMETER (not a dead letter, or no original topic recorded), TOPIC_NOT_EXIST, or
    /// REQUEST_CODE_NOT_SUPPORTED from an Apache broker.
    pub async fn resend_dlq_message(
        &self,
        dlq_offset_msg_id: &str,
        topic: Option<&str>,
    ) -> Result<ResendResult> {
        let (store_host, offset) = decode_offset_msg_id(dlq_offset_msg_id)?;
        let mut ext = HashMap::new();
        ext.insert("offset".to_string(), offset.to_string());
        if let Some(t) = topic {
            check_topic(t)?;
            ext.insert("topic".to_string(), t.to_string());
        }
        let resp = self
            .call(
                &store_host.to_string(),
                RemotingCommand::request(request::RMQ_RESEND_DLQ_MESSAGE, ext),
            )
            .await?;
        let field = |k: &'static str| {
            resp.ext_fields
                .get(k)
                .ok_or(ProtocolError::MissingField { field: k })
        };
        let number = |k: &'static str| -> Result<i64> {
            let raw = field(k)?;
            raw.parse().map_err(|e| {
                ClientError::Protocol(ProtocolError::InvalidField {
                    field: k,
                    value: raw.clone(),
                    reason: format!("not an integer: {e}"),
                })
            })
        };
        Ok(ResendResult {
            offset_msg_id: field("msgId")?.clone(),
            queue_id: number("queueId")? as i32,
            queue_offset: number("queueOffset")?,
        })
    }
}

fn check_spec(spec: &TopicSpec) -> Result<()> {
    check_topic(&spec.name)?;
    for (field, n) in [
        ("read_queue_nums", spec.read_queue_nums),
        ("write_queue_nums", spec.write_queue_nums),
    ] {
        if !(1..=1024).contains(&n) {
            return Err(ClientError::InvalidArgument {
                field,
                reason: format!("{n} is not between 1 and 1024"),
            });
        }
    }
    Ok(())
}

fn bad_body(what: &'static str, reason: &str) -> ClientError {
    ClientError::Protocol(ProtocolError::InvalidField {
        field: what,
        value: String::new(),
        reason: reason.to_string(),
    })
}

/// Java properties text (`key=value` lines, `#` / `!` comments) as a map; later keys win.
fn parse_properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=').or_else(|| l.split_once(':'))?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_text_parses_like_java() {
        let map = parse_properties(
            "# comment\nbrokerName=broker-a\n\n listenPort = 10911\nnamesrvAddr=a:1;b:2\n",
        );
        assert_eq!(map["brokerName"], "broker-a");
        assert_eq!(map["listenPort"], "10911");
        assert_eq!(map["namesrvAddr"], "a:1;b:2");
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn subscription_group_json_uses_java_names_and_defaults() {
        let cfg = SubscriptionGroupConfig {
            retry_queue_nums: 3,
            consume_broadcast_enable: false,
            ..SubscriptionGroupConfig::new("g")
        };
        let json = serde_json::to_value(&cfg).unwrap();
        assert_eq!(json["groupName"], "g");
        assert_eq!(json["retryQueueNums"], 3);
        assert_eq!(json["retryMaxTimes"], 16);
        assert_eq!(json["consumeBroadcastEnable"], false);
        let back: SubscriptionGroupConfig = serde_json::from_str(r#"{"groupName":"h"}"#).unwrap();
        assert_eq!(back, SubscriptionGroupConfig::new("h"));
    }

    #[test]
    fn topic_specs_are_checked_before_sending() {
        assert!(check_spec(&TopicSpec::new("T", 4)).is_ok());
        let err = check_spec(&TopicSpec::new("T", 0)).unwrap_err();
        assert!(err.to_string().contains("read_queue_nums"), "{err}");
        assert!(check_spec(&TopicSpec::new("a b", 4)).is_err());
    }
}
