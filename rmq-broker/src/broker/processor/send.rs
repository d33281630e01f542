//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320): the remoting codec of
//! [`WriteService::send`](crate::broker::service::write::WriteService::send).

use rmq_protocol::codes::request;
use rmq_protocol::headers::{CommandHeader, SendMessageRequestHeader, SendMessageResponseHeader};
use rmq_protocol::message::batch;
use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Reply};
use crate::broker::service::write::{
    BatchMessage, Payload, SendOutcome, SendRequest, WritePolicy, WriteService,
};
use crate::remoting::Connection;

/// Handles the three send codes.
pub async fn process(write: &WriteService, conn: &Connection, req: &RemotingCommand) -> Reply {
    let mut h = SendMessageRequestHeader::from_command(req)?;
    // Java takes the batch path by the header's `batch` field alone (`requestHeader.isBatch()`), whatever the code:
    // a SEND_MESSAGE (10) with batch=true is a batch, and Apache's C++ client's batch=1 is not (parseBoolean).
    // A SEND_BATCH_MESSAGE without the field is read as a batch, which is what its sender meant.
    let payload = if h.batch.unwrap_or(req.code == request::SEND_BATCH_MESSAGE) {
        let messages = batch::decode_batch(&req.body)?
            .into_iter()
            .map(|e| BatchMessage {
                flag: e.flag,
                body: e.body,
                properties: e.properties,
            })
            .collect();
        let uniq_key = Properties::parse(h.properties.as_deref().unwrap_or(""))
            .get(properties::UNIQ_KEY)
            .map(String::from);
        Payload::Batch { messages, uniq_key }
    } else {
        Payload::Single {
            flag: h.flag,
            body: req.body.clone(),
            properties: h.properties.take().unwrap_or_default(),
        }
    };
    let outcome = write
        .send(send_request(h, conn, req.version, payload))
        .await?;
    Ok(response(write.policy(), outcome, None, req))
}

/// The typed send a remoting header describes.
pub(super) fn send_request(
    h: SendMessageRequestHeader,
    conn: &Connection,
    version: i32,
    payload: Payload,
) -> SendRequest {
    SendRequest {
        topic: h.topic,
        queue_id: h.queue_id,
        default_topic: h.default_topic,
        default_topic_queue_nums: h.default_topic_queue_nums,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        born_host: conn.peer(),
        reconsume_times: h.reconsume_times,
        max_reconsume_times: h.max_reconsume_times,
        client_version: version,
        payload,
    }
}

/// The SUCCESS response of a send: the outcome in the header plus the broker's region and trace switch.
pub(super) fn response(
    policy: &WritePolicy,
    outcome: SendOutcome,
    batch_uniq_id: Option<String>,
    req: &RemotingCommand,
) -> RemotingCommand {
    let header = SendMessageResponseHeader {
        msg_id: outcome.msg_id,
        queue_id: outcome.queue_id,
        queue_offset: outcome.queue_offset,
        transaction_id: outcome.transaction_id,
        batch_uniq_id,
        recall_handle: outcome.recall_handle,
    };
    let mut ext = header.to_ext();
    ext.insert(properties::MSG_REGION.into(), policy.region_id.clone());
    ext.insert(properties::TRACE_SWITCH.into(), policy.trace_on.to_string());
    let mut resp = ok(req).with_ext(ext);
    if outcome.flush_timed_out {
        // Stored, not yet durable: Java's SendMessageProcessor answers FLUSH_DISK_TIMEOUT with the full header.
        resp.code = rmq_protocol::codes::response::FLUSH_DISK_TIMEOUT;
        resp.remark = Some("the disk flush did not finish within syncFlushTimeout".into());
    }
    resp
}
