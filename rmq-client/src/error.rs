//! The client's one error type: every failure keeps what a caller needs to decide (retry, fix input, give up).

use std::time::Duration;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// TCP connect failed (or the address is in reconnect backoff after a recent failure).
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// Target address.
        addr: String,
        /// What went wrong.
        reason: String,
    },
    /// No response within the timeout.
    #[error("request to {addr} timed out after {timeout:?}")]
    Timeout {
        /// Target address.
        addr: String,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// A request-reply send was stored but no reply came in time: no listener of the topic answered (none
    /// runs, it failed, or it is slower than the timeout).
    #[error("no reply to request {correlation_id} on topic {topic} within {timeout:?}: no listener answered in time")]
    NoReply {
        /// The request's topic.
        topic: String,
        /// The request's CORRELATION_ID.
        correlation_id: String,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The connection closed before the response arrived.
    #[error("connection to {addr} closed")]
    Closed {
        /// Target address.
        addr: String,
    },
    /// The broker or name server answered with a non-success code; code and remark are kept as sent.
    #[error("{addr} refused the request: code {code}: {remark}")]
    Broker {
        /// Who answered.
        addr: String,
        /// RocketMQ response code (see `rmq_protocol::codes::response`).
        code: i32,
        /// The server's explanation.
        remark: String,
    },
    /// No name server knows a route for the topic.
    #[error("no route for topic {topic}: {reason}")]
    NoRoute {
        /// Topic asked for.
        topic: String,
        /// Last error seen while asking.
        reason: String,
    },
    /// The route names a broker with no reachable master address.
    #[error("broker {broker_name} has no known master address")]
    NoBrokerAddr {
        /// Broker name from the route.
        broker_name: String,
    },
    /// The caller's input is invalid; `field` names what to fix.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The offending field or argument.
        field: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// A frame, header or body from the server did not decode.
    #[error("protocol error: {0}")]
    Protocol(#[from] rmq_protocol::ProtocolError),
    /// The producer or consumer was shut down.
    #[error("{0} is shut down")]
    Shutdown(&'static str),
    /// A local file (broadcast offsets) could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

impl ClientError {
    /// The broker's response code, when the failure is a refusal.
    pub fn response_code(&self) -> Option<i32> {
        match self {
            ClientError::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether trying again on another broker can help (network trouble or a busy/unavailable broker).
    pub fn is_retryable(&self) -> bool {
        use rmq_protocol::codes::response as r;
        match self {
            ClientError::Connect { .. }
            | ClientError::Timeout { .. }
            | ClientError::Closed { .. }
            | ClientError::NoBrokerAddr { .. } => true,
            ClientError::Broker { code, .. } => matches!(
                *code,
                r::SYSTEM_ERROR
                    | r::SYSTEM_BUSY
                    | r::TOPIC_NOT_EXIST
                    | r::SERVICE_NOT_AVAILABLE
                    | r::NO_PERMISSION
                    | r::NOT_IN_CURRENT_UNIT
            ),
            _ => false,
        }
    }
}

/// Result alias for client calls.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
