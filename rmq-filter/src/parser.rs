//! Recursive-descent parser for RocketMQ's selector grammar (`SelectorParser.jj`), with RocketMQ's build-time
//! checks and a nesting limit.
//!
//! Precedence, loosest first (each level is left-associative):
//!
//! ```text
//! or         := and (OR and)*
//! and        := equality (AND equality)*
//! equality   := comparison ( '=' comparison | '<>' comparison | IS NULL | IS NOT NULL )*
//! comparison := unary ( ('>'|'>='|'<'|'<=') unary
//!                     | [NOT] (CONTAINS|STARTSWITH|ENDSWITH) string
//!                     | [NOT] BETWEEN unary AND unary
//!                     | [NOT] IN '(' string (',' string)* ')' )*
//! unary      := '+' unary | '-' unary | NOT unary | primary
//! primary    := literal | identifier | '(' or ')'
//! ```
//!
//! Note that `NOT` binds tighter than comparisons, as in RocketMQ: `NOT a = 'x'` is `(NOT a) = 'x'`, which
//! never matches; write `NOT (a = 'x')`.
//!
//! Unlike RocketMQ, tokens left over after a complete expression are an error (RocketMQ silently ignores
//! them, so `a = 1 b = 2` would filter on `a = 1` alone), and a decimal literal of zero is accepted (RocketMQ
//! refuses `0.0` by mistake: it checks literals against `Double.MIN_VALUE`, the smallest *positive* double).

use std::collections::VecDeque;

use crate::ast::{CompareOp, Expr, Literal, TextOp};
use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::eval::{compare, Value};
use crate::lexer::{Keyword, Lexer, Token, TokenKind};

/// Deepest nesting of parentheses and prefix operators (`NOT`, `-`, `+`) the parser accepts.
pub const MAX_DEPTH: usize = 64;

/// Deepest expression tree accepted (chains such as `a IS NULL IS NULL ...` deepen the tree without
/// nesting); it bounds the recursion of evaluation.
pub const MAX_TREE_DEPTH: usize = 256;

/// A parsed node with where it starts and how deep its tree is.
#[derive(Debug)]
struct Node {
    expr: Expr,
    pos: usize,
    depth: usize,
}

/// Parses `src` into a boolean expression tree.
pub(crate) fn parse(src: &str) -> Result<Expr, SyntaxError> {
    let mut p = Parser {
        src,
        lexer: Lexer::new(src),
        ahead: VecDeque::new(),
        nesting: 0,
    };
    let node = p.or()?;
    let next = p.peek()?;
    if next.kind != TokenKind::Eof {
        let t = next.clone();
        return Err(p.unexpected(&t, "AND, OR or end of input"));
    }
    Ok(p.condition(node)?.expr)
}

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    ahead: VecDeque<Token>,
    nesting: usize,
}

impl Parser<'_> {
    fn error(&self, kind: SyntaxErrorKind, pos: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError::new(kind, pos, message, self.src)
    }

    fn unexpected(&self, found: &Token, expected: &str) -> SyntaxError {
        let kind = if found.kind == TokenKind::Eof {
            SyntaxErrorKind::UnexpectedEnd
        } else {
            SyntaxErrorKind::UnexpectedToken
        };
        let pos = if found.kind == TokenKind::Eof {
            self.lexer.len()
        } else {
            found.pos
        };
        self.error(
            kind,
            pos,
            format!("expected {expected} but found {}", found.kind.describe()),
        )
    }

    fn fill(&mut self, n: usize) -> Result<(), SyntaxError> {
        while self.ahead.len() < n {
            let t = self.lexer.next_token()?;
            self.ahead.push_back(t);
        }
        Ok(())
    }

    fn peek(&mut self) -> Result<&Token, SyntaxError> {
        self.fill(1)?;
        self.ahead.front().ok_or_else(|| {
            SyntaxError::new(SyntaxErrorKind::UnexpectedEnd, 0, "no token", self.src)
        })
    }

    fn peek_kind(&mut self) -> Result<TokenKind, SyntaxError> {
        Ok(self.peek()?.kind.clone())
    }

    fn peek_second(&mut self) -> Result<TokenKind, SyntaxError> {
        self.fill(2)?;
        Ok(self
            .ahead
            .get(1)
            .map(|t| t.kind.clone())
            .unwrap_or(TokenKind::Eof))
    }

    fn bump(&mut self) -> Result<Token, SyntaxError> {
        self.fill(1)?;
        self.ahead.pop_front().ok_or_else(|| {
            SyntaxError::new(SyntaxErrorKind::UnexpectedEnd, 0, "no token", self.src)
        })
    }

    fn expect(&mut self, kind: &TokenKind, expected: &str) -> Result<Token, SyntaxError> {
        let t = self.bump()?;
        if &t.kind == kind {
            Ok(t)
        } else {
            Err(self.unexpected(&t, expected))
        }
    }

    fn expect_string(&mut self, after: &str) -> Result<String, SyntaxError> {
        let t = self.bump()?;
        match t.kind {
            TokenKind::Str(s) => Ok(s),
            _ => Err(self.unexpected(&t, &format!("a string literal after {after}"))),
        }
    }

    /// Enters one level of nesting at `pos`.
    fn nest(&mut self, pos: usize) -> Result<(), SyntaxError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(self.error(
                SyntaxErrorKind::TooDeep,
                pos,
                format!("expression nested too deeply (more than {MAX_DEPTH} levels of parentheses or prefix operators)"),
            ));
        }
        Ok(())
    }

    /// A node over children of depth `depth`, refused when the tree gets too deep.
    fn node(&self, expr: Expr, pos: usize, child_depth: usize) -> Result<Node, SyntaxError> {
        let depth = child_depth + 1;
        if depth > MAX_TREE_DEPTH {
            return Err(self.error(
                SyntaxErrorKind::TooDeep,
                pos,
                format!("expression tree too deep (more than {MAX_TREE_DEPTH} levels)"),
            ));
        }
        Ok(Node { expr, pos, depth })
    }

    /// RocketMQ's `asBooleanExpression`: conditions stay, a bare property becomes a boolean cast, anything
    /// else is refused.
    fn condition(&self, n: Node) -> Result<Node, SyntaxError> {
        if n.expr.is_boolean() {
            return Ok(n);
        }
        if matches!(n.expr, Expr::Property(_)) {
            let (pos, depth) = (n.pos, n.depth);
            return self.node(Expr::BoolCast(Box::new(n.expr)), pos, depth);
        }
        Err(self.error(
            SyntaxErrorKind::Type,
            n.pos,
            format!(
                "{} is not a condition (it will not result in a boolean value)",
                describe(&n.expr)
            ),
        ))
    }

    /// `OR` / `AND` chains, flattened.
    fn logic(&mut self, or: bool) -> Result<Node, SyntaxError> {
        let kw = if or { Keyword::Or } else { Keyword::And };
        let first = self.descend(or)?;
        if self.peek_kind()? != TokenKind::Keyword(kw) {
            return Ok(first);
        }
        let pos = first.pos;
        let mut items: Vec<Expr> = Vec::new();
        let mut depth = 0;
        let mut pending = Some(first);
        while self.peek_kind()? == TokenKind::Keyword(kw) {
            self.bump()?;
            let right = self.descend(or)?;
            // RocketMQ checks both operands after parsing the right one.
            if let Some(left) = pending.take() {
                self.push_flat(&mut items, &mut depth, self.condition(left)?, or);
            }
            self.push_flat(&mut items, &mut depth, self.condition(right)?, or);
        }
        let expr = if or {
            Expr::Or(items)
        } else {
            Expr::And(items)
        };
        self.node(expr, pos, depth)
    }

    /// The next tighter level below OR (AND) or below AND (equality).
    fn descend(&mut self, or: bool) -> Result<Node, SyntaxError> {
        if or {
            self.logic(false)
        } else {
            self.equality()
        }
    }

    fn push_flat(&self, items: &mut Vec<Expr>, depth: &mut usize, n: Node, or: bool) {
        match n.expr {
            Expr::Or(inner) if or => {
                *depth = (*depth).max(n.depth.saturating_sub(1));
                items.extend(inner);
            }
            Expr::And(inner) if !or => {
                *depth = (*depth).max(n.depth.saturating_sub(1));
                items.extend(inner);
            }
            other => {
                *depth = (*depth).max(n.depth);
                items.push(other);
            }
        }
    }

    fn or(&mut self) -> Result<Node, SyntaxError> {
        self.logic(true)
    }

    fn equality(&mut self) -> Result<Node, SyntaxError> {
        let mut left = self.comparison()?;
        loop {
            match self.peek_kind()? {
                TokenKind::Eq | TokenKind::Ne => {
                    let negated = self.bump()?.kind == TokenKind::Ne;
                    let right = self.comparison()?;
                    self.check_equal_operands(&left, &right)?;
                    let pos = left.pos;
                    let depth = left.depth.max(right.depth);
                    let eq = self.node(
                        Expr::Compare {
                            op: CompareOp::Eq,
                            left: Box::new(left.expr),
                            right: Box::new(right.expr),
                        },
                        pos,
                        depth,
                    )?;
                    left = if negated {
                        self.node(Expr::Not(Box::new(eq.expr)), pos, eq.depth)?
                    } else {
                        eq
                    };
                }
                TokenKind::Keyword(Keyword::Is) => {
                    self.bump()?;
                    let negated = match self.is_form()? {
                        IsForm::Null => false,
                        IsForm::NotNull => true,
                    };
                    let pos = left.pos;
                    let is_null = self.node(Expr::IsNull(Box::new(left.expr)), pos, left.depth)?;
                    left = if negated {
                        self.node(Expr::Not(Box::new(is_null.expr)), pos, is_null.depth)?
                    } else {
                        is_null
                    };
                }
                _ => return Ok(left),
            }
        }
    }

    /// After `IS`: consumes `NULL` or `NOT NULL`.
    fn is_form(&mut self) -> Result<IsForm, SyntaxError> {
        let t = self.bump()?;
        match t.kind {
            TokenKind::Keyword(Keyword::Null) => Ok(IsForm::Null),
            TokenKind::Keyword(Keyword::Not) => {
                self.expect(&TokenKind::Keyword(Keyword::Null), "NULL after IS NOT")?;
                Ok(IsForm::NotNull)
            }
            _ => Err(self.unexpected(&t, "NULL or NOT NULL after IS")),
        }
    }

    /// RocketMQ's `checkEqualOperand` and `checkEqualOperandCompatability`.
    fn check_equal_operands(&self, left: &Node, right: &Node) -> Result<(), SyntaxError> {
        for n in [left, right] {
            if matches!(n.expr, Expr::Literal(Literal::Null)) {
                return Err(self.error(
                    SyntaxErrorKind::Type,
                    n.pos,
                    "NULL cannot be compared with '=' or '<>'; use IS NULL or IS NOT NULL",
                ));
            }
        }
        if let (Expr::Literal(Literal::Bool(_)), Expr::Literal(r)) = (&left.expr, &right.expr) {
            if !matches!(r, Literal::Bool(_)) {
                return Err(self.error(
                    SyntaxErrorKind::Type,
                    right.pos,
                    format!(
                        "{} cannot be compared with {}",
                        describe(&left.expr),
                        describe(&right.expr)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// RocketMQ's `checkLessThanOperand`: only numbers, properties and negations can be ordered.
    fn check_orderable(&self, n: &Node, op: &str) -> Result<(), SyntaxError> {
        let ok = match &n.expr {
            Expr::Literal(l) => {
                matches!(l, Literal::Int(_) | Literal::Long(_) | Literal::Double(_))
            }
            e => !e.is_boolean(),
        };
        if ok {
            Ok(())
        } else {
            Err(self.error(
                SyntaxErrorKind::Type,
                n.pos,
                format!(
                    "{} cannot be compared with '{op}' (only numbers and properties can)",
                    describe(&n.expr)
                ),
            ))
        }
    }

    fn ordered(&self, op: CompareOp, left: &Node, right: &Node) -> Result<Node, SyntaxError> {
        let sym = match op {
            CompareOp::Eq => "=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
        };
        self.check_orderable(left, sym)?;
        self.check_orderable(right, sym)?;
        self.node(
            Expr::Compare {
                op,
                left: Box::new(left.expr.clone()),
                right: Box::new(right.expr.clone()),
            },
            left.pos,
            left.depth.max(right.depth),
        )
    }

    fn comparison(&mut self) -> Result<Node, SyntaxError> {
        let mut left = self.unary()?;
        loop {
            let kind = self.peek_kind()?;
            let (negated, kind) = if kind == TokenKind::Keyword(Keyword::Not) {
                let second = self.peek_second()?;
                match second {
                    TokenKind::Keyword(
                        Keyword::Contains
                        | Keyword::StartsWith
                        | Keyword::EndsWith
                        | Keyword::Between
                        | Keyword::In,
                    ) => {
                        self.bump()?;
                        (true, second)
                    }
                    _ => return Ok(left),
                }
            } else {
                (false, kind)
            };
            left = match kind {
                TokenKind::Gt | TokenKind::Ge | TokenKind::Lt | TokenKind::Le => {
                    let op = match self.bump()?.kind {
                        TokenKind::Gt => CompareOp::Gt,
                        TokenKind::Ge => CompareOp::Ge,
                        TokenKind::Lt => CompareOp::Lt,
                        _ => CompareOp::Le,
                    };
                    let right = self.unary()?;
                    self.ordered(op, &left, &right)?
                }
                TokenKind::Keyword(
                    k @ (Keyword::Contains | Keyword::StartsWith | Keyword::EndsWith),
                ) => {
                    self.bump()?;
                    let needle = self.expect_string(k.as_str())?;
                    let op = match k {
                        Keyword::Contains => TextOp::Contains,
                        Keyword::StartsWith => TextOp::StartsWith,
                        _ => TextOp::EndsWith,
                    };
                    let (pos, depth) = (left.pos, left.depth);
                    self.node(
                        Expr::Text {
                            op,
                            operand: Box::new(left.expr),
                            needle,
                            negated,
                        },
                        pos,
                        depth,
                    )?
                }
                TokenKind::Keyword(Keyword::Between) => {
                    self.bump()?;
                    let low = self.unary()?;
                    self.expect(
                        &TokenKind::Keyword(Keyword::And),
                        "AND in BETWEEN ... AND ...",
                    )?;
                    let high = self.unary()?;
                    self.between(left, low, high, negated)?
                }
                TokenKind::Keyword(Keyword::In) => {
                    self.bump()?;
                    self.expect(&TokenKind::LParen, "'(' after IN")?;
                    let mut values = vec![self.expect_string("IN (")?];
                    loop {
                        let t = self.bump()?;
                        match t.kind {
                            TokenKind::Comma => values.push(self.expect_string("','")?),
                            TokenKind::RParen => break,
                            _ => return Err(self.unexpected(&t, "',' or ')' in the IN list")),
                        }
                    }
                    let Expr::Property(property) = left.expr else {
                        return Err(self.error(
                            SyntaxErrorKind::Type,
                            left.pos,
                            format!(
                                "IN needs a property on its left, not {}",
                                describe(&left.expr)
                            ),
                        ));
                    };
                    self.node(
                        Expr::In {
                            property,
                            values,
                            negated,
                        },
                        left.pos,
                        0,
                    )?
                }
                _ => return Ok(left),
            };
        }
    }

    /// `value [NOT] BETWEEN low AND high`, with RocketMQ's checks on constant bounds.
    fn between(
        &self,
        value: Node,
        low: Node,
        high: Node,
        negated: bool,
    ) -> Result<Node, SyntaxError> {
        if let (Expr::Literal(l), Expr::Literal(h)) = (&low.expr, &high.expr) {
            if !negated {
                if matches!(l, Literal::Null) || matches!(h, Literal::Null) {
                    let at = if matches!(l, Literal::Null) {
                        &low
                    } else {
                        &high
                    };
                    return Err(self.error(
                        SyntaxErrorKind::Type,
                        at.pos,
                        "the bounds of BETWEEN cannot be NULL",
                    ));
                }
                self.check_orderable(&low, "BETWEEN")?;
                self.check_orderable(&high, "BETWEEN")?;
                let ordered = compare(Value::from_literal(h), Value::from_literal(l));
                if !ordered.is_ok_and(|o| o.is_ge()) {
                    return Err(self.error(
                        SyntaxErrorKind::Type,
                        low.pos,
                        format!(
                            "the lower bound of BETWEEN ({}) is greater than the upper bound ({})",
                            describe(&low.expr),
                            describe(&high.expr)
                        ),
                    ));
                }
            }
        }
        let (first, second, expr): (_, _, fn(Vec<Expr>) -> Expr) = if negated {
            (
                self.ordered(CompareOp::Lt, &value, &low)?,
                self.ordered(CompareOp::Gt, &value, &high)?,
                Expr::Or,
            )
        } else {
            (
                self.ordered(CompareOp::Ge, &value, &low)?,
                self.ordered(CompareOp::Le, &value, &high)?,
                Expr::And,
            )
        };
        let depth = first.depth.max(second.depth);
        self.node(expr(vec![first.expr, second.expr]), value.pos, depth)
    }

    fn unary(&mut self) -> Result<Node, SyntaxError> {
        let t = self.peek()?.clone();
        match t.kind {
            TokenKind::Plus | TokenKind::Minus | TokenKind::Keyword(Keyword::Not) => {
                self.bump()?;
                self.nest(t.pos)?;
                let inner = self.unary()?;
                self.nesting -= 1;
                match t.kind {
                    // RocketMQ's unary plus returns its operand unchanged.
                    TokenKind::Plus => Ok(Node {
                        pos: t.pos,
                        ..inner
                    }),
                    TokenKind::Minus => {
                        self.node(Expr::Negate(Box::new(inner.expr)), t.pos, inner.depth)
                    }
                    _ => {
                        let inner = self.condition(inner)?;
                        self.node(Expr::Not(Box::new(inner.expr)), t.pos, inner.depth)
                    }
                }
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Node, SyntaxError> {
        let t = self.bump()?;
        let literal = |expr| Node {
            expr: Expr::Literal(expr),
            pos: t.pos,
            depth: 1,
        };
        match &t.kind {
            TokenKind::Str(s) => Ok(literal(Literal::Str(s.clone()))),
            TokenKind::Integer(text) => match text.parse::<i64>() {
                Ok(v) => Ok(literal(match i32::try_from(v) {
                    Ok(small) => Literal::Int(small),
                    Err(_) => Literal::Long(v),
                })),
                Err(_) => Err(self.error(
                    SyntaxErrorKind::NumberOutOfRange,
                    t.pos,
                    format!("integer {text} is out of range (at most {})", i64::MAX),
                )),
            },
            TokenKind::Decimal(text) => match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(literal(Literal::Double(v))),
                _ => Err(self.error(
                    SyntaxErrorKind::NumberOutOfRange,
                    t.pos,
                    format!("decimal {text} is out of range (at most {:e})", f64::MAX),
                )),
            },
            TokenKind::Keyword(Keyword::True) => Ok(literal(Literal::Bool(true))),
            TokenKind::Keyword(Keyword::False) => Ok(literal(Literal::Bool(false))),
            TokenKind::Keyword(Keyword::Null) => Ok(literal(Literal::Null)),
            TokenKind::Ident(name) => Ok(Node {
                expr: Expr::Property(name.clone()),
                pos: t.pos,
                depth: 1,
            }),
            TokenKind::LParen => {
                self.nest(t.pos)?;
                let inner = self.or()?;
                self.expect(&TokenKind::RParen, "')'")?;
                self.nesting -= 1;
                Ok(Node {
                    pos: t.pos,
                    ..inner
                })
            }
            _ => Err(self.unexpected(&t, "a value, a property or '('")),
        }
    }
}

enum IsForm {
    Null,
    NotNull,
}

/// A short description of a node for error messages.
fn describe(e: &Expr) -> String {
    match e {
        Expr::Literal(Literal::Str(s)) => format!("the string '{}'", s.replace('\'', "''")),
        Expr::Literal(Literal::Int(v)) => format!("the number {v}"),
        Expr::Literal(Literal::Long(v)) => format!("the number {v}"),
        Expr::Literal(Literal::Double(v)) => format!("the number {v}"),
        Expr::Literal(Literal::Bool(true)) => "TRUE".into(),
        Expr::Literal(Literal::Bool(false)) => "FALSE".into(),
        Expr::Literal(Literal::Null) => "NULL".into(),
        Expr::Property(p) => format!("property {p}"),
        Expr::Negate(_) => "a negated value".into(),
        _ => "a condition".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn between_expands_like_rocketmq() {
        let e = parse("a BETWEEN 1 AND 2").expect("parses");
        assert!(matches!(e, Expr::And(ref v) if v.len() == 2));
        let e = parse("a NOT BETWEEN 1 AND 2").expect("parses");
        assert!(matches!(e, Expr::Or(ref v) if v.len() == 2));
    }

    #[test]
    fn or_chains_stay_flat() {
        let src = (0..1000)
            .map(|i| format!("a = {i}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let e = parse(&src).expect("parses");
        assert!(matches!(e, Expr::Or(ref v) if v.len() == 1000));
        assert_eq!(e.depth(), 3);
    }

    #[test]
    fn not_binds_tighter_than_comparison() {
        let e = parse("NOT a = 'x'").expect("parses");
        assert!(matches!(
            e,
            Expr::Compare {
                op: CompareOp::Eq,
                ..
            }
        ));
    }
}
