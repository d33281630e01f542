//! The pull-consumer RPCs of MessagingService (RocketMQ 5's PullConsumer): PullMessage over the broker's
//! [`PullService`](crate::broker::service::pull::PullService) with long polling, and UpdateOffset, GetOffset
//! and QueryOffset over its [`OffsetService`](crate::broker::service::offset::OffsetService) — the same
//! services the remoting PULL_MESSAGE and offset requests use.

use std::time::Duration;

use rmq_grpc::v2::{
    pull_message_response, Code, FilterType, GetOffsetRequest, GetOffsetResponse, MessageQueue,
    PullMessageRequest, PullMessageResponse, QueryOffsetPolicy, QueryOffsetRequest,
    QueryOffsetResponse, Resource, UpdateOffsetRequest, UpdateOffsetResponse,
};
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::consumer::{millis, to_message};
use super::convert::{error_status, ok, status};
use super::messaging::{wrapped, Messaging};
use crate::broker::service::pull::{PullRequest, PullSubscription};
use crate::store::GetMessageStatus;

/// The longest a PullMessage waits for messages.
const MAX_LONG_POLLING: Duration = Duration::from_secs(20);

/// The topic resource and queue id of a request's message queue.
fn queue_of(q: Option<&MessageQueue>) -> Result<(Resource, i32), rmq_grpc::v2::Status> {
    let q = q.ok_or_else(|| status(Code::BadRequest, "the request names no message queue"))?;
    let topic = q
        .topic
        .clone()
        .ok_or_else(|| status(Code::IllegalTopic, "the message queue names no topic"))?;
    Ok((topic, q.id))
}

fn pull_frame(c: pull_message_response::Content) -> PullMessageResponse {
    PullMessageResponse { content: Some(c) }
}

impl Messaging {
    /// PullMessage: the messages of one queue from `offset`, then the next offset (after an OK status).
    pub(super) async fn pull_message_rpc(
        &self,
        request: Request<PullMessageRequest>,
    ) -> Result<Response<BoxStream<PullMessageResponse>>, Status> {
        let req = request.into_inner();
        let frames = match self.pull(req).await {
            Ok(f) => f,
            Err(s) => vec![pull_frame(pull_message_response::Content::Status(s))],
        };
        Ok(Response::new(Box::pin(futures::stream::iter(
            frames.into_iter().map(Ok),
        ))))
    }

    async fn pull(
        &self,
        req: PullMessageRequest,
    ) -> Result<Vec<PullMessageResponse>, rmq_grpc::v2::Status> {
        let group = req
            .group
            .as_ref()
            .ok_or_else(|| status(Code::IllegalConsumerGroup, "the request names no group"))?;
        let (topic, queue_id) = queue_of(req.message_queue.as_ref())?;
        let (expression, expression_type) = match &req.filter_expression {
            Some(f) if f.r#type == FilterType::Sql as i32 => {
                (Some(f.expression.clone()), Some("SQL92".to_owned()))
            }
            Some(f) => (Some(f.expression.clone()), Some("TAG".to_owned())),
            None => (None, None),
        };
        let suspend = req
            .long_polling_timeout
            .as_ref()
            .map(|d| Duration::from_millis(millis(d).max(0) as u64).min(MAX_LONG_POLLING));
        let pull = PullRequest {
            group: wrapped(group),
            topic: wrapped(&topic),
            queue_id,
            queue_offset: req.offset,
            max_msgs: req.batch_size.max(1),
            max_bytes: None,
            commit_offset: None,
            suspend,
            subscription: PullSubscription::Inline {
                expression,
                expression_type,
                version: 0,
            },
        };
        let out = self
            .services
            .pulls
            .pull(&pull, |r| {
                matches!(
                    r.status,
                    GetMessageStatus::OffsetOverflowOne | GetMessageStatus::NoMessageInQueue
                )
            })
            .await
            .map_err(|e| error_status(&e))?;
        let r = out.result;
        let mut frames = Vec::with_capacity(r.messages.len() + 2);
        let first = match r.status {
            GetMessageStatus::Found => ok(),
            GetMessageStatus::OffsetTooSmall | GetMessageStatus::OffsetOverflowBadly => status(
                Code::IllegalOffset,
                format!(
                    "offset {} is outside the queue [{}, {}]",
                    req.offset, r.min_offset, r.max_offset
                ),
            ),
            _ => status(Code::MessageNotFound, "no new message"),
        };
        frames.push(pull_frame(pull_message_response::Content::Status(first)));
        for rec in &r.messages {
            match to_message(rec, &topic, None) {
                Ok(m) => frames.push(pull_frame(pull_message_response::Content::Message(m))),
                Err(e) => tracing::warn!(error = %e, "pulled record not delivered"),
            }
        }
        frames.push(pull_frame(pull_message_response::Content::NextOffset(
            r.next_begin_offset,
        )));
        Ok(frames)
    }

    /// UpdateOffset: commits the group's offset of a queue.
    pub(super) async fn update_offset_rpc(
        &self,
        request: Request<UpdateOffsetRequest>,
    ) -> Result<Response<UpdateOffsetResponse>, Status> {
        let req = request.into_inner();
        let s = match (req.group.as_ref(), queue_of(req.message_queue.as_ref())) {
            (None, _) => status(Code::IllegalConsumerGroup, "the request names no group"),
            (_, Err(s)) => s,
            (Some(g), Ok((topic, q))) => {
                match self
                    .services
                    .offsets
                    .update(&wrapped(g), &wrapped(&topic), q, req.offset)
                {
                    Ok(()) => ok(),
                    Err(e) => error_status(&e),
                }
            }
        };
        Ok(Response::new(UpdateOffsetResponse { status: Some(s) }))
    }

    /// GetOffset: the group's committed offset of a queue.
    pub(super) async fn get_offset_rpc(
        &self,
        request: Request<GetOffsetRequest>,
    ) -> Result<Response<GetOffsetResponse>, Status> {
        let req = request.into_inner();
        let (s, offset) = match (req.group.as_ref(), queue_of(req.message_queue.as_ref())) {
            (None, _) => (
                status(Code::IllegalConsumerGroup, "the request names no group"),
                0,
            ),
            (_, Err(s)) => (s, 0),
            (Some(g), Ok((topic, q))) => {
                match self
                    .services
                    .offsets
                    .query(&wrapped(g), &wrapped(&topic), q, Some(false))
                {
                    Ok(o) => (ok(), o),
                    Err(e) => (status(Code::OffsetNotFound, e.to_string()), 0),
                }
            }
        };
        Ok(Response::new(GetOffsetResponse {
            status: Some(s),
            offset,
        }))
    }

    /// QueryOffset: a queue's first or next offset, or the offset of a store time.
    pub(super) async fn query_offset_rpc(
        &self,
        request: Request<QueryOffsetRequest>,
    ) -> Result<Response<QueryOffsetResponse>, Status> {
        let req = request.into_inner();
        let answer = |s, offset| {
            Ok(Response::new(QueryOffsetResponse {
                status: Some(s),
                offset,
            }))
        };
        let (topic, q) = match queue_of(req.message_queue.as_ref()) {
            Ok(v) => v,
            Err(s) => return answer(s, 0),
        };
        let topic = wrapped(&topic);
        if self.services.admin.topics.get(&topic).is_none() {
            return answer(
                status(Code::TopicNotFound, format!("topic {topic} does not exist")),
                0,
            );
        }
        let offsets = &self.services.offsets;
        let offset = match QueryOffsetPolicy::try_from(req.query_offset_policy) {
            Ok(QueryOffsetPolicy::Beginning) => offsets.min_offset(&topic, q),
            Ok(QueryOffsetPolicy::End) => offsets.max_offset(&topic, q),
            Ok(QueryOffsetPolicy::Timestamp) => {
                let Some(t) = req.timestamp else {
                    return answer(
                        status(Code::BadRequest, "TIMESTAMP policy without a timestamp"),
                        0,
                    );
                };
                let ms = t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000);
                offsets.offset_by_time(&topic, q, ms, false)
            }
            Err(_) => return answer(status(Code::BadRequest, "unknown query offset policy"), 0),
        };
        answer(ok(), offset)
    }
}
