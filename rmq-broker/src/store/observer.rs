//! What the store tells the rest of the broker, in the spirit of raft-engine's pipe-log hooks: one
//! [`StoreObserver`] trait with a method per event, every method defaulting to nothing, so an observer
//! implements only what it needs (held pulls: dispatch; metrics: flush; replication, later: append and
//! durable offset).
//!
//! The tag code of a consume-queue entry is not an event but a computation whose result is written to disk
//! (and must come out the same when recovery re-dispatches), so it is a separate policy:
//! [`TagCodePolicy`](super::config::TagCodePolicy) in the config.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

/// Notified of the store's events. Methods run on the store's writer and flush threads, in order per thread:
/// they must be cheap and must not block (hand work to a task instead).
pub trait StoreObserver: Send + Sync {
    /// CommitLog bytes `[from, to)` were written (page cache; durable only after [`on_durable`]).
    ///
    /// [`on_durable`]: StoreObserver::on_durable
    fn on_append(&self, from: i64, to: i64) {
        let _ = (from, to);
    }

    /// The CommitLog is durable (synced) up to `offset`; the sync took `took`.
    fn on_durable(&self, offset: i64, took: Duration) {
        let _ = (offset, took);
    }

    /// A CommitLog segment starting at `start` was created.
    fn on_segment_created(&self, start: u64) {
        let _ = start;
    }

    /// The CommitLog segment starting at `start` was deleted (cleanup or recovery truncation).
    fn on_segment_removed(&self, start: u64) {
        let _ = start;
    }

    /// Queue `queue_id` of `topic` now ends at `max_offset` (newly dispatched entries are readable).
    fn on_dispatch(&self, topic: &str, queue_id: i32, max_offset: i64) {
        let _ = (topic, queue_id, max_offset);
    }
}

/// The observers of one store; cheap to read on the hot paths (one uncontended read lock per event batch).
#[derive(Clone, Default)]
pub struct Observers(Arc<RwLock<Vec<Arc<dyn StoreObserver>>>>);

impl fmt::Debug for Observers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Observers({})", self.0.read().len())
    }
}

impl Observers {
    /// Adds an observer; it sees every event from now on.
    pub fn add(&self, o: Arc<dyn StoreObserver>) {
        self.0.write().push(o);
    }

    /// Whether there is any observer (so a caller can skip preparing an event nobody reads).
    pub(crate) fn any(&self) -> bool {
        !self.0.read().is_empty()
    }

    /// Runs `f` for every observer.
    pub(crate) fn each(&self, mut f: impl FnMut(&dyn StoreObserver)) {
        for o in self.0.read().iter() {
            f(o.as_ref());
        }
    }
}
