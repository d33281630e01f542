//! `rmq-broker`: run the bundled name server and broker, together (default) or one role per process.
//!
//! When every role is listening it prints one line to stdout, `READY namesrv=ADDR broker=ADDR`, so scripts and
//! tests can use ephemeral ports (`--listen 127.0.0.1:0`); with metrics on (`--metrics-listen ADDR` or
//! `metricsExporterType=PROM`) the line ends with ` metrics=ADDR`, the address serving `GET /metrics`, and with
//! the gRPC endpoint on (`--grpc-listen ADDR` or `grpcListen`) with ` grpc=ADDR`.
//! Ctrl-C or SIGTERM stops cleanly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use rmq_broker::broker::Broker;
use rmq_broker::config::{BrokerConfig, NamesrvConfig};
use rmq_broker::embedded::NAMESRV_DIR;
use rmq_broker::namesrv::NameServer;
use rmq_broker::store::FlushDiskType;
use tokio::net::TcpListener;

/// Apache's proxy port, where the all-in-one mode serves gRPC unless told otherwise.
const DEFAULT_GRPC_PORT: u16 = 8081;

/// See Cargo.toml: small per-request allocations dominate; mimalloc halves their cost.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "rmq-broker",
    version,
    about = "RocketMQ-compatible name server and broker"
)]
struct Cli {
    #[command(subcommand)]
    role: Option<Role>,
    /// Name-server listen address (combined mode).
    #[arg(long, default_value = "127.0.0.1:9876", global = true)]
    namesrv_listen: SocketAddr,
    /// Name-server directory: its kvConfig.json (kvConfigPath) and namesrv.properties (configStorePath).
    /// Default: `<store>/namesrv` when running with the broker, Java's `~/namesrv` for the `namesrv` role.
    #[arg(long, global = true, value_name = "DIR")]
    namesrv_dir: Option<PathBuf>,
    #[command(flatten)]
    broker: BrokerArgs,
}

#[derive(clap::Args, Debug, Clone)]
struct BrokerArgs {
    /// Broker listen address (overrides listenPort).
    #[arg(long, global = true)]
    listen: Option<SocketAddr>,
    /// Store root directory (overrides storePathRootDir; default ./store).
    #[arg(long, global = true)]
    store: Option<PathBuf>,
    /// broker.conf in Java properties format with RocketMQ's keys.
    #[arg(short = 'c', long = "config", global = true)]
    config: Option<PathBuf>,
    /// Serve Prometheus metrics (GET /metrics) here, e.g. 0.0.0.0:5557 or 127.0.0.1:0 for an ephemeral port
    /// (sets metricsExporterType=PROM, metricsPromExporterHost and metricsPromExporterPort).
    #[arg(long, global = true, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Serve the RocketMQ 5 gRPC endpoint (apache.rocketmq.v2 MessagingService) here, e.g. 127.0.0.1:8081
    /// (Apache's proxy port) or 127.0.0.1:0 for an ephemeral port (sets grpcListen). Default: on in the
    /// all-in-one mode, on the broker's IP at 8081 (an ephemeral port when --listen asks for port 0); off in the
    /// `broker` role. `grpcListen=` (empty) in broker.conf switches it off.
    #[arg(long, global = true, value_name = "ADDR")]
    grpc_listen: Option<SocketAddr>,
    /// Flush mode (overrides flushDiskType).
    #[arg(long, value_enum, global = true)]
    flush: Option<Flush>,
    /// Print the effective broker config and exit.
    #[arg(long, global = true)]
    print_config: bool,
    /// Request-handling threads (default: CPUs − 1, at least 1, leaving a core to the store's writer thread;
    /// `TOKIO_WORKER_THREADS` also sets it).
    #[arg(long, global = true)]
    worker_threads: Option<usize>,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// Run only the name server (on --namesrv-listen).
    Namesrv,
    /// Run only the broker, registering with the given name servers.
    Broker {
        /// Name servers, `host:port;host:port` (overrides namesrvAddr).
        #[arg(short = 'n', long = "namesrv", env = "NAMESRV_ADDR")]
        namesrv: Option<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Flush {
    Sync,
    Async,
}

fn broker_config(args: &BrokerArgs) -> Result<BrokerConfig> {
    let mut cfg = match &args.config {
        Some(path) => {
            let (cfg, notes) = BrokerConfig::from_file(path)?;
            for note in notes {
                if note.is_warning() {
                    tracing::warn!("{note}");
                } else {
                    tracing::info!("{note}");
                }
            }
            cfg
        }
        None => BrokerConfig::default(),
    };
    if let Some(addr) = args.listen {
        cfg.bind_ip = addr.ip();
        cfg.listen_port = addr.port();
    }
    if let Some(addr) = args.metrics_listen {
        cfg.enable_metrics(addr);
    }
    if let Some(addr) = args.grpc_listen {
        cfg.grpc_listen = Some(addr);
        cfg.grpc_listen_given = true;
    }
    if let Some(store) = &args.store {
        cfg.store_path_root_dir = store.clone();
    }
    match args.flush {
        Some(Flush::Sync) => cfg.flush_disk_type = FlushDiskType::Sync,
        Some(Flush::Async) => cfg.flush_disk_type = FlushDiskType::Async,
        None => {}
    }
    cfg.validate()?;
    Ok(cfg)
}

async fn start_broker(cfg: BrokerConfig) -> Result<Broker> {
    let addr = SocketAddr::new(cfg.bind_ip, cfg.listen_port);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (broker)"))?;
    Ok(Broker::start(listener, cfg).await?)
}

/// The name server with its files in `dir` (Java's `~/namesrv` when `None`).
async fn start_namesrv(addr: SocketAddr, dir: Option<&std::path::Path>) -> Result<NameServer> {
    let config = match dir {
        Some(dir) => NamesrvConfig::default().with_dir(dir),
        None => NamesrvConfig::default(),
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (name server)"))?;
    Ok(NameServer::start(listener, config)?)
}

/// ` metrics=ADDR` and ` grpc=ADDR` for the READY line, for the endpoints that run.
fn metrics_field(broker: &Broker) -> String {
    let metrics = broker
        .metrics_addr()
        .map(|a| format!(" metrics={a}"))
        .unwrap_or_default();
    let grpc = broker
        .grpc_addr()
        .map(|a| format!(" grpc={a}"))
        .unwrap_or_default();
    format!("{metrics}{grpc}")
}

async fn wait_for_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

/// Network and request handling run on a tokio runtime sized one below the CPU count: the store's writer
/// thread is busy whenever requests are, and on 2 CPUs a second worker only added wake-ups between workers
/// (1 worker: 74 k sync sends/s at 11.5 µs of broker CPU each; 2 workers: 65 k at 13.6 µs; docs/performance.md).
///
/// A failure (a refused broker.conf key, a port in use, ...) is one line on stderr and exit status 1.
fn main() -> ExitCode {
    match start() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rmq-broker: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn start() -> Result<()> {
    let cli = Cli::parse();
    let workers = cli
        .broker
        .worker_threads
        .or_else(|| std::env::var("TOKIO_WORKER_THREADS").ok()?.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1))
                .max(1)
        });
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()
        .context("cannot start the runtime")?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut cfg = broker_config(&cli.broker)?;
    if cli.broker.print_config {
        for (k, v) in cfg.to_properties() {
            println!("{k}={v}");
        }
        return Ok(());
    }
    match cli.role {
        Some(Role::Namesrv) => {
            let ns = start_namesrv(cli.namesrv_listen, cli.namesrv_dir.as_deref()).await?;
            println!("READY namesrv={}", ns.addr());
            wait_for_signal().await?;
            ns.shutdown().await;
        }
        Some(Role::Broker { namesrv }) => {
            if let Some(n) = namesrv {
                cfg.set("namesrvAddr", &n)?;
            }
            if cfg.namesrv_addrs().is_empty() {
                bail!("the broker needs name servers: -n host:port[;host:port] or namesrvAddr in broker.conf");
            }
            let broker = start_broker(cfg).await?;
            println!("READY broker={}{}", broker.addr(), metrics_field(&broker));
            wait_for_signal().await?;
            broker.shutdown().await?;
        }
        None => {
            if !cfg.grpc_listen_given {
                // Apache's proxy port beside the all-in-one broker, as its local-mode proxy; with an ephemeral
                // remoting port (tests, scripts) an ephemeral one, so parallel brokers never collide.
                let port = if cfg.listen_port == 0 {
                    0
                } else {
                    DEFAULT_GRPC_PORT
                };
                cfg.grpc_listen = Some(SocketAddr::new(cfg.bind_ip, port));
            }
            let dir = cli
                .namesrv_dir
                .clone()
                .unwrap_or_else(|| cfg.store_path_root_dir.join(NAMESRV_DIR));
            let ns = start_namesrv(cli.namesrv_listen, Some(&dir)).await?;
            let local = ns.addr().to_string();
            let mut addrs = cfg.namesrv_addrs();
            if !addrs.contains(&local) {
                addrs.push(local);
            }
            cfg.set("namesrvAddr", &addrs.join(";"))?;
            let broker = start_broker(cfg).await?;
            println!(
                "READY namesrv={} broker={}{}",
                ns.addr(),
                broker.addr(),
                metrics_field(&broker)
            );
            wait_for_signal().await?;
            broker.shutdown().await?;
            ns.shutdown().await;
        }
    }
    Ok(())
}
