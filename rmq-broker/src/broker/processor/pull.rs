//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361): the remoting codec of
//! [`PullService::pull`](crate::broker::service::pull::PullService::pull) (long polling: docs/protocol.md §2.3.2, §4.9).

use std::time::Duration;

use rmq_protocol::codes::response;
use rmq_protocol::headers::{CommandHeader, PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_protocol::message::sysflag::pull as pull_flag;
use rmq_protocol::RemotingCommand;

use super::refusal::Reply;
use crate::broker::service::pull::{PullRequest, PullService, PullSubscription};
use crate::store::{GetMessageResult, GetMessageStatus};

/// Moved to [`crate::broker::filter`]; re-exported for existing users.
pub use crate::broker::filter::TagFilter;

/// Handles a pull: decodes the header, lets the service check, commit, read and hold, encodes the result.
pub async fn process(pulls: &PullService, req: &RemotingCommand) -> Reply {
    let h: PullMessageRequestHeader = req.decode_header()?;
    let subscription = if pull_flag::has_subscription(h.sys_flag) {
        PullSubscription::Inline {
            expression: h.subscription,
            expression_type: h.expression_type,
            version: h.sub_version,
        }
    } else {
        PullSubscription::Registered {
            version: h.sub_version,
        }
    };
    let pull = PullRequest {
        group: h.consumer_group,
        topic: h.topic,
        queue_id: h.queue_id,
        queue_offset: h.queue_offset,
        max_msgs: h.max_msg_nums,
        max_bytes: h.max_msg_bytes.map(i64::from),
        commit_offset: (pull_flag::has_commit_offset(h.sys_flag) && h.commit_offset >= 0)
            .then_some(h.commit_offset),
        suspend: pull_flag::has_suspend(h.sys_flag)
            .then(|| Duration::from_millis(h.suspend_timeout_millis.max(0) as u64)),
        subscription,
    };
    let requested = h.queue_offset;
    let out = pulls
        .pull(&pull, |r| {
            response_code(r, requested) == response::PULL_NOT_FOUND
        })
        .await?;
    Ok(respond(req, out.result, requested))
}

/// Maps a store status to the pull response code (docs/protocol.md §2.3.2).
fn response_code(result: &GetMessageResult, requested_offset: i64) -> i32 {
    match result.status {
        GetMessageStatus::Found => response::SUCCESS,
        GetMessageStatus::NoMatchedMessage | GetMessageStatus::MessageWasRemoving => {
            response::PULL_RETRY_IMMEDIATELY
        }
        GetMessageStatus::NoMessageInQueue | GetMessageStatus::NoMatchedLogicQueue => {
            if requested_offset != 0 {
                response::PULL_OFFSET_MOVED
            } else {
                response::PULL_NOT_FOUND
            }
        }
        GetMessageStatus::OffsetFoundNull | GetMessageStatus::OffsetOverflowOne => {
            response::PULL_NOT_FOUND
        }
        GetMessageStatus::OffsetOverflowBadly | GetMessageStatus::OffsetTooSmall => {
            response::PULL_OFFSET_MOVED
        }
    }
}

fn respond(req: &RemotingCommand, result: GetMessageResult, requested: i64) -> RemotingCommand {
    let code = response_code(&result, requested);
    let header = PullMessageResponseHeader {
        suggest_which_broker_id: 0,
        next_begin_offset: result.next_begin_offset,
        min_offset: result.min_offset,
        max_offset: result.max_offset,
        ..PullMessageResponseHeader::default()
    };
    let mut resp = RemotingCommand::response_to(req, code).with_ext(header.to_ext());
    if code == response::SUCCESS {
        resp.body = super::refusal::concat_records(&result.messages);
    } else {
        resp.remark = Some(format!("{:?}", result.status));
    }
    resp
}
