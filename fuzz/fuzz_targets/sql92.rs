//! rmq-filter's SQL92 selector: `Selector::parse`, then `evaluate`/`matches` against a message.
//!
//! The input is the expression, optionally followed by a NUL and the message's properties string
//! (`name 0x01 value 0x02 ...`); without one a small fixed message is used. Checks: no panic, no stack overflow
//! (nesting limits), no hang (libFuzzer's `-timeout`), the tree depth stays within `MAX_TREE_DEPTH`, and
//! evaluation is deterministic and consistent with `matches`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_filter::{Evaluation, Selector, MAX_TREE_DEPTH};
use rmq_protocol::message::Properties;

/// The message used when the input brings none: a number, a decimal, text, a boolean, an empty value.
const DEFAULT_PROPS: &str =
    "a\u{1}5\u{2}price\u{1}12.5\u{2}region\u{1}eu\u{2}flag\u{1}TRUE\u{2}TAGS\u{1}TagA\u{2}big\u{1}9223372036854775807\u{2}";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (expression, props) = text.split_once('\0').unwrap_or((&text, DEFAULT_PROPS));
    let Ok(selector) = Selector::parse(expression) else {
        return;
    };
    assert_eq!(selector.expression(), expression);
    assert!(
        selector.ast().depth() <= MAX_TREE_DEPTH + 1,
        "tree deeper than the limit"
    );
    let props = Properties::parse(props);
    let lookup = |name: &str| props.get(name);
    let first = selector.evaluate(&lookup);
    assert_eq!(
        selector.evaluate(&lookup),
        first,
        "evaluation is not deterministic"
    );
    assert_eq!(selector.matches(&lookup), first == Evaluation::True);
    let _ = selector.evaluate(&|_| None);
    let _ = selector.clone().evaluate(&|_| Some(""));
});
