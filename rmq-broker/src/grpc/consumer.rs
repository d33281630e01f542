//! The consumer RPCs of MessagingService over the broker's [`PopService`]: QueryAssignment, ReceiveMessage
//! (POP with long polling), AckMessage, ChangeInvisibleDuration and ForwardMessageToDeadLetterQueue, answered
//! as Apache's proxy answers them (docs/pop-java.md §12).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use rmq_grpc::prost_types;
use rmq_grpc::v2::{
    receive_message_response, AckMessageRequest, AckMessageResponse, AckMessageResultEntry,
    Assignment, ChangeInvisibleDurationRequest, ChangeInvisibleDurationResponse, Code, Digest,
    DigestType, Encoding, FilterType, ForwardMessageToDeadLetterQueueRequest,
    ForwardMessageToDeadLetterQueueResponse, Message, MessageType, QueryAssignmentRequest,
    QueryAssignmentResponse, ReceiveMessageRequest, ReceiveMessageResponse, Resource,
    SystemProperties,
};
use rmq_protocol::message::properties::{self, split_keys};
use rmq_protocol::message::stored::{body_crc, decode_stored, MessageExt};
use rmq_protocol::pop::ExtraInfo;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::convert::{self, error_status, ok, status};
use super::messaging::{wrapped, Messaging};
use crate::broker::service::pop::{
    AckRequest, ChangeInvisible, InitMode, PopRequest, MAX_POP_BATCH,
};
use crate::broker::service::write::SendBack;
use crate::broker::service::ServiceError;

/// `grpcClientConsumerMaxLongPollingTimeoutMillis`: the longest a ReceiveMessage waits.
const MAX_LONG_POLLING: Duration = Duration::from_secs(20);
/// `maxInvisibleTimeMills`: the longest invisible duration (12 h).
const MAX_INVISIBLE_MS: i64 = 12 * 3600 * 1000;
/// `defaultInvisibleTimeMills`: the invisible time of an auto-renewed receive.
const DEFAULT_INVISIBLE_MS: i64 = 60_000;
/// What is left of the client's deadline for the answer to travel back.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

pub(super) fn millis(d: &prost_types::Duration) -> i64 {
    d.seconds.saturating_mul(1000) + i64::from(d.nanos / 1_000_000)
}

fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn duration(ms: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// The `grpc-timeout` the client set, if any (`<n><unit>`).
fn deadline_of<T>(req: &Request<T>) -> Option<Duration> {
    let v = req.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (n, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

fn host(a: &SocketAddr) -> String {
    a.to_string()
}

/// The protocol message of a stored record, as the proxy's `GrpcConverter` builds it; a popped one carries
/// its receipt handle.
pub(super) fn to_message(
    record: &bytes::Bytes,
    topic: &Resource,
    popped: Option<(&ExtraInfo, i32)>,
) -> Result<Message, String> {
    let (m, _): (MessageExt, usize) =
        decode_stored(record, true).map_err(|e| format!("a stored record does not decode: {e}"))?;
    let props = &m.properties;
    let message_type = if props
        .get(properties::TRANSACTION_PREPARED)
        .is_some_and(|v| v == "true")
    {
        MessageType::Transaction
    } else if props.contains(properties::SHARDING_KEY) {
        MessageType::Fifo
    } else if props.contains(properties::TIMER_DELIVER_MS)
        || props.contains(properties::DELAY_TIME_LEVEL)
    {
        MessageType::Delay
    } else {
        MessageType::Normal
    };
    let user_properties: HashMap<String, String> = props
        .iter()
        .filter(|(k, _)| !properties::is_system(k) && *k != properties::SHARDING_KEY)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let message_id = m
        .property(properties::UNIQ_KEY)
        .map(str::to_owned)
        .unwrap_or_else(|| m.offset_msg_id());
    let system = SystemProperties {
        tag: m.property(properties::TAGS).map(str::to_owned),
        keys: m
            .property(properties::KEYS)
            .map(|k| split_keys(k).map(str::to_owned).collect())
            .unwrap_or_default(),
        message_id,
        body_digest: Some(Digest {
            r#type: DigestType::Crc32 as i32,
            checksum: format!("{:08X}", body_crc(&m.body) as u32),
        }),
        body_encoding: Encoding::Identity as i32,
        message_type: message_type as i32,
        born_timestamp: Some(timestamp(m.born_timestamp)),
        born_host: host(&m.born_host),
        store_timestamp: Some(timestamp(m.store_timestamp)),
        store_host: host(&m.store_host),
        delivery_timestamp: m
            .property(properties::TIMER_DELIVER_MS)
            .and_then(|v| v.parse::<i64>().ok())
            .map(timestamp),
        receipt_handle: popped.map(|(h, _)| h.to_string()),
        queue_id: m.queue_id,
        queue_offset: Some(m.queue_offset),
        invisible_duration: popped.map(|(h, _)| duration(h.invisible_time)),
        delivery_attempt: Some(
            popped
                .map_or(m.reconsume_times, |(_, r)| r)
                .saturating_add(1),
        ),
        message_group: m.property(properties::SHARDING_KEY).map(str::to_owned),
        ..SystemProperties::default()
    };
    Ok(Message {
        topic: Some(topic.clone()),
        user_properties,
        system_properties: Some(system),
        body: m.body.to_vec(),
    })
}

fn receive_status(s: rmq_grpc::v2::Status) -> ReceiveMessageResponse {
    ReceiveMessageResponse {
        content: Some(receive_message_response::Content::Status(s)),
    }
}

impl Messaging {
    /// QueryAssignment: this broker's whole topic for the group, as the proxy assigns a POP consumer the
    /// broker's acting queue (queue id -1 stands for all of them).
    pub(super) async fn query_assignment_rpc(
        &self,
        request: Request<QueryAssignmentRequest>,
    ) -> Result<Response<QueryAssignmentResponse>, Status> {
        let req = request.into_inner();
        let Some(topic) = req.topic else {
            return Ok(Response::new(QueryAssignmentResponse {
                status: Some(status(Code::IllegalTopic, "the request names no topic")),
                assignments: Vec::new(),
            }));
        };
        let name = wrapped(&topic);
        let admin = &self.services.admin;
        let Some(cfg) = admin.topics.get(&name) else {
            return Ok(Response::new(QueryAssignmentResponse {
                status: Some(status(
                    Code::TopicNotFound,
                    format!("topic {name} does not exist"),
                )),
                assignments: Vec::new(),
            }));
        };
        let mut queues = convert::route_queues(
            &topic.resource_namespace,
            &cfg,
            &admin.config.broker_name,
            self.advertised,
        );
        let assignments = queues
            .drain(..)
            .take(1)
            .map(|mut q| {
                q.id = -1;
                Assignment {
                    message_queue: Some(q),
                }
            })
            .collect();
        Ok(Response::new(QueryAssignmentResponse {
            status: Some(ok()),
            assignments,
        }))
    }

    /// ReceiveMessage: a POP of the request's topic (every queue), streamed as the proxy streams it: an OK
    /// status then the messages, or one status frame (MESSAGE_NOT_FOUND after the long poll, or the error).
    pub(super) async fn receive_message_rpc(
        &self,
        request: Request<ReceiveMessageRequest>,
    ) -> Result<Response<BoxStream<ReceiveMessageResponse>>, Status> {
        let deadline = deadline_of(&request);
        let req = request.into_inner();
        let frames = match self.receive(req, deadline).await {
            Ok(frames) => frames,
            Err(s) => vec![receive_status(s)],
        };
        Ok(Response::new(Box::pin(futures::stream::iter(
            frames.into_iter().map(Ok),
        ))))
    }

    async fn receive(
        &self,
        req: ReceiveMessageRequest,
        deadline: Option<Duration>,
    ) -> Result<Vec<ReceiveMessageResponse>, rmq_grpc::v2::Status> {
        let Some(group) = req.group.as_ref() else {
            return Err(status(
                Code::IllegalConsumerGroup,
                "the request names no consumer group",
            ));
        };
        let Some(topic) = req.message_queue.as_ref().and_then(|q| q.topic.clone()) else {
            return Err(status(Code::IllegalTopic, "the request names no topic"));
        };
        let config = &self.services.admin.config;
        let invisible_ms = if req.auto_renew {
            DEFAULT_INVISIBLE_MS
        } else {
            let ms = req.invisible_duration.as_ref().map_or(0, millis);
            if ms < config.min_invisible_time_mills_for_recv || ms > MAX_INVISIBLE_MS {
                return Err(status(
                    Code::IllegalInvisibleTime,
                    format!(
                        "the invisible time {ms} ms is out of range [{}, {MAX_INVISIBLE_MS}]",
                        config.min_invisible_time_mills_for_recv
                    ),
                ));
            }
            ms
        };
        let mut poll = req
            .long_polling_timeout
            .as_ref()
            .map_or(MAX_LONG_POLLING, |d| {
                Duration::from_millis(millis(d).max(0) as u64)
            })
            .min(MAX_LONG_POLLING);
        if let Some(d) = deadline {
            poll = poll.min(d.saturating_sub(ANSWER_MARGIN));
        }
        if req.batch_size <= 0 {
            return Err(status(Code::BadRequest, "the batch size must be positive"));
        }
        let (expression, expression_type) = match &req.filter_expression {
            Some(f) if f.r#type == FilterType::Sql as i32 => {
                (Some(f.expression.clone()), Some("SQL92".to_owned()))
            }
            Some(f) => (Some(f.expression.clone()), Some("TAG".to_owned())),
            None => (None, None),
        };
        let group_name = wrapped(group);
        let groups = &self.services.admin.groups;
        let fifo = groups
            .get(&group_name)
            .is_some_and(|g| g.consume_message_orderly);
        let pop = PopRequest {
            group: group_name.clone(),
            topic: wrapped(&topic),
            queue_id: -1,
            max_msgs: req.batch_size.min(MAX_POP_BATCH),
            invisible_ms,
            poll,
            init_mode: InitMode::Max,
            expression,
            expression_type,
            order: fifo,
            attempt_id: req.attempt_id.clone(),
        };
        let out = self
            .services
            .pops
            .pop(&pop)
            .await
            .map_err(|e| error_status(&e))?;
        let max_attempts = groups
            .get(&group_name)
            .map_or(17, |g| g.retry_max_times.saturating_add(1));
        let mut frames = Vec::with_capacity(out.messages.len() + 1);
        for p in &out.messages {
            if p.reconsume_times >= max_attempts {
                if let Err(e) = self.dead_letter(&group_name, &pop.topic, &p.handle).await {
                    tracing::warn!(group = %group_name, error = %e, "moving a message to the dead-letter queue failed; it comes back");
                }
                continue;
            }
            match to_message(&p.record, &topic, Some((&p.handle, p.reconsume_times))) {
                Ok(m) => frames.push(ReceiveMessageResponse {
                    content: Some(receive_message_response::Content::Message(m)),
                }),
                Err(e) => tracing::warn!(error = %e, "popped record not delivered"),
            }
        }
        if frames.is_empty() {
            return Ok(vec![receive_status(status(
                Code::MessageNotFound,
                "no new message",
            ))]);
        }
        frames.insert(0, receive_status(ok()));
        Ok(frames)
    }

    /// Moves a message that used up its attempts to `%DLQ%group` and acks it (the proxy's TO_DLQ).
    async fn dead_letter(
        &self,
        group: &str,
        topic: &str,
        h: &ExtraInfo,
    ) -> Result<(), ServiceError> {
        self.services
            .write
            .send_back(SendBack {
                group: group.to_owned(),
                offset: h.commit_log_offset,
                delay_level: -1,
                max_reconsume_times: Some(0),
                client_version: rmq_protocol::command::CURRENT_VERSION,
            })
            .await?;
        self.services.pops.ack(&ack_of(group, topic, h)).await?;
        Ok(())
    }

    /// AckMessage: each entry acked by its receipt handle; an expired handle is INVALID_RECEIPT_HANDLE.
    pub(super) async fn ack_message_rpc(
        &self,
        request: Request<AckMessageRequest>,
    ) -> Result<Response<AckMessageResponse>, Status> {
        let req = request.into_inner();
        let (Some(group), Some(topic)) = (req.group.as_ref(), req.topic.as_ref()) else {
            return Ok(Response::new(AckMessageResponse {
                status: Some(status(
                    Code::BadRequest,
                    "the request names no group or topic",
                )),
                entries: Vec::new(),
            }));
        };
        let (group, topic) = (wrapped(group), wrapped(topic));
        let now = self.services.admin.config.clock.now_ms();
        let mut entries = Vec::with_capacity(req.entries.len());
        let mut overall = ok();
        for e in req.entries {
            let s = match ExtraInfo::parse(&e.receipt_handle) {
                Err(bad) => status(Code::InvalidReceiptHandle, bad.to_string()),
                Ok(h) if h.next_visible_time() <= now => {
                    status(Code::InvalidReceiptHandle, "receipt handle is expired")
                }
                Ok(h) => match self.services.pops.ack(&ack_of(&group, &topic, &h)).await {
                    Ok(_) => ok(),
                    Err(err) => ack_error(&err),
                },
            };
            if s.code != Code::Ok as i32 && overall.code == Code::Ok as i32 {
                overall = s.clone();
            }
            entries.push(AckMessageResultEntry {
                message_id: e.message_id,
                receipt_handle: e.receipt_handle,
                status: Some(s),
            });
        }
        if entries.len() > 1 && overall.code != Code::Ok as i32 {
            overall = status(Code::MultipleResults, "some entries were not acked");
        }
        Ok(Response::new(AckMessageResponse {
            status: Some(overall),
            entries,
        }))
    }

    /// ChangeInvisibleDuration: a new receipt handle whose message stays invisible that long from now.
    pub(super) async fn change_invisible_duration_rpc(
        &self,
        request: Request<ChangeInvisibleDurationRequest>,
    ) -> Result<Response<ChangeInvisibleDurationResponse>, Status> {
        let req = request.into_inner();
        let answer = |s, handle: String| {
            Ok(Response::new(ChangeInvisibleDurationResponse {
                status: Some(s),
                receipt_handle: handle,
            }))
        };
        let (Some(group), Some(topic)) = (req.group.as_ref(), req.topic.as_ref()) else {
            return answer(
                status(Code::BadRequest, "the request names no group or topic"),
                String::new(),
            );
        };
        let (group, topic) = (wrapped(group), wrapped(topic));
        let h = match ExtraInfo::parse(&req.receipt_handle) {
            Ok(h) => h,
            Err(bad) => {
                return answer(
                    status(Code::InvalidReceiptHandle, bad.to_string()),
                    String::new(),
                )
            }
        };
        let now = self.services.admin.config.clock.now_ms();
        if h.next_visible_time() <= now {
            return answer(
                status(Code::InvalidReceiptHandle, "receipt handle is expired"),
                String::new(),
            );
        }
        let invisible_ms = req.invisible_duration.as_ref().map_or(0, millis);
        if !(0..=MAX_INVISIBLE_MS).contains(&invisible_ms) {
            return answer(
                status(
                    Code::IllegalInvisibleTime,
                    format!("the invisible time {invisible_ms} ms is out of range"),
                ),
                String::new(),
            );
        }
        let change = ChangeInvisible {
            ack: ack_of(&group, &topic, &h),
            invisible_ms,
        };
        match self.services.pops.change_invisible(&change).await {
            Ok(c) => {
                let renewed = ExtraInfo {
                    ck_offset: h.offset,
                    pop_time: c.pop_time,
                    invisible_time: c.invisible_time,
                    revive_qid: c.revive_qid,
                    ..h
                };
                answer(ok(), renewed.to_string())
            }
            Err(e) => answer(ack_error(&e), String::new()),
        }
    }

    /// ForwardMessageToDeadLetterQueue: the client gave up on a message.
    pub(super) async fn forward_to_dlq_rpc(
        &self,
        request: Request<ForwardMessageToDeadLetterQueueRequest>,
    ) -> Result<Response<ForwardMessageToDeadLetterQueueResponse>, Status> {
        let req = request.into_inner();
        let answer = |s| {
            Ok(Response::new(ForwardMessageToDeadLetterQueueResponse {
                status: Some(s),
            }))
        };
        let (Some(group), Some(topic)) = (req.group.as_ref(), req.topic.as_ref()) else {
            return answer(status(
                Code::BadRequest,
                "the request names no group or topic",
            ));
        };
        let h = match ExtraInfo::parse(&req.receipt_handle) {
            Ok(h) => h,
            Err(bad) => return answer(status(Code::InvalidReceiptHandle, bad.to_string())),
        };
        match self.dead_letter(&wrapped(group), &wrapped(topic), &h).await {
            Ok(()) => answer(ok()),
            Err(e) => answer(ack_error(&e)),
        }
    }
}

/// The ack of the message behind `h`, popped by `group` from `topic` (the normal topic; the handle's flag
/// says whether it really came from the retry topic).
fn ack_of(group: &str, topic: &str, h: &ExtraInfo) -> AckRequest {
    AckRequest {
        group: group.to_owned(),
        topic: h.flag.real_topic(topic, group),
        queue_id: h.queue_id,
        handle: h.clone(),
        offset: h.offset,
    }
}

fn ack_error(e: &ServiceError) -> rmq_grpc::v2::Status {
    match e {
        ServiceError::BadHandle(m) | ServiceError::NoMessage(m) => {
            status(Code::InvalidReceiptHandle, m.clone())
        }
        other => error_status(other),
    }
}
