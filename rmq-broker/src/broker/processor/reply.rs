//! Request-reply (RocketMQ 4.6+): SEND_REPLY_MESSAGE (324) and SEND_REPLY_MESSAGE_V2 (325).
//!
//! A requester sends an ordinary message carrying `CORRELATION_ID`, `REPLY_TO_CLIENT` (its client id) and
//! `TTL`; the consumer that handles it answers with a reply message to `<cluster>_REPLY_TOPIC` sent with one
//! of these codes. The broker then, as Java's `ReplyMessageProcessor`:
//! 1. checks the send like any other (permission, topic, auto-creation, queue id, body size: the write
//!    service's [`route`](crate::broker::service::write::WriteService::route));
//! 2. finds the requester's connection among producers by `REPLY_TO_CLIENT` and pushes the reply to it with
//!    PUSH_REPLY_MESSAGE_TO_CLIENT (326), waiting up to 10 s for its answer; the push carries the send header
//!    plus `bornHost`/`storeHost` (Java's `/ip:port` form) and `storeTimestamp`, the properties with
//!    `PUSH_REPLY_TIME` added, and the reply's body;
//! 3. answers the replier SUCCESS when the push was acknowledged, else SYSTEM_ERROR with Java's remark
//!    (`push reply message fail, channel of <id> not found.` when the requester is not connected);
//! 4. when `storeReplyMessageEnable` (default true), also stores the reply in its topic whatever the push did,
//!    and then answers with the stored message's id and queue offset (else msgId `0`, queue offset 0).

use std::net::SocketAddr;
use std::time::Duration;

use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{ReplyMessageRequestHeader, SendMessageRequestHeader};
use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::RemotingCommand;
use tracing::warn;

use super::refusal::Reply;
use crate::broker::client_manager::ClientManager;
use crate::broker::service::write::{Message, Origin, Props, SendOutcome, WriteService};
use crate::remoting::Connection;

/// What the reply codec works with.
#[derive(Debug, Clone, Copy)]
pub struct ReplyContext<'a> {
    /// Checks and stores the reply.
    pub write: &'a WriteService,
    /// Finds the requester's connection.
    pub clients: &'a ClientManager,
    /// `storeReplyMessageEnable`.
    pub store_reply: bool,
}

/// How long the requester may take to acknowledge a pushed reply (Java's `callClient`: 10 s).
pub const PUSH_REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Handles both reply codes.
pub async fn process(cx: ReplyContext<'_>, conn: &Connection, req: &RemotingCommand) -> Reply {
    let write = cx.write;
    let h = SendMessageRequestHeader::from_command(req)?;
    let route = write.route(
        &h.topic,
        h.queue_id,
        &h.default_topic,
        h.default_topic_queue_nums,
    )?;
    write.check_body(req.body.len())?;

    let pushed = push_to_requester(cx, conn.peer(), &h, req).await;
    let mut outcome = SendOutcome {
        msg_id: "0".to_owned(),
        queue_id: route.queue_id,
        queue_offset: 0,
        transaction_id: None,
        flush_timed_out: false,
        recall_handle: None,
    };
    if cx.store_reply {
        let msg = Message {
            topic: h.topic.clone(),
            queue_id: route.queue_id,
            flag: h.flag,
            body: req.body.clone(),
            properties: Props::Encoded(h.properties.clone().unwrap_or_default()),
            sys_flag: h.sys_flag,
            born_timestamp: h.born_timestamp,
            born_host: conn.peer(),
            reconsume_times: h.reconsume_times.unwrap_or(0),
            prepared_transaction_offset: 0,
        };
        // Java only logs a failed put here: the push is what the requester waits for.
        match write.put(Origin::Reply, msg).await {
            Ok(stored) => {
                outcome.msg_id = stored.put.msg_id;
                outcome.queue_offset = stored.put.queue_offset;
            }
            Err(e) => warn!(topic = %h.topic, error = %e, "storing a reply message failed"),
        }
    }
    let mut resp = super::send::response(write.policy(), outcome, None, req);
    if let Err(remark) = pushed {
        resp.code = response::SYSTEM_ERROR;
        resp.remark = Some(remark);
    }
    Ok(resp)
}

/// Pushes the reply to the client named by `REPLY_TO_CLIENT`; `Err` holds the remark for the replier.
async fn push_to_requester(
    cx: ReplyContext<'_>,
    replier: SocketAddr,
    h: &SendMessageRequestHeader,
    req: &RemotingCommand,
) -> Result<(), String> {
    let mut props = Properties::parse(h.properties.as_deref().unwrap_or(""));
    let Some(requester) = props.get(properties::REPLY_TO_CLIENT).map(str::to_owned) else {
        warn!(topic = %h.topic, "reply message without REPLY_TO_CLIENT; nobody to push it to");
        return Err(format!(
            "reply message properties[{}] is null",
            properties::REPLY_TO_CLIENT
        ));
    };
    let Some(channel) = cx.clients.find_producer_by_client_id(&requester) else {
        let remark = format!("push reply message fail, channel of <{requester}> not found.");
        warn!("{remark}");
        return Err(remark);
    };
    let now = cx.write.policy().clock.now_ms();
    props.insert(properties::PUSH_REPLY_TIME, now.to_string());
    let header = ReplyMessageRequestHeader {
        producer_group: h.producer_group.clone(),
        topic: h.topic.clone(),
        default_topic: h.default_topic.clone(),
        default_topic_queue_nums: h.default_topic_queue_nums,
        queue_id: h.queue_id,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        flag: h.flag,
        properties: Some(props.encode()),
        reconsume_times: h.reconsume_times,
        unit_mode: h.unit_mode.unwrap_or(false),
        born_host: java_addr(replier),
        store_host: java_addr(cx.write.policy().store_host),
        store_timestamp: now,
    };
    let push = RemotingCommand::request_with(request::PUSH_REPLY_MESSAGE_TO_CLIENT, &header)
        .with_body(req.body.clone());
    let failed = || format!("push reply message to {requester}fail.");
    match channel.connection.invoke(push, PUSH_REPLY_TIMEOUT).await {
        Ok(answer) if answer.code == response::SUCCESS => Ok(()),
        Ok(answer) => {
            warn!(requester, code = answer.code, remark = ?answer.remark, "requester refused the pushed reply");
            Err(failed())
        }
        Err(e) => {
            warn!(requester, error = %e, "pushing a reply to its requester failed");
            Err(failed())
        }
    }
}

/// An address as Java's `InetSocketAddress.toString()` prints it for a literal IP: `/127.0.0.1:10911`.
fn java_addr(addr: SocketAddr) -> String {
    format!("/{addr}")
}
