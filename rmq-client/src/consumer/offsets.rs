//! Where a consumer keeps its progress (the broker when clustering, a local file when broadcasting), and where
//! a queue it just took starts.

use std::path::Path;
use std::sync::Arc;

use rmq_protocol::body::MessageQueue;

use super::model::ConsumeFromWhere;
use super::offset_store::{LocalFileOffsetStore, OffsetTable};
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;

/// Consume progress of one consumer group.
#[derive(Debug)]
pub(crate) enum OffsetBackend {
    /// Cached in memory, committed to the queue's broker.
    Remote(OffsetTable),
    /// In memory and in `{dir}/{client id}/{group}/offsets.json`.
    Local(Arc<LocalFileOffsetStore>),
}

impl OffsetBackend {
    pub(crate) fn remote() -> Self {
        OffsetBackend::Remote(OffsetTable::new())
    }

    /// Opens the broadcast offsets file (blocking I/O: call from `spawn_blocking`).
    pub(crate) fn local(dir: &Path, client_id: &str, group: &str) -> Result<Self> {
        LocalFileOffsetStore::open(dir, client_id, group)
            .map(|s| OffsetBackend::Local(Arc::new(s)))
            .map_err(|e| ClientError::Io {
                path: dir.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })
    }

    fn table(&self) -> &OffsetTable {
        match self {
            OffsetBackend::Remote(t) => t,
            OffsetBackend::Local(s) => s.table(),
        }
    }

    /// Records progress in memory.
    pub(crate) fn update(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        self.table().update(mq, offset, increase_only);
    }

    /// The in-memory offset.
    pub(crate) fn get(&self, mq: &MessageQueue) -> Option<i64> {
        self.table().get(mq)
    }

    /// Where to resume `mq` when it is (re)assigned: the broker's committed offset (clustering) or the file's.
    pub(crate) async fn read_stored(
        &self,
        instance: &ClientInstance,
        group: &str,
        mq: &MessageQueue,
    ) -> Result<Option<i64>> {
        match self {
            OffsetBackend::Remote(t) => {
                let stored = instance.query_consumer_offset(group, mq).await?;
                if let Some(o) = stored {
                    t.update(mq, o, false);
                }
                Ok(stored)
            }
            OffsetBackend::Local(s) => Ok(s.read_offset(mq)),
        }
    }

    /// Commits the offsets of `mqs` (to the broker, or to the file).
    pub(crate) async fn persist(
        &self,
        instance: &ClientInstance,
        group: &str,
        mqs: &[MessageQueue],
    ) {
        match self {
            OffsetBackend::Remote(t) => {
                for mq in mqs {
                    if let Some(offset) = t.get(mq) {
                        if let Err(e) = instance.update_consumer_offset(group, mq, offset).await {
                            tracing::warn!(%group, queue = ?mq, offset, error = %e, "offset commit failed; retried on the next round");
                        }
                    }
                }
            }
            OffsetBackend::Local(s) => {
                let (store, mqs) = (s.clone(), mqs.to_vec());
                match tokio::task::spawn_blocking(move || store.persist_all(&mqs)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(%group, error = %e, "broadcast offsets not written; retried on the next round")
                    }
                    Err(e) => tracing::warn!(%group, error = %e, "broadcast offset writer failed"),
                }
            }
        }
    }

    /// Forgets `mq` (it moved to another member).
    pub(crate) fn remove(&self, mq: &MessageQueue) {
        if let OffsetBackend::Remote(t) = self {
            t.remove(mq);
        }
    }
}

/// Where a queue a consumer just took starts: the group's committed offset, else the `from` rule (retry
/// topics always from their start, as Java `computePullFromWhere`). Shared by the push and lite pull consumers.
pub(crate) async fn start_offset(
    instance: &ClientInstance,
    offsets: &OffsetBackend,
    group: &str,
    from: ConsumeFromWhere,
    mq: &MessageQueue,
) -> Result<i64> {
    if let Some(o) = offsets.read_stored(instance, group, mq).await? {
        if o >= 0 {
            return Ok(o);
        }
    }
    let retry = rmq_protocol::topic::is_retry_topic(&mq.topic);
    match from {
        ConsumeFromWhere::FirstOffset => Ok(0),
        ConsumeFromWhere::LastOffset if retry => Ok(0),
        ConsumeFromWhere::LastOffset => instance.max_offset(mq).await,
        ConsumeFromWhere::Timestamp(_) if retry => instance.max_offset(mq).await,
        ConsumeFromWhere::Timestamp(ts) => instance.search_offset(mq, ts).await,
    }
}
