//! The real `rmq-admin` binary against a bundled broker started by each test: every command, its `--json`
//! output checked against what was sent, some table output, and the one-line errors with exit code 1.
//!
//! The binary runs through `tokio::process` so the in-process broker keeps serving while a command waits.

mod namesrv;
mod operations;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmq_broker::embedded::EmbeddedBroker;
use rmq_client::{
    ConsumeContext, ConsumeFromWhere, ConsumeOutcome, Message, MessageExt, MessageSelector,
    Producer, ProducerOptions, PushConsumer, PushConsumerOptions,
};
use rmq_protocol::body::MessageQueue;
use serde_json::Value;

const CLUSTER: &str = "DefaultCluster";
const WAIT: Duration = Duration::from_secs(30);

/// A name unique within this test process.
fn unique(prefix: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Re-runs `check` until it yields `Some`; panics with `what` and the last answer after [`WAIT`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        let last = match check().await {
            Ok(Some(v)) => return v,
            Ok(None) => "condition not met yet".to_string(),
            Err(e) => e,
        };
        assert!(
            Instant::now() < deadline,
            "{what}: not true after {WAIT:?} ({last})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One finished run of the binary.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(self.code, Some(0), "command failed: {self:?}");
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Asserts the failure contract: exit 1, nothing on stdout, one line on stderr containing `needle`.
    fn fails_with(&self, needle: &str) {
        assert_eq!(self.code, Some(1), "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "one line: {self:?}");
        assert!(self.stderr.contains(needle), "{needle:?} in {self:?}");
    }
}

/// Runs `rmq-admin -n <namesrv> <args>` (without inheriting NAMESRV_ADDR).
async fn admin(namesrv: &str, args: &[&str]) -> Run {
    let mut full = vec!["-n", namesrv];
    full.extend_from_slice(args);
    run_with(&full, None).await
}

async fn run_with(args: &[&str], env_namesrv: Option<&str>) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_rmq-admin"));
    cmd.args(args).env_remove("NAMESRV_ADDR");
    if let Some(ns) = env_namesrv {
        cmd.env("NAMESRV_ADDR", ns);
    }
    let out = tokio::time::timeout(WAIT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("rmq-admin {args:?} hung"))
        .expect("rmq-admin runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs with `--json`, asserts success and parses stdout.
async fn json(namesrv: &str, args: &[&str]) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    admin(namesrv, &full).await.ok().json()
}

struct Fixture {
    broker: EmbeddedBroker,
    ns: String,
    broker_name: String,
}

async fn setup() -> Fixture {
    let broker = EmbeddedBroker::start().await.expect("broker starts");
    let ns = broker.namesrv_addr();
    let rows = json(&ns, &["clusterList"]).await;
    let broker_name = rows[0]["brokerName"]
        .as_str()
        .expect("a broker name")
        .to_string();
    Fixture {
        broker,
        ns,
        broker_name,
    }
}

impl Fixture {
    /// Creates a topic with `queues` queues through updateTopic and waits until it is routed.
    async fn topic(&self, queues: i32) -> String {
        let topic = unique("CliTopic");
        let q = queues.to_string();
        let written = json(
            &self.ns,
            &[
                "updateTopic",
                "-t",
                &topic,
                "-c",
                CLUSTER,
                "-r",
                &q,
                "-w",
                &q,
            ],
        )
        .await;
        assert_eq!(
            written["brokers"],
            serde_json::json!([self.broker.broker_addr()])
        );
        self.routed(&topic).await;
        topic
    }

    async fn routed(&self, topic: &str) -> Value {
        eventually("topic routed", || async {
            let run = admin(&self.ns, &["--json", "topicRoute", "-t", topic]).await;
            Ok((run.code == Some(0)).then(|| run.json()))
        })
        .await
    }

    /// sendMessage to one queue; returns its JSON answer.
    async fn send(&self, topic: &str, queue_id: i32, body: &str, extra: &[&str]) -> Value {
        let q = queue_id.to_string();
        let mut args = vec![
            "sendMessage",
            "-t",
            topic,
            "-p",
            body,
            "-b",
            &self.broker_name,
            "-i",
            &q,
        ];
        args.extend_from_slice(extra);
        let sent = json(&self.ns, &args).await;
        assert_eq!(sent["status"], "SEND_OK", "{sent}");
        assert_eq!(sent["queueId"], queue_id, "{sent}");
        sent
    }
}

fn bodies(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m["body"].as_str().expect("a text body").to_string())
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_routed_listed_measured_updated_and_deleted() {
    let f = setup().await;
    let topic = f.topic(2).await;

    let route = f.routed(&topic).await;
    assert_eq!(route["queueDatas"][0]["readQueueNums"], 2);
    assert_eq!(route["queueDatas"][0]["writeQueueNums"], 2);
    assert_eq!(route["queueDatas"][0]["perm"], 6);
    assert_eq!(
        route["brokerDatas"][0]["brokerAddrs"]["0"],
        f.broker.broker_addr()
    );
    let text = admin(&f.ns, &["topicRoute", "-t", &topic])
        .await
        .ok()
        .stdout;
    assert!(
        text.contains("#Read Queues") && text.contains(&f.broker.broker_addr()),
        "{text}"
    );

    let list = json(&f.ns, &["topicList"]).await;
    assert!(list
        .as_array()
        .expect("list")
        .contains(&Value::from(topic.clone())));
    let text = admin(&f.ns, &["topicList"]).await.ok().stdout;
    assert!(text.lines().any(|l| l == topic), "{text}");
    assert_eq!(
        json(&f.ns, &["topicClusterList", "-t", &topic]).await,
        serde_json::json!([CLUSTER])
    );

    let mut last = Value::Null;
    for i in 0..3 {
        last = f.send(&topic, 0, &format!("q0-{i}"), &[]).await;
        assert_eq!(last["queueOffset"], i);
    }
    f.send(&topic, 1, "q1-0", &[]).await;
    let status = json(&f.ns, &["topicStatus", "-t", &topic]).await;
    let rows: Vec<(i64, i64, i64)> = status["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .map(|q| {
            (
                q["queueId"].as_i64().unwrap_or(-1),
                q["minOffset"].as_i64().unwrap_or(-1),
                q["maxOffset"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(rows, vec![(0, 0, 3), (1, 0, 1)]);
    let stored = json(
        &f.ns,
        &[
            "queryMsgById",
            "-i",
            last["offsetMsgId"].as_str().expect("id"),
        ],
    )
    .await;
    assert_eq!(
        status["queues"][0]["lastUpdateTimestamp"],
        stored["storeTimestamp"]
    );
    let text = admin(&f.ns, &["topicStatus", "-t", &topic])
        .await
        .ok()
        .stdout;
    let mut lines = text.lines();
    assert_eq!(
        lines
            .next()
            .map(|h| h.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "#Broker", "Name", "#QID", "#Min", "Offset", "#Max", "Offset", "#Last", "Updated"
        ])
    );
    let first: Vec<&str> = lines.next().expect("a row").split_whitespace().collect();
    assert_eq!(first[..4], [f.broker_name.as_str(), "0", "0", "3"]);

    // Updating one broker's write queues shows in the route.
    let updated = json(
        &f.ns,
        &[
            "updateTopic",
            "-t",
            &topic,
            "-b",
            &f.broker.broker_addr(),
            "-r",
            "2",
            "-w",
            "1",
        ],
    )
    .await;
    assert_eq!(updated["writeQueueNums"], 1);
    eventually("route shows 1 write queue", || async {
        let r = json(&f.ns, &["topicRoute", "-t", &topic]).await;
        Ok((r["queueDatas"][0]["writeQueueNums"] == 1).then_some(()))
    })
    .await;

    let deleted = json(&f.ns, &["deleteTopic", "-t", &topic, "-c", CLUSTER]).await;
    assert_eq!(deleted["topic"], topic.as_str());
    admin(&f.ns, &["topicRoute", "-t", &topic])
        .await
        .fails_with(&format!("topic {topic} does not exist"));
    let list = json(&f.ns, &["topicList"]).await;
    assert!(!list
        .as_array()
        .expect("list")
        .contains(&Value::from(topic.clone())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_list_broker_status_and_config_describe_the_broker() {
    let f = setup().await;
    let addr = f.broker.broker_addr();
    let rows = json(&f.ns, &["clusterList"]).await;
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["cluster"], CLUSTER);
    assert_eq!(rows[0]["brokerId"], 0);
    assert_eq!(rows[0]["addr"], addr.as_str());
    assert!(
        rows[0]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("rmq")),
        "{rows}"
    );
    let text = admin(&f.ns, &["clusterList"]).await.ok().stdout;
    assert!(text.starts_with("#Cluster Name"), "{text}");
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(CLUSTER) && l.contains(&addr)),
        "{text}"
    );

    let put_total = |v: &Value| -> i64 {
        v[addr.as_str()]["msgPutTotalTodayNow"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("a count")
    };
    let before = json(&f.ns, &["brokerStatus", "-b", &addr]).await;
    assert_eq!(before[addr.as_str()]["brokerName"], f.broker_name.as_str());
    let topic = f.topic(1).await;
    f.send(&topic, 0, "counted", &[]).await;
    let after = json(&f.ns, &["brokerStatus", "-c", CLUSTER]).await;
    assert_eq!(
        after
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec![addr.clone()])
    );
    assert_eq!(put_total(&after), put_total(&before) + 1);
    let text = admin(&f.ns, &["brokerStatus", "-b", &addr])
        .await
        .ok()
        .stdout;
    assert!(
        text.lines()
            .any(|l| l.starts_with("brokerName:") && l.ends_with(&f.broker_name)),
        "{text}"
    );

    let conf = json(&f.ns, &["getBrokerConfig", "-b", &addr]).await;
    assert_eq!(conf[addr.as_str()]["brokerClusterName"], CLUSTER);
    assert_eq!(conf[addr.as_str()]["namesrvAddr"], f.ns.as_str());
    let conf_c = json(&f.ns, &["getBrokerConfig", "-c", CLUSTER]).await;
    assert_eq!(conf, conf_c);

    admin(&f.ns, &["brokerStatus", "-c", "NoSuchCluster"])
        .await
        .fails_with("NoSuchCluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_sent_found_by_id_key_and_offset_printed_and_consumed() {
    let f = setup().await;
    let topic = f.topic(2).await;
    let key = unique("order");
    let keys = format!("{key} other-key");
    let tagged = f
        .send(&topic, 0, "first body", &["-k", &keys, "-c", "TagA"])
        .await;
    for (queue, body) in [(0, "second"), (1, "third")] {
        f.send(&topic, queue, body, &["-c", "TagB"]).await;
    }

    // By id: every field, properties and body.
    let id = tagged["offsetMsgId"].as_str().expect("offset msg id");
    let m = json(&f.ns, &["queryMsgById", "-i", id]).await;
    assert_eq!(m["topic"], topic.as_str());
    assert_eq!(m["body"], "first body");
    assert_eq!(m["keys"], keys.as_str());
    assert_eq!(m["tags"], "TagA");
    assert_eq!(m["msgId"], tagged["msgId"]);
    assert_eq!(m["queueId"], 0);
    assert_eq!(m["queueOffset"], 0);
    assert_eq!(m["properties"]["TAGS"], "TagA");
    assert_eq!(m["storeHost"], f.broker.broker_addr().as_str());
    let text = admin(&f.ns, &["queryMsgById", "-i", id]).await.ok().stdout;
    assert!(
        text.lines()
            .any(|l| l.starts_with("Message Body:") && l.ends_with("first body")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("Topic:") && l.ends_with(&topic)),
        "{text}"
    );

    // By key: the index is written behind the store, so poll.
    let found = eventually("queryMsgByKey finds the message", || async {
        let run = admin(
            &f.ns,
            &["--json", "queryMsgByKey", "-t", &topic, "-k", &key],
        )
        .await;
        let v = run.json();
        Ok((v.as_array().is_some_and(|a| !a.is_empty())).then_some(v))
    })
    .await;
    assert_eq!(bodies(&found), vec!["first body"]);
    assert_eq!(found[0]["msgId"], tagged["msgId"]);
    let none = json(&f.ns, &["queryMsgByKey", "-t", &topic, "-k", "no-such-key"]).await;
    assert_eq!(none, serde_json::json!([]));

    // By offset.
    let m = json(
        &f.ns,
        &[
            "queryMsgByOffset",
            "-t",
            &topic,
            "-b",
            &f.broker_name,
            "-i",
            "0",
            "-o",
            "1",
        ],
    )
    .await;
    assert_eq!(m["body"], "second");
    admin(
        &f.ns,
        &[
            "queryMsgByOffset",
            "-t",
            &topic,
            "-b",
            &f.broker_name,
            "-i",
            "0",
            "-o",
            "7",
        ],
    )
    .await
    .fails_with("no message at offset 7");

    // printMsg: every queue in order, filtered by tag, or from a point in time.
    let all = json(&f.ns, &["printMsg", "-t", &topic]).await;
    assert_eq!(bodies(&all), vec!["first body", "second", "third"]);
    assert_eq!(all[2]["brokerName"], f.broker_name.as_str());
    let b = json(&f.ns, &["printMsg", "-t", &topic, "-s", "TagB"]).await;
    assert_eq!(bodies(&b), vec!["second", "third"]);
    let cut = now_ms() + 1;
    eventually("the clock passes the cut", || async {
        Ok((now_ms() > cut).then_some(()))
    })
    .await;
    f.send(&topic, 1, "late", &[]).await;
    let late = json(&f.ns, &["printMsg", "-t", &topic, "-b", &cut.to_string()]).await;
    assert_eq!(bodies(&late), vec!["late"]);
    let early = json(&f.ns, &["printMsg", "-t", &topic, "-e", &cut.to_string()]).await;
    assert_eq!(bodies(&early), vec!["first body", "second", "third"]);
    let text = admin(&f.ns, &["printMsg", "-t", &topic, "-d", "false"])
        .await
        .ok()
        .stdout;
    assert!(
        text.starts_with("#Broker Name") && !text.contains("#Body"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 5, "{text}");

    // consumeMessage: pulls from the start (or from -o in one queue), commits nothing.
    let group = unique("cli_consume");
    let two = json(
        &f.ns,
        &["consumeMessage", "-t", &topic, "-g", &group, "-c", "2"],
    )
    .await;
    assert_eq!(bodies(&two), vec!["first body", "second"]);
    let q1 = json(
        &f.ns,
        &[
            "consumeMessage",
            "-t",
            &topic,
            "-b",
            &f.broker_name,
            "-i",
            "1",
            "-o",
            "1",
        ],
    )
    .await;
    assert_eq!(bodies(&q1), vec!["late"]);
    let text = admin(&f.ns, &["consumeMessage", "-t", &topic, "-c", "1"])
        .await
        .ok()
        .stdout;
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.ends_with("first body")),
        "{text}"
    );
    let progress = json(&f.ns, &["consumerProgress", "-g", &group, "-t", &topic]).await;
    assert_eq!(
        progress["totalLag"], 4,
        "consumeMessage committed nothing: {progress}"
    );
}

/// More messages than one pull returns (32): reading goes on batch after batch, and the limits hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_queues_are_read_in_several_pulls() {
    let f = setup().await;
    let topic = f.topic(1).await;
    let mut opts = ProducerOptions::new(unique("cli_pg"), f.ns.clone());
    opts.client.instance_name = unique("cli_producer");
    let producer = Producer::start(opts).await.expect("producer");
    let queue = MessageQueue {
        topic: topic.clone(),
        broker_name: f.broker_name.clone(),
        queue_id: 0,
    };
    let sent: Vec<String> = (0..75).map(|i| format!("bulk-{i:03}")).collect();
    for body in &sent {
        producer
            .send_to_queue(Message::new(&topic, body.clone()), &queue)
            .await
            .expect("send");
    }
    producer.shutdown().await;
    assert_eq!(
        bodies(&json(&f.ns, &["printMsg", "-t", &topic]).await),
        sent
    );
    assert_eq!(
        bodies(&json(&f.ns, &["printMsg", "-t", &topic, "--max-count", "40"]).await),
        sent[..40]
    );
    assert_eq!(
        bodies(&json(&f.ns, &["consumeMessage", "-t", &topic, "-c", "70"]).await),
        sent[..70]
    );
    assert_eq!(
        bodies(
            &json(
                &f.ns,
                &[
                    "consumeMessage",
                    "-t",
                    &topic,
                    "-b",
                    &f.broker_name,
                    "-i",
                    "0",
                    "-o",
                    "30"
                ]
            )
            .await
        ),
        sent[30..]
    );
}

/// Deliveries a push consumer saw, by body.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, body: String) {
        self.0.lock().expect("not poisoned").push(body);
    }

    fn count(&self, body: &str) -> usize {
        let seen = self.0.lock().expect("not poisoned");
        seen.iter().filter(|b| *b == body).count()
    }

    fn len(&self) -> usize {
        self.0.lock().expect("not poisoned").len()
    }
}

async fn push_consumer(
    ns: &str,
    group: &str,
    topic: &str,
    seen: Seen,
    outcome: fn(&MessageExt) -> ConsumeOutcome,
) -> PushConsumer {
    let mut opts = PushConsumerOptions::new(group, ns).subscribe(topic, MessageSelector::all());
    opts.consume_from_where = ConsumeFromWhere::FirstOffset;
    opts.client.instance_name = unique("cli_consumer");
    opts.client.persist_offset_interval = Duration::from_millis(200);
    PushConsumer::start(opts, move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
        let seen = seen.clone();
        async move {
            let mut result = ConsumeOutcome::Success;
            for m in &msgs {
                seen.push(String::from_utf8_lossy(&m.body).into_owned());
                result = outcome(m);
            }
            result
        }
    })
    .await
    .expect("consumer starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_groups_progress_connections_resets_and_deletion() {
    let f = setup().await;
    let topic = f.topic(2).await;
    let group = unique("cli_group");

    let created = json(
        &f.ns,
        &[
            "updateSubGroup",
            "-g",
            &group,
            "-c",
            CLUSTER,
            "-r",
            "3",
            "-q",
            "2",
            "-d",
            "true",
        ],
    )
    .await;
    assert_eq!(
        created["brokers"],
        serde_json::json!([f.broker.broker_addr()])
    );
    assert_eq!(created["config"]["groupName"], group.as_str());
    assert_eq!(created["config"]["retryMaxTimes"], 3);
    assert_eq!(created["config"]["retryQueueNums"], 2);
    assert_eq!(created["config"]["consumeBroadcastEnable"], true);
    assert_eq!(
        created["config"]["consumeFromMinEnable"], false,
        "mqadmin's default"
    );
    assert_eq!(created["config"]["consumeEnable"], true);

    for i in 0..10 {
        f.send(&topic, i % 2, &format!("m{i}"), &[]).await;
    }
    let before = json(&f.ns, &["consumerProgress", "-g", &group, "-t", &topic]).await;
    assert_eq!(before["totalLag"], 10, "{before}");
    admin(&f.ns, &["consumerConnection", "-g", &group])
        .await
        .fails_with(&format!("consumer group {group} has no consumer online"));

    // A consumer catches up: lag goes to 0.
    let seen = Seen::default();
    let consumer = push_consumer(&f.ns, &group, &topic, seen.clone(), |_| {
        ConsumeOutcome::Success
    })
    .await;
    let progress = eventually("lag reaches 0", || async {
        let p = json(&f.ns, &["consumerProgress", "-g", &group, "-t", &topic]).await;
        Ok((p["totalLag"] == 0).then_some(p))
    })
    .await;
    for q in progress["topics"][0]["queues"].as_array().expect("queues") {
        assert_eq!(q["consumerOffset"], q["brokerOffset"], "{q}");
        assert_eq!(q["brokerOffset"], 5, "{q}");
        assert_eq!(q["lag"], 0);
    }
    assert_eq!(seen.len(), 10);
    let text = admin(&f.ns, &["consumerProgress", "-g", &group])
        .await
        .ok()
        .stdout;
    assert!(text.starts_with("#Topic"), "{text}");
    assert!(text.lines().any(|l| l.starts_with(&topic)), "{text}");
    assert!(text.ends_with("Diff Total: 0\n"), "{text}");
    let all = json(&f.ns, &["consumerProgress", "-g", &group]).await;
    assert!(
        all["topics"]
            .as_array()
            .expect("topics")
            .iter()
            .any(|t| t["topic"] == topic.as_str() && t["totalLag"] == 0),
        "{all}"
    );

    // Who is online.
    let conns = json(&f.ns, &["consumerConnection", "-g", &group]).await;
    let client_id = consumer.options().client.client_id();
    let ids: Vec<&str> = conns["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .filter_map(|c| c["clientId"].as_str())
        .collect();
    assert_eq!(ids, vec![client_id.as_str()]);
    assert!(
        conns["connections"][0]["version"].as_i64().is_some(),
        "{conns}"
    );
    assert!(
        conns["subscriptions"]
            .as_array()
            .expect("subscriptions")
            .iter()
            .any(|s| s["topic"] == topic.as_str() && s["subExpression"] == "*"),
        "{conns}"
    );
    assert_eq!(conns["messageModel"], "CLUSTERING");
    let text = admin(&f.ns, &["consumerConnection", "-g", &group])
        .await
        .ok()
        .stdout;
    assert!(
        text.starts_with("#ClientId") && text.contains(&client_id),
        "{text}"
    );
    assert!(text.contains("Below is subscription:"), "{text}");

    // A reset to the beginning makes the running group consume everything again.
    let reset = json(
        &f.ns,
        &["resetOffsetByTime", "-g", &group, "-t", &topic, "-s", "0"],
    )
    .await;
    assert_eq!(reset["mode"], "running", "{reset}");
    let rows: Vec<(i64, i64)> = reset["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .map(|q| {
            (
                q["oldOffset"].as_i64().unwrap_or(-1),
                q["newOffset"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(rows, vec![(5, 0), (5, 0)]);
    eventually("every message delivered again", || async {
        Ok((0..10)
            .all(|i| seen.count(&format!("m{i}")) >= 2)
            .then_some(()))
    })
    .await;
    // And `now` moves it to the end again (forward: force is on by default).
    eventually("lag back to 0", || async {
        let p = json(&f.ns, &["consumerProgress", "-g", &group, "-t", &topic]).await;
        Ok((p["totalLag"] == 0).then_some(()))
    })
    .await;
    let text = admin(
        &f.ns,
        &["resetOffsetByTime", "-g", &group, "-t", &topic, "-s", "now"],
    )
    .await
    .ok()
    .stdout;
    assert!(
        text.contains("#Old Offset") && text.contains("#New Offset"),
        "{text}"
    );
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows.iter().all(|r| r[2..] == ["5", "5"]), "{text}");

    consumer.shutdown().await;
    admin(
        &f.ns,
        &[
            "resetOffsetByTime",
            "-g",
            &unique("nobody"),
            "-t",
            &topic,
            "-s",
            "now",
        ],
    )
    .await
    .fails_with("does not exist");

    let deleted = json(
        &f.ns,
        &["deleteSubGroup", "-g", &group, "-c", CLUSTER, "-r", "true"],
    )
    .await;
    assert_eq!(
        deleted["brokers"],
        serde_json::json!([f.broker.broker_addr()])
    );
    let p = json(&f.ns, &["consumerProgress", "-g", &group, "-t", &topic]).await;
    assert_eq!(p["totalLag"], 10, "offsets removed with the group: {p}");
    admin(
        &f.ns,
        &["deleteSubGroup", "-g", &unique("never"), "-c", CLUSTER],
    )
    .await
    .fails_with("does not exist");
    admin(&f.ns, &["consumerProgress", "-g", &unique("never")])
        .await
        .fails_with("does not exist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_resent_to_their_original_topic() {
    let f = setup().await;
    let topic = f.topic(1).await;
    let group = unique("cli_dlq");
    let seen = Seen::default();
    let consumer = push_consumer(&f.ns, &group, &topic, seen.clone(), |m| {
        if &m.body[..] == b"poison" {
            ConsumeOutcome::DEAD_LETTER
        } else {
            ConsumeOutcome::Success
        }
    })
    .await;
    assert_eq!(
        json(&f.ns, &["dlqList", "-g", &group]).await,
        serde_json::json!([])
    );

    let key = unique("poison-key");
    let sent = f.send(&topic, 0, "poison", &["-k", &key]).await;
    f.send(&topic, 0, "fine", &[]).await;
    let letters = eventually("the poison message is dead-lettered", || async {
        let l = json(&f.ns, &["dlqList", "-g", &group]).await;
        Ok((l.as_array().is_some_and(|a| a.len() == 1)).then_some(l))
    })
    .await;
    let letter = &letters[0];
    assert_eq!(letter["originalTopic"], topic.as_str());
    assert_eq!(letter["keys"], key.as_str());
    assert_eq!(
        letter["msgId"], sent["msgId"],
        "the dead letter keeps the client's msg id"
    );
    assert_eq!(letter["body"], "poison");
    assert!(
        letter["storeTimestamp"].as_i64().is_some_and(|t| t > 0),
        "{letter}"
    );
    assert!(letter["reconsumeTimes"].as_i64().is_some(), "{letter}");
    let text = admin(&f.ns, &["dlqList", "-g", &group]).await.ok().stdout;
    assert!(text.starts_with("#Offset Msg ID"), "{text}");
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.contains(&topic) && l.contains(&key)),
        "{text}"
    );
    assert_eq!(seen.count("poison"), 1);

    // Resent, it arrives on the original topic (and, still poison, goes back to the DLQ).
    let dlq_id = letter["offsetMsgId"].as_str().expect("id");
    let resent = json(&f.ns, &["dlqResend", "-g", &group, "-i", dlq_id]).await;
    assert_eq!(resent[0]["topic"], topic.as_str());
    assert_eq!(resent[0]["dlqOffsetMsgId"], dlq_id);
    assert_eq!(
        resent[0]["queueOffset"], 2,
        "after poison and fine on the one queue"
    );
    let stored = json(
        &f.ns,
        &[
            "queryMsgById",
            "-i",
            resent[0]["offsetMsgId"].as_str().expect("id"),
        ],
    )
    .await;
    assert_eq!(stored["topic"], topic.as_str());
    assert_eq!(stored["body"], "poison");
    eventually("the resent message is delivered", || async {
        Ok((seen.count("poison") == 2).then_some(()))
    })
    .await;
    eventually("dead-lettered again", || async {
        let l = json(&f.ns, &["dlqList", "-g", &group]).await;
        Ok((l.as_array().is_some_and(|a| a.len() == 2)).then_some(()))
    })
    .await;
    let text = admin(&f.ns, &["dlqResend", "-g", &group, "--all"])
        .await
        .ok()
        .stdout;
    assert!(text.starts_with("#DLQ Offset Msg ID"), "{text}");
    assert_eq!(text.lines().count(), 3, "both dead letters resent: {text}");
    eventually("both resent messages are delivered", || async {
        Ok((seen.count("poison") == 4).then_some(()))
    })
    .await;
    assert_eq!(seen.count("fine"), 1);

    admin(
        &f.ns,
        &[
            "dlqResend",
            "-g",
            &group,
            "-i",
            sent["offsetMsgId"].as_str().expect("id"),
        ],
    )
    .await
    .fails_with("not a dead letter");
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_one_line_with_exit_code_1() {
    // A port nothing listens on: bind, note the port, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    for args in [
        vec!["topicList"],
        vec!["topicStatus", "-t", "AnyTopic"],
        vec!["sendMessage", "-t", "AnyTopic", "-p", "x"],
        vec!["--json", "clusterList"],
    ] {
        let run = admin(&dead, &args).await;
        run.fails_with(&format!("cannot reach name server {dead}"));
    }

    let f = setup().await;
    let missing = unique("NoSuchTopic");
    for args in [
        vec!["topicStatus", "-t", missing.as_str()],
        vec!["--json", "topicRoute", "-t", missing.as_str()],
        vec!["printMsg", "-t", missing.as_str()],
        vec!["consumerProgress", "-g", "g", "-t", missing.as_str()],
    ] {
        admin(&f.ns, &args)
            .await
            .fails_with(&format!("topic {missing} does not exist"));
    }

    // Bad arguments: also exit 1 and one line.
    admin(&f.ns, &["updateTopic", "-t", "T"])
        .await
        .fails_with("--clusterName");
    admin(&f.ns, &["noSuchCommand"])
        .await
        .fails_with("noSuchCommand");
    admin(
        &f.ns,
        &["resetOffsetByTime", "-g", "g", "-t", "T", "-s", "yesterday"],
    )
    .await
    .fails_with("yyyy-MM-dd#HH:mm:ss:SSS");
    admin(&f.ns, &["queryMsgById", "-i", "not-an-id"])
        .await
        .fails_with("not an offset message id");
    run_with(&["-n", "nohost", "topicList"], None)
        .await
        .fails_with("nohost");

    // help works per command; NAMESRV_ADDR is the default name server.
    let help = run_with(&["help", "updateTopic"], None).await.ok().stdout;
    assert!(
        help.contains("-t, --topic") && help.contains("--clusterName"),
        "{help}"
    );
    let topic = f.topic(1).await;
    let list = run_with(&["--json", "topicList"], Some(&f.ns))
        .await
        .ok()
        .json();
    let topics: BTreeSet<String> = serde_json::from_value(list).expect("names");
    assert!(topics.contains(&topic), "{topics:?}");
}
