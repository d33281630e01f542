//! Embedded broker start + stop: what every test and every `cargo run` of an app pays.

use std::time::Instant;

use anyhow::Result;
use rmq_broker::embedded::EmbeddedBroker;
use serde::Serialize;

use crate::cli::StartStopArgs;

/// Timings in milliseconds.
#[derive(Debug, Serialize)]
pub struct StartStop {
    /// Cycles.
    pub rounds: usize,
    /// Start (name server + broker, temp store) → ready.
    pub start_ms: Vec<f64>,
    /// Clean stop.
    pub stop_ms: Vec<f64>,
    /// Median of start + stop.
    pub median_total_ms: f64,
    /// Slowest start + stop.
    pub max_total_ms: f64,
}

/// Starts and stops the embedded broker `rounds` times (one extra unmeasured round first).
pub async fn run(args: StartStopArgs) -> Result<()> {
    let mut start_ms = Vec::new();
    let mut stop_ms = Vec::new();
    for round in 0..=args.rounds {
        let t0 = Instant::now();
        let broker = EmbeddedBroker::start().await?;
        let t1 = Instant::now();
        broker.broker().shutdown().await?;
        let tb = Instant::now();
        broker.shutdown().await?;
        let tn = Instant::now();
        drop(broker);
        let t2 = Instant::now();
        if std::env::var_os("RMQ_BENCH_DEBUG").is_some() {
            eprintln!(
                "broker {:?} namesrv {:?} drop {:?}",
                tb - t1,
                tn - tb,
                t2 - tn
            );
        }
        if round > 0 {
            start_ms.push(t1.duration_since(t0).as_secs_f64() * 1e3);
            stop_ms.push(t2.duration_since(t1).as_secs_f64() * 1e3);
        }
    }
    let mut totals: Vec<f64> = start_ms.iter().zip(&stop_ms).map(|(a, b)| a + b).collect();
    totals.sort_by(f64::total_cmp);
    let report = StartStop {
        rounds: args.rounds,
        median_total_ms: totals.get(totals.len() / 2).copied().unwrap_or(0.0),
        max_total_ms: totals.last().copied().unwrap_or(0.0),
        start_ms,
        stop_ms,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        println!(
            "== start-stop: {} rounds, start avg {:.1} ms, stop avg {:.1} ms, start+stop median {:.1} ms, max {:.1} ms",
            report.rounds,
            avg(&report.start_ms),
            avg(&report.stop_ms),
            report.median_total_ms,
            report.max_total_ms
        );
    }
    Ok(())
}
