//! Transactional messages (docs/protocol.md §4.5), the RocketMQ way: half messages are ordinary records in a system
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
pub mod error;
pub mod names;
pub mod service;
pub(crate) mod state;

pub use error::TransactionError;
pub use names::{CHECK_MAX_TIME_TOPIC, HALF_TOPIC, OP_REMOVE_TAG, OP_TOPIC, STATE_FILE};
pub use service::{EndOutcome, EndTransaction, TransactionService};
