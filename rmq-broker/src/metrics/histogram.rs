//! A fixed-bucket latency histogram whose `observe` is two relaxed atomic adds.
//!
//! `prometheus_client::metrics::histogram::Histogram` takes a mutex per observation; the send path is being
//! tuned for >100k requests/s on two cores, so this type keeps one atomic per bucket instead and implements
//! the crate's [`EncodeMetric`], leaving the exposition format to the crate. A scrape that races with
//! observations may see a bucket updated and the sum not yet (or the reverse): each value is exact, the set
//! is not a snapshot, which Prometheus tolerates like every lock-free client does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Bucket upper bounds in nanoseconds, 100 µs to 10 s: broker request and fsync times.
const BOUNDS_NANOS: [u64; 16] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// A latency histogram in seconds (cheap to clone: the counts are shared).
#[derive(Debug, Clone, Default)]
pub(crate) struct LatencyHistogram(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    /// Per-bucket (not cumulative) counts; the last slot is `+Inf`.
    buckets: [AtomicU64; BOUNDS_NANOS.len() + 1],
    /// Sum of all observations, in nanoseconds (584 years before it wraps).
    sum_nanos: AtomicU64,
}

impl LatencyHistogram {
    /// Records one duration.
    pub(crate) fn observe(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let slot = BOUNDS_NANOS.partition_point(|&b| b < nanos);
        self.0.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.0.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Observations so far (the `+Inf` bucket), for tests.
    #[cfg(test)]
    fn count(&self) -> u64 {
        self.0
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .sum()
    }
}

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut count = 0;
        let buckets: Vec<(f64, u64)> = self
            .0
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let n = b.load(Ordering::Relaxed);
                count += n;
                let bound = BOUNDS_NANOS
                    .get(i)
                    .map_or(f64::INFINITY, |&ns| ns as f64 / 1e9);
                (bound, n)
            })
            .collect();
        let sum = self.0.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// `rocketmq_rpc_latency_seconds`: one histogram per operation, encoded as one family.
#[derive(Debug, Clone, Default)]
pub(crate) struct RpcLatency {
    /// SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE.
    pub(crate) send: LatencyHistogram,
    /// PULL_MESSAGE, LITE_PULL_MESSAGE.
    pub(crate) pull: LatencyHistogram,
}

impl TypedMetric for RpcLatency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for RpcLatency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (operation, h) in [("send", &self.send), ("pull", &self.pull)] {
            h.encode(encoder.encode_family(&[("operation", operation)])?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    #[test]
    fn buckets_are_inclusive_upper_bounds_and_cumulative() {
        let h = LatencyHistogram::default();
        h.observe(Duration::from_micros(100)); // le=0.0001 exactly
        h.observe(Duration::from_micros(101)); // next bucket
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60)); // only +Inf
        assert_eq!(h.count(), 4);
        let mut reg = Registry::default();
        reg.register("lat_seconds", "test", h);
        let mut text = String::new();
        encode(&mut text, &reg).expect("encode");
        for line in [
            "lat_seconds_bucket{le=\"0.0001\"} 1",
            "lat_seconds_bucket{le=\"0.00025\"} 2",
            "lat_seconds_bucket{le=\"0.0025\"} 2",
            "lat_seconds_bucket{le=\"0.005\"} 3",
            "lat_seconds_bucket{le=\"10.0\"} 3",
            "lat_seconds_bucket{le=\"+Inf\"} 4",
            "lat_seconds_count 4",
            "lat_seconds_sum 60.003201",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
