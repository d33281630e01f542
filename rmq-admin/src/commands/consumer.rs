//! Consumer group commands: consumerProgress, consumerConnection, updateSubGroup, deleteSubGroup,
//! resetOffsetByTime.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use rmq_client::admin::{ConsumerProgress, SubscriptionGroupConfig, TopicSpec};
use rmq_client::consumer::{dlq_topic, retry_topic};
use rmq_client::ClientError;
use rmq_protocol::body::MessageQueue;
use rmq_protocol::codes::response;
use serde::Serialize;

use super::Ctx;
use crate::cli::Target;
use crate::table::{key_values, Table};
use crate::time::{format_ms, parse_timestamp};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProgressRow {
    topic: String,
    broker_name: String,
    queue_id: i32,
    broker_offset: i64,
    consumer_offset: i64,
    lag: i64,
    last_timestamp: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TopicProgress {
    topic: String,
    total_lag: i64,
    queues: Vec<ProgressRow>,
}

/// consumerProgress: per queue broker offset, consumer offset and lag, for one topic (`-t`) or every topic the
/// group has offsets on (its retry topic included, as mqadmin shows it).
///
/// Consume TPS is not shown: brokers report it in GET_CONSUME_STATS, but rmq's broker does not measure it
/// (always 0.0) and `Admin`'s progress leaves it out.
pub async fn consumer_progress(ctx: &Ctx, group: &str, topic: Option<&str>) -> Result<()> {
    let progress: Vec<ConsumerProgress> = match topic {
        Some(t) => vec![ctx.admin.consumer_progress(group, t).await?],
        None => {
            let all = ctx.admin.consumer_progress_all(group).await?;
            if all.is_empty() && !ctx.group_known(group).await? {
                bail!("consumer group {group} does not exist (no broker knows it)");
            }
            all.into_values().collect()
        }
    };
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Progress<'a> {
        group: &'a str,
        total_lag: i64,
        topics: Vec<TopicProgress>,
    }
    let out = Progress {
        group,
        total_lag: progress.iter().map(|p| p.total_lag).sum(),
        topics: progress
            .iter()
            .map(|p| TopicProgress {
                topic: p.topic.clone(),
                total_lag: p.total_lag,
                queues: p
                    .queues
                    .iter()
                    .map(|q| ProgressRow {
                        topic: q.queue.topic.clone(),
                        broker_name: q.queue.broker_name.clone(),
                        queue_id: q.queue.queue_id,
                        broker_offset: q.broker_offset,
                        consumer_offset: q.consumer_offset.unwrap_or(0),
                        lag: q.lag,
                        last_timestamp: q.last_timestamp,
                    })
                    .collect(),
            })
            .collect(),
    };
    ctx.out.emit(&out, || {
        let mut t = Table::new([
            "#Topic",
            "#Broker Name",
            "#QID",
            "#Broker Offset",
            "#Consumer Offset",
            "#Diff",
            "#LastTime",
        ]);
        for q in out.topics.iter().flat_map(|t| &t.queues) {
            t.row([
                q.topic.clone(),
                q.broker_name.clone(),
                q.queue_id.to_string(),
                q.broker_offset.to_string(),
                q.consumer_offset.to_string(),
                q.lag.to_string(),
                q.last_timestamp.map_or_else(|| "-".to_string(), format_ms),
            ]);
        }
        format!("{}\nDiff Total: {}\n", t.render(), out.total_lag)
    })
}

/// consumerConnection: who is online in the group and what it subscribes to.
pub async fn consumer_connection(ctx: &Ctx, group: &str) -> Result<()> {
    let cc = ctx.online_members(group).await?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Sub {
        topic: String,
        sub_expression: String,
        expression_type: String,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Connections<'a> {
        group: &'a str,
        connections: Vec<rmq_protocol::body::Connection>,
        subscriptions: Vec<Sub>,
        consume_type: String,
        message_model: String,
        consume_from_where: String,
    }
    let mut connections = cc.connection_set.clone();
    connections.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    let mut subscriptions: Vec<Sub> = cc
        .subscription_table
        .iter()
        .map(|(topic, s)| Sub {
            topic: topic.clone(),
            sub_expression: s.sub_string.clone(),
            expression_type: s.expression_type.clone(),
        })
        .collect();
    subscriptions.sort_by(|a, b| a.topic.cmp(&b.topic));
    let out = Connections {
        group,
        connections,
        subscriptions,
        consume_type: cc.consume_type,
        message_model: cc.message_model,
        consume_from_where: cc.consume_from_where,
    };
    ctx.out.emit(&out, || {
        let mut conns = Table::new(["#ClientId", "#ClientAddr", "#Language", "#Version"]);
        for c in &out.connections {
            conns.row([
                c.client_id.clone(),
                c.client_addr.clone(),
                c.language.clone(),
                c.version.to_string(),
            ]);
        }
        let mut subs = Table::new(["#Topic", "#SubExpression", "#Type"]);
        for s in &out.subscriptions {
            subs.row([
                s.topic.clone(),
                s.sub_expression.clone(),
                s.expression_type.clone(),
            ]);
        }
        format!(
            "{}\nBelow is subscription:\n{}\n{}",
            conns.render(),
            subs.render(),
            key_values([
                ("ConsumeType", out.consume_type.clone()),
                ("MessageModel", out.message_model.clone()),
                ("ConsumeFromWhere", out.consume_from_where.clone()),
            ])
        )
    })
}

/// updateSubGroup's settings; `None` keeps mqadmin's default.
#[derive(Debug)]
pub struct SubGroupArgs {
    /// Group name.
    pub group: String,
    /// -s
    pub consume_enable: Option<bool>,
    /// -m
    pub consume_from_min_enable: Option<bool>,
    /// -d
    pub consume_broadcast_enable: Option<bool>,
    /// -o
    pub consume_message_orderly: Option<bool>,
    /// -q
    pub retry_queue_nums: Option<i32>,
    /// -r
    pub retry_max_times: Option<i32>,
    /// -i
    pub broker_id: Option<i64>,
    /// -w
    pub which_broker_when_consume_slowly: Option<i64>,
    /// -a
    pub notify_consumer_ids_changed: Option<bool>,
}

impl SubGroupArgs {
    /// The config mqadmin writes: Java's defaults, except broadcast and from-min off, then the options given.
    fn config(&self) -> SubscriptionGroupConfig {
        let mut c = SubscriptionGroupConfig {
            consume_broadcast_enable: false,
            consume_from_min_enable: false,
            ..SubscriptionGroupConfig::new(self.group.trim())
        };
        let set = |field: &mut bool, v: Option<bool>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut c.consume_enable, self.consume_enable);
        set(&mut c.consume_from_min_enable, self.consume_from_min_enable);
        set(
            &mut c.consume_broadcast_enable,
            self.consume_broadcast_enable,
        );
        set(&mut c.consume_message_orderly, self.consume_message_orderly);
        set(
            &mut c.notify_consumer_ids_changed_enable,
            self.notify_consumer_ids_changed,
        );
        c.retry_queue_nums = self.retry_queue_nums.unwrap_or(c.retry_queue_nums);
        c.retry_max_times = self.retry_max_times.unwrap_or(c.retry_max_times);
        c.broker_id = self.broker_id.unwrap_or(c.broker_id);
        c.which_broker_when_consume_slowly = self
            .which_broker_when_consume_slowly
            .unwrap_or(c.which_broker_when_consume_slowly);
        c
    }
}

/// updateSubGroup: write the group's settings to `-b` or every master of `-c`; a changed `-q` also resizes the
/// group's existing retry topic on those brokers, as mqadmin does.
pub async fn update_sub_group(ctx: &Ctx, target: &Target, args: SubGroupArgs) -> Result<()> {
    let config = args.config();
    if let Some(q) = args.retry_queue_nums {
        if !(1..=1024).contains(&q) {
            bail!("invalid -q retryQueueNums {q}: use 1 to 1024");
        }
    }
    let brokers = ctx.targets(target).await?;
    for addr in &brokers {
        ctx.admin.create_subscription_group(addr, &config).await?;
    }
    if args.retry_queue_nums.is_some() {
        resize_retry_topic(ctx, &config, &brokers).await?;
    }
    #[derive(Serialize)]
    struct Written<'a> {
        brokers: &'a [String],
        config: &'a SubscriptionGroupConfig,
    }
    ctx.out.emit(
        &Written {
            brokers: &brokers,
            config: &config,
        },
        || {
            let mut text: String = brokers
                .iter()
                .map(|a| format!("create subscription group to {a} success.\n"))
                .collect();
            if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&config) {
                text.push_str(&key_values(fields.iter().map(|(k, v)| {
                    (k.as_str(), v.to_string().trim_matches('"').to_string())
                })));
            }
            text
        },
    )
}

/// Gives `%RETRY%group` `retry_queue_nums` queues on each of `brokers` that already serves it.
async fn resize_retry_topic(
    ctx: &Ctx,
    config: &SubscriptionGroupConfig,
    brokers: &[String],
) -> Result<()> {
    let retry = retry_topic(&config.group_name);
    let route = match ctx.admin.topic_route(&retry).await {
        Ok(r) => r,
        Err(ClientError::NoRoute { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for bd in &route.broker_datas {
        let Some(addr) = bd.master_addr().filter(|a| brokers.iter().any(|b| b == a)) else {
            continue;
        };
        let Some(qd) = route
            .queue_datas
            .iter()
            .find(|qd| qd.broker_name == bd.broker_name)
        else {
            continue;
        };
        if qd.write_queue_nums != config.retry_queue_nums {
            let spec = TopicSpec {
                perm: qd.perm,
                ..TopicSpec::new(&retry, config.retry_queue_nums)
            };
            ctx.admin.create_topic(addr, &spec).await?;
        }
    }
    Ok(())
}

/// deleteSubGroup: remove the group's settings (and offsets with `-r true`) from `-b` or every master of
/// `-c`; with `-c` also the group's retry and dead-letter topics, as mqadmin does.
pub async fn delete_sub_group(
    ctx: &Ctx,
    group: &str,
    target: &Target,
    remove_offset: bool,
) -> Result<()> {
    let brokers = ctx.targets(target).await?;
    let mut known = false;
    for addr in &brokers {
        known |= ctx.admin.subscription_group(addr, group).await?.is_some();
    }
    if !known {
        bail!(
            "consumer group {group} does not exist on {}",
            brokers.join(", ")
        );
    }
    for addr in &brokers {
        ctx.admin
            .delete_subscription_group(addr, group, remove_offset)
            .await?;
    }
    let mut deleted_topics = Vec::new();
    if let Some(cluster) = &target.cluster {
        for topic in [retry_topic(group), dlq_topic(group)] {
            match ctx.admin.topic_route(&topic).await {
                Ok(_) => {
                    ctx.admin.delete_topic(cluster, &topic).await?;
                    deleted_topics.push(topic);
                }
                Err(ClientError::NoRoute { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Deleted<'a> {
        group: &'a str,
        brokers: &'a [String],
        remove_offset: bool,
        deleted_topics: &'a [String],
    }
    ctx.out.emit(
        &Deleted {
            group,
            brokers: &brokers,
            remove_offset,
            deleted_topics: &deleted_topics,
        },
        || {
            let mut text: String = brokers
                .iter()
                .map(|a| {
                    format!("delete subscription group [{group}] from broker [{a}] success.\n")
                })
                .collect();
            for t in &deleted_topics {
                text.push_str(&format!("delete topic [{t}] success.\n"));
            }
            text
        },
    )
}

/// resetOffsetByTime: move the group's offsets on the topic to `timestamp` through the brokers, which tell the
/// running members (INVOKE_BROKER_TO_RESET_OFFSET); when the broker answers that nobody is online (an Apache
/// broker's CONSUMER_NOT_ONLINE) or does not know the request, commit the offsets directly instead, as mqadmin's
/// `resetOffsetByTimeOld` fallback does.
pub async fn reset_offset_by_time(
    ctx: &Ctx,
    group: &str,
    topic: &str,
    timestamp: &str,
    force: bool,
) -> Result<()> {
    let ts = parse_timestamp("-s timestamp", timestamp)?;
    let old = ctx.admin.committed_offsets(group, topic).await?;
    let (mode, new): (&str, BTreeMap<MessageQueue, i64>) = match ctx
        .admin
        .reset_offset_running(group, topic, ts, force)
        .await
    {
        Ok(table) => ("running", table),
        Err(e)
            if matches!(
                e.response_code(),
                Some(response::CONSUMER_NOT_ONLINE | response::REQUEST_CODE_NOT_SUPPORTED)
            ) =>
        {
            let stats = ctx
                .admin
                .reset_offset_by_timestamp(group, topic, ts, force)
                .await?;
            (
                "offline",
                stats
                    .into_iter()
                    .map(|s| (s.queue, s.rollback_offset))
                    .collect(),
            )
        }
        Err(e) if e.response_code() == Some(response::SUBSCRIPTION_GROUP_NOT_EXIST) => {
            bail!("consumer group {group} does not exist (the broker has neither its settings, members nor offsets)")
        }
        Err(e) => return Err(e.into()),
    };
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        broker_name: String,
        queue_id: i32,
        old_offset: i64,
        new_offset: i64,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Reset<'a> {
        group: &'a str,
        topic: &'a str,
        timestamp: i64,
        force: bool,
        mode: &'a str,
        queues: Vec<Row>,
    }
    let out = Reset {
        group,
        topic,
        timestamp: ts,
        force,
        mode,
        queues: new
            .iter()
            .map(|(q, n)| Row {
                broker_name: q.broker_name.clone(),
                queue_id: q.queue_id,
                old_offset: old.get(q).copied().flatten().unwrap_or(0),
                new_offset: *n,
            })
            .collect(),
    };
    ctx.out.emit(&out, || {
        let mut t = Table::new(["#Broker Name", "#QID", "#Old Offset", "#New Offset"]);
        for r in &out.queues {
            t.row([
                r.broker_name.clone(),
                r.queue_id.to_string(),
                r.old_offset.to_string(),
                r.new_offset.to_string(),
            ]);
        }
        let how = match mode {
            "running" => "through the brokers; online members restart from the new offsets",
            _ => "offline: offsets committed directly; running members would overwrite them",
        };
        format!(
            "reset group [{group}] on topic [{topic}] to {} ({ts}), force={force}, {how}\n{}",
            format_ms(ts),
            t.render()
        )
    })
}
