//! [`TransactionService`]: the table of open half messages, END_TRANSACTION, and the op records.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use rmq_protocol::message::properties;
use rmq_protocol::message::stored::parse_view;
use tracing::{debug, error, info, warn};

use super::bridge::{self, HalfRecord};
use super::error::TransactionError;
use super::names::{HALF_TOPIC, OP_REMOVE_TAG, OP_TOPIC, STATE_FILE};
use super::state::{ClaimOutcome, PendingHalf, Snapshot, TxState};
use crate::broker::service::write::{Origin, WriteService};
use crate::broker::service::ServiceError;
use crate::persist::{PersistError, StateDir, StateFile};
use crate::store::{GetMessageStatus, MessageStore, StoreError};

/// A producer's END_TRANSACTION for one half message.
#[derive(Debug, Clone)]
pub struct EndTransaction {
    /// The producer's group (must be the half message's `PGROUP`).
    pub producer_group: String,
    /// Queue offset of the half record.
    pub tran_state_table_offset: i64,
    /// CommitLog offset of the half record.
    pub commit_log_offset: i64,
    /// The producer's message id (for logs).
    pub msg_id: String,
    /// Commit (true) or rollback (false).
    pub commit: bool,
}

/// What an END_TRANSACTION did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndOutcome {
    /// The real message was stored (its offset message id).
    Committed {
        /// Offset message id of the visible message.
        msg_id: String,
    },
    /// The half message was dropped.
    RolledBack,
    /// An outcome had already been recorded; nothing was done.
    AlreadyResolved,
}

/// The transaction table plus where it is persisted, over the store it reads half records from and the write
/// service it stores outcomes through.
#[derive(Debug)]
pub struct TransactionService {
    pub(super) state: Mutex<TxState>,
    file: StateFile,
    next_channel: AtomicUsize,
    pub(super) store: Arc<MessageStore>,
    pub(super) write: Arc<WriteService>,
}

impl TransactionService {
    /// Loads `<config_dir>/transaction.json`, replays op records written after it and scans the half queue,
    /// so every half message without an outcome is known again (and will be checked).
    ///
    /// # Errors
    /// The refreshed state file cannot be written.
    pub fn load(
        config_dir: impl Into<StateDir>,
        store: Arc<MessageStore>,
        write: Arc<WriteService>,
    ) -> Result<Self, PersistError> {
        let file = config_dir.into().file(STATE_FILE);
        // The file only shortens the rebuild; without it everything is rebuilt from the two queues (only check
        // counts are lost), so an unreadable one must not keep the broker down.
        let snap: Snapshot = match file.read_json() {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                warn!(error = %e, "transaction state file unusable; rebuilding from the half and op queues");
                Snapshot::default()
            }
        };
        let mut st = TxState::from_snapshot(&snap);
        let mut ops = 0usize;
        read_queue(&store, OP_TOPIC, snap.op_from, |raw| {
            let Ok(v) = parse_view(raw) else { return };
            if v.tags() != Some(OP_REMOVE_TAG) {
                warn!(offset = v.commit_log_offset, tags = ?v.tags(), "op record with an unknown tag ignored");
                return;
            }
            for half in bridge::parse_op_body(v.body) {
                st.replay_op(half);
                ops += 1;
            }
        });
        let svc = TransactionService {
            state: Mutex::new(st),
            file,
            next_channel: AtomicUsize::new(0),
            store,
            write,
        };
        svc.scan();
        let open = svc.state.lock().open_count();
        info!(
            open,
            replayed_ops = ops,
            scan_from = snap.scan_from,
            "transaction state loaded"
        );
        svc.persist()?;
        Ok(svc)
    }

    /// Reads half records the table has not seen yet (from the scan position to the queue's end).
    pub(crate) fn scan(&self) {
        let from = self.state.lock().scanned_to();
        let mut found = Vec::new();
        let next = read_queue(&self.store, HALF_TOPIC, from, |raw| {
            let Ok(v) = parse_view(raw) else { return };
            found.push((
                v.queue_offset,
                PendingHalf {
                    phys_offset: v.commit_log_offset,
                    born_timestamp: v.born_timestamp,
                    immunity_secs: bridge::immunity_secs(
                        v.property(properties::CHECK_IMMUNITY_TIME_IN_SECONDS),
                    ),
                    check_times: 0,
                },
            ));
        });
        self.state.lock().add_scanned(found, next);
    }

    /// Writes the state file (the snapshot is taken under the lock, the file written outside it).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn persist(&self) -> Result<(), PersistError> {
        let snap = {
            let mut st = self.state.lock();
            let op_end = self.store.max_offset_in_queue(OP_TOPIC, 0);
            st.snapshot(op_end)
        };
        self.file.write_json(&snap)
    }

    /// Number of half messages without an outcome that have been scanned (for tests and runtime info).
    pub fn open_count(&self) -> usize {
        self.state.lock().open_count()
    }

    pub(super) fn claim(&self, half_offset: i64) -> ClaimOutcome {
        let mut st = self.state.lock();
        let op_end = self.store.max_offset_in_queue(OP_TOPIC, 0);
        st.claim(half_offset, op_end)
    }

    pub(super) fn abandon(&self, half_offset: i64) {
        self.state.lock().abandon(half_offset);
    }

    /// Appends the op record of a claimed half offset and marks it resolved. The in-memory mark is set even if
    /// the op cannot be written (the outcome already happened); the next state file then carries it.
    pub(super) async fn finish(&self, half_offset: i64) {
        let op = bridge::op_message(half_offset);
        match self.write.put(Origin::TransactionOp, op).await {
            Ok(_) | Err(ServiceError::Store(StoreError::FlushTimeout { .. })) => {}
            Err(e) => {
                error!(half_offset, error = %e, "writing the transaction op record failed; the outcome is kept in memory and in the next state file")
            }
        }
        self.state.lock().complete(half_offset);
    }
}

impl TransactionService {
    /// Applies a producer's END_TRANSACTION: commit stores the real message and an op record, rollback only the
    /// op record; a half message that already has an outcome is left alone ([`EndOutcome::AlreadyResolved`]).
    /// A committed message with a `DELAY` level or a `TIMER_*` delivery time goes through the schedule like a
    /// plain send (the write service's [`Origin::Commit`]).
    ///
    /// # Errors
    /// [`TransactionError`] when the half message is not where the request says, belongs to another group or
    /// offset, or the real message cannot be stored (the transaction then stays open and will be checked).
    pub async fn end_transaction(
        &self,
        req: &EndTransaction,
    ) -> Result<EndOutcome, TransactionError> {
        let raw =
            self.store
                .message_at(req.commit_log_offset)
                .ok_or(TransactionError::HalfNotFound {
                    offset: req.commit_log_offset,
                })?;
        let half = HalfRecord::parse(&raw, req.commit_log_offset)?;
        if half.producer_group() != Some(req.producer_group.as_str()) {
            return Err(TransactionError::ProducerGroupMismatch {
                expected: half.producer_group().map(str::to_owned),
                got: req.producer_group.clone(),
            });
        }
        if half.msg.queue_offset != req.tran_state_table_offset {
            return Err(TransactionError::QueueOffsetMismatch {
                expected: half.msg.queue_offset,
                got: req.tran_state_table_offset,
            });
        }
        let offset = half.msg.queue_offset;
        if self.claim(offset) == ClaimOutcome::AlreadyResolved {
            debug!(
                half_offset = offset,
                msg_id = %req.msg_id,
                "END_TRANSACTION for a transaction that already has an outcome ignored"
            );
            return Ok(EndOutcome::AlreadyResolved);
        }
        let outcome = if req.commit {
            match self.write.put(Origin::Commit, half.committed()).await {
                Ok(stored) => EndOutcome::Committed {
                    msg_id: stored.put.msg_id,
                },
                Err(ServiceError::Store(StoreError::FlushTimeout { .. })) => {
                    EndOutcome::Committed {
                        msg_id: String::new(),
                    }
                }
                Err(e) => {
                    self.abandon(offset);
                    return Err(e.into());
                }
            }
        } else {
            EndOutcome::RolledBack
        };
        self.finish(offset).await;
        Ok(outcome)
    }

    /// Channel choice for check-backs: round robin over the group's live connections.
    pub(super) fn pick<T: Clone>(&self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        let i = self.next_channel.fetch_add(1, Ordering::Relaxed) % items.len();
        items.get(i).cloned()
    }
}

/// Reads every record of `topic` queue 0 from queue offset `from`, in order; returns the offset after the last
/// one read. Skips ahead (with a warning) over entries removed by cleanup.
fn read_queue(store: &MessageStore, topic: &str, from: i64, mut each: impl FnMut(&Bytes)) -> i64 {
    let mut offset = from;
    loop {
        let r = store.get_messages(topic, 0, offset, 32, usize::MAX, &|_| true);
        match r.status {
            GetMessageStatus::Found => r.messages.iter().for_each(&mut each),
            GetMessageStatus::OffsetTooSmall => {
                warn!(
                    topic,
                    from = offset,
                    min = r.next_begin_offset,
                    "transaction queue entries were removed by cleanup; skipping them"
                );
            }
            GetMessageStatus::OffsetOverflowBadly => {
                warn!(
                    topic,
                    from = offset,
                    max = r.max_offset,
                    "transaction queue is shorter than the saved progress; continuing at its end"
                );
                return r.max_offset;
            }
            GetMessageStatus::NoMatchedMessage
            | GetMessageStatus::OffsetFoundNull
            | GetMessageStatus::MessageWasRemoving => {}
            GetMessageStatus::OffsetOverflowOne
            | GetMessageStatus::NoMessageInQueue
            | GetMessageStatus::NoMatchedLogicQueue => return offset,
        }
        if r.next_begin_offset <= offset {
            return offset;
        }
        offset = r.next_begin_offset;
    }
}
