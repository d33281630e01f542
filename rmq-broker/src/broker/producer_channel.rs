//! Where a transaction check-back for a producer group can be sent: a producer is registered either over a
//! remoting connection (CHECK_TRANSACTION_STATE goes down it) or over a gRPC Telemetry stream (a
//! `RecoverOrphanedTransactionCommand` goes down the stream). The check service picks one of either kind
//! without knowing the protocol; each front end turns an [`OrphanedTransaction`] into its own wire form.

use std::time::Instant;

use rmq_protocol::message::stored::MessageExt;
use tokio::sync::mpsc;

use super::client_channel::ClientChannel;

/// A half message nobody committed or rolled back, as a gRPC producer is asked about it.
#[derive(Debug, Clone)]
pub struct OrphanedTransaction {
    /// The half message as the producer sent it: real topic and queue restored, current check count set.
    pub message: MessageExt,
    /// The transaction id the producer was given on send (the message's UNIQ_KEY).
    pub transaction_id: String,
    /// CommitLog offset of the half record (what END_TRANSACTION must name).
    pub commit_log_offset: i64,
    /// Half-queue offset of the half record (`tranStateTableOffset`).
    pub tran_state_table_offset: i64,
}

/// A producer connected over gRPC: check-backs are queued to the task that owns its Telemetry stream.
#[derive(Debug, Clone)]
pub struct GrpcProducerChannel {
    /// The `x-mq-client-id` the client sent.
    pub client_id: String,
    /// Queue to the client's Telemetry stream; closed once the stream ends.
    pub sender: mpsc::Sender<OrphanedTransaction>,
    /// When the client last sent its settings.
    pub last_update: Instant,
}

impl GrpcProducerChannel {
    /// Whether the Telemetry stream behind this channel is still open.
    pub fn is_live(&self) -> bool {
        !self.sender.is_closed()
    }
}

/// One producer of a group a check-back can be sent to.
#[derive(Debug, Clone)]
pub enum ProducerChannel {
    /// A remoting client (CHECK_TRANSACTION_STATE over its connection).
    Remoting(ClientChannel),
    /// A gRPC client (RecoverOrphanedTransactionCommand over its Telemetry stream).
    Grpc(GrpcProducerChannel),
}

impl ProducerChannel {
    /// The client id the producer reported.
    pub fn client_id(&self) -> &str {
        match self {
            ProducerChannel::Remoting(c) => &c.client_id,
            ProducerChannel::Grpc(c) => &c.client_id,
        }
    }

    /// Whether a request sent now can reach the producer.
    pub fn is_live(&self) -> bool {
        match self {
            ProducerChannel::Remoting(c) => !c.connection.is_closed(),
            ProducerChannel::Grpc(c) => c.is_live(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::client_manager::ClientManager;

    fn grpc(client_id: &str) -> (GrpcProducerChannel, mpsc::Receiver<OrphanedTransaction>) {
        let (sender, rx) = mpsc::channel(1);
        let ch = GrpcProducerChannel {
            client_id: client_id.to_owned(),
            sender,
            last_update: Instant::now(),
        };
        (ch, rx)
    }

    #[test]
    fn a_grpc_producer_is_checked_while_its_stream_lives_and_an_old_stream_does_not_unregister_a_new_one(
    ) {
        let clients = ClientManager::default();
        let (old, old_rx) = grpc("c1");
        clients.register_grpc_producer("Orders", old.clone());
        assert_eq!(clients.check_channels("Orders").len(), 1);
        drop(old_rx);
        assert!(
            clients.check_channels("Orders").is_empty(),
            "a closed stream is not a check channel"
        );
        let (new, _new_rx) = grpc("c1");
        clients.register_grpc_producer("Orders", new.clone());
        clients.unregister_grpc_producer("c1", &old.sender);
        let live = clients.check_channels("Orders");
        assert_eq!(live.len(), 1, "the newer stream stays registered");
        assert_eq!(live[0].client_id(), "c1");
        clients.unregister_grpc_producer("c1", &new.sender);
        assert!(clients.check_channels("Orders").is_empty());
    }
}
