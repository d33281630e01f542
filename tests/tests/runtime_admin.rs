//! rmq-runtime's `Admin` against the bundled broker over TCP: every call checked against what a `Producer`
//! sent and what the RawClient (an independent client) reads or commits.

use std::collections::BTreeMap;
use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::body::MessageQueue;
use rmq_protocol::codes::response;
use rmq_protocol::message::decode_offset_msg_id;
use rmq_runtime::admin::{SubscriptionGroupConfig, TopicSpec};
use rmq_runtime::{
    Admin, ClientConfig, ClientError, Message, Producer, ProducerOptions, SendResult,
};
use rmq_tests::client::{now_ms, rc};
use rmq_tests::schedule_support::{send_back, SendBack};
use rmq_tests::{eventually, unique, RawClient};

const CLUSTER: &str = "DefaultCluster";
const WAIT: Duration = Duration::from_secs(10);

struct Fixture {
    broker: EmbeddedBroker,
    raw: RawClient,
    admin: Admin,
    producer: Producer,
}

async fn setup() -> Fixture {
    let broker = EmbeddedBroker::start().await.expect("broker starts");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("raw client");
    let admin =
        Admin::start(ClientConfig::new(broker.namesrv_addr()).with_instance_name(unique("admin")))
            .await
            .expect("admin starts");
    let mut opts = ProducerOptions::new(unique("pg"), broker.namesrv_addr());
    opts.client.instance_name = unique("producer");
    let producer = Producer::start(opts).await.expect("producer starts");
    Fixture {
        broker,
        raw,
        admin,
        producer,
    }
}

impl Fixture {
    /// Creates `topic` with `queues` queues through the admin and waits until the name server routes it.
    async fn topic(&self, queues: i32) -> String {
        let topic = unique("AdminTopic");
        let written = self
            .admin
            .create_topic_in_cluster(CLUSTER, &TopicSpec::new(&topic, queues))
            .await
            .expect("create topic");
        assert_eq!(written, vec![self.broker.broker_addr()]);
        eventually(WAIT, "topic routed", || async {
            Ok(self.admin.topic_route(&topic).await.ok())
        })
        .await
        .expect("route");
        topic
    }

    async fn send_to(&self, topic: &str, queue_id: i32, body: &str) -> SendResult {
        let broker_name = self.broker_name().await;
        self.producer
            .send_to_queue(
                Message::new(topic, body.to_string()),
                &MessageQueue {
                    topic: topic.to_string(),
                    broker_name,
                    queue_id,
                },
            )
            .await
            .expect("send")
    }

    async fn broker_name(&self) -> String {
        let info = self.admin.cluster_info().await.expect("cluster info");
        info.cluster_addr_table[CLUSTER]
            .iter()
            .next()
            .cloned()
            .expect("one broker")
    }
}

#[tokio::test]
async fn cluster_info_runtime_info_and_config_describe_the_broker() {
    let f = setup().await;
    let info = f.admin.cluster_info().await.expect("cluster info");
    let names = &info.cluster_addr_table[CLUSTER];
    assert_eq!(names.len(), 1);
    let name = names.iter().next().expect("broker name");
    assert_eq!(
        info.broker_addr_table[name].master_addr(),
        Some(f.broker.broker_addr().as_str())
    );
    assert_eq!(
        f.admin.cluster_masters(CLUSTER).await.expect("masters"),
        vec![f.broker.broker_addr()]
    );
    let err = f.admin.cluster_masters("NoSuchCluster").await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::InvalidArgument {
                field: "cluster",
                ..
            }
        ),
        "{err}"
    );

    let topic = f.topic(1).await;
    let before = put_total(
        &f.admin
            .broker_runtime_info(&f.broker.broker_addr())
            .await
            .expect("runtime info"),
    );
    for i in 0..3 {
        f.send_to(&topic, 0, &format!("m{i}")).await;
    }
    let rt = f
        .admin
        .broker_runtime_info(&f.broker.broker_addr())
        .await
        .expect("runtime info");
    assert_eq!(put_total(&rt), before + 3, "{rt:?}");
    assert_eq!(rt["brokerName"], *name);
    assert_eq!(rt["clusterName"], CLUSTER);

    let conf = f
        .admin
        .broker_config(&f.broker.broker_addr())
        .await
        .expect("broker config");
    assert_eq!(conf["brokerClusterName"], CLUSTER);
    assert_eq!(conf["brokerName"], *name);
    assert_eq!(conf["namesrvAddr"], f.broker.namesrv_addr());
}

fn put_total(rt: &BTreeMap<String, String>) -> u64 {
    rt["msgPutTotalTodayNow"].parse().expect("a number")
}

#[tokio::test]
async fn topics_are_created_listed_routed_measured_and_deleted() {
    let f = setup().await;
    let topic = f.topic(3).await;
    assert!(f.admin.topic_list().await.expect("list").contains(&topic));
    let route = f.admin.topic_route(&topic).await.expect("route");
    assert_eq!(route.queue_datas.len(), 1);
    let qd = &route.queue_datas[0];
    assert_eq!(
        (qd.read_queue_nums, qd.write_queue_nums, qd.perm),
        (3, 3, 6)
    );

    // Updating changes the route's queue counts and permission.
    let mut spec = TopicSpec::new(&topic, 3);
    spec.perm =
        rmq_protocol::message::sysflag::perm::READ | rmq_protocol::message::sysflag::perm::WRITE;
    spec.write_queue_nums = 2;
    f.admin
        .create_topic(&f.broker.broker_addr(), &spec)
        .await
        .expect("update");
    eventually(WAIT, "route shows 2 write queues", || async {
        let r = f.admin.topic_route(&topic).await?;
        Ok((r.queue_datas[0].write_queue_nums == 2).then_some(()))
    })
    .await
    .expect("updated route");
    spec.write_queue_nums = 3;
    f.admin
        .create_topic(&f.broker.broker_addr(), &spec)
        .await
        .expect("restore");

    // Status: max offsets are what was sent per queue; last update is the last message's store time.
    let mut last = BTreeMap::new();
    for (queue, n) in [(0, 2), (1, 3)] {
        for i in 0..n {
            let r = f.send_to(&topic, queue, &format!("q{queue}-{i}")).await;
            last.insert(queue, r);
        }
    }
    let status = f.admin.topic_status(&topic).await.expect("status");
    assert_eq!(status.topic, topic);
    let got: Vec<(i32, i64, i64)> = status
        .queues
        .iter()
        .map(|q| (q.queue.queue_id, q.min_offset, q.max_offset))
        .collect();
    assert_eq!(got, vec![(0, 0, 2), (1, 0, 3), (2, 0, 0)]);
    assert_eq!(status.stored_messages(), 5);
    for q in &status.queues[..2] {
        let sent = &last[&q.queue.queue_id];
        let stored = f
            .admin
            .view_message(&sent.offset_msg_id)
            .await
            .expect("view last");
        assert_eq!(q.last_update_timestamp, Some(stored.store_timestamp));
    }
    assert_eq!(status.queues[2].last_update_timestamp, None);

    // Bad specs never leave the client.
    let err = f
        .admin
        .create_topic(&f.broker.broker_addr(), &TopicSpec::new("bad topic", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::InvalidArgument { field: "topic", .. }),
        "{err}"
    );

    f.admin.delete_topic(CLUSTER, &topic).await.expect("delete");
    let err = f.admin.topic_route(&topic).await.unwrap_err();
    assert!(matches!(err, ClientError::NoRoute { .. }), "{err}");
    assert!(!f.admin.topic_list().await.expect("list").contains(&topic));
    // The broker forgot it too: its queues are gone.
    assert_eq!(
        f.raw
            .queue_offset(true, &topic, 0)
            .await
            .expect("max offset"),
        0
    );
}

#[tokio::test]
async fn consumer_progress_follows_commits_and_resets_by_timestamp() {
    let f = setup().await;
    let topic = f.topic(2).await;
    let group = unique("progress_group");
    for (queue, n) in [(0, 3), (1, 2)] {
        for i in 0..n {
            f.send_to(&topic, queue, &format!("a{queue}-{i}")).await;
        }
    }

    let p = f
        .admin
        .consumer_progress(&group, &topic)
        .await
        .expect("progress");
    assert_eq!(
        (p.group.as_str(), p.topic.as_str()),
        (group.as_str(), topic.as_str())
    );
    let rows: Vec<(i32, i64, Option<i64>, i64)> = p
        .queues
        .iter()
        .map(|q| (q.queue.queue_id, q.broker_offset, q.consumer_offset, q.lag))
        .collect();
    assert_eq!(rows, vec![(0, 3, None, 3), (1, 2, None, 2)]);
    assert_eq!(p.total_lag, 5);

    assert_eq!(
        f.raw
            .update_consumer_offset(&group, &topic, 0, 3)
            .await
            .unwrap(),
        rc::SUCCESS
    );
    assert_eq!(
        f.raw
            .update_consumer_offset(&group, &topic, 1, 1)
            .await
            .unwrap(),
        rc::SUCCESS
    );
    let p = f
        .admin
        .consumer_progress(&group, &topic)
        .await
        .expect("progress");
    let rows: Vec<(Option<i64>, i64)> = p
        .queues
        .iter()
        .map(|q| (q.consumer_offset, q.lag))
        .collect();
    assert_eq!(rows, vec![(Some(3), 0), (Some(1), 1)]);
    assert_eq!(p.total_lag, 1);
    // The last consumed message's store time is the one at `consumer_offset - 1`.
    for q in &p.queues {
        let m = f
            .admin
            .message_at(&q.queue, q.consumer_offset.unwrap() - 1)
            .await
            .expect("message at")
            .expect("last consumed message");
        assert_eq!(q.last_timestamp, Some(m.store_timestamp), "{q:?}");
    }
    assert_eq!(
        f.raw
            .update_consumer_offset(&group, &topic, 1, 2)
            .await
            .unwrap(),
        rc::SUCCESS
    );
    assert_eq!(
        f.admin
            .consumer_progress(&group, &topic)
            .await
            .expect("progress")
            .total_lag,
        0
    );

    // A point in time between the first and a second round of sends.
    let cut = now_ms() + 1;
    eventually(WAIT, "the clock passes the cut", || async {
        Ok((now_ms() > cut).then_some(()))
    })
    .await
    .expect("clock");
    f.send_to(&topic, 0, "b0").await;
    f.send_to(&topic, 1, "b1").await;

    // Without force a reset only moves back: from (3, 2) to the cut, which is (3, 2) as well; then to 0.
    let stats = f
        .admin
        .reset_offset_by_timestamp(&group, &topic, cut, false)
        .await
        .expect("reset to the cut");
    let rows: Vec<(i64, i64, i64, i64)> = stats
        .iter()
        .map(|s| {
            (
                s.broker_offset,
                s.consumer_offset,
                s.timestamp_offset,
                s.rollback_offset,
            )
        })
        .collect();
    assert_eq!(rows, vec![(4, 3, 3, 3), (3, 2, 2, 2)]);
    let stats = f
        .admin
        .reset_offset_by_timestamp(&group, &topic, 0, false)
        .await
        .expect("reset to the start");
    assert!(stats.iter().all(|s| s.rollback_offset == 0), "{stats:?}");
    assert_eq!(
        f.raw
            .query_consumer_offset(&group, &topic, 0)
            .await
            .unwrap(),
        (rc::SUCCESS, 0)
    );
    assert_eq!(
        f.admin
            .consumer_progress(&group, &topic)
            .await
            .expect("progress")
            .total_lag,
        7
    );
    // Forward to the cut needs force.
    let stats = f
        .admin
        .reset_offset_by_timestamp(&group, &topic, cut, false)
        .await
        .expect("no-op");
    assert!(stats.iter().all(|s| s.rollback_offset == 0), "{stats:?}");
    f.admin
        .reset_offset_by_timestamp(&group, &topic, cut, true)
        .await
        .expect("forced");
    assert_eq!(
        f.raw
            .query_consumer_offset(&group, &topic, 0)
            .await
            .unwrap(),
        (rc::SUCCESS, 3)
    );
    assert_eq!(
        f.raw
            .query_consumer_offset(&group, &topic, 1)
            .await
            .unwrap(),
        (rc::SUCCESS, 2)
    );
    assert_eq!(
        f.admin
            .consumer_progress(&group, &topic)
            .await
            .expect("progress")
            .total_lag,
        2
    );

    let err = f
        .admin
        .consumer_progress(&group, &unique("NoSuchTopic"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NoRoute { .. }), "{err}");
}

/// GET_CONSUME_STATS without a topic: every topic the group committed offsets on, retry topic included, in one
/// call; the same figures as the per-topic call.
#[tokio::test]
async fn consumer_progress_all_covers_every_topic_of_the_group() {
    let f = setup().await;
    let a = f.topic(2).await;
    let b = f.topic(1).await;
    let group = unique("all_group");
    let retry = format!("%RETRY%{group}");
    f.admin
        .create_topic(&f.broker.broker_addr(), &TopicSpec::new(&retry, 1))
        .await
        .expect("retry topic");
    for (topic, queue, n) in [(&a, 0, 3), (&a, 1, 1), (&b, 0, 2)] {
        for i in 0..n {
            f.send_to(topic, queue, &format!("{queue}-{i}")).await;
        }
    }
    assert!(
        f.admin
            .consumer_progress_all(&group)
            .await
            .expect("progress of a group without offsets")
            .is_empty(),
        "a group that committed nothing has no topics"
    );
    for (topic, queue, offset) in [(&a, 0, 2), (&a, 1, 1), (&b, 0, 0), (&retry, 0, 0)] {
        assert_eq!(
            f.raw
                .update_consumer_offset(&group, topic, queue, offset)
                .await
                .unwrap(),
            rc::SUCCESS
        );
    }
    let all = f.admin.consumer_progress_all(&group).await.expect("all");
    let mut expected: Vec<&String> = vec![&a, &b, &retry];
    expected.sort();
    assert_eq!(all.keys().collect::<Vec<_>>(), expected);
    let rows = |topic: &String| -> Vec<(i32, i64, Option<i64>, i64)> {
        all[topic]
            .queues
            .iter()
            .map(|q| (q.queue.queue_id, q.broker_offset, q.consumer_offset, q.lag))
            .collect()
    };
    assert_eq!(rows(&a), vec![(0, 3, Some(2), 1), (1, 1, Some(1), 0)]);
    assert_eq!(rows(&b), vec![(0, 2, None, 2)]);
    assert_eq!(rows(&retry), vec![(0, 0, None, 0)]);
    assert_eq!(
        (all[&a].total_lag, all[&b].total_lag, all[&retry].total_lag),
        (1, 2, 0)
    );
    assert_eq!(
        (all[&a].group.as_str(), all[&a].topic.as_str()),
        (group.as_str(), a.as_str())
    );
    for topic in [&a, &b] {
        let one = f
            .admin
            .consumer_progress(&group, topic)
            .await
            .expect("progress");
        assert_eq!(&one, &all[topic], "per-topic and all-topic answers agree");
    }
    assert!(all[&a].queues[0].last_timestamp.is_some());
    assert_eq!(all[&b].queues[0].last_timestamp, None);

    // Another group's offsets stay out.
    let other = unique("other_group");
    f.raw
        .update_consumer_offset(&other, &a, 0, 1)
        .await
        .unwrap();
    let again = f.admin.consumer_progress_all(&group).await.expect("again");
    assert_eq!(again, all);
}

#[tokio::test]
async fn subscription_groups_are_created_updated_enforced_and_deleted() {
    let f = setup().await;
    let addr = f.broker.broker_addr();
    let group = unique("admin_group");
    let cfg = SubscriptionGroupConfig {
        retry_queue_nums: 3,
        retry_max_times: 5,
        consume_broadcast_enable: false,
        ..SubscriptionGroupConfig::new(&group)
    };
    let written = f
        .admin
        .create_subscription_group_in_cluster(CLUSTER, &cfg)
        .await
        .expect("create group");
    assert_eq!(written, vec![addr.clone()]);
    assert_eq!(
        f.admin
            .subscription_group(&addr, &group)
            .await
            .expect("get"),
        Some(cfg.clone())
    );

    // Disabling consumption makes the broker refuse the group's pulls.
    let topic = f.topic(1).await;
    f.send_to(&topic, 0, "x").await;
    assert_eq!(
        f.raw.pull(&group, &topic, 0, 0, 1).await.unwrap().code,
        rc::SUCCESS
    );
    let disabled = SubscriptionGroupConfig {
        consume_enable: false,
        ..cfg.clone()
    };
    f.admin
        .create_subscription_group(&addr, &disabled)
        .await
        .expect("update group");
    assert_eq!(
        f.admin
            .subscription_group(&addr, &group)
            .await
            .expect("get"),
        Some(disabled)
    );
    assert_eq!(
        f.raw.pull(&group, &topic, 0, 0, 1).await.unwrap().code,
        response::NO_PERMISSION
    );

    assert_eq!(
        f.raw
            .update_consumer_offset(&group, &topic, 0, 1)
            .await
            .unwrap(),
        rc::SUCCESS
    );
    f.admin
        .delete_subscription_group(&addr, &group, true)
        .await
        .expect("delete group");
    assert_eq!(
        f.admin
            .subscription_group(&addr, &group)
            .await
            .expect("get"),
        None
    );
    let p = f
        .admin
        .consumer_progress(&group, &topic)
        .await
        .expect("progress");
    assert_eq!(
        p.queues[0].consumer_offset, None,
        "cleanOffset removed the offsets"
    );

    let err = f
        .admin
        .create_subscription_group(&addr, &SubscriptionGroupConfig::new(" "))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::InvalidArgument {
                field: "group_name",
                ..
            }
        ),
        "{err}"
    );
}

/// GET_CONSUMER_CONNECTION_LIST (203) lists the heartbeating client with its model and subscription.
#[tokio::test]
async fn consumer_connections_list_a_heartbeating_consumer() {
    let f = setup().await;
    let topic = f.topic(1).await;
    let group = unique("conn_group");
    let client_id = unique("client");
    let hb = f
        .raw
        .heartbeat(&client_id, &group, &topic)
        .await
        .expect("heartbeat");
    assert_eq!(hb.code, rc::SUCCESS);
    let cc = f
        .admin
        .consumer_connections(&group)
        .await
        .expect("GET_CONSUMER_CONNECTION_LIST is served");
    assert!(
        cc.connection_set.iter().any(|c| c.client_id == client_id),
        "{cc:?}"
    );
    assert_eq!(cc.message_model, "CLUSTERING");
    assert_eq!(cc.subscription_table[&topic].sub_string, "*");
}

#[tokio::test]
async fn messages_are_found_by_key_id_and_position() {
    let f = setup().await;
    let topic = f.topic(2).await;
    let mut sent = Vec::new();
    for i in 0..4 {
        let key = format!("order-{i}");
        let r = f
            .producer
            .send(Message::new(&topic, format!("body-{i}")).with_keys([key.as_str(), "shared"]))
            .await
            .expect("send");
        sent.push(r);
    }
    // Over the producer's 4 KiB threshold: stored compressed, returned plain.
    let big = "compress me ".repeat(1000);
    let big_sent = f
        .producer
        .send(Message::new(&topic, big.clone()).with_key("big"))
        .await
        .expect("send big");

    let found = eventually(WAIT, "order-2 indexed", || async {
        let hits = f
            .admin
            .query_messages(&topic, "order-2", 32, 0, i64::MAX)
            .await?;
        Ok((!hits.is_empty()).then_some(hits))
    })
    .await
    .expect("query");
    assert_eq!(found.len(), 1);
    assert_eq!(&found[0].body[..], b"body-2");
    assert_eq!(found[0].msg_id(), sent[2].msg_id);
    let shared = f
        .admin
        .query_messages(&topic, "shared", 32, 0, i64::MAX)
        .await
        .expect("query shared");
    let bodies: Vec<&[u8]> = shared.iter().map(|m| &m.body[..]).collect();
    assert_eq!(
        bodies,
        vec![b"body-0", b"body-1", b"body-2", b"body-3"],
        "oldest first"
    );
    assert_eq!(
        f.admin
            .query_messages(&topic, "shared", 2, 0, i64::MAX)
            .await
            .expect("max 2")
            .len(),
        2
    );
    assert!(f
        .admin
        .query_messages(&topic, "order-2", 32, 0, 1)
        .await
        .expect("time range before the sends")
        .is_empty());
    assert!(f
        .admin
        .query_messages(&topic, "nobody", 32, 0, i64::MAX)
        .await
        .expect("no hit")
        .is_empty());
    let big_found = eventually(WAIT, "big indexed", || async {
        let hits = f
            .admin
            .query_messages(&topic, "big", 1, 0, i64::MAX)
            .await?;
        Ok(hits.into_iter().next())
    })
    .await
    .expect("query big");
    assert_eq!(&big_found.body[..], big.as_bytes());

    for r in sent.iter().chain([&big_sent]) {
        let m = f.admin.view_message(&r.offset_msg_id).await.expect("view");
        assert_eq!(m.msg_id(), r.msg_id);
        assert_eq!(m.topic, topic);
        assert_eq!(
            (m.queue_id, m.queue_offset),
            (r.queue.queue_id, r.queue_offset)
        );
        let at = f
            .admin
            .message_at(&r.queue, r.queue_offset)
            .await
            .expect("message at")
            .expect("a message there");
        assert_eq!(at.body, m.body);
        assert_eq!(at.offset_msg_id(), r.offset_msg_id);
    }
    assert_eq!(
        &f.admin
            .view_message(&big_sent.offset_msg_id)
            .await
            .unwrap()
            .body[..],
        big.as_bytes()
    );
    assert!(f
        .admin
        .message_at(&sent[0].queue, 1000)
        .await
        .expect("past the end")
        .is_none());

    let err = f.admin.view_message("not-an-id").await.unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
    let err = f
        .admin
        .query_messages(&topic, "k", 0, 0, i64::MAX)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::InvalidArgument {
                field: "max_num",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_dead_letter_is_resent_to_its_original_topic() {
    let f = setup().await;
    let topic = f.topic(1).await;
    let group = unique("dlq_group");
    let hb = f
        .raw
        .heartbeat(&unique("client"), &group, &topic)
        .await
        .expect("heartbeat");
    assert_eq!(hb.code, rc::SUCCESS);
    let sent = f
        .producer
        .send(Message::new(&topic, "dead on arrival").with_tags("TagD"))
        .await
        .expect("send");
    let (_, phys) = decode_offset_msg_id(&sent.offset_msg_id).expect("offset id");
    let back = SendBack {
        offset: phys,
        group: group.clone(),
        delay_level: -1,
        max_reconsume_times: None,
        origin_msg_id: Some(sent.msg_id.clone()),
        origin_topic: Some(topic.clone()),
    };
    let resp = send_back(&f.raw, &back).await.expect("send back");
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);

    let dlq = MessageQueue {
        topic: format!("%DLQ%{group}"),
        broker_name: sent.queue.broker_name.clone(),
        queue_id: 0,
    };
    let dead = eventually(WAIT, "dead letter stored", || async {
        Ok(f.admin.message_at(&dlq, 0).await?)
    })
    .await
    .expect("dead letter");
    assert_eq!(&dead.body[..], b"dead on arrival");

    // A message that is not a dead letter is refused with the broker's code.
    let err = f
        .admin
        .resend_dlq_message(&sent.offset_msg_id, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.response_code(),
        Some(response::INVALID_PARAMETER),
        "{err}"
    );

    let resent = f
        .admin
        .resend_dlq_message(&dead.offset_msg_id(), None)
        .await
        .expect("resend");
    let queue = MessageQueue {
        queue_id: resent.queue_id,
        ..sent.queue.clone()
    };
    assert_eq!((resent.queue_id, resent.queue_offset), (0, 1));
    let again = f
        .admin
        .message_at(&queue, resent.queue_offset)
        .await
        .expect("message at")
        .expect("resent message");
    assert_eq!(&again.body[..], b"dead on arrival");
    assert_eq!(again.tags(), Some("TagD"));
    assert_eq!(again.reconsume_times, 0);
    assert_eq!(again.msg_id(), sent.msg_id, "the message keeps its id");
    assert_eq!(again.offset_msg_id(), resent.offset_msg_id);
    let viewed = f
        .admin
        .view_message(&resent.offset_msg_id)
        .await
        .expect("view");
    assert_eq!(viewed.topic, topic);
}
