//! Runtime counters reported by GET_BROKER_RUNTIME_INFO.

use std::sync::atomic::AtomicU64;

/// Counters reported by GET_BROKER_RUNTIME_INFO; the write service adds puts, the pull service gets.
#[derive(Debug, Default)]
pub struct BrokerStats {
    /// Messages stored since start.
    pub put_messages: AtomicU64,
    /// Bytes of bodies stored since start.
    pub put_bytes: AtomicU64,
    /// Messages returned by pulls since start.
    pub got_messages: AtomicU64,
}
