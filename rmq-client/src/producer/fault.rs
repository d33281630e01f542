//! Latency-based fault avoidance: brokers that were slow or failing are skipped for a while (Java
//! `MQFaultStrategy` / `LatencyFaultToleranceImpl`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Latency thresholds (ms) and how long a broker with that latency is avoided (ms) — Java's tables.
const LATENCY_MAX: [u64; 7] = [50, 100, 550, 1_000, 2_000, 3_000, 15_000];
const NOT_AVAILABLE: [u64; 7] = [0, 0, 30_000, 60_000, 120_000, 180_000, 600_000];
/// How long a broker is avoided after a network failure or a retryable refusal.
const ISOLATION: Duration = Duration::from_secs(30);

/// When each broker is usable again.
#[derive(Debug, Default)]
pub struct FaultTracker {
    available_at: Mutex<HashMap<String, Instant>>,
}

impl FaultTracker {
    /// Records a send's outcome: its latency, or `isolate` after a failure.
    pub fn record(&self, broker: &str, latency: Duration, isolate: bool) {
        let avoid = if isolate {
            ISOLATION
        } else {
            let ms = latency.as_millis() as u64;
            let idx = LATENCY_MAX.iter().rposition(|&max| ms >= max);
            Duration::from_millis(idx.map_or(0, |i| NOT_AVAILABLE[i]))
        };
        let mut items = self.available_at.lock();
        if avoid.is_zero() {
            items.remove(broker);
        } else {
            items.insert(broker.to_string(), Instant::now() + avoid);
        }
    }

    /// Whether `broker` may be chosen now.
    pub fn is_available(&self, broker: &str) -> bool {
        self.available_at
            .lock()
            .get(broker)
            .is_none_or(|at| Instant::now() >= *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_and_failed_brokers_are_avoided_fast_ones_are_not() {
        let f = FaultTracker::default();
        f.record("a", Duration::from_millis(5), false);
        assert!(f.is_available("a"));
        f.record("a", Duration::from_millis(600), false);
        assert!(!f.is_available("a"));
        f.record("a", Duration::from_millis(10), false);
        assert!(f.is_available("a"), "a fast send clears the penalty");
        f.record("b", Duration::ZERO, true);
        assert!(!f.is_available("b"));
        assert!(f.is_available("c"));
    }
}
