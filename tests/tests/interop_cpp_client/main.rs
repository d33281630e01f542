//! Apache's C++ client (librocketmq "1.0.1", from the PyPI wheel `rocketmq==0.4.4`, the core of Apache's
//! Python 2.x / Node.js / PHP clients) against rmq's broker, and both ways with rmq-runtime.
//!
//! Each test starts an embedded broker (ephemeral ports, temp store) and one or more `tests/cpp/driver.py`
//! processes ([`rmq_tests::cpp_client`]), each running one C++ producer or consumer and reporting as JSON
//! lines. Without the client installed the tests print a SKIP line and pass, unless `RMQ_CI` is set (see
//! docs/interop-cpp-client.md).
//!
//! - [`producer`]: the C++ producer's send modes, compression, delay levels and size limit; what it sends is
//!   read back from the store and by rmq-runtime's push consumers.
//! - [`consumer`]: the C++ push consumer (clustering, broadcasting, orderly, tag filter, redelivery,
//!   dead-lettering) and pull consumer, fed by rmq-runtime's producer (and once by the C++ producer).
//!
//! Every message carries its index in the `idx` property and is checked against what was sent for that index:
//! topic, tags, keys, user properties (non-ASCII values included) and body (non-ASCII text; the binding passes
//! bodies as C strings, so no NUL bytes).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rmq_broker::embedded::{EmbeddedBroker, EmbeddedBrokerBuilder};
use rmq_runtime::consumer::{
    ConsumeContext, ConsumeFromWhere, ConsumeOutcome, MessageSelector, PushConsumer,
    PushConsumerOptions,
};
use rmq_runtime::{Message, MessageExt};
use rmq_tests::client::now_ms;
use rmq_tests::cpp_client::{self, Received};
use rmq_tests::{eventually, unique, RawClient};
use tokio::sync::mpsc;

mod consumer;
mod producer;

/// Tags, by `i % 3`.
const TAGS: [&str; 3] = ["TagA", "TagB", "TagC"];
/// A user property's values, by `i % 5`.
const COLOURS: [&str; 5] = ["red", "grün", "青い空", "ünïcødé 🚀", "a=b c:d"];
/// The properties the C++ consumers report (the binding cannot list them).
const PROPS: [&str; 6] = ["idx", "colour", "UNIQ_KEY", "KEYS", "TAGS", "RETRY_TOPIC"];
/// Queues of every test topic.
const QUEUES: i32 = 4;
/// How long consumers may take to get everything once it was sent.
const CONSUME_TIMEOUT: Duration = Duration::from_secs(60);

/// What was sent as message `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    body: String,
    tags: &'static str,
    keys: String,
    props: Vec<(&'static str, String)>,
}

fn expected(i: usize) -> Expected {
    let mut body = format!("c++ interop {i} · ünïcødé · 青い空 · 🚀 ");
    // Varied lengths, all under the C++ client's 4 KiB compression threshold.
    body.extend((0..(i * 37) % 900).map(|j| char::from(b'a' + (j % 26) as u8)));
    Expected {
        body,
        tags: TAGS[i % 3],
        keys: format!("key-{i} schlüssel-{i}"),
        props: vec![
            ("idx", i.to_string()),
            ("colour", COLOURS[i % 5].to_owned()),
        ],
    }
}

/// Checks what a C++ consumer received against what was sent; returns the index.
fn check_cpp(r: &Received, topic: &str) -> Result<usize, String> {
    let idx: usize = r
        .prop("idx")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("[{}] delivery without a valid idx: {r:?}", r.consumer))?;
    let e = expected(idx);
    let mut problems = Vec::new();
    if r.topic != topic {
        problems.push(format!("topic {:?} != {topic:?}", r.topic));
    }
    if r.body.as_deref() != Some(e.body.as_str()) {
        problems.push(format!(
            "body ({} bytes) {:?} != the {} bytes sent",
            r.body_len,
            r.body.as_deref().map(|b| &b[..b.len().min(60)]),
            e.body.len()
        ));
    }
    if r.tags.as_deref() != Some(e.tags) {
        problems.push(format!("tags {:?} != {:?}", r.tags, e.tags));
    }
    if r.keys.as_deref() != Some(e.keys.as_str()) {
        problems.push(format!("keys {:?} != {:?}", r.keys, e.keys));
    }
    for (k, v) in &e.props {
        if r.prop(k) != Some(v.as_str()) {
            problems.push(format!("property {k} {:?} != {v:?}", r.prop(k)));
        }
    }
    if problems.is_empty() {
        Ok(idx)
    } else {
        Err(format!(
            "[{}] message {idx}: {}",
            r.consumer,
            problems.join("; ")
        ))
    }
}

/// A delivery to one of rmq-runtime's consumers.
#[derive(Debug)]
struct RtDelivery {
    consumer: &'static str,
    msg: MessageExt,
    received_ms: i64,
}

/// Checks a message rmq-runtime delivered against what was sent; returns the index.
fn check_runtime(d: &RtDelivery, topic: &str) -> Result<usize, String> {
    let m = &d.msg;
    let idx: usize = m
        .property("idx")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            format!(
                "[{}] delivery without a valid idx: {:?}",
                d.consumer, m.properties
            )
        })?;
    let e = expected(idx);
    let mut problems = Vec::new();
    if m.topic != topic {
        problems.push(format!("topic {:?} != {topic:?}", m.topic));
    }
    if m.body.as_ref() != e.body.as_bytes() {
        problems.push(format!(
            "body of {} bytes (sysFlag {:#x}) != the {} bytes sent",
            m.body.len(),
            m.sys_flag,
            e.body.len()
        ));
    }
    if m.tags() != Some(e.tags) {
        problems.push(format!("tags {:?} != {:?}", m.tags(), e.tags));
    }
    if m.keys().join(" ") != e.keys {
        problems.push(format!("keys {:?} != {:?}", m.keys(), e.keys));
    }
    for (k, v) in &e.props {
        if m.property(k) != Some(v.as_str()) {
            problems.push(format!("property {k} {:?} != {v:?}", m.property(k)));
        }
    }
    if problems.is_empty() {
        Ok(idx)
    } else {
        Err(format!(
            "[{}] message {idx}: {}",
            d.consumer,
            problems.join("; ")
        ))
    }
}

/// Starts one of rmq-runtime's push consumers from the first offset, forwarding every message to `tx`.
async fn runtime_consumer(
    namesrv: &str,
    topic: &str,
    label: &'static str,
    selector: &str,
    tx: mpsc::UnboundedSender<RtDelivery>,
) -> PushConsumer {
    let mut opts = PushConsumerOptions::new(unique(&format!("rt_{label}")), namesrv)
        .subscribe(topic, MessageSelector::Tag(selector.into()));
    opts.consume_from_where = ConsumeFromWhere::FirstOffset;
    opts.client.instance_name = unique("rt_consumer");
    PushConsumer::start(opts, move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
        let tx = tx.clone();
        async move {
            for msg in msgs {
                let _ = tx.send(RtDelivery {
                    consumer: label,
                    msg,
                    received_ms: now_ms(),
                });
            }
            ConsumeOutcome::Success
        }
    })
    .await
    .expect("rmq-runtime push consumer starts")
}

/// Message `i` for rmq-runtime's producer.
fn runtime_message(topic: &str, i: usize) -> Message {
    let e = expected(i);
    let mut m = Message::new(topic, e.body.into_bytes())
        .with_tags(e.tags)
        .with_keys(e.keys.split(' '));
    for (k, v) in e.props {
        m = m.with_property(k, v);
    }
    m
}

/// Deliveries per consumer, checked and counted by distinct index.
#[derive(Debug, Default)]
struct Tally {
    distinct: BTreeMap<String, BTreeSet<usize>>,
    deliveries: usize,
    duplicates: usize,
    errors: Vec<String>,
}

impl Tally {
    /// Records one delivery; returns its index when the content was right.
    fn record(&mut self, consumer: &str, checked: Result<usize, String>) -> Option<usize> {
        self.deliveries += 1;
        match checked {
            Ok(i) => {
                if !self
                    .distinct
                    .entry(consumer.to_owned())
                    .or_default()
                    .insert(i)
                {
                    self.duplicates += 1;
                }
                Some(i)
            }
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    fn count(&self, consumer: &str) -> usize {
        self.distinct.get(consumer).map_or(0, BTreeSet::len)
    }

    /// Fails on a bad delivery, a missing index or one the consumer should not have had.
    fn assert_exactly(&self, consumer: &str, wanted: &BTreeSet<usize>, context: &str) {
        assert!(
            self.errors.is_empty(),
            "{context}: {} bad deliveries, first: {:#?}",
            self.errors.len(),
            &self.errors[..self.errors.len().min(5)]
        );
        let empty = BTreeSet::new();
        let got = self.distinct.get(consumer).unwrap_or(&empty);
        let missing: Vec<&usize> = wanted.difference(got).collect();
        let extra: Vec<&usize> = got.difference(wanted).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{context}: {consumer} has {} distinct of {} wanted ({} deliveries in all); missing {:?}; \
             not wanted but delivered {:?}",
            got.len(),
            wanted.len(),
            self.deliveries,
            &missing[..missing.len().min(20)],
            &extra[..extra.len().min(20)],
        );
    }
}

/// A broker with one topic of [`QUEUES`] queues that the name server already routes.
struct Setup {
    broker: EmbeddedBroker,
    namesrv: String,
    raw: RawClient,
    topic: String,
}

impl Setup {
    async fn start(topic_prefix: &str) -> Setup {
        Self::start_with(EmbeddedBroker::builder(), topic_prefix).await
    }

    async fn start_with(builder: EmbeddedBrokerBuilder, topic_prefix: &str) -> Setup {
        let broker = builder.start().await.expect("broker starts");
        let namesrv = broker.namesrv_addr();
        let raw = RawClient::connect(&broker.broker_addr())
            .await
            .expect("raw client");
        let topic = unique(topic_prefix);
        create_topic(&raw, &namesrv, &topic).await;
        Setup {
            broker,
            namesrv,
            raw,
            topic,
        }
    }

    /// Every record stored in the topic, by queue id.
    async fn stored(&self, topic: &str) -> BTreeMap<i32, Vec<rmq_tests::record::Record>> {
        let mut out = BTreeMap::new();
        for q in 0..QUEUES {
            let records = self
                .raw
                .pull_all(&unique("reader"), topic, q, 0)
                .await
                .expect("pull stored records");
            out.insert(q, records);
        }
        out
    }

    async fn shutdown(self) {
        self.broker.shutdown().await.expect("broker shutdown");
    }
}

/// Creates `topic` with [`QUEUES`] queues and waits until the name server routes it: the C++ client looks a
/// topic's route up when it starts and then only every 30 s.
async fn create_topic(raw: &RawClient, namesrv: &str, topic: &str) {
    rmq_tests::fixtures::create_routed_topic(raw.addr(), namesrv, topic, QUEUES)
        .await
        .expect("routed topic");
}

/// The C++ client's interpreter, or `None` (after a SKIP line) when it is not installed.
fn cpp(test: &str) -> bool {
    cpp_client::require(test).is_some()
}
