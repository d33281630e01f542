//! Topic commands: updateTopic, deleteTopic, topicList, topicRoute, topicStatus, topicClusterList.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use rmq_client::admin::TopicSpec;
use rmq_protocol::message::sysflag::perm;
use serde::Serialize;

use super::Ctx;
use crate::cli::Target;
use crate::table::Table;
use crate::time::format_ms;

/// What updateTopic writes.
#[derive(Debug)]
pub struct TopicArgs {
    /// Topic name.
    pub topic: String,
    /// Read queues.
    pub read_queues: i32,
    /// Write queues.
    pub write_queues: i32,
    /// PermName bits.
    pub perm: i32,
    /// Ordered topic.
    pub order: bool,
    /// `-a` attributes, `+key=value,...`.
    pub attributes: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TopicWritten<'a> {
    topic: &'a str,
    read_queue_nums: i32,
    write_queue_nums: i32,
    perm: i32,
    order: bool,
    brokers: Vec<String>,
}

/// updateTopic: create or update the topic on `-b` or on every master of `-c`.
pub async fn update_topic(ctx: &Ctx, args: TopicArgs, target: &Target) -> Result<()> {
    let valid = [perm::READ, perm::WRITE, perm::READ | perm::WRITE];
    if !valid.contains(&args.perm) {
        bail!(
            "invalid -p perm {}: use 2 (write only), 4 (read only) or 6 (read and write)",
            args.perm
        );
    }
    let spec = TopicSpec {
        name: args.topic.clone(),
        read_queue_nums: args.read_queues,
        write_queue_nums: args.write_queues,
        perm: args.perm,
        order: args.order,
        attributes: args.attributes.clone(),
    };
    let brokers = ctx.targets(target).await?;
    for addr in &brokers {
        ctx.admin.create_topic(addr, &spec).await?;
    }
    let written = TopicWritten {
        topic: &args.topic,
        read_queue_nums: spec.read_queue_nums,
        write_queue_nums: spec.write_queue_nums,
        perm: spec.perm,
        order: spec.order,
        brokers,
    };
    ctx.out.emit(&written, || {
        let mut text: String = written
            .brokers
            .iter()
            .map(|a| format!("create topic to {a} success.\n"))
            .collect();
        text.push_str(&format!(
            "TopicConfig [topicName={}, readQueueNums={}, writeQueueNums={}, perm={}, order={}]\n",
            written.topic,
            written.read_queue_nums,
            written.write_queue_nums,
            written.perm,
            written.order
        ));
        text
    })
}

/// deleteTopic: remove the topic from every master of the cluster and from the name servers.
pub async fn delete_topic(ctx: &Ctx, topic: &str, cluster: &str) -> Result<()> {
    // An unknown topic is most likely a typo: say so instead of "deleting" nothing.
    ctx.admin.topic_route(topic).await?;
    ctx.admin.delete_topic(cluster, topic).await?;
    #[derive(Serialize)]
    struct Deleted<'a> {
        topic: &'a str,
        cluster: &'a str,
    }
    ctx.out.emit(&Deleted { topic, cluster }, || {
        format!("delete topic [{topic}] from cluster [{cluster}] success.\n")
    })
}

/// topicList: every routed topic, one per line.
pub async fn topic_list(ctx: &Ctx) -> Result<()> {
    let topics = ctx.admin.topic_list().await?;
    ctx.out.emit(&topics, || {
        topics.iter().map(|t| format!("{t}\n")).collect()
    })
}

/// topicRoute: the route as the name servers hold it (JSON is the route body itself, as mqadmin prints it).
pub async fn topic_route(ctx: &Ctx, topic: &str) -> Result<()> {
    let route = ctx.admin.topic_route(topic).await?;
    ctx.out.emit(&route, || {
        let mut brokers = Table::new(["#Cluster Name", "#Broker Name", "#BID", "#Addr"]);
        for bd in &route.broker_datas {
            for (id, addr) in &bd.broker_addrs {
                brokers.row([
                    bd.cluster.clone(),
                    bd.broker_name.clone(),
                    id.to_string(),
                    addr.clone(),
                ]);
            }
        }
        let mut queues = Table::new(["#Broker Name", "#Read Queues", "#Write Queues", "#Perm"]);
        for qd in &route.queue_datas {
            queues.row([
                qd.broker_name.clone(),
                qd.read_queue_nums.to_string(),
                qd.write_queue_nums.to_string(),
                qd.perm.to_string(),
            ]);
        }
        format!("{}\n{}", brokers.render(), queues.render())
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueueRow {
    broker_name: String,
    queue_id: i32,
    min_offset: i64,
    max_offset: i64,
    last_update_timestamp: Option<i64>,
}

/// topicStatus: min and max offset and last update time of every queue.
pub async fn topic_status(ctx: &Ctx, topic: &str) -> Result<()> {
    let status = ctx.admin.topic_status(topic).await?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Status<'a> {
        topic: &'a str,
        queues: Vec<QueueRow>,
    }
    let out = Status {
        topic,
        queues: status
            .queues
            .iter()
            .map(|q| QueueRow {
                broker_name: q.queue.broker_name.clone(),
                queue_id: q.queue.queue_id,
                min_offset: q.min_offset,
                max_offset: q.max_offset,
                last_update_timestamp: q.last_update_timestamp,
            })
            .collect(),
    };
    ctx.out.emit(&out, || {
        let mut t = Table::new([
            "#Broker Name",
            "#QID",
            "#Min Offset",
            "#Max Offset",
            "#Last Updated",
        ]);
        for q in &out.queues {
            t.row([
                q.broker_name.clone(),
                q.queue_id.to_string(),
                q.min_offset.to_string(),
                q.max_offset.to_string(),
                q.last_update_timestamp
                    .map_or_else(|| "-".to_string(), format_ms),
            ]);
        }
        t.render()
    })
}

/// topicClusterList: the clusters of the brokers serving the topic.
pub async fn topic_cluster_list(ctx: &Ctx, topic: &str) -> Result<()> {
    let route = ctx.admin.topic_route(topic).await?;
    let clusters: BTreeSet<String> = route
        .broker_datas
        .iter()
        .map(|bd| bd.cluster.clone())
        .collect();
    ctx.out.emit(&clusters, || {
        clusters.iter().map(|c| format!("{c}\n")).collect()
    })
}
