//! The RocketMQ 5 gRPC front end (`apache.rocketmq.v2.MessagingService`), served by the broker itself as
//! Apache's proxy serves it in local mode, so RocketMQ 5 clients (Java 5.x, Go, C#, the `rocketmq` crate, …)
//! use the bundled broker without a separate proxy.
//!
//! It is a second codec over the same typed services as the remoting processors
//! ([`Services`](crate::broker::processor::Services)): a gRPC SendMessage becomes the
//! [`WriteService`](crate::broker::service::write::WriteService)'s `SendRequest`, as a SEND_MESSAGE_V2 does.
//!
//! - [`messaging`]: the RPCs served so far — QueryRoute, Heartbeat, SendMessage (normal, FIFO message groups,
//!   delayed delivery, transactional), EndTransaction, Telemetry, RecallMessage and NotifyClientTermination.
//! - [`consumer`]: QueryAssignment, ReceiveMessage, AckMessage, ChangeInvisibleDuration and
//!   ForwardMessageToDeadLetterQueue over the broker's POP service.
//! - [`pull`]: PullMessage, UpdateOffset, GetOffset and QueryOffset over the pull and offset services.
//! - [`telemetry`]: one client's Telemetry stream (settings, producer registration, check-backs);
//!   [`settings`]: what the server answers a client's settings with.
//! - [`transaction`]: transactional sends, EndTransaction and check-backs over gRPC.
//! - [`message_type`]: a send must match its topic's `message.type` (`MESSAGE_PROPERTY_CONFLICT_WITH_TYPE`).
//! - [`metadata`]: the `x-mq-*` request headers and the namespace they give resources.
//! - [`convert`]: protocol messages to and from the broker's types, and service errors to the protocol's codes.

pub mod consumer;
pub mod convert;
pub mod message_type;
pub mod messaging;
pub mod metadata;
pub mod pull;
pub mod settings;
pub mod telemetry;
pub mod transaction;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::broker::processor::Services;
use rmq_grpc::v2::messaging_service_server::MessagingServiceServer;

/// Serves MessagingService on `listener` until `shutdown`, advertising `advertised` as the endpoint in routes.
pub async fn serve(
    listener: TcpListener,
    advertised: SocketAddr,
    services: Arc<Services>,
    shutdown: CancellationToken,
) {
    let svc = messaging::Messaging::new(services, advertised);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let served = tonic::transport::Server::builder()
        .add_service(MessagingServiceServer::new(svc))
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "gRPC endpoint stopped");
    }
}
