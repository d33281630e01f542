//! [`ClientChannel`]: one remoting connection of a client, as its heartbeat described it — what the client
//! registry keeps per producer and consumer, and what broker → client requests go down.

use std::time::Instant;

use rmq_protocol::LanguageCode;

use crate::remoting::Connection;

/// One client connection of a group.
#[derive(Debug, Clone)]
pub struct ClientChannel {
    /// `ip@instance` id the client reported.
    pub client_id: String,
    /// The connection, for broker → client requests.
    pub connection: Connection,
    /// Client's protocol version.
    pub version: i32,
    /// Client's language, as its heartbeat header said (admin tools list it).
    pub language: LanguageCode,
    /// Last heartbeat.
    pub last_update: Instant,
}
