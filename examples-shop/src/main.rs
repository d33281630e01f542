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
    /// Run the shop with its HTTP API until Ctrl-C / SIGTERM.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The database (sqlite:PATH or postgres://...); default: shop.db under --data-dir.
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        /// Data directory: the SQLite file and the bundled broker's store.
        #[arg(long, default_value = "shop-data")]
        data_dir: PathBuf,
        /// Read application.toml from this directory instead of the bundled one (environment variables
        /// override either, e.g. ROCKETMQ_NAME_SERVER=127.0.0.1:9876 for an external name server).
        #[arg(long)]
        config_dir: Option<PathBuf>,
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
        Command::Serve {
            listen,
            database_url,
            data_dir,
            config_dir,
        } => {
            let settings = examples_shop::config::load_settings(config_dir.as_deref())
                .context("loading the configuration")?;
            let app = examples_shop::app::ShopApp::start(examples_shop::app::ShopOptions::new(
                settings,
                database_url,
                data_dir,
            ))
            .await
            .context("starting the shop")?;
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            println!(
                "shop listening on http://{} ({} database, name server {})",
                listener.local_addr()?,
                app.shop().db_kind(),
                app.app().namesrv_addr()
            );
            let served =
                examples_shop::http::serve(listener, app.shop().clone(), shutdown_signal()).await;
            app.shutdown().await;
            served.context("serving HTTP")?;
            Ok(ExitCode::SUCCESS)
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

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
