//! The producer: sync, async, oneway, orderly, batch and request-reply sends, with retries on another broker.

mod fault;
mod send;
pub mod transaction;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use rmq_protocol::body::MessageQueue;
use rmq_protocol::headers::CheckTransactionStateRequestHeader;
use rmq_protocol::message::{properties as keys, UniqIdGenerator};

pub use self::fault::FaultTracker;
pub use self::transaction::{
    LocalTransactionState, TransactionChecker, TransactionProducer, TransactionSendResult,
};
use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::instance::{ClientInstance, ProducerHook};
use crate::message::{check_message, Message, MessageExt};

/// How a send went when the broker stored the message (Java `SendStatus`); refusals are errors instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Stored (and flushed/replicated as the broker is configured).
    SendOk,
    /// Stored, but the SYNC_FLUSH flush did not finish in time.
    FlushDiskTimeout,
    /// Stored, but the slave did not confirm in time.
    FlushSlaveTimeout,
    /// Stored, but no slave is available for SYNC_MASTER replication.
    SlaveNotAvailable,
}

/// Where a sent message landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// Outcome.
    pub status: SendStatus,
    /// The client-generated unique id (UNIQ_KEY), what consumers see as the msg id.
    pub msg_id: String,
    /// The broker's offset msg id (store host + commit-log offset), for VIEW_MESSAGE_BY_ID.
    pub offset_msg_id: String,
    /// The queue written.
    pub queue: MessageQueue,
    /// The message's offset in that queue.
    pub queue_offset: i64,
    /// Transaction id, for half messages.
    pub transaction_id: Option<String>,
    /// Broker region (MSG_REGION).
    pub region_id: Option<String>,
}

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

pub(crate) struct ProducerInner {
    pub(crate) opts: ProducerOptions,
    pub(crate) instance: Arc<ClientInstance>,
    pub(crate) fault: FaultTracker,
    pub(crate) uniq: UniqIdGenerator,
    pub(crate) shutdown: tokio_util::sync::CancellationToken,
}

/// Sends messages; cheap to clone (all clones share one producer group registration).
#[derive(Clone)]
pub struct Producer {
    pub(crate) inner: Arc<ProducerInner>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("group", &self.inner.opts.group)
            .finish_non_exhaustive()
    }
}

/// Ignores check-backs: a plain producer sends no half messages.
struct PlainHook;

impl ProducerHook for PlainHook {
    fn check_transaction(
        &self,
        _addr: String,
        header: CheckTransactionStateRequestHeader,
        _msg: MessageExt,
    ) {
        tracing::warn!(msg_id = ?header.msg_id, "transaction check-back for a producer group without a checker");
    }
}

impl Producer {
    /// Starts a producer: joins (or creates) the client instance and registers the group.
    pub async fn start(opts: ProducerOptions) -> Result<Producer> {
        Self::start_with_hook(opts, Arc::new(PlainHook)).await
    }

    pub(crate) async fn start_with_hook(
        opts: ProducerOptions,
        hook: Arc<dyn ProducerHook>,
    ) -> Result<Producer> {
        if opts.group.trim().is_empty() {
            return Err(ClientError::InvalidArgument {
                field: "producer_group",
                reason: "the producer group is empty".into(),
            });
        }
        let instance = ClientInstance::get_or_create(&opts.client)?;
        instance.register_producer(&opts.group, hook)?;
        let ip: IpAddr = opts
            .client
            .client_ip
            .parse()
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let inner = ProducerInner {
            uniq: UniqIdGenerator::new(ip),
            fault: FaultTracker::default(),
            shutdown: tokio_util::sync::CancellationToken::new(),
            instance,
            opts,
        };
        let producer = Producer {
            inner: Arc::new(inner),
        };
        producer.inner.instance.heartbeat_all().await;
        Ok(producer)
    }

    /// The producer group.
    pub fn group(&self) -> &str {
        &self.inner.opts.group
    }

    /// The shared client instance (routes, connections).
    pub fn instance(&self) -> &Arc<ClientInstance> {
        &self.inner.instance
    }

    /// Sends and waits until the broker has stored the message, retrying on another broker on failure.
    pub async fn send(&self, msg: Message) -> Result<SendResult> {
        self.inner
            .send_retrying(msg, None, self.inner.opts.retry_times_when_send_failed)
            .await
    }

    /// Starts a send in the background; the returned future resolves with its result (Java's async send).
    pub fn send_async(&self, msg: Message) -> BoxFuture<'static, Result<SendResult>> {
        let inner = self.inner.clone();
        let retries = inner.opts.retry_times_when_send_async_failed;
        let task = tokio::spawn(async move { inner.send_retrying(msg, None, retries).await });
        async move {
            task.await
                .unwrap_or(Err(ClientError::Shutdown("producer task")))
        }
        .boxed()
    }

    /// Sends without waiting for the broker (no result, no retry).
    pub async fn send_oneway(&self, msg: Message) -> Result<()> {
        self.inner.send_oneway(msg, None).await
    }

    /// Sends to one queue (no retry elsewhere: the caller chose the queue).
    pub async fn send_to_queue(&self, msg: Message, queue: &MessageQueue) -> Result<SendResult> {
        self.inner
            .send_retrying(msg, Some(Target::Queue(queue.clone())), 0)
            .await
    }

    /// Sends to the queue picked by `selector` from the topic's writable queues (orderly sends).
    pub async fn send_with_selector<F>(&self, msg: Message, selector: F) -> Result<SendResult>
    where
        F: Fn(&[MessageQueue]) -> usize + Send + Sync + 'static,
    {
        self.inner
            .send_retrying(msg, Some(Target::Selector(Arc::new(selector))), 0)
            .await
    }

    /// Sends to the queue `hash_key` maps to, so messages with one key keep their order (Java
    /// `SelectMessageQueueByHash`, without its negative-index bug for `i32::MIN` hash codes).
    pub async fn send_orderly(&self, msg: Message, hash_key: &str) -> Result<SendResult> {
        let hash = java_string_hash(hash_key);
        self.send_with_selector(msg, move |queues| queue_index_for_hash(hash, queues.len()))
            .await
    }

    /// Oneway send to the queue `hash_key` maps to.
    pub async fn send_oneway_orderly(&self, msg: Message, hash_key: &str) -> Result<()> {
        let hash = java_string_hash(hash_key);
        let selector: Selector =
            Arc::new(move |queues: &[MessageQueue]| queue_index_for_hash(hash, queues.len()));
        self.inner
            .send_oneway(msg, Some(Target::Selector(selector)))
            .await
    }

    /// Sends messages of one topic as batches of at most 4 MiB each; one result per message, in order.
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<Vec<SendResult>> {
        self.inner.send_batch(msgs).await
    }

    /// Sends a request and waits for the reply message (RocketMQ 4.6+ request-reply).
    pub async fn request(&self, msg: Message, timeout: Duration) -> Result<MessageExt> {
        self.inner.request(msg, timeout).await
    }

    /// Answers a request message received by a consumer: the reply goes back to the requesting client.
    pub async fn reply(
        &self,
        request: &MessageExt,
        body: impl Into<bytes::Bytes>,
    ) -> Result<SendResult> {
        let msg = reply_message(request, body.into())?;
        self.inner.send_retrying(msg, None, 0).await
    }

    /// Unregisters the group from every broker; later sends fail with [`ClientError::Shutdown`].
    pub async fn shutdown(&self) {
        if self.inner.shutdown.is_cancelled() {
            return;
        }
        self.inner.shutdown.cancel();
        self.inner
            .instance
            .unregister_producer(&self.inner.opts.group)
            .await;
    }
}

/// Picks a queue from the writable queues.
pub(crate) type Selector = Arc<dyn Fn(&[MessageQueue]) -> usize + Send + Sync>;

/// Where a send goes when not round-robin.
#[derive(Clone)]
pub(crate) enum Target {
    Queue(MessageQueue),
    Selector(Selector),
}

/// Java's `String.hashCode`, so a key maps to the same queue as from a Java producer.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// `|hash| % n`, computed in i64 so `i32::MIN` stays non-negative.
pub fn queue_index_for_hash(hash: i32, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    ((hash as i64).abs() % n as i64) as usize
}

/// The reply to `request` (Java `MessageUtil.createReplyMessage`): to `<cluster>_REPLY_TOPIC`, correlated.
pub fn reply_message(request: &MessageExt, body: bytes::Bytes) -> Result<Message> {
    let missing = |what: &str| ClientError::InvalidArgument {
        field: "request",
        reason: format!(
            "message {} has no {what} property; it is not a request",
            request.msg_id()
        ),
    };
    let cluster = request
        .property(keys::CLUSTER)
        .ok_or_else(|| missing(keys::CLUSTER))?;
    let correlation = request
        .property(keys::CORRELATION_ID)
        .ok_or_else(|| missing(keys::CORRELATION_ID))?;
    let reply_to = request
        .property(keys::REPLY_TO_CLIENT)
        .ok_or_else(|| missing(keys::REPLY_TO_CLIENT))?;
    let mut msg = Message::new(format!("{cluster}_REPLY_TOPIC"), body)
        .with_property(keys::MSG_TYPE, "reply")
        .with_property(keys::CORRELATION_ID, correlation)
        .with_property(keys::REPLY_TO_CLIENT, reply_to);
    if let Some(ttl) = request.property(keys::TTL) {
        msg = msg.with_property(keys::TTL, ttl);
    }
    Ok(msg)
}

impl ProducerInner {
    fn check(&self, msg: &Message) -> Result<()> {
        if self.shutdown.is_cancelled() {
            return Err(ClientError::Shutdown("producer"));
        }
        check_message(msg, self.opts.max_message_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_java() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("abc"), 96354);
        assert_eq!(
            java_string_hash("order-42"),
            "order-42"
                .chars()
                .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
        );
    }

    #[test]
    fn hash_index_is_never_negative() {
        assert_eq!(
            queue_index_for_hash(i32::MIN, 3),
            (2147483648i64 % 3) as usize
        );
        assert_eq!(queue_index_for_hash(-7, 4), 3);
        assert_eq!(queue_index_for_hash(7, 4), 3);
        assert_eq!(queue_index_for_hash(5, 0), 0);
    }
}
