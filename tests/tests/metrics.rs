//! The broker's Prometheus endpoint over real HTTP: traffic counters, latency histograms, consumer lag, store
//! and connection gauges against an embedded broker with rmq-runtime clients; `--metrics-listen` on the
//! binary; the runtime's `rocketmq.embedded.broker.*` passthrough; and metrics off by default.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rmq_broker::embedded::EmbeddedBroker;
use rmq_runtime::{
    ConsumeContext, ConsumeFromWhere, ConsumeOutcome, Message, MessageExt, MessageSelector,
    PushConsumer, PushConsumerOptions,
};
use rmq_tests::fixtures::{create_routed_topic, producer};
use rmq_tests::process::BrokerProcess;
use rmq_tests::{eventually, unique, RawClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);

/// A scraped response: status line, headers (lower-cased names) and body.
struct Scrape {
    status: u16,
    content_type: String,
    body: String,
}

/// `GET /metrics` with a hand-written HTTP/1.1 request (no HTTP client dependency needed).
async fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> Result<Scrape> {
    let mut stream = TcpStream::connect(addr).await.context("connect")?;
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8(raw).context("utf-8 response")?;
    let (head, body) = text.split_once("\r\n\r\n").context("no end of headers")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .context("status line")?;
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    Ok(Scrape {
        status,
        content_type,
        body: body.to_owned(),
    })
}

/// The 0.0.4 text of `/metrics`, checked for status and content type.
async fn scrape(addr: SocketAddr) -> Result<Metrics> {
    let s = get(addr, "/metrics", None).await?;
    if s.status != 200 {
        bail!("GET /metrics answered {}: {}", s.status, s.body);
    }
    if !s.content_type.starts_with("text/plain; version=0.0.4") {
        bail!("content type {:?}", s.content_type);
    }
    Ok(Metrics(s.body))
}

/// Prometheus text, queried by sample name and a subset of labels.
struct Metrics(String);

impl Metrics {
    /// Sum of the samples named `name` whose labels include every pair of `labels`; `None` if none matches.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = None;
        for line in self.0.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let (sample, label_text) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if sample != name {
                continue;
            }
            let have = parse_labels(label_text);
            if labels
                .iter()
                .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
            {
                let v: f64 = value.parse().unwrap_or(f64::NAN);
                *found.get_or_insert(0.0) += v;
            }
        }
        found
    }

    /// Like [`sum`](Self::sum), 0 when absent (counters not yet created).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.sum(name, labels).unwrap_or(0.0)
    }

    /// How many samples of `name` carry the labels.
    fn count(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        self.0
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .filter(|l| {
                labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
            })
            .count()
    }
}

/// `a="x",b="y"` → pairs (values here never contain quotes or commas).
fn parse_labels(text: &str) -> Vec<(String, String)> {
    text.split("\",")
        .filter_map(|kv| kv.split_once("=\""))
        .map(|(k, v)| (k.to_owned(), v.trim_end_matches('"').to_owned()))
        .collect()
}

/// Polls the endpoint until `check` accepts a scrape.
async fn scrape_until(
    addr: SocketAddr,
    what: &str,
    check: impl Fn(&Metrics) -> bool,
) -> Result<Metrics> {
    let check = &check;
    eventually(WAIT, what, || async move {
        let m = scrape(addr).await?;
        Ok(check(&m).then_some(m))
    })
    .await
}

/// Creates `topic` and waits until the name server routes all its queues.
async fn create_topic(broker: &EmbeddedBroker, topic: &str, queues: i32) {
    create_routed_topic(&broker.broker_addr(), &broker.namesrv_addr(), topic, queues)
        .await
        .expect("routed topic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_sends_pulls_lag_and_the_store() {
    let broker = EmbeddedBroker::builder()
        .metrics_listen("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let addr = broker.metrics_addr().expect("metrics enabled");
    assert_ne!(addr.port(), 0, "the ephemeral port actually bound");
    let topic = unique("Metrics");
    let group = unique("mg");
    const QUEUES: i32 = 4;
    create_topic(&broker, &topic, QUEUES).await;
    // The group's offsets start at 0 on every queue, so lag counts every message sent from here on.
    let raw = RawClient::connect(&broker.broker_addr()).await.unwrap();
    for q in 0..QUEUES {
        assert_eq!(
            raw.update_consumer_offset(&group, &topic, q, 0)
                .await
                .unwrap(),
            0
        );
    }
    let t = [("topic", topic.as_str())];
    let tg = [
        ("topic", topic.as_str()),
        ("consumer_group", group.as_str()),
    ];
    let lag_labels = [
        ("topic", topic.as_str()),
        ("consumer_group", group.as_str()),
    ];
    let send = [("operation", "send")];
    let pull = [("operation", "pull")];

    let before = scrape(addr).await.unwrap();
    assert_eq!(
        before.count("rocketmq_consumer_lag_messages", &lag_labels),
        QUEUES as usize,
        "one lag series per committed queue"
    );
    assert_eq!(
        before.sum("rocketmq_consumer_lag_messages", &lag_labels),
        Some(0.0)
    );

    // N messages: single sends and one batch, bodies of different sizes.
    let producer = producer(&broker.namesrv_addr()).await;
    let singles: Vec<String> = (0..12)
        .map(|i| format!("single-{i}-{}", "x".repeat(i)))
        .collect();
    let batch: Vec<String> = (0..8)
        .map(|i| format!("batched-{i}-{}", "y".repeat(3 * i)))
        .collect();
    let n = (singles.len() + batch.len()) as f64;
    let body_bytes = singles.iter().chain(&batch).map(String::len).sum::<usize>() as f64;
    for b in &singles {
        producer
            .send(Message::new(topic.clone(), b.clone().into_bytes()))
            .await
            .expect("send");
    }
    producer
        .send_batch(
            batch
                .iter()
                .map(|b| Message::new(topic.clone(), b.clone().into_bytes()))
                .collect(),
        )
        .await
        .expect("batch send");

    let sent = scrape(addr).await.unwrap();
    let delta = |now: &Metrics, name: &str, labels: &[(&str, &str)]| {
        now.get(name, labels) - before.get(name, labels)
    };
    assert_eq!(delta(&sent, "rocketmq_messages_in_total", &t), n);
    assert_eq!(delta(&sent, "rocketmq_throughput_in_total", &t), body_bytes);
    assert!(
        delta(&sent, "rocketmq_rpc_latency_seconds_count", &send) >= 13.0,
        "12 single sends and one batch request are timed"
    );
    assert_eq!(
        sent.get("rocketmq_rpc_latency_seconds_count", &send),
        sent.get(
            "rocketmq_rpc_latency_seconds_bucket",
            &[("operation", "send"), ("le", "+Inf")]
        ),
    );
    // Stored messages are in the ConsumeQueues before the send is answered.
    assert_eq!(
        sent.sum("rocketmq_consumer_lag_messages", &lag_labels),
        Some(n)
    );
    assert!(
        sent.get("rocketmq_connections", &[]) >= 2.0,
        "raw client and producer"
    );
    assert!(sent.get("rocketmq_producer_connections", &[]) >= 1.0);
    assert!(sent.get("rocketmq_storage_size_bytes", &[]) > 0.0);
    assert_eq!(
        sent.get(
            "rocketmq_broker_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(
        sent.count(
            "rocketmq_broker_info",
            &[("cluster", "DefaultCluster"), ("node_type", "broker")]
        ) == 1,
        "Java's node labels on every series"
    );

    // Consume them all; the consumer commits, and lag goes back to 0.
    let mut opts = PushConsumerOptions::new(group.clone(), broker.namesrv_addr())
        .subscribe(topic.clone(), MessageSelector::all());
    opts.consume_from_where = ConsumeFromWhere::FirstOffset;
    opts.client.instance_name = unique("c");
    opts.client.persist_offset_interval = Duration::from_millis(200);
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let tx = Arc::new(tx);
    let consumer = PushConsumer::start(opts, move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
        let tx = tx.clone();
        async move {
            for m in msgs {
                let _ = tx.send(String::from_utf8_lossy(&m.body).into_owned());
            }
            ConsumeOutcome::Success
        }
    })
    .await
    .expect("consumer starts");
    let expected: HashSet<String> = singles.iter().chain(&batch).cloned().collect();
    let mut got = HashSet::new();
    while got.len() < expected.len() {
        let body = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("all messages consumed in time")
            .expect("consumer alive");
        got.insert(body);
    }
    assert_eq!(got, expected);
    let consumed = scrape_until(addr, "lag back to 0", |m| {
        m.sum("rocketmq_consumer_lag_messages", &lag_labels) == Some(0.0)
    })
    .await
    .unwrap();
    assert!(delta(&consumed, "rocketmq_messages_out_total", &tg) >= n);
    assert!(delta(&consumed, "rocketmq_throughput_out_total", &tg) >= body_bytes);
    assert!(delta(&consumed, "rocketmq_rpc_latency_seconds_count", &pull) >= 1.0);
    assert!(consumed.get("rocketmq_consumer_connections", &[]) >= 1.0);

    // The background flush (every 500 ms under ASYNC_FLUSH) syncs what was written and is timed.
    scrape_until(addr, "a CommitLog flush was timed", |m| {
        m.get("rocketmq_storage_flush_latency_seconds_count", &[]) > 0.0
            && m.get("rocketmq_storage_flush_behind_bytes", &[]) == 0.0
    })
    .await
    .unwrap();

    // A scraper asking for OpenMetrics gets it; other paths are not found.
    let om = get(
        addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
    )
    .await
    .unwrap();
    assert_eq!(om.status, 200);
    assert!(
        om.content_type.starts_with("application/openmetrics-text"),
        "{}",
        om.content_type
    );
    assert!(om.body.ends_with("# EOF\n"));
    assert!(om.body.contains("# TYPE rocketmq_messages_in counter"));
    assert!(consumed
        .0
        .contains("# TYPE rocketmq_messages_in_total counter"));
    assert!(!consumed.0.contains("# EOF"));
    assert_eq!(get(addr, "/", None).await.unwrap().status, 404);

    consumer.shutdown().await;
    producer.shutdown().await;
    broker.shutdown().await.unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the endpoint stops with the broker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_by_default() {
    // A port configured but metricsExporterType left at DISABLE: nothing may listen there.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let broker = EmbeddedBroker::builder()
        .property("metricsPromExporterHost", "127.0.0.1")
        .property("metricsPromExporterPort", port.to_string())
        .start()
        .await
        .unwrap();
    assert_eq!(broker.metrics_addr(), None);
    assert!(!broker.broker().metrics_enabled());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "no metrics port opened"
    );
    let props = broker.broker().config().to_properties();
    assert!(props.contains(&("metricsExporterType".into(), "DISABLE".into())));
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_binary_prints_and_serves_its_metrics_address() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let mut p = BrokerProcess::start(
        &store,
        &tmp.path().join("broker.log"),
        &["--metrics-listen", "127.0.0.1:0"],
    )
    .await
    .unwrap();
    let addr: SocketAddr = p
        .metrics_addr
        .as_deref()
        .expect("READY line has metrics=ADDR")
        .parse()
        .unwrap();
    assert_ne!(addr.port(), 0);
    let m = scrape(addr).await.unwrap();
    assert_eq!(m.get("rocketmq_broker_info", &[]), 1.0, "{}", p.log_tail());
    assert!(m.get("rocketmq_storage_size_bytes", &[]) > 0.0);
    p.terminate(Duration::from_secs(30)).await.unwrap();

    // Without the flag the READY line keeps its two fields.
    let mut plain = BrokerProcess::start(&store, &tmp.path().join("plain.log"), &[])
        .await
        .unwrap();
    assert_eq!(plain.metrics_addr, None);
    plain.terminate(Duration::from_secs(30)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_embedded_broker_settings_turn_metrics_on() {
    let app = rmq_runtime::testing::test_app()
        .set("rocketmq.embedded.broker.metricsExporterType", "PROM")
        .set(
            "rocketmq.embedded.broker.metricsPromExporterHost",
            "127.0.0.1",
        )
        .set("rocketmq.embedded.broker.metricsPromExporterPort", "0")
        .start()
        .await
        .unwrap();
    let addr = app
        .embedded_broker()
        .expect("embedded broker")
        .metrics_addr()
        .expect("metrics enabled through the passthrough");
    let m = scrape(addr).await.unwrap();
    assert_eq!(m.get("rocketmq_broker_info", &[]), 1.0);
    app.shutdown().await;
}
