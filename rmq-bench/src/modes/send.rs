//! The sending loads: one message at a time (sync/async/oneway), batches, and transactions. `concurrency`
//! tasks each keep one operation in flight, so the number in flight is exactly `concurrency`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use bytes::Bytes;
use futures::future::BoxFuture;
use rmq_client::producer::{LocalTransactionState, TransactionProducer};
use rmq_client::{Message, MessageExt, Producer, ProducerOptions};

use crate::cli::{ProduceArgs, SendMode};
use crate::stats::Meter;

/// What each send task does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One message per call, in the given mode.
    Single(SendMode),
    /// `batch` messages per call.
    Batch(usize),
    /// Half message + commit.
    Transaction,
}

/// The sender behind the tasks.
#[derive(Clone)]
enum Sender {
    Plain(Producer),
    Tx(Arc<TransactionProducer>),
}

/// Shared state of a send run.
pub struct SendLoad {
    sender: Sender,
    kind: Kind,
    topic: String,
    size: usize,
    keys: bool,
    /// Per-task pause between operations for a target rate.
    pace: Option<Duration>,
    concurrency: usize,
    count: Option<u64>,
    issued: AtomicU64,
    stop: AtomicBool,
    /// Sending side figures.
    pub meter: Meter,
    /// Told when a message count is reached.
    pub finished: tokio::sync::Notify,
    running: AtomicU64,
}

/// Microseconds since the Unix epoch, written into the first 8 bytes of every body so consumers can
/// measure end-to-end latency on the same machine.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

impl SendLoad {
    /// Starts the producer for `kind`.
    pub async fn new(
        args: &ProduceArgs,
        kind: Kind,
        client: rmq_client::ClientConfig,
    ) -> Result<Arc<SendLoad>> {
        let mut opts = ProducerOptions::new("benchmark_producer", client.namesrv_addr.clone());
        opts.client = client;
        // A benchmark wants raw bodies: never compress.
        opts.compress_msg_body_over_howmuch = usize::MAX;
        let sender = match kind {
            Kind::Transaction => {
                let checker = |_msg: MessageExt| async { LocalTransactionState::Commit };
                Sender::Tx(Arc::new(TransactionProducer::start(opts, checker).await?))
            }
            _ => Sender::Plain(Producer::start(opts).await?),
        };
        let per_op = match kind {
            Kind::Batch(n) => n.max(1) as u64,
            _ => 1,
        };
        let pace = (args.rate > 0).then(|| {
            Duration::from_secs_f64(args.concurrency as f64 * per_op as f64 / args.rate as f64)
        });
        Ok(Arc::new(SendLoad {
            sender,
            kind,
            topic: args.target.topic.clone(),
            size: args.size,
            keys: args.keys,
            pace,
            concurrency: args.concurrency.max(1),
            count: args.target.count,
            issued: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            meter: Meter::new(),
            finished: tokio::sync::Notify::new(),
            running: AtomicU64::new(0),
        }))
    }

    /// Spawns the tasks; they run until [`SendLoad::stop`] or the message count.
    pub fn spawn(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        self.running
            .store(self.concurrency as u64, Ordering::SeqCst);
        (0..self.concurrency)
            .map(|lane| {
                let load = self.clone();
                tokio::spawn(async move {
                    load.run(lane).await;
                    if load.running.fetch_sub(1, Ordering::SeqCst) == 1 {
                        load.finished.notify_one();
                    }
                })
            })
            .collect()
    }

    /// Asks the tasks to stop after their current operation.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Messages sent (acknowledged) so far.
    pub fn sent(&self) -> u64 {
        self.meter.messages.load(Ordering::Relaxed)
    }

    fn message(&self, seq: u64) -> Message {
        let mut body = vec![b'x'; self.size.max(8)];
        body[..8].copy_from_slice(&now_micros().to_be_bytes());
        body.truncate(self.size.max(8));
        let mut msg = Message::new(self.topic.clone(), Bytes::from(body));
        if self.keys {
            msg = msg.with_tags("bench").with_key(format!("k{seq}"));
        }
        msg
    }

    async fn run(&self, lane: usize) {
        let per_op = match self.kind {
            Kind::Batch(n) => n.max(1) as u64,
            _ => 1,
        };
        let mut pace = self.pace.map(|p| {
            let mut i = tokio::time::interval(p);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        while !self.stop.load(Ordering::Relaxed) {
            let seq = self.issued.fetch_add(per_op, Ordering::Relaxed);
            if self.count.is_some_and(|c| seq >= c) {
                break;
            }
            if let Some(p) = pace.as_mut() {
                p.tick().await;
            }
            let started = Instant::now();
            let ok = match (&self.sender, self.kind) {
                (Sender::Plain(p), Kind::Single(SendMode::Sync)) => {
                    p.send(self.message(seq)).await.is_ok()
                }
                (Sender::Plain(p), Kind::Single(SendMode::Async)) => {
                    p.send_async(self.message(seq)).await.is_ok()
                }
                (Sender::Plain(p), Kind::Single(SendMode::Oneway)) => {
                    p.send_oneway(self.message(seq)).await.is_ok()
                }
                (Sender::Plain(p), Kind::Batch(n)) => {
                    let batch = (0..n as u64).map(|i| self.message(seq + i)).collect();
                    p.send_batch(batch).await.is_ok()
                }
                (Sender::Tx(p), _) => p
                    .send_in_transaction(self.message(seq), commit)
                    .await
                    .is_ok_and(|r| r.state == LocalTransactionState::Commit),
                (Sender::Plain(_), Kind::Transaction) => false,
            };
            if ok {
                self.meter.latency.record(lane, started.elapsed());
                self.meter.done(per_op, per_op * self.size as u64);
            } else {
                self.meter.error();
            }
        }
    }

    /// Unregisters the producer.
    pub async fn shutdown(&self) {
        match &self.sender {
            Sender::Plain(p) => p.shutdown().await,
            Sender::Tx(p) => p.shutdown().await,
        }
    }
}

fn commit(_: rmq_client::SendResult) -> BoxFuture<'static, LocalTransactionState> {
    Box::pin(async { LocalTransactionState::Commit })
}
