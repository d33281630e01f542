//! SQL92 selectors end to end over TCP: messages with user properties, consumers subscribing by heartbeat
//! or in the pull header, exactly the matching messages coming back, bad expressions refused with their
//! position (at CHECK_CLIENT_CONFIG, and at pull time after a heartbeat), and `enablePropertyFilter=false`.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use anyhow::{bail, Result};
use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::codes::{request, response};
use rmq_protocol::RemotingCommand;
use rmq_tests::client::{OutMessage, PullArgs, PullOutcome};
use rmq_tests::{eventually, unique, RawClient};

const COUNT: i64 = 12;

/// Message `i`: color cycles red/green/blue, price = 10·i, region eu/us/absent/absent, name `item-i`, tag
/// `T0`/`T1`.
fn message(topic: &str, i: i64) -> OutMessage {
    let color = ["red", "green", "blue"][(i % 3) as usize];
    let price = (i * 10).to_string();
    let name = format!("item-{i}");
    let idx = i.to_string();
    let mut props = vec![
        ("i", idx.as_str()),
        ("color", color),
        ("price", price.as_str()),
        ("name", name.as_str()),
    ];
    match i % 4 {
        0 => props.push(("region", "eu")),
        1 => props.push(("region", "us")),
        _ => {}
    }
    let tag = format!("T{}", i % 2);
    OutMessage::new(topic, format!("body-{i}").as_bytes())
        .tags(Some(&tag))
        .props(&props)
}

/// A topic with one queue holding the [`COUNT`] messages, dispatched.
async fn setup(c: &RawClient) -> Result<String> {
    let topic = unique("Sql92");
    let resp = c.create_topic(&topic, 1).await?;
    if resp.code != response::SUCCESS {
        bail!("create topic: {:?}", resp.remark);
    }
    for i in 0..COUNT {
        c.send(&message(&topic, i)).await?.ok()?;
    }
    eventually(Duration::from_secs(10), "messages dispatched", || async {
        Ok((c.queue_offset(true, &topic, 0).await? == COUNT).then_some(()))
    })
    .await?;
    Ok(topic)
}

/// HEART_BEAT registering `group` on `topic` with one subscription.
async fn heartbeat(
    c: &RawClient,
    group: &str,
    topic: &str,
    expression_type: &str,
    expression: &str,
    version: i64,
) -> Result<RemotingCommand> {
    let body = serde_json::json!({
        "clientID": format!("127.0.0.1@{group}"),
        "producerDataSet": [],
        "consumerDataSet": [{
            "groupName": group,
            "consumeType": "CONSUME_PASSIVELY",
            "messageModel": "CLUSTERING",
            "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET",
            "subscriptionDataSet": [{
                "classFilterMode": false,
                "topic": topic,
                "subString": expression,
                "tagsSet": [],
                "codeSet": [],
                "subVersion": version,
                "expressionType": expression_type,
            }],
            "unitMode": false,
        }],
        "heartbeatFingerprint": 0,
        "withoutSub": false,
    });
    c.request(
        RemotingCommand::request(request::HEART_BEAT, HashMap::new()).with_body(body.to_string()),
    )
    .await
}

/// How a pull names its subscription.
#[derive(Clone, Copy)]
enum Sub<'a> {
    /// The heartbeat's subscription at this version (no SUBSCRIPTION flag).
    Heartbeat(i64),
    /// SQL92 in the pull header (SUBSCRIPTION flag, expressionType SQL92).
    Header(&'a str),
}

async fn pull(
    c: &RawClient,
    group: &str,
    topic: &str,
    offset: i64,
    max: i32,
    sub: Sub<'_>,
) -> Result<PullOutcome> {
    let mut args = PullArgs::new(group, topic, 0, offset).max(max);
    let mut version = None;
    match sub {
        Sub::Heartbeat(v) => {
            args.sys_flag = 0;
            version = Some(v);
        }
        Sub::Header(expr) => args = args.subscription(expr),
    }
    let mut cmd = args.to_command();
    cmd.ext_fields
        .insert("expressionType".into(), "SQL92".into());
    if let Some(v) = version {
        cmd.ext_fields.insert("subVersion".into(), v.to_string());
    }
    PullOutcome::from_response(c.request(cmd).await?)
}

/// Pulls the queue from 0 to the end; returns the `i` of every delivered message and the codes seen.
async fn pull_matching(
    c: &RawClient,
    group: &str,
    topic: &str,
    max: i32,
    sub: Sub<'_>,
) -> Result<(Vec<i64>, Vec<i32>)> {
    let (mut got, mut codes, mut offset) = (Vec::new(), Vec::new(), 0);
    for _ in 0..100 {
        let p = pull(c, group, topic, offset, max, sub).await?;
        codes.push(p.code);
        match p.code {
            response::SUCCESS => {
                for r in &p.records {
                    let i = r.properties().get("i").and_then(|v| v.parse().ok());
                    got.push(i.ok_or_else(|| anyhow::anyhow!("record without i"))?);
                }
            }
            response::PULL_RETRY_IMMEDIATELY => {}
            response::PULL_NOT_FOUND => return Ok((got, codes)),
            code => bail!("pull at {offset}: code {code} remark {:?}", p.remark),
        }
        if p.next_begin_offset <= offset {
            bail!("pull at {offset} did not advance ({})", p.next_begin_offset);
        }
        offset = p.next_begin_offset;
    }
    bail!("pull never reached the end of the queue")
}

fn expect_set(got: &[i64], want: &[i64]) {
    assert_eq!(
        got.iter().copied().collect::<BTreeSet<_>>().len(),
        got.len(),
        "no duplicates: {got:?}"
    );
    assert_eq!(got, want);
}

#[tokio::test]
async fn heartbeat_subscription_filters_pulls_and_compiles_once_per_version() -> Result<()> {
    let broker = EmbeddedBroker::start().await?;
    let c = RawClient::connect(&broker.broker_addr()).await?;
    let topic = setup(&c).await?;
    let group = unique("sqlHb");
    let cache = &broker.broker().filters();
    let v1 = 1_000;
    let before = cache.compilations();
    let hb = heartbeat(
        &c,
        &group,
        &topic,
        "SQL92",
        "color = 'red' AND price >= 30",
        v1,
    )
    .await?;
    assert_eq!(hb.code, response::SUCCESS, "{:?}", hb.remark);

    let (got, codes) = pull_matching(&c, &group, &topic, 32, Sub::Heartbeat(v1)).await?;
    expect_set(&got, &[3, 6, 9]);
    assert_eq!(codes, vec![response::SUCCESS, response::PULL_NOT_FOUND]);
    // Small batches: filtered-out records are skipped, never counted against maxMsgNums.
    let (got, _) = pull_matching(&c, &group, &topic, 1, Sub::Heartbeat(v1)).await?;
    expect_set(&got, &[3, 6, 9]);

    // The same version again (periodic heartbeats) does not recompile; a new version does, once.
    heartbeat(
        &c,
        &group,
        &topic,
        "SQL92",
        "color = 'red' AND price >= 30",
        v1,
    )
    .await?;
    assert_eq!(cache.compilations(), before + 1);
    let v2 = 2_000;
    heartbeat(&c, &group, &topic, "SQL92", "NOT (region = 'us')", v2).await?;
    heartbeat(&c, &group, &topic, "SQL92", "NOT (region = 'us')", v2).await?;
    let (got, _) = pull_matching(&c, &group, &topic, 32, Sub::Heartbeat(v2)).await?;
    expect_set(&got, &[0, 4, 8]); // region missing → unknown → not delivered
    assert_eq!(cache.compilations(), before + 2);

    // Nothing matches: NO_MATCHED_MSG (20) with nextBeginOffset past the scanned records.
    let v3 = 3_000;
    heartbeat(&c, &group, &topic, "SQL92", "price > 1000", v3).await?;
    let p = pull(&c, &group, &topic, 0, 32, Sub::Heartbeat(v3)).await?;
    assert_eq!(
        (p.code, p.next_begin_offset),
        (response::PULL_RETRY_IMMEDIATELY, COUNT)
    );
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn header_subscription_filters_pulls() -> Result<()> {
    let broker = EmbeddedBroker::start().await?;
    let c = RawClient::connect(&broker.broker_addr()).await?;
    let topic = setup(&c).await?;
    let group = unique("sqlHdr");
    for (expr, want) in [
        ("region IN ('eu') OR price < 15", &[0, 1, 4, 8][..]),
        ("region IS NULL AND name ENDSWITH '1'", &[11][..]),
        ("price BETWEEN 20 AND 50 AND TAGS = 'T1'", &[3, 5][..]),
        (
            "i NOT IN ('1', '2', '3') AND color <> 'blue' AND price < 60",
            &[0, 4][..],
        ),
        ("name CONTAINS '-1' OR missing > 3", &[1, 10, 11][..]),
        ("TRUE", &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11][..]),
    ] {
        let (got, _) = pull_matching(&c, &group, &topic, 4, Sub::Header(expr)).await?;
        assert_eq!(got, want, "{expr}");
    }
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn bad_expressions_are_refused_with_their_position() -> Result<()> {
    let broker = EmbeddedBroker::start().await?;
    let c = RawClient::connect(&broker.broker_addr()).await?;
    let topic = setup(&c).await?;

    // A heartbeat with a bad SQL92 subscription still succeeds (as in RocketMQ) ...
    let group = unique("sqlBad");
    let hb = heartbeat(
        &c,
        &group,
        &topic,
        "SQL92",
        "color = 'red' AND price >",
        1_000,
    )
    .await?;
    assert_eq!(hb.code, response::SUCCESS);
    // ... but its pulls are refused with the position of the problem.
    let p = pull(&c, &group, &topic, 0, 32, Sub::Heartbeat(1_000)).await?;
    assert_eq!(p.code, response::SUBSCRIPTION_PARSE_FAILED);
    let remark = p.remark.unwrap_or_default();
    assert!(remark.contains("at position 25"), "{remark}");

    // Same for an expression in the pull header.
    let p = pull(&c, &group, &topic, 0, 32, Sub::Header("color = 'red' OR")).await?;
    assert_eq!(p.code, response::SUBSCRIPTION_PARSE_FAILED);
    assert!(p.remark.unwrap_or_default().contains("at position 16"));
    let p = pull(&c, &group, &topic, 0, 32, Sub::Header("price > 'x'")).await?;
    assert_eq!(p.code, response::SUBSCRIPTION_PARSE_FAILED);
    assert!(p.remark.unwrap_or_default().contains("at position 8"));
    broker.shutdown().await?;
    Ok(())
}

async fn check_client_config(
    c: &RawClient,
    expression_type: &str,
    expression: &str,
) -> Result<RemotingCommand> {
    let body = serde_json::json!({
        "clientId": "127.0.0.1@check",
        "group": "checkGroup",
        "subscriptionData": {
            "classFilterMode": false,
            "topic": "T",
            "subString": expression,
            "tagsSet": [],
            "codeSet": [],
            "subVersion": 1,
            "expressionType": expression_type,
        },
    });
    c.request(
        RemotingCommand::request(request::CHECK_CLIENT_CONFIG, HashMap::new())
            .with_body(body.to_string()),
    )
    .await
}

#[tokio::test]
async fn check_client_config_both_ways() -> Result<()> {
    let broker = EmbeddedBroker::start().await?;
    let c = RawClient::connect(&broker.broker_addr()).await?;
    let ok = check_client_config(&c, "SQL92", "a > 1 AND b IN ('x', 'y')").await?;
    assert_eq!(ok.code, response::SUCCESS, "{:?}", ok.remark);
    let tag = check_client_config(&c, "TAG", "TagA || TagB").await?;
    assert_eq!(tag.code, response::SUCCESS);
    let bad = check_client_config(&c, "SQL92", "a > 1 AND b IN ('x' 'y')").await?;
    assert_eq!(bad.code, response::SUBSCRIPTION_PARSE_FAILED);
    let remark = bad.remark.unwrap_or_default();
    assert!(remark.contains("at position 20"), "{remark}");
    assert!(remark.contains('^'), "a caret under the position: {remark}");
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn property_filter_disabled() -> Result<()> {
    let broker = EmbeddedBroker::builder()
        .property("enablePropertyFilter", "false")
        .start()
        .await?;
    let c = RawClient::connect(&broker.broker_addr()).await?;
    let topic = setup(&c).await?;
    // The pull and CHECK_CLIENT_CONFIG both answer SYSTEM_ERROR, as Java's PullMessageProcessor and
    // ClientManageProcessor do.
    let p = pull(&c, &unique("sqlOff"), &topic, 0, 32, Sub::Header("a > 1")).await?;
    assert_eq!(p.code, response::SYSTEM_ERROR, "{:?}", p.remark);
    assert!(
        p.remark
            .as_deref()
            .is_some_and(|r| r.contains("does not support consumer to filter message by SQL92")),
        "{:?}",
        p.remark
    );
    let r = check_client_config(&c, "SQL92", "a > 1").await?;
    assert_eq!(r.code, response::SYSTEM_ERROR);
    broker.shutdown().await?;
    Ok(())
}
