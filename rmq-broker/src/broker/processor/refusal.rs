//! What a remoting codec answers: a response, or a [`Refusal`] (code + remark) that the dispatcher turns into
//! the error response; plus the small response helpers the codecs share.

use rmq_protocol::codes::response;
use rmq_protocol::RemotingCommand;

/// A request the broker answers with an error code and a remark naming what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Response code.
    pub code: i32,
    /// Human-readable reason.
    pub remark: String,
}

impl Refusal {
    /// A refusal with the given code and remark.
    pub fn new(code: i32, remark: impl Into<String>) -> Self {
        Refusal {
            code,
            remark: remark.into(),
        }
    }
}

/// What a processor returns.
pub type Reply = Result<RemotingCommand, Refusal>;

/// Stored records back to back, the body layout of pull and query responses (docs/protocol.md §3.1).
pub(crate) fn concat_records(records: &[bytes::Bytes]) -> bytes::Bytes {
    let mut body = bytes::BytesMut::with_capacity(records.iter().map(|r| r.len()).sum());
    for r in records {
        body.extend_from_slice(r);
    }
    body.freeze()
}

/// A SUCCESS response to `req`.
pub(crate) fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response::SUCCESS)
}
