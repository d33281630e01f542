//! One module per family of mqadmin commands, all run over one [`Ctx`]: the admin client, the output mode
//! and the client settings (for the producer `sendMessage` starts).

pub mod cluster;
pub mod consumer;
pub mod dlq;
pub mod maintenance;
pub mod message;
pub mod namesrv;
pub mod running;
pub mod stats;
pub mod topic;

use anyhow::{bail, Result};
use rmq_client::admin::{TopicStatus, TOOLS_CONSUMER_GROUP};
use rmq_client::{Admin, ClientConfig, MessageExt, Producer, ProducerOptions};
use rmq_protocol::body::ConsumerConnection;
use rmq_protocol::body::MessageQueue;
use rmq_protocol::codes::response;

use crate::cli::{Command, Target};
use crate::output::Output;

/// Pulls read this many messages at most (Java's tools pull 32 at a time).
const PULL_BATCH: i32 = 32;

/// What every command runs with.
#[derive(Debug)]
pub struct Ctx {
    /// Admin calls to the name servers and brokers.
    pub admin: Admin,
    /// JSON or text.
    pub out: Output,
    /// Name servers, timeouts and instance name, for clients other than the admin.
    pub config: ClientConfig,
}

impl Ctx {
    /// The broker addresses a `-b` / `-c` pair names: the one address, or every master of the cluster.
    ///
    /// # Errors
    /// An unknown cluster (the error lists the known ones), or no name server reachable.
    pub async fn targets(&self, target: &Target) -> Result<Vec<String>> {
        match (&target.broker_addr, &target.cluster) {
            (Some(addr), _) => Ok(vec![addr.clone()]),
            (None, Some(cluster)) => {
                let masters = self.admin.cluster_masters(cluster).await?;
                if masters.is_empty() {
                    bail!("cluster {cluster} has no master broker registered");
                }
                Ok(masters)
            }
            (None, None) => bail!("give a broker address (-b) or a cluster name (-c)"),
        }
    }

    /// Every master address the name servers know, sorted.
    pub async fn all_masters(&self) -> Result<Vec<String>> {
        Ok(self.admin.all_masters().await?)
    }

    /// Who is online in consumer group `group` (GET_CONSUMER_CONNECTION_LIST over every master).
    ///
    /// # Errors
    /// `consumer group <g> has no consumer online` when nobody is, or the admin call's failure.
    pub async fn online_members(&self, group: &str) -> Result<ConsumerConnection> {
        match self.admin.consumer_connections(group).await {
            Ok(cc) => Ok(cc),
            Err(e) if e.response_code() == Some(response::CONSUMER_NOT_ONLINE) => {
                bail!("consumer group {group} has no consumer online")
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Starts a producer of `group` on this command's name servers and timeouts, on the client instance
    /// `<instance name>-<instance>` (sendMessage, the send probes).
    ///
    /// # Errors
    /// The producer does not start.
    pub async fn start_producer(&self, group: &str, instance: &str) -> Result<Producer> {
        let mut opts = ProducerOptions::new(group, self.config.namesrv_addr.clone());
        opts.client = self
            .config
            .clone()
            .with_instance_name(format!("{}-{instance}", self.config.instance_name));
        opts.send_timeout = self.config.request_timeout;
        Ok(Producer::start(opts).await?)
    }

    /// Whether any master has settings for consumer group `group` (brokers create them when a group first
    /// heartbeats, pulls or commits, or through updateSubGroup).
    pub async fn group_known(&self, group: &str) -> Result<bool> {
        for addr in self.all_masters().await? {
            if self.admin.subscription_group(&addr, group).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Runs one parsed command.
///
/// # Errors
/// Whatever the command reports; `main` turns it into one line on stderr.
pub async fn run(ctx: &Ctx, command: Command) -> Result<()> {
    match command {
        Command::UpdateTopic {
            topic,
            target,
            read_queues,
            write_queues,
            perm,
            order,
            attributes,
        } => {
            topic::update_topic(
                ctx,
                topic::TopicArgs {
                    topic,
                    read_queues,
                    write_queues,
                    perm,
                    order,
                    attributes,
                },
                &target,
            )
            .await
        }
        Command::DeleteTopic { topic, cluster } => topic::delete_topic(ctx, &topic, &cluster).await,
        Command::TopicList { cluster_model } => {
            if cluster_model {
                maintenance::topic_list_by_cluster(ctx).await
            } else {
                topic::topic_list(ctx).await
            }
        }
        Command::TopicRoute { topic } => topic::topic_route(ctx, &topic).await,
        Command::TopicStatus { topic } => topic::topic_status(ctx, &topic).await,
        Command::TopicClusterList { topic } => topic::topic_cluster_list(ctx, &topic).await,
        Command::ClusterList {
            more_stats,
            interval,
            cluster,
            rounds,
        } => {
            let args = cluster::ClusterListArgs {
                more_stats,
                interval,
                cluster,
                rounds,
            };
            cluster::cluster_list(ctx, &args).await
        }
        Command::BrokerStatus { target } => cluster::broker_status(ctx, &target).await,
        Command::GetBrokerConfig { target } => cluster::broker_config(ctx, &target).await,
        Command::QueryMsgById { msg_id } => message::query_by_id(ctx, &msg_id).await,
        Command::QueryMsgByKey {
            topic,
            key,
            begin,
            end,
            max,
        } => message::query_by_key(ctx, &topic, &key, begin.as_deref(), end.as_deref(), max).await,
        Command::QueryMsgByOffset {
            topic,
            broker,
            queue_id,
            offset,
        } => {
            let queue = MessageQueue {
                topic,
                broker_name: broker,
                queue_id,
            };
            message::query_by_offset(ctx, &queue, offset).await
        }
        Command::PrintMsg {
            topic,
            sub_expression,
            begin,
            end,
            print_body,
            max_count,
        } => {
            message::print_msg(
                ctx,
                message::PrintArgs {
                    topic,
                    sub_expression,
                    begin,
                    end,
                    print_body,
                    max_count,
                },
            )
            .await
        }
        Command::SendMessage {
            topic,
            body,
            keys,
            tags,
            broker,
            queue_id,
        } => {
            message::send_message(
                ctx,
                message::SendArgs {
                    topic,
                    body,
                    keys,
                    tags,
                    queue: broker.zip(queue_id),
                },
            )
            .await
        }
        Command::ConsumeMessage {
            topic,
            group,
            count,
            broker,
            queue_id,
            offset,
            begin,
            end,
        } => {
            message::consume_message(
                ctx,
                message::ConsumeArgs {
                    topic,
                    group,
                    count,
                    queue: broker.zip(queue_id),
                    offset,
                    begin,
                    end,
                },
            )
            .await
        }
        Command::ConsumerProgress { group, topic } => {
            consumer::consumer_progress(ctx, &group, topic.as_deref()).await
        }
        Command::ConsumerConnection { group } => consumer::consumer_connection(ctx, &group).await,
        // ---- operations: running info, producers, offsets, stats, consume queues, config ----
        Command::ConsumerStatus {
            group,
            client_id,
            jstack,
        } => running::consumer_status(ctx, &group, client_id.as_deref(), jstack).await,
        Command::ProducerConnection { group, topic } => {
            running::producer_connection(ctx, &group, &topic).await
        }
        Command::UpdateBrokerConfig { target, key, value } => {
            maintenance::update_broker_config(ctx, &target, &key, &value).await
        }
        Command::UpdateTopicPerm {
            topic,
            target,
            perm,
        } => maintenance::update_topic_perm(ctx, &topic, &target, perm).await,
        Command::CloneGroupOffset {
            src,
            dest,
            topic,
            offline: _,
        } => maintenance::clone_group_offset(ctx, &src, &dest, &topic).await,
        Command::BrokerConsumeStats {
            broker_addr,
            level,
            order,
            timeout_millis: _,
        } => stats::broker_consume_stats(ctx, &broker_addr, level, order).await,
        Command::StatsAll { active, topic } => {
            stats::stats_all(ctx, active, topic.as_deref()).await
        }
        Command::QueryCq {
            topic,
            queue_id,
            index,
            count,
            broker,
            group,
        } => {
            let query = rmq_client::admin::ConsumeQueueQuery {
                topic,
                queue_id,
                index,
                count,
                group,
            };
            maintenance::query_cq(ctx, query, broker.as_deref()).await
        }
        Command::CleanExpiredCq {
            broker_addr,
            cluster,
        } => maintenance::clean(ctx, false, broker_addr.as_deref(), cluster.as_deref()).await,
        Command::CleanUnusedTopic {
            broker_addr,
            cluster,
        } => maintenance::clean(ctx, true, broker_addr.as_deref(), cluster.as_deref()).await,
        Command::QueryMsgByUniqueKey {
            key,
            topic,
            group,
            client_id,
            show_all,
        } => {
            let target = group.as_deref().zip(client_id.as_deref());
            running::query_by_unique_key(ctx, &topic, &key, target, show_all).await
        }
        Command::PrintMsgByQueue {
            topic,
            broker_name,
            queue_id,
            begin,
            end,
            sub_expression,
            print,
            print_body,
            calculate,
        } => {
            let args = maintenance::PrintByQueue {
                topic,
                broker_name,
                queue_id,
                begin,
                end,
                sub_expression,
                print,
                print_body,
                calculate,
            };
            maintenance::print_by_queue(ctx, args).await
        }
        Command::AllocateMq { topic, ip_list } => {
            maintenance::allocate_mq(ctx, &topic, &ip_list).await
        }
        Command::ClusterRt {
            amount,
            size,
            cluster,
            interval,
            rounds,
        } => stats::cluster_rt(ctx, amount, size, cluster.as_deref(), interval, rounds).await,
        Command::SendMsgStatus {
            broker_name,
            size,
            count,
        } => stats::send_msg_status(ctx, &broker_name, size, count).await,
        Command::CheckMsgSendRt {
            topic,
            amount,
            size,
        } => stats::check_msg_send_rt(ctx, &topic, amount, size).await,
        Command::UpdateSubGroup {
            group,
            target,
            consume_enable,
            consume_from_min_enable,
            consume_broadcast_enable,
            consume_message_orderly,
            retry_queue_nums,
            retry_max_times,
            broker_id,
            which_broker_when_consume_slowly,
            notify_consumer_ids_changed,
        } => {
            consumer::update_sub_group(
                ctx,
                &target,
                consumer::SubGroupArgs {
                    group,
                    consume_enable,
                    consume_from_min_enable,
                    consume_broadcast_enable,
                    consume_message_orderly,
                    retry_queue_nums,
                    retry_max_times,
                    broker_id,
                    which_broker_when_consume_slowly,
                    notify_consumer_ids_changed,
                },
            )
            .await
        }
        Command::DeleteSubGroup {
            group,
            target,
            remove_offset,
        } => consumer::delete_sub_group(ctx, &group, &target, remove_offset).await,
        Command::ResetOffsetByTime {
            group,
            topic,
            timestamp,
            force,
        } => consumer::reset_offset_by_time(ctx, &group, &topic, &timestamp, force).await,
        Command::DlqList { group, max_count } => dlq::dlq_list(ctx, &group, max_count).await,
        Command::DlqResend {
            group,
            msg_id,
            all: _,
            topic,
        } => dlq::dlq_resend(ctx, &group, msg_id.as_deref(), topic.as_deref()).await,
        // ---- name server (KV config, name-server config, write permission) ----
        Command::UpdateKvConfig {
            namespace,
            key,
            value,
        } => namesrv::update_kv_config(ctx, &namespace, &key, &value).await,
        Command::DeleteKvConfig { namespace, key } => {
            namesrv::delete_kv_config(ctx, &namespace, &key).await
        }
        Command::GetNamesrvConfig => namesrv::get_namesrv_config(ctx).await,
        Command::UpdateNamesrvConfig { key, value } => {
            namesrv::update_namesrv_config(ctx, &key, &value).await
        }
        Command::UpdateOrderConf {
            topic,
            method,
            order_conf,
        } => namesrv::update_order_conf(ctx, &topic, method, order_conf.as_deref()).await,
        Command::WipeWritePerm { broker_name } => {
            namesrv::write_perm(ctx, &broker_name, namesrv::PermChange::Wipe).await
        }
        Command::AddWritePerm { broker_name } => {
            namesrv::write_perm(ctx, &broker_name, namesrv::PermChange::Add).await
        }
    }
}

/// Reads `queue` from offset `from` up to (not including) `to`, at most `limit` messages, as `group` with
/// pulls that commit nothing.
///
/// # Errors
/// The first failing pull.
pub async fn read_range(
    ctx: &Ctx,
    group: &str,
    queue: &MessageQueue,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<MessageExt>> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < to && out.len() < limit {
        let left = i64::try_from(limit - out.len()).unwrap_or(i64::MAX);
        let want = (to - offset).min(left).min(i64::from(PULL_BATCH)) as i32;
        let pulled = ctx.admin.pull_messages(group, queue, offset, want).await?;
        let found = !pulled.messages.is_empty();
        for m in pulled.messages {
            if m.queue_offset >= to || out.len() >= limit {
                break;
            }
            if m.queue_offset >= offset {
                out.push(m);
            }
        }
        if pulled.next_offset <= offset || (!found && pulled.next_offset >= to) {
            break;
        }
        offset = pulled.next_offset;
    }
    Ok(out)
}

/// The queues of `topic` with their offsets, from the brokers now; `only` keeps one (broker name, queue id).
///
/// # Errors
/// An unknown topic, or a queue `only` names that the topic does not have.
pub async fn topic_queues(
    ctx: &Ctx,
    topic: &str,
    only: Option<(&str, i32)>,
) -> Result<TopicStatus> {
    let mut status = ctx.admin.topic_status(topic).await?;
    if let Some((broker, queue_id)) = only {
        status
            .queues
            .retain(|q| q.queue.broker_name == broker && q.queue.queue_id == queue_id);
        if status.queues.is_empty() {
            bail!("topic {topic} has no queue {queue_id} on broker {broker}");
        }
    }
    Ok(status)
}

/// The group pulls are made as when none is given.
pub fn tools_group(group: Option<&str>) -> &str {
    group.unwrap_or(TOOLS_CONSUMER_GROUP)
}
