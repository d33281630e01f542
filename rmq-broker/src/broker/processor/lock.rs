//! LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42): the codec of the admin service's rebalance locks.

use rmq_protocol::body::{
    self, LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody,
};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Reply};
use crate::broker::service::admin::AdminService;

/// Locks what the client may own; the body lists the queues it holds afterwards.
pub fn lock_batch(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let body: LockBatchRequestBody = body::from_json(&req.body)?;
    let resp = LockBatchResponseBody {
        lock_ok_mq_set: admin.lock_queues(&body.consumer_group, &body.mq_set, &body.client_id),
    };
    Ok(ok(req).with_body(body::to_json(&resp)))
}

/// Releases the client's locks on the listed queues.
pub fn unlock_batch(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let body: UnlockBatchRequestBody = body::from_json(&req.body)?;
    admin.unlock_queues(&body.consumer_group, &body.mq_set, &body.client_id);
    Ok(ok(req))
}
