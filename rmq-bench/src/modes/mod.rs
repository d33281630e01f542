//! One function per mode: set up, drive the load with a progress line per second, summarise.

pub mod consume;
pub mod echo;
pub mod grpc;
pub mod send;
pub mod start_stop;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Result;

use crate::cli::{ConsumeArgs, E2eArgs, ProduceArgs};
use crate::report::Report;
use crate::setup::Setup;
use crate::stats::{drive, LatencySummary};
use consume::ConsumeLoad;
use send::{Kind, SendLoad};

pub(crate) fn base_report(args: &ProduceArgs, mode: &str) -> Report {
    Report {
        label: args.target.label.clone(),
        mode: mode.to_string(),
        flush: args.target.flush.name().to_string(),
        size: args.size,
        concurrency: args.concurrency,
        rate: args.rate,
        ..Report::default()
    }
}

/// produce / batch / tx.
pub async fn send(args: ProduceArgs, kind: Kind) -> Result<Report> {
    let setup = Setup::new(&args.target).await?;
    let load = SendLoad::new(&args, kind, setup.client("bench-producer")).await?;
    let tasks = load.spawn();
    let window = args.target.count.is_none().then(|| args.target.duration());
    let (seconds, cpu) = drive(
        &[("send", &load.meter)],
        args.target.warmup(),
        window,
        &load.finished,
        &|| String::new(),
        setup.broker_pid,
    )
    .await;
    let summary = load.meter.summary(seconds);
    let messages = summary.messages;
    load.stop();
    for t in tasks {
        let _ = t.await;
    }
    load.shutdown().await;
    let mode = match kind {
        Kind::Single(_) => "produce",
        Kind::Batch(_) => "batch",
        Kind::Transaction => "tx",
    };
    let mut report = base_report(&args, mode);
    if let Kind::Single(m) = kind {
        report.send_mode = Some(format!("{m:?}").to_lowercase());
    }
    if let Kind::Batch(n) = kind {
        report.batch = Some(n);
    }
    report.seconds = seconds.as_secs_f64();
    report.send = Some(summary);
    report.cpu(&cpu, messages);
    report.broker_rss = setup.rss();
    Ok(report)
}

/// consume: a group reading the topic (start from the first offset to drain what `produce` stored).
pub async fn consume(args: ConsumeArgs) -> Result<Report> {
    let setup = Setup::new(&args.target).await?;
    let load = ConsumeLoad::new(false);
    let consumer = load
        .start(
            setup.client("bench-consumer"),
            &args.group,
            &args.target.topic,
            args.from_first,
            args.threads,
        )
        .await?;
    let finished = Arc::new(tokio::sync::Notify::new());
    let watcher = args.target.count.map(|count| {
        let load = load.clone();
        let finished = finished.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(10));
            while load.consumed() < count {
                tick.tick().await;
            }
            finished.notify_one();
        })
    });
    let window = args.target.count.is_none().then(|| args.target.duration());
    let (seconds, cpu) = drive(
        &[("consume", &load.meter)],
        args.target.warmup(),
        window,
        &finished,
        &|| String::new(),
        setup.broker_pid,
    )
    .await;
    if let Some(w) = watcher {
        w.abort();
    }
    let summary = load.meter.summary(seconds);
    consumer.shutdown().await;
    let mut report = Report {
        label: args.target.label.clone(),
        mode: "consume".into(),
        flush: args.target.flush.name().into(),
        concurrency: args.threads,
        seconds: seconds.as_secs_f64(),
        consume: Some(summary),
        store_to_consume: Some(LatencySummary::of(&load.store_to_consume.snapshot())),
        broker_rss: setup.rss(),
        ..Report::default()
    };
    let consumed = report.consume.as_ref().map_or(0, |c| c.messages);
    // The consumer does not choose the size: report the mean of what it got.
    report.size = report
        .consume
        .as_ref()
        .map_or(0, |c| (c.bytes / c.messages.max(1)) as usize);
    report.cpu(&cpu, consumed);
    Ok(report)
}

/// e2e: produce and consume at once; lag is sampled every 10 ms.
pub async fn e2e(args: E2eArgs) -> Result<Report> {
    let p = &args.produce;
    let setup = Setup::new(&p.target).await?;
    let consume = ConsumeLoad::new(true);
    let consumer = consume
        .start(
            setup.client("bench-consumer"),
            &args.group,
            &p.target.topic,
            false,
            args.threads,
        )
        .await?;
    // The consumer joins at the last offset: wait until it owns queues so nothing sent is skipped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while consumer.assigned_queues().is_empty() {
        if std::time::Instant::now() > deadline {
            anyhow::bail!("the consumer got no queues in 30 s");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let load = SendLoad::new(p, Kind::Single(p.send_mode), setup.client("bench-producer")).await?;
    let max_lag = Arc::new(AtomicU64::new(0));
    let base = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (load, consume, max_lag, base) =
            (load.clone(), consume.clone(), max_lag.clone(), base.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(10));
            loop {
                tick.tick().await;
                let lag =
                    (load.sent() + base.load(Ordering::Relaxed)).saturating_sub(consume.consumed());
                max_lag.fetch_max(lag, Ordering::Relaxed);
            }
        })
    };
    let tasks = load.spawn();
    let window = p.target.count.is_none().then(|| p.target.duration());
    let lag_line = || {
        format!(
            " lag {}",
            (load.sent() + base.load(Ordering::Relaxed)).saturating_sub(consume.consumed())
        )
    };
    // After the warm-up both meters restart from zero; the lag keeps counting what was outstanding.
    let (seconds, cpu) = {
        let warmup = p.target.warmup();
        if !warmup.is_zero() {
            tokio::time::sleep(warmup).await;
            let outstanding =
                (load.sent() + base.load(Ordering::Relaxed)).saturating_sub(consume.consumed());
            load.meter.reset();
            consume.meter.reset();
            consume.store_to_consume.reset();
            base.store(outstanding, Ordering::Relaxed);
            max_lag.store(outstanding, Ordering::Relaxed);
            eprintln!("warm-up of {:.1} s done, measuring", warmup.as_secs_f64());
        }
        drive(
            &[("send", &load.meter), ("consume", &consume.meter)],
            std::time::Duration::ZERO,
            window,
            &load.finished,
            &lag_line,
            setup.broker_pid,
        )
        .await
    };
    let send_summary = load.meter.summary(seconds);
    let end_lag = (load.sent() + base.load(Ordering::Relaxed)).saturating_sub(consume.consumed());
    let consume_summary = consume.meter.summary(seconds);
    load.stop();
    for t in tasks {
        let _ = t.await;
    }
    sampler.abort();
    load.shutdown().await;
    consumer.shutdown().await;
    let mut report = base_report(p, "e2e");
    report.send_mode = Some(format!("{:?}", p.send_mode).to_lowercase());
    report.seconds = seconds.as_secs_f64();
    report.cpu(&cpu, send_summary.messages);
    report.send = Some(send_summary);
    report.consume = Some(consume_summary);
    report.store_to_consume = Some(LatencySummary::of(&consume.store_to_consume.snapshot()));
    report.max_lag = Some(max_lag.load(Ordering::Relaxed));
    report.end_lag = Some(end_lag);
    report.broker_rss = setup.rss();
    Ok(report)
}
