//! `RocketMqTemplate`: rocketmq-spring's template — sends by destination `topic:tag`, with payload
//! conversion, orderly/batch/delayed/transactional sends and request-reply. Cheap to clone.

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::CodecHandle;
use crate::error::{ClientError, Result};
use crate::message::{Message, MessageExt};
use crate::producer::{
    LocalTransactionState, Producer, SendResult, TransactionProducer, TransactionSendResult,
};

/// A message to send through a template: the body plus keys and user headers (rocketmq-spring's `Message<?>`
/// with `KEYS` and custom headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Encoded body.
    pub body: Bytes,
    /// Message keys.
    pub keys: Vec<String>,
    /// User properties.
    pub headers: Vec<(String, String)>,
}

impl Outgoing {
    /// A raw body.
    pub fn new(body: impl Into<Bytes>) -> Self {
        Outgoing {
            body: body.into(),
            keys: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds a key (indexed by the broker, the idempotency key of consumers).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.keys.push(key.into());
        self
    }

    /// Adds a user property.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

impl From<String> for Outgoing {
    fn from(s: String) -> Self {
        Outgoing::new(s)
    }
}
impl From<&str> for Outgoing {
    fn from(s: &str) -> Self {
        Outgoing::new(s.to_string())
    }
}
impl From<Vec<u8>> for Outgoing {
    fn from(b: Vec<u8>) -> Self {
        Outgoing::new(b)
    }
}
impl From<Bytes> for Outgoing {
    fn from(b: Bytes) -> Self {
        Outgoing::new(b)
    }
}

/// What a transactional template runs for each half message it sends: the application's
/// `LocalTransactionListener` bound to its context (see [`crate::transaction_listener`]), behind a trait so
/// the template does not depend on the context that holds it.
#[async_trait::async_trait]
pub trait LocalTransaction: Send + Sync + 'static {
    /// Whether a transaction can run now (checked before the half message is sent).
    fn ready(&self) -> Result<()>;
    /// The argument type `execute` takes (id and name).
    fn arg_type(&self) -> (TypeId, &'static str);
    /// Runs the local transaction for a half message that was just stored.
    async fn execute(&self, msg: &Message, arg: &(dyn Any + Send + Sync)) -> LocalTransactionState;
}

struct TemplateInner {
    name: String,
    producer: Producer,
    tx: Option<(TransactionProducer, Arc<dyn LocalTransaction>)>,
    codec: CodecHandle,
    puller: parking_lot::RwLock<Option<crate::consumer::LitePullConsumer>>,
}

/// Sends messages the way rocketmq-spring's `RocketMQTemplate` does.
#[derive(Clone)]
pub struct RocketMqTemplate {
    inner: Arc<TemplateInner>,
}

impl std::fmt::Debug for RocketMqTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocketMqTemplate")
            .field("name", &self.inner.name)
            .field("group", &self.inner.producer.group())
            .finish_non_exhaustive()
    }
}

/// Splits `topic:tag` (rocketmq-spring's destination form).
pub fn parse_destination(dest: &str) -> Result<(String, Option<String>)> {
    let (topic, tag) = match dest.split_once(':') {
        Some((t, tag)) => (t, Some(tag)),
        None => (dest, None),
    };
    crate::message::check_topic(topic)?;
    let tag = tag
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    Ok((topic.to_string(), tag))
}

impl RocketMqTemplate {
    /// A template over a started producer.
    pub fn new(name: impl Into<String>, producer: Producer, codec: CodecHandle) -> Self {
        RocketMqTemplate {
            inner: Arc::new(TemplateInner {
                name: name.into(),
                producer,
                tx: None,
                codec,
                puller: parking_lot::RwLock::new(None),
            }),
        }
    }

    /// A transactional template: its half messages run `local`.
    pub fn transactional(
        name: impl Into<String>,
        producer: TransactionProducer,
        local: Arc<dyn LocalTransaction>,
        codec: CodecHandle,
    ) -> Self {
        RocketMqTemplate {
            inner: Arc::new(TemplateInner {
                name: name.into(),
                producer: producer.producer().clone(),
                tx: Some((producer, local)),
                codec,
                puller: parking_lot::RwLock::new(None),
            }),
        }
    }

    /// Whether this template sends half messages (declared with `transactional_template`).
    pub fn is_transactional(&self) -> bool {
        self.inner.tx.is_some()
    }

    /// Gives the template the pull consumer `receive` reads from (`rocketmq.pull-consumer.*`, or the older
    /// `rocketmq.consumer.*`).
    pub fn set_pull_consumer(&self, consumer: crate::consumer::LitePullConsumer) {
        *self.inner.puller.write() = Some(consumer);
    }

    /// The pull consumer behind `receive`, if one is configured (rocketmq-spring's `RocketMQTemplate.getConsumer()`),
    /// for what the template does not wrap: seek, pause, commit, the group it runs as.
    pub fn consumer(&self) -> Option<crate::consumer::LitePullConsumer> {
        self.inner.puller.read().clone()
    }

    /// Polls the template's pull consumer for up to `timeout`; each message body decoded as `T` (a body that
    /// does not decode is an error naming the message).
    pub async fn receive<T: DeserializeOwned>(&self, timeout: Duration) -> Result<Vec<T>> {
        self.receive_raw(timeout)
            .await?
            .iter()
            .map(|m| {
                self.inner
                    .codec
                    .decode::<T>(&m.body)
                    .map_err(|e| ClientError::InvalidArgument {
                        field: "payload",
                        reason: format!(
                            "message {} is not a {}: {e}",
                            m.msg_id(),
                            std::any::type_name::<T>()
                        ),
                    })
            })
            .collect()
    }

    /// Polls the template's pull consumer, returning the messages as received.
    pub async fn receive_raw(&self, timeout: Duration) -> Result<Vec<MessageExt>> {
        let puller = self.inner.puller.read().clone();
        match puller {
            Some(p) => p.poll(timeout).await,
            None => Err(ClientError::InvalidArgument {
                field: "rocketmq.pull-consumer.group",
                reason: format!(
                    "template {} has no pull consumer; set rocketmq.pull-consumer.group and rocketmq.pull-consumer.topic \
                     (or rocketmq.consumer.group and rocketmq.consumer.topic)",
                    self.inner.name
                ),
            }),
        }
    }

    /// Shuts the producer (and the pull consumer, committing what was received) down.
    pub async fn shutdown(&self) {
        let puller = self.inner.puller.write().take();
        if let Some(p) = puller {
            p.shutdown().await;
        }
        self.inner.producer.shutdown().await;
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The underlying producer (for anything the template does not wrap).
    pub fn producer(&self) -> &Producer {
        &self.inner.producer
    }

    /// Encodes a value with the application's codec (JSON by default).
    pub fn payload<T: Serialize + ?Sized>(&self, value: &T) -> Result<Outgoing> {
        self.inner
            .codec
            .encode(value)
            .map(Outgoing::new)
            .map_err(|reason| ClientError::InvalidArgument {
                field: "payload",
                reason,
            })
    }

    fn message(&self, dest: &str, out: Outgoing) -> Result<Message> {
        let (topic, tag) = parse_destination(dest)?;
        let mut msg = Message::new(topic, out.body);
        if let Some(tag) = tag {
            msg = msg.with_tags(tag);
        }
        if !out.keys.is_empty() {
            msg = msg.with_keys(out.keys);
        }
        for (k, v) in out.headers {
            msg = msg.with_property(k, v);
        }
        Ok(msg)
    }

    /// Sends and waits for the broker.
    pub async fn sync_send(&self, dest: &str, msg: impl Into<Outgoing>) -> Result<SendResult> {
        self.inner
            .producer
            .send(self.message(dest, msg.into())?)
            .await
    }

    /// Starts a send and returns its result as a future (rocketmq-spring's asyncSend with a callback).
    pub fn async_send(
        &self,
        dest: &str,
        msg: impl Into<Outgoing>,
    ) -> BoxFuture<'static, Result<SendResult>> {
        match self.message(dest, msg.into()) {
            Ok(m) => self.inner.producer.send_async(m),
            Err(e) => async move { Err(e) }.boxed(),
        }
    }

    /// Sends without waiting for the broker.
    pub async fn send_one_way(&self, dest: &str, msg: impl Into<Outgoing>) -> Result<()> {
        self.inner
            .producer
            .send_oneway(self.message(dest, msg.into())?)
            .await
    }

    /// Sends to the queue `hash_key` selects, keeping per-key order.
    pub async fn sync_send_orderly(
        &self,
        dest: &str,
        msg: impl Into<Outgoing>,
        hash_key: &str,
    ) -> Result<SendResult> {
        self.inner
            .producer
            .send_orderly(self.message(dest, msg.into())?, hash_key)
            .await
    }

    /// Orderly send as a future.
    pub fn async_send_orderly(
        &self,
        dest: &str,
        msg: impl Into<Outgoing>,
        hash_key: &str,
    ) -> BoxFuture<'static, Result<SendResult>> {
        let producer = self.inner.producer.clone();
        let key = hash_key.to_string();
        let m = self.message(dest, msg.into());
        let task = tokio::spawn(async move { producer.send_orderly(m?, &key).await });
        async move {
            task.await
                .unwrap_or(Err(ClientError::Shutdown("template send task")))
        }
        .boxed()
    }

    /// Orderly oneway send.
    pub async fn send_one_way_orderly(
        &self,
        dest: &str,
        msg: impl Into<Outgoing>,
        hash_key: &str,
    ) -> Result<()> {
        self.inner
            .producer
            .send_oneway_orderly(self.message(dest, msg.into())?, hash_key)
            .await
    }

    /// Sends a batch to one destination (split into ≤ 4 MiB requests).
    pub async fn sync_send_batch(
        &self,
        dest: &str,
        msgs: Vec<Outgoing>,
    ) -> Result<Vec<SendResult>> {
        let msgs = msgs
            .into_iter()
            .map(|m| self.message(dest, m))
            .collect::<Result<Vec<_>>>()?;
        self.inner.producer.send_batch(msgs).await
    }

    /// Sends with a broker delay level (1 = 1 s … 18 = 2 h).
    pub async fn sync_send_delay_level(
        &self,
        dest: &str,
        msg: impl Into<Outgoing>,
        level: i32,
    ) -> Result<SendResult> {
        let m = self.message(dest, msg.into())?.with_delay_level(level);
        self.inner.producer.send(m).await
    }

    /// Sends for delivery after `delay` (timer message).
    pub async fn sync_send_delay_time(
        &self,
        dest: &str,
        msg: impl Into<Outgoing>,
        delay: Duration,
    ) -> Result<SendResult> {
        let m = self.message(dest, msg.into())?.with_delay(delay);
        self.inner.producer.send(m).await
    }

    /// Sends for delivery at `at` (timer message).
    pub async fn sync_send_deliver_time(
        &self,
        dest: &str,
        msg: impl Into<Outgoing>,
        at: SystemTime,
    ) -> Result<SendResult> {
        let m = self.message(dest, msg.into())?.with_delivery_time(at);
        self.inner.producer.send(m).await
    }

    /// Serializes `value` with the codec and sends it.
    pub async fn convert_and_send<T: Serialize + ?Sized>(
        &self,
        dest: &str,
        value: &T,
    ) -> Result<SendResult> {
        let out = self.payload(value)?;
        self.sync_send(dest, out).await
    }

    /// [`convert_and_send`](Self::convert_and_send) with keys and headers (rocketmq-spring's
    /// `convertAndSend(destination, payload, headers)`): `with` adds them to the serialized message, e.g.
    /// `|m| m.key(&order_id).header("region", "eu")`.
    pub async fn convert_and_send_with<T: Serialize + ?Sized>(
        &self,
        dest: &str,
        value: &T,
        with: impl FnOnce(Outgoing) -> Outgoing,
    ) -> Result<SendResult> {
        let out = with(self.payload(value)?);
        self.sync_send(dest, out).await
    }

    /// Sends a half message, runs the template's transaction listener with `arg` (of the listener's
    /// `Arg` type; `()` when it takes none), and commits or rolls back. An `arg` of another type is refused
    /// before anything is sent.
    pub async fn send_in_transaction<A: Send + Sync + 'static>(
        &self,
        dest: &str,
        msg: impl Into<Outgoing>,
        arg: A,
    ) -> Result<TransactionSendResult> {
        let Some((tx, listener)) = &self.inner.tx else {
            return Err(ClientError::InvalidArgument {
                field: "template",
                reason: format!("template {} has no transaction listener", self.inner.name),
            });
        };
        let (want, want_name) = listener.arg_type();
        if TypeId::of::<A>() != want {
            return Err(ClientError::InvalidArgument {
                field: "arg",
                reason: format!(
                    "the transaction listener of template {} takes {want_name}, not {}",
                    self.inner.name,
                    std::any::type_name::<A>()
                ),
            });
        }
        listener.ready()?;
        let m = self.message(dest, msg.into())?;
        let view = m.clone();
        let listener = listener.clone();
        tx.send_in_transaction(m, move |_sent| async move {
            listener.execute(&view, &arg).await
        })
        .await
    }

    /// Sends a request and waits for the reply, decoded as `R` by the codec.
    ///
    /// A reply listener returning a `String` answers with the text's UTF-8 bytes (as rocketmq-spring does),
    /// which is not JSON: when the codec cannot decode the body and it is UTF-8, the text itself is offered to
    /// `R`, so `send_and_receive::<String>` gets the text (a JSON string literal is still unquoted by the
    /// codec). Use [`send_and_receive_raw`](Self::send_and_receive_raw) for raw bytes.
    pub async fn send_and_receive<R: DeserializeOwned>(
        &self,
        dest: &str,
        msg: impl Into<Outgoing>,
        timeout: Duration,
    ) -> Result<R> {
        let reply = self.send_and_receive_raw(dest, msg, timeout).await?;
        self.inner
            .codec
            .decode::<R>(&reply.body)
            .or_else(|reason| {
                use serde::de::IntoDeserializer;
                let text = std::str::from_utf8(&reply.body).map_err(|_| reason.clone())?;
                R::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(text))
                    .map_err(|_| reason)
            })
            .map_err(|reason| ClientError::InvalidArgument {
                field: "reply",
                reason,
            })
    }

    /// Request-reply returning the reply message itself.
    pub async fn send_and_receive_raw(
        &self,
        dest: &str,
        msg: impl Into<Outgoing>,
        timeout: Duration,
    ) -> Result<MessageExt> {
        let m = self.message(dest, msg.into())?;
        self.inner.producer.request(m, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_split_topic_and_tag() {
        assert_eq!(
            parse_destination("orderTopic:order_cancel").unwrap(),
            ("orderTopic".into(), Some("order_cancel".into()))
        );
        assert_eq!(parse_destination("t").unwrap(), ("t".into(), None));
        assert_eq!(parse_destination("t:").unwrap(), ("t".into(), None));
        assert!(parse_destination("bad topic:x").is_err());
    }
}
