//! Dead letters: dlqList and dlqResend over a group's `%DLQ%<group>` topic.
//!
//! dlqResend puts a dead letter back on its original topic with RMQ_RESEND_DLQ_MESSAGE, an rmq broker
//! extension (an Apache broker answers REQUEST_CODE_NOT_SUPPORTED). The dead letter itself stays in the DLQ,
//! as in RocketMQ: resending twice delivers twice.

use anyhow::{bail, Result};
use rmq_client::consumer::dlq_topic;
use rmq_client::ClientError;
use serde::Serialize;

use super::{read_range, tools_group, Ctx};
use crate::output::{original_topic, MessageView};
use crate::table::Table;
use crate::time::format_ms;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeadLetter {
    offset_msg_id: String,
    msg_id: String,
    original_topic: Option<String>,
    keys: Option<String>,
    tags: Option<String>,
    reconsume_times: i32,
    store_timestamp: i64,
    queue_id: i32,
    queue_offset: i64,
    body: String,
    body_encoding: &'static str,
}

impl DeadLetter {
    fn new(v: MessageView) -> Self {
        DeadLetter {
            original_topic: original_topic(&v).map(str::to_string),
            offset_msg_id: v.offset_msg_id,
            msg_id: v.msg_id,
            keys: v.keys,
            tags: v.tags,
            reconsume_times: v.reconsume_times,
            store_timestamp: v.store_timestamp,
            queue_id: v.queue_id,
            queue_offset: v.queue_offset,
            body: v.body,
            body_encoding: v.body_encoding,
        }
    }
}

/// Every dead letter of `group`, oldest first per queue, at most `limit`. A group without a DLQ topic has
/// none; a group no broker knows is an error.
async fn dead_letters(ctx: &Ctx, group: &str, limit: usize) -> Result<Vec<DeadLetter>> {
    let dlq = dlq_topic(group);
    let status = match ctx.admin.topic_status(&dlq).await {
        Ok(s) => s,
        Err(ClientError::NoRoute { .. }) => {
            if ctx.group_known(group).await? {
                return Ok(Vec::new());
            }
            bail!("consumer group {group} does not exist (no broker knows it, and there is no topic {dlq})");
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for q in &status.queues {
        if out.len() >= limit {
            break;
        }
        let got = read_range(
            ctx,
            tools_group(None),
            &q.queue,
            q.min_offset,
            q.max_offset,
            limit - out.len(),
        )
        .await?;
        out.extend(
            got.iter()
                .map(|m| DeadLetter::new(MessageView::new(m, Some(&q.queue.broker_name)))),
        );
    }
    Ok(out)
}

/// dlqList: the group's dead letters with their ids, original topic, keys, reconsume times and store time.
pub async fn dlq_list(ctx: &Ctx, group: &str, max_count: Option<usize>) -> Result<()> {
    let letters = dead_letters(ctx, group, max_count.unwrap_or(usize::MAX)).await?;
    ctx.out.emit(&letters, || {
        let mut t = Table::new([
            "#Offset Msg ID",
            "#Msg ID",
            "#Original Topic",
            "#Keys",
            "#Reconsume Times",
            "#Store Time",
        ]);
        for d in &letters {
            t.row([
                d.offset_msg_id.clone(),
                d.msg_id.clone(),
                d.original_topic.clone().unwrap_or_else(|| "-".to_string()),
                d.keys.clone().unwrap_or_default(),
                d.reconsume_times.to_string(),
                format_ms(d.store_timestamp),
            ]);
        }
        t.render()
    })
}

/// dlqResend: resend one dead letter (`msg_id`, checked to be in the group's DLQ) or all of them (`None`) to
/// the original topic, or to `topic`.
pub async fn dlq_resend(
    ctx: &Ctx,
    group: &str,
    msg_id: Option<&str>,
    topic: Option<&str>,
) -> Result<()> {
    let dlq = dlq_topic(group);
    let letters = match msg_id {
        Some(id) => {
            let m = match ctx.admin.view_message(id).await {
                Ok(m) => m,
                Err(ClientError::Protocol(_)) => bail!(
                    "{id:?} is not an offset message id (dlqList prints them in its first column)"
                ),
                Err(e) => return Err(e.into()),
            };
            if m.topic != dlq {
                bail!(
                    "message {id} is in topic {}, not {dlq}: it is not a dead letter of group {group}",
                    m.topic
                );
            }
            vec![DeadLetter::new(MessageView::new(&m, None))]
        }
        None => dead_letters(ctx, group, usize::MAX).await?,
    };
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Resent {
        dlq_offset_msg_id: String,
        msg_id: String,
        topic: Option<String>,
        offset_msg_id: String,
        queue_id: i32,
        queue_offset: i64,
    }
    let mut resent = Vec::with_capacity(letters.len());
    for d in letters {
        let r = ctx
            .admin
            .resend_dlq_message(&d.offset_msg_id, topic)
            .await?;
        resent.push(Resent {
            topic: topic.map(str::to_string).or(d.original_topic),
            dlq_offset_msg_id: d.offset_msg_id,
            msg_id: d.msg_id,
            offset_msg_id: r.offset_msg_id,
            queue_id: r.queue_id,
            queue_offset: r.queue_offset,
        });
    }
    ctx.out.emit(&resent, || {
        let mut t = Table::new([
            "#DLQ Offset Msg ID",
            "#Msg ID",
            "#Resent To",
            "#QID",
            "#Queue Offset",
            "#New Offset Msg ID",
        ]);
        for r in &resent {
            t.row([
                r.dlq_offset_msg_id.clone(),
                r.msg_id.clone(),
                r.topic.clone().unwrap_or_else(|| "-".to_string()),
                r.queue_id.to_string(),
                r.queue_offset.to_string(),
                r.offset_msg_id.clone(),
            ]);
        }
        t.render()
    })
}
