//! `examples-shop`: the rmq shop. `demo` (the default) runs the course notes' scenarios on the embedded
//! defaults and exits 0 only if every invariant held.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// The rmq shop: order, goods, coupon, user and pay services over RocketMQ.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the notes' scenarios on a bundled broker and a temp SQLite database, print the before/after
    /// states, exit non-zero unless every invariant held (the default command).
    Demo {
        /// Use this database instead of a temp SQLite file (sqlite:PATH or postgres://...).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Prepare the database (migrations, consumer log, seed data) and exit.
    InitDb {
        /// The database (sqlite:PATH or postgres://...); default: shop.db under --data-dir.
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        /// Where the SQLite file lives.
        #[arg(long, default_value = "shop-data")]
        data_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,rmq_runtime=error,rmq_broker=error")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Demo { database_url: None });
    match run(command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo { database_url } => {
            let report = match database_url {
                None => examples_shop::demo::run().await,
                Some(url) => {
                    let dir = tempfile::Builder::new().prefix("rmq-shop-demo").tempdir()?;
                    examples_shop::demo::run_in(dir.path(), Some(url)).await
                }
            }
            .context("running the demo")?;
            print!("{}", report.render());
            if report.ok() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "demo failed: {} invariant(s) did not hold",
                    report.failures.len()
                );
                Ok(ExitCode::FAILURE)
            }
        }
        Command::InitDb {
            database_url,
            data_dir,
        } => {
            let db = examples_shop::db::DbPool::connect(database_url.as_deref(), &data_dir)
                .await
                .context("opening the database")?;
            db.prepare().await.context("preparing the database")?;
            println!("{} database ready", db.kind());
            Ok(ExitCode::SUCCESS)
        }
    }
}
