//! Helpers for the delay, timer, retry and dead-letter tests: brokers with a short delay table, a long-polling
//! "wait until the next message of this queue arrives", CONSUMER_SEND_MSG_BACK and rmq's
//! RMQ_RESEND_DLQ_MESSAGE request.
//!
//! Arrival times are taken when the pull response is read; the pull is held by the broker (long polling) until
//! the message is stored, so the time is the delivery time plus one loopback round trip.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::RemotingCommand;

use crate::client::{now_ms, rc, OutMessage, PullArgs, SendOutcome};
use crate::record::Record;
use crate::RawClient;

/// Request codes these helpers send (docs/protocol.md §2.3.5; 40001 is an rmq extension, see `rmq_protocol::codes`).
pub mod code {
    #![allow(missing_docs)]
    pub const CONSUMER_SEND_MSG_BACK: i32 = 36;
    pub const RMQ_RESEND_DLQ_MESSAGE: i32 = 40001;
}

/// Response codes the schedule tests expect besides [`rc`].
pub mod rcode {
    #![allow(missing_docs)]
    pub const MESSAGE_ILLEGAL: i32 = 13;
    pub const INVALID_PARAMETER: i32 = 29;
}

/// Longest single long poll; [`await_message`] repeats polls up to its own timeout.
const MAX_HOLD: Duration = Duration::from_secs(5);

/// An embedded broker (and name server) whose `messageDelayLevel` is `levels`, e.g. `"1s 2s 3s"`; on `dir`
/// when given, so a later broker can reopen the same store.
pub async fn broker_with_levels(levels: &str, dir: Option<&Path>) -> Result<EmbeddedBroker> {
    let mut b = EmbeddedBroker::builder().property("messageDelayLevel", levels);
    if let Some(d) = dir {
        b = b.store_dir(d);
    }
    b.start().await.context("start embedded broker")
}

/// The first message a queue received at or after an offset, and when it was seen.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The stored message.
    pub record: Record,
    /// Epoch ms at which the pull response carrying it was read.
    pub at_ms: i64,
    /// Where to pull next.
    pub next_offset: i64,
}

/// Long-polls `topic`/`queue_id` from `offset` until a message is there; fails after `timeout`.
pub async fn await_message(
    client: &RawClient,
    group: &str,
    topic: &str,
    queue_id: i32,
    mut offset: i64,
    timeout: Duration,
) -> Result<Arrival> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("no message on {topic}/{queue_id} at offset {offset} within {timeout:?}");
        }
        let hold = left.min(MAX_HOLD).max(Duration::from_millis(1));
        let p = client
            .pull_with(
                &PullArgs::new(group, topic, queue_id, offset)
                    .max(1)
                    .suspend(hold.as_millis() as i64),
            )
            .await?;
        match p.code {
            rc::SUCCESS => {
                let at_ms = now_ms();
                let Some(record) = p.records.into_iter().next() else {
                    bail!("pull of {topic}/{queue_id}@{offset} was FOUND without a record");
                };
                return Ok(Arrival {
                    record,
                    at_ms,
                    next_offset: p.next_begin_offset,
                });
            }
            rc::PULL_NOT_FOUND => {}
            rc::PULL_RETRY_IMMEDIATELY => offset = p.next_begin_offset,
            c => bail!(
                "pull of {topic}/{queue_id}@{offset}: code {c} remark {:?}",
                p.remark
            ),
        }
    }
}

/// Long-polls `topic`/`queue_id` at `offset` for `window` and fails if a message arrives.
pub async fn assert_quiet(
    client: &RawClient,
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    window: Duration,
) -> Result<()> {
    match await_message(client, group, topic, queue_id, offset, window).await {
        Ok(a) => bail!(
            "unexpected message on {topic}/{queue_id}@{offset}: {:?} (properties {:?})",
            String::from_utf8_lossy(&a.record.body),
            a.record.properties()
        ),
        Err(e) if e.to_string().starts_with("no message") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sends `msg` and fails unless it was stored.
pub async fn send_ok(client: &RawClient, msg: &OutMessage) -> Result<SendOutcome> {
    client.send(msg).await?.ok()
}

/// Sends `msg` with header `reconsumeTimes` (j) and `maxReconsumeTimes` (l), as a client's fallback resend to
/// `%RETRY%group` does.
pub async fn send_with_reconsume(
    client: &RawClient,
    msg: &OutMessage,
    reconsume_times: i32,
    max_reconsume_times: i32,
) -> Result<SendOutcome> {
    let mut cmd = msg.to_command();
    cmd.ext_fields
        .insert("j".to_owned(), reconsume_times.to_string());
    cmd.ext_fields
        .insert("l".to_owned(), max_reconsume_times.to_string());
    SendOutcome::from_response(client.request(cmd).await?)
}

/// CONSUMER_SEND_MSG_BACK (36) ext fields, written from docs/protocol.md §2.3.5.
#[derive(Debug, Clone)]
pub struct SendBack {
    /// CommitLog offset of the failed message.
    pub offset: i64,
    /// Consumer group.
    pub group: String,
    /// 0: broker picks 3 + reconsume times; < 0: straight to the DLQ.
    pub delay_level: i32,
    /// The client's max reconsume times (None: not sent).
    pub max_reconsume_times: Option<i32>,
    /// Original message id.
    pub origin_msg_id: Option<String>,
    /// Original topic.
    pub origin_topic: Option<String>,
}

impl SendBack {
    /// A send-back of the record `r` for `group` at `delay_level`.
    pub fn of(r: &Record, group: &str, delay_level: i32) -> SendBack {
        SendBack {
            offset: r.physical_offset,
            group: group.to_owned(),
            delay_level,
            max_reconsume_times: None,
            origin_msg_id: r.properties().remove("UNIQ_KEY"),
            origin_topic: Some(r.topic.clone()),
        }
    }

    /// Sets header `maxReconsumeTimes`.
    pub fn max_reconsume(mut self, max: i32) -> SendBack {
        self.max_reconsume_times = Some(max);
        self
    }

    /// The request command.
    pub fn to_command(&self) -> RemotingCommand {
        let mut ext = HashMap::from([
            ("offset".to_owned(), self.offset.to_string()),
            ("group".to_owned(), self.group.clone()),
            ("delayLevel".to_owned(), self.delay_level.to_string()),
            ("unitMode".to_owned(), "false".to_owned()),
        ]);
        if let Some(m) = self.max_reconsume_times {
            ext.insert("maxReconsumeTimes".to_owned(), m.to_string());
        }
        if let Some(id) = &self.origin_msg_id {
            ext.insert("originMsgId".to_owned(), id.clone());
        }
        if let Some(t) = &self.origin_topic {
            ext.insert("originTopic".to_owned(), t.clone());
        }
        RemotingCommand::request(code::CONSUMER_SEND_MSG_BACK, ext)
    }
}

/// Sends a CONSUMER_SEND_MSG_BACK and returns the response.
pub async fn send_back(client: &RawClient, sb: &SendBack) -> Result<RemotingCommand> {
    client.request(sb.to_command()).await
}

/// RMQ_RESEND_DLQ_MESSAGE (40001): resend the dead letter at `offset`, to `topic` if given.
pub async fn resend_dlq(
    client: &RawClient,
    offset: i64,
    topic: Option<&str>,
) -> Result<RemotingCommand> {
    let mut ext = HashMap::from([("offset".to_owned(), offset.to_string())]);
    if let Some(t) = topic {
        ext.insert("topic".to_owned(), t.to_owned());
    }
    client
        .request(RemotingCommand::request(code::RMQ_RESEND_DLQ_MESSAGE, ext))
        .await
}

/// Fails unless `resp` is SUCCESS.
pub fn expect_ok(resp: &RemotingCommand, what: &str) -> Result<()> {
    if resp.code != rc::SUCCESS {
        bail!("{what}: code {} remark {:?}", resp.code, resp.remark);
    }
    Ok(())
}
