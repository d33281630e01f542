//! Counters and latency histograms shared by the load tasks, the once-a-second progress line and the summary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

/// Highest latency recorded, in microseconds (longer ones are clamped): a minute.
const MAX_MICROS: u64 = 60_000_000;

/// Histogram lanes: each task records into its own lane so recording never contends.
const LANES: usize = 64;

/// Latencies in microseconds, one HDR histogram per lane, merged when read.
pub struct Latencies {
    lanes: Vec<Mutex<Histogram<u64>>>,
}

impl Latencies {
    /// Empty histograms (1 µs .. 60 s, 3 significant digits).
    pub fn new() -> Self {
        Latencies {
            lanes: (0..LANES).map(|_| Mutex::new(new_histogram())).collect(),
        }
    }

    /// Records one latency for task `lane`.
    pub fn record(&self, lane: usize, latency: Duration) {
        let micros = (latency.as_micros() as u64).clamp(1, MAX_MICROS);
        // Clamped into range, so recording cannot fail.
        let _ = self.lanes[lane % LANES].lock().record(micros);
    }

    /// Everything recorded so far.
    pub fn snapshot(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for lane in &self.lanes {
            // Same bounds on both sides, so adding cannot fail.
            let _ = all.add(&*lane.lock());
        }
        all
    }

    /// Forgets everything (end of the warm-up).
    pub fn reset(&self) {
        for lane in &self.lanes {
            lane.lock().reset();
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    // Valid constant bounds: 1 ≤ low, high ≥ 2·low, 3 significant figures.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|_| unreachable!())
}

/// One side of a run (sending or consuming): counts and latencies.
pub struct Meter {
    /// Messages done.
    pub messages: AtomicU64,
    /// Body bytes done.
    pub bytes: AtomicU64,
    /// Failed operations.
    pub errors: AtomicU64,
    /// Per-message latency.
    pub latency: Latencies,
}

impl Meter {
    /// A zeroed meter.
    pub fn new() -> Self {
        Meter {
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: Latencies::new(),
        }
    }

    /// Counts `messages` of `bytes` body bytes in total.
    pub fn done(&self, messages: u64, bytes: u64) {
        self.messages.fetch_add(messages, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts a failure.
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Zeroes everything.
    pub fn reset(&self) {
        self.messages.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        self.latency.reset();
    }

    fn counts(&self) -> (u64, u64, u64) {
        (
            self.messages.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }

    /// The figures over `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> MeterSummary {
        let (messages, bytes, errors) = self.counts();
        let secs = elapsed.as_secs_f64().max(1e-9);
        MeterSummary {
            messages,
            bytes,
            errors,
            tps: messages as f64 / secs,
            mb_per_s: bytes as f64 / secs / 1e6,
            latency: LatencySummary::of(&self.latency.snapshot()),
        }
    }
}

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Serialize, Default)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Fastest.
    pub min_ms: f64,
    /// Mean.
    pub avg_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Reads a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            min_ms: ms(h.min()),
            avg_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }

    /// `min/avg/p50/p99/p999/max` on one line.
    pub fn line(&self) -> String {
        format!(
            "min {:.3} avg {:.3} p50 {:.3} p99 {:.3} p999 {:.3} max {:.3} ms ({} samples)",
            self.min_ms,
            self.avg_ms,
            self.p50_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
            self.count
        )
    }
}

/// One side's totals.
#[derive(Debug, Clone, Serialize)]
pub struct MeterSummary {
    /// Messages.
    pub messages: u64,
    /// Body bytes.
    pub bytes: u64,
    /// Failures.
    pub errors: u64,
    /// Messages per second.
    pub tps: f64,
    /// Body megabytes (10^6) per second.
    pub mb_per_s: f64,
    /// Per-operation latency.
    pub latency: LatencySummary,
}

/// Prints a progress line per second for `meters` while the run lasts; returns when `finished` says so or
/// the measuring window is over, with the measured time. The warm-up comes first and is then forgotten.
pub async fn drive(
    meters: &[(&str, &Meter)],
    warmup: Duration,
    window: Option<Duration>,
    finished: &tokio::sync::Notify,
    extra: &(dyn Fn() -> String + Sync),
    broker_pid: Option<u32>,
) -> (Duration, CpuWindow) {
    let notified = finished.notified();
    tokio::pin!(notified);
    if !warmup.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(warmup) => {}
            _ = &mut notified => return (Duration::ZERO, CpuWindow::start(broker_pid)),
        }
        for (_, m) in meters {
            m.reset();
        }
        eprintln!("warm-up of {:.1} s done, measuring", warmup.as_secs_f64());
    }
    let start = Instant::now();
    let cpu = CpuWindow::start(broker_pid);
    let mut last: Vec<(u64, u64)> = meters.iter().map(|_| (0, 0)).collect();
    let mut last_at = start;
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    loop {
        let stop_at = window.map(|w| start + w);
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut notified => break,
            _ = sleep_until_opt(stop_at) => break,
        }
        let now = Instant::now();
        let dt = now.duration_since(last_at).as_secs_f64().max(1e-9);
        let mut line = format!("[{:5.1}s]", now.duration_since(start).as_secs_f64());
        for (i, (name, m)) in meters.iter().enumerate() {
            let (msgs, bytes, errors) = m.counts();
            let l = LatencySummary::of(&m.latency.snapshot());
            line.push_str(&format!(
                " {name}: {:>9.0} msg/s {:>7.1} MB/s p50 {:.2} p99 {:.2} ms err {errors} |",
                (msgs - last[i].0) as f64 / dt,
                (bytes - last[i].1) as f64 / dt / 1e6,
                l.p50_ms,
                l.p99_ms,
            ));
            last[i] = (msgs, bytes);
        }
        line.push_str(&extra());
        eprintln!("{line}");
        last_at = now;
    }
    (start.elapsed(), cpu)
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Resident memory of a process, from `/proc/PID/status`.
#[derive(Debug, Clone, Serialize)]
pub struct Rss {
    /// The process.
    pub pid: u32,
    /// Current resident set, MiB.
    pub rss_mib: f64,
    /// Peak resident set (VmHWM), MiB.
    pub peak_rss_mib: f64,
}

impl Rss {
    /// Reads it; `None` when the process is gone or this is not Linux.
    pub fn of(pid: u32) -> Option<Rss> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| -> Option<f64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb / 1024.0)
        };
        Some(Rss {
            pid,
            rss_mib: field("VmRSS:")?,
            peak_rss_mib: field("VmHWM:")?,
        })
    }
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat`; `None` when unreadable.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ, the unit of /proc times, is 100 on every Linux architecture that matters here.
    Some(Duration::from_millis(ticks * 10))
}

/// CPU used by the broker and by this process over a window, for per-message costs that do not depend on
/// what else the machine is running.
pub struct CpuWindow {
    broker: Option<(u32, Duration)>,
    client: Option<Duration>,
}

impl CpuWindow {
    /// Starts counting now.
    pub fn start(broker_pid: Option<u32>) -> CpuWindow {
        CpuWindow {
            broker: broker_pid.and_then(|p| cpu_time(p).map(|t| (p, t))),
            client: cpu_time(std::process::id()),
        }
    }

    /// Microseconds of CPU per message for (broker, client) since the start.
    pub fn per_message(&self, messages: u64) -> (Option<f64>, Option<f64>) {
        let per = |used: Duration| used.as_secs_f64() * 1e6 / messages.max(1) as f64;
        let broker = self
            .broker
            .and_then(|(p, t0)| cpu_time(p).map(|t| per(t.saturating_sub(t0))));
        let client = self
            .client
            .and_then(|t0| cpu_time(std::process::id()).map(|t| per(t.saturating_sub(t0))));
        (broker, client)
    }
}
