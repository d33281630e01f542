//! The producer's handle: start, the send variants (sync, async, oneway, orderly, batch, request-reply) and
//! shutdown.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use rmq_protocol::body::MessageQueue;
use rmq_protocol::headers::CheckTransactionStateRequestHeader;
use rmq_protocol::message::UniqIdGenerator;
use tokio_util::sync::CancellationToken;

use super::fault::FaultTracker;
use super::inner::ProducerInner;
use super::options::ProducerOptions;
use super::reply::reply_message;
use super::result::SendResult;
use super::target::{java_string_hash, queue_index_for_hash, Selector, Target};
use crate::error::{ClientError, Result};
use crate::instance::{ClientInstance, ProducerHook};
use crate::message::{Message, MessageExt};

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
            shutdown: CancellationToken::new(),
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
