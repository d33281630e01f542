//! What can go wrong in a guarded run, sorted by what the listener should do next.

use crate::consumer::ConsumeOutcome;

/// A handler's error, boxed so that handlers can fail with `sqlx::Error`, `anyhow::Error`, their own types or a
/// plain string, and the guard can still record it as a remark and hand it back.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a guarded run did not end in [`Outcome`](super::Outcome).
///
/// The variants differ in what the listener should do: [`GuardError::consume_outcome`] maps each to the
/// answer a push consumer gives the broker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The handler failed; its writes were rolled back and the failure was recorded (status 2, `attempts`,
    /// remark). The broker should deliver the message again.
    #[error(
        "handler failed on attempt {attempts} of {max_attempts} (recorded; retry later): {source}"
    )]
    HandlerFailed {
        /// Failed runs recorded so far for this key, this one included.
        attempts: u32,
        /// The guard's limit.
        max_attempts: u32,
        /// The handler's error.
        #[source]
        source: BoxError,
    },

    /// The key has used up its attempts (status 2, consumer_times ≥ the limit): the handler was not run
    /// again, or has just failed for the last time. Retrying cannot help; the caller dead-letters the message,
    /// and after fixing the cause an operator resends it from the DLQ once
    /// [`IdempotencyGuard::reset`](super::IdempotencyGuard::reset) has cleared the key.
    #[error("gave up after {attempts} failed attempts (limit {max_attempts}){}", last_error_suffix(.source))]
    AttemptsExhausted {
        /// Failed runs recorded for this key.
        attempts: u32,
        /// The guard's limit.
        max_attempts: u32,
        /// The handler's error when this very run was the last attempt; `None` when the key was already
        /// exhausted and the handler was not run (the remark column holds the last error then).
        #[source]
        source: Option<BoxError>,
    },

    /// The handler failed and was rolled back, but recording the failure failed too (under the claim and
    /// then on its own), so the attempt is not counted. Retry later: the effect was not applied.
    #[error("handler failed ({handler}) and the failure could not be recorded: {source}")]
    FailureNotRecorded {
        /// The handler's error.
        handler: BoxError,
        /// Why the failure record was not written.
        #[source]
        source: sqlx::Error,
    },

    /// The database failed outside the handler (begin, claim, mark done, commit). Nothing was applied, except
    /// that a failed commit may leave the outcome unknown; a redelivery then finds the key done or not and
    /// acts accordingly, which is the point of the guard. Retry later.
    #[error("consumer-log database error: {0}")]
    Database(#[from] sqlx::Error),

    /// The configured table name is not a plain SQL identifier (`name` or `schema.name`, letters, digits
    /// and `_`). The name is spliced into the guard's SQL, so anything else is refused up front.
    #[error("invalid consumer-log table name {0:?}: use letters, digits and `_`, optionally `schema.table`")]
    InvalidTableName(String),
}

fn last_error_suffix(source: &Option<BoxError>) -> String {
    match source {
        Some(e) => format!(": {e}"),
        None => String::new(),
    }
}

impl GuardError {
    /// The answer a push consumer gives the broker for this error: dead-letter when attempts are exhausted
    /// (retrying would run nothing), retry later for everything else.
    ///
    /// Orderly consumers redeliver locally instead: map [`ConsumeOutcome::Retry`] to
    /// [`ConsumeOutcome::Suspend`] there.
    pub fn consume_outcome(&self) -> ConsumeOutcome {
        match self {
            GuardError::AttemptsExhausted { .. } => ConsumeOutcome::DEAD_LETTER,
            _ => ConsumeOutcome::RETRY_LATER,
        }
    }

    /// The answer a `#[rocketmq_listener]` gives: dead-letter once the attempts are used up, retry otherwise
    /// (`guard.run_message(..).await.map_err(GuardError::into_listener_error)?`).
    pub fn into_listener_error(self) -> crate::listener::ListenerError {
        if self.is_retryable() {
            crate::listener::ListenerError::retry(self)
        } else {
            crate::listener::ListenerError::dead_letter(self)
        }
    }

    /// Whether the broker should deliver the message again.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            GuardError::AttemptsExhausted { .. } | GuardError::InvalidTableName(_)
        )
    }
}
