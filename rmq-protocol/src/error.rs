//! Errors of the protocol layer.

/// Why bytes or fields could not become a typed protocol value.
///
/// `Incomplete` is deliberately absent: the frame decoder reports "need more bytes" as `Ok(None)`,
/// so every variant here means the input is invalid and the connection (or request) must be refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame announced more bytes than the configured maximum; nothing was allocated for it.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// Announced frame length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The frame's length fields contradict each other or are negative.
    #[error("malformed frame: {0}")]
    MalformedFrame(String),
    /// The serialize-type byte is neither JSON (0) nor ROCKETMQ (1).
    #[error("unknown header serialize type {0}")]
    UnknownSerializeType(u8),
    /// The header could not be parsed.
    #[error("invalid {encoding} header: {reason}")]
    InvalidHeader {
        /// "JSON" or "ROCKETMQ".
        encoding: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A required ext field is absent.
    #[error("the custom field <{field}> is null")]
    MissingField {
        /// The ext key.
        field: &'static str,
    },
    /// An ext field is present but cannot be parsed as its type.
    #[error("invalid value {value:?} for field <{field}>: {reason}")]
    InvalidField {
        /// The ext key.
        field: &'static str,
        /// The raw value.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A body (JSON or binary) could not be decoded.
    #[error("invalid {what}: {reason}")]
    InvalidBody {
        /// Which body.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A stored or batch message record is malformed.
    #[error("invalid message record at byte {at}: {reason}")]
    InvalidMessage {
        /// Byte position within the buffer being decoded.
        at: usize,
        /// Why.
        reason: String,
    },
    /// Transport error surfaced through the tokio-util codec.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Result with [`ProtocolError`] as the default error.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;
