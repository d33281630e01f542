//! LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42): queue ownership for orderly consumers.

use rmq_protocol::body::{
    self, LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody,
};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Reply};
use crate::broker::service::admin::AdminService;

/// Locks what the client may own; the body lists the queues it holds afterwards.
pub fn lock_batch(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let body: LockBatchRequestBody = body::from_json(&req.body)?;
    let locked = inner
        .locks
        .try_lock_batch(&body.consumer_group, &body.mq_set, &body.client_id);
    let resp = LockBatchResponseBody {
        lock_ok_mq_set: locked,
    };
    Ok(ok(req).with_body(body::to_json(&resp)))
}

/// Releases the client's locks on the listed queues.
pub fn unlock_batch(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let body: UnlockBatchRequestBody = body::from_json(&req.body)?;
    inner
        .locks
        .unlock_batch(&body.consumer_group, &body.mq_set, &body.client_id);
    Ok(ok(req))
}
