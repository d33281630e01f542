//! The Telemetry stream of one client (Java's `ClientActivity.telemetry`): the client's settings are answered
//! (see [`settings`](super::settings)); a publisher is registered as a producer of each topic it names (the
//! topic's name is its producer group), with this stream as the channel transaction check-backs go down.
//! When the stream ends the registration goes with it.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use rmq_grpc::v2::{settings, telemetry_command, Settings, TelemetryCommand};
use tokio::sync::mpsc;
use tonic::codegen::BoxStream;
use tonic::Status;

use super::convert::ok;
use super::metadata::{resource_name, RequestMetadata};
use super::transaction::{recover_command, TransactionIds};
use crate::broker::processor::Services;
use crate::broker::producer_channel::{GrpcProducerChannel, OrphanedTransaction};

/// Check-backs queued for one stream before further ones are refused (the check service then logs them and
/// tries again next round).
const CHECK_QUEUE: usize = 256;

/// Serves one Telemetry stream: a task reads the client's commands and forwards check-backs; the returned
/// stream carries the answers.
pub fn open(
    services: Arc<Services>,
    ids: Arc<TransactionIds>,
    md: RequestMetadata,
    mut inbound: tonic::Streaming<TelemetryCommand>,
) -> BoxStream<TelemetryCommand> {
    let (out_tx, out_rx) = mpsc::channel::<Result<TelemetryCommand, Status>>(CHECK_QUEUE);
    let (check_tx, mut check_rx) = mpsc::channel::<OrphanedTransaction>(CHECK_QUEUE);
    tokio::spawn(async move {
        loop {
            let answer = tokio::select! {
                cmd = inbound.next() => match cmd {
                    Some(Ok(cmd)) => on_command(&services, &md, &check_tx, cmd),
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "telemetry stream ended");
                        break;
                    }
                    None => break,
                },
                Some(orphan) = check_rx.recv() => Some(recover_command(&ids, orphan)),
                () = out_tx.closed() => break,
            };
            if let Some(a) = answer {
                if out_tx.send(Ok(a)).await.is_err() {
                    break;
                }
            }
        }
        if let Some(id) = &md.client_id {
            services
                .clients
                .clients()
                .unregister_grpc_producer(id, &check_tx);
        }
    });
    Box::pin(futures::stream::unfold(out_rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// One command from the client; returns the answer to send, if any.
fn on_command(
    services: &Services,
    md: &RequestMetadata,
    checks: &mpsc::Sender<OrphanedTransaction>,
    cmd: TelemetryCommand,
) -> Option<TelemetryCommand> {
    match cmd.command {
        Some(telemetry_command::Command::Settings(s)) => {
            register(services, md, checks, &s);
            Some(TelemetryCommand {
                status: Some(ok()),
                command: Some(telemetry_command::Command::Settings(
                    super::settings::answer(services, s),
                )),
            })
        }
        Some(_) | None => None,
    }
}

/// Registers a publisher as a producer of each of its topics, over this stream.
fn register(
    services: &Services,
    md: &RequestMetadata,
    checks: &mpsc::Sender<OrphanedTransaction>,
    s: &Settings,
) {
    let Some(settings::PubSub::Publishing(p)) = &s.pub_sub else {
        return;
    };
    let Some(client_id) = &md.client_id else {
        tracing::debug!("publisher settings without x-mq-client-id: no check-backs can reach it");
        return;
    };
    for topic in &p.topics {
        services.clients.clients().register_grpc_producer(
            &resource_name(topic, md),
            GrpcProducerChannel {
                client_id: client_id.clone(),
                sender: checks.clone(),
                last_update: Instant::now(),
            },
        );
    }
}
