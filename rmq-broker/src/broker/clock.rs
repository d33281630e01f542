//! The broker's wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now in epoch ms (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
