//! Apache's C++ RocketMQ client (librocketmq) as a child process, for the interop tests.
//!
//! The client is the one in the PyPI wheel `rocketmq==0.4.4` (librocketmq "1.0.1", 2018) — the core under
//! Apache's Python 2.x, Node.js and PHP clients — driven through that wheel's ctypes binding by
//! `tests/cpp/driver.py`. One driver process runs one client: [`Driver::start`] passes it a subcommand
//! (`produce`, `push`, `pull`) and a JSON object of arguments, waits for its `ready` event, and then hands over
//! the JSON events it prints (one line each; see the script's docs) as [`Event`]s.
//!
//! # Finding the interpreter
//!
//! [`python`]: `RMQ_CPP_PYTHON` if set (it must be able to `import rocketmq.client`, or the tests fail), else the
//! first of `python3` / `python` on `PATH` that can. [`require`] is what a test calls first: without an
//! interpreter it prints a loud `SKIP` line and returns `None`, unless `RMQ_CI` is set ([`crate::ci`]), in which
//! case the missing client fails the test. `.ci/run` installs the wheel into a venv and sets both.
//!
//! # Logs
//!
//! librocketmq logs to `$HOME/logs/rocketmq-cpp/`; each driver gets its own temporary HOME, and a failing
//! [`Driver`] call includes the error and warning lines of that log plus the driver's stderr
//! ([`Driver::diagnostics`]), which is where the broker's refusals show (the binding's exceptions often only
//! say "No route info of this topic" after the broker refused every attempt).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// How long a driver may take from spawn to its `ready` event (interpreter start, client start, first
/// rebalance of a push consumer).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The interpreter that runs the driver, if one can import the binding (see the module docs).
///
/// # Panics
/// When `RMQ_CPP_PYTHON` is set but cannot `import rocketmq.client`.
pub fn python() -> Option<&'static Path> {
    static PY: OnceLock<Option<PathBuf>> = OnceLock::new();
    PY.get_or_init(|| {
        if let Some(p) = std::env::var_os("RMQ_CPP_PYTHON").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            if let Err(e) = can_import(&p) {
                panic!(
                    "RMQ_CPP_PYTHON={} cannot run the C++ client: {e}",
                    p.display()
                );
            }
            return Some(p);
        }
        ["python3", "python"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| can_import(p).is_ok())
    })
    .as_deref()
}

fn can_import(python: &Path) -> Result<()> {
    let out = std::process::Command::new(python)
        .args(["-c", "import rocketmq.client"])
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {}", python.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        bail!(
            "`import rocketmq.client` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    }
}

/// The interpreter for test `test`, or `None` after printing a SKIP line (see the module docs).
///
/// # Panics
/// Without an interpreter when `RMQ_CI` is set; when `RMQ_CPP_PYTHON` is set but unusable.
pub fn require(test: &str) -> Option<&'static Path> {
    if let Some(p) = python() {
        return Some(p);
    }
    let how = "install it with `python3 -m venv V && V/bin/pip install rocketmq==0.4.4` and set \
               RMQ_CPP_PYTHON=V/bin/python (see docs/interop-cpp-client.md)";
    if crate::ci() {
        panic!("{test}: Apache's C++ client (python module rocketmq.client) is required under RMQ_CI; {how}");
    }
    // Straight to stderr, not through eprintln!, which the test harness captures (and hides) for a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIP {test}: Apache's C++ client is not installed (no python that can `import rocketmq.client`); \
         {how} ***"
    );
    None
}

/// Path of `tests/cpp/driver.py`.
pub fn driver_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cpp/driver.py")
}

/// One JSON line a driver printed.
#[derive(Debug, Clone)]
pub struct Event {
    /// The name the driver was started with.
    pub driver: String,
    /// The `event` field: `ready`, `sent`, `send_failed`, `msg`, `done`, `stopped`, `fatal`; `garbage` for a
    /// line that is not a JSON object.
    pub kind: String,
    /// The whole line.
    pub json: Value,
}

impl Event {
    /// The event as a delivered message (`msg` events).
    ///
    /// # Errors
    /// Another kind of event, or fields of the wrong type.
    pub fn msg(&self) -> Result<Received> {
        if self.kind != "msg" {
            bail!("[{}] expected a msg event, got {}", self.driver, self.json);
        }
        serde_json::from_value(self.json.clone())
            .with_context(|| format!("[{}] msg event {}", self.driver, self.json))
    }
}

/// A message as the C++ client handed it to the driver (a `msg` event).
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    /// The `consumer` label the driver was given (default: its group).
    pub consumer: String,
    /// Topic as the client reports it (the original topic for redeliveries).
    pub topic: String,
    /// Tags, if any.
    pub tags: Option<String>,
    /// Keys (space-separated), if any.
    pub keys: Option<String>,
    /// Message id as the client reports it (the producer's UNIQ_KEY where there is one).
    pub id: Option<String>,
    /// The body when it is valid UTF-8.
    #[serde(default)]
    pub body: Option<String>,
    /// The body in hex otherwise.
    #[serde(default)]
    pub body_hex: Option<String>,
    /// Body length in bytes.
    pub body_len: usize,
    /// Reconsume count (0 on the first delivery).
    pub reconsume_times: i32,
    /// Queue id the message came from.
    pub queue_id: i32,
    /// Offset in that queue.
    pub queue_offset: i64,
    /// When the producer built the message (ms).
    pub born_timestamp: i64,
    /// When the broker stored it (ms).
    pub store_timestamp: i64,
    /// The DELAY property as the client parses it.
    pub delay_level: i32,
    /// When the listener ran (ms, the driver's clock, which is this machine's).
    pub received_ms: i64,
    /// OS thread of the listener call.
    pub thread: u64,
    /// Whether the listener raised (asked for a redelivery), see the driver's `fail_until`.
    #[serde(default)]
    pub raised: bool,
    /// The properties the driver was asked to report (absent ones as `None`).
    pub props: HashMap<String, Option<String>>,
}

impl Received {
    /// The body's bytes.
    pub fn body_bytes(&self) -> Vec<u8> {
        match (&self.body, &self.body_hex) {
            (Some(b), _) => b.clone().into_bytes(),
            (None, Some(h)) => (0..h.len() / 2)
                .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap_or(0))
                .collect(),
            (None, None) => Vec::new(),
        }
    }

    /// A reported property's value.
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.props.get(name).and_then(|v| v.as_deref())
    }
}

/// How the C++ producer sends one message (`mode` of the `produce` subcommand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendMode {
    /// `send_sync`.
    Sync,
    /// `send_async`, result through its callback.
    Async,
    /// `send_oneway`.
    Oneway,
    /// `send_orderly` with the message's shard (queue = shard % queue count).
    Orderly,
    /// `send_oneway_orderly` with the message's shard.
    OnewayOrderly,
    /// `send_batch` of every message with the same `batch` id.
    Batch,
}

/// A message for the `produce` subcommand.
#[derive(Debug, Clone, Serialize)]
pub struct CppMessage {
    /// Topic.
    pub topic: String,
    /// Body (the binding takes a C string: no NUL bytes).
    pub body: String,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// Keys, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<String>,
    /// User properties.
    pub props: BTreeMap<String, String>,
    /// Delay level (0 = none).
    pub delay_level: i32,
    /// Send mode.
    pub mode: SendMode,
    /// Selector argument of the orderly modes.
    pub shard: i32,
    /// Batch id of [`SendMode::Batch`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
}

impl CppMessage {
    /// A message of `topic` with `body`, sent with [`SendMode::Sync`].
    pub fn new(topic: &str, body: impl Into<String>) -> CppMessage {
        CppMessage {
            topic: topic.to_owned(),
            body: body.into(),
            tags: None,
            keys: None,
            props: BTreeMap::new(),
            delay_level: 0,
            mode: SendMode::Sync,
            shard: 0,
            batch: None,
        }
    }

    /// Sets the tags.
    pub fn tags(mut self, tags: &str) -> Self {
        self.tags = Some(tags.to_owned());
        self
    }

    /// Sets the keys.
    pub fn keys(mut self, keys: &str) -> Self {
        self.keys = Some(keys.to_owned());
        self
    }

    /// Adds a user property.
    pub fn prop(mut self, key: &str, value: &str) -> Self {
        self.props.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets the send mode.
    pub fn mode(mut self, mode: SendMode) -> Self {
        self.mode = mode;
        self
    }
}

/// One send as the C++ producer reported it (`sent` / `send_failed`).
#[derive(Debug, Clone, Deserialize)]
pub struct SendReport {
    /// Index into the `messages` sent.
    pub i: usize,
    /// The mode used.
    pub mode: SendMode,
    /// `OK`, `FLUSH_DISK_TIMEOUT`, ..., or `ONEWAY` (no result); `None` when the send failed.
    #[serde(default)]
    pub status: Option<String>,
    /// The message id the client reported.
    #[serde(default)]
    pub msg_id: Option<String>,
    /// The queue offset the client reported.
    #[serde(default)]
    pub offset: Option<i64>,
    /// The binding's exception class when the send failed.
    #[serde(default)]
    pub error_type: Option<String>,
    /// Its message.
    #[serde(default)]
    pub error: Option<String>,
}

impl SendReport {
    /// Whether the send succeeded (status OK, or no result expected).
    pub fn ok(&self) -> bool {
        matches!(self.status.as_deref(), Some("OK" | "ONEWAY"))
    }
}

/// What a finished `produce` run reported.
#[derive(Debug)]
pub struct Produced {
    /// One report per message, by index.
    pub reports: Vec<SendReport>,
    /// The driver's diagnostics (C++ log errors/warnings, stderr), for failure messages.
    pub diagnostics: String,
}

impl Produced {
    /// Fails (with the diagnostics) unless every send succeeded.
    pub fn assert_all_ok(&self) {
        let failed: Vec<&SendReport> = self.reports.iter().filter(|r| !r.ok()).collect();
        assert!(
            failed.is_empty(),
            "{} of {} C++ sends failed, first: {:#?}\n{}",
            failed.len(),
            self.reports.len(),
            &failed[..failed.len().min(3)],
            self.diagnostics
        );
    }
}

/// A running driver process (killed on drop).
pub struct Driver {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    /// Events after `ready`, unless they go to a shared sink (see [`Driver::start_shared`]).
    events: mpsc::UnboundedReceiver<Event>,
    stderr: Arc<Mutex<String>>,
    home: tempfile::TempDir,
}

impl Driver {
    /// Spawns `driver.py <subcommand>` with `args` and waits for its `ready` event; later events are read
    /// with [`Driver::next`].
    ///
    /// # Errors
    /// No interpreter, a failed spawn, or no `ready` within [`READY_TIMEOUT`] (with the diagnostics).
    pub async fn start(name: &str, subcommand: &str, args: &Value) -> Result<Driver> {
        Self::spawn(name, subcommand, args, None).await
    }

    /// As [`Driver::start`], but the events after `ready` go to `sink`, so that one receiver sees the
    /// events of several drivers (each [`Event`] names its driver).
    ///
    /// # Errors
    /// As [`Driver::start`].
    pub async fn start_shared(
        name: &str,
        subcommand: &str,
        args: &Value,
        sink: mpsc::UnboundedSender<Event>,
    ) -> Result<Driver> {
        Self::spawn(name, subcommand, args, Some(sink)).await
    }

    async fn spawn(
        name: &str,
        subcommand: &str,
        args: &Value,
        sink: Option<mpsc::UnboundedSender<Event>>,
    ) -> Result<Driver> {
        let python =
            python().ok_or_else(|| anyhow!("no python that can import rocketmq.client"))?;
        let home = tempfile::Builder::new()
            .prefix("rmq-cpp-home-")
            .tempdir()
            .context("temp HOME")?;
        let mut child = Command::new(python)
            .arg("-u")
            .arg(driver_script())
            .arg(subcommand)
            .env("HOME", home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn {} {}", python.display(), driver_script().display()))?;
        let mut stdin = child.stdin.take().context("driver stdin")?;
        let mut line = serde_json::to_vec(args)?;
        line.push(b'\n');
        stdin.write_all(&line).await.context("write driver args")?;
        stdin.flush().await?;

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().context("driver stderr")?;
        let err_buf = stderr.clone();
        tokio::spawn(async move {
            let mut chunk = vec![0u8; 8192];
            while let Ok(n) = err_pipe.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                err_buf
                    .lock()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });

        let (own_tx, events) = mpsc::unbounded_channel();
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let sink = sink.unwrap_or(own_tx);
        let stdout = child.stdout.take().context("driver stdout")?;
        let driver_name = name.to_owned();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            let mut ready = false;
            while let Ok(Some(line)) = lines.next_line().await {
                let json: Value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                let kind = json
                    .get("event")
                    .and_then(Value::as_str)
                    .unwrap_or("garbage")
                    .to_owned();
                let was_ready = ready;
                ready |= kind == "ready";
                let event = Event {
                    driver: driver_name.clone(),
                    kind,
                    json,
                };
                let target = if was_ready { &sink } else { &ready_tx };
                let _ = target.send(event);
            }
        });

        let mut driver = Driver {
            name: name.to_owned(),
            child,
            stdin: Some(stdin),
            events,
            stderr,
            home,
        };
        match tokio::time::timeout(READY_TIMEOUT, ready_rx.recv()).await {
            Ok(Some(e)) if e.kind == "ready" => Ok(driver),
            Ok(Some(e)) => bail!(
                "[{name}] {subcommand}: first event is not `ready`: {}\n{}",
                e.json,
                driver.diagnostics()
            ),
            Ok(None) => {
                let status = driver.child.wait().await.ok();
                bail!(
                    "[{name}] {subcommand}: exited ({status:?}) before `ready`\n{}",
                    driver.diagnostics()
                )
            }
            Err(_) => bail!(
                "[{name}] {subcommand}: no `ready` within {READY_TIMEOUT:?}\n{}",
                driver.diagnostics()
            ),
        }
    }

    /// The name the driver was started with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next event (not for drivers started with a shared sink).
    ///
    /// # Errors
    /// None within `timeout`, or the driver's output ended (with the diagnostics).
    pub async fn next(&mut self, timeout: Duration) -> Result<Event> {
        match tokio::time::timeout(timeout, self.events.recv()).await {
            Ok(Some(e)) => Ok(e),
            Ok(None) => bail!(
                "[{}] output ended while waiting for an event\n{}",
                self.name,
                self.diagnostics()
            ),
            Err(_) => bail!(
                "[{}] no event within {timeout:?}\n{}",
                self.name,
                self.diagnostics()
            ),
        }
    }

    /// Skips events until one of `kind` (a `fatal` one fails).
    ///
    /// # Errors
    /// As [`Driver::next`], and a `fatal` event.
    pub async fn wait_for(&mut self, kind: &str, timeout: Duration) -> Result<Event> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let e = self.next(left).await?;
            if e.kind == kind {
                return Ok(e);
            }
            if e.kind == "fatal" {
                bail!("[{}] fatal: {}\n{}", self.name, e.json, self.diagnostics());
            }
        }
    }

    /// Asks a push consumer to shut down (closes its stdin) and waits up to `timeout` for the process to
    /// exit; returns the events it printed meanwhile (with its own receiver; none with a shared sink).
    ///
    /// # Errors
    /// The process did not exit in time (it is killed) or exited unsuccessfully.
    pub async fn stop(mut self, timeout: Duration) -> Result<Vec<Event>> {
        drop(self.stdin.take());
        let status = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(s) => s.context("wait for the driver")?,
            Err(_) => {
                let _ = self.child.start_kill();
                bail!(
                    "[{}] did not exit within {timeout:?} of stop\n{}",
                    self.name,
                    self.diagnostics()
                );
            }
        };
        let mut rest = Vec::new();
        // The reader task ends with the pipe; take what it forwarded.
        while let Ok(Some(e)) =
            tokio::time::timeout(Duration::from_secs(5), self.events.recv()).await
        {
            rest.push(e);
        }
        if !status.success() {
            bail!(
                "[{}] exited with {status}\n{}",
                self.name,
                self.diagnostics()
            );
        }
        Ok(rest)
    }

    /// The driver's stderr and the error/warning lines of the C++ client's log, for failure messages.
    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        let stderr = self.stderr.lock().clone();
        if !stderr.trim().is_empty() {
            out.push_str(&format!(
                "--- [{}] driver stderr ---\n{}\n",
                self.name,
                tail(&stderr, 40)
            ));
        }
        let log = cpp_log_lines(self.home.path(), |l| {
            l.contains("(error)") || l.contains("(warning)")
        });
        if !log.is_empty() {
            out.push_str(&format!(
                "--- [{}] C++ client log, errors and warnings ---\n{}\n",
                self.name,
                tail(&log.join("\n"), 40)
            ));
        }
        out
    }

    /// Lines of the C++ client's log that `keep` selects (e.g. to check what it said about a refusal).
    pub fn log_lines(&self, keep: impl Fn(&str) -> bool) -> Vec<String> {
        cpp_log_lines(self.home.path(), keep)
    }
}

fn cpp_log_lines(home: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let dir = home.join("logs/rocketmq-cpp");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .flat_map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| keep(l))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs the `produce` subcommand to its end: `messages` from producer group `group` through `namesrv`.
/// `extra` adds arguments (`timeout_ms`, `compress_level`, `max_message_size`).
///
/// # Errors
/// The driver did not start, did not finish within `timeout`, reported a fatal error, or a report is missing.
pub async fn produce(
    name: &str,
    namesrv: &str,
    group: &str,
    messages: &[CppMessage],
    extra: Value,
    timeout: Duration,
) -> Result<Produced> {
    let mut args = serde_json::json!({
        "namesrv": namesrv,
        "group": group,
        "timeout_ms": 10_000,
        "messages": messages,
    });
    if let (Some(a), Value::Object(extra)) = (args.as_object_mut(), extra) {
        a.extend(extra);
    }
    let mut d = Driver::start(name, "produce", &args).await?;
    let mut reports: Vec<Option<SendReport>> = vec![None; messages.len()];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let e = d.next(left).await?;
        match e.kind.as_str() {
            "sent" | "send_failed" => {
                let r: SendReport = serde_json::from_value(e.json.clone())
                    .with_context(|| format!("[{name}] send report {}", e.json))?;
                let i = r.i;
                *reports.get_mut(i).ok_or_else(|| {
                    anyhow!("[{name}] report for message {i} of {}", messages.len())
                })? = Some(r);
            }
            "done" => break,
            "fatal" => bail!("[{name}] fatal: {}\n{}", e.json, d.diagnostics()),
            _ => {}
        }
    }
    let diagnostics = d.diagnostics();
    d.stop(Duration::from_secs(20)).await?;
    let reports = reports
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.ok_or_else(|| anyhow!("[{name}] no report for message {i}\n{diagnostics}")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Produced {
        reports,
        diagnostics,
    })
}

/// Arguments of a `push` consumer: `namesrv`, `group`, `topic`, with the driver's defaults for the rest.
pub fn push_args(namesrv: &str, group: &str, topic: &str, props: &[&str]) -> Value {
    serde_json::json!({
        "namesrv": namesrv,
        "group": group,
        "topic": topic,
        "expression": "*",
        "props": props,
    })
}

/// Sets `key` in a JSON object of arguments.
pub fn with(mut args: Value, key: &str, value: impl Into<Value>) -> Value {
    if let Some(a) = args.as_object_mut() {
        a.insert(key.to_owned(), value.into());
    }
    args
}

/// Runs the `pull` subcommand to its end (every queue of `topic` from offset 0) and returns what it pulled.
///
/// # Errors
/// The driver did not start or finish within `timeout`, or a fatal error.
pub async fn pull_all(
    name: &str,
    namesrv: &str,
    group: &str,
    topic: &str,
    expression: &str,
    props: &[&str],
    timeout: Duration,
) -> Result<Vec<Received>> {
    let args = serde_json::json!({
        "namesrv": namesrv,
        "group": group,
        "topic": topic,
        "expression": expression,
        "props": props,
    });
    let mut d = Driver::start(name, "pull", &args).await?;
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let e = d.next(left).await?;
        match e.kind.as_str() {
            "msg" => out.push(e.msg()?),
            "done" => break,
            "fatal" => bail!("[{name}] fatal: {}\n{}", e.json, d.diagnostics()),
            _ => {}
        }
    }
    d.stop(Duration::from_secs(20)).await?;
    Ok(out)
}
