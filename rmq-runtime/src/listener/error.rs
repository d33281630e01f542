//! How a listener says a message failed: retry later (the default for any error) or dead-letter now.

use std::fmt;

/// A listener failure. Any `std::error::Error` converts into a retryable one with `?`; use
/// [`ListenerError::dead_letter`] when retrying cannot help (a malformed payload, a business rejection).
pub struct ListenerError {
    kind: Kind,
    source: Box<dyn std::error::Error + Send + Sync>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Retry,
    DeadLetter,
}

#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

impl ListenerError {
    /// Retry later (RECONSUME_LATER; SUSPEND in orderly mode).
    pub fn retry(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ListenerError {
            kind: Kind::Retry,
            source: Box::new(e),
        }
    }

    /// Do not retry: the message goes to the group's dead-letter queue now.
    pub fn dead_letter(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ListenerError {
            kind: Kind::DeadLetter,
            source: Box::new(e),
        }
    }

    /// Retry later, with a plain message.
    pub fn retry_msg(msg: impl Into<String>) -> Self {
        Self::retry(Message(msg.into()))
    }

    /// Dead-letter now, with a plain message.
    pub fn dead_letter_msg(msg: impl Into<String>) -> Self {
        Self::dead_letter(Message(msg.into()))
    }

    /// Whether the message should go straight to the DLQ.
    pub fn is_dead_letter(&self) -> bool {
        self.kind == Kind::DeadLetter
    }

    /// The underlying error.
    pub fn source_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }
}

impl fmt::Display for ListenerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Retry => write!(f, "{} (will retry)", self.source),
            Kind::DeadLetter => write!(f, "{} (dead-lettered)", self.source),
        }
    }
}

impl fmt::Debug for ListenerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerError")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

// Like anyhow, ListenerError is not itself a std Error, so this blanket conversion does not overlap the
// reflexive `From<T> for T`.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for ListenerError {
    fn from(e: E) -> Self {
        ListenerError::retry(e)
    }
}
