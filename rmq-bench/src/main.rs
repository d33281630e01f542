//! `rmq-bench`: a load generator for any RocketMQ-protocol cluster, after RocketMQ's benchmark tools.
//!
//! Without `-n` it starts the bundled `rmq-broker` (a separate process, temp store) and reports its memory;
//! with `-n` the same load goes to any name server, so two brokers can be compared in one script
//! (`scripts/bench-compare.sh`). Progress goes to stderr once a second; the summary to stdout (`--json`).
//!
//! # Layout
//! - `cli`: the clap definitions, one subcommand per load;
//! - `modes/`: one module per load (`send` for produce/batch/tx, `consume`, `echo`, `start_stop`, `grpc` for
//!   the RocketMQ 5 gRPC sends and receives);
//! - `setup`: the broker under test (started here or given with `-n`), topics and groups;
//! - `broker_proc`: the bundled `rmq-broker` as a child process, its RSS and CPU time;
//! - `stats`: latency histograms and counters shared by the load tasks;
//! - `report`: the per-second progress line and the summary (text or `--json`).

mod broker_proc;
mod cli;
mod modes;
mod report;
mod setup;
mod stats;

use anyhow::Result;
use clap::Parser;

use cli::{Cli, Mode};
use modes::send::Kind;

/// See Cargo.toml: small per-request allocations dominate; mimalloc halves their cost.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let (report, json) = match cli.mode {
        Mode::Produce(a) => {
            let json = a.target.json;
            let kind = Kind::Single(a.send_mode);
            (modes::send(a, kind).await?, json)
        }
        Mode::Batch(a) => {
            let json = a.target.json;
            let kind = Kind::Batch(a.batch.max(1));
            (modes::send(a, kind).await?, json)
        }
        Mode::Tx(a) => {
            let json = a.target.json;
            (modes::send(a, Kind::Transaction).await?, json)
        }
        Mode::Consume(a) => {
            let json = a.target.json;
            (modes::consume(a).await?, json)
        }
        Mode::E2e(a) => {
            let json = a.produce.target.json;
            (modes::e2e(a).await?, json)
        }
        Mode::Echo(a) => {
            let json = a.json;
            (modes::echo::run(a).await?, json)
        }
        Mode::StartStop(a) => return modes::start_stop::run(a).await,
        Mode::GrpcProduce(a) => {
            let json = a.target.json;
            (modes::grpc::produce(a).await?, json)
        }
        Mode::GrpcConsume(a) => {
            let json = a.produce.target.json;
            (modes::grpc::consume(a).await?, json)
        }
    };
    report.print(json);
    Ok(())
}
