//! POP_MESSAGE, ACK_MESSAGE, BATCH_ACK_MESSAGE, CHANGE_MESSAGE_INVISIBLETIME and NOTIFICATION: the remoting
//! codec of [`PopService`] (headers and body as Java's, docs/pop-java.md §1–§3), so Java 5 remoting POP
//! consumers work.

use std::time::Duration;

use base64::Engine;
use bytes::BytesMut;
use rmq_protocol::clock::system_now_ms;
use rmq_protocol::codes::response;
use rmq_protocol::headers::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ChangeInvisibleTimeResponseHeader,
    CommandHeader, NotificationRequestHeader, NotificationResponseHeader, PopMessageRequestHeader,
    PopMessageResponseHeader,
};
use rmq_protocol::pop::{ExtraInfo, RetryFlag};
use rmq_protocol::RemotingCommand;
use serde::Deserialize;

use super::refusal::{ok, Refusal, Reply};
use crate::broker::service::pop::{AckRequest, ChangeInvisible, InitMode, PopRequest, PopService};
use crate::broker::service::ServiceError;

/// Java's `isTimeoutTooMuch` slack: a request older than its poll time plus this is answered at once.
const TOO_LATE_MS: i64 = 500;

/// POP_MESSAGE.
pub async fn pop_message(pops: &PopService, req: &RemotingCommand) -> Reply {
    let h: PopMessageRequestHeader = req.decode_header()?;
    let born = if h.born_time > 0 {
        h.born_time
    } else {
        system_now_ms()
    };
    let late = system_now_ms() - born - h.poll_time > TOO_LATE_MS;
    let poll = if late {
        Duration::ZERO
    } else {
        Duration::from_millis(h.poll_time.max(0) as u64)
    };
    let pop = PopRequest {
        group: h.consumer_group,
        topic: h.topic,
        queue_id: if h.queue_id < 0 { -1 } else { h.queue_id },
        max_msgs: h.max_msg_nums,
        invisible_ms: h.invisible_time,
        poll,
        init_mode: if h.init_mode == 1 {
            InitMode::Max
        } else {
            InitMode::Min
        },
        expression: h.exp,
        expression_type: h.exp_type,
        order: h.order.unwrap_or(false),
        attempt_id: h.attempt_id,
    };
    let out = pops.pop(&pop).await?;
    let header = PopMessageResponseHeader {
        pop_time: out.pop_time,
        invisible_time: out.invisible_time,
        revive_qid: out.revive_qid,
        rest_num: out.rest_num,
        start_offset_info: Some(out.start_offset_info).filter(|s| !s.is_empty()),
        msg_offset_info: Some(out.msg_offset_info).filter(|s| !s.is_empty()),
        order_count_info: Some(out.order_count_info).filter(|s| !s.is_empty()),
    };
    if out.messages.is_empty() {
        // Java: POLLING_TIMEOUT with the status name, after the wait (or at once when none was asked).
        return Ok(RemotingCommand::response_to(req, response::POLLING_TIMEOUT)
            .with_remark("NO_MESSAGE_IN_QUEUE")
            .with_ext(header.to_ext()));
    }
    let mut body = BytesMut::new();
    for p in &out.messages {
        body.extend_from_slice(&p.record);
    }
    Ok(ok(req)
        .with_remark("FOUND")
        .with_ext(header.to_ext())
        .with_body(body.freeze()))
}

fn handle(extra_info: &str) -> Result<ExtraInfo, Refusal> {
    ExtraInfo::parse(extra_info).map_err(|e| Refusal::new(response::MESSAGE_ILLEGAL, e.to_string()))
}

/// ACK_MESSAGE: SUCCESS, also when the message was no longer out (as Java).
pub async fn ack_message(pops: &PopService, req: &RemotingCommand) -> Reply {
    let h: AckMessageRequestHeader = req.decode_header()?;
    let ack = AckRequest {
        handle: handle(&h.extra_info)?,
        group: h.consumer_group,
        topic: h.topic,
        queue_id: h.queue_id,
        offset: h.offset,
    };
    pops.ack(&ack).await?;
    Ok(ok(req))
}

/// CHANGE_MESSAGE_INVISIBLETIME.
pub async fn change_invisible_time(pops: &PopService, req: &RemotingCommand) -> Reply {
    let h: ChangeInvisibleTimeRequestHeader = req.decode_header()?;
    let change = ChangeInvisible {
        ack: AckRequest {
            handle: handle(&h.extra_info)?,
            group: h.consumer_group,
            topic: h.topic,
            queue_id: h.queue_id,
            offset: h.offset,
        },
        invisible_ms: h.invisible_time,
    };
    let changed = pops.change_invisible(&change).await?;
    Ok(ok(req).with_ext(
        ChangeInvisibleTimeResponseHeader {
            pop_time: changed.pop_time,
            invisible_time: changed.invisible_time,
            revive_qid: changed.revive_qid,
        }
        .to_ext(),
    ))
}

/// One entry of a BATCH_ACK_MESSAGE body (Java's `BatchAck`, short names first).
#[derive(Debug, Deserialize)]
struct BatchAck {
    #[serde(alias = "consumerGroup")]
    c: String,
    #[serde(alias = "topic")]
    t: String,
    /// "0", "1" or "2"; a number is read the same way.
    #[serde(alias = "retry", default)]
    r: serde_json::Value,
    #[serde(alias = "startOffset")]
    so: i64,
    #[serde(alias = "queueId")]
    q: i32,
    #[serde(alias = "reviveQueueId")]
    rq: i32,
    #[serde(alias = "popTime")]
    pt: i64,
    #[serde(alias = "invisibleTime")]
    it: i64,
    #[serde(alias = "bitSet")]
    b: String,
}

#[derive(Debug, Deserialize)]
struct BatchAckBody {
    #[serde(rename = "brokerName", default)]
    broker_name: String,
    #[serde(default)]
    acks: Vec<BatchAck>,
}

/// The offsets of a Java `BitSet.toByteArray()` (little-endian bit order), base64 as fastjson writes bytes.
fn bit_offsets(start: i64, b64: &str) -> Option<Vec<i64>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let mut out = Vec::new();
    for (i, byte) in bytes.iter().enumerate() {
        for bit in 0..8 {
            if byte & (1 << bit) != 0 {
                out.push(start + (i * 8 + bit) as i64);
            }
        }
    }
    Some(out)
}

/// BATCH_ACK_MESSAGE: an empty or undecodable body is NO_MESSAGE (as Java).
pub async fn batch_ack_message(pops: &PopService, req: &RemotingCommand) -> Reply {
    let body: Option<BatchAckBody> = serde_json::from_slice(req.body.as_ref()).ok();
    let Some(body) = body.filter(|b| !b.acks.is_empty()) else {
        return Err(Refusal::new(response::NO_MESSAGE, "body is empty"));
    };
    for a in body.acks {
        let r = match &a.r {
            serde_json::Value::String(s) => s.trim().to_owned(),
            other => other.to_string(),
        };
        let flag = RetryFlag::parse(&r).unwrap_or(RetryFlag::Normal);
        let Some(offsets) = bit_offsets(a.so, &a.b) else {
            return Err(Refusal::new(
                response::NO_MESSAGE,
                "the bit set does not decode",
            ));
        };
        let topic = flag.real_topic(&a.t, &a.c);
        let ack = AckRequest {
            handle: ExtraInfo {
                ck_offset: a.so,
                pop_time: a.pt,
                invisible_time: a.it,
                revive_qid: a.rq,
                flag,
                broker_name: body.broker_name.clone(),
                queue_id: a.q,
                offset: a.so,
                commit_log_offset: -1,
            },
            group: a.c,
            topic,
            queue_id: a.q,
            offset: a.so,
        };
        match pops.batch_ack(&ack, &offsets).await {
            // Java skips offsets outside the queue.
            Ok(_) | Err(ServiceError::NoMessage(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ok(req))
}

/// NOTIFICATION: whether the group has something to pop, waiting up to the poll time.
pub async fn notification(pops: &PopService, req: &RemotingCommand) -> Reply {
    let h: NotificationRequestHeader = req.decode_header()?;
    let poll = Duration::from_millis(h.poll_time.max(0) as u64);
    let has_msg = pops.notification(&h.consumer_group, &h.topic, poll).await;
    Ok(ok(req).with_ext(
        NotificationResponseHeader {
            has_msg,
            polling_full: None,
        }
        .to_ext(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_java_bit_set_reads_as_offsets() {
        // BitSet{0, 2, 9}.toByteArray() = [0b0000_0101, 0b0000_0010].
        let b64 = base64::engine::general_purpose::STANDARD.encode([0b101u8, 0b10]);
        assert_eq!(bit_offsets(100, &b64), Some(vec![100, 102, 109]));
        assert_eq!(bit_offsets(0, "not base64!"), None);
    }
}
