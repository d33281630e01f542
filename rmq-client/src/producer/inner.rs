//! What a producer's clones share: options, the client instance, broker fault tracking, the id generator.

use std::sync::Arc;

use rmq_protocol::message::UniqIdGenerator;
use tokio_util::sync::CancellationToken;

use super::fault::FaultTracker;
use super::options::ProducerOptions;
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::message::{check_message, Message};

/// The producer's state, shared by its handle, its sends and a transaction producer built on it.
pub(crate) struct ProducerInner {
    pub(crate) opts: ProducerOptions,
    pub(crate) instance: Arc<ClientInstance>,
    pub(crate) fault: FaultTracker,
    pub(crate) uniq: UniqIdGenerator,
    pub(crate) shutdown: CancellationToken,
}

impl ProducerInner {
    /// Refuses a message the producer cannot send: shut down, or invalid or too large.
    pub(crate) fn check(&self, msg: &Message) -> Result<()> {
        if self.shutdown.is_cancelled() {
            return Err(ClientError::Shutdown("producer"));
        }
        check_message(msg, self.opts.max_message_size)
    }
}
