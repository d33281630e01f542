//! RocketMQ SQL92 message selectors: parse once, evaluate against each message's properties.
//!
//! A consumer subscribing with `MessageSelector.bySql("a > 5 AND region IN ('eu', 'us')")` gets only the
//! messages whose user properties satisfy the expression. The broker parses the expression when the
//! subscription arrives (refusing a bad one with the position of the problem) and evaluates it for every
//! candidate message of a pull. This crate is that parser and evaluator; it depends only on `thiserror` so
//! that a proc-macro can check literal selectors at compile time with exactly the broker's rules.
//!
//! # Layout
//! - [`lexer`](crate::lexer) (private): tokens, produced on demand.
//! - [`parser`]: recursive descent with RocketMQ's build-time checks and a nesting limit ([`MAX_DEPTH`]).
//! - [`ast`]: the expression tree.
//! - [`eval`](crate::eval) (private): RocketMQ's value and three-valued-logic rules.
//! - [`suggest`]: edit distance for "did you mean" hints, shared with the macros, broker and runtime.
//! - [`error`]: [`SyntaxError`] (refused at subscribe time) and [`EvalError`] (one message could not be
//!   evaluated).
//!
//! # Grammar
//! Comparisons `=`, `<>`, `>`, `>=`, `<`, `<=`; `x [NOT] BETWEEN a AND b`; `prop [NOT] IN ('a', 'b')`;
//! `x IS [NOT] NULL`; `x [NOT] CONTAINS 'a'`, `STARTSWITH`, `ENDSWITH` (RocketMQ 5.x); `AND`, `OR`, `NOT`,
//! parentheses, unary `+` and `-`; literals `'string'` (`''` is a quote), integers, decimals, `TRUE`,
//! `FALSE`, `NULL`; identifiers `[A-Za-z_$][A-Za-z0-9_$]*`. Keywords ignore case, property names do not.
//! `NOT` binds tighter than comparisons (`NOT a = 1` is `(NOT a) = 1`), as in RocketMQ. See [`parser`] for
//! the two places rmq is stricter or looser than RocketMQ.
//!
//! # Example
//! ```
//! use std::collections::HashMap;
//! use rmq_filter::Selector;
//!
//! let selector = Selector::parse("price > 10 AND region IN ('eu', 'us')")?;
//! let props: HashMap<&str, &str> = [("price", "12"), ("region", "eu")].into_iter().collect();
//! assert!(selector.matches(&|name| props.get(name).copied()));
//! // A missing property makes the comparison unknown, and unknown does not match.
//! assert!(!selector.matches(&|_| None));
//!
//! let err = Selector::parse("price > 10 AND region IN ('eu'").unwrap_err();
//! assert_eq!(err.position, 30);
//! # Ok::<(), rmq_filter::SyntaxError>(())
//! ```
#![warn(missing_docs, unreachable_pub)]

pub mod ast;
pub mod error;
mod eval;
mod lexer;
pub mod parser;
pub mod suggest;

use std::sync::Arc;

pub use error::{EvalError, SyntaxError, SyntaxErrorKind};
pub use parser::{MAX_DEPTH, MAX_TREE_DEPTH};

use eval::{Evaluator, Value};

/// A parsed SQL92 selector: immutable, cheap to clone, shareable between threads.
#[derive(Debug, Clone)]
pub struct Selector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    expression: String,
    root: ast::Expr,
}

/// The full result of evaluating a selector against one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// The message matches.
    True,
    /// The expression is false.
    False,
    /// The expression is NULL (e.g. it compares a missing property); does not match.
    Unknown,
    /// Evaluation failed as RocketMQ's evaluator would throw (e.g. a non-numeric property compared with a
    /// number); does not match.
    Failed(EvalError),
}

impl Selector {
    /// Parses `expression`.
    ///
    /// # Errors
    /// A [`SyntaxError`] with the 0-based character position of the first problem: a lexical or grammar
    /// error, a construct RocketMQ refuses when building the expression (`a > 'x'`, `a = NULL`,
    /// `a BETWEEN 5 AND 1`, ...), a number out of range, or nesting beyond [`MAX_DEPTH`].
    pub fn parse(expression: &str) -> Result<Selector, SyntaxError> {
        let root = parser::parse(expression)?;
        Ok(Selector {
            inner: Arc::new(Inner {
                expression: expression.to_owned(),
                root,
            }),
        })
    }

    /// Whether a message with these properties matches (the expression evaluates to TRUE). `property`
    /// returns a property's value by exact name, `None` when the message does not have it.
    pub fn matches<'v>(&self, property: &dyn Fn(&str) -> Option<&'v str>) -> bool {
        self.evaluate(property) == Evaluation::True
    }

    /// Evaluates against a message's properties and tells TRUE, FALSE, NULL and failure apart (for
    /// diagnostics and tests; the broker only needs [`Selector::matches`]).
    pub fn evaluate<'v>(&self, property: &dyn Fn(&str) -> Option<&'v str>) -> Evaluation {
        match (Evaluator { property }).eval(&self.inner.root) {
            Ok(Value::Bool(true)) => Evaluation::True,
            Ok(Value::Bool(false)) => Evaluation::False,
            Ok(_) => Evaluation::Unknown,
            Err(e) => Evaluation::Failed(e),
        }
    }

    /// The expression as given to [`Selector::parse`].
    pub fn expression(&self) -> &str {
        &self.inner.expression
    }

    /// The parsed tree.
    pub fn ast(&self) -> &ast::Expr {
        &self.inner.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_is_send_sync_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<Selector>();
    }
}
