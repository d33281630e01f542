//! Acceptance test 5: QUERY_MESSAGE (12) by key and VIEW_MESSAGE_BY_ID (33, offset from the send response's
//! offset msgId) return the stored message.

use std::collections::HashMap;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::RemotingCommand;
use rmq_tests::client::{code, rc, OutMessage, SendOutcome};
use rmq_tests::record::decode_offset_msg_id;
use rmq_tests::{unique, RawClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_by_key_and_view_by_id() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("QueryTopic");
    let other_topic = unique("QueryOther");

    let msgs = [
        OutMessage::new(&topic, b"first order")
            .tags(Some("A"))
            .keys(Some("order-1 shared"))
            .props(&[("p", "1")]),
        OutMessage::new(&topic, b"second order")
            .tags(Some("B"))
            .keys(Some("order-2 shared"))
            .props(&[("p", "2")]),
        OutMessage::new(&topic, b"third order")
            .keys(Some("order-3"))
            .queue(1),
        // Same key, other topic: must not show up in the first topic's queries.
        OutMessage::new(&other_topic, b"elsewhere").keys(Some("order-1")),
    ];
    let mut sent: Vec<SendOutcome> = Vec::new();
    for m in &msgs {
        sent.push(c.send(m).await.expect("send").ok().expect("stored"));
    }

    // By key: exact, and a key shared by two messages.
    let (resp, recs) = c
        .query_message(&topic, "order-2", 32)
        .await
        .expect("query order-2");
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    assert_eq!(recs.len(), 1, "order-2 → {recs:?}");
    assert_eq!(recs[0].body, b"second order");
    assert_eq!(recs[0].topic, topic);
    assert_eq!(recs[0].tags().as_deref(), Some("B"));
    assert_eq!(recs[0].properties().get("p").map(String::as_str), Some("2"));
    assert!(
        resp.ext_fields.contains_key("indexLastUpdateTimestamp")
            && resp.ext_fields.contains_key("indexLastUpdatePhyoffset"),
        "QUERY_MESSAGE response ext: {:?}",
        resp.ext_fields
    );

    let (_, recs) = c
        .query_message(&topic, "shared", 32)
        .await
        .expect("query shared");
    let mut bodies: Vec<&[u8]> = recs.iter().map(|r| r.body.as_slice()).collect();
    bodies.sort();
    assert_eq!(bodies, vec![&b"first order"[..], &b"second order"[..]]);

    let (_, recs) = c
        .query_message(&topic, "order-1", 32)
        .await
        .expect("query order-1");
    assert_eq!(
        recs.len(),
        1,
        "a key of another topic leaked into this topic's query: {recs:?}"
    );
    let (_, recs) = c
        .query_message(&topic, "order-3", 32)
        .await
        .expect("query order-3 (queue 1)");
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].queue_id, 1);

    let (resp, recs) = c
        .query_message(&topic, "no-such-key", 32)
        .await
        .expect("query missing");
    assert_eq!(resp.code, rc::QUERY_NOT_FOUND, "missing key → {resp:?}");
    assert!(recs.is_empty());

    // By UNIQ_KEY (the client message id), as admin tools do.
    let mut ext: HashMap<String, String> = [
        ("topic", topic.clone()),
        ("key", msgs[0].uniq_key().to_owned()),
        ("maxNum", "32".to_owned()),
        ("beginTimestamp", "0".to_owned()),
        ("endTimestamp", i64::MAX.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    ext.insert("_UNIQUE_KEY_QUERY".to_owned(), "true".to_owned());
    let resp = c
        .request(RemotingCommand::request(code::QUERY_MESSAGE, ext))
        .await
        .expect("query uniq key");
    assert_eq!(
        resp.code,
        rc::SUCCESS,
        "query by UNIQ_KEY: {:?}",
        resp.remark
    );
    let recs = rmq_tests::record::decode_records(&resp.body).expect("records");
    assert!(!recs.is_empty() && recs.iter().all(|r| r.body == b"first order"));

    // By offset msgId: the id names this broker and the record's commit-log offset.
    let broker_addr: std::net::SocketAddr = broker.broker_addr().parse().expect("broker addr");
    for (m, s) in msgs.iter().zip(&sent) {
        let id = decode_offset_msg_id(&s.msg_id).expect("offset msgId");
        assert_eq!(
            id.addr, broker_addr,
            "msgId {} names another store host",
            s.msg_id
        );
        let (resp, rec) = c.view_message(id.offset).await.expect("view by id");
        assert_eq!(
            resp.code,
            rc::SUCCESS,
            "view {}: {:?}",
            s.msg_id,
            resp.remark
        );
        let rec = rec.expect("record");
        assert_eq!(rec.physical_offset, id.offset);
        assert_eq!(rec.body, m.body);
        assert_eq!(rec.topic, m.topic);
        assert_eq!(
            (rec.queue_id, rec.queue_offset),
            (s.queue_id, s.queue_offset)
        );
        assert_eq!(rec.store_host, broker_addr);
        assert!(rec.body_crc_ok());
        assert_eq!(
            rec.properties().get("UNIQ_KEY").map(String::as_str),
            Some(m.uniq_key())
        );
    }

    // An offset beyond the end of the commit log is refused, and the connection survives.
    let first = decode_offset_msg_id(&sent[0].msg_id).expect("msgId").offset;
    let (resp, rec) = c.view_message(1 << 40).await.expect("view beyond the end");
    assert_ne!(
        resp.code,
        rc::SUCCESS,
        "view beyond the end returned {rec:?}"
    );
    let (resp, _) = c.view_message(first).await.expect("view again");
    assert_eq!(resp.code, rc::SUCCESS);

    broker.shutdown().await.expect("shutdown");
}
