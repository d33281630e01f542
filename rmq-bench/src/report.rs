//! The final summary: a few aligned lines for people, one JSON document for scripts.

use serde::Serialize;

use crate::stats::{LatencySummary, MeterSummary, Rss};

/// Everything a run measured.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    /// `--label`.
    pub label: String,
    /// produce, batch, tx, consume, e2e.
    pub mode: String,
    /// Send mode (sync/async/oneway) where it applies.
    pub send_mode: Option<String>,
    /// Broker flush mode (as started, or as labelled with `-n`).
    pub flush: String,
    /// Body bytes per message.
    pub size: usize,
    /// Operations in flight.
    pub concurrency: usize,
    /// Messages per batch (batch mode).
    pub batch: Option<usize>,
    /// Target rate, messages per second (0: unlimited).
    pub rate: u64,
    /// Measured seconds (after the warm-up).
    pub seconds: f64,
    /// Sending side.
    pub send: Option<MeterSummary>,
    /// Consuming side; latency is end to end (send call → handler) in e2e mode, born → handler otherwise.
    pub consume: Option<MeterSummary>,
    /// Broker store timestamp → handler (ms resolution: the store timestamp is in ms).
    pub store_to_consume: Option<LatencySummary>,
    /// Largest consumer lag seen (messages sent − messages consumed), e2e mode.
    pub max_lag: Option<u64>,
    /// Consumer lag at the end of the window, e2e mode.
    pub end_lag: Option<u64>,
    /// Broker CPU time per message (user + system, µs), when the broker process is known.
    pub broker_cpu_us_per_msg: Option<f64>,
    /// This process's CPU time per message (µs).
    pub client_cpu_us_per_msg: Option<f64>,
    /// The broker's resident memory at the end, when known.
    pub broker_rss: Option<Rss>,
}

impl Report {
    /// Fills the CPU-per-message figures from a measuring window over `messages`.
    pub fn cpu(&mut self, window: &crate::stats::CpuWindow, messages: u64) {
        let (broker, client) = window.per_message(messages);
        self.broker_cpu_us_per_msg = broker;
        self.client_cpu_us_per_msg = client;
    }

    /// Prints the summary (JSON when asked).
    pub fn print(&self, json: bool) {
        if json {
            match serde_json::to_string_pretty(self) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("cannot encode the report: {e}"),
            }
            return;
        }
        let label = if self.label.is_empty() {
            String::new()
        } else {
            format!(" [{}]", self.label)
        };
        println!(
            "== {}{}{label}: {} B bodies, {} in flight, {}, {:.1} s measured",
            self.mode,
            self.send_mode
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default(),
            self.size,
            self.concurrency,
            self.flush,
            self.seconds
        );
        if let Some(b) = self.batch {
            println!("   batch size      {b}");
        }
        if self.rate > 0 {
            println!("   target rate     {} msg/s", self.rate);
        }
        for (name, m) in [("send", &self.send), ("consume", &self.consume)] {
            if let Some(m) = m {
                println!(
                    "   {name:<8} {:>10} msgs {:>11.0} msg/s {:>8.1} MB/s  errors {}",
                    m.messages, m.tps, m.mb_per_s, m.errors
                );
                println!("   {name:<8} latency {}", m.latency.line());
            }
        }
        if let Some(l) = &self.store_to_consume {
            println!("   store→consume    {}", l.line());
        }
        if let (Some(max), Some(end)) = (self.max_lag, self.end_lag) {
            println!("   consumer lag     max {max}, at the end {end}");
        }
        match (self.broker_cpu_us_per_msg, self.client_cpu_us_per_msg) {
            (Some(b), Some(c)) => {
                println!("   cpu per message  broker {b:.1} µs, client {c:.1} µs")
            }
            (None, Some(c)) => println!("   cpu per message  client {c:.1} µs"),
            _ => {}
        }
        if let Some(r) = &self.broker_rss {
            println!(
                "   broker pid {}   RSS {:.1} MiB, peak {:.1} MiB",
                r.pid, r.rss_mib, r.peak_rss_mib
            );
        }
    }
}
