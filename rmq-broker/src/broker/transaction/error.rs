//! Why a transaction outcome could not be applied.

use crate::broker::service::ServiceError;

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
    Write(#[from] ServiceError),
}
