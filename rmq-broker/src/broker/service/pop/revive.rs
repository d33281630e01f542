//! The reviver (Java's `PopReviveService`, docs/pop-java.md §7): when a checkpoint's invisible time is up, its
//! unacked messages are copied to the group's POP retry topic `%RETRY%group_topic` with one more reconsume
//! count (visible at once: the invisible time was the back-off), and the revive offsets move to the first
//! checkpoint still open.

use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::clock::Wait;
use rmq_protocol::message::properties;
use rmq_protocol::message::stored::decode_stored;
use rmq_protocol::pop::pop_retry_topic_v1;
use rmq_protocol::topic::is_retry_topic;
use tokio_util::sync::CancellationToken;

use super::inflight::OpenCk;
use super::journal::REVIVE_GROUP;
use super::service::PopService;
use crate::broker::service::write::{Message, Origin, Props};
use crate::broker::service::ServiceError;
use crate::store::GetMessageStatus;

/// `PopAckConstants.retryQueueNum`: queues of a POP retry topic.
const RETRY_QUEUE_NUM: i32 = 1;

/// Revives due checkpoints until `stop`.
pub async fn run(svc: Arc<PopService>, stop: CancellationToken) {
    loop {
        let now = svc.clock().now_ms();
        let mut failed = false;
        for open in svc.inflight.due(now) {
            match revive(&svc, &open).await {
                Ok(()) => svc.inflight.finish(open.at),
                Err(e) => {
                    tracing::warn!(topic = %open.ck.topic, group = %open.ck.cid, error = %e, "reviving a POP checkpoint failed; retried in 1 s");
                    failed = true;
                }
            }
        }
        commit_revive_offsets(&svc);
        let next = svc.inflight.next_due().filter(|_| !failed);
        let added = svc.inflight.added.notified();
        tokio::select! {
            _ = stop.cancelled() => {
                commit_revive_offsets(&svc);
                return;
            }
            _ = added => {}
            _ = svc.clock().sleep_until(next.unwrap_or(i64::MAX), Wait::Delivery), if next.is_some() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Marks each revive queue read up to its first open checkpoint.
pub fn commit_revive_offsets(svc: &PopService) {
    let deps = svc.deps();
    let topic = svc.revive_topic();
    for qid in 0..svc.revive_queue_num() {
        let end = deps.store.max_offset_in_queue(topic, qid);
        if let Some(o) = svc.inflight.safe_revive_offset(qid, end) {
            if deps.offsets.query(REVIVE_GROUP, topic, qid) != Some(o) {
                deps.offsets.commit(REVIVE_GROUP, topic, qid, o);
            }
        }
    }
}

/// Copies the unacked messages of `open` to the POP retry topic.
async fn revive(svc: &PopService, open: &OpenCk) -> Result<(), ServiceError> {
    let deps = svc.deps();
    let ck = &open.ck;
    if deps.groups.get(&ck.cid).is_none() {
        return Ok(());
    }
    let retry = if is_retry_topic(&ck.topic) {
        ck.topic.clone()
    } else {
        pop_retry_topic_v1(&ck.cid, &ck.topic)
    };
    for offset in open.unacked_offsets() {
        let r = deps
            .store
            .get_messages(&ck.topic, ck.queue_id, offset, 1, usize::MAX, &|_| true);
        let Some(rec) = r
            .messages
            .first()
            .filter(|_| r.status == GetMessageStatus::Found)
        else {
            continue; // cleaned up meanwhile: nothing to bring back
        };
        let Ok((m, _)) = decode_stored(rec, true) else {
            continue;
        };
        if m.queue_offset != offset {
            continue;
        }
        deps.topics.create_system_managed(&retry, RETRY_QUEUE_NUM)?;
        let mut props = m.properties.clone();
        if m.reconsume_times == 0 || !props.contains(properties::FIRST_POP_TIME) {
            props.insert(properties::FIRST_POP_TIME, ck.pop_time.to_string());
        }
        props.remove(properties::POP_CK);
        deps.write
            .put(
                Origin::Revive,
                Message {
                    topic: retry.clone(),
                    queue_id: 0,
                    flag: m.flag,
                    body: m.body.clone(),
                    properties: Props::Parsed(props),
                    sys_flag: m.sys_flag,
                    born_timestamp: m.born_timestamp,
                    born_host: m.born_host,
                    reconsume_times: m.reconsume_times + 1,
                    prepared_transaction_offset: 0,
                },
            )
            .await?;
    }
    Ok(())
}
