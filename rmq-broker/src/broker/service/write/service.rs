//! [`WriteService`] and the pipeline every stored message goes through.

use std::net::SocketAddr;
use std::sync::Arc;

use rmq_protocol::message::msg_id::UniqIdGenerator;
use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::message::sysflag;

use super::request::{Message, Origin, Payload, Props, SendOutcome, SendRequest, Stored};
use crate::broker::counters::BrokerStats;
use crate::broker::schedule::{Deferral, Schedule};
use crate::broker::service::ServiceError;
use crate::broker::subscription_group::SubscriptionGroupManager;
use crate::broker::topic_config::TopicConfigManager;
use crate::broker::transaction::bridge;
use crate::config::BrokerConfig;
use crate::metrics::RequestMetrics;
use crate::store::{MessageStore, MessageToStore, StoreError};
use rmq_protocol::clock::Clock;

use crate::broker::live_config::LiveConfig;
use rmq_protocol::topic::is_retry_topic;

/// The configuration the write path reads, copied out of [`BrokerConfig`] at start (the broker permission
/// read live).
#[derive(Debug, Clone)]
pub struct WritePolicy {
    /// `brokerPermission`, changeable at run time.
    pub live: Arc<LiveConfig>,
    /// `ip:port` named in refusals.
    pub broker_addr: String,
    /// The address stamped as born host on the broker's own records (op records).
    pub store_host: SocketAddr,
    /// `autoCreateTopicEnable`.
    pub auto_create_topic_enable: bool,
    /// `maxMessageSize` (body limit).
    pub max_message_size: usize,
    /// `brokerClusterName`, stamped as `CLUSTER`.
    pub cluster: String,
    /// `regionId`, stamped as `MSG_REGION`.
    pub region_id: String,
    /// `traceOn`, stamped as `TRACE_SWITCH`.
    pub trace_on: bool,
    /// The clock deferrals are measured on and the broker's own records stamped with.
    pub clock: Clock,
    /// `brokerName` (recall handles name the broker that holds the message).
    pub broker_name: String,
}

impl WritePolicy {
    /// The write-path settings of `config`, for a broker published as `store_host`.
    pub fn new(config: &BrokerConfig, store_host: SocketAddr, live: Arc<LiveConfig>) -> Self {
        WritePolicy {
            live,
            broker_addr: store_host.to_string(),
            store_host,
            auto_create_topic_enable: config.auto_create_topic_enable,
            max_message_size: config.max_message_size,
            cluster: config.broker_cluster_name.clone(),
            region_id: config.region_id.clone(),
            trace_on: config.trace_on,
            clock: config.clock.clone(),
            broker_name: config.broker_name.clone(),
        }
    }
}

/// Counts stored messages for runtime info and, when enabled, metrics.
#[derive(Debug, Clone)]
pub struct PutCounter {
    stats: Arc<BrokerStats>,
    metrics: Option<RequestMetrics>,
}

impl PutCounter {
    /// Counts into `stats`, and into the metrics' traffic counters when metrics are on.
    pub fn new(stats: Arc<BrokerStats>, metrics: Option<RequestMetrics>) -> Self {
        PutCounter { stats, metrics }
    }

    fn count(&self, topic: &str, messages: u64, bytes: u64) {
        if let Some(m) = &self.metrics {
            m.count_in(topic, messages, bytes);
        }
        self.stats.stored(topic, messages, bytes);
    }

    /// Counts one consumer send-back (`SNDBCK_PUT_NUMS`, key `topic@group`).
    pub(super) fn sent_back(&self, topic_at_group: &str) {
        self.stats.windows.add(
            crate::broker::stats_windows::names::SNDBCK_PUT_NUMS,
            topic_at_group,
            1,
            1,
        );
    }
}

/// The only way into the store; see the [module docs](super).
#[derive(Debug)]
pub struct WriteService {
    pub(super) policy: WritePolicy,
    pub(super) store: Arc<MessageStore>,
    pub(super) topics: Arc<TopicConfigManager>,
    pub(super) groups: Arc<SubscriptionGroupManager>,
    schedule: Arc<Schedule>,
    uniq_ids: Arc<UniqIdGenerator>,
    pub(super) counter: PutCounter,
}

impl WriteService {
    /// A write service over its collaborators.
    pub fn new(
        policy: WritePolicy,
        store: Arc<MessageStore>,
        topics: Arc<TopicConfigManager>,
        groups: Arc<SubscriptionGroupManager>,
        schedule: Arc<Schedule>,
        uniq_ids: Arc<UniqIdGenerator>,
        counter: PutCounter,
    ) -> Self {
        WriteService {
            policy,
            store,
            topics,
            groups,
            schedule,
            uniq_ids,
            counter,
        }
    }

    /// The settings it applies.
    pub fn policy(&self) -> &WritePolicy {
        &self.policy
    }

    /// A producer's send: routes it, checks it and stores it (one message, or a batch for one queue).
    ///
    /// # Errors
    /// See [`ServiceError`]: every refusal of [`WriteService::route`], body or batch rules, the DLQ rule's
    /// group lookup, an unusable delivery time, or the store's refusal.
    pub async fn send(&self, req: SendRequest) -> Result<SendOutcome, ServiceError> {
        let route = self.route(
            &req.topic,
            req.queue_id,
            &req.default_topic,
            req.default_topic_queue_nums,
        )?;
        let mut sys_flag = req.sys_flag;
        if route.topic.topic_filter_type == "MULTI_TAG" {
            sys_flag |= sysflag::MULTI_TAGS_FLAG;
        }
        match req.payload {
            Payload::Single {
                flag,
                ref body,
                ref properties,
            } => {
                self.check_body(body.len())?;
                let mut msg = Message {
                    topic: req.topic.clone(),
                    queue_id: route.queue_id,
                    flag,
                    body: body.clone(),
                    properties: Props::Parsed(Properties::parse(properties)),
                    sys_flag,
                    born_timestamp: req.born_timestamp,
                    born_host: req.born_host,
                    reconsume_times: req.reconsume_times.unwrap_or(0),
                    prepared_transaction_offset: 0,
                };
                self.redirect_exhausted_retry(&req, &mut msg)?;
                let stored = self.put_as(Origin::Send, msg, &req.topic).await?;
                Ok(SendOutcome {
                    msg_id: stored.put.msg_id,
                    queue_id: route.queue_id,
                    queue_offset: stored.put.queue_offset,
                    transaction_id: stored.uniq_key,
                    flush_timed_out: !stored.durable,
                    recall_handle: stored.recall_handle,
                })
            }
            Payload::Batch { messages, uniq_key } => {
                if is_retry_topic(&req.topic) {
                    return Err(ServiceError::IllegalMessage(
                        "retry group topic is not supported for batching",
                    ));
                }
                if messages.is_empty() {
                    return Err(ServiceError::IllegalMessage(
                        "the batch body holds no message",
                    ));
                }
                let mut msgs = Vec::with_capacity(messages.len());
                let mut bytes = 0u64;
                for m in messages {
                    self.check_body(m.body.len())?;
                    let mut props = Properties::parse(&m.properties);
                    check_batch_entry(&props)?;
                    self.stamp(&mut props);
                    bytes += m.body.len() as u64;
                    msgs.push(MessageToStore {
                        topic: req.topic.clone(),
                        queue_id: route.queue_id,
                        flag: m.flag,
                        body: m.body,
                        properties: props.encode(),
                        sys_flag,
                        born_timestamp: req.born_timestamp,
                        born_host: req.born_host,
                        reconsume_times: 0,
                        prepared_transaction_offset: 0,
                    });
                }
                let count = msgs.len() as u64;
                let (puts, durable) = match self.store.put_messages(msgs).await {
                    Ok(p) => (p, true),
                    Err(StoreError::FlushTimeout { results }) => (results, false),
                    Err(e) => return Err(e.into()),
                };
                self.counter.count(&req.topic, count, bytes);
                let first = puts.first().map(|p| p.queue_offset).unwrap_or(0);
                let ids = puts
                    .iter()
                    .map(|p| p.msg_id.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                Ok(SendOutcome {
                    msg_id: ids,
                    queue_id: route.queue_id,
                    queue_offset: first,
                    transaction_id: uniq_key,
                    flush_timed_out: !durable,
                    recall_handle: None,
                })
            }
        }
    }

    /// Stores one message on behalf of `origin`, running the steps that origin takes.
    ///
    /// # Errors
    /// An unusable delivery time (only for origins that refuse one) or the store's refusal.
    pub async fn put(&self, origin: Origin, msg: Message) -> Result<Stored, ServiceError> {
        let topic = msg.topic.clone();
        self.put_as(origin, msg, &topic).await
    }

    /// A fresh UNIQ_KEY.
    pub fn next_uniq_id(&self) -> String {
        self.uniq_ids.next_id()
    }

    /// The pipeline; counted (when the origin is) under `count_as`, the topic the writer addressed.
    pub(super) async fn put_as(
        &self,
        origin: Origin,
        mut msg: Message,
        count_as: &str,
    ) -> Result<Stored, ServiceError> {
        let mut uniq_key = None;
        let mut recall_handle = None;
        let mut deferral = Deferral::Now;
        if origin == Origin::TransactionOp {
            let props = msg.properties.parsed();
            props.insert(properties::UNIQ_KEY, self.uniq_ids.next_id());
            msg.born_host = self.policy.store_host;
            msg.born_timestamp = self.policy.clock.now_ms();
        }
        if matches!(
            origin,
            Origin::Send | Origin::SendBack | Origin::DlqResend | Origin::Commit | Origin::Recall
        ) {
            // Decided once: the schedule leaves a half message alone and the half step below rewrites it.
            let props = msg.properties.parsed();
            let half = bridge::is_half(props);
            let decided = self.schedule.defer(
                &mut msg.topic,
                &mut msg.queue_id,
                props,
                msg.sys_flag,
                half,
                self.policy.clock.now_ms(),
            );
            deferral = match decided {
                Ok(d) => d,
                Err(e) if origin == Origin::Commit => {
                    tracing::warn!(topic = %msg.topic, error = %e, "committed transactional message delivered at once: its delivery time is unusable");
                    Deferral::Now
                }
                Err(e) => return Err(e.into()),
            };
            if origin == Origin::Send {
                self.stamp(props);
                uniq_key = props.get(properties::UNIQ_KEY).map(str::to_owned);
                if let (Deferral::Timer(at), Some(id)) = (deferral, &uniq_key) {
                    recall_handle = Some(self.recall_handle_of(count_as, at, id));
                }
                if half {
                    // A half message is stored out of sight until END_TRANSACTION (broker::transaction).
                    bridge::make_half(&mut msg.topic, &mut msg.queue_id, &mut msg.sys_flag, props);
                }
            }
        }
        let body_len = msg.body.len() as u64;
        let put = self
            .store
            .put_message(MessageToStore {
                topic: msg.topic,
                queue_id: msg.queue_id,
                flag: msg.flag,
                body: msg.body,
                properties: msg.properties.encode(),
                sys_flag: msg.sys_flag,
                born_timestamp: msg.born_timestamp,
                born_host: msg.born_host,
                reconsume_times: msg.reconsume_times,
                prepared_transaction_offset: msg.prepared_transaction_offset,
            })
            .await;
        let (put, durable) = match put {
            Ok(p) => (p, true),
            Err(StoreError::FlushTimeout { mut results }) if !results.is_empty() => {
                (results.remove(0), false)
            }
            Err(e) => return Err(e.into()),
        };
        self.schedule.stored(deferral);
        if origin.counted() {
            self.counter.count(count_as, 1, body_len);
        }
        Ok(Stored {
            put,
            uniq_key,
            deferral,
            durable,
            recall_handle,
        })
    }

    /// Adds what the broker stamps on every message a producer sends: a UNIQ_KEY when missing, `CLUSTER`,
    /// `MSG_REGION` and `TRACE_SWITCH`.
    fn stamp(&self, props: &mut Properties) {
        if !props.contains(properties::UNIQ_KEY) {
            props.insert(properties::UNIQ_KEY, self.uniq_ids.next_id());
        }
        props.insert(properties::CLUSTER, self.policy.cluster.clone());
        props.insert(properties::MSG_REGION, self.policy.region_id.clone());
        props.insert(properties::TRACE_SWITCH, self.policy.trace_on.to_string());
    }
}

/// The rules of a batch entry: no half messages, no delay level, no delivery time.
fn check_batch_entry(props: &Properties) -> Result<(), ServiceError> {
    if bridge::is_half(props) {
        return Err(ServiceError::IllegalMessage(
            "transactional messages cannot be sent in a batch",
        ));
    }
    if props
        .get(properties::DELAY_TIME_LEVEL)
        .is_some_and(|d| d != "0")
    {
        return Err(ServiceError::IllegalMessage(
            "TimeDelayLevel is not supported for batched messages",
        ));
    }
    if [
        properties::TIMER_DELIVER_MS,
        properties::TIMER_DELAY_MS,
        properties::TIMER_DELAY_SEC,
    ]
    .iter()
    .any(|k| props.contains(k))
    {
        return Err(ServiceError::IllegalMessage(
            "a delivery time (TIMER_*) is not supported for batched messages",
        ));
    }
    Ok(())
}
