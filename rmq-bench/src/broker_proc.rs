//! The bundled broker as a child process: load generator and broker are separate processes, as in
//! production, so the broker's resident memory can be read on its own.

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::cli::Flush;

/// A running `rmq-broker` (name server + broker) on ephemeral ports with a temp store; killed on drop.
pub struct BrokerProcess {
    child: Child,
    /// Name-server address it printed.
    pub namesrv: String,
    /// Its RocketMQ 5 gRPC endpoint (the all-in-one binary serves one by default).
    pub grpc: Option<String>,
    _store: tempfile::TempDir,
}

impl BrokerProcess {
    /// Starts `bin` (or `rmq-broker` next to this executable) and waits for its READY line.
    pub async fn start(
        bin: Option<PathBuf>,
        flush: Flush,
        store_parent: Option<PathBuf>,
    ) -> Result<BrokerProcess> {
        let bin = match bin {
            Some(b) => b,
            None => std::env::current_exe()
                .context("cannot find this executable to locate rmq-broker")?
                .with_file_name("rmq-broker"),
        };
        if !bin.exists() {
            bail!(
                "{} not found: build it (cargo build --release -p rmq-broker) or pass --broker-bin or -n",
                bin.display()
            );
        }
        let mut store = tempfile::Builder::new();
        store.prefix("rmq-bench-store-");
        let store = match store_parent {
            Some(dir) => store.tempdir_in(dir),
            None => store.tempdir(),
        }
        .context("cannot create a temp store directory")?;
        let mut child = Command::new(&bin)
            .args(["--namesrv-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"])
            .arg("--store")
            .arg(store.path())
            .args([
                "--flush",
                match flush {
                    Flush::Async => "async",
                    Flush::Sync => "sync",
                },
            ])
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stdout = child.stdout.take().context("no stdout from rmq-broker")?;
        let mut lines = BufReader::new(stdout).lines();
        let (namesrv, grpc) = loop {
            let Some(line) = lines.next_line().await? else {
                bail!("rmq-broker exited before it was ready");
            };
            if let Some(rest) = line.strip_prefix("READY ") {
                let field = |key: &str| {
                    rest.split_whitespace()
                        .find_map(|f| f.strip_prefix(key))
                        .map(str::to_owned)
                };
                let ns = field("namesrv=").context("READY line without namesrv=")?;
                break (ns, field("grpc="));
            }
        };
        Ok(BrokerProcess {
            child,
            namesrv,
            grpc,
            _store: store,
        })
    }

    /// Its process id, for RSS readings.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}
