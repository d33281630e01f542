//! Admin calls of the operator requests mqadmin's `consumerStatus`, `producerConnection`, `cloneGroupOffset`,
//! `brokerConsumeStats`, `statsAll`, `queryCq`, `cleanExpiredCQ`, `cleanUnusedTopic` and
//! `updateBrokerConfig` send (docs/admin-requests-java.md).

use std::collections::{BTreeMap, BTreeSet};

use rmq_protocol::body::{
    self, BrokerStatsData, ConsumeMessageDirectlyResult, ConsumeStatsList, ConsumerRunningInfo,
    GroupList, ProducerConnection, QueryConsumeQueueResponseBody,
};
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{
    CloneGroupOffsetRequestHeader, ConsumeMessageDirectlyResultRequestHeader,
    GetConsumeStatsInBrokerHeader, GetConsumerRunningInfoRequestHeader,
    GetProducerConnectionListRequestHeader, QueryConsumeQueueRequestHeader,
    QueryTopicConsumeByWhoRequestHeader, ViewBrokerStatsDataRequestHeader,
};
use rmq_protocol::message::decode_offset_msg_id;
use rmq_protocol::RemotingCommand;

use super::Admin;
use crate::error::{ClientError, Result};

/// What a consume-queue query asks for (`queryCq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeQueueQuery {
    /// Topic.
    pub topic: String,
    /// Queue id.
    pub queue_id: i32,
    /// First logical offset.
    pub index: i64,
    /// Units wanted.
    pub count: i32,
    /// Evaluate this group's subscription against each unit.
    pub group: Option<String>,
}

impl Admin {
    /// A consumer's running info (GET_CONSUMER_RUNNING_INFO through a broker the consumer is connected to):
    /// every master is asked in turn until one reaches the client.
    ///
    /// # Errors
    /// The last refusal when no master reaches it (SYSTEM_ERROR "not online" from each).
    pub async fn consumer_running_info(
        &self,
        group: &str,
        client_id: &str,
        jstack: bool,
    ) -> Result<ConsumerRunningInfo> {
        let header = GetConsumerRunningInfoRequestHeader {
            consumer_group: group.to_owned(),
            client_id: client_id.to_owned(),
            jstack_enable: jstack,
        };
        let resp = self
            .first_master_answering(|| {
                RemotingCommand::request_with(request::GET_CONSUMER_RUNNING_INFO, &header)
            })
            .await?;
        Ok(ConsumerRunningInfo::from_json(&resp.body)?)
    }

    /// Hands the stored message `msg_id` (an offset message id) to one consumer's listener
    /// (CONSUME_MESSAGE_DIRECTLY, sent to the broker that stored it) and returns the listener's verdict.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for an id that is not an offset message id, or the broker's refusal.
    pub async fn consume_message_directly(
        &self,
        group: &str,
        client_id: &str,
        msg_id: &str,
    ) -> Result<ConsumeMessageDirectlyResult> {
        let (store, _) =
            decode_offset_msg_id(msg_id).map_err(|e| ClientError::InvalidArgument {
                field: "msgId",
                reason: format!("{msg_id:?} is not an offset message id: {e}"),
            })?;
        let header = ConsumeMessageDirectlyResultRequestHeader {
            consumer_group: group.to_owned(),
            client_id: Some(client_id.to_owned()),
            msg_id: Some(msg_id.to_owned()),
            ..Default::default()
        };
        let cmd = RemotingCommand::request_with(request::CONSUME_MESSAGE_DIRECTLY, &header);
        let resp = self.call(&store.to_string(), cmd).await?;
        Ok(body::from_json(&resp.body)?)
    }

    /// The connections of a producer group on the brokers serving `topic` (GET_PRODUCER_CONNECTION_LIST),
    /// merged by client id.
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] for an unknown topic; the last refusal when no broker knows the group.
    pub async fn producer_connections(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<ProducerConnection> {
        let header = GetProducerConnectionListRequestHeader {
            producer_group: group.to_owned(),
        };
        let mut merged: Option<ProducerConnection> = None;
        let mut seen = BTreeSet::new();
        let mut last_err = None;
        for b in self.topic_brokers(topic).await? {
            let cmd = RemotingCommand::request_with(request::GET_PRODUCER_CONNECTION_LIST, &header);
            match self.call(&b.addr, cmd).await {
                Ok(resp) => {
                    let pc: ProducerConnection = body::from_json(&resp.body)?;
                    let m = merged.get_or_insert_with(ProducerConnection::default);
                    for c in pc.connection_set {
                        if seen.insert((c.client_id.clone(), c.client_addr.clone())) {
                            m.connection_set.push(c);
                        }
                    }
                }
                Err(e) if e.response_code() == Some(response::SYSTEM_ERROR) => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        match (merged, last_err) {
            (Some(m), _) => Ok(m),
            (None, Some(e)) => Err(e),
            (None, None) => Ok(ProducerConnection::default()),
        }
    }

    /// Groups consuming `topic` (QUERY_TOPIC_CONSUME_BY_WHO on every broker serving it), sorted.
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] for an unknown topic, or a broker's refusal.
    pub async fn topic_consumed_by(&self, topic: &str) -> Result<BTreeSet<String>> {
        let header = QueryTopicConsumeByWhoRequestHeader {
            topic: topic.to_owned(),
        };
        let mut groups = BTreeSet::new();
        for b in self.topic_brokers(topic).await? {
            let cmd = RemotingCommand::request_with(request::QUERY_TOPIC_CONSUME_BY_WHO, &header);
            let list: GroupList = body::from_json(&self.call(&b.addr, cmd).await?.body)?;
            groups.extend(list.group_list);
        }
        Ok(groups)
    }

    /// CLONE_GROUP_OFFSET on one broker: it copies `src`'s offsets (of `topic`, or every topic) to `dest`.
    ///
    /// # Errors
    /// The broker's refusal.
    pub async fn clone_group_offset_on_broker(
        &self,
        broker_addr: &str,
        src: &str,
        dest: &str,
        topic: Option<&str>,
        offline: bool,
    ) -> Result<()> {
        let header = CloneGroupOffsetRequestHeader {
            src_group: src.to_owned(),
            dest_group: dest.to_owned(),
            topic: topic.map(str::to_owned),
            offline,
        };
        let cmd = RemotingCommand::request_with(request::CLONE_GROUP_OFFSET, &header);
        self.call(broker_addr, cmd).await.map(|_| ())
    }

    /// What mqadmin's `cloneGroupOffset` does: reads `src`'s progress on `topic` (GET_CONSUME_STATS) and
    /// commits each queue's offset for `dest` (UPDATE_CONSUMER_OFFSET). Returns (queue, offset) copied.
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] for an unknown topic, or the first failing request.
    pub async fn clone_group_offsets(
        &self,
        src: &str,
        dest: &str,
        topic: &str,
    ) -> Result<Vec<(body::MessageQueue, i64)>> {
        let progress = self.consumer_progress(src, topic).await?;
        let brokers = self.topic_brokers(topic).await?;
        let mut copied = Vec::new();
        for q in progress.queues {
            let Some(offset) = q.consumer_offset else {
                continue;
            };
            let Some(b) = brokers
                .iter()
                .find(|b| b.broker_name == q.queue.broker_name)
            else {
                continue;
            };
            self.instance
                .update_consumer_offset_at(&b.addr, dest, &q.queue, offset)
                .await?;
            copied.push((q.queue, offset));
        }
        Ok(copied)
    }

    /// Every group's consume stats on one broker (GET_BROKER_CONSUME_STATS), ordered topics only with
    /// `is_order`.
    ///
    /// # Errors
    /// The broker's refusal or an undecodable body.
    pub async fn broker_consume_stats(
        &self,
        broker_addr: &str,
        is_order: bool,
    ) -> Result<ConsumeStatsList> {
        let header = GetConsumeStatsInBrokerHeader { is_order };
        let cmd = RemotingCommand::request_with(request::GET_BROKER_CONSUME_STATS, &header);
        let resp = self.call(broker_addr, cmd).await?;
        Ok(ConsumeStatsList::from_json(&resp.body)?)
    }

    /// A statistic's minute, hour and day windows on one broker (VIEW_BROKER_STATS_DATA); `None` when the
    /// broker never counted it (Java answers SYSTEM_ERROR "not exist").
    ///
    /// # Errors
    /// Any other refusal.
    pub async fn broker_stats(
        &self,
        broker_addr: &str,
        name: &str,
        key: &str,
    ) -> Result<Option<BrokerStatsData>> {
        let header = ViewBrokerStatsDataRequestHeader {
            stats_name: name.to_owned(),
            stats_key: key.to_owned(),
        };
        let cmd = RemotingCommand::request_with(request::VIEW_BROKER_STATS_DATA, &header);
        match self.call(broker_addr, cmd).await {
            Ok(resp) => Ok(Some(body::from_json(&resp.body)?)),
            Err(ClientError::Broker { code, remark, .. })
                if code == response::SYSTEM_ERROR && remark.ends_with("not exist") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Raw consume-queue units of one queue on one broker (QUERY_CONSUME_QUEUE).
    ///
    /// # Errors
    /// The broker's refusal (SYSTEM_ERROR for a queue it does not have).
    pub async fn query_consume_queue(
        &self,
        broker_addr: &str,
        q: &ConsumeQueueQuery,
    ) -> Result<QueryConsumeQueueResponseBody> {
        let header = QueryConsumeQueueRequestHeader {
            topic: Some(q.topic.clone()),
            queue_id: q.queue_id,
            index: q.index,
            count: q.count,
            consumer_group: q.group.clone(),
        };
        let cmd = RemotingCommand::request_with(request::QUERY_CONSUME_QUEUE, &header);
        let resp = self.call(broker_addr, cmd).await?;
        Ok(body::from_json(&resp.body)?)
    }

    /// CLEAN_EXPIRED_CONSUMEQUEUE on one broker.
    ///
    /// # Errors
    /// The broker's refusal.
    pub async fn clean_expired_consume_queue(&self, broker_addr: &str) -> Result<()> {
        let cmd = RemotingCommand::request(request::CLEAN_EXPIRED_CONSUMEQUEUE, Default::default());
        self.call(broker_addr, cmd).await.map(|_| ())
    }

    /// CLEAN_UNUSED_TOPIC on one broker.
    ///
    /// # Errors
    /// The broker's refusal.
    pub async fn clean_unused_topic(&self, broker_addr: &str) -> Result<()> {
        let cmd = RemotingCommand::request(request::CLEAN_UNUSED_TOPIC, Default::default());
        self.call(broker_addr, cmd).await.map(|_| ())
    }

    /// Sends `key=value` lines to one broker (UPDATE_BROKER_CONFIG); returns the broker's remark (rmq says
    /// which keys apply now and which at the next start; a Java broker says nothing).
    ///
    /// # Errors
    /// The broker's refusal: NO_PERMISSION for a black-listed key, a naming error for a bad one.
    pub async fn update_broker_config(
        &self,
        broker_addr: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<String> {
        let text: String = values.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let cmd = RemotingCommand::request(request::UPDATE_BROKER_CONFIG, Default::default())
            .with_body(text.into_bytes());
        let resp = self.call(broker_addr, cmd).await?;
        Ok(resp.remark.unwrap_or_default())
    }

    /// Sends the request `make` builds to every master in address order; the first SUCCESS wins.
    async fn first_master_answering(
        &self,
        make: impl Fn() -> RemotingCommand,
    ) -> Result<RemotingCommand> {
        let mut last_err = None;
        for addr in self.all_masters().await? {
            match self.call(&addr, make()).await {
                Ok(resp) => return Ok(resp),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| ClientError::Broker {
            addr: super::NAMESRV.to_owned(),
            code: response::SYSTEM_ERROR,
            remark: "no broker master is known".to_owned(),
        }))
    }
}

impl Admin {
    /// Messages of `topic` whose unique key (UNIQ_KEY, the id producers report) is `key`, oldest first: the
    /// original and any retried copies a broker stored (QUERY_MESSAGE with `_UNIQUE_KEY_QUERY`).
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] for an unknown topic, or a broker's refusal.
    pub async fn query_by_unique_key(
        &self,
        topic: &str,
        key: &str,
    ) -> Result<Vec<crate::MessageExt>> {
        self.query_by(topic, key, true, 32, 0, i64::MAX).await
    }
}
