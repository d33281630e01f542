//! Run the `rmq-broker` binary as a child process (and `rmq-admin` commands, found and built the same way).
//!
//! # Where the binary comes from
//!
//! `CARGO_BIN_EXE_rmq-broker` exists only inside rmq-broker's own tests, and a (dev-)dependency on rmq-broker
//! builds its library, not its binary. So [`broker_binary`] does this, once per test process:
//!
//! 1. if `RMQ_BROKER_BIN` is set, use that file;
//! 2. otherwise run `cargo build -p rmq-broker --bin rmq-broker` into the *same* target directory and profile as
//!    the running test executable (`current_exe()` is `<target>/<profile>/deps/<test>-<hash>`), which is a
//!    sub-second no-op when the binary is already fresh (e.g. after `cargo test --workspace`, which builds it
//!    whenever rmq-broker has integration tests) and otherwise builds it, so `cargo test -p rmq-tests` works on
//!    its own and never runs a stale binary. Cargo does not hold the target-directory lock while test binaries
//!    run, so this nested build cannot deadlock;
//! 3. use `<target>/<profile>/rmq-broker`.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a starting broker may take to print its READY line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Path of the `rmq-broker` binary, building it first if needed (see the module docs).
pub fn broker_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        locate_or_build("rmq-broker", "RMQ_BROKER_BIN")
            .unwrap_or_else(|e| panic!("cannot provide the rmq-broker binary: {e:#}"))
    })
}

/// Path of the `rmq-admin` binary, provided the same way (`RMQ_ADMIN_BIN` overrides).
pub fn admin_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        locate_or_build("rmq-admin", "RMQ_ADMIN_BIN")
            .unwrap_or_else(|e| panic!("cannot provide the rmq-admin binary: {e:#}"))
    })
}

/// Runs `rmq-admin -n <namesrv> --json <args>` and parses its stdout; fails with its stderr when it exits
/// non-zero.
pub async fn admin_json(namesrv: &str, args: &[&str]) -> Result<serde_json::Value> {
    let out = Command::new(admin_binary())
        .args(["-n", namesrv, "--json"])
        .args(args)
        .env_remove("NAMESRV_ADDR")
        .stdin(Stdio::null())
        .output()
        .await
        .context("run rmq-admin")?;
    if !out.status.success() {
        bail!(
            "rmq-admin {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("rmq-admin printed no JSON")
}

fn locate_or_build(package: &str, env_var: &str) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(env_var) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("{env_var}={} is not a file", p.display());
        }
        return Ok(p);
    }
    let exe = std::env::current_exe().context("current_exe")?;
    let mut profile_dir = exe
        .parent()
        .context("test exe has no parent")?
        .to_path_buf();
    if profile_dir.file_name().is_some_and(|n| n == "deps") {
        profile_dir.pop();
    }
    let target_dir = profile_dir
        .parent()
        .context("profile dir has no parent")?
        .to_path_buf();
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("profile dir name")?
        .to_owned();
    let bin = profile_dir.join(format!("{package}{}", std::env::consts::EXE_SUFFIX));

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "-p",
            package,
            "--bin",
            package,
            "--target-dir",
        ])
        .arg(&target_dir);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    // A failed build fails the test: an older binary left in the target directory is not the code under test.
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => bail!("`cargo build -p {package} --bin {package}` failed: {s}"),
        Err(e) => bail!("cannot run cargo to build {package}: {e}"),
    }
    if !bin.is_file() {
        bail!("{} does not exist after building", bin.display());
    }
    Ok(bin)
}

/// A running `rmq-broker` child process (name server + broker, or the broker role alone). Killed (SIGKILL) on
/// drop.
pub struct BrokerProcess {
    child: Child,
    /// Name-server address from the READY line.
    pub namesrv_addr: String,
    /// Broker address from the READY line.
    pub broker_addr: String,
    /// Metrics endpoint from the READY line's `metrics=` field (present with `--metrics-listen`).
    pub metrics_addr: Option<String>,
    /// gRPC endpoint from the READY line's `grpc=` field (present with `--grpc-listen` or `grpcListen`).
    pub grpc_addr: Option<String>,
    /// Store directory passed with `--store`.
    pub store_dir: PathBuf,
    /// File receiving the child's stderr.
    pub log_path: PathBuf,
}

impl BrokerProcess {
    /// Starts `rmq-broker --namesrv-listen 127.0.0.1:0 --listen 127.0.0.1:0 --store STORE` plus `extra_args`,
    /// and waits for `READY namesrv=… broker=…` on stdout. Stderr goes to `log_path`.
    pub async fn start(
        store_dir: &Path,
        log_path: &Path,
        extra_args: &[&str],
    ) -> Result<BrokerProcess> {
        let mut args = vec!["--namesrv-listen", "127.0.0.1:0"];
        args.extend_from_slice(extra_args);
        Self::spawn(store_dir, log_path, &args, None).await
    }

    /// Starts the broker role alone, `rmq-broker broker -n NAMESRV --listen 127.0.0.1:0 --store STORE` plus
    /// `extra_args`, registering with a name server the test runs, and waits for `READY broker=…`.
    pub async fn start_broker(
        store_dir: &Path,
        log_path: &Path,
        namesrv: &str,
        extra_args: &[&str],
    ) -> Result<BrokerProcess> {
        let mut args = vec!["broker", "-n", namesrv];
        args.extend_from_slice(extra_args);
        Self::spawn(store_dir, log_path, &args, Some(namesrv)).await
    }

    async fn spawn(
        store_dir: &Path,
        log_path: &Path,
        args: &[&str],
        namesrv: Option<&str>,
    ) -> Result<BrokerProcess> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .with_context(|| format!("open {}", log_path.display()))?;
        let mut child = Command::new(broker_binary())
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--store"])
            .arg(store_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn {}", broker_binary().display()))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix("READY ") {
                    return Ok::<_, std::io::Error>(Some(rest.to_owned()));
                }
            }
            Ok(None)
        })
        .await;
        let tail = || log_tail(log_path);
        let rest = match ready {
            Ok(Ok(Some(rest))) => rest,
            Ok(Ok(None)) => {
                let status = child.wait().await.ok();
                bail!(
                    "rmq-broker exited ({status:?}) without a READY line; stderr tail:\n{}",
                    tail()
                )
            }
            Ok(Err(e)) => bail!("reading rmq-broker stdout: {e}; stderr tail:\n{}", tail()),
            Err(_) => bail!(
                "rmq-broker printed no READY line within {READY_TIMEOUT:?}; stderr tail:\n{}",
                tail()
            ),
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (ready_namesrv, broker_addr) = parse_ready(&rest)?;
        let Some(namesrv_addr) = ready_namesrv.or_else(|| namesrv.map(str::to_owned)) else {
            bail!("READY line without a name server: READY {rest}");
        };
        Ok(BrokerProcess {
            child,
            namesrv_addr,
            broker_addr,
            metrics_addr: ready_field(&rest, "metrics"),
            grpc_addr: ready_field(&rest, "grpc"),
            store_dir: store_dir.to_path_buf(),
            log_path: log_path.to_path_buf(),
        })
    }

    /// The OS process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL and reap.
    pub async fn kill(&mut self) -> Result<ExitStatus> {
        self.child.start_kill().context("SIGKILL rmq-broker")?;
        self.child.wait().await.context("wait for rmq-broker")
    }

    /// Sends `signal` (e.g. `libc::SIGSTOP` to freeze the broker with its connections open, `libc::SIGCONT` to
    /// let it go on).
    pub fn signal(&self, signal: libc::c_int) -> Result<()> {
        let pid = self
            .child
            .id()
            .ok_or_else(|| anyhow!("rmq-broker already reaped"))?;
        // SAFETY: plain kill(2) on our own child's pid, which is not yet reaped (we hold its Child).
        let r = unsafe { libc::kill(pid as libc::pid_t, signal) };
        if r != 0 {
            bail!("kill({signal}): {}", std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// SIGTERM (clean stop) and wait up to `timeout` for the exit.
    pub async fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.signal(libc::SIGTERM)?;
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(s) => s.context("wait for rmq-broker"),
            Err(_) => bail!(
                "rmq-broker did not exit within {timeout:?} of SIGTERM; stderr tail:\n{}",
                self.log_tail()
            ),
        }
    }

    /// The last lines of the child's stderr, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log_path)
    }
}

/// Parses the part after `READY `: `[namesrv=HOST:PORT] broker=HOST:PORT` (the broker role alone prints no
/// name server).
pub fn parse_ready(rest: &str) -> Result<(Option<String>, String)> {
    let (ns, broker) = (ready_field(rest, "namesrv"), ready_field(rest, "broker"));
    match broker {
        Some(b) => Ok((ns, b)),
        None => bail!("malformed READY line: READY {rest}"),
    }
}

/// One `key=value` field of the part after `READY ` (e.g. `metrics`), if present.
pub fn ready_field(rest: &str, key: &str) -> Option<String> {
    rest.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_owned())
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line() {
        let (n, b) = parse_ready("namesrv=127.0.0.1:4000 broker=127.0.0.1:4001").expect("valid");
        assert_eq!(
            (n.as_deref(), b.as_str()),
            (Some("127.0.0.1:4000"), "127.0.0.1:4001")
        );
        assert!(parse_ready("namesrv=127.0.0.1:4000").is_err());
        let (n, b) = parse_ready("broker=127.0.0.1:4001").expect("broker role");
        assert_eq!((n, b.as_str()), (None, "127.0.0.1:4001"));
        let with_metrics = "namesrv=127.0.0.1:4000 broker=127.0.0.1:4001 metrics=127.0.0.1:4002";
        assert!(parse_ready(with_metrics).is_ok());
        assert_eq!(
            ready_field(with_metrics, "metrics").as_deref(),
            Some("127.0.0.1:4002")
        );
        assert_eq!(ready_field("namesrv=127.0.0.1:4000", "metrics"), None);
    }
}
