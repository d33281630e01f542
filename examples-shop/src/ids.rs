//! Ids and clocks: a snowflake-style id generator and epoch milliseconds.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// 2024-01-01T00:00:00Z, the generator's epoch.
const EPOCH_MS: i64 = 1_704_067_200_000;
const WORKER_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;
const SEQ_MASK: i64 = (1 << SEQ_BITS) - 1;

/// Snowflake-style ids: 41 bits of milliseconds since 2024, 10 bits of worker id, 12 bits of sequence;
/// positive `i64`s that grow with time. Up to 4096 ids per millisecond per worker; past that it moves on to
/// the next millisecond early, and if the clock goes back it keeps counting from the last time it used.
#[derive(Debug)]
pub struct IdGenerator {
    worker: i64,
    state: Mutex<(i64, i64)>,
}

impl IdGenerator {
    /// A generator for worker `worker` (taken modulo 1024).
    pub fn new(worker: u16) -> Self {
        IdGenerator {
            worker: i64::from(worker) & ((1 << WORKER_BITS) - 1),
            state: Mutex::new((0, 0)),
        }
    }

    /// The next id.
    pub fn next_id(&self) -> i64 {
        let mut state = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (last, seq) = *state;
        let mut now = (now_ms() - EPOCH_MS).max(last);
        let seq = if now == last {
            let next = (seq + 1) & SEQ_MASK;
            if next == 0 {
                // This millisecond is used up: take the next one (the clock catches up).
                now = last + 1;
            }
            next
        } else {
            0
        };
        *state = (now, seq);
        (now << (WORKER_BITS + SEQ_BITS)) | (self.worker << SEQ_BITS) | seq
    }
}

impl Default for IdGenerator {
    fn default() -> Self {
        IdGenerator::new(u16::try_from(std::process::id() % 1024).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_unique_and_increasing() {
        let g = IdGenerator::new(3);
        let mut last = 0;
        for _ in 0..20_000 {
            let id = g.next_id();
            assert!(id > last, "{id} after {last}");
            last = id;
        }
    }
}
