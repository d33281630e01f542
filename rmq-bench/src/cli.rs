//! Command line: one subcommand per load shape, options shared by all of them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `rmq-bench`: produce, consume or both against any RocketMQ-protocol name server.
#[derive(Parser, Debug)]
#[command(name = "rmq-bench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub mode: Mode,
}

/// The load shapes, after RocketMQ's `benchmark/` (Producer, Consumer, BatchProducer, TransactionProducer).
#[derive(Subcommand, Debug)]
pub enum Mode {
    /// Send messages one by one (sync, async or oneway) with a fixed number in flight.
    Produce(ProduceArgs),
    /// Send batches of messages (one SEND_BATCH_MESSAGE request per batch).
    Batch(ProduceArgs),
    /// Transactional sends: half message, local transaction (commit), END_TRANSACTION.
    Tx(ProduceArgs),
    /// Consume a topic with a push consumer group and report the consume rate.
    Consume(ConsumeArgs),
    /// Produce and consume at once: send latency, store-to-consume and end-to-end latency, consumer lag.
    E2e(E2eArgs),
    /// Time the embedded broker's start and stop (name server + broker in this process, temp store).
    StartStop(StartStopArgs),
    /// Raw loopback TCP echo of frames of the same size: the machine's ceiling for request/response.
    Echo(EchoArgs),
    /// Sync sends over gRPC (RocketMQ 5's MessagingService) with Apache's Rust 5.x client, a fixed number in
    /// flight.
    GrpcProduce(ProduceArgs),
    /// Fill the topic, then SimpleConsumers receive (POP) and ack over gRPC until every message is acked.
    GrpcConsume(GrpcConsumeArgs),
}

/// Where the load goes and how long it runs.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// Name servers (`host:port;host:port`). Without it the bundled `rmq-broker` binary is started with a
    /// temp store and its RSS is reported.
    #[arg(short = 'n', long = "namesrv", env = "NAMESRV_ADDR")]
    pub namesrv: Option<String>,
    /// The `rmq-broker` binary to start when no name server is given (default: next to this binary).
    #[arg(long)]
    pub broker_bin: Option<PathBuf>,
    /// Flush mode of the started broker (with `-n` this only labels the report: set it in the broker).
    #[arg(long, value_enum, default_value_t = Flush::Async)]
    pub flush: Flush,
    /// Store directory of the started broker (default: a temp dir; e.g. /dev/shm to take the disk out).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Report the resident memory (current and peak) of this broker process at the end.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    /// Topic.
    #[arg(short = 't', long, default_value = "BenchmarkTest")]
    pub topic: String,
    /// Create the topic with this many queues on every master before the run (0: don't).
    #[arg(long, default_value_t = 8)]
    pub queues: i32,
    /// Measure for this long (seconds), after the warm-up.
    #[arg(short = 'd', long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many messages instead (warm-up included in the count).
    #[arg(long)]
    pub count: Option<u64>,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Print one JSON document with the summary on stdout (progress lines still go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Request header encoding of the client (JSON, as every client by default, or ROCKETMQ binary).
    #[arg(long, value_enum, default_value_t = Serialize::Json)]
    pub serialize: Serialize,
    /// The RocketMQ 5 gRPC endpoint for the `grpc-*` modes (`host:port`; default: the started broker's).
    #[arg(long)]
    pub grpc: Option<String>,
    /// A label for the report (e.g. the broker's name in a comparison).
    #[arg(long, default_value = "")]
    pub label: String,
}

impl Target {
    /// The measuring window.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.max(0.0))
    }

    /// The warm-up window (none when a message count is given).
    pub fn warmup(&self) -> Duration {
        if self.count.is_some() {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(self.warmup.max(0.0))
        }
    }
}

/// Options of the sending modes.
#[derive(Args, Debug, Clone)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub target: Target,
    /// Body size in bytes.
    #[arg(short = 's', long, default_value_t = 1024)]
    pub size: usize,
    /// Sends (or batches) in flight.
    #[arg(short = 'c', long, default_value_t = 64)]
    pub concurrency: usize,
    /// Send mode (produce only).
    #[arg(long, value_enum, default_value_t = SendMode::Sync)]
    pub send_mode: SendMode,
    /// Messages per batch (batch mode).
    #[arg(short = 'b', long, default_value_t = 32)]
    pub batch: usize,
    /// Target rate in messages per second (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Add a TAG and KEYS to every message, as RocketMQ's benchmark does with `-k`.
    #[arg(long)]
    pub keys: bool,
}

/// Options of the consume mode.
#[derive(Args, Debug, Clone)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub target: Target,
    /// Consumer group.
    #[arg(short = 'g', long, default_value = "benchmark_consumer")]
    pub group: String,
    /// Start from the first offset instead of the last.
    #[arg(long)]
    pub from_first: bool,
    /// Handler concurrency (`consumeThreadMax`).
    #[arg(long, default_value_t = 20)]
    pub threads: usize,
}

/// Options of the gRPC consume mode.
#[derive(Args, Debug, Clone)]
pub struct GrpcConsumeArgs {
    #[command(flatten)]
    pub produce: ProduceArgs,
    /// Consumer group.
    #[arg(short = 'g', long, default_value = "benchmark_grpc_consumer")]
    pub group: String,
    /// SimpleConsumers receiving at once.
    #[arg(long, default_value_t = 4)]
    pub consumers: usize,
    /// Messages per receive (the broker's POP takes at most 32).
    #[arg(long, default_value_t = 32)]
    pub receive_batch: i32,
}

/// Options of the end-to-end mode.
#[derive(Args, Debug, Clone)]
pub struct E2eArgs {
    #[command(flatten)]
    pub produce: ProduceArgs,
    /// Consumer group.
    #[arg(short = 'g', long, default_value = "benchmark_e2e")]
    pub group: String,
    /// Handler concurrency (`consumeThreadMax`).
    #[arg(long, default_value_t = 20)]
    pub threads: usize,
}

/// Options of the start-stop mode.
#[derive(Args, Debug, Clone)]
pub struct StartStopArgs {
    /// Start-stop cycles.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of the echo mode.
#[derive(Args, Debug, Clone)]
pub struct EchoArgs {
    /// Frame size in bytes (the size of a 1 KiB send request is about 1.3 KiB).
    #[arg(short = 's', long, default_value_t = 1300)]
    pub size: usize,
    /// Requests in flight (pipelined on one connection).
    #[arg(short = 'c', long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds.
    #[arg(short = 'd', long, default_value_t = 5.0)]
    pub duration: f64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// How one message is sent.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendMode {
    /// Wait for the broker's answer.
    Sync,
    /// A spawned send whose answer is awaited by the caller's future.
    Async,
    /// Fire and forget (no latency beyond the write).
    Oneway,
}

/// Broker flush mode.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// ASYNC_FLUSH: acknowledged when in the page cache.
    Async,
    /// SYNC_FLUSH: acknowledged after fsync (group commit).
    Sync,
}

impl Flush {
    /// RocketMQ's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Flush::Async => "ASYNC_FLUSH",
            Flush::Sync => "SYNC_FLUSH",
        }
    }
}

/// Request header encoding.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serialize {
    /// JSON headers (serialize type 0).
    Json,
    /// ROCKETMQ binary headers (serialize type 1).
    Rocketmq,
}
