//! Commands about live clients: consumerStatus (running info of a group's consumers), producerConnection, and
//! queryMsgByUniqueKey (find a message by the id producers report; with -g -d, hand it to one consumer).

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use rmq_client::MessageExt;
use rmq_protocol::body::{ConsumeMessageDirectlyResult, ConsumerRunningInfo};
use rmq_protocol::codes::response;
use serde::Serialize;

use super::Ctx;
use crate::output::MessageView;
use crate::table::{key_values, Table};
use crate::time::format_ms;

/// One client's running info in consumerStatus's JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientStatus {
    client_id: String,
    version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    running_info: Option<RunningInfoView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A running info as JSON with plain keys (`mqTable` entries carry their queue).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunningInfoView {
    properties: std::collections::BTreeMap<String, String>,
    subscriptions: Vec<rmq_protocol::body::SubscriptionData>,
    queues: Vec<QueueView>,
    status: std::collections::BTreeMap<String, rmq_protocol::body::ConsumeStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jstack: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueueView {
    topic: String,
    broker_name: String,
    queue_id: i32,
    #[serde(flatten)]
    info: rmq_protocol::body::ProcessQueueInfo,
}

impl From<ConsumerRunningInfo> for RunningInfoView {
    fn from(i: ConsumerRunningInfo) -> Self {
        RunningInfoView {
            properties: i.properties,
            subscriptions: i.subscription_set,
            queues: i
                .mq_table
                .into_iter()
                .map(|(mq, info)| QueueView {
                    topic: mq.topic,
                    broker_name: mq.broker_name,
                    queue_id: mq.queue_id,
                    info,
                })
                .collect(),
            status: i.status_table,
            jstack: i.jstack,
        }
    }
}

/// consumerStatus: without -i, one row per online client and whether their subscriptions agree; with -i, the
/// client's whole running info (mqadmin's `formatString` sections).
pub async fn consumer_status(
    ctx: &Ctx,
    group: &str,
    client_id: Option<&str>,
    jstack: bool,
) -> Result<()> {
    if let Some(client) = client_id {
        let info = ctx
            .admin
            .consumer_running_info(group, client, jstack)
            .await?;
        let text = format_running_info(&info);
        let view = RunningInfoView::from(info);
        return ctx.out.emit(&view, || text);
    }
    let cc = ctx.online_members(group).await?;
    let mut clients: Vec<_> = cc.connection_set.clone();
    clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    let mut statuses = Vec::new();
    let mut subscriptions = BTreeSet::new();
    for c in &clients {
        match ctx
            .admin
            .consumer_running_info(group, &c.client_id, jstack)
            .await
        {
            Ok(info) => {
                let subs: Vec<(String, String)> = info
                    .subscription_set
                    .iter()
                    .map(|s| (s.topic.clone(), s.sub_string.clone()))
                    .collect();
                subscriptions.insert(subs);
                statuses.push(ClientStatus {
                    client_id: c.client_id.clone(),
                    version: c.version,
                    running_info: Some(info.into()),
                    error: None,
                });
            }
            Err(e) => statuses.push(ClientStatus {
                client_id: c.client_id.clone(),
                version: c.version,
                running_info: None,
                error: Some(e.to_string()),
            }),
        }
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct GroupStatus {
        group: String,
        same_subscription: bool,
        clients: Vec<ClientStatus>,
    }
    let out = GroupStatus {
        group: group.to_owned(),
        same_subscription: subscriptions.len() <= 1,
        clients: statuses,
    };
    ctx.out.emit(&out, || {
        let mut t = Table::new([
            "#Index",
            "#ClientId",
            "#Version",
            "#Queues",
            "#ConsumeOKTPS",
            "#Status",
        ]);
        for (i, c) in out.clients.iter().enumerate() {
            let (queues, tps) = c.running_info.as_ref().map_or((0, 0.0), |r| {
                (
                    r.queues.len(),
                    r.status.values().map(|s| s.consume_ok_tps).sum(),
                )
            });
            t.row([
                format!("{:03}", i + 1),
                c.client_id.clone(),
                c.version.to_string(),
                queues.to_string(),
                format!("{tps:.2}"),
                c.error.clone().unwrap_or_else(|| "OK".to_owned()),
            ]);
        }
        let verdict = if out.same_subscription {
            "Same subscription in the same group of consumer"
        } else {
            "WARN: Different subscription in the same group of consumer!!!"
        };
        format!("{}\n{verdict}\n", t.render())
    })
}

/// mqadmin's `ConsumerRunningInfo.formatString` sections.
fn format_running_info(info: &ConsumerRunningInfo) -> String {
    let mut out = String::from("#Consumer Properties#\n");
    out.push_str(&key_values(
        info.properties.iter().map(|(k, v)| (k.as_str(), v.clone())),
    ));
    out.push_str("\n\n#Consumer Subscription#\n");
    let mut subs = Table::new(["#Topic", "#ClassFilter", "#SubExpression"]);
    for s in &info.subscription_set {
        subs.row([
            s.topic.clone(),
            s.class_filter_mode.to_string(),
            s.sub_string.clone(),
        ]);
    }
    out.push_str(&subs.render());
    out.push_str("\n#Consumer Offset#\n");
    let mut offsets = Table::new(["#Topic", "#Broker Name", "#QID", "#Consumer Offset"]);
    for (mq, pq) in &info.mq_table {
        offsets.row([
            mq.topic.clone(),
            mq.broker_name.clone(),
            mq.queue_id.to_string(),
            pq.commit_offset.to_string(),
        ]);
    }
    out.push_str(&offsets.render());
    out.push_str("\n#Consumer MQ Detail#\n");
    let mut detail = Table::new([
        "#Topic",
        "#Broker Name",
        "#QID",
        "#Cached",
        "#Min",
        "#Max",
        "#Locked",
        "#Dropped",
        "#LastPull",
        "#LastConsume",
    ]);
    for (mq, pq) in &info.mq_table {
        detail.row([
            mq.topic.clone(),
            mq.broker_name.clone(),
            mq.queue_id.to_string(),
            pq.cached_msg_count.to_string(),
            pq.cached_msg_min_offset.to_string(),
            pq.cached_msg_max_offset.to_string(),
            pq.locked.to_string(),
            pq.dropped.to_string(),
            format_ms(pq.last_pull_timestamp),
            format_ms(pq.last_consume_timestamp),
        ]);
    }
    out.push_str(&detail.render());
    out.push_str("\n#Consumer RT&TPS#\n");
    let mut rates = Table::new([
        "#Topic",
        "#Pull RT",
        "#Pull TPS",
        "#Consume RT",
        "#ConsumeOK TPS",
        "#ConsumeFailed TPS",
        "#ConsumeFailedMsgsInHour",
    ]);
    for (topic, s) in &info.status_table {
        rates.row([
            topic.clone(),
            format!("{:.2}", s.pull_rt),
            format!("{:.2}", s.pull_tps),
            format!("{:.2}", s.consume_rt),
            format!("{:.2}", s.consume_ok_tps),
            format!("{:.2}", s.consume_failed_tps),
            s.consume_failed_msgs.to_string(),
        ]);
    }
    out.push_str(&rates.render());
    if let Some(j) = &info.jstack {
        out.push_str("\n#Consumer jstack#\n");
        out.push_str(j);
    }
    out
}

/// producerConnection: the connections of a producer group on the brokers of a topic.
pub async fn producer_connection(ctx: &Ctx, group: &str, topic: &str) -> Result<()> {
    let pc = match ctx.admin.producer_connections(group, topic).await {
        Ok(pc) if !pc.connection_set.is_empty() => pc,
        Ok(_) => bail!("Not found the producer group connection"),
        Err(e) if e.response_code() == Some(response::SYSTEM_ERROR) => {
            bail!("Not found the producer group connection: {e}")
        }
        Err(e) => return Err(e.into()),
    };
    let mut conns = pc.connection_set;
    conns.sort_by(|a, b| (&a.client_id, &a.client_addr).cmp(&(&b.client_id, &b.client_addr)));
    ctx.out.emit(&conns, || {
        let mut t = Table::new([
            "#Index",
            "#ClientId",
            "#ClientAddr",
            "#Language",
            "#Version",
        ]);
        for (i, c) in conns.iter().enumerate() {
            t.row([
                format!("{:04}", i + 1),
                c.client_id.clone(),
                c.client_addr.clone(),
                c.language.clone(),
                c.version.to_string(),
            ]);
        }
        t.render()
    })
}

/// queryMsgByUniqueKey: the message(s) with that unique key; with a group and a client, the message handed to
/// that consumer's listener (CONSUME_MESSAGE_DIRECTLY) and its verdict.
pub async fn query_by_unique_key(
    ctx: &Ctx,
    topic: &str,
    key: &str,
    target: Option<(&str, &str)>,
    show_all: bool,
) -> Result<()> {
    let found: Vec<MessageExt> = ctx.admin.query_by_unique_key(topic, key).await?;
    let Some(first) = found.first() else {
        bail!("no message with unique key {key} in topic {topic}");
    };
    if let Some((group, client)) = target {
        let info = ctx
            .admin
            .consumer_running_info(group, client, false)
            .await?;
        if !info.is_push() {
            bail!("consumer {client} of group {group} is not a push consumer; it cannot consume a message directly");
        }
        let result: ConsumeMessageDirectlyResult = ctx
            .admin
            .consume_message_directly(group, client, &first.offset_msg_id())
            .await?;
        return ctx.out.emit(&result, || {
            format!(
                "ConsumeMessageDirectlyResult [order={}, autoCommit={}, consumeResult={}, remark={}, spentTimeMills={}]\n",
                result.order,
                result.auto_commit,
                result
                    .consume_result
                    .map(|r| serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
                    .unwrap_or_else(|| "null".to_owned()),
                result.remark.clone().unwrap_or_else(|| "null".to_owned()),
                result.spent_time_mills
            )
        });
    }
    let shown: Vec<MessageView> = found
        .iter()
        .take(if show_all { usize::MAX } else { 1 })
        .map(|m| MessageView::new(m, None))
        .collect();
    ctx.out.emit(&shown, || {
        shown
            .iter()
            .map(MessageView::render)
            .collect::<Vec<_>>()
            .join("\n")
    })
}
