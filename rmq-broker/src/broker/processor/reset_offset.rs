//! INVOKE_BROKER_TO_RESET_OFFSET (222): the codec of the admin service's offset reset
//! ([`reset_offsets`](AdminService::reset_offsets)), which then tells the group's online consumers with
//! RESET_CONSUMER_CLIENT_OFFSET (220), oneway, as Java's `Broker2Client.resetOffset`.

use rmq_protocol::codes::request;
use rmq_protocol::headers::ResetOffsetRequestHeader;
use rmq_protocol::RemotingCommand;
use tracing::debug;

use super::refusal::{ok, Reply};
use crate::broker::service::admin::AdminService;
use crate::broker::service::offset_reset::OffsetReset;

/// Computes, commits and announces the new offsets; answers with the offsets chosen.
pub fn invoke_broker_to_reset_offset(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: ResetOffsetRequestHeader = req.decode_header()?;
    let body = admin.reset_offsets(&OffsetReset {
        topic: h.topic.clone(),
        group: h.group.clone(),
        timestamp: h.timestamp,
        force: h.is_force,
        queue_id: h.queue_id,
        offset: h.offset,
    })?;
    let json = body.to_json();
    let notify = ResetOffsetRequestHeader {
        queue_id: None,
        offset: None,
        ..h
    };
    for conn in admin.clients.consumer_connections(&notify.group) {
        let mut cmd = RemotingCommand::request_with(request::RESET_CONSUMER_CLIENT_OFFSET, &notify)
            .with_body(json.clone())
            .into_oneway();
        cmd.opaque = crate::remoting::server::next_request_opaque();
        if !conn.try_send(cmd) {
            debug!(group = %notify.group, peer = %conn.peer(), "could not tell a consumer about the offset reset");
        }
    }
    Ok(ok(req).with_body(json))
}
