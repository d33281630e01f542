//! A smoke test of rmq-client against any RocketMQ cluster (the bundled rmq broker, Apache RocketMQ, or another
//! implementation): sends messages every way the producer can, consumes them with a push consumer (clustering,
//! concurrently), an orderly push consumer and a lite pull consumer, checks that every message arrives with
//! identical content, tries a transactional send (commit and rollback) and a delayed message (level 1), asks
//! the admin requests, and prints a PASS/FAIL table.
//!
//! ```sh
//! cargo run -p rmq-client --example cluster_smoke -- --namesrv 127.0.0.1:9876 --count 3000
//! ```
//!
//! Options: `--namesrv ADDR` (`127.0.0.1:9876`), `--count N` (3000), `--cluster NAME` (the first cluster the
//! name server lists), `--queues N` (4), `--timeout SECS` (90, how long consumers may take), `--keep-topic`
//! (do not delete the topic at the end). `RUST_LOG=warn` (the default) shows the client's warnings.
//!
//! The exit code is 0 when every row passes, 1 otherwise.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use parking_lot::Mutex;
use rmq_client::admin::TopicSpec;
use rmq_client::producer::LocalTransactionState;
use rmq_client::{
    Admin, ClientConfig, ConsumeContext, ConsumeFromWhere, ConsumeOutcome, LitePullConsumer,
    LitePullConsumerOptions, Message, MessageExt, MessageSelector, Producer, ProducerOptions,
    PushConsumer, PushConsumerOptions, SendResult, TransactionProducer,
};

/// Properties the smoke test sets on every message and compares on arrival.
const IDX: &str = "smoke.idx";
const KIND: &str = "smoke.kind";
const NOTE: &str = "smoke.note";
const SEQ: &str = "smoke.seq";
/// A property value with non-ASCII characters and the separators' neighbours, to see it survive the wire.
const NOTE_VALUE: &str = "héllo wörld ✓ a=b;c:d";
/// Hash keys of orderly sends.
const ORDER_KEYS: usize = 8;

struct Args {
    namesrv: String,
    count: usize,
    cluster: Option<String>,
    queues: i32,
    timeout: Duration,
    keep_topic: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        namesrv: "127.0.0.1:9876".to_string(),
        count: 3000,
        cluster: None,
        queues: 4,
        timeout: Duration::from_secs(90),
        keep_topic: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--namesrv" | "-n" => args.namesrv = value()?,
            "--count" => args.count = value()?.parse().context("--count")?,
            "--cluster" => args.cluster = Some(value()?),
            "--queues" => args.queues = value()?.parse().context("--queues")?,
            "--timeout" => {
                args.timeout = Duration::from_secs(value()?.parse().context("--timeout")?)
            }
            "--keep-topic" => args.keep_topic = true,
            "--help" | "-h" => {
                println!(
                    "cluster_smoke [--namesrv ADDR] [--count N] [--cluster NAME] [--queues N] [--timeout SECS] [--keep-topic]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if args.count < 20 {
        bail!("--count must be at least 20");
    }
    Ok(args)
}

// ---- what was sent ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Sync,
    Async,
    Oneway,
    Batch,
    Orderly,
    Compressed,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Sync,
        Kind::Async,
        Kind::Oneway,
        Kind::Batch,
        Kind::Orderly,
        Kind::Compressed,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Sync => "sync",
            Kind::Async => "async",
            Kind::Oneway => "oneway",
            Kind::Batch => "batch",
            Kind::Orderly => "orderly",
            Kind::Compressed => "compressed",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Sync => "send sync",
            Kind::Async => "send async (64 in flight)",
            Kind::Oneway => "send oneway",
            Kind::Batch => "send batch (32 per batch)",
            Kind::Orderly => "send orderly (8 hash keys)",
            Kind::Compressed => "send compressed (64 KiB body)",
        }
    }

    fn tag(self) -> String {
        format!("Tag{}", self.name())
    }
}

/// A message as sent, to compare with what arrives.
#[derive(Debug, Clone)]
struct Expected {
    kind: Kind,
    key: String,
    tags: String,
    body: Bytes,
    props: Vec<(String, String)>,
    /// Orderly sends: (hash key, sequence within it).
    order: Option<(String, u64)>,
}

impl Expected {
    fn message(&self, topic: &str) -> Message {
        let mut m = Message::new(topic, self.body.clone())
            .with_tags(self.tags.clone())
            .with_keys([self.key.as_str(), "smoke"]);
        for (k, v) in &self.props {
            m = m.with_property(k.clone(), v.clone());
        }
        m
    }
}

fn plan(run: &str, count: usize) -> Vec<Expected> {
    let n = count - 1;
    let shares = [
        (Kind::Sync, n * 30 / 100),
        (Kind::Async, n * 25 / 100),
        (Kind::Oneway, n * 10 / 100),
        (Kind::Batch, n * 20 / 100),
    ];
    let mut kinds: Vec<Kind> = Vec::with_capacity(count);
    for (kind, k) in shares {
        kinds.extend(std::iter::repeat_n(kind, k));
    }
    let orderly = n - kinds.len();
    kinds.extend(std::iter::repeat_n(Kind::Orderly, orderly));
    kinds.push(Kind::Compressed);
    let mut seq = [0u64; ORDER_KEYS];
    kinds
        .into_iter()
        .enumerate()
        .map(|(idx, kind)| {
            let body = if kind == Kind::Compressed {
                let mut s = String::new();
                let mut line = 0;
                while s.len() < 64 * 1024 {
                    s.push_str(&format!(
                        "{run} line {line:05} of the big body, compressible\n"
                    ));
                    line += 1;
                }
                Bytes::from(s)
            } else {
                // Lengths vary from a few bytes to ~250; a few bodies are binary.
                let mut b = format!("{run}|{idx}|{}|", kind.name()).into_bytes();
                b.extend((0..(idx * 7) % 200).map(|i| {
                    if idx % 13 == 0 {
                        (i % 256) as u8
                    } else {
                        b'a' + (i % 26) as u8
                    }
                }));
                Bytes::from(b)
            };
            let mut props = vec![
                (IDX.to_string(), idx.to_string()),
                (KIND.to_string(), kind.name().to_string()),
                (NOTE.to_string(), NOTE_VALUE.to_string()),
            ];
            let order = (kind == Kind::Orderly).then(|| {
                let h = idx % ORDER_KEYS;
                seq[h] += 1;
                props.push((SEQ.to_string(), seq[h].to_string()));
                (format!("order-{h}"), seq[h])
            });
            Expected {
                kind,
                key: format!("{run}-{idx}"),
                tags: kind.tag(),
                body,
                props,
                order,
            }
        })
        .collect()
}

// ---- what arrived ----

#[derive(Debug, Clone)]
struct Got {
    topic: String,
    body: Bytes,
    tags: Option<String>,
    keys: Option<String>,
    props: Vec<(String, String)>,
    queue_offset: i64,
    at: Instant,
    serial: u64,
}

/// Everything one consumer received, by first key.
#[derive(Default)]
struct Seen {
    by_key: Mutex<HashMap<String, Vec<Got>>>,
    serial: Mutex<u64>,
}

impl Seen {
    fn record(&self, msgs: &[MessageExt]) {
        let at = Instant::now();
        let mut map = self.by_key.lock();
        let mut serial = self.serial.lock();
        for m in msgs {
            let key = m.keys().first().copied().unwrap_or_default().to_string();
            let props = m
                .properties
                .pairs()
                .iter()
                .filter(|(k, _)| k.starts_with("smoke."))
                .cloned()
                .collect();
            *serial += 1;
            map.entry(key).or_default().push(Got {
                topic: m.topic.clone(),
                body: m.body.clone(),
                tags: m.tags().map(str::to_string),
                keys: (!m.keys().is_empty()).then(|| m.keys().join(" ")),
                props,
                queue_offset: m.queue_offset,
                at,
                serial: *serial,
            });
        }
    }

    fn has(&self, key: &str) -> bool {
        self.by_key.lock().contains_key(key)
    }

    fn first(&self, key: &str) -> Option<Got> {
        self.by_key.lock().get(key).and_then(|v| v.first().cloned())
    }

    fn count_of(&self, keys: &HashSet<String>) -> usize {
        let map = self.by_key.lock();
        keys.iter().filter(|k| map.contains_key(*k)).count()
    }

    fn total(&self) -> usize {
        self.by_key.lock().values().map(Vec::len).sum()
    }
}

/// Why a received message differs from the sent one, if it does.
fn mismatch(topic: &str, e: &Expected, g: &Got) -> Option<String> {
    if g.topic != topic {
        return Some(format!("{}: topic {:?}", e.key, g.topic));
    }
    if g.body != e.body {
        return Some(format!(
            "{}: body of {} bytes differs from the {} bytes sent",
            e.key,
            g.body.len(),
            e.body.len()
        ));
    }
    if g.tags.as_deref() != Some(e.tags.as_str()) {
        return Some(format!("{}: tags {:?}", e.key, g.tags));
    }
    if g.keys.as_deref() != Some(format!("{} smoke", e.key).as_str()) {
        return Some(format!("{}: keys {:?}", e.key, g.keys));
    }
    let mut want = e.props.clone();
    want.sort();
    let mut got = g.props.clone();
    got.sort();
    if want != got {
        return Some(format!("{}: properties {got:?}, sent {want:?}", e.key));
    }
    None
}

// ---- the table ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
}

struct Row {
    feature: String,
    verdict: Verdict,
    counts: String,
    time: Option<Duration>,
    remark: String,
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
}

impl Table {
    fn add(
        &mut self,
        feature: impl Into<String>,
        pass: bool,
        counts: impl Into<String>,
        time: Option<Duration>,
        remark: impl Into<String>,
    ) {
        let row = Row {
            feature: feature.into(),
            verdict: if pass { Verdict::Pass } else { Verdict::Fail },
            counts: counts.into(),
            time,
            remark: remark.into(),
        };
        println!(
            "  {} {}{}",
            if pass { "ok  " } else { "FAIL" },
            row.feature,
            if row.remark.is_empty() {
                String::new()
            } else {
                format!(": {}", row.remark)
            }
        );
        self.rows.push(row);
    }

    fn print(&self) {
        let w = self
            .rows
            .iter()
            .map(|r| r.feature.len())
            .max()
            .unwrap_or(7)
            .max(7);
        let c = self
            .rows
            .iter()
            .map(|r| r.counts.len())
            .max()
            .unwrap_or(6)
            .max(6);
        println!();
        println!(
            "| {:w$} | result | {:c$} | {:>9} | remark",
            "feature", "counts", "time"
        );
        println!(
            "|{}|--------|{}|{}|-------",
            "-".repeat(w + 2),
            "-".repeat(c + 2),
            "-".repeat(11)
        );
        for r in &self.rows {
            let time = r
                .time
                .map_or(String::from("-"), |t| format!("{:.3}s", t.as_secs_f64()));
            println!(
                "| {:w$} | {:6} | {:c$} | {:>9} | {}",
                r.feature,
                if r.verdict == Verdict::Pass {
                    "PASS"
                } else {
                    "FAIL"
                },
                r.counts,
                time,
                r.remark
            );
        }
        let failed = self
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .count();
        println!();
        println!(
            "{} rows, {} passed, {} failed",
            self.rows.len(),
            self.rows.len() - failed,
            failed
        );
    }

    fn all_passed(&self) -> bool {
        self.rows.iter().all(|r| r.verdict == Verdict::Pass)
    }
}

fn short(e: impl std::fmt::Display) -> String {
    let s = e.to_string().replace('\n', " ");
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s
    }
}

/// Outcome of one kind's sends.
#[derive(Default)]
struct SendStats {
    ok: usize,
    failed: usize,
    first_error: Option<String>,
    time: Duration,
}

impl SendStats {
    fn fail(&mut self, n: usize, e: impl std::fmt::Display) {
        self.failed += n;
        self.first_error.get_or_insert_with(|| short(e));
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = parse_args()?;
    let passed = run(&args).await?;
    std::process::exit(if passed { 0 } else { 1 });
}

async fn run(args: &Args) -> Result<bool> {
    let started = Instant::now();
    let run = format!(
        "s{}",
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() % 100_000_000
    );
    let topic = format!("SmokeTopic_{run}");
    let client = |name: &str| {
        ClientConfig::new(&args.namesrv).with_instance_name(format!("smoke-{run}-{name}"))
    };
    let mut table = Table::default();
    println!(
        "cluster_smoke run {run}: namesrv {}, {} messages, topic {topic}",
        args.namesrv, args.count
    );

    // ---- cluster ----
    let admin = Admin::start(client("admin")).await?;
    let info = admin
        .cluster_info()
        .await
        .context("GET_BROKER_CLUSTER_INFO from the name server")?;
    let mut clusters: Vec<&String> = info.cluster_addr_table.keys().collect();
    clusters.sort();
    let cluster = match &args.cluster {
        Some(c) => c.clone(),
        None => clusters
            .first()
            .map(|c| c.to_string())
            .context("the name server knows no cluster")?,
    };
    let masters = admin.cluster_masters(&cluster).await?;
    let mut versions = Vec::new();
    for m in &masters {
        match admin.broker_runtime_info(m).await {
            Ok(rt) => versions.push(format!(
                "{m} {}",
                rt.get("brokerVersionDesc").map_or("?", String::as_str)
            )),
            Err(e) => versions.push(format!("{m} runtime info refused: {}", short(e))),
        }
    }
    table.add(
        "admin: cluster info + runtime info",
        !masters.is_empty(),
        format!("{} master(s)", masters.len()),
        None,
        format!("cluster {cluster}: {}", versions.join(", ")),
    );

    let t = Instant::now();
    let created = admin
        .create_topic_in_cluster(&cluster, &TopicSpec::new(&topic, args.queues))
        .await;
    let mut route_ok = false;
    for _ in 0..150 {
        if admin.topic_route(&topic).await.is_ok() {
            route_ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    table.add(
        "admin: create topic + route",
        created.is_ok() && route_ok,
        format!("{} queues on {} master(s)", args.queues, masters.len()),
        Some(t.elapsed()),
        match (&created, route_ok) {
            (Ok(_), true) => String::new(),
            (Ok(_), false) => {
                "created, but the name server did not route it within 15 s".to_string()
            }
            (Err(e), _) => format!("{} (sends will rely on auto-create)", short(e)),
        },
    );

    // ---- consumers first, so they long-poll while messages arrive ----
    let push_seen = Arc::new(Seen::default());
    let orderly_seen = Arc::new(Seen::default());
    let pull_seen = Arc::new(Seen::default());
    let push_group = format!("smoke_push_{run}");
    let orderly_group = format!("smoke_orderly_{run}");
    let pull_group = format!("smoke_pull_{run}");

    let mut po = PushConsumerOptions::new(&push_group, &args.namesrv)
        .subscribe(&topic, MessageSelector::all());
    po.client = client("push");
    po.consume_from_where = ConsumeFromWhere::FirstOffset;
    let sink = push_seen.clone();
    let push = PushConsumer::start(po, move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
        sink.record(&msgs);
        async { ConsumeOutcome::Success }
    })
    .await
    .context("push consumer start")?;

    let mut oo = PushConsumerOptions::new(&orderly_group, &args.namesrv)
        .subscribe(&topic, MessageSelector::Tag(Kind::Orderly.tag()));
    oo.client = client("orderly");
    oo.consume_from_where = ConsumeFromWhere::FirstOffset;
    oo.orderly = true;
    let sink = orderly_seen.clone();
    let orderly = PushConsumer::start(oo, move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
        sink.record(&msgs);
        async { ConsumeOutcome::Success }
    })
    .await
    .context("orderly push consumer start")?;

    let mut lo = LitePullConsumerOptions::new(&pull_group, &args.namesrv)
        .subscribe(&topic, MessageSelector::all());
    lo.client = client("pull");
    lo.consume_from_where = ConsumeFromWhere::FirstOffset;
    lo.pull_batch_size = 32;
    let pull = LitePullConsumer::start(lo)
        .await
        .context("lite pull consumer start")?;
    let poller = {
        let pull = pull.clone();
        let sink = pull_seen.clone();
        tokio::spawn(async move {
            let mut errors = 0usize;
            let mut first_error = None;
            loop {
                match pull.poll(Duration::from_millis(500)).await {
                    Ok(msgs) => sink.record(&msgs),
                    Err(rmq_client::ClientError::Shutdown(_)) => break,
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| short(e));
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
            (errors, first_error)
        })
    };

    // ---- sends ----
    let mut po = ProducerOptions::new(format!("smoke_producer_{run}"), &args.namesrv);
    po.client = client("producer");
    let producer = Producer::start(po).await.context("producer start")?;
    let expected = plan(&run, args.count);
    let mut stats: BTreeMap<Kind, SendStats> = BTreeMap::new();
    let mut sent_ok: Vec<Expected> = Vec::new();
    let mut orderly_queues: HashMap<String, HashSet<(String, i32)>> = HashMap::new();
    let mut first_sync: Option<(Expected, SendResult)> = None;
    let send_start = Instant::now();
    for kind in Kind::ALL {
        let batch: Vec<Expected> = expected
            .iter()
            .filter(|e| e.kind == kind)
            .cloned()
            .collect();
        let st = stats.entry(kind).or_default();
        let t = Instant::now();
        match kind {
            Kind::Sync | Kind::Compressed => {
                for e in batch {
                    match producer.send(e.message(&topic)).await {
                        Ok(r) => {
                            st.ok += 1;
                            first_sync.get_or_insert_with(|| (e.clone(), r));
                            sent_ok.push(e);
                        }
                        Err(err) => st.fail(1, err),
                    }
                }
            }
            Kind::Async => {
                let results: Vec<(Expected, rmq_client::Result<SendResult>)> = stream::iter(batch)
                    .map(|e| {
                        let fut = producer.send_async(e.message(&topic));
                        async move { (e, fut.await) }
                    })
                    .buffer_unordered(64)
                    .collect()
                    .await;
                for (e, r) in results {
                    match r {
                        Ok(_) => {
                            st.ok += 1;
                            sent_ok.push(e);
                        }
                        Err(err) => st.fail(1, err),
                    }
                }
            }
            Kind::Oneway => {
                for e in batch {
                    match producer.send_oneway(e.message(&topic)).await {
                        Ok(()) => {
                            st.ok += 1;
                            sent_ok.push(e);
                        }
                        Err(err) => st.fail(1, err),
                    }
                }
            }
            Kind::Batch => {
                for chunk in batch.chunks(32) {
                    let msgs = chunk.iter().map(|e| e.message(&topic)).collect();
                    match producer.send_batch(msgs).await {
                        Ok(results) if results.len() == chunk.len() => {
                            st.ok += chunk.len();
                            sent_ok.extend(chunk.iter().cloned());
                        }
                        Ok(results) => st.fail(
                            chunk.len(),
                            format!("{} results for a batch of {}", results.len(), chunk.len()),
                        ),
                        Err(err) => st.fail(chunk.len(), err),
                    }
                }
            }
            Kind::Orderly => {
                for e in batch {
                    let (hash, _) = e.order.clone().expect("orderly messages have a hash key");
                    match producer.send_orderly(e.message(&topic), &hash).await {
                        Ok(r) => {
                            st.ok += 1;
                            orderly_queues
                                .entry(hash)
                                .or_default()
                                .insert((r.queue.broker_name.clone(), r.queue.queue_id));
                            sent_ok.push(e);
                        }
                        Err(err) => st.fail(1, err),
                    }
                }
            }
        }
        st.time = t.elapsed();
    }
    let send_time = send_start.elapsed();

    // ---- transaction: one commit, one rollback ----
    let mut txo = ProducerOptions::new(format!("smoke_tx_{run}"), &args.namesrv);
    txo.client = client("tx");
    let commit_key = format!("{run}-tx-commit");
    let rollback_key = format!("{run}-tx-rollback");
    let tx_start = Instant::now();
    let tx_result: Result<()> = async {
        let ck = commit_key.clone();
        let tx = TransactionProducer::start(txo, move |m: MessageExt| {
            let commit = m.keys().iter().any(|k| k.contains(ck.as_str()));
            async move {
                if commit {
                    LocalTransactionState::Commit
                } else {
                    LocalTransactionState::Rollback
                }
            }
        })
        .await?;
        let c = tx
            .send_in_transaction(
                Message::new(&topic, format!("{run} committed"))
                    .with_tags("TagTx")
                    .with_key(&commit_key),
                |_| async { LocalTransactionState::Commit },
            )
            .await
            .context("commit")?;
        let r = tx
            .send_in_transaction(
                Message::new(&topic, format!("{run} rolled back"))
                    .with_tags("TagTx")
                    .with_key(&rollback_key),
                |_| async { LocalTransactionState::Rollback },
            )
            .await
            .context("rollback")?;
        if c.state != LocalTransactionState::Commit || r.state != LocalTransactionState::Rollback {
            bail!("states {:?} / {:?}", c.state, r.state);
        }
        // Keep the producer (and its check-back answers) alive until the consumers have had their chance.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            tx.shutdown().await;
        });
        Ok(())
    }
    .await;
    let tx_send_time = tx_start.elapsed();

    // ---- delay level 1 ----
    let delay_key = format!("{run}-delay");
    let delay_sent_at = Instant::now();
    let delay_result = producer
        .send(
            Message::new(&topic, format!("{run} delayed"))
                .with_tags("TagDelay")
                .with_key(&delay_key)
                .with_delay_level(1),
        )
        .await;

    // ---- wait for the consumers ----
    let keys: HashSet<String> = sent_ok.iter().map(|e| e.key.clone()).collect();
    let orderly_keys: HashSet<String> = sent_ok
        .iter()
        .filter(|e| e.kind == Kind::Orderly)
        .map(|e| e.key.clone())
        .collect();
    println!(
        "  sent {} of {} in {:.3}s; waiting up to {}s for the consumers",
        keys.len(),
        expected.len(),
        send_time.as_secs_f64(),
        args.timeout.as_secs()
    );
    let wait_start = Instant::now();
    let mut push_done = None;
    let mut pull_done = None;
    let mut orderly_done = None;
    let tx_commit_expected = tx_result.is_ok();
    let delay_expected = delay_result.is_ok();
    while wait_start.elapsed() < args.timeout {
        if push_done.is_none() && push_seen.count_of(&keys) == keys.len() {
            push_done = Some(send_start.elapsed());
        }
        if pull_done.is_none() && pull_seen.count_of(&keys) == keys.len() {
            pull_done = Some(send_start.elapsed());
        }
        if orderly_done.is_none() && orderly_seen.count_of(&orderly_keys) == orderly_keys.len() {
            orderly_done = Some(send_start.elapsed());
        }
        let extras = (!tx_commit_expected || push_seen.has(&commit_key))
            && (!delay_expected || push_seen.has(&delay_key));
        if push_done.is_some() && pull_done.is_some() && orderly_done.is_some() && extras {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A rolled-back message must stay away; give it (and any redelivered duplicate) a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // ---- sends + content, per kind ----
    let check = |seen: &Seen, kind: Kind| -> (usize, usize, Option<String>) {
        let mut got = 0;
        let mut bad = 0;
        let mut first = None;
        for e in sent_ok.iter().filter(|e| e.kind == kind) {
            if let Some(g) = seen.first(&e.key) {
                got += 1;
                if let Some(why) = mismatch(&topic, e, &g) {
                    bad += 1;
                    first.get_or_insert(why);
                }
            }
        }
        (got, bad, first)
    };
    for kind in Kind::ALL {
        let st = &stats[&kind];
        let (push_got, push_bad, push_why) = check(&push_seen, kind);
        let (pull_got, pull_bad, pull_why) = check(&pull_seen, kind);
        let mut remarks = Vec::new();
        if let Some(e) = &st.first_error {
            remarks.push(format!("send error: {e}"));
        }
        if let Some(w) = push_why.or(pull_why) {
            remarks.push(format!("content differs: {w}"));
        }
        if push_got < st.ok || pull_got < st.ok {
            remarks.push("not every sent message arrived".to_string());
        }
        let pass = st.failed == 0
            && st.ok > 0
            && push_got == st.ok
            && pull_got == st.ok
            && push_bad == 0
            && pull_bad == 0;
        table.add(
            kind.label(),
            pass,
            format!(
                "sent {}/{}, push {push_got}, pull {pull_got}",
                st.ok,
                st.ok + st.failed
            ),
            Some(st.time),
            remarks.join("; "),
        );
    }

    // ---- consumers overall ----
    let summarize = |name: &str,
                     seen: &Seen,
                     want: &HashSet<String>,
                     done: Option<Duration>,
                     table: &mut Table| {
        let got = seen.count_of(want);
        let total: usize = {
            let map = seen.by_key.lock();
            want.iter().filter_map(|k| map.get(k)).map(Vec::len).sum()
        };
        let mut missing: Vec<&String> = want.iter().filter(|k| !seen.has(k)).collect();
        missing.sort();
        let remark = if missing.is_empty() {
            String::new()
        } else {
            format!("missing e.g. {:?}", &missing[..missing.len().min(3)])
        };
        table.add(
            name,
            got == want.len(),
            format!(
                "{got}/{} received, {} duplicate(s), {} in all",
                want.len(),
                total - got,
                seen.total()
            ),
            done,
            if done.is_none() && remark.is_empty() {
                "timed out".to_string()
            } else {
                remark
            },
        );
    };
    summarize(
        "consume push (clustering, concurrently)",
        &push_seen,
        &keys,
        push_done,
        &mut table,
    );
    summarize(
        "consume lite pull (subscribe, auto commit)",
        &pull_seen,
        &keys,
        pull_done,
        &mut table,
    );
    summarize(
        "consume push orderly (tag filter)",
        &orderly_seen,
        &orderly_keys,
        orderly_done,
        &mut table,
    );

    // ---- order ----
    // Storage order: each hash key went to one queue, in sequence (checked on what the lite pull consumer read).
    let mut order_errors = Vec::new();
    for (hash, queues) in &orderly_queues {
        if queues.len() != 1 {
            order_errors.push(format!("{hash} went to {} queues", queues.len()));
        }
    }
    let by_hash = |seen: &Seen, by: &dyn Fn(&Got) -> i64| -> Vec<String> {
        let mut errs = Vec::new();
        let mut per: HashMap<String, Vec<(i64, u64)>> = HashMap::new();
        for e in sent_ok.iter().filter(|e| e.kind == Kind::Orderly) {
            if let (Some(g), Some((hash, seq))) = (seen.first(&e.key), &e.order) {
                per.entry(hash.clone()).or_default().push((by(&g), *seq));
            }
        }
        for (hash, mut v) in per {
            v.sort();
            if v.windows(2).any(|w| w[0].1 >= w[1].1) {
                errs.push(format!("{hash} out of order"));
            }
        }
        errs
    };
    order_errors.extend(by_hash(&pull_seen, &|g| g.queue_offset));
    let stored_ok = order_errors.is_empty();
    table.add(
        "orderly: one queue per hash key, stored in order",
        stored_ok && !orderly_queues.is_empty(),
        format!("{} hash keys", orderly_queues.len()),
        None,
        order_errors.join("; "),
    );
    let consumed_errors = by_hash(&orderly_seen, &|g| g.serial as i64);
    let orderly_got = orderly_seen.count_of(&orderly_keys);
    table.add(
        "orderly: push orderly consumer sees each key in order",
        consumed_errors.is_empty() && orderly_got == orderly_keys.len() && orderly_got > 0,
        format!("{orderly_got}/{} in order", orderly_keys.len()),
        orderly_done,
        consumed_errors.join("; "),
    );

    // ---- transaction ----
    match &tx_result {
        Ok(()) => {
            let commit = push_seen.first(&commit_key);
            let rolled = push_seen.has(&rollback_key) || pull_seen.has(&rollback_key);
            table.add(
                "transaction: commit delivered",
                commit.is_some() && pull_seen.has(&commit_key),
                format!(
                    "push {}, pull {}",
                    u8::from(commit.is_some()),
                    u8::from(pull_seen.has(&commit_key))
                ),
                Some(tx_send_time),
                String::new(),
            );
            table.add(
                "transaction: rollback not delivered",
                !rolled,
                format!("delivered {}", u8::from(rolled)),
                None,
                if rolled {
                    "a rolled-back message was consumed".to_string()
                } else {
                    String::new()
                },
            );
        }
        Err(e) => {
            table.add(
                "transaction: commit delivered",
                false,
                "-",
                Some(tx_send_time),
                short(format!("{e:#}")),
            );
            table.add(
                "transaction: rollback not delivered",
                false,
                "-",
                None,
                "not tried: the transactional send failed",
            );
        }
    }

    // ---- delay ----
    match &delay_result {
        Ok(_) => {
            let got = push_seen.first(&delay_key);
            let waited = got.as_ref().map(|g| g.at.duration_since(delay_sent_at));
            let pass = waited
                .is_some_and(|d| d >= Duration::from_millis(900) && d <= Duration::from_secs(15));
            table.add(
                "delay level 1 (1 s)",
                pass,
                format!("received {}", u8::from(got.is_some())),
                waited,
                match waited {
                    None => "never arrived".to_string(),
                    Some(d) if d < Duration::from_millis(900) => "arrived early".to_string(),
                    Some(d) if d > Duration::from_secs(15) => "arrived late".to_string(),
                    Some(_) => "time from send to consume".to_string(),
                },
            );
        }
        Err(e) => table.add("delay level 1 (1 s)", false, "-", None, short(e)),
    }

    // ---- admin read-outs ----
    push.persist_offsets().await;
    let _ = pull.commit_sync().await;
    let expected_stored =
        keys.len() as i64 + i64::from(tx_commit_expected) + i64::from(delay_expected);
    let t = Instant::now();
    match admin.topic_status(&topic).await {
        Ok(s) => {
            let stored = s.stored_messages();
            table.add(
                "admin: topic_status (GET_TOPIC_STATS_INFO 202)",
                stored == expected_stored,
                format!(
                    "{} queues, {stored} stored, {expected_stored} expected",
                    s.queues.len()
                ),
                Some(t.elapsed()),
                String::new(),
            );
        }
        Err(e) => table.add(
            "admin: topic_status (GET_TOPIC_STATS_INFO 202)",
            false,
            "-",
            Some(t.elapsed()),
            short(e),
        ),
    }
    let t = Instant::now();
    match admin.consumer_progress(&push_group, &topic).await {
        Ok(p) => table.add(
            "admin: consumer_progress (GET_CONSUME_STATS 208)",
            p.total_lag == 0 && !p.queues.is_empty(),
            format!("{} queues, lag {}", p.queues.len(), p.total_lag),
            Some(t.elapsed()),
            String::new(),
        ),
        Err(e) => table.add(
            "admin: consumer_progress (GET_CONSUME_STATS 208)",
            false,
            "-",
            Some(t.elapsed()),
            short(e),
        ),
    }
    let t = Instant::now();
    match admin.consumer_progress_all(&push_group).await {
        Ok(all) => {
            let topics: Vec<&String> = all.keys().collect();
            table.add(
                "admin: consumer_progress_all (208, no topic)",
                all.contains_key(&topic),
                format!("{} topic(s)", all.len()),
                Some(t.elapsed()),
                format!("{topics:?}"),
            );
        }
        Err(e) => table.add(
            "admin: consumer_progress_all (208, no topic)",
            false,
            "-",
            Some(t.elapsed()),
            short(e),
        ),
    }
    let t = Instant::now();
    match admin.consumer_connections(&push_group).await {
        Ok(cc) => table.add(
            "admin: consumer_connections (GET_CONSUMER_CONNECTION_LIST 203)",
            !cc.connection_set.is_empty() && cc.subscription_table.contains_key(&topic),
            format!("{} connection(s)", cc.connection_set.len()),
            Some(t.elapsed()),
            format!(
                "{} {}; subscriptions {:?}",
                cc.consume_type,
                cc.message_model,
                cc.subscription_table.keys().collect::<Vec<_>>()
            ),
        ),
        Err(e) => table.add(
            "admin: consumer_connections (GET_CONSUMER_CONNECTION_LIST 203)",
            false,
            "-",
            Some(t.elapsed()),
            short(e),
        ),
    }
    if let Some((e, r)) = &first_sync {
        let t = Instant::now();
        match admin.view_message(&r.offset_msg_id).await {
            Ok(m) => table.add(
                "admin: view_message (VIEW_MESSAGE_BY_ID 33)",
                m.body == e.body && m.queue_offset == r.queue_offset,
                format!("queue {} offset {}", m.queue_id, m.queue_offset),
                Some(t.elapsed()),
                String::new(),
            ),
            Err(err) => table.add(
                "admin: view_message (VIEW_MESSAGE_BY_ID 33)",
                false,
                "-",
                Some(t.elapsed()),
                short(err),
            ),
        }
        let t = Instant::now();
        match admin.message_at(&r.queue, r.queue_offset).await {
            Ok(Some(m)) => table.add(
                "admin: message_at (PULL_MESSAGE 11, one message)",
                m.body == e.body,
                format!("offset {}", m.queue_offset),
                Some(t.elapsed()),
                String::new(),
            ),
            Ok(None) => table.add(
                "admin: message_at (PULL_MESSAGE 11, one message)",
                false,
                "-",
                Some(t.elapsed()),
                "no message there",
            ),
            Err(err) => table.add(
                "admin: message_at (PULL_MESSAGE 11, one message)",
                false,
                "-",
                Some(t.elapsed()),
                short(err),
            ),
        }
    }
    for m in &masters {
        let t = Instant::now();
        match admin.broker_config(m).await {
            Ok(cfg) => table.add(
                "admin: broker_config (GET_BROKER_CONFIG 26)",
                cfg.contains_key("brokerName"),
                format!("{} keys", cfg.len()),
                Some(t.elapsed()),
                format!(
                    "{m}: brokerName={}",
                    cfg.get("brokerName").map_or("?", String::as_str)
                ),
            ),
            Err(err) => table.add(
                "admin: broker_config (GET_BROKER_CONFIG 26)",
                false,
                "-",
                Some(t.elapsed()),
                short(err),
            ),
        }
    }
    let t = Instant::now();
    match admin
        .query_messages(&topic, &format!("{run}-0"), 10, 0, i64::MAX)
        .await
    {
        Ok(found) => table.add(
            "admin: query by key (QUERY_MESSAGE 12)",
            found.len() == 1 && found[0].body == expected[0].body,
            format!("{} found", found.len()),
            Some(t.elapsed()),
            String::new(),
        ),
        Err(e) => table.add(
            "admin: query by key (QUERY_MESSAGE 12)",
            false,
            "-",
            Some(t.elapsed()),
            short(e),
        ),
    }

    // ---- shutdown ----
    push.shutdown().await;
    orderly.shutdown().await;
    pull.shutdown().await;
    let (poll_errors, poll_error) = poller.await.unwrap_or((0, None));
    if poll_errors > 0 {
        table.add(
            "lite pull: poll errors",
            false,
            format!("{poll_errors} error(s)"),
            None,
            poll_error.unwrap_or_default(),
        );
    }
    producer.shutdown().await;
    if !args.keep_topic {
        let t = Instant::now();
        let deleted = admin.delete_topic(&cluster, &topic).await;
        table.add(
            "admin: delete topic",
            deleted.is_ok(),
            "-",
            Some(t.elapsed()),
            deleted.err().map(short).unwrap_or_default(),
        );
    }
    admin.shutdown();

    table.print();
    println!("total time {:.1}s", started.elapsed().as_secs_f64());
    Ok(table.all_passed())
}
