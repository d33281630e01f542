//! How a listener says a message failed: retry later (the default for any error) or dead-letter now.
//!
//! A listener may return `Result<_, E>` for any `E: std::error::Error`, [`ListenerError`] itself,
//! `Box<dyn Error + Send + Sync>` (and `Box<dyn Error>`), and with the `anyhow` feature `anyhow::Error`: the
//! macro converts each through [`ErrorConv`], and the error's source chain is kept (it shows in the log line).

use std::cell::Cell;
use std::error::Error as StdError;
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

    /// Retry later, for an already boxed error (`Box<dyn Error + Send + Sync>`, what `?` builds).
    pub fn retry_boxed(source: Box<dyn StdError + Send + Sync + 'static>) -> Self {
        ListenerError {
            kind: Kind::Retry,
            source,
        }
    }
}

/// The error and its causes, `outer: cause: root`, as anyhow's `{:#}` prints them.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        // Wrappers that print their cause already (thiserror's `#[error("..: {0}")]`) are not repeated.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

impl fmt::Display for ListenerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = chain(&*self.source);
        match self.kind {
            Kind::Retry => write!(f, "{text} (will retry)"),
            Kind::DeadLetter => write!(f, "{text} (dead-lettered)"),
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

/// How the macro turns a listener's error into a [`ListenerError`], whatever its type: `Box<dyn Error ..>`
/// and `anyhow::Error` are not `std::error::Error` themselves, so no `From` impl can cover them next to the
/// blanket one; method resolution picks [`ViaBoxed`] for those first and the inherent
/// [`ErrorConv::to_listener_error`] (`E: Into<ListenerError>`) for everything else ("autoref
/// specialization"). Not an API to call by hand.
#[doc(hidden)]
pub struct ErrorConv<E>(Cell<Option<E>>);

impl<E> ErrorConv<E> {
    /// Wraps the error to convert.
    pub fn new(e: E) -> Self {
        ErrorConv(Cell::new(Some(e)))
    }

    fn take(&self) -> Option<E> {
        self.0.take()
    }
}

/// Conversion of errors that are boxed or anyhow's (see [`ErrorConv`]).
#[doc(hidden)]
pub trait ViaBoxed {
    /// The listener error.
    fn to_listener_error(&self) -> ListenerError;
}

/// What a listener's error type must be: anything that converts into [`ListenerError`] (checked by
/// [`ErrorConv`] for every error type that is not boxed or anyhow's).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a listener's error type",
    label = "not an error type a listener can return",
    note = "return `ListenerError`, any `std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>` or, with rmq-runtime's `anyhow` feature, `anyhow::Error`"
)]
pub trait ListenerReturnError: Into<ListenerError> {}

impl<E: Into<ListenerError>> ListenerReturnError for E {}

const CONVERTED_TWICE: &str = "listener error converted twice (rmq-macros bug)";

impl ViaBoxed for &ErrorConv<Box<dyn StdError + Send + Sync + 'static>> {
    fn to_listener_error(&self) -> ListenerError {
        match self.take() {
            Some(b) => ListenerError::retry_boxed(b),
            None => ListenerError::retry_msg(CONVERTED_TWICE),
        }
    }
}

impl ViaBoxed for &ErrorConv<Box<dyn StdError + 'static>> {
    fn to_listener_error(&self) -> ListenerError {
        // Not `Send`: kept as its text, causes included.
        match self.take() {
            Some(b) => ListenerError::retry_msg(chain(&*b)),
            None => ListenerError::retry_msg(CONVERTED_TWICE),
        }
    }
}

#[cfg(feature = "anyhow")]
impl ViaBoxed for &ErrorConv<anyhow::Error> {
    fn to_listener_error(&self) -> ListenerError {
        match self.take() {
            Some(e) => ListenerError::retry_boxed(e.into()),
            None => ListenerError::retry_msg(CONVERTED_TWICE),
        }
    }
}

impl<E> ErrorConv<E> {
    /// Converts every `E: Into<ListenerError>`. An inherent method, found after the [`ViaBoxed`] impls and
    /// whose bound is checked only once chosen, so a wrong error type gets [`ListenerReturnError`]'s message.
    pub fn to_listener_error(&self) -> ListenerError
    where
        E: ListenerReturnError,
    {
        match self.take() {
            Some(e) => e.into(),
            None => ListenerError::retry_msg(CONVERTED_TWICE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot reserve stock")]
    struct Outer(#[source] std::io::Error);

    // The `&&` is the macro's form: it selects the conversion.
    #[allow(clippy::needless_borrow)]
    #[test]
    fn every_common_error_type_converts_and_keeps_its_causes() {
        let io = || std::io::Error::other("disk full");
        let from_std = (&&ErrorConv::new(Outer(io()))).to_listener_error();
        assert_eq!(
            from_std.to_string(),
            "cannot reserve stock: disk full (will retry)"
        );
        let boxed: Box<dyn StdError + Send + Sync> = Box::new(Outer(io()));
        let e = (&&ErrorConv::new(boxed)).to_listener_error();
        assert_eq!(
            e.to_string(),
            "cannot reserve stock: disk full (will retry)"
        );
        let local: Box<dyn StdError> = Box::new(Outer(io()));
        let e = (&&ErrorConv::new(local)).to_listener_error();
        assert_eq!(
            e.to_string(),
            "cannot reserve stock: disk full (will retry)"
        );
        let dead =
            (&&ErrorConv::new(ListenerError::dead_letter_msg("bad order"))).to_listener_error();
        assert!(dead.is_dead_letter());
    }

    #[cfg(feature = "anyhow")]
    #[allow(clippy::needless_borrow)]
    #[test]
    fn anyhow_errors_keep_their_context() {
        use anyhow::Context;
        let e: anyhow::Error = Err::<(), _>(std::io::Error::other("disk full"))
            .context("cannot reserve stock")
            .unwrap_err();
        let e = (&&ErrorConv::new(e)).to_listener_error();
        assert_eq!(
            e.to_string(),
            "cannot reserve stock: disk full (will retry)"
        );
    }
}
