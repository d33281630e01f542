//! `MessagingService`: the RPCs a RocketMQ 5 producer needs — route lookup, heartbeats, sends and the
//! settings exchange — served over the broker's typed services.

use std::net::SocketAddr;
use std::sync::Arc;

use rmq_grpc::v2::messaging_service_server::MessagingService;
use rmq_grpc::v2::{
    Code, EndTransactionRequest, EndTransactionResponse, HeartbeatRequest, HeartbeatResponse,
    NotifyClientTerminationRequest, NotifyClientTerminationResponse, QueryRouteRequest,
    QueryRouteResponse, Resource, SendMessageRequest, SendMessageResponse, SendResultEntry,
    TelemetryCommand,
};
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::convert::{self, error_status, ok, status};
use super::metadata::RequestMetadata;
use super::transaction::{self as tx, TransactionIds};
use crate::broker::processor::Services;
use crate::broker::service::write::{Payload, Recall, SendRequest};
use crate::broker::service::ServiceError;

/// The MessagingService of one broker.
#[derive(Debug, Clone)]
pub struct Messaging {
    pub(super) services: Arc<Services>,
    pub(super) advertised: SocketAddr,
    transactions: Arc<TransactionIds>,
}

/// Java's `NamespaceUtil.wrapNamespace`: `namespace%name`, or the name alone in the default namespace.
pub(super) fn wrapped(r: &Resource) -> String {
    if r.resource_namespace.is_empty() {
        r.name.clone()
    } else {
        format!("{}%{}", r.resource_namespace, r.name)
    }
}

impl Messaging {
    /// Serves over `services`, advertising `advertised` as this endpoint in routes.
    pub fn new(services: Arc<Services>, advertised: SocketAddr) -> Self {
        Messaging {
            services,
            advertised,
            transactions: Arc::default(),
        }
    }
}

#[tonic::async_trait]
impl MessagingService for Messaging {
    async fn query_route(
        &self,
        request: Request<QueryRouteRequest>,
    ) -> Result<Response<QueryRouteResponse>, Status> {
        let req = request.into_inner();
        let Some(topic) = req.topic else {
            return Ok(Response::new(QueryRouteResponse {
                status: Some(status(Code::IllegalTopic, "the request names no topic")),
                message_queues: Vec::new(),
            }));
        };
        let name = wrapped(&topic);
        let admin = &self.services.admin;
        let Some(cfg) = admin.topics.get(&name) else {
            return Ok(Response::new(QueryRouteResponse {
                status: Some(status(
                    Code::TopicNotFound,
                    format!("topic {name} does not exist"),
                )),
                message_queues: Vec::new(),
            }));
        };
        let queues = convert::route_queues(
            &topic.resource_namespace,
            &cfg,
            &admin.config.broker_name,
            self.advertised,
        );
        Ok(Response::new(QueryRouteResponse {
            status: Some(ok()),
            message_queues: queues,
        }))
    }

    async fn heartbeat(
        &self,
        _request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        Ok(Response::new(HeartbeatResponse { status: Some(ok()) }))
    }

    async fn send_message(
        &self,
        request: Request<SendMessageRequest>,
    ) -> Result<Response<SendMessageResponse>, Status> {
        let born_host = request
            .remote_addr()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let req = request.into_inner();
        if req.messages.is_empty() {
            return Ok(Response::new(SendMessageResponse {
                status: Some(status(Code::BadRequest, "the request holds no message")),
                entries: Vec::new(),
            }));
        }
        let mut entries = Vec::with_capacity(req.messages.len());
        let mut overall = ok();
        for m in &req.messages {
            let entry = match self.send_one(m, born_host).await {
                Ok(e) => e,
                Err(s) => SendResultEntry {
                    status: Some(s),
                    ..SendResultEntry::default()
                },
            };
            if let Some(s) = entry.status.as_ref().filter(|s| s.code != Code::Ok as i32) {
                if overall.code == Code::Ok as i32 {
                    overall = s.clone();
                }
            }
            entries.push(entry);
        }
        Ok(Response::new(SendMessageResponse {
            status: Some(overall),
            entries,
        }))
    }

    async fn telemetry(
        &self,
        request: Request<tonic::Streaming<TelemetryCommand>>,
    ) -> Result<Response<BoxStream<TelemetryCommand>>, Status> {
        let md = RequestMetadata::from_metadata(request.metadata());
        let (s, ids) = (self.services.clone(), self.transactions.clone());
        Ok(Response::new(super::telemetry::open(
            s,
            ids,
            md,
            request.into_inner(),
        )))
    }

    async fn end_transaction(
        &self,
        request: Request<EndTransactionRequest>,
    ) -> Result<Response<EndTransactionResponse>, Status> {
        let md = RequestMetadata::from_metadata(request.metadata());
        let (s, ids) = (&self.services, &self.transactions);
        Ok(Response::new(
            tx::end_transaction(s, ids, &md, request.get_ref()).await,
        ))
    }

    async fn query_assignment(
        &self,
        request: Request<rmq_grpc::v2::QueryAssignmentRequest>,
    ) -> Result<Response<rmq_grpc::v2::QueryAssignmentResponse>, Status> {
        self.query_assignment_rpc(request).await
    }

    async fn receive_message(
        &self,
        request: Request<rmq_grpc::v2::ReceiveMessageRequest>,
    ) -> Result<Response<BoxStream<rmq_grpc::v2::ReceiveMessageResponse>>, Status> {
        self.receive_message_rpc(request).await
    }

    async fn ack_message(
        &self,
        request: Request<rmq_grpc::v2::AckMessageRequest>,
    ) -> Result<Response<rmq_grpc::v2::AckMessageResponse>, Status> {
        self.ack_message_rpc(request).await
    }

    async fn change_invisible_duration(
        &self,
        request: Request<rmq_grpc::v2::ChangeInvisibleDurationRequest>,
    ) -> Result<Response<rmq_grpc::v2::ChangeInvisibleDurationResponse>, Status> {
        self.change_invisible_duration_rpc(request).await
    }

    async fn forward_message_to_dead_letter_queue(
        &self,
        request: Request<rmq_grpc::v2::ForwardMessageToDeadLetterQueueRequest>,
    ) -> Result<Response<rmq_grpc::v2::ForwardMessageToDeadLetterQueueResponse>, Status> {
        self.forward_to_dlq_rpc(request).await
    }

    async fn pull_message(
        &self,
        request: Request<rmq_grpc::v2::PullMessageRequest>,
    ) -> Result<Response<BoxStream<rmq_grpc::v2::PullMessageResponse>>, Status> {
        self.pull_message_rpc(request).await
    }

    async fn update_offset(
        &self,
        request: Request<rmq_grpc::v2::UpdateOffsetRequest>,
    ) -> Result<Response<rmq_grpc::v2::UpdateOffsetResponse>, Status> {
        self.update_offset_rpc(request).await
    }

    async fn get_offset(
        &self,
        request: Request<rmq_grpc::v2::GetOffsetRequest>,
    ) -> Result<Response<rmq_grpc::v2::GetOffsetResponse>, Status> {
        self.get_offset_rpc(request).await
    }

    async fn query_offset(
        &self,
        request: Request<rmq_grpc::v2::QueryOffsetRequest>,
    ) -> Result<Response<rmq_grpc::v2::QueryOffsetResponse>, Status> {
        self.query_offset_rpc(request).await
    }

    async fn recall_message(
        &self,
        request: Request<rmq_grpc::v2::RecallMessageRequest>,
    ) -> Result<Response<rmq_grpc::v2::RecallMessageResponse>, Status> {
        let born_host = request
            .remote_addr()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let req = request.into_inner();
        let Some(topic) = req.topic.as_ref() else {
            return Ok(Response::new(rmq_grpc::v2::RecallMessageResponse {
                status: Some(status(Code::IllegalTopic, "the request names no topic")),
                message_id: String::new(),
            }));
        };
        let recall = Recall {
            topic: wrapped(topic),
            handle: req.recall_handle,
            producer_group: String::new(),
            born_host,
        };
        let (s, message_id) = match self.services.write.recall(recall).await {
            Ok(id) => (ok(), id),
            Err(ServiceError::IllegalOperation(m)) => (status(Code::BadRequest, m), String::new()),
            Err(e) => (error_status(&e), String::new()),
        };
        Ok(Response::new(rmq_grpc::v2::RecallMessageResponse {
            status: Some(s),
            message_id,
        }))
    }

    async fn notify_client_termination(
        &self,
        _request: Request<NotifyClientTerminationRequest>,
    ) -> Result<Response<NotifyClientTerminationResponse>, Status> {
        Ok(Response::new(NotifyClientTerminationResponse {
            status: Some(ok()),
        }))
    }
}

impl Messaging {
    /// Stores one message through the write service, as a SEND_MESSAGE_V2 would.
    async fn send_one(
        &self,
        m: &rmq_grpc::v2::Message,
        born_host: SocketAddr,
    ) -> Result<SendResultEntry, rmq_grpc::v2::Status> {
        let Some(topic) = &m.topic else {
            return Err(status(Code::IllegalTopic, "a message names no topic"));
        };
        let sp = m.system_properties.clone().unwrap_or_default();
        let properties = convert::message_properties(m)?;
        let half = tx::is_transactional(m).then(|| wrapped(topic));
        let (sys_flag, properties) = tx::prepare(half.as_deref(), m, properties);
        super::message_type::check(&self.services, &wrapped(topic), &properties)?;
        let born_timestamp = sp.born_timestamp.as_ref().map_or(0, |t| {
            t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000)
        });
        let send = SendRequest {
            topic: wrapped(topic),
            queue_id: sp.queue_id,
            default_topic: rmq_protocol::topic::TBW102.to_owned(),
            default_topic_queue_nums: 4,
            sys_flag,
            born_timestamp,
            born_host,
            reconsume_times: None,
            max_reconsume_times: None,
            client_version: rmq_protocol::command::CURRENT_VERSION,
            payload: Payload::Single {
                flag: 0,
                body: bytes::Bytes::copy_from_slice(&m.body),
                properties,
            },
        };
        let outcome = self
            .services
            .write
            .send(send)
            .await
            .map_err(|e| error_status(&e))?;
        let entry_status = if outcome.flush_timed_out {
            status(
                Code::MasterPersistenceTimeout,
                "stored, but the disk flush did not finish within syncFlushTimeout",
            )
        } else {
            ok()
        };
        let transaction_id = tx::sent(&self.transactions, half.as_deref(), &outcome);
        Ok(SendResultEntry {
            status: Some(entry_status),
            message_id: sp.message_id,
            offset: outcome.queue_offset,
            recall_handle: outcome.recall_handle.unwrap_or_default(),
            transaction_id,
        })
    }
}
