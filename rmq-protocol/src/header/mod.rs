//! Serialization of the command header: the seven fields of docs/protocol.md §1.2, as JSON text or ROCKETMQ binary.
//!
//! The frame layer ([`crate::frame`]) reads the serialize type from the frame and hands the header bytes here;
//! the body never passes through this module. Both encodings must be understood on every connection, because a
//! peer answers in its own configured type, not in the request's (docs/protocol.md §1.5).

pub mod binary;
pub mod json;
mod json_fast;

use bytes::BytesMut;

use crate::command::{RemotingCommand, SerializeType};
use crate::error::Result;

/// Appends the header of `cmd`, serialized as `cmd.serialize_type`, to `dst`.
///
/// # Errors
/// Binary headers refuse values Java cannot represent (code/version outside `i16`, a key over 32767 bytes).
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<()> {
    match cmd.serialize_type {
        SerializeType::Json => {
            json::encode(cmd, dst);
            Ok(())
        }
        SerializeType::RocketMq => binary::encode(cmd, dst),
    }
}

/// Parses a header of the given serialize type into a command with an empty body.
///
/// The returned command records `serialize_type`, so a round trip re-encodes it the same way.
///
/// # Errors
/// [`crate::ProtocolError::InvalidHeader`] naming the encoding and what was wrong.
pub fn decode(serialize_type: SerializeType, header: &[u8]) -> Result<RemotingCommand> {
    match serialize_type {
        SerializeType::Json => json::decode(header),
        SerializeType::RocketMq => binary::decode(header),
    }
}
