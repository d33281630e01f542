//! Transactional messages (notes §4.5), the RocketMQ way: half messages are ordinary records in a system
//! topic, outcomes are ordinary records in another, so the store needs no special support and a restart
//! rebuilds everything from the two queues.
//!
//! # Flow
//! 1. A send with `TRAN_MSG=true` is stored by [`bridge::half_message`] as a **half record** in
//!    `RMQ_SYS_TRANS_HALF_TOPIC` queue 0 (`REAL_TOPIC`/`REAL_QID` keep the destination). No consumer
//!    subscribes to that topic, so it stays out of sight.
//! 2. END_TRANSACTION ([`end_transaction`]) re-reads the half record by `commitLogOffset`, checks producer
//!    group and `tranStateTableOffset`, and on **commit** stores the real message (transaction type COMMIT,
//!    `preparedTransactionOffset` = the half record's offset), then appends an **op record** to
//!    `RMQ_SYS_TRANS_OP_HALF_TOPIC` (tag `d`, body `"<half queue offset>,"`). **Rollback** only appends the op.
//!    A committed message with a `DELAY` level or a `TIMER_*` delivery time goes through the schedule like a
//!    plain send, so it becomes visible only when due.
//! 3. The check service ([`check`]) wakes every `transactionCheckInterval`, reads half records it has not seen,
//!    and sends CHECK_TRANSACTION_STATE to a live producer of the message's group for each open one older
//!    than max(`transactionTimeOut`, CHECK_IMMUNITY_TIME_IN_SECONDS × 1000), up to `transactionCheckMax`
//!    times; then the message is copied to `TRANS_CHECK_MAX_TIME_TOPIC`, given an op record and logged.
//!
//! # Exactly once
//! Every outcome (commit, rollback, discard) first *claims* the half offset in the in-memory table
//! ([`state`]); a second END_TRANSACTION, a check-back answer racing the producer's own commit, or a discard
//! racing a late commit finds the claim and does nothing.
//!
//! # Durability
//! - Outcomes: the op records. On start the op queue is replayed from the snapshot's `opFrom`.
//! - Check counts and scan progress: `<storePathRootDir>/config/transaction.json`, written after every check
//!   round and at shutdown. Unlike Java, half messages are **not** re-appended on every check (Java writes a
//!   fresh copy carrying `TRANSACTION_CHECK_TIMES`); counts live in that file instead, so a check costs no
//!   CommitLog write and a half message keeps one offset for its whole life. A crash loses at most the
//!   increments of one round, which only means up to one extra check-back.
//! - The scan progress (`scanFrom`, the lowest offset that may still be open) keeps the start-up scan short.
//!
//! A crash after the real message was stored but before its op record was written leaves the half message
//! open, so it is checked again and may be committed twice — the same window Java has.

pub mod bridge;
pub mod check;
pub(crate) mod state;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use rmq_protocol::headers::EndTransactionRequestHeader;
use rmq_protocol::message::properties;
use rmq_protocol::message::stored::parse_view;
use tracing::{debug, error, info, warn};

use crate::broker::BrokerInner;
use crate::persist::{self, PersistError};
use crate::store::{GetMessageStatus, MessageStore, StoreError};
use bridge::HalfRecord;
use state::{ClaimOutcome, PendingHalf, Snapshot, TxState};

/// Where half messages live (queue 0).
pub const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Where outcomes are recorded (queue 0, mirroring the half queue).
pub const OP_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Where half messages go after `transactionCheckMax` unanswered checks.
pub const CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// Tag of op records ("delete"), as Java's `TransactionalMessageUtil.REMOVETAG`.
pub const OP_REMOVE_TAG: &str = "d";
/// Name of the state file under `<storePathRootDir>/config/`.
pub const STATE_FILE: &str = "transaction.json";

/// Why an END_TRANSACTION (or a discard) could not be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    /// No record starts at the given CommitLog offset (wrong offset, or deleted by cleanup).
    #[error("Find prepared transaction message failed: no record at commitLogOffset {offset}")]
    HalfNotFound {
        /// The requested CommitLog offset.
        offset: i64,
    },
    /// The record there is not a half message.
    #[error("the record at commitLogOffset {offset} is in topic {topic}, not a half message")]
    NotHalf {
        /// The requested CommitLog offset.
        offset: i64,
        /// Its topic.
        topic: String,
    },
    /// The half record lacks a property the broker writes itself.
    #[error("the half message at commitLogOffset {offset} has no valid {name} property")]
    MissingProperty {
        /// CommitLog offset of the half record.
        offset: i64,
        /// The property.
        name: &'static str,
    },
    /// The record does not decode.
    #[error("the record at commitLogOffset {offset} does not decode: {reason}")]
    Corrupt {
        /// CommitLog offset.
        offset: i64,
        /// Decoder message.
        reason: String,
    },
    /// The request names another producer group than the half message's `PGROUP`.
    #[error("The producer group wrong: the half message belongs to {expected:?}, the request names {got:?}")]
    ProducerGroupMismatch {
        /// `PGROUP` of the half message.
        expected: Option<String>,
        /// `producerGroup` of the request.
        got: String,
    },
    /// The request's `tranStateTableOffset` is not the half message's queue offset.
    #[error("The transaction state table offset wrong: the half message is at {expected}, the request names {got}")]
    QueueOffsetMismatch {
        /// Queue offset of the half record.
        expected: i64,
        /// `tranStateTableOffset` of the request.
        got: i64,
    },
    /// Storing the real message failed; the transaction stays open.
    #[error("storing the committed message failed: {0}")]
    Store(#[from] StoreError),
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

/// The transaction table plus where it is persisted; lives in [`BrokerInner`].
#[derive(Debug)]
pub struct TransactionService {
    state: Mutex<TxState>,
    path: PathBuf,
    next_channel: AtomicUsize,
}

impl TransactionService {
    /// Loads `<config_dir>/transaction.json`, replays op records written after it and scans the half queue,
    /// so every half message without an outcome is known again (and will be checked).
    ///
    /// # Errors
    /// The refreshed state file cannot be written.
    pub fn load(config_dir: &Path, store: &MessageStore) -> Result<Self, PersistError> {
        let path = config_dir.join(STATE_FILE);
        // The file only shortens the rebuild; without it everything is rebuilt from the two queues (only check
        // counts are lost), so an unreadable one must not keep the broker down.
        let snap: Snapshot = match persist::read_json(&path) {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                warn!(error = %e, "transaction state file unusable; rebuilding from the half and op queues");
                Snapshot::default()
            }
        };
        let mut st = TxState::from_snapshot(&snap);
        let mut ops = 0usize;
        read_queue(store, OP_TOPIC, snap.op_from, |raw| {
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
            path,
            next_channel: AtomicUsize::new(0),
        };
        svc.scan(store);
        let open = svc.state.lock().open_count();
        info!(
            open,
            replayed_ops = ops,
            scan_from = snap.scan_from,
            "transaction state loaded"
        );
        svc.persist(store)?;
        Ok(svc)
    }

    /// Reads half records the table has not seen yet (from the scan position to the queue's end).
    pub(crate) fn scan(&self, store: &MessageStore) {
        let from = self.state.lock().scanned_to();
        let mut found = Vec::new();
        let next = read_queue(store, HALF_TOPIC, from, |raw| {
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
    pub fn persist(&self, store: &MessageStore) -> Result<(), PersistError> {
        let snap = {
            let mut st = self.state.lock();
            let op_end = store.max_offset_in_queue(OP_TOPIC, 0);
            st.snapshot(op_end)
        };
        persist::write_json(&self.path, &snap)
    }

    /// Number of half messages without an outcome that have been scanned (for tests and runtime info).
    pub fn open_count(&self) -> usize {
        self.state.lock().open_count()
    }

    fn claim(&self, half_offset: i64, store: &MessageStore) -> ClaimOutcome {
        let mut st = self.state.lock();
        let op_end = store.max_offset_in_queue(OP_TOPIC, 0);
        st.claim(half_offset, op_end)
    }

    fn abandon(&self, half_offset: i64) {
        self.state.lock().abandon(half_offset);
    }

    /// Appends the op record of a claimed half offset and marks it resolved. The in-memory mark is set even if
    /// the op cannot be written (the outcome already happened); the next state file then carries it.
    async fn finish(&self, inner: &BrokerInner, half_offset: i64) {
        let op = bridge::op_message(half_offset, inner.store_host, inner.uniq_ids.next_id());
        match inner.store.put_message(op).await {
            Ok(_) | Err(StoreError::FlushTimeout) => {}
            Err(e) => {
                error!(half_offset, error = %e, "writing the transaction op record failed; the outcome is kept in memory and in the next state file")
            }
        }
        self.state.lock().complete(half_offset);
    }
}

/// Applies a producer's END_TRANSACTION: commit stores the real message and an op record, rollback only the
/// op record; a half message that already has an outcome is left alone ([`EndOutcome::AlreadyResolved`]).
///
/// # Errors
/// [`TransactionError`] when the half message is not where the request says, belongs to another group or
/// offset, or the real message cannot be stored (the transaction then stays open and will be checked).
pub async fn end_transaction(
    inner: &BrokerInner,
    h: &EndTransactionRequestHeader,
    commit: bool,
) -> Result<EndOutcome, TransactionError> {
    let raw =
        inner
            .store
            .message_at(h.commit_log_offset)
            .ok_or(TransactionError::HalfNotFound {
                offset: h.commit_log_offset,
            })?;
    let half = HalfRecord::parse(&raw, h.commit_log_offset)?;
    if half.producer_group() != Some(h.producer_group.as_str()) {
        return Err(TransactionError::ProducerGroupMismatch {
            expected: half.producer_group().map(str::to_owned),
            got: h.producer_group.clone(),
        });
    }
    if half.msg.queue_offset != h.tran_state_table_offset {
        return Err(TransactionError::QueueOffsetMismatch {
            expected: half.msg.queue_offset,
            got: h.tran_state_table_offset,
        });
    }
    let svc = &inner.transactions;
    let offset = half.msg.queue_offset;
    if svc.claim(offset, &inner.store) == ClaimOutcome::AlreadyResolved {
        debug!(
            half_offset = offset,
            msg_id = %h.msg_id,
            "END_TRANSACTION for a transaction that already has an outcome ignored"
        );
        return Ok(EndOutcome::AlreadyResolved);
    }
    let outcome = if commit {
        let (msg, deferral) = deferred_commit(inner, half.committed());
        match inner.store.put_message(msg).await {
            Ok(put) => {
                inner.schedule.stored(deferral);
                EndOutcome::Committed { msg_id: put.msg_id }
            }
            Err(StoreError::FlushTimeout) => EndOutcome::Committed {
                msg_id: String::new(),
            },
            Err(e) => {
                svc.abandon(offset);
                return Err(e.into());
            }
        }
    } else {
        EndOutcome::RolledBack
    };
    svc.finish(inner, offset).await;
    Ok(outcome)
}

/// Routes a committed message through the delay/timer schedule as a plain send would be: a `DELAY` level or a
/// `TIMER_*` delivery time parks it on `SCHEDULE_TOPIC_XXXX` / the timer topic (the half message itself was
/// stored undeferred, since it waits for its outcome first). A delivery time that is malformed or too far
/// ahead cannot be refused any more (the producer already committed), so the message is delivered at once and
/// the problem logged.
fn deferred_commit(
    inner: &BrokerInner,
    mut msg: crate::store::MessageToStore,
) -> (
    crate::store::MessageToStore,
    crate::broker::schedule::Deferral,
) {
    let mut props = properties::Properties::parse(&msg.properties);
    let (mut topic, mut queue_id) = (msg.topic.clone(), msg.queue_id);
    match inner.schedule.defer(
        &mut topic,
        &mut queue_id,
        &mut props,
        msg.sys_flag,
        crate::broker::now_ms(),
    ) {
        Ok(deferral) => {
            msg.topic = topic;
            msg.queue_id = queue_id;
            msg.properties = props.encode();
            (msg, deferral)
        }
        Err(e) => {
            warn!(topic = %msg.topic, error = %e, "committed transactional message delivered at once: its delivery time is unusable");
            (msg, crate::broker::schedule::Deferral::Now)
        }
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

/// Channel choice for check-backs: round robin over the group's live connections.
fn pick<T: Clone>(svc: &TransactionService, items: &[T]) -> Option<T> {
    if items.is_empty() {
        return None;
    }
    let i = svc.next_channel.fetch_add(1, Ordering::Relaxed) % items.len();
    items.get(i).cloned()
}
