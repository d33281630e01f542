//! Message commands: queryMsgById, queryMsgByKey, queryMsgByOffset, printMsg, sendMessage, consumeMessage.
//!
//! printMsg and consumeMessage read as mqadmin does, with plain pulls that commit nothing (Java's tools use a
//! `DefaultMQPullConsumer` and never store its offsets), so looking at a topic never moves a group.

use anyhow::{anyhow, bail, Result};
use rmq_client::{ClientError, Message, SendStatus};
use rmq_protocol::body::MessageQueue;
use serde::Serialize;

use super::{read_range, tools_group, topic_queues, Ctx};
use crate::output::{message_table, MessageView};
use crate::table::Table;
use crate::time::parse_timestamp;

/// The producer group sendMessage sends as (Java `MixAll.DEFAULT_PRODUCER_GROUP`).
const PRODUCER_GROUP: &str = "DEFAULT_PRODUCER";

/// queryMsgById: one message by its offset message id.
pub async fn query_by_id(ctx: &Ctx, msg_id: &str) -> Result<()> {
    let m = match ctx.admin.view_message(msg_id).await {
        Ok(m) => m,
        Err(ClientError::Protocol(_)) => bail!(
            "{msg_id:?} is not an offset message id (32 hex characters: store host, port and commit-log \
             offset; sendMessage, queryMsgByKey and dlqList print it as the offset msg id)"
        ),
        Err(e) => return Err(e.into()),
    };
    let view = MessageView::new(&m, None);
    ctx.out.emit(&view, || view.render())
}

/// queryMsgByKey: messages of `topic` whose keys include `key`, oldest first.
pub async fn query_by_key(
    ctx: &Ctx,
    topic: &str,
    key: &str,
    begin: Option<&str>,
    end: Option<&str>,
    max: i32,
) -> Result<()> {
    let begin = begin
        .map(|b| parse_timestamp("-b beginTimestamp", b))
        .transpose()?
        .unwrap_or(0);
    let end = end
        .map(|e| parse_timestamp("-e endTimestamp", e))
        .transpose()?
        .unwrap_or(i64::MAX);
    let found = ctx
        .admin
        .query_messages(topic, key, max, begin, end)
        .await?;
    let views: Vec<MessageView> = found.iter().map(|m| MessageView::new(m, None)).collect();
    ctx.out.emit(&views, || {
        let mut t = Table::new(["#Message ID", "#Offset Msg ID", "#QID", "#Offset", "#Keys"]);
        for v in &views {
            t.row([
                v.msg_id.clone(),
                v.offset_msg_id.clone(),
                v.queue_id.to_string(),
                v.queue_offset.to_string(),
                v.keys.clone().unwrap_or_default(),
            ]);
        }
        t.render()
    })
}

/// queryMsgByOffset: the message at one offset of one queue.
pub async fn query_by_offset(ctx: &Ctx, queue: &MessageQueue, offset: i64) -> Result<()> {
    topic_queues(
        ctx,
        &queue.topic,
        Some((&queue.broker_name, queue.queue_id)),
    )
    .await?;
    let Some(m) = ctx.admin.message_at(queue, offset).await? else {
        bail!(
            "no message at offset {offset} of topic {} queue {} on broker {}",
            queue.topic,
            queue.queue_id,
            queue.broker_name
        );
    };
    let view = MessageView::new(&m, Some(&queue.broker_name));
    ctx.out.emit(&view, || view.render())
}

/// What printMsg reads.
#[derive(Debug)]
pub struct PrintArgs {
    /// Topic.
    pub topic: String,
    /// `*` or `TagA || TagB`.
    pub sub_expression: String,
    /// Begin time argument.
    pub begin: Option<String>,
    /// End time argument.
    pub end: Option<String>,
    /// Whether bodies are printed.
    pub print_body: bool,
    /// At most this many messages.
    pub max_count: Option<usize>,
}

/// printMsg: every message of every queue of the topic (between the times, with the tags), queue by queue.
pub async fn print_msg(ctx: &Ctx, args: PrintArgs) -> Result<()> {
    let tags = TagFilter::parse(&args.sub_expression);
    let range = TimeRange::parse(args.begin.as_deref(), args.end.as_deref())?;
    let limit = args.max_count.unwrap_or(usize::MAX);
    let status = topic_queues(ctx, &args.topic, None).await?;
    let mut views = Vec::new();
    for q in &status.queues {
        if views.len() >= limit {
            break;
        }
        let (from, to) = range
            .offsets(ctx, &q.queue, q.min_offset, q.max_offset)
            .await?;
        // With a tag filter the limit counts matches, so the queue is read to its end.
        let want = if tags.0.is_none() {
            limit - views.len()
        } else {
            usize::MAX
        };
        let got = read_range(ctx, tools_group(None), &q.queue, from, to, want).await?;
        views.extend(
            got.iter()
                .filter(|m| tags.matches(m.tags()))
                .map(|m| MessageView::new(m, Some(&q.queue.broker_name)))
                .take(limit - views.len()),
        );
    }
    ctx.out
        .emit(&views, || message_table(&views, args.print_body))
}

/// What sendMessage sends.
#[derive(Debug)]
pub struct SendArgs {
    /// Topic.
    pub topic: String,
    /// Body text.
    pub body: String,
    /// Keys, space separated.
    pub keys: Option<String>,
    /// Tag.
    pub tags: Option<String>,
    /// (broker name, queue id) to send to, else the producer picks.
    pub queue: Option<(String, i32)>,
}

/// sendMessage: send one message with a producer and print where it went.
pub async fn send_message(ctx: &Ctx, args: SendArgs) -> Result<()> {
    let producer = ctx.start_producer(PRODUCER_GROUP, "producer").await?;
    let mut msg = Message::new(&args.topic, args.body.clone());
    if let Some(keys) = &args.keys {
        msg = msg.with_keys(keys.split_whitespace());
    }
    if let Some(tags) = &args.tags {
        msg = msg.with_tags(tags);
    }
    let sent = match &args.queue {
        Some((broker, queue_id)) => {
            let queue = MessageQueue {
                topic: args.topic.clone(),
                broker_name: broker.clone(),
                queue_id: *queue_id,
            };
            producer.send_to_queue(msg, &queue).await
        }
        None => producer.send(msg).await,
    };
    producer.shutdown().await;
    let sent = sent?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Sent {
        topic: String,
        broker_name: String,
        queue_id: i32,
        queue_offset: i64,
        status: &'static str,
        msg_id: String,
        offset_msg_id: String,
    }
    let out = Sent {
        topic: sent.queue.topic.clone(),
        broker_name: sent.queue.broker_name.clone(),
        queue_id: sent.queue.queue_id,
        queue_offset: sent.queue_offset,
        status: match sent.status {
            SendStatus::SendOk => "SEND_OK",
            SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
            SendStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
            SendStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
        },
        msg_id: sent.msg_id,
        offset_msg_id: sent.offset_msg_id,
    };
    ctx.out.emit(&out, || {
        let mut t = Table::new([
            "#Broker Name",
            "#QID",
            "#Queue Offset",
            "#Send Result",
            "#MsgId",
            "#Offset Msg ID",
        ]);
        t.row([
            out.broker_name.clone(),
            out.queue_id.to_string(),
            out.queue_offset.to_string(),
            out.status.to_string(),
            out.msg_id.clone(),
            out.offset_msg_id.clone(),
        ]);
        t.render()
    })
}

/// What consumeMessage reads.
#[derive(Debug)]
pub struct ConsumeArgs {
    /// Topic.
    pub topic: String,
    /// Group the pulls are made as.
    pub group: Option<String>,
    /// Messages to print at most.
    pub count: u64,
    /// One queue only: (broker name, queue id).
    pub queue: Option<(String, i32)>,
    /// Start offset in that queue.
    pub offset: Option<i64>,
    /// Begin time argument.
    pub begin: Option<String>,
    /// End time argument.
    pub end: Option<String>,
}

/// consumeMessage: pull up to `count` messages from the start of each queue (or of the one queue, from `-o`),
/// oldest first, and print them; nothing is committed.
pub async fn consume_message(ctx: &Ctx, args: ConsumeArgs) -> Result<()> {
    let range = TimeRange::parse(args.begin.as_deref(), args.end.as_deref())?;
    let only = args.queue.as_ref().map(|(b, q)| (b.as_str(), *q));
    let status = topic_queues(ctx, &args.topic, only).await?;
    let group = tools_group(args.group.as_deref());
    let mut left = usize::try_from(args.count).map_err(|e| anyhow!("-c {}: {e}", args.count))?;
    let mut views = Vec::new();
    for q in &status.queues {
        if left == 0 {
            break;
        }
        let (mut from, to) = range
            .offsets(ctx, &q.queue, q.min_offset, q.max_offset)
            .await?;
        if let Some(o) = args.offset {
            from = from.max(o);
        }
        let got = read_range(ctx, group, &q.queue, from, to, left).await?;
        left -= got.len();
        views.extend(
            got.iter()
                .map(|m| MessageView::new(m, Some(&q.queue.broker_name))),
        );
    }
    ctx.out.emit(&views, || message_table(&views, true))
}

/// Which tags a printMsg expression takes: `*` (or empty) for all, else `A || B`.
struct TagFilter(Option<Vec<String>>);

impl TagFilter {
    fn parse(expr: &str) -> Self {
        let expr = expr.trim();
        if expr.is_empty() || expr == "*" {
            return TagFilter(None);
        }
        TagFilter(Some(
            expr.split("||")
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        ))
    }

    fn matches(&self, tags: Option<&str>) -> bool {
        match &self.0 {
            None => true,
            Some(wanted) => tags.is_some_and(|t| wanted.iter().any(|w| w == t)),
        }
    }
}

/// Optional begin and end store times, turned into queue offsets per queue.
struct TimeRange {
    begin: Option<i64>,
    end: Option<i64>,
}

impl TimeRange {
    fn parse(begin: Option<&str>, end: Option<&str>) -> Result<Self> {
        let range = TimeRange {
            begin: begin
                .map(|b| parse_timestamp("begin timestamp", b))
                .transpose()?,
            end: end
                .map(|e| parse_timestamp("end timestamp", e))
                .transpose()?,
        };
        if let (Some(b), Some(e)) = (range.begin, range.end) {
            if b > e {
                bail!("the begin timestamp {b} is after the end timestamp {e}");
            }
        }
        Ok(range)
    }

    /// `[from, to)` of `queue`: its `[min, max)` narrowed to the first messages stored at or after the begin
    /// and the end times (SEARCH_OFFSET_BY_TIMESTAMP, as mqadmin's tools do).
    async fn offsets(
        &self,
        ctx: &Ctx,
        queue: &MessageQueue,
        min: i64,
        max: i64,
    ) -> Result<(i64, i64)> {
        let from = match self.begin {
            Some(t) => ctx.admin.search_offset(queue, t).await?.max(min),
            None => min,
        };
        let to = match self.end {
            Some(t) => ctx.admin.search_offset(queue, t).await?.min(max),
            None => max,
        };
        Ok((from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_expressions_match_like_the_broker() {
        assert!(TagFilter::parse("*").matches(None));
        assert!(TagFilter::parse("").matches(Some("A")));
        let f = TagFilter::parse("A || B");
        assert!(f.matches(Some("A")) && f.matches(Some("B")));
        assert!(!f.matches(Some("C")) && !f.matches(None));
    }
}
