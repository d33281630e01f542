//! Traffic and lag commands: brokerConsumeStats, statsAll, clusterRT, sendMsgStatus, checkMsgSendRT and
//! clusterList -m (yesterday's and today's totals per broker).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use rmq_client::{Message, Producer, SendStatus};
use rmq_protocol::body::BrokerStatsData;
use rmq_protocol::topic::{is_dlq_topic, is_retry_topic};
use serde::Serialize;

use super::Ctx;
use crate::table::Table;
use crate::time::format_ms;

/// GROUP_GET_NUMS / TOPIC_PUT_NUMS, the statistics statsAll reads.
const TOPIC_PUT_NUMS: &str = "TOPIC_PUT_NUMS";
const GROUP_GET_NUMS: &str = "GROUP_GET_NUMS";

/// brokerConsumeStats: every group's lag per queue on one broker.
pub async fn broker_consume_stats(ctx: &Ctx, addr: &str, level: i64, order: bool) -> Result<()> {
    let list = ctx.admin.broker_consume_stats(addr, order).await?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        topic: String,
        group: String,
        broker_name: String,
        queue_id: i32,
        broker_offset: i64,
        consumer_offset: i64,
        diff: i64,
        last_timestamp: i64,
    }
    let mut rows = Vec::new();
    for (group, per_topic) in &list.consume_stats_list {
        for stats in per_topic {
            for (mq, w) in &stats.offset_table {
                let diff = w.broker_offset - w.consumer_offset;
                if w.last_timestamp > 0 && diff >= level {
                    rows.push(Row {
                        topic: mq.topic.clone(),
                        group: group.clone(),
                        broker_name: mq.broker_name.clone(),
                        queue_id: mq.queue_id,
                        broker_offset: w.broker_offset,
                        consumer_offset: w.consumer_offset,
                        diff,
                        last_timestamp: w.last_timestamp,
                    });
                }
            }
        }
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Out {
        broker_addr: String,
        rows: Vec<Row>,
        total_diff: i64,
    }
    let out = Out {
        broker_addr: list.broker_addr.clone(),
        rows,
        total_diff: list.total_diff,
    };
    ctx.out.emit(&out, || {
        let mut t = Table::new([
            "#Topic",
            "#Group",
            "#Broker Name",
            "#QID",
            "#Broker Offset",
            "#Consumer Offset",
            "#Diff",
            "#LastTime",
        ]);
        for r in &out.rows {
            t.row([
                r.topic.clone(),
                r.group.clone(),
                r.broker_name.clone(),
                r.queue_id.to_string(),
                r.broker_offset.to_string(),
                r.consumer_offset.to_string(),
                r.diff.to_string(),
                format_ms(r.last_timestamp),
            ]);
        }
        format!("{}\nDiff Total: {}\n", t.render(), out.total_diff)
    })
}

/// The first non-zero of a window's day, hour and minute sums (mqadmin's 24-hour figure).
fn last_day(d: &BrokerStatsData) -> i64 {
    [d.stats_day.sum, d.stats_hour.sum, d.stats_minute.sum]
        .into_iter()
        .find(|s| *s != 0)
        .unwrap_or(0)
}

/// statsAll: per topic and consumer group, lag, in and out TPS and the last day's message counts.
pub async fn stats_all(ctx: &Ctx, active: bool, only: Option<&str>) -> Result<()> {
    let topics: Vec<String> = match only {
        Some(t) => vec![t.to_owned()],
        None => ctx.admin.topic_list().await?.into_iter().collect(),
    };
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        topic: String,
        group: Option<String>,
        accumulation: i64,
        in_tps: f64,
        out_tps: Option<f64>,
        in_msg_24_hour: i64,
        out_msg_24_hour: Option<i64>,
    }
    let mut rows = Vec::new();
    for topic in topics {
        if is_retry_topic(&topic) || is_dlq_topic(&topic) {
            continue;
        }
        let Ok(route) = ctx.admin.topic_route(&topic).await else {
            continue;
        };
        let masters: Vec<String> = route
            .broker_datas
            .iter()
            .filter_map(|bd| bd.master_addr().map(str::to_owned))
            .collect();
        let (mut in_tps, mut in_day) = (0.0, 0);
        for addr in &masters {
            if let Ok(Some(d)) = ctx.admin.broker_stats(addr, TOPIC_PUT_NUMS, &topic).await {
                in_tps += d.stats_minute.tps;
                in_day += last_day(&d);
            }
        }
        let groups = ctx
            .admin
            .topic_consumed_by(&topic)
            .await
            .unwrap_or_default();
        if groups.is_empty() {
            if !active || in_day > 0 {
                rows.push(Row {
                    topic: topic.clone(),
                    group: None,
                    accumulation: 0,
                    in_tps,
                    out_tps: None,
                    in_msg_24_hour: in_day,
                    out_msg_24_hour: None,
                });
            }
            continue;
        }
        for group in groups {
            let key = format!("{topic}@{group}");
            let (mut out_tps, mut out_day) = (0.0, 0);
            for addr in &masters {
                if let Ok(Some(d)) = ctx.admin.broker_stats(addr, GROUP_GET_NUMS, &key).await {
                    out_tps += d.stats_minute.tps;
                    out_day += last_day(&d);
                }
            }
            let accumulation = ctx
                .admin
                .consumer_progress(&group, &topic)
                .await
                .map(|p| p.total_lag.max(0))
                .unwrap_or(0);
            if active && in_day == 0 && out_day == 0 {
                continue;
            }
            rows.push(Row {
                topic: topic.clone(),
                group: Some(group),
                accumulation,
                in_tps,
                out_tps: Some(out_tps),
                in_msg_24_hour: in_day,
                out_msg_24_hour: Some(out_day),
            });
        }
    }
    ctx.out.emit(&rows, || {
        let mut t = Table::new([
            "#Topic",
            "#Consumer Group",
            "#Accumulation",
            "#InTPS",
            "#OutTPS",
            "#InMsg24Hour",
            "#OutMsg24Hour",
        ]);
        for r in &rows {
            t.row([
                r.topic.clone(),
                r.group.clone().unwrap_or_default(),
                r.accumulation.to_string(),
                format!("{:.2}", r.in_tps),
                r.out_tps.map(|v| format!("{v:.2}")).unwrap_or_default(),
                r.in_msg_24_hour.to_string(),
                r.out_msg_24_hour
                    .map_or_else(|| "NO_CONSUMER".to_owned(), |v| v.to_string()),
            ]);
        }
        t.render()
    })
}

/// Sends `amount` messages of `size` bytes to `topic` one by one; returns (mean RT of sends 2..n in ms,
/// successes, failures).
async fn timed_sends(p: &Producer, topic: &str, amount: u32, size: usize) -> (f64, u32, u32) {
    let (mut ok, mut failed, mut total) = (0, 0, Duration::ZERO);
    for i in 0..amount {
        let started = Instant::now();
        let sent = p.send(Message::new(topic, vec![b'a'; size])).await;
        let rt = started.elapsed();
        match sent {
            Ok(r) if r.status == SendStatus::SendOk => ok += 1,
            _ => failed += 1,
        }
        if i > 0 {
            total += rt;
        }
    }
    let n = amount.saturating_sub(1).max(1);
    (total.as_secs_f64() * 1000.0 / f64::from(n), ok, failed)
}

/// clusterRT: per broker, the mean send round trip to its own topic, every `interval`.
pub async fn cluster_rt(
    ctx: &Ctx,
    amount: u32,
    size: usize,
    cluster: Option<&str>,
    interval: u64,
    rounds: Option<u32>,
) -> Result<()> {
    let p = ctx.start_producer("PID_SMSC", "PID_SMSC").await?;
    let mut round = 0;
    loop {
        let info = ctx.admin.cluster_info().await?;
        let clusters: BTreeMap<_, _> = info.cluster_addr_table.iter().collect();
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Row {
            cluster: String,
            broker_name: String,
            rt: f64,
            success_count: u32,
            fail_count: u32,
        }
        let mut rows = Vec::new();
        for (name, brokers) in clusters {
            if cluster.is_some_and(|c| c != name.as_str()) {
                continue;
            }
            for b in brokers {
                let (rt, ok, failed) = timed_sends(&p, b, amount, size).await;
                rows.push(Row {
                    cluster: name.clone(),
                    broker_name: b.clone(),
                    rt,
                    success_count: ok,
                    fail_count: failed,
                });
            }
        }
        if cluster.is_some() && rows.is_empty() {
            p.shutdown().await;
            bail!(
                "cluster {} has no broker registered",
                cluster.unwrap_or_default()
            );
        }
        ctx.out.emit(&rows, || {
            let mut t = Table::new([
                "#Cluster Name",
                "#Broker Name",
                "#RT",
                "#successCount",
                "#failCount",
            ]);
            for r in &rows {
                t.row([
                    r.cluster.clone(),
                    r.broker_name.clone(),
                    format!("{:.2}", r.rt),
                    r.success_count.to_string(),
                    r.fail_count.to_string(),
                ]);
            }
            t.render()
        })?;
        round += 1;
        if rounds.is_some_and(|n| round >= n) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(interval)).await;
    }
    p.shutdown().await;
    Ok(())
}

/// sendMsgStatus: `count` sends to the topic named after a broker, each with its result and round trip.
pub async fn send_msg_status(ctx: &Ctx, broker_name: &str, size: usize, count: u32) -> Result<()> {
    let p = ctx.start_producer("PID_SMSC", "PID_SMSC").await?;
    // A warm-up send (as mqadmin), so the first row does not pay for the route lookup.
    let _ = p.send(Message::new(broker_name, vec![b'a'; 16])).await;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        rt_ms: u128,
        status: Option<String>,
        msg_id: Option<String>,
        queue_id: Option<i32>,
        error: Option<String>,
    }
    let mut rows = Vec::new();
    for _ in 0..count {
        let started = Instant::now();
        let sent = p.send(Message::new(broker_name, vec![b'a'; size])).await;
        let rt_ms = started.elapsed().as_millis();
        rows.push(match sent {
            Ok(r) => Row {
                rt_ms,
                status: Some(format!("{:?}", r.status)),
                msg_id: Some(r.msg_id.clone()),
                queue_id: Some(r.queue.queue_id),
                error: None,
            },
            Err(e) => Row {
                rt_ms,
                status: None,
                msg_id: None,
                queue_id: None,
                error: Some(e.to_string()),
            },
        });
    }
    p.shutdown().await;
    ctx.out.emit(&rows, || {
        rows.iter()
            .map(|r| match &r.error {
                None => format!(
                    "rt={}ms, SendResult=[sendStatus={}, msgId={}, queueId={}]\n",
                    r.rt_ms,
                    r.status.clone().unwrap_or_default(),
                    r.msg_id.clone().unwrap_or_default(),
                    r.queue_id.unwrap_or_default()
                ),
                Some(e) => format!("rt={}ms, error={e}\n", r.rt_ms),
            })
            .collect()
    })
}

/// checkMsgSendRT: sends spread over the topic's queues, each row with its queue, result and round trip.
pub async fn check_msg_send_rt(ctx: &Ctx, topic: &str, amount: u32, size: usize) -> Result<()> {
    let status = ctx.admin.topic_status(topic).await?;
    if status.queues.is_empty() {
        bail!("topic {topic} has no queue");
    }
    let p = ctx.start_producer("PID_SMSC", "PID_SMSC").await?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        broker_name: String,
        queue_id: i32,
        send_result: bool,
        rt_ms: f64,
    }
    let mut rows = Vec::new();
    let mut total = 0.0;
    for i in 0..amount as usize {
        let q = &status.queues[i % status.queues.len()].queue;
        let started = Instant::now();
        let sent = p
            .send_to_queue(Message::new(topic, vec![b'a'; size]), q)
            .await;
        let rt_ms = started.elapsed().as_secs_f64() * 1000.0;
        if i > 0 {
            total += rt_ms;
        }
        rows.push(Row {
            broker_name: q.broker_name.clone(),
            queue_id: q.queue_id,
            send_result: sent.is_ok_and(|r| r.status == SendStatus::SendOk),
            rt_ms,
        });
    }
    p.shutdown().await;
    let avg = total / f64::from(amount.saturating_sub(1).max(1));
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Out {
        sends: Vec<Row>,
        avg_rt_ms: f64,
    }
    let out = Out {
        sends: rows,
        avg_rt_ms: avg,
    };
    ctx.out.emit(&out, || {
        let mut t = Table::new(["#Broker Name", "#QID", "#Send Result", "#RT"]);
        for r in &out.sends {
            t.row([
                r.broker_name.clone(),
                r.queue_id.to_string(),
                r.send_result.to_string(),
                format!("{:.0}", r.rt_ms),
            ]);
        }
        format!("{}Avg RT: {:.2}\n", t.render(), out.avg_rt_ms)
    })
}
