//! Name-server tests: several brokers on one name server, one broker on several name servers, the
//! cluster-info / topic-list admin requests, and brokers leaving routes when they freeze or die.

use std::collections::BTreeSet;
use std::time::Duration;

use rmq_broker::config::NamesrvConfig;
use rmq_broker::embedded::{EmbeddedBroker, EmbeddedNamesrv};
use rmq_protocol::RemotingCommand;
use rmq_tests::client::{code, parse_json_lenient, rc, OutMessage};
use rmq_tests::process::BrokerProcess;
use rmq_tests::{eventually, unique, RawClient};
use serde_json::Value;

/// How long registration (at start and after a topic change) may take to show up.
const REGISTER: Duration = Duration::from_secs(15);

/// Broker names in a route's `brokerDatas`, and `brokerName → master address`.
fn route_brokers(route: &Value) -> BTreeSet<(String, String)> {
    route["brokerDatas"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|b| {
                    (
                        b["brokerName"].as_str().unwrap_or_default().to_owned(),
                        b["brokerAddrs"]["0"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn queue_brokers(route: &Value) -> BTreeSet<String> {
    route["queueDatas"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|q| q["brokerName"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn json_request(c: &RawClient, request_code: i32) -> anyhow::Result<Value> {
    let resp = c
        .request(RemotingCommand::request(request_code, Default::default()))
        .await?;
    anyhow::ensure!(
        resp.code == rc::SUCCESS,
        "code {} {:?}",
        resp.code,
        resp.remark
    );
    parse_json_lenient(&resp.body)
}

/// `clusterAddrTable[cluster]` as a set, and `brokerAddrTable[name].brokerAddrs["0"]`.
fn cluster_members(info: &Value, cluster: &str) -> BTreeSet<(String, String)> {
    info["clusterAddrTable"][cluster]
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str())
                .map(|n| {
                    let addr = info["brokerAddrTable"][n]["brokerAddrs"]["0"]
                        .as_str()
                        .unwrap_or_default();
                    (n.to_owned(), addr.to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn topic_list(v: &Value) -> BTreeSet<String> {
    v["topicList"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_brokers_on_one_name_server() {
    let cluster = unique("Cluster");
    let b1 = EmbeddedBroker::builder()
        .property("brokerName", "b1")
        .property("brokerClusterName", &cluster)
        .start()
        .await
        .expect("start broker b1 with its name server");
    let b2 = EmbeddedBroker::builder()
        .namesrv_addrs(b1.namesrv_addr())
        .property("brokerName", "b2")
        .property("brokerClusterName", &cluster)
        .start()
        .await
        .expect("start broker b2 on b1's name server");
    assert_eq!(b2.namesrv_addr(), b1.namesrv_addr());

    let topic = unique("SharedTopic");
    for b in [&b1, &b2] {
        let c = RawClient::connect(&b.broker_addr())
            .await
            .expect("connect broker");
        let r = c.create_topic(&topic, 2).await.expect("create topic");
        assert_eq!(r.code, rc::SUCCESS, "{:?}", r.remark);
    }
    let ns = RawClient::connect(&b1.namesrv_addr())
        .await
        .expect("connect name server");
    let both = BTreeSet::from([
        ("b1".to_owned(), b1.broker_addr()),
        ("b2".to_owned(), b2.broker_addr()),
    ]);

    let route = eventually(REGISTER, "route lists both brokers", || async {
        Ok(ns
            .route_json(&topic)
            .await?
            .filter(|r| route_brokers(r) == both))
    })
    .await
    .expect("route of a topic on two brokers");
    assert_eq!(
        queue_brokers(&route),
        BTreeSet::from(["b1".to_owned(), "b2".to_owned()]),
        "{route}"
    );

    let info = eventually(REGISTER, "cluster info lists both brokers", || async {
        let info = json_request(&ns, code::GET_BROKER_CLUSTER_INFO).await?;
        Ok((cluster_members(&info, &cluster) == both).then_some(info))
    })
    .await
    .expect("GET_BROKER_CLUSTER_INFO");
    assert!(
        info["brokerAddrTable"]["b1"]["cluster"] == cluster.as_str(),
        "{info}"
    );

    let topics = topic_list(
        &json_request(&ns, code::GET_ALL_TOPIC_LIST_FROM_NAMESERVER)
            .await
            .expect("topic list"),
    );
    assert!(
        topics.contains(&topic),
        "topic list without {topic}: {topics:?}"
    );
    assert!(topics.contains("TBW102"), "{topics:?}");

    // A message sent to each broker through the shared route is readable on that broker.
    for b in [&b1, &b2] {
        let c = RawClient::connect(&b.broker_addr()).await.expect("connect");
        c.send(&OutMessage::new(&topic, b.broker_addr().as_bytes()))
            .await
            .expect("send")
            .ok()
            .expect("stored");
        let recs = c.pull_all("ns_reader", &topic, 0, 0).await.expect("pull");
        assert_eq!(recs.len(), 1);
    }

    // A broker that stops cleanly leaves the route.
    b2.shutdown().await.expect("stop b2");
    let only_b1 = BTreeSet::from([("b1".to_owned(), b1.broker_addr())]);
    eventually(REGISTER, "stopped broker leaves the route", || async {
        Ok(ns
            .route_json(&topic)
            .await?
            .filter(|r| route_brokers(r) == only_b1))
    })
    .await
    .expect("route after b2 stopped");
    b1.shutdown().await.expect("stop b1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_broker_on_two_name_servers() {
    let ns1 = EmbeddedNamesrv::start().await.expect("name server 1");
    let ns2 = EmbeddedNamesrv::start().await.expect("name server 2");
    let addrs = format!("{};{}", ns1.addr(), ns2.addr());
    let cluster = unique("TwoNs");
    let broker = EmbeddedBroker::builder()
        .namesrv_addrs(&addrs)
        .property("brokerName", "solo")
        .property("brokerClusterName", &cluster)
        .start()
        .await
        .expect("broker registered with two name servers");
    assert_eq!(broker.namesrv_addr(), addrs);

    let topic = unique("TwoNsTopic");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect broker");
    assert_eq!(
        c.create_topic(&topic, 4).await.expect("create").code,
        rc::SUCCESS
    );
    let me = BTreeSet::from([("solo".to_owned(), broker.broker_addr())]);
    for ns_addr in [ns1.addr(), ns2.addr()] {
        let ns = RawClient::connect(&ns_addr)
            .await
            .expect("connect name server");
        let route = eventually(REGISTER, "route on each name server", || async {
            Ok(ns
                .route_json(&topic)
                .await?
                .filter(|r| route_brokers(r) == me))
        })
        .await
        .unwrap_or_else(|e| panic!("name server {ns_addr}: {e:#}"));
        assert_eq!(route["queueDatas"][0]["writeQueueNums"], 4, "{route}");
        let info = json_request(&ns, code::GET_BROKER_CLUSTER_INFO)
            .await
            .expect("cluster info");
        assert_eq!(cluster_members(&info, &cluster), me, "{ns_addr}: {info}");
        let topics = topic_list(
            &json_request(&ns, code::GET_ALL_TOPIC_LIST_FROM_NAMESERVER)
                .await
                .expect("topics"),
        );
        assert!(topics.contains(&topic), "{ns_addr}: {topics:?}");
    }
    broker.shutdown().await.expect("stop broker");
    ns1.shutdown().await;
    ns2.shutdown().await;
}

/// A broker that stops answering (frozen with SIGSTOP: its connection stays open, its registrations stop)
/// drops out of routes when its registration expires and is back with its next registration once it
/// resumes; a broker that dies (SIGKILL) leaves at once, because its connection closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_broker_leaves_routes_at_the_expiry_and_a_killed_one_at_once() {
    // Brokers register every registerNameServerPeriod, at least 10 s (clamped as Java does); the expiry must
    // be longer, or a healthy broker would blink out between registrations.
    let period = Duration::from_secs(10);
    let expiry = Duration::from_secs(15);
    let config = NamesrvConfig {
        broker_expiry: expiry,
        scan_interval: Duration::from_millis(200),
        ..NamesrvConfig::default()
    };
    let ns = EmbeddedNamesrv::start_with(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("name server");
    let tmp = tempfile::tempdir().expect("tempdir");
    let conf = tmp.path().join("broker.conf");
    std::fs::write(
        &conf,
        format!(
            "brokerName={}\nregisterNameServerPeriod={}\n",
            unique("frozen"),
            period.as_millis()
        ),
    )
    .expect("write broker.conf");
    let conf_arg = conf.to_str().expect("utf-8 path");
    let mut broker = BrokerProcess::start_broker(
        &tmp.path().join("store"),
        &tmp.path().join("broker.log"),
        &ns.addr(),
        &["-c", conf_arg],
    )
    .await
    .expect("broker role");
    let topic = unique("FrozenTopic");
    let c = RawClient::connect(&broker.broker_addr)
        .await
        .expect("connect broker");
    assert_eq!(
        c.create_topic(&topic, 2).await.expect("create").code,
        rc::SUCCESS
    );
    let names = RawClient::connect(&ns.addr()).await.expect("connect ns");
    let routed = |want: bool| {
        let (names, topic) = (&names, &topic);
        move || async move { Ok((names.route_json(topic).await?.is_some() == want).then_some(())) }
    };
    eventually(REGISTER, "route after registration", routed(true))
        .await
        .expect("registered");

    broker.signal(libc::SIGSTOP).expect("SIGSTOP");
    let frozen_at = tokio::time::Instant::now();
    eventually(
        expiry + period + REGISTER,
        "frozen broker expires",
        routed(false),
    )
    .await
    .expect("expired");
    // Its last registration was at most one period before the freeze, so the expiry cannot come sooner.
    assert!(
        frozen_at.elapsed() >= expiry - period,
        "removed after {:?}, before its registration could expire",
        frozen_at.elapsed()
    );

    broker.signal(libc::SIGCONT).expect("SIGCONT");
    eventually(
        period + REGISTER,
        "resumed broker registers again",
        routed(true),
    )
    .await
    .expect("back");

    // It registered moments ago, so only the closed connection can remove it before the expiry.
    broker.kill().await.expect("SIGKILL");
    eventually(
        expiry - Duration::from_secs(3),
        "killed broker leaves",
        routed(false),
    )
    .await
    .expect("gone on close");
    ns.shutdown().await;
}
