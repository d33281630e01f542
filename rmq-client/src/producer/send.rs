//! The send path: queue choice, the SEND request, retries on another broker, batches and request-reply.

use rmq_protocol::clock::system_now_ms;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rmq_protocol::body::MessageQueue;
use rmq_protocol::codes::{request as req, response};
use rmq_protocol::headers::{SendMessageRequestHeader, SendMessageResponseHeader};
use rmq_protocol::message::{batch, properties as keys, sysflag};

use super::inner::ProducerInner;
use super::result::{SendResult, SendStatus};
use super::target::Target;
use crate::error::{ClientError, Result};
use crate::message::{check_topic, compress, Message, MessageExt};
use crate::route::PublishInfo;

/// Largest batch request body; larger batches are split (RocketMQ's 4 MiB message limit).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// What the wire needs from one message after the producer's preparation.
struct Prepared {
    topic: String,
    body: Bytes,
    flag: i32,
    sys_flag: i32,
    properties: String,
    uniq_id: String,
    code: i32,
    /// `%RETRY%` sends only: the counts a resend carries as RECONSUME_TIME / MAX_RECONSUME_TIMES, which go
    /// into the header (and out of the properties), as Java's producer moves them.
    reconsume_times: Option<i32>,
    max_reconsume_times: Option<i32>,
}

impl ProducerInner {
    async fn publish_info(&self, topic: &str) -> Result<Arc<PublishInfo>> {
        self.instance
            .publish_info_or_default(
                topic,
                &self.opts.create_topic_key,
                self.opts.default_topic_queue_nums,
            )
            .await
    }

    /// Sets UNIQ_KEY (once; retries keep it), compresses, marks transactions; the topic gets the namespace.
    fn prepare(&self, msg: &mut Message) -> Prepared {
        let uniq_id = match msg.property(keys::UNIQ_KEY) {
            Some(id) => id.to_string(),
            None => {
                let id = self.uniq.next_id();
                msg.properties_mut().insert(keys::UNIQ_KEY, id.clone());
                id
            }
        };
        let mut sys_flag = 0;
        let mut body = msg.body.clone();
        if body.len() > self.opts.compress_msg_body_over_howmuch {
            if let Ok(packed) = compress(&body, self.opts.compress_level) {
                if packed.len() < body.len() {
                    body = Bytes::from(packed);
                    sys_flag |= sysflag::COMPRESSED_FLAG | sysflag::COMPRESSION_ZLIB_TYPE;
                }
            }
        }
        if msg.property(keys::TRANSACTION_PREPARED) == Some("true") {
            sys_flag |= sysflag::TRANSACTION_PREPARED_TYPE;
        }
        let (mut reconsume_times, mut max_reconsume_times) = (None, None);
        if rmq_protocol::topic::is_retry_topic(&msg.topic) {
            let props = msg.properties_mut();
            reconsume_times = props
                .remove(keys::RECONSUME_TIME)
                .and_then(|v| v.trim().parse().ok());
            max_reconsume_times = props
                .remove(keys::MAX_RECONSUME_TIMES)
                .and_then(|v| v.trim().parse().ok());
        }
        let code = if msg.property(keys::MSG_TYPE) == Some("reply") {
            req::SEND_REPLY_MESSAGE_V2
        } else {
            req::SEND_MESSAGE_V2
        };
        Prepared {
            topic: self.opts.client.wrap(&msg.topic),
            body,
            flag: msg.flag,
            sys_flag,
            properties: msg.properties().encode(),
            uniq_id,
            code,
            reconsume_times,
            max_reconsume_times,
        }
    }

    fn header(&self, p: &Prepared, queue: &MessageQueue, batch: bool) -> SendMessageRequestHeader {
        let retry = rmq_protocol::topic::is_retry_topic(&p.topic);
        SendMessageRequestHeader {
            producer_group: self.opts.group.clone(),
            topic: p.topic.clone(),
            default_topic: self.opts.create_topic_key.clone(),
            default_topic_queue_nums: self.opts.default_topic_queue_nums,
            queue_id: queue.queue_id,
            sys_flag: p.sys_flag,
            born_timestamp: system_now_ms(),
            flag: p.flag,
            properties: Some(p.properties.clone()),
            reconsume_times: retry.then_some(p.reconsume_times.unwrap_or(0)),
            unit_mode: Some(false),
            max_reconsume_times: p.max_reconsume_times.filter(|_| retry),
            batch: Some(batch),
            broker_name: Some(queue.broker_name.clone()),
        }
    }

    /// Chooses a queue: the target if given, else round-robin skipping avoided brokers and the last failed one.
    fn select(
        &self,
        info: &PublishInfo,
        target: Option<&Target>,
        last_failed: Option<&str>,
    ) -> Result<MessageQueue> {
        let queues = &info.queues;
        match target {
            Some(Target::Queue(q)) => return Ok(q.clone()),
            Some(Target::Selector(f)) => {
                let idx = f(queues);
                return queues
                    .get(idx)
                    .cloned()
                    .ok_or_else(|| ClientError::InvalidArgument {
                        field: "selector",
                        reason: format!(
                            "selected queue index {idx} but the topic has {} writable queues",
                            queues.len()
                        ),
                    });
            }
            None => {}
        }
        let n = queues.len();
        if self.opts.send_latency_fault_enable {
            for _ in 0..n {
                let q = &queues[info.next_index() % n];
                if Some(q.broker_name.as_str()) != last_failed
                    && self.fault.is_available(&q.broker_name)
                {
                    return Ok(q.clone());
                }
            }
        }
        for _ in 0..n {
            let q = &queues[info.next_index() % n];
            if Some(q.broker_name.as_str()) != last_failed {
                return Ok(q.clone());
            }
        }
        Ok(queues[info.next_index() % n].clone())
    }

    /// A sync send with up to `retries` more attempts, each on another broker where possible, within the timeout.
    pub(crate) async fn send_retrying(
        &self,
        mut msg: Message,
        target: Option<Target>,
        retries: u32,
    ) -> Result<SendResult> {
        self.check(&msg)?;
        let prepared = self.prepare(&mut msg);
        self.with_retries(
            &prepared.topic,
            target.as_ref(),
            retries,
            |queue, remaining| self.send_one(&prepared, queue, remaining),
        )
        .await
    }

    /// The retry loop of every sync send, single or batch: chooses a queue of `topic` (skipping the broker
    /// that just failed), runs `attempt` on it with what is left of the send timeout, and tries again after a
    /// retryable failure, up to `retries` more times, refetching the route first (a failure may mean a stale
    /// one). Latencies and failures feed the fault tracker.
    async fn with_retries<T, F, Fut>(
        &self,
        topic: &str,
        target: Option<&Target>,
        retries: u32,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut(MessageQueue, Duration) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let deadline = Instant::now() + self.opts.send_timeout;
        let mut last_failed: Option<String> = None;
        let mut last_err = None;
        for n in 0..=retries {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            if n > 0 {
                let _ = self.instance.update_route(topic).await;
            }
            let info = self.publish_info(topic).await?;
            let queue = self.select(&info, target, last_failed.as_deref())?;
            let broker = queue.broker_name.clone();
            let started = Instant::now();
            match attempt(queue, remaining).await {
                Ok(result) => {
                    self.fault.record(&broker, started.elapsed(), false);
                    return Ok(result);
                }
                Err(e) if e.is_retryable() => {
                    tracing::debug!(%broker, attempt = n, error = %e, "send failed; retrying");
                    self.fault.record(&broker, started.elapsed(), true);
                    last_failed = Some(broker);
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or(ClientError::Timeout {
            addr: topic.to_string(),
            timeout: self.opts.send_timeout,
        }))
    }

    /// One SEND of a prepared message to `queue`.
    async fn send_one(
        &self,
        p: &Prepared,
        queue: MessageQueue,
        timeout: Duration,
    ) -> Result<SendResult> {
        let addr = self
            .instance
            .master_addr_for(&queue.broker_name, &p.topic)
            .await?;
        let cmd = self
            .header(p, &queue, false)
            .to_command(p.code)
            .with_body(p.body.clone());
        let resp = self.instance.invoke_raw(&addr, cmd, timeout).await?;
        let status = match resp.code {
            response::SUCCESS => SendStatus::SendOk,
            response::FLUSH_DISK_TIMEOUT => SendStatus::FlushDiskTimeout,
            response::FLUSH_SLAVE_TIMEOUT => SendStatus::FlushSlaveTimeout,
            response::SLAVE_NOT_AVAILABLE => SendStatus::SlaveNotAvailable,
            code => {
                return Err(ClientError::Broker {
                    addr,
                    code,
                    remark: resp.remark.unwrap_or_default(),
                })
            }
        };
        let h: SendMessageResponseHeader = resp.decode_header()?;
        Ok(SendResult {
            status,
            msg_id: p.uniq_id.clone(),
            offset_msg_id: h.msg_id,
            queue: MessageQueue {
                queue_id: h.queue_id,
                ..queue
            },
            queue_offset: h.queue_offset,
            transaction_id: h.transaction_id,
            region_id: resp.ext_fields.get(keys::MSG_REGION).cloned(),
        })
    }

    pub(crate) async fn send_oneway(&self, mut msg: Message, target: Option<Target>) -> Result<()> {
        self.check(&msg)?;
        let p = self.prepare(&mut msg);
        let info = self.publish_info(&p.topic).await?;
        let queue = self.select(&info, target.as_ref(), None)?;
        let addr = self
            .instance
            .master_addr_for(&queue.broker_name, &p.topic)
            .await?;
        let cmd = self
            .header(&p, &queue, false)
            .to_command(p.code)
            .with_body(p.body);
        self.instance.invoke_oneway(&addr, cmd).await
    }

    pub(crate) async fn send_batch(&self, msgs: Vec<Message>) -> Result<Vec<SendResult>> {
        let Some(first) = msgs.first() else {
            return Ok(Vec::new());
        };
        let topic = first.topic.clone();
        check_topic(&topic)?;
        let mut chunks: Vec<Vec<Message>> = Vec::new();
        let mut size = 0usize;
        for mut msg in msgs {
            self.check(&msg)?;
            if msg.topic != topic {
                return Err(ClientError::InvalidArgument {
                    field: "topic",
                    reason: format!(
                        "a batch goes to one topic: {:?} differs from {topic:?}",
                        msg.topic
                    ),
                });
            }
            if msg.delay_level().is_some_and(|l| l > 0) {
                return Err(ClientError::InvalidArgument {
                    field: "delay_level",
                    reason: "batch messages cannot be delayed".into(),
                });
            }
            if !msg.properties().contains(keys::UNIQ_KEY) {
                let id = self.uniq.next_id();
                msg.properties_mut().insert(keys::UNIQ_KEY, id);
            }
            let entry =
                batch::BATCH_RECORD_OVERHEAD + msg.body.len() + msg.properties().encode().len();
            if chunks.is_empty() || size + entry > MAX_BATCH_BYTES {
                chunks.push(Vec::new());
                size = 0;
            }
            size += entry;
            if let Some(last) = chunks.last_mut() {
                last.push(msg);
            }
        }
        let mut results = Vec::new();
        for chunk in chunks {
            results.extend(self.send_batch_chunk(&topic, chunk).await?);
        }
        Ok(results)
    }

    async fn send_batch_chunk(&self, topic: &str, chunk: Vec<Message>) -> Result<Vec<SendResult>> {
        let mut body = BytesMut::new();
        let mut ids = Vec::with_capacity(chunk.len());
        for msg in &chunk {
            batch::encode_batch_entry(&mut body, msg.flag, &msg.body, &msg.properties().encode())?;
            ids.push(msg.property(keys::UNIQ_KEY).unwrap_or_default().to_string());
        }
        let prepared = Prepared {
            topic: self.opts.client.wrap(topic),
            body: body.freeze(),
            flag: 0,
            sys_flag: 0,
            properties: String::new(),
            uniq_id: ids.join(","),
            code: req::SEND_BATCH_MESSAGE,
            reconsume_times: None,
            max_reconsume_times: None,
        };
        let retries = self.opts.retry_times_when_send_failed;
        self.with_retries(&prepared.topic, None, retries, |queue, remaining| {
            self.send_batch_once(&prepared, &ids, queue, remaining)
        })
        .await
    }

    /// One SEND_BATCH_MESSAGE of an encoded chunk to `queue`; one result per message id, in order.
    async fn send_batch_once(
        &self,
        p: &Prepared,
        ids: &[String],
        queue: MessageQueue,
        timeout: Duration,
    ) -> Result<Vec<SendResult>> {
        let addr = self
            .instance
            .master_addr_for(&queue.broker_name, &p.topic)
            .await?;
        let cmd = self
            .header(p, &queue, true)
            .to_command(req::SEND_BATCH_MESSAGE)
            .with_body(p.body.clone());
        let resp = self.instance.invoke(&addr, cmd, timeout).await?;
        let h: SendMessageResponseHeader = resp.decode_header()?;
        let offset_ids: Vec<&str> = h.msg_id.split(',').collect();
        let region_id = resp.ext_fields.get(keys::MSG_REGION);
        Ok(ids
            .iter()
            .enumerate()
            .map(|(i, id)| SendResult {
                status: SendStatus::SendOk,
                msg_id: id.clone(),
                offset_msg_id: offset_ids.get(i).copied().unwrap_or_default().to_string(),
                queue: MessageQueue {
                    topic: queue.topic.clone(),
                    broker_name: queue.broker_name.clone(),
                    queue_id: h.queue_id,
                },
                queue_offset: h.queue_offset + i as i64,
                transaction_id: None,
                region_id: region_id.cloned(),
            })
            .collect())
    }

    pub(crate) async fn request(
        self: &Arc<Self>,
        msg: Message,
        timeout: Duration,
    ) -> Result<MessageExt> {
        let correlation_id = self.uniq.next_id();
        let msg = msg
            .with_property(keys::CORRELATION_ID, correlation_id.clone())
            .with_property(keys::REPLY_TO_CLIENT, self.instance.client_id())
            .with_property(keys::TTL, timeout.as_millis().to_string());
        // The broker pushes the reply over a connection it knows from our heartbeat.
        let request_topic = msg.topic.clone();
        let topic = self.opts.client.wrap(&msg.topic);
        if let Ok(info) = self.publish_info(&topic).await {
            for q in &info.queues {
                if let Some(addr) = self.instance.master_addr(&q.broker_name) {
                    let _ = self.instance.heartbeat(&addr).await;
                }
            }
        }
        let waiter = self.instance.expect_reply(&correlation_id);
        let started = Instant::now();
        if let Err(e) = self.send_retrying(msg, None, 0).await {
            self.instance.forget_reply(&correlation_id);
            return Err(e);
        }
        let left = timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, waiter).await {
            Ok(Ok(mut reply)) => {
                crate::message::decompress_in_place(&mut reply)?;
                Ok(reply)
            }
            Ok(Err(_)) => Err(ClientError::Shutdown("client instance")),
            Err(_) => {
                self.instance.forget_reply(&correlation_id);
                Err(ClientError::NoReply {
                    topic: request_topic,
                    correlation_id,
                    timeout,
                })
            }
        }
    }
}
