//! Commands that change or inspect a broker's state: updateBrokerConfig, updateTopicPerm, cloneGroupOffset,
//! queryCq, cleanExpiredCQ, cleanUnusedTopic, allocateMQ, printMsgByQueue and topicList -c.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context, Result};
use rmq_client::admin::{ConsumeQueueQuery, TopicSpec};
use rmq_client::consumer::{AllocateStrategy, Averagely};
use rmq_protocol::body::MessageQueue;
use rmq_protocol::message::sysflag::perm as perm_bits;
use rmq_protocol::topic::{is_dlq_topic, is_retry_topic};
use serde::Serialize;

use super::{read_range, tools_group, Ctx};
use crate::cli::Target;
use crate::output::{message_table, MessageView};
use crate::table::Table;
use crate::time::parse_timestamp;

/// updateBrokerConfig: one key on `-b` or every master of `-c`; prints what each broker said.
pub async fn update_broker_config(
    ctx: &Ctx,
    target: &Target,
    key: &str,
    value: &str,
) -> Result<()> {
    if key == "brokerPermission" {
        match value.trim().parse::<i32>() {
            Ok(p) if (0..8).contains(&p) => {}
            _ => bail!("brokerPermission value: {value} is invalid."),
        }
    }
    let values = BTreeMap::from([(key.to_owned(), value.to_owned())]);
    let mut results = BTreeMap::new();
    for addr in ctx.targets(target).await? {
        let remark = ctx.admin.update_broker_config(&addr, &values).await?;
        results.insert(addr, remark);
    }
    ctx.out.emit(&results, || {
        results
            .iter()
            .map(|(addr, remark)| {
                if remark.is_empty() {
                    format!("update broker config success, {addr}\n")
                } else {
                    format!("update broker config success, {addr}: {remark}\n")
                }
            })
            .collect()
    })
}

/// updateTopicPerm: the topic's config from its route with a new permission, written to `-b` (when it serves
/// the topic) or every master of `-c`.
pub async fn update_topic_perm(ctx: &Ctx, topic: &str, target: &Target, perm: i32) -> Result<()> {
    let route = ctx.admin.topic_route(topic).await?;
    let Some(qd) = route.queue_datas.first() else {
        bail!("topic {topic} has no queues in its route");
    };
    let old = qd.perm;
    let addrs: Vec<String> = match (&target.broker_addr, &target.cluster) {
        (Some(addr), _) => {
            let is_master = route
                .broker_datas
                .iter()
                .any(|bd| bd.master_addr() == Some(addr.as_str()));
            if !is_master {
                bail!("updateTopicPerm error broker not exit or broker is not master!.");
            }
            if old == perm {
                bail!("new perm equals to the old one!");
            }
            vec![addr.clone()]
        }
        _ => ctx.targets(target).await?,
    };
    let spec = TopicSpec {
        name: topic.to_owned(),
        read_queue_nums: qd.read_queue_nums,
        write_queue_nums: qd.write_queue_nums,
        perm,
        order: false,
        attributes: String::new(),
    };
    for addr in &addrs {
        ctx.admin.create_topic(addr, &spec).await?;
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Changed<'a> {
        topic: &'a str,
        old_perm: i32,
        new_perm: i32,
        brokers: &'a [String],
    }
    let out = Changed {
        topic,
        old_perm: old,
        new_perm: perm,
        brokers: &addrs,
    };
    ctx.out.emit(&out, || {
        addrs
            .iter()
            .map(|a| format!("update topic perm from {old} to {perm} in {a} success.\n"))
            .collect()
    })
}

/// cloneGroupOffset: `src`'s committed offsets on `topic` become `dest`'s (as mqadmin: read, then commit).
pub async fn clone_group_offset(ctx: &Ctx, src: &str, dest: &str, topic: &str) -> Result<()> {
    let copied = ctx.admin.clone_group_offsets(src, dest, topic).await?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Copied {
        broker_name: String,
        queue_id: i32,
        offset: i64,
    }
    let rows: Vec<Copied> = copied
        .into_iter()
        .map(|(mq, offset)| Copied {
            broker_name: mq.broker_name,
            queue_id: mq.queue_id,
            offset,
        })
        .collect();
    ctx.out.emit(&rows, || {
        format!("clone group offset success. srcGroup[{src}], destGroup=[{dest}], topic[{topic}]\n")
    })
}

/// queryCq: raw consume-queue units.
pub async fn query_cq(ctx: &Ctx, query: ConsumeQueueQuery, broker: Option<&str>) -> Result<()> {
    let addr = match broker {
        Some(a) => a.to_owned(),
        None => {
            let route = ctx.admin.topic_route(&query.topic).await?;
            let mut datas = route.broker_datas.clone();
            datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
            datas
                .iter()
                .find_map(|bd| bd.master_addr().map(str::to_owned))
                .with_context(|| format!("topic {} has no master broker", query.topic))?
        }
    };
    let body = ctx.admin.query_consume_queue(&addr, &query).await?;
    ctx.out.emit(&body, || {
        let mut out = String::new();
        if let Some(s) = &body.subscription_data {
            out.push_str(&format!(
                "Subscription data: \n{}\n",
                serde_json::to_string_pretty(s).unwrap_or_default()
            ));
        }
        if let Some(f) = &body.filter_data {
            out.push_str(&format!("Filter data: \n{f}\n"));
        }
        out.push_str(&format!(
            "Queue data: \nmax: {}, min: {}\n",
            body.max_queue_index, body.min_queue_index
        ));
        let mut t = Table::new(["#Idx", "#PhysicOffset", "#PhysicSize", "#TagsCode", "#Eval"]);
        for (i, d) in body.queue_data.iter().enumerate() {
            t.row([
                (query.index + i as i64).to_string(),
                d.physic_offset.to_string(),
                d.physic_size.to_string(),
                d.tags_code.to_string(),
                d.eval.to_string(),
            ]);
        }
        out.push_str(&t.render());
        out
    })
}

/// The brokers cleanExpiredCQ / cleanUnusedTopic go to: `-b`, every address of `-c`'s brokers, or every
/// address of every cluster (masters and slaves, as mqadmin).
async fn clean_targets(
    ctx: &Ctx,
    broker: Option<&str>,
    cluster: Option<&str>,
) -> Result<Vec<String>> {
    if let Some(b) = broker {
        return Ok(vec![b.to_owned()]);
    }
    let info = ctx.admin.cluster_info().await?;
    let mut addrs = BTreeSet::new();
    for (name, members) in &info.cluster_addr_table {
        if cluster.is_some_and(|c| c != name) {
            continue;
        }
        for b in members {
            if let Some(bd) = info.broker_addr_table.get(b) {
                addrs.extend(bd.broker_addrs.values().cloned());
            }
        }
    }
    if let Some(c) = cluster {
        if addrs.is_empty() {
            bail!("cluster {c} has no broker registered");
        }
    }
    Ok(addrs.into_iter().collect())
}

/// cleanExpiredCQ / cleanUnusedTopic on the chosen brokers; prints `success` when every broker took it.
pub async fn clean(
    ctx: &Ctx,
    unused_topics: bool,
    broker: Option<&str>,
    cluster: Option<&str>,
) -> Result<()> {
    let addrs = clean_targets(ctx, broker, cluster).await?;
    for addr in &addrs {
        if unused_topics {
            ctx.admin.clean_unused_topic(addr).await?;
        } else {
            ctx.admin.clean_expired_consume_queue(addr).await?;
        }
    }
    #[derive(Serialize)]
    struct Cleaned<'a> {
        brokers: &'a [String],
        success: bool,
    }
    ctx.out.emit(
        &Cleaned {
            brokers: &addrs,
            success: true,
        },
        || "success\n".to_owned(),
    )
}

/// allocateMQ: the averagely split of the topic's readable queues among `ip_list`, computed here.
pub async fn allocate_mq(ctx: &Ctx, topic: &str, ip_list: &str) -> Result<()> {
    let route = ctx.admin.topic_route(topic).await?;
    let mut mqs = Vec::new();
    for qd in &route.queue_datas {
        if !perm_bits::is_readable(qd.perm) {
            continue;
        }
        for q in 0..qd.read_queue_nums {
            mqs.push(MessageQueue {
                topic: topic.to_owned(),
                broker_name: qd.broker_name.clone(),
                queue_id: q,
            });
        }
    }
    let ips: Vec<String> = ip_list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if ips.is_empty() {
        bail!("-i ipList names no client");
    }
    let mut result: BTreeMap<String, Vec<MessageQueue>> = BTreeMap::new();
    for ip in &ips {
        result.insert(ip.clone(), Averagely.allocate("aa", ip, &mqs, &ips));
    }
    #[derive(Serialize)]
    struct RebalanceResult {
        result: BTreeMap<String, Vec<MessageQueue>>,
    }
    let out = RebalanceResult { result };
    ctx.out.emit(&out, || {
        let mut s = serde_json::to_string(&out).unwrap_or_default();
        s.push('\n');
        s
    })
}

/// printMsgByQueue's options.
#[derive(Debug)]
pub struct PrintByQueue {
    /// Topic.
    pub topic: String,
    /// Broker name.
    pub broker_name: String,
    /// Queue id.
    pub queue_id: i32,
    /// Start time.
    pub begin: Option<String>,
    /// End time.
    pub end: Option<String>,
    /// Tags to keep (`*`: all).
    pub sub_expression: String,
    /// Print each message.
    pub print: bool,
    /// With bodies.
    pub print_body: bool,
    /// Count per tag.
    pub calculate: bool,
}

/// printMsgByQueue: the queue's messages (in the time range), printed and/or counted per tag.
pub async fn print_by_queue(ctx: &Ctx, a: PrintByQueue) -> Result<()> {
    let queue = MessageQueue {
        topic: a.topic.clone(),
        broker_name: a.broker_name.clone(),
        queue_id: a.queue_id,
    };
    let status = super::topic_queues(ctx, &a.topic, Some((&a.broker_name, a.queue_id))).await?;
    let Some(q) = status.queues.first() else {
        bail!(
            "topic {} has no queue {} on broker {}",
            a.topic,
            a.queue_id,
            a.broker_name
        );
    };
    let from = match &a.begin {
        Some(b) => {
            ctx.admin
                .search_offset(&queue, parse_timestamp("-b beginTimestamp", b)?)
                .await?
        }
        None => q.min_offset,
    };
    let to = match &a.end {
        Some(e) => {
            ctx.admin
                .search_offset(&queue, parse_timestamp("-e endTimestamp", e)?)
                .await?
        }
        None => q.max_offset,
    };
    let tags: Option<BTreeSet<String>> = (a.sub_expression.trim() != "*").then(|| {
        a.sub_expression
            .split("||")
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect()
    });
    let msgs = read_range(ctx, tools_group(None), &queue, from, to, usize::MAX).await?;
    let kept: Vec<MessageView> = msgs
        .iter()
        .filter(|m| {
            tags.as_ref()
                .is_none_or(|t| m.tags().is_some_and(|tag| t.contains(tag)))
        })
        .map(|m| MessageView::new(m, Some(&a.broker_name)))
        .collect();
    let mut per_tag: BTreeMap<String, usize> = BTreeMap::new();
    for v in &kept {
        *per_tag
            .entry(v.tags.clone().unwrap_or_default())
            .or_default() += 1;
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Printed<'a> {
        from: i64,
        to: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        messages: Option<&'a [MessageView]>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tag_counts: Option<&'a BTreeMap<String, usize>>,
    }
    let out = Printed {
        from,
        to,
        messages: (a.print || !a.calculate).then_some(&kept[..]),
        tag_counts: a.calculate.then_some(&per_tag),
    };
    ctx.out.emit(&out, || {
        let mut s = String::new();
        if a.print || !a.calculate {
            s.push_str(&message_table(&kept, a.print_body));
        }
        if a.calculate {
            let mut counts: Vec<_> = per_tag.iter().collect();
            counts.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
            for (tag, n) in counts {
                s.push_str(&format!("Tag: {tag:<30} Count: {n}\n"));
            }
        }
        s
    })
}

/// topicList -c: per topic (not retry or DLQ), its cluster and the groups consuming it.
pub async fn topic_list_by_cluster(ctx: &Ctx) -> Result<()> {
    let topics = ctx.admin.topic_list().await?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        cluster: String,
        topic: String,
        consumer_groups: Vec<String>,
    }
    let mut rows = Vec::new();
    for topic in topics {
        if is_retry_topic(&topic) || is_dlq_topic(&topic) {
            continue;
        }
        let Ok(route) = ctx.admin.topic_route(&topic).await else {
            continue;
        };
        let cluster = route
            .broker_datas
            .first()
            .map(|bd| bd.cluster.clone())
            .unwrap_or_default();
        let groups = ctx
            .admin
            .topic_consumed_by(&topic)
            .await
            .map(|g| g.into_iter().collect())
            .unwrap_or_default();
        rows.push(Row {
            cluster,
            topic,
            consumer_groups: groups,
        });
    }
    ctx.out.emit(&rows, || {
        let mut t = Table::new(["#Cluster Name", "#Topic", "#Consumer Group"]);
        for r in &rows {
            if r.consumer_groups.is_empty() {
                t.row([r.cluster.clone(), r.topic.clone(), String::new()]);
            }
            for g in &r.consumer_groups {
                t.row([r.cluster.clone(), r.topic.clone(), g.clone()]);
            }
        }
        t.render()
    })
}
