//! The RPCs Apache's `rocketmq` 5.0.0 crate does not expose — ChangeInvisibleDuration, PullMessage,
//! UpdateOffset, GetOffset, QueryOffset — called with tonic stubs generated from the protocol's .proto files,
//! as Java's 5.x PullConsumer and PushConsumer call them.

use rmq_grpc::prost_types;
use rmq_grpc::v2::messaging_service_client::MessagingServiceClient;
use rmq_grpc::v2::{
    pull_message_response, receive_message_response, AckMessageEntry, AckMessageRequest,
    ChangeInvisibleDurationRequest, Code, FilterExpression, FilterType, GetOffsetRequest,
    MessageQueue, PullMessageRequest, QueryOffsetPolicy, QueryOffsetRequest, ReceiveMessageRequest,
    Resource, UpdateOffsetRequest,
};
use rmq_tests::client::OutMessage;
use rmq_tests::{unique, RawClient};
use tonic::transport::Channel;

use crate::{grpc_broker, routed_topic};

fn res(name: &str) -> Option<Resource> {
    Some(Resource {
        resource_namespace: String::new(),
        name: name.to_owned(),
    })
}

fn queue(topic: &str, id: i32) -> Option<MessageQueue> {
    Some(MessageQueue {
        topic: res(topic),
        id,
        ..MessageQueue::default()
    })
}

fn secs(s: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: s,
        nanos: 0,
    })
}

async fn client(addr: std::net::SocketAddr) -> MessagingServiceClient<Channel> {
    MessagingServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect the gRPC endpoint")
}

/// (receipt handle, message id) of each message one ReceiveMessage returns.
async fn receive(
    c: &mut MessagingServiceClient<Channel>,
    group: &str,
    topic: &str,
    invisible_s: i64,
) -> Vec<(String, String)> {
    let mut stream = c
        .receive_message(ReceiveMessageRequest {
            group: res(group),
            message_queue: queue(topic, -1),
            filter_expression: Some(FilterExpression {
                r#type: FilterType::Tag as i32,
                expression: "*".into(),
            }),
            batch_size: 16,
            invisible_duration: secs(invisible_s),
            auto_renew: false,
            long_polling_timeout: secs(2),
            attempt_id: None,
        })
        .await
        .expect("receive")
        .into_inner();
    let mut out = Vec::new();
    while let Some(frame) = stream.message().await.expect("frame") {
        if let Some(receive_message_response::Content::Message(m)) = frame.content {
            let sp = m.system_properties.expect("system properties");
            out.push((sp.receipt_handle.expect("handle"), sp.message_id));
        }
    }
    out
}

async fn ack(
    c: &mut MessagingServiceClient<Channel>,
    group: &str,
    topic: &str,
    handle: &str,
    id: &str,
) -> i32 {
    let r = c
        .ack_message(AckMessageRequest {
            group: res(group),
            topic: res(topic),
            entries: vec![AckMessageEntry {
                message_id: id.to_owned(),
                receipt_handle: handle.to_owned(),
                lite_topic: None,
            }],
        })
        .await
        .expect("ack")
        .into_inner();
    r.entries[0].status.as_ref().map_or(-1, |s| s.code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_invisible_duration_extends_a_message_and_gives_a_new_handle() {
    let broker = grpc_broker().await;
    let topic = routed_topic(&broker, "StubChange", 1).await;
    let group = unique("stub_change");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    raw.send(&OutMessage::new(&topic, b"extend me"))
        .await
        .expect("send");
    let mut c = client(broker.grpc_addr().expect("gRPC")).await;

    let got = receive(&mut c, &group, &topic, 10).await;
    assert_eq!(got.len(), 1);
    let (old, id) = got[0].clone();
    let changed = c
        .change_invisible_duration(ChangeInvisibleDurationRequest {
            group: res(&group),
            topic: res(&topic),
            receipt_handle: old.clone(),
            invisible_duration: secs(60),
            message_id: id.clone(),
            lite_topic: None,
            suspend: None,
        })
        .await
        .expect("change")
        .into_inner();
    assert_eq!(
        changed.status.as_ref().map(|s| s.code),
        Some(Code::Ok as i32)
    );
    let new = changed.receipt_handle;
    assert_ne!(new, old, "a new handle");
    // The old handle no longer names the message: acking it is answered OK, as Apache answers a stale ack, but
    // changes nothing; the new one acks it.
    let pops = &broker.broker().services().pops;
    assert_eq!(
        ack(&mut c, &group, &topic, &old, &id).await,
        Code::Ok as i32
    );
    assert_eq!(pops.open_checkpoints(), 1, "still out under the new handle");
    assert_eq!(
        ack(&mut c, &group, &topic, &new, &id).await,
        Code::Ok as i32
    );
    assert_eq!(broker.broker().services().pops.open_checkpoints(), 0);
    // A handle that is not one.
    assert_eq!(
        ack(&mut c, &group, &topic, "junk", &id).await,
        Code::InvalidReceiptHandle as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_message_and_the_offset_rpcs_read_and_commit_a_queue() {
    let broker = grpc_broker().await;
    let topic = routed_topic(&broker, "StubPull", 1).await;
    let group = unique("stub_pull");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    for i in 0..5 {
        raw.send(&OutMessage::new(&topic, format!("p{i}").as_bytes()).tags(Some("T")))
            .await
            .expect("send");
    }
    let mut c = client(broker.grpc_addr().expect("gRPC")).await;
    let query = |policy: QueryOffsetPolicy| QueryOffsetRequest {
        message_queue: queue(&topic, 0),
        query_offset_policy: policy as i32,
        timestamp: None,
    };
    let begin = c
        .query_offset(query(QueryOffsetPolicy::Beginning))
        .await
        .expect("q")
        .into_inner();
    let end = c
        .query_offset(query(QueryOffsetPolicy::End))
        .await
        .expect("q")
        .into_inner();
    assert_eq!((begin.offset, end.offset), (0, 5));

    let pull = |offset: i64| PullMessageRequest {
        group: res(&group),
        message_queue: queue(&topic, 0),
        offset,
        batch_size: 10,
        filter_expression: Some(FilterExpression {
            r#type: FilterType::Tag as i32,
            expression: "*".into(),
        }),
        long_polling_timeout: secs(1),
    };
    let mut stream = c.pull_message(pull(1)).await.expect("pull").into_inner();
    let (mut first, mut bodies, mut next) = (None, Vec::new(), None);
    while let Some(f) = stream.message().await.expect("frame") {
        match f.content {
            Some(pull_message_response::Content::Status(s)) => first = first.or(Some(s.code)),
            Some(pull_message_response::Content::Message(m)) => {
                bodies.push(String::from_utf8(m.body).expect("utf8"))
            }
            Some(pull_message_response::Content::NextOffset(n)) => next = Some(n),
            None => {}
        }
    }
    assert_eq!(first, Some(Code::Ok as i32));
    assert_eq!(bodies, vec!["p1", "p2", "p3", "p4"]);
    assert_eq!(next, Some(5));

    let mut stream = c.pull_message(pull(5)).await.expect("pull").into_inner();
    let f = stream.message().await.expect("frame").expect("a status");
    assert!(
        matches!(f.content, Some(pull_message_response::Content::Status(ref s)) if s.code == Code::MessageNotFound as i32),
        "{f:?}"
    );

    let get = |g: &str| GetOffsetRequest {
        group: res(g),
        message_queue: queue(&topic, 0),
    };
    let none = c.get_offset(get(&group)).await.expect("get").into_inner();
    assert_eq!(
        none.status.map(|s| s.code),
        Some(Code::OffsetNotFound as i32)
    );
    let upd = c
        .update_offset(UpdateOffsetRequest {
            group: res(&group),
            message_queue: queue(&topic, 0),
            offset: 5,
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(upd.status.map(|s| s.code), Some(Code::Ok as i32));
    let got = c.get_offset(get(&group)).await.expect("get").into_inner();
    assert_eq!(got.offset, 5);
    // The remoting side sees the same committed offset.
    assert_eq!(
        raw.query_consumer_offset(&group, &topic, 0)
            .await
            .expect("query"),
        (0, 5)
    );
}

/// Sends one delayed message over gRPC SendMessage and returns its recall handle.
async fn send_delayed(
    c: &mut MessagingServiceClient<Channel>,
    topic: &str,
    id: &str,
    at_ms: i64,
) -> String {
    use rmq_grpc::v2::{Message, SendMessageRequest, SystemProperties};
    let r = c
        .send_message(SendMessageRequest {
            messages: vec![Message {
                topic: res(topic),
                user_properties: Default::default(),
                system_properties: Some(SystemProperties {
                    message_id: id.to_owned(),
                    delivery_timestamp: Some(prost_types::Timestamp {
                        seconds: at_ms / 1000,
                        nanos: ((at_ms % 1000) * 1_000_000) as i32,
                    }),
                    ..SystemProperties::default()
                }),
                body: id.as_bytes().to_vec(),
            }],
        })
        .await
        .expect("send")
        .into_inner();
    assert_eq!(r.status.map(|s| s.code), Some(Code::Ok as i32));
    let handle = r.entries[0].recall_handle.clone();
    assert!(
        !handle.is_empty(),
        "a delayed message's send answers a recall handle"
    );
    handle
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_message_is_recalled_before_its_time_over_grpc_and_remoting() {
    use rmq_grpc::v2::RecallMessageRequest;
    let broker = grpc_broker().await;
    let topic = routed_topic(&broker, "StubRecall", 1).await;
    let mut c = client(broker.grpc_addr().expect("gRPC")).await;
    let at = rmq_protocol::clock::system_now_ms() + 2500;
    let kept = send_delayed(&mut c, &topic, "kept-message", at).await;
    let recalled = send_delayed(&mut c, &topic, "recalled-over-grpc", at).await;
    let by_remoting = send_delayed(&mut c, &topic, "recalled-over-remoting", at).await;
    // Due just after the others: once it is delivered, the timer has handled everything due at `at`.
    send_delayed(&mut c, &topic, "sentinel", at + 1).await;

    let recall = |handle: &str, t: &str| RecallMessageRequest {
        topic: res(t),
        recall_handle: handle.to_owned(),
    };
    let r = c
        .recall_message(recall(&recalled, &topic))
        .await
        .expect("recall")
        .into_inner();
    assert_eq!(r.status.map(|s| s.code), Some(Code::Ok as i32));
    assert_eq!(r.message_id, "recalled-over-grpc");
    let wrong = c
        .recall_message(recall(&recalled, "OtherTopic"))
        .await
        .expect("recall")
        .into_inner();
    assert_ne!(
        wrong.status.map(|s| s.code),
        Some(Code::Ok as i32),
        "a handle of another topic"
    );
    let junk = c
        .recall_message(recall("not-a-handle", &topic))
        .await
        .expect("recall")
        .into_inner();
    assert_eq!(junk.status.map(|s| s.code), Some(Code::BadRequest as i32));

    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    // A remoting send of a delayed message answers a recall handle too (5.3's recallHandle).
    let at_text = at.to_string();
    let sent = raw
        .request(
            OutMessage::new(&topic, b"remoting-delayed")
                .props(&[
                    ("TIMER_DELIVER_MS", at_text.as_str()),
                    ("UNIQ_KEY", "remoting-delayed"),
                ])
                .to_command(),
        )
        .await
        .expect("remoting send");
    assert_eq!(sent.code, 0, "{:?}", sent.remark);
    let remoting_handle = sent
        .ext_fields
        .get("recallHandle")
        .cloned()
        .expect("recallHandle in the send answer");
    let r = c
        .recall_message(recall(&remoting_handle, &topic))
        .await
        .expect("recall")
        .into_inner();
    assert_eq!(r.message_id, "remoting-delayed");
    let ext: std::collections::HashMap<String, String> = [
        ("producerGroup", "pg".to_owned()),
        ("topic", topic.clone()),
        ("recallHandle", by_remoting),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let resp = raw
        .request(rmq_protocol::RemotingCommand::request(
            rmq_protocol::codes::request::RECALL_MESSAGE,
            ext,
        ))
        .await
        .expect("RECALL_MESSAGE");
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    assert_eq!(
        resp.ext_fields.get("msgId").map(String::as_str),
        Some("recalled-over-remoting")
    );

    // The kept one is delivered at its time; the recalled ones never are.
    let delivered = rmq_tests::eventually(
        std::time::Duration::from_secs(20),
        "the sentinel delivered",
        || async {
            let got = raw.pull_all(&unique("recall_reader"), &topic, 0, 0).await?;
            Ok(got.iter().any(|r| r.body == b"sentinel").then_some(got))
        },
    )
    .await
    .expect("delivered");
    let bodies: Vec<String> = delivered
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        bodies,
        vec!["kept-message", "sentinel"],
        "same delivery time, only the one not recalled"
    );
    let late = c
        .recall_message(recall(&kept, &topic))
        .await
        .expect("recall")
        .into_inner();
    assert_eq!(
        late.status.map(|s| s.code),
        Some(Code::BadRequest as i32),
        "too late to recall"
    );
}
