//! The parser and evaluator never panic, whatever the input, and deep input is refused rather than
//! overflowing the stack.

use proptest::prelude::*;
use rmq_filter::{Selector, SyntaxErrorKind, MAX_DEPTH};

/// Fragments that make up plausible (and implausible) selectors.
const VOCABULARY: &[&str] = &[
    "a",
    "b",
    "c",
    "$x",
    "_y",
    "NOT",
    "AND",
    "OR",
    "BETWEEN",
    "IN",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "CONTAINS",
    "STARTSWITH",
    "ENDSWITH",
    "=",
    "<>",
    ">",
    ">=",
    "<",
    "<=",
    "(",
    ")",
    ",",
    "+",
    "-",
    "0",
    "1",
    "07",
    "12L",
    "2147483648",
    "9223372036854775807",
    "99999999999999999999",
    "1.5",
    ".5",
    "5.",
    "1e3",
    "1e999",
    "'x'",
    "''",
    "'it''s'",
    "'",
    "--",
    "/*",
    "*/",
    "\n",
    "!",
    "é",
    ".",
];

fn props<'v>(values: &'v [String]) -> impl Fn(&str) -> Option<&'v str> + 'v {
    move |name| match name {
        "a" => values.first().map(String::as_str),
        "b" => values.get(1).map(String::as_str),
        "c" => values.get(2).map(String::as_str),
        _ => None,
    }
}

fn check(src: &str, values: &[String]) {
    match Selector::parse(src) {
        Ok(s) => {
            let f = props(values);
            let _ = s.evaluate(&f);
            let _ = s.matches(&f);
        }
        Err(e) => {
            assert!(e.position <= src.chars().count(), "{src:?}: {e}");
            let _ = e.to_string();
        }
    }
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_owned()),
        Just("-5".to_owned()),
        Just("3.5".to_owned()),
        Just("x".to_owned()),
        Just("true".to_owned()),
        Just(String::new()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>(), values in prop::collection::vec(value(), 0..3)) {
        check(&src, &values);
    }

    #[test]
    fn token_soup_never_panics(
        words in prop::collection::vec(prop::sample::select(VOCABULARY), 0..40),
        glue in prop::sample::select(&[" ", "", "\t"][..]),
        values in prop::collection::vec(value(), 0..3),
    ) {
        check(&words.join(glue), &values);
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused(depth in (MAX_DEPTH + 1)..5000, prefix in prop::sample::select(&["(", "NOT ", "- ", "+"][..])) {
        let src = format!("{}a = 1", prefix.repeat(depth));
        let e = Selector::parse(&src).err();
        prop_assert_eq!(e.map(|e| e.kind), Some(SyntaxErrorKind::TooDeep));
    }
}
