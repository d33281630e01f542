//! Client management: HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP and CHECK_CLIENT_CONFIG
//! (docs/protocol.md §2.3.4): the remoting codecs of [`ClientService`] (which also sends the NOTIFY_CONSUMER_IDS_CHANGED
//! push that makes a group rebalance at once).

use std::collections::HashMap;
use std::time::Instant;

use rmq_protocol::body::{self, CheckClientRequestBody, ConsumerListBody, HeartbeatData};
use rmq_protocol::headers::{GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader};
use rmq_protocol::RemotingCommand;
use tracing::debug;

use super::refusal::{ok, Reply};
use crate::broker::client_manager::ClientChannel;
use crate::broker::service::client::{ClientService, Heartbeat};
use crate::remoting::Connection;

/// HEART_BEAT.
pub fn heartbeat(svc: &ClientService, conn: &Connection, req: &RemotingCommand) -> Reply {
    let hb: HeartbeatData = body::from_json(&req.body)?;
    let channel = ClientChannel {
        client_id: hb.client_id.clone(),
        connection: conn.clone(),
        version: req.version,
        language: req.language,
        last_update: Instant::now(),
    };
    svc.heartbeat(Heartbeat {
        channel,
        consumers: hb.consumer_data_set,
        producers: hb.producer_data_set,
    })?;
    Ok(ok(req).with_ext(HashMap::new()))
}

/// CHECK_CLIENT_CONFIG: whether a subscription expression would be accepted.
pub fn check_client_config(svc: &ClientService, req: &RemotingCommand) -> Reply {
    if req.body.is_empty() {
        return Ok(ok(req));
    }
    let check: CheckClientRequestBody = body::from_json(&req.body)?;
    let Some(sub) = check.subscription_data else {
        return Ok(ok(req));
    };
    if let Err(e) = svc.check_subscription(&sub.expression_type, &sub.sub_string) {
        debug!(client = %check.client_id, group = %check.group, error = %e, "CHECK_CLIENT_CONFIG refused");
        return Err(e.into());
    }
    Ok(ok(req))
}

/// UNREGISTER_CLIENT.
pub fn unregister_client(svc: &ClientService, conn: &Connection, req: &RemotingCommand) -> Reply {
    let h: UnregisterClientRequestHeader = req.decode_header()?;
    svc.unregister(
        conn.id(),
        h.producer_group.as_deref(),
        h.consumer_group.as_deref(),
    );
    Ok(ok(req))
}

/// GET_CONSUMER_LIST_BY_GROUP.
pub fn consumer_list(svc: &ClientService, req: &RemotingCommand) -> Reply {
    let h: GetConsumerListByGroupRequestHeader = req.decode_header()?;
    let list = ConsumerListBody {
        consumer_id_list: svc.consumer_ids(&h.consumer_group)?,
    };
    Ok(ok(req).with_body(body::to_json(&list)))
}
