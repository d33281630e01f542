//! Errors: [`SyntaxError`] when a selector is refused (at subscribe time), [`EvalError`] when evaluating it
//! against one message fails the way RocketMQ's evaluator throws (the message then does not match).

use std::fmt;

/// What kind of problem a [`SyntaxError`] reports, so callers can react without parsing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyntaxErrorKind {
    /// A character no token starts with (`!`, `"`, `/` outside a comment, ...).
    InvalidCharacter,
    /// A string literal or block comment that is not closed.
    Unterminated,
    /// A token the grammar does not allow here.
    UnexpectedToken,
    /// The expression stops where the grammar needs more.
    UnexpectedEnd,
    /// A numeric literal outside the range RocketMQ accepts (`i64` integers, finite doubles).
    NumberOutOfRange,
    /// A well-formed expression RocketMQ refuses when building it: `a > 'x'`, `a = NULL`, `5 AND b`,
    /// `'x' IN ('y')`, `a BETWEEN 5 AND 1`, ...
    Type,
    /// Nesting beyond [`crate::MAX_DEPTH`] (parentheses, prefix operators) or an expression tree deeper than
    /// [`crate::MAX_TREE_DEPTH`].
    TooDeep,
}

/// A selector that does not parse: where (0-based character offset) and why.
///
/// `Display` gives one line naming the position and the reason, then the expression (or the part around the
/// position, for long ones) with a caret under the offending character, so it reads well in a log, a broker
/// remark or a compile error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SyntaxError {
    /// 0-based offset of the offending character, counted in `char`s; the expression's length for "ended
    /// too early".
    pub position: usize,
    /// What was wrong, e.g. `expected ')' but found end of input`.
    pub message: String,
    /// Category of the problem.
    pub kind: SyntaxErrorKind,
    /// The expression that was parsed (for the snippet).
    pub expression: String,
}

/// Characters shown on each side of the error position in [`SyntaxError::snippet`].
const SNIPPET_RADIUS: usize = 40;

impl SyntaxError {
    pub(crate) fn new(
        kind: SyntaxErrorKind,
        position: usize,
        message: impl Into<String>,
        expression: &str,
    ) -> Self {
        SyntaxError {
            position,
            message: message.into(),
            kind,
            expression: expression.to_owned(),
        }
    }

    /// Two lines: the expression (cut to the part around the position when long, with `...` marks; line
    /// breaks shown as spaces) and a caret line pointing at the position.
    pub fn snippet(&self) -> String {
        let chars: Vec<char> = self.expression.chars().collect();
        let pos = self.position.min(chars.len());
        let start = pos.saturating_sub(SNIPPET_RADIUS);
        let end = (pos + SNIPPET_RADIUS).min(chars.len());
        let mut line = String::new();
        let mut caret = pos - start;
        if start > 0 {
            line.push_str("...");
            caret += 3;
        }
        line.extend(
            chars[start..end]
                .iter()
                .map(|&c| if c.is_control() { ' ' } else { c }),
        );
        if end < chars.len() {
            line.push_str("...");
        }
        format!("{line}\n{}^", " ".repeat(caret))
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid SQL92 selector at position {}: {}\n{}",
            self.position,
            self.message,
            self.snippet()
        )
    }
}

/// Why evaluating a selector against one message failed. RocketMQ's evaluator throws in these cases and the
/// broker then treats the message as not matching; rmq does the same.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A property compared with a number does not convert to that number's type (Java's
    /// `Integer.valueOf` / `Long.valueOf` / `Double.valueOf` failing).
    #[error("value '{value}' is not a valid {target}")]
    NotANumber {
        /// The property value.
        value: String,
        /// `int`, `long` or `double`.
        target: &'static str,
    },
    /// `>`, `>=`, `<`, `<=` between two strings that are not both numbers.
    #[error("strings cannot be compared with '>', '>=', '<', '<=' unless both are numbers ('{left}', '{right}')")]
    StringOrdering {
        /// Left value.
        left: String,
        /// Right value.
        right: String,
    },
    /// A boolean on the left compared with a string on the right (Java fails with a class-cast error).
    #[error("a boolean cannot be compared with the string '{0}'")]
    BooleanWithString(String),
}
