//! The parsed form of a selector, shaped like RocketMQ's expression objects so evaluation follows them.
//!
//! Sugar is expanded by the parser the way RocketMQ builds its objects: `a <> b` is `NOT (a = b)`,
//! `a IS NOT NULL` is `NOT (a IS NULL)`, `a BETWEEN x AND y` is `a >= x AND a <= y`, and `a NOT BETWEEN x AND
//! y` is `a < x OR a > y`. AND and OR chains are kept flat (one node with all operands) so that a long list
//! of alternatives does not make the tree deep.

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `'text'`.
    Str(String),
    /// An integer literal that fits in 32 bits (Java makes it an `Integer`).
    Int(i32),
    /// A larger integer literal (Java `Long`).
    Long(i64),
    /// A decimal literal (Java `Double`).
    Double(f64),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `NULL`.
    Null,
}

/// Ordering and equality operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`.
    Eq,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
}

/// String tests against a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    /// `CONTAINS`.
    Contains,
    /// `STARTSWITH`.
    StartsWith,
    /// `ENDSWITH`.
    EndsWith,
}

/// An expression node.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Literal(Literal),
    /// A message property, looked up by its exact (case-sensitive) name.
    Property(String),
    /// Unary minus: negates numbers, anything else gives NULL.
    Negate(Box<Expr>),
    /// `NOT x`: TRUE ↔ FALSE, NULL stays NULL.
    Not(Box<Expr>),
    /// A bare property used as a condition: NULL when missing, otherwise FALSE (properties are strings).
    BoolCast(Box<Expr>),
    /// `a AND b AND ...`, evaluated left to right, stopping at the first FALSE.
    And(Vec<Expr>),
    /// `a OR b OR ...`, evaluated left to right, stopping at the first TRUE.
    Or(Vec<Expr>),
    /// `left op right`.
    Compare {
        /// Operator.
        op: CompareOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `x IS NULL` (never NULL itself).
    IsNull(Box<Expr>),
    /// `prop IN ('a', 'b')` / `prop NOT IN (...)`.
    In {
        /// Property name.
        property: String,
        /// The listed strings.
        values: Vec<String>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `x CONTAINS 'a'` and friends, with their `NOT` forms.
    Text {
        /// Which test.
        op: TextOp,
        /// The tested value.
        operand: Box<Expr>,
        /// The literal searched for.
        needle: String,
        /// `NOT CONTAINS` etc.
        negated: bool,
    },
}

impl Expr {
    /// Whether RocketMQ treats this node as a boolean expression (usable with AND, OR, NOT and as the whole
    /// selector). A bare property is not one, but the parser wraps it in [`Expr::BoolCast`] where a condition
    /// is needed.
    pub fn is_boolean(&self) -> bool {
        match self {
            Expr::Literal(Literal::Bool(_) | Literal::Null) => true,
            Expr::Literal(_) | Expr::Property(_) | Expr::Negate(_) => false,
            Expr::Not(_)
            | Expr::BoolCast(_)
            | Expr::And(_)
            | Expr::Or(_)
            | Expr::Compare { .. }
            | Expr::IsNull(_)
            | Expr::In { .. }
            | Expr::Text { .. } => true,
        }
    }

    /// Depth of the tree under this node (a leaf is 1).
    pub fn depth(&self) -> usize {
        let children = match self {
            Expr::Literal(_) | Expr::Property(_) | Expr::In { .. } => 0,
            Expr::Negate(e) | Expr::Not(e) | Expr::BoolCast(e) | Expr::IsNull(e) => e.depth(),
            Expr::Text { operand, .. } => operand.depth(),
            Expr::And(v) | Expr::Or(v) => v.iter().map(Expr::depth).max().unwrap_or(0),
            Expr::Compare { left, right, .. } => left.depth().max(right.depth()),
        };
        children + 1
    }
}
