//! Request-reply: the message that answers a request.

use rmq_protocol::message::properties as keys;

use crate::error::{ClientError, Result};
use crate::message::{Message, MessageExt};

/// The reply to `request` (Java `MessageUtil.createReplyMessage`): to `<cluster>_REPLY_TOPIC`, correlated.
pub fn reply_message(request: &MessageExt, body: bytes::Bytes) -> Result<Message> {
    let missing = |what: &str| ClientError::InvalidArgument {
        field: "request",
        reason: format!(
            "message {} has no {what} property; it is not a request",
            request.msg_id()
        ),
    };
    let cluster = request
        .property(keys::CLUSTER)
        .ok_or_else(|| missing(keys::CLUSTER))?;
    let correlation = request
        .property(keys::CORRELATION_ID)
        .ok_or_else(|| missing(keys::CORRELATION_ID))?;
    let reply_to = request
        .property(keys::REPLY_TO_CLIENT)
        .ok_or_else(|| missing(keys::REPLY_TO_CLIENT))?;
    let mut msg = Message::new(format!("{cluster}_REPLY_TOPIC"), body)
        .with_property(keys::MSG_TYPE, "reply")
        .with_property(keys::CORRELATION_ID, correlation)
        .with_property(keys::REPLY_TO_CLIENT, reply_to);
    if let Some(ttl) = request.property(keys::TTL) {
        msg = msg.with_property(keys::TTL, ttl);
    }
    Ok(msg)
}
