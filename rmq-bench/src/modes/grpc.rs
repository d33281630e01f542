//! The RocketMQ 5 gRPC loads, driven with Apache's own Rust 5.x client (`rocketmq` 5.0.0): sync sends with a
//! fixed number in flight, and POP receive + ack by SimpleConsumers. The same meters, progress line and report
//! as the remoting modes, so the two protocols compare on one page.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use parking_lot::Mutex;
use rocketmq::conf::{ClientOption, LoggingFormat, ProducerOption, SimpleConsumerOption};
use rocketmq::model::common::{FilterExpression, FilterType};
use rocketmq::model::message::MessageBuilder;
use rocketmq::{Producer, SimpleConsumer};

use super::base_report;
use super::send::now_micros;
use crate::cli::{GrpcConsumeArgs, ProduceArgs};
use crate::report::Report;
use crate::setup::Setup;
use crate::stats::{drive, Meter};

/// How long an unacked message stays invisible while the consumers work through the topic.
const INVISIBLE: Duration = Duration::from_secs(60);

fn client_option(grpc: &str) -> ClientOption {
    let mut co = ClientOption::default();
    co.set_access_url(grpc.to_owned());
    co.set_enable_tls(false);
    co.set_long_polling_timeout(Duration::from_secs(2));
    co
}

/// The client logs every event at debug level, to the terminal (one line at a time, blocking) or to
/// `logs/rocketmq_client.log`; a benchmark wants the file, in a directory of its own that goes with the run.
fn quiet_client_logs() -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("rmq-bench-grpc-")
        .tempdir()
        .context("cannot create a directory for the gRPC client's log")?;
    std::fs::create_dir_all(dir.path().join("logs")).context("cannot create logs/")?;
    std::env::set_current_dir(dir.path()).context("cannot enter the log directory")?;
    Ok(dir)
}

fn endpoint(setup: &Setup) -> Result<String> {
    setup.grpc.clone().ok_or_else(|| {
        anyhow!("no gRPC endpoint: pass --grpc host:port (the started rmq-broker printed none)")
    })
}

async fn start_producer(grpc: &str, topic: &str) -> Result<Producer> {
    let mut po = ProducerOption::default();
    po.set_topics(vec![topic.to_owned()]);
    po.set_logging_format(LoggingFormat::Json);
    let mut p = Producer::new(po, client_option(grpc)).map_err(|e| anyhow!("{e}"))?;
    p.start()
        .await
        .map_err(|e| anyhow!("the gRPC producer does not start against {grpc}: {e}"))?;
    Ok(p)
}

fn body(size: usize) -> Vec<u8> {
    let mut body = vec![b'x'; size.max(8)];
    body[..8].copy_from_slice(&now_micros().to_be_bytes());
    body
}

/// `concurrency` tasks sharing one producer, each keeping one send in flight, until `stop` or `count`.
fn spawn_senders(
    producer: Arc<Producer>,
    args: &ProduceArgs,
    meter: Arc<Meter>,
    stop: Arc<AtomicBool>,
    finished: Arc<tokio::sync::Notify>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let issued = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicU64::new(args.concurrency.max(1) as u64));
    (0..args.concurrency.max(1))
        .map(|lane| {
            let (p, meter, stop, issued, running, finished) = (
                producer.clone(),
                meter.clone(),
                stop.clone(),
                issued.clone(),
                running.clone(),
                finished.clone(),
            );
            let (topic, size, count, keys) = (
                args.target.topic.clone(),
                args.size,
                args.target.count,
                args.keys,
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let seq = issued.fetch_add(1, Ordering::Relaxed);
                    if count.is_some_and(|c| seq >= c) {
                        break;
                    }
                    let mut b = MessageBuilder::builder()
                        .set_topic(topic.clone())
                        .set_body(body(size));
                    if keys {
                        b = b.set_tag("bench").set_keys(vec![format!("k{seq}")]);
                    }
                    let Ok(msg) = b.build() else {
                        meter.error();
                        continue;
                    };
                    let started = Instant::now();
                    match p.send(msg).await {
                        Ok(_) => {
                            meter.latency.record(lane, started.elapsed());
                            meter.done(1, size as u64);
                        }
                        Err(_) => meter.error(),
                    }
                }
                if running.fetch_sub(1, Ordering::SeqCst) == 1 {
                    finished.notify_one();
                }
            })
        })
        .collect()
}

/// grpc-produce: sync sends over gRPC.
pub async fn produce(args: ProduceArgs) -> Result<Report> {
    let setup = Setup::new(&args.target).await?;
    let grpc = endpoint(&setup)?;
    let _logs = quiet_client_logs()?;
    let producer = Arc::new(start_producer(&grpc, &args.target.topic).await?);
    let meter = Arc::new(Meter::new());
    let stop = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(tokio::sync::Notify::new());
    let tasks = spawn_senders(
        producer.clone(),
        &args,
        meter.clone(),
        stop.clone(),
        finished.clone(),
    );
    let window = args.target.count.is_none().then(|| args.target.duration());
    let (seconds, cpu) = drive(
        &[("grpc send", &meter)],
        args.target.warmup(),
        window,
        &finished,
        &|| String::new(),
        setup.broker_pid,
    )
    .await;
    let summary = meter.summary(seconds);
    let messages = summary.messages;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        let _ = t.await;
    }
    if let Ok(p) = Arc::try_unwrap(producer) {
        let _ = p.shutdown().await;
    }
    let mut report = base_report(&args, "grpc-produce");
    report.send_mode = Some("sync".into());
    report.seconds = seconds.as_secs_f64();
    report.send = Some(summary);
    report.cpu(&cpu, messages);
    report.broker_rss = setup.rss();
    Ok(report)
}

/// grpc-consume: fills the topic with `--count` messages over gRPC, then `--consumers` SimpleConsumers
/// receive and ack until every message is acked once.
pub async fn consume(args: GrpcConsumeArgs) -> Result<Report> {
    let produce_args = &args.produce;
    let count = produce_args.target.count.unwrap_or(50_000);
    let setup = Setup::new(&produce_args.target).await?;
    let grpc = endpoint(&setup)?;
    let _logs = quiet_client_logs()?;
    let topic = produce_args.target.topic.clone();

    // Fill: the same sends as grpc-produce, unmeasured.
    let producer = Arc::new(start_producer(&grpc, &topic).await?);
    let fill = Arc::new(Meter::new());
    let (stop, filled) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(tokio::sync::Notify::new()),
    );
    let mut fill_args = produce_args.clone();
    fill_args.target.count = Some(count);
    let fillers = spawn_senders(producer.clone(), &fill_args, fill.clone(), stop, filled);
    for t in fillers {
        let _ = t.await;
    }
    let stored = fill.messages.load(Ordering::Relaxed);
    eprintln!("filled {topic} with {stored} messages over gRPC");

    let mut consumers = Vec::with_capacity(args.consumers.max(1));
    for _ in 0..args.consumers.max(1) {
        let mut o = SimpleConsumerOption::default();
        o.set_consumer_group(&args.group);
        o.set_topics(vec![topic.as_str()]);
        o.set_logging_format(LoggingFormat::Json);
        let mut c = SimpleConsumer::new(o, client_option(&grpc)).map_err(|e| anyhow!("{e}"))?;
        c.start()
            .await
            .map_err(|e| anyhow!("the SimpleConsumer does not start against {grpc}: {e}"))
            .context("grpc-consume")?;
        consumers.push(Arc::new(c));
    }
    let meter = Arc::new(Meter::new());
    let seen = Arc::new(Mutex::new(HashSet::<String>::with_capacity(
        stored as usize,
    )));
    let done = Arc::new(tokio::sync::Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = consumers
        .iter()
        .enumerate()
        .map(|(lane, c)| {
            let (c, meter, seen, done, stop, topic) = (
                c.clone(),
                meter.clone(),
                seen.clone(),
                done.clone(),
                stop.clone(),
                topic.clone(),
            );
            let batch = args.receive_batch.clamp(1, 32);
            tokio::spawn(async move {
                let star = FilterExpression::new(FilterType::Tag, "*");
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let Ok(msgs) = c.receive_with(&topic, &star, batch, INVISIBLE).await else {
                        meter.error();
                        continue;
                    };
                    for m in &msgs {
                        if c.ack(m).await.is_err() {
                            meter.error();
                            continue;
                        }
                        let fresh = seen.lock().insert(m.message_id().to_owned());
                        if fresh {
                            meter.done(1, m.body().len() as u64);
                        }
                    }
                    if !msgs.is_empty() {
                        meter.latency.record(lane, started.elapsed());
                    }
                    if seen.lock().len() as u64 >= stored {
                        done.notify_one();
                        break;
                    }
                }
            })
        })
        .collect();
    let (seconds, cpu) = drive(
        &[("grpc receive+ack", &meter)],
        Duration::ZERO,
        None,
        &done,
        &|| String::new(),
        setup.broker_pid,
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.abort();
    }
    let summary = meter.summary(seconds);
    let messages = summary.messages;
    let mut report = base_report(produce_args, "grpc-consume");
    report.concurrency = args.consumers;
    report.batch = Some(args.receive_batch.clamp(1, 32) as usize);
    report.seconds = seconds.as_secs_f64();
    report.consume = Some(summary);
    report.cpu(&cpu, messages);
    report.broker_rss = setup.rss();
    Ok(report)
}
