//! The acceptance table: expressions × property sets with the expected outcome under RocketMQ's rules, and
//! bad expressions with the position they are refused at.

use rmq_filter::{Evaluation, Selector, SyntaxErrorKind};

/// Expected outcome of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// TRUE: the message is delivered.
    Match,
    /// FALSE.
    NoMatch,
    /// NULL (something compared was missing): not delivered.
    Unknown,
    /// RocketMQ's evaluator throws (e.g. a non-number compared with a number): not delivered.
    Fails,
}

/// The usual message of the table.
const P: &[(&str, &str)] = &[
    ("a", "10"),
    ("b", "abc"),
    ("c", "3.5"),
    ("s", "hello world"),
    ("flag", "true"),
    ("big", "3000000000"),
    ("neg", "-5"),
    ("empty", ""),
    ("padded", " 1"),
];
/// A message without user properties.
const NONE: &[(&str, &str)] = &[];

use Want::*;

/// One row: expression, message properties, expected outcome.
type Row = (&'static str, &'static [(&'static str, &'static str)], Want);

const TABLE: &[Row] = &[
    // Equality and ordering; the property converts to the literal's type.
    ("a = 10", P, Match),
    ("a = 11", P, NoMatch),
    ("a <> 11", P, Match),
    ("a > 5", P, Match),
    ("a >= 10", P, Match),
    ("a < 10", P, NoMatch),
    ("a <= 10.0", P, Match),
    ("a = 10.0", P, Match),
    ("a = '10'", P, Match),
    ("a = '10.0'", P, NoMatch),
    ("c > 3.0", P, Match),
    ("c > 3", P, Fails), // "3.5" is not an int: RocketMQ's Integer.valueOf throws
    ("big > 2147483648", P, Match), // a literal beyond 32 bits converts the property to long
    ("big > 5", P, Fails), // ... an int literal to int, and 3000000000 overflows
    ("neg < -1", P, Match),
    ("a > -5", P, Match),
    ("padded = 1", P, Fails),   // Integer.valueOf does not trim
    ("padded = 1.0", P, Match), // Double.valueOf does
    ("d > 1e3", &[("d", "1500")], Match),
    ("d = 1500L", &[("d", "1500")], Match),
    ("x >= 0.5", &[("x", ".5")], Match),
    ("b > 5", P, Fails),
    ("b > c", P, Fails), // two strings are ordered as doubles, and "abc" is not one
    ("a > c", P, Match), // "10" > "3.5" as doubles
    // BETWEEN / IN.
    ("a BETWEEN 5 AND 15", P, Match),
    ("a BETWEEN 11 AND 15", P, NoMatch),
    ("a NOT BETWEEN 11 AND 15", P, Match),
    ("c BETWEEN 3.0 AND 4.0", P, Match),
    ("c BETWEEN 3 AND 4", P, Fails),
    ("b IN ('x', 'abc')", P, Match),
    ("b NOT IN ('x', 'abc')", P, NoMatch),
    ("b IN ('x')", NONE, Unknown),
    ("b NOT IN ('x')", NONE, Unknown),
    ("a IN ('10', '11', '12', '13', '14', '15')", P, Match),
    // NULL handling.
    ("b IS NULL", NONE, Match),
    ("b IS NULL", P, NoMatch),
    ("b IS NOT NULL", P, Match),
    ("empty IS NULL", P, NoMatch),
    ("empty = ''", P, Match),
    ("a > 5", NONE, Unknown),
    ("a <> 10", NONE, Unknown),
    ("NOT (a > 5)", NONE, Unknown),
    ("a IS NULL OR a > 5", NONE, Match),
    ("a = b", NONE, Match), // RocketMQ: both sides NULL compare equal
    ("a = b", &[("a", "1")], NoMatch),
    ("a = b", &[("b", "1")], Unknown),
    ("A = 10", P, Unknown), // property names are case-sensitive
    // Three-valued AND / OR / NOT.
    ("b = 'abc' AND a > 5", P, Match),
    ("b = 'abc' AND a > 50", P, NoMatch),
    ("b = 'x' OR a > 5", P, Match),
    ("NOT (a > 5)", P, NoMatch),
    ("missing > 5 OR a = 10", P, Match),
    ("missing > 5 AND a = 10", P, Unknown),
    ("missing > 5 AND a = 11", P, NoMatch),
    ("b > 5 OR a = 10", P, Fails), // the failing comparison is evaluated first
    ("a = 10 OR b > 5", P, Match), // ... here it is never reached
    ("(a > 5 OR b = 'x') AND NOT (c < 1.0)", P, Match),
    (
        "a BETWEEN 1 AND 20 AND b STARTSWITH 'a' AND s CONTAINS ' '",
        P,
        Match,
    ),
    // Booleans.
    ("flag = TRUE", P, Match),
    ("flag = FALSE", P, NoMatch),
    ("TRUE", NONE, Match),
    ("FALSE", NONE, NoMatch),
    ("NULL", NONE, Unknown),
    ("a", &[("a", "true")], NoMatch), // a bare property is a string, never TRUE
    ("a", NONE, Unknown),
    ("NOT a = 'x'", &[("a", "x")], Fails), // NOT binds first: (NOT a) = 'x' compares a boolean with a string
    ("NOT a = 'x'", NONE, Unknown),
    // String tests (RocketMQ 5.x).
    ("s CONTAINS 'lo w'", P, Match),
    ("s NOT CONTAINS 'xyz'", P, Match),
    ("s STARTSWITH 'hell'", P, Match),
    ("s ENDSWITH 'hell'", P, NoMatch),
    ("s NOT ENDSWITH 'world'", P, NoMatch),
    ("s NOT STARTSWITH 'x'", P, Match),
    ("missing CONTAINS 'x'", P, NoMatch), // FALSE, not NULL
    ("missing NOT CONTAINS 'x'", P, NoMatch),
    ("s CONTAINS ''", P, NoMatch),
    // Lexical details.
    ("b = 'it''s'", &[("b", "it's")], Match),
    ("a = 10 -- trailing comment\n", P, Match),
    ("/* leading */ a = 10", P, Match),
    ("$x_1 = 'y'", &[("$x_1", "y")], Match),
    ("a=10 and B is null", P, Match),
    ("-a < 0", &[("a", "5")], Unknown), // negating a string gives NULL
];

fn lookup<'v>(props: &'v [(&'v str, &'v str)]) -> impl Fn(&str) -> Option<&'v str> + 'v {
    move |name| {
        props
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
}

#[test]
fn table_of_expressions_and_properties() {
    assert!(
        TABLE.len() >= 30,
        "the acceptance table needs at least 30 rows"
    );
    let mut failures = Vec::new();
    for (expr, props, want) in TABLE {
        let selector = match Selector::parse(expr) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{expr:?}: does not parse: {e}"));
                continue;
            }
        };
        let f = lookup(props);
        let got = match selector.evaluate(&f) {
            Evaluation::True => Match,
            Evaluation::False => NoMatch,
            Evaluation::Unknown => Unknown,
            Evaluation::Failed(_) => Fails,
        };
        if got != *want {
            failures.push(format!(
                "{expr:?} with {props:?}: want {want:?}, got {got:?}"
            ));
        }
        assert_eq!(selector.matches(&f), got == Match, "{expr}");
        assert_eq!(selector.expression(), *expr);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Refused expressions: (expression, 0-based character position, kind).
const BAD: &[(&str, usize, SyntaxErrorKind)] = &[
    ("", 0, SyntaxErrorKind::UnexpectedEnd),
    ("a =", 3, SyntaxErrorKind::UnexpectedEnd),
    ("a = 1 AND", 9, SyntaxErrorKind::UnexpectedEnd),
    ("a == 1", 3, SyntaxErrorKind::UnexpectedToken),
    ("a != 1", 2, SyntaxErrorKind::InvalidCharacter),
    ("a = 'abc", 4, SyntaxErrorKind::Unterminated),
    ("(a = 1", 6, SyntaxErrorKind::UnexpectedEnd),
    ("a = 1)", 5, SyntaxErrorKind::UnexpectedToken),
    ("a = 1 b = 2", 6, SyntaxErrorKind::UnexpectedToken),
    ("a IN 'x'", 5, SyntaxErrorKind::UnexpectedToken),
    ("a IN ()", 6, SyntaxErrorKind::UnexpectedToken),
    ("a IN (1, 2)", 6, SyntaxErrorKind::UnexpectedToken),
    ("a IN ('x' 'y')", 10, SyntaxErrorKind::UnexpectedToken),
    ("a > 'x'", 4, SyntaxErrorKind::Type),
    ("b > c AND a > TRUE", 14, SyntaxErrorKind::Type),
    ("a = NULL", 4, SyntaxErrorKind::Type),
    ("TRUE = 1", 7, SyntaxErrorKind::Type),
    ("a BETWEEN 5 AND 1", 10, SyntaxErrorKind::Type),
    ("a BETWEEN NULL AND 1", 10, SyntaxErrorKind::Type),
    ("a BETWEEN 1", 11, SyntaxErrorKind::UnexpectedEnd),
    ("a BETWEEN 1 OR 2", 12, SyntaxErrorKind::UnexpectedToken),
    ("5 AND a = 1", 0, SyntaxErrorKind::Type),
    ("'x'", 0, SyntaxErrorKind::Type),
    ("NOT 5", 4, SyntaxErrorKind::Type),
    ("'x' IN ('x')", 0, SyntaxErrorKind::Type),
    ("(a = 1) > 2", 0, SyntaxErrorKind::Type),
    ("a IS 5", 5, SyntaxErrorKind::UnexpectedToken),
    ("a IS NOT 5", 9, SyntaxErrorKind::UnexpectedToken),
    ("a NOT = 1", 2, SyntaxErrorKind::UnexpectedToken),
    ("a CONTAINS b", 11, SyntaxErrorKind::UnexpectedToken),
    (
        "a = 99999999999999999999",
        4,
        SyntaxErrorKind::NumberOutOfRange,
    ),
    ("a = 1e999", 4, SyntaxErrorKind::NumberOutOfRange),
    ("a = 07", 5, SyntaxErrorKind::UnexpectedToken),
    ("a = \"x\"", 4, SyntaxErrorKind::InvalidCharacter),
    ("a.b = 1", 1, SyntaxErrorKind::InvalidCharacter),
    ("/* unclosed", 0, SyntaxErrorKind::Unterminated),
    ("a + 1 = 2", 2, SyntaxErrorKind::UnexpectedToken),
    // Positions count characters, not bytes.
    ("ab = 'é' AND é", 13, SyntaxErrorKind::InvalidCharacter),
];

#[test]
fn bad_expressions_are_refused_with_their_position() {
    let mut failures = Vec::new();
    for (expr, pos, kind) in BAD {
        match Selector::parse(expr) {
            Ok(_) => failures.push(format!("{expr:?}: parsed, want an error at {pos}")),
            Err(e) => {
                if e.position != *pos || e.kind != *kind {
                    failures.push(format!(
                        "{expr:?}: want {kind:?} at {pos}, got {:?} at {}: {}",
                        e.kind, e.position, e.message
                    ));
                }
                assert!(e.position <= expr.chars().count(), "{expr:?}");
                assert!(
                    e.to_string()
                        .contains(&format!("at position {}", e.position)),
                    "{e}"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn display_points_at_the_position() {
    let e = Selector::parse("a = 1 AND b IN ('x'").expect_err("unclosed IN");
    assert_eq!(e.position, 19);
    assert_eq!(
        e.to_string(),
        "invalid SQL92 selector at position 19: expected ',' or ')' in the IN list but found end of input\n\
         a = 1 AND b IN ('x'\n                   ^"
    );
    // A long expression is cut around the position.
    let long = format!("{}x = 'y", "a = 1 AND ".repeat(20));
    let e = Selector::parse(&long).expect_err("unclosed string");
    let snippet = e.snippet();
    let mut lines = snippet.lines();
    let (text, caret) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    assert!(
        text.starts_with("...") && text.chars().count() < 100,
        "{text}"
    );
    assert_eq!(text.chars().nth(caret.len() - 1), Some('\''), "{snippet}");
}

#[test]
fn nesting_is_bounded() {
    let ok = format!("{}a = 1{}", "(".repeat(64), ")".repeat(64));
    assert!(Selector::parse(&ok).is_ok());
    let deep = format!("{}a = 1{}", "(".repeat(65), ")".repeat(65));
    let e = Selector::parse(&deep).expect_err("too deep");
    assert_eq!((e.kind, e.position), (SyntaxErrorKind::TooDeep, 64));
    for prefix in ["NOT ", "- ", "+ ", "("] {
        let huge = format!("{}a", prefix.repeat(100_000));
        let e = Selector::parse(&huge).expect_err("too deep");
        assert_eq!(e.kind, SyntaxErrorKind::TooDeep, "{prefix}");
    }
    let chain = format!("a{}", " IS NULL".repeat(10_000));
    let e = Selector::parse(&chain).expect_err("tree too deep");
    assert_eq!(e.kind, SyntaxErrorKind::TooDeep);
    // Long flat chains are fine and evaluate without deep recursion.
    let wide = (0..20_000)
        .map(|i| format!("a = {i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let s = Selector::parse(&wide).expect("wide OR");
    assert!(s.matches(&|_| Some("19999")));
}
