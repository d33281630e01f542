//! Admin requests over TCP: GET_TOPIC_STATS_INFO (202), GET_CONSUMER_CONNECTION_LIST (203),
//! GET_CONSUME_STATS (208) and INVOKE_BROKER_TO_RESET_OFFSET (222) with the RESET_CONSUMER_CLIENT_OFFSET (220)
//! push to an online consumer.
//!
//! Queue-keyed bodies are compared as text, in Java's fastjson form (`{"offsetTable":{{"brokerName":..,
//! "queueId":..,"topic":..}:{..}}}`), and decoded with rmq-protocol's types as a client would.

use std::collections::HashMap;
use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::body::{ConsumeStats, ConsumerConnection, ResetOffsetBody, TopicStatsTable};
use rmq_protocol::RemotingCommand;
use rmq_tests::client::{now_ms, rc, OutMessage};
use rmq_tests::record::Record;
use rmq_tests::{eventually, unique, RawClient};

const GET_TOPIC_STATS_INFO: i32 = 202;
const GET_CONSUMER_CONNECTION_LIST: i32 = 203;
const GET_CONSUME_STATS: i32 = 208;
const RESET_CONSUMER_CLIENT_OFFSET: i32 = 220;
const INVOKE_BROKER_TO_RESET_OFFSET: i32 = 222;
const CONSUMER_NOT_ONLINE: i32 = 206;
const SUBSCRIPTION_GROUP_NOT_EXIST: i32 = 26;
/// How long a broker → client push may take to arrive.
const PUSH_WAIT: Duration = Duration::from_secs(10);

fn ext(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn call(c: &RawClient, code: i32, pairs: &[(&str, &str)]) -> RemotingCommand {
    c.request(RemotingCommand::request(code, ext(pairs)))
        .await
        .expect("response")
}

/// Sends `bodies` to `topic`/`queue` and returns the stored records, read back in order.
async fn fill(c: &RawClient, topic: &str, queue: i32, bodies: &[&str]) -> Vec<Record> {
    for b in bodies {
        c.send(&OutMessage::new(topic, b.as_bytes()).queue(queue))
            .await
            .expect("send")
            .ok()
            .expect("stored");
    }
    c.pull_all(&unique("reader"), topic, queue, 0)
        .await
        .expect("read back")
}

/// `{"brokerName":..,"queueId":..,"topic":..}`: a queue key as Java writes it.
fn key(broker: &str, topic: &str, q: i32) -> String {
    format!(r#"{{"brokerName":"{broker}","queueId":{q},"topic":"{topic}"}}"#)
}

fn text(body: &[u8]) -> String {
    String::from_utf8(body.to_vec()).expect("UTF-8 body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_stats_list_every_queue_with_its_offsets_and_last_store_time() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let name = broker.broker().config().broker_name.clone();
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("Stats");
    assert_eq!(c.create_topic(&topic, 3).await.expect("create").code, 0);
    let q0 = fill(&c, &topic, 0, &["a", "b", "c"]).await;
    let q1 = fill(&c, &topic, 1, &["d"]).await;

    let resp = call(&c, GET_TOPIC_STATS_INFO, &[("topic", &topic)]).await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    let want = format!(
        r#"{{"offsetTable":{{{}:{{"lastUpdateTimestamp":{},"maxOffset":3,"minOffset":0}},{}:{{"lastUpdateTimestamp":{},"maxOffset":1,"minOffset":0}},{}:{{"lastUpdateTimestamp":0,"maxOffset":0,"minOffset":0}}}}}}"#,
        key(&name, &topic, 0),
        q0[2].store_timestamp,
        key(&name, &topic, 1),
        q1[0].store_timestamp,
        key(&name, &topic, 2),
    );
    assert_eq!(text(&resp.body), want);
    let table = TopicStatsTable::from_json(&resp.body).expect("client decodes it");
    assert_eq!(table.offset_table.len(), 3);

    let missing = unique("NoSuchTopic");
    let resp = call(&c, GET_TOPIC_STATS_INFO, &[("topic", &missing)]).await;
    assert_eq!(resp.code, rc::TOPIC_NOT_EXIST);
    assert_eq!(
        resp.remark.as_deref(),
        Some(format!("topic[{missing}] not exist").as_str())
    );
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_stats_report_lag_per_queue_for_one_or_all_subscribed_topics() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let name = broker.broker().config().broker_name.clone();
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let (topic, other) = (unique("Lag"), unique("LagOther"));
    let group = unique("lag_group");
    assert_eq!(c.create_topic(&topic, 2).await.expect("create").code, 0);
    assert_eq!(c.create_topic(&other, 1).await.expect("create").code, 0);
    let q0 = fill(&c, &topic, 0, &["1", "2", "3", "4", "5"]).await;
    fill(&c, &topic, 1, &["6", "7"]).await;
    fill(&c, &other, 0, &["8"]).await;
    assert_eq!(
        c.update_consumer_offset(&group, &topic, 0, 3)
            .await
            .expect("commit"),
        0
    );
    assert_eq!(
        c.update_consumer_offset(&group, &other, 0, 1)
            .await
            .expect("commit"),
        0
    );

    let resp = call(
        &c,
        GET_CONSUME_STATS,
        &[("consumerGroup", &group), ("topic", &topic)],
    )
    .await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    let want = format!(
        r#"{{"consumeTps":0.0,"offsetTable":{{{}:{{"brokerOffset":5,"consumerOffset":3,"lastTimestamp":{},"pullOffset":3}},{}:{{"brokerOffset":2,"consumerOffset":0,"lastTimestamp":0,"pullOffset":0}}}}}}"#,
        key(&name, &topic, 0),
        q0[2].store_timestamp,
        key(&name, &topic, 1),
    );
    assert_eq!(text(&resp.body), want);
    let stats = ConsumeStats::from_json(&resp.body).expect("client decodes it");
    assert_eq!(stats.total_lag(), 2 + 2);

    // No topic: every topic the group committed on, while nobody is online...
    let all = call(&c, GET_CONSUME_STATS, &[("consumerGroup", &group)]).await;
    assert_eq!(all.code, rc::SUCCESS);
    let all = ConsumeStats::from_json(&all.body).expect("decode");
    let topics: Vec<&str> = all
        .offset_table
        .keys()
        .map(|mq| mq.topic.as_str())
        .collect();
    let mut expected = vec![topic.as_str(), topic.as_str(), other.as_str()];
    expected.sort();
    assert_eq!(topics, expected);

    // ...and only the subscribed ones once the group is online.
    let consumer = RawClient::connect(&broker.broker_addr())
        .await
        .expect("consumer");
    let hb = consumer
        .heartbeat("127.0.0.1@lag", &group, &topic)
        .await
        .expect("heartbeat");
    assert_eq!(hb.code, 0);
    let online = call(&c, GET_CONSUME_STATS, &[("consumerGroup", &group)]).await;
    assert_eq!(text(&online.body), want);

    let unknown = call(
        &c,
        GET_CONSUME_STATS,
        &[("consumerGroup", &unique("nobody"))],
    )
    .await;
    assert_eq!(unknown.code, rc::SUCCESS);
    assert_eq!(
        text(&unknown.body),
        r#"{"consumeTps":0.0,"offsetTable":{}}"#
    );
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_connection_list_names_the_online_clients_of_a_group() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let admin = RawClient::connect(&broker.broker_addr())
        .await
        .expect("admin");
    let consumer = RawClient::connect(&broker.broker_addr())
        .await
        .expect("consumer");
    let (topic, group) = (unique("Conn"), unique("conn_group"));
    let client_id = "127.0.0.1@conn-1";
    assert_eq!(
        consumer
            .heartbeat(client_id, &group, &topic)
            .await
            .expect("heartbeat")
            .code,
        0
    );

    let resp = call(
        &admin,
        GET_CONSUMER_CONNECTION_LIST,
        &[("consumerGroup", &group)],
    )
    .await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    let v: serde_json::Value = serde_json::from_slice(&resp.body).expect("standard JSON");
    let conns = v["connectionSet"].as_array().expect("connectionSet");
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0]["clientId"], client_id);
    assert_eq!(conns[0]["language"], "RUST");
    assert_eq!(conns[0]["version"], rmq_protocol::command::CURRENT_VERSION);
    let addr = conns[0]["clientAddr"].as_str().expect("clientAddr");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_eq!(v["consumeType"], "CONSUME_PASSIVELY");
    assert_eq!(v["messageModel"], "CLUSTERING");
    assert_eq!(v["consumeFromWhere"], "CONSUME_FROM_FIRST_OFFSET");
    assert_eq!(v["subscriptionTable"][topic.as_str()]["subString"], "*");
    let typed: ConsumerConnection = rmq_protocol::body::from_json(&resp.body).expect("typed");
    assert_eq!(typed.connection_set.len(), 1);

    let nobody = unique("nobody");
    let resp = call(
        &admin,
        GET_CONSUMER_CONNECTION_LIST,
        &[("consumerGroup", &nobody)],
    )
    .await;
    assert_eq!(resp.code, CONSUMER_NOT_ONLINE);
    assert_eq!(
        resp.remark.as_deref(),
        Some(format!("the consumer group[{nobody}] not online").as_str())
    );

    // The consumer leaves: the group is offline again.
    drop(consumer);
    eventually(PUSH_WAIT, "group offline after disconnect", || async {
        let r = call(
            &admin,
            GET_CONSUMER_CONNECTION_LIST,
            &[("consumerGroup", &group)],
        )
        .await;
        Ok((r.code == CONSUMER_NOT_ONLINE).then_some(()))
    })
    .await
    .expect("offline");
    broker.shutdown().await.expect("shutdown");
}

fn reset_args<'a>(
    topic: &'a str,
    group: &'a str,
    timestamp: &'a str,
    force: &'a str,
) -> [(&'a str, &'a str); 4] {
    [
        ("topic", topic),
        ("group", group),
        ("timestamp", timestamp),
        ("isForce", force),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_by_time_commits_offsets_and_tells_the_online_consumer() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let name = broker.broker().config().broker_name.clone();
    let admin = RawClient::connect(&broker.broker_addr())
        .await
        .expect("admin");
    let consumer = RawClient::connect(&broker.broker_addr())
        .await
        .expect("consumer");
    let (topic, group) = (unique("Reset"), unique("reset_group"));
    assert_eq!(admin.create_topic(&topic, 2).await.expect("create").code, 0);
    let q0 = fill(&admin, &topic, 0, &["a", "b", "c"]).await;
    assert_eq!(
        consumer
            .heartbeat("127.0.0.1@reset-1", &group, &topic)
            .await
            .expect("heartbeat")
            .code,
        0
    );
    for (q, offset) in [(0, 3), (1, 0)] {
        assert_eq!(
            consumer
                .update_consumer_offset(&group, &topic, q, offset)
                .await
                .expect("commit"),
            0
        );
    }

    // Back to the time of the last message: queue 0 moves back to the first message stored at or after it;
    // queue 1 (empty, committed 0) stays.
    let at = q0[2].store_timestamp;
    let want0 = q0
        .iter()
        .position(|r| r.store_timestamp >= at)
        .expect("a record at or after") as i64;
    let at_s = at.to_string();
    let resp = call(
        &admin,
        INVOKE_BROKER_TO_RESET_OFFSET,
        &reset_args(&topic, &group, &at_s, "false"),
    )
    .await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    let want = format!(
        r#"{{"offsetTable":{{{}:{want0},{}:0}}}}"#,
        key(&name, &topic, 0),
        key(&name, &topic, 1)
    );
    assert_eq!(text(&resp.body), want);

    let push = consumer
        .next_server_request_with_code(RESET_CONSUMER_CLIENT_OFFSET, PUSH_WAIT)
        .await
        .expect("RESET_CONSUMER_CLIENT_OFFSET pushed to the consumer");
    assert!(push.is_oneway(), "sent oneway, as Java's Broker2Client");
    assert_eq!(push.ext_fields["topic"], topic);
    assert_eq!(push.ext_fields["group"], group);
    assert_eq!(push.ext_fields["timestamp"], at_s);
    assert_eq!(push.ext_fields["isForce"], "false");
    assert_eq!(text(&push.body), want);
    let body = ResetOffsetBody::from_json(&push.body).expect("client decodes it");
    assert_eq!(
        body.offset_table.values().copied().collect::<Vec<_>>(),
        vec![want0, 0]
    );
    assert_eq!(
        consumer
            .query_consumer_offset(&group, &topic, 0)
            .await
            .expect("query"),
        (rc::SUCCESS, want0),
        "the broker committed the reset itself"
    );

    // Not forced, a later time does not move queue 0 forward...
    let later = (now_ms() + 3_600_000).to_string();
    let resp = call(
        &admin,
        INVOKE_BROKER_TO_RESET_OFFSET,
        &reset_args(&topic, &group, &later, "false"),
    )
    .await;
    assert_eq!(resp.code, rc::SUCCESS);
    let body = ResetOffsetBody::from_json(&resp.body).expect("decode");
    assert_eq!(
        body.offset_table.values().copied().collect::<Vec<_>>(),
        vec![want0, 0]
    );

    // ...forced it does; timestamp -1 means each queue's max offset.
    let resp = call(
        &admin,
        INVOKE_BROKER_TO_RESET_OFFSET,
        &reset_args(&topic, &group, "-1", "true"),
    )
    .await;
    assert_eq!(resp.code, rc::SUCCESS);
    let body = ResetOffsetBody::from_json(&resp.body).expect("decode");
    assert_eq!(
        body.offset_table.values().copied().collect::<Vec<_>>(),
        vec![3, 0]
    );
    let forced = consumer
        .next_server_request_with_code(RESET_CONSUMER_CLIENT_OFFSET, PUSH_WAIT)
        .await
        .expect("second push (the not-forced reset)");
    assert_eq!(forced.ext_fields["timestamp"], later);
    let forced = consumer
        .next_server_request_with_code(RESET_CONSUMER_CLIENT_OFFSET, PUSH_WAIT)
        .await
        .expect("third push (the forced reset)");
    assert_eq!(forced.ext_fields["isForce"], "true");
    assert_eq!(
        consumer
            .query_consumer_offset(&group, &topic, 0)
            .await
            .expect("query")
            .1,
        3
    );
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_one_queue_to_an_exact_offset_and_refusals() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let name = broker.broker().config().broker_name.clone();
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let (topic, group) = (unique("ResetQ"), unique("resetq_group"));
    assert_eq!(c.create_topic(&topic, 2).await.expect("create").code, 0);
    fill(&c, &topic, 1, &["a", "b", "c", "d"]).await;
    assert_eq!(
        c.update_consumer_offset(&group, &topic, 1, 4)
            .await
            .expect("commit"),
        0
    );

    // 5.x header: one queue, an exact offset; nobody online, so nobody is told, but the offset is committed.
    let mut args = reset_args(&topic, &group, "0", "false").to_vec();
    args.extend([("queueId", "1"), ("offset", "1")]);
    let resp = call(&c, INVOKE_BROKER_TO_RESET_OFFSET, &args).await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    assert_eq!(
        text(&resp.body),
        format!(r#"{{"offsetTable":{{{}:1}}}}"#, key(&name, &topic, 1))
    );
    assert_eq!(
        c.query_consumer_offset(&group, &topic, 1).await.expect("q"),
        (rc::SUCCESS, 1)
    );

    let mut beyond = reset_args(&topic, &group, "0", "false").to_vec();
    beyond.extend([("queueId", "1"), ("offset", "9")]);
    let resp = call(&c, INVOKE_BROKER_TO_RESET_OFFSET, &beyond).await;
    assert_eq!(resp.code, rc::SYSTEM_ERROR);
    assert_eq!(
        resp.remark.as_deref(),
        Some("Target offset 9 not in consume queue range [0-4]")
    );

    let missing = unique("NoTopic");
    let resp = call(
        &c,
        INVOKE_BROKER_TO_RESET_OFFSET,
        &reset_args(&missing, &group, "0", "false"),
    )
    .await;
    assert_eq!(resp.code, rc::TOPIC_NOT_EXIST);
    assert_eq!(
        resp.remark.as_deref(),
        Some(format!("Topic {missing} does not exist").as_str())
    );

    let stranger = unique("stranger");
    let resp = call(
        &c,
        INVOKE_BROKER_TO_RESET_OFFSET,
        &reset_args(&topic, &stranger, "0", "false"),
    )
    .await;
    assert_eq!(resp.code, SUBSCRIPTION_GROUP_NOT_EXIST);
    assert_eq!(
        resp.remark.as_deref(),
        Some(format!("Group {stranger} does not exist").as_str())
    );
    broker.shutdown().await.expect("shutdown");
}
