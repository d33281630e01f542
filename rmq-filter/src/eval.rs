//! Evaluation with RocketMQ's value rules (`ComparisonExpression`, `UnaryExpression`, `LogicExpression`).
//!
//! - Values are NULL, booleans, 32/64-bit integers, doubles and strings; properties are always strings, and
//!   a missing property is NULL.
//! - Three-valued logic: a comparison with NULL is NULL (except `=` where only the *left* side is NULL and
//!   the right is not: FALSE when the right side is NULL, TRUE when both are), `NOT NULL` is NULL, `AND` is
//!   FALSE if any side is FALSE, `OR` is TRUE if any side is TRUE, otherwise NULL if any side is NULL. Only a
//!   TRUE result matches.
//! - A string compared with a number is converted to that number's type (`Integer.valueOf`, `Long.valueOf`,
//!   `Double.valueOf`); a value that does not convert is an evaluation error, which makes the whole selector
//!   fail for that message (RocketMQ throws, and the broker treats the message as not matching).
//! - Two strings compared with `>`, `>=`, `<`, `<=` are both converted to doubles, or the evaluation fails.
//! - A string compared with a boolean is `true` when it equals `true` ignoring case.

use std::cmp::Ordering;

use crate::ast::{CompareOp, Expr, Literal, TextOp};
use crate::error::EvalError;

/// A value during evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(&'a str),
}

impl<'a> Value<'a> {
    pub(crate) fn from_literal(l: &'a Literal) -> Value<'a> {
        match l {
            Literal::Str(s) => Value::Str(s),
            Literal::Int(v) => Value::Int(*v),
            Literal::Long(v) => Value::Long(*v),
            Literal::Double(v) => Value::Double(*v),
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Null => Value::Null,
        }
    }
}

/// Java's `Double.compareTo`: numeric order, `-0.0 < 0.0`, NaN equal to itself and above everything.
fn cmp_double(a: f64, b: f64) -> Ordering {
    if a < b {
        Ordering::Less
    } else if a > b {
        Ordering::Greater
    } else {
        let bits = |x: f64| {
            if x.is_nan() {
                0x7ff8_0000_0000_0000_i64
            } else {
                x.to_bits() as i64
            }
        };
        bits(a).cmp(&bits(b))
    }
}

/// Java's `String.compareTo` (UTF-16 code units).
fn cmp_str(a: &str, b: &str) -> Ordering {
    if a == b {
        Ordering::Equal
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

fn parse_int(s: &str) -> Result<i32, EvalError> {
    s.parse().map_err(|_| EvalError::NotANumber {
        value: s.to_owned(),
        target: "int",
    })
}

fn parse_long(s: &str) -> Result<i64, EvalError> {
    s.parse().map_err(|_| EvalError::NotANumber {
        value: s.to_owned(),
        target: "long",
    })
}

/// Java's `Double.valueOf(String)` for decimal input: surrounding characters up to U+0020 are ignored, an
/// optional sign, `NaN`, `Infinity`, or digits with an optional point and exponent, and an optional
/// `f`/`F`/`d`/`D` suffix. (Hexadecimal floating-point input is not accepted.)
pub(crate) fn parse_java_double(s: &str) -> Result<f64, EvalError> {
    let fail = || EvalError::NotANumber {
        value: s.to_owned(),
        target: "double",
    };
    let t = s.trim_matches(|c: char| c <= ' ');
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let signed = |v: f64| if negative { -v } else { v };
    match body {
        "NaN" => return Ok(f64::NAN),
        "Infinity" => return Ok(signed(f64::INFINITY)),
        _ => {}
    }
    let body = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mut digits = 0;
    let mut points = 0;
    for c in mantissa.chars() {
        match c {
            '0'..='9' => digits += 1,
            '.' => points += 1,
            _ => return Err(fail()),
        }
    }
    if digits == 0 || points > 1 {
        return Err(fail());
    }
    if let Some(e) = exponent {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail());
        }
    }
    body.parse::<f64>().map(signed).map_err(|_| fail())
}

/// RocketMQ's `__compare` with string conversion on: converts the two values to a common type and orders
/// them. Unrelated types (a boolean and a number) compare as "less", as in Java.
pub(crate) fn compare(l: Value<'_>, r: Value<'_>) -> Result<Ordering, EvalError> {
    use Value::*;
    Ok(match (l, r) {
        (Int(a), Int(b)) => a.cmp(&b),
        (Long(a), Long(b)) => a.cmp(&b),
        (Double(a), Double(b)) => cmp_double(a, b),
        (Str(a), Str(b)) => cmp_str(a, b),
        (Bool(a), Bool(b)) => a.cmp(&b),
        (Int(a), Long(b)) => i64::from(a).cmp(&b),
        (Long(a), Int(b)) => a.cmp(&i64::from(b)),
        (Int(a), Double(b)) => cmp_double(f64::from(a), b),
        (Long(a), Double(b)) => cmp_double(a as f64, b),
        (Double(a), Int(b)) => cmp_double(a, f64::from(b)),
        (Double(a), Long(b)) => cmp_double(a, b as f64),
        (Int(a), Str(s)) => a.cmp(&parse_int(s)?),
        (Long(a), Str(s)) => a.cmp(&parse_long(s)?),
        (Double(a), Str(s)) => cmp_double(a, parse_java_double(s)?),
        (Str(s), Int(b)) => parse_int(s)?.cmp(&b),
        (Str(s), Long(b)) => parse_long(s)?.cmp(&b),
        (Str(s), Double(b)) => cmp_double(parse_java_double(s)?, b),
        (Str(s), Bool(b)) => s.eq_ignore_ascii_case("true").cmp(&b),
        (Bool(_), Str(s)) => return Err(EvalError::BooleanWithString(s.to_owned())),
        _ => Ordering::Less,
    })
}

/// Evaluates expressions against one message's properties.
pub(crate) struct Evaluator<'p, 'v> {
    pub(crate) property: &'p dyn Fn(&str) -> Option<&'v str>,
}

impl<'v> Evaluator<'_, 'v> {
    /// The value of `e`; recursion is bounded by the parser's tree-depth limit.
    pub(crate) fn eval<'x>(&self, e: &'x Expr) -> Result<Value<'x>, EvalError>
    where
        'v: 'x,
    {
        Ok(match e {
            Expr::Literal(l) => Value::from_literal(l),
            Expr::Property(name) => (self.property)(name).map_or(Value::Null, Value::Str),
            Expr::Negate(inner) => match self.eval(inner)? {
                Value::Int(v) => Value::Int(v.wrapping_neg()),
                Value::Long(v) => Value::Long(v.wrapping_neg()),
                Value::Double(v) => Value::Double(-v),
                _ => Value::Null,
            },
            Expr::Not(inner) => match self.eval(inner)? {
                Value::Bool(b) => Value::Bool(!b),
                _ => Value::Null,
            },
            Expr::BoolCast(inner) => match self.eval(inner)? {
                Value::Null => Value::Null,
                Value::Bool(b) => Value::Bool(b),
                _ => Value::Bool(false),
            },
            Expr::And(items) => {
                let mut unknown = false;
                for item in items {
                    match self.eval(item)? {
                        Value::Bool(false) => return Ok(Value::Bool(false)),
                        Value::Bool(true) => {}
                        _ => unknown = true,
                    }
                }
                if unknown {
                    Value::Null
                } else {
                    Value::Bool(true)
                }
            }
            Expr::Or(items) => {
                let mut unknown = false;
                for item in items {
                    match self.eval(item)? {
                        Value::Bool(true) => return Ok(Value::Bool(true)),
                        Value::Bool(false) => {}
                        _ => unknown = true,
                    }
                }
                if unknown {
                    Value::Null
                } else {
                    Value::Bool(false)
                }
            }
            Expr::Compare {
                op: CompareOp::Eq,
                left,
                right,
            } => {
                let (l, r) = (self.eval(left)?, self.eval(right)?);
                match (l, r) {
                    (Value::Null, Value::Null) => Value::Bool(true),
                    (Value::Null, _) => Value::Null,
                    (_, Value::Null) => Value::Bool(false),
                    _ => Value::Bool(compare(l, r)?.is_eq()),
                }
            }
            Expr::Compare { op, left, right } => {
                let l = self.eval(left)?;
                if l == Value::Null {
                    return Ok(Value::Null);
                }
                let r = self.eval(right)?;
                if r == Value::Null {
                    return Ok(Value::Null);
                }
                let ord = match (l, r) {
                    (Value::Str(a), Value::Str(b)) => {
                        match (parse_java_double(a), parse_java_double(b)) {
                            (Ok(x), Ok(y)) => cmp_double(x, y),
                            _ => {
                                return Err(EvalError::StringOrdering {
                                    left: a.to_owned(),
                                    right: b.to_owned(),
                                })
                            }
                        }
                    }
                    _ => compare(l, r)?,
                };
                Value::Bool(match op {
                    CompareOp::Gt => ord.is_gt(),
                    CompareOp::Ge => ord.is_ge(),
                    CompareOp::Lt => ord.is_lt(),
                    CompareOp::Le => ord.is_le(),
                    CompareOp::Eq => ord.is_eq(),
                })
            }
            Expr::IsNull(inner) => Value::Bool(self.eval(inner)? == Value::Null),
            Expr::In {
                property,
                values,
                negated,
            } => match (self.property)(property) {
                None => Value::Null,
                Some(s) => Value::Bool(values.iter().any(|v| v == s) != *negated),
            },
            Expr::Text {
                op,
                operand,
                needle,
                negated,
            } => {
                if needle.is_empty() {
                    return Ok(Value::Bool(false));
                }
                match self.eval(operand)? {
                    Value::Str(s) => {
                        let hit = match op {
                            TextOp::Contains => s.contains(needle.as_str()),
                            TextOp::StartsWith => s.starts_with(needle.as_str()),
                            TextOp::EndsWith => s.ends_with(needle.as_str()),
                        };
                        Value::Bool(hit != *negated)
                    }
                    _ => Value::Bool(false),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_double_parsing() {
        for (s, v) in [
            ("1", 1.0),
            (" 2.5 ", 2.5),
            ("-3e2", -300.0),
            ("4.", 4.0),
            (".5", 0.5),
            ("7d", 7.0),
            ("+Infinity", f64::INFINITY),
        ] {
            assert_eq!(parse_java_double(s), Ok(v), "{s}");
        }
        assert!(parse_java_double("NaN").is_ok_and(f64::is_nan));
        for s in ["", "abc", "1e", "inf", "1.2.3", "--1", "0x10", "1_0", "."] {
            assert!(parse_java_double(s).is_err(), "{s}");
        }
    }

    #[test]
    fn compare_converts_like_java() {
        assert_eq!(
            compare(Value::Str("10"), Value::Int(9)),
            Ok(Ordering::Greater)
        );
        assert!(compare(Value::Str("10.5"), Value::Int(9)).is_err());
        assert_eq!(
            compare(Value::Str("10.5"), Value::Double(9.0)),
            Ok(Ordering::Greater)
        );
        assert!(compare(Value::Str("3000000000"), Value::Int(1)).is_err());
        assert_eq!(
            compare(Value::Str("3000000000"), Value::Long(3_000_000_000)),
            Ok(Ordering::Equal)
        );
        assert_eq!(
            compare(Value::Str("TRUE"), Value::Bool(true)),
            Ok(Ordering::Equal)
        );
        assert!(compare(Value::Bool(true), Value::Str("true")).is_err());
        assert_eq!(
            compare(Value::Int(1), Value::Bool(true)),
            Ok(Ordering::Less)
        );
        assert_eq!(cmp_double(-0.0, 0.0), Ordering::Less);
        assert_eq!(cmp_double(f64::NAN, f64::INFINITY), Ordering::Greater);
    }
}
