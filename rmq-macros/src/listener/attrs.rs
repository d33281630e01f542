//! `#[rocketmq_listener(...)]` attributes: one check per key as it is read, then checks across keys.
//!
//! The keys, their kinds and the rules their values follow are the table of `rmq-listener-attrs`, which the
//! runtime's container reads too. Every value is kept as written (integers and booleans as their text)
//! because the container resolves `${key:default}` placeholders from config at start-up; a value holding `${`
//! skips its literal checks here for the same reason (the container applies the same checks to what it
//! resolves).

use proc_macro2::Span;
use rmq_listener_attrs::{lookup, Attr, Kind, ATTRS};

use crate::common::{edit_distance, snake_case, Errors, RawArg, RawArgs, Value};

/// The `crate = "..."` key: not a listener setting, so it is not stored.
const CRATE_KEY: &str = "crate";

/// One accepted attribute.
pub(crate) struct Entry {
    /// The canonical key.
    pub(crate) key: &'static str,
    /// The value, as written.
    pub(crate) value: Value,
}

/// The checked attributes of one listener.
pub(crate) struct ListenerAttrs {
    /// In the order written.
    pub(crate) entries: Vec<Entry>,
    /// `crate = "..."`, if given.
    pub(crate) crate_value: Option<Value>,
}

impl ListenerAttrs {
    /// `(key, raw value)` pairs for `ListenerDef::attrs`.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        self.entries
            .iter()
            .map(|e| (e.key, e.value.text()))
            .collect()
    }

    fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// The value when it is a literal (not a placeholder).
    fn literal(&self, key: &str) -> Option<(String, &Entry)> {
        self.get(key)
            .filter(|e| !e.value.is_placeholder())
            .map(|e| (e.value.text(), e))
    }
}

/// Parses and checks the attribute tokens. Every problem found is reported, not only the first.
pub(crate) fn parse(tokens: proc_macro2::TokenStream) -> syn::Result<ListenerAttrs> {
    let RawArgs(raw) = syn::parse2(tokens)?;
    let mut errors = Errors::default();
    // Keys given, valid or not: a bad `topic` is not also reported as missing.
    let mut seen: Vec<(&'static str, String)> = Vec::new();
    let mut attrs = ListenerAttrs {
        entries: Vec::new(),
        crate_value: None,
    };
    for RawArg { key, value } in raw {
        let written = key.to_string();
        if written == CRATE_KEY {
            if attrs.crate_value.is_some() {
                errors.push_spanned(key.span(), "duplicate attribute `crate`");
            }
            attrs.crate_value = Some(value);
            continue;
        }
        let Some(attr) = lookup(&written) else {
            let (msg, suggested) = unknown_key(&written);
            errors.push_spanned(key.span(), msg);
            // `consumerGroup = ..` is not also reported as a missing `consumer_group`.
            seen.extend(suggested.map(|k| (k, k.to_string())));
            continue;
        };
        let canonical = attr.key;
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == canonical) {
            let msg = if *first == written {
                format!("duplicate attribute `{written}`")
            } else {
                format!("duplicate attribute: `{first}` and `{written}` are the same attribute")
            };
            errors.push_spanned(key.span(), msg);
            continue;
        }
        seen.push((canonical, written));
        match check_value(attr, &value) {
            Ok(()) => attrs.entries.push(Entry {
                key: canonical,
                value,
            }),
            Err(e) => errors.push(e),
        }
    }
    check_combinations(&attrs, &seen, &mut errors);
    errors.finish(attrs)
}

/// The message for an unknown key, and the key it probably meant.
fn unknown_key(written: &str) -> (String, Option<&'static str>) {
    let known: Vec<String> = ATTRS.iter().map(|a| format!("`{}`", a.key)).collect();
    let mut msg = format!(
        "unknown attribute `{written}`; expected one of {} (or `crate`)",
        known.join(", ")
    );
    let snake = snake_case(written);
    let suggested = if let Some(key) = lookup(&snake).filter(|_| snake != written).map(|a| a.key) {
        msg.push_str(&format!(
            "\nhelp: attributes are snake_case here: write `{snake}`"
        ));
        Some(key)
    } else if let Some((close, _)) = ATTRS
        .iter()
        .map(|a| (a.key, edit_distance(written, a.key)))
        .filter(|(_, d)| *d <= 2)
        .min_by_key(|(_, d)| *d)
    {
        msg.push_str(&format!("\nhelp: did you mean `{close}`?"));
        Some(close)
    } else {
        None
    };
    (msg, suggested)
}

/// A string-kind attribute takes a string literal; integers and booleans may be written as literals or as
/// strings. The text must then pass the table's check.
fn check_value(attr: &Attr, value: &Value) -> syn::Result<()> {
    let key = attr.key;
    if let Value::Path(_) = value {
        return Err(syn::Error::new(
            value.span(),
            format!(
                "`{key}` takes a literal, not a constant: a string (which may hold `${{key:default}}` \
                 placeholders resolved from config at start-up), an integer, or `true`/`false`"
            ),
        ));
    }
    let needs_string = matches!(attr.kind, Kind::Str | Kind::Name { .. } | Kind::Enum(_));
    if needs_string && !matches!(value, Value::Str(_)) {
        return Err(syn::Error::new(
            value.span(),
            format!("`{key}` takes a string, e.g. `{key} = \"...\"`"),
        ));
    }
    if value.is_placeholder() {
        return Ok(());
    }
    attr.check(&value.text())
        .map_err(|msg| syn::Error::new(value.span(), msg))
}

fn check_combinations(attrs: &ListenerAttrs, seen: &[(&str, String)], errors: &mut Errors) {
    let call_site = Span::call_site();
    for required in ["topic", "consumer_group"] {
        if !seen.iter().any(|(k, _)| *k == required) {
            errors.push_spanned(
                call_site,
                format!(
                    "missing `{required}`: a listener needs `topic = \"...\"` and `consumer_group = \"...\"`"
                ),
            );
        }
    }

    // rocketmq-spring refuses this too ("messageModel BROADCASTING does not support ORDERLY message!").
    if let (Some((mode, mode_e)), Some((model, model_e))) = (
        attrs.literal("consume_mode"),
        attrs.literal("message_model"),
    ) {
        if mode == "ORDERLY" && model == "BROADCASTING" {
            let later = later_of(attrs, mode_e, model_e);
            errors.push_spanned(
                later.value.span(),
                "consume_mode = \"ORDERLY\" cannot be combined with message_model = \"BROADCASTING\": \
                 orderly consumption locks queues on the broker, which only clustering consumers do; \
                 use CONCURRENTLY, or CLUSTERING",
            );
        }
    }

    // rocketmq-spring applies delayLevelWhenNextConsume to concurrent consumption only; an orderly listener
    // retries in place after suspend_current_queue_time_millis, so the attribute would silently do nothing.
    if let (Some((mode, mode_e)), Some(level_e)) = (
        attrs.literal("consume_mode"),
        attrs.get("delay_level_when_next_consume"),
    ) {
        if mode == "ORDERLY" {
            let later = later_of(attrs, mode_e, level_e);
            errors.push_spanned(
                later.value.span(),
                "delay_level_when_next_consume applies to CONCURRENTLY listeners only: an ORDERLY listener \
                 retries a failed message in place after suspend_current_queue_time_millis; set that instead",
            );
        }
    }

    if let Some((kind, kind_e)) = attrs.literal("selector_type") {
        if kind == "SQL92" {
            match attrs.get("selector_expression") {
                None => errors.push_spanned(
                    kind_e.value.span(),
                    "selector_type = \"SQL92\" needs a `selector_expression`, e.g. `selector_expression = \"a > 5\"`",
                ),
                Some(e) if !e.value.is_placeholder() => {
                    if let Err(syntax) = rmq_filter::Selector::parse(&e.value.text()) {
                        errors.push_spanned(e.value.span(), syntax);
                    }
                }
                Some(_) => {}
            }
        }
    }
}

fn later_of<'a>(attrs: &ListenerAttrs, a: &'a Entry, b: &'a Entry) -> &'a Entry {
    let pos = |e: &Entry| attrs.entries.iter().position(|x| x.key == e.key);
    if pos(a) > pos(b) {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn pairs(tokens: proc_macro2::TokenStream) -> Vec<(&'static str, String)> {
        parse(tokens)
            .map(|a| a.pairs())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(tokens: proc_macro2::TokenStream) -> String {
        match parse(tokens) {
            Ok(_) => panic!("accepted"),
            Err(e) => e
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    #[test]
    fn values_are_kept_as_written_and_aliases_take_the_canonical_key() {
        let got = pairs(quote!(
            topic = "${mq.topic:orders}",
            consumer_group = "g",
            consume_thread_max = 1_000,
            max_reconsume_times = -1,
            consume_timeout = "15",
            enable = false,
        ));
        let want: Vec<(&str, String)> = vec![
            ("topic", "${mq.topic:orders}".into()),
            ("consumer_group", "g".into()),
            ("consume_thread_max", "1000".into()),
            ("max_reconsume_times", "-1".into()),
            ("consume_timeout", "15".into()),
            ("enabled", "false".into()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn placeholders_skip_literal_checks() {
        let got = pairs(quote!(
            topic = "${t}",
            consumer_group = "${g}",
            consume_mode = "${mode}",
            message_model = "BROADCASTING",
            selector_type = "SQL92",
            selector_expression = "${expr}",
            consume_thread_max = "${threads:4}",
            enabled = "${on}",
        ));
        assert!(got.contains(&("consume_mode", "${mode}".into())), "{got:?}");
    }

    #[test]
    fn each_problem_is_reported() {
        let e = error(quote!(
            topic = "a b",
            consumer_group = 5,
            consume_timeout = 0,
            enabled = "yes"
        ));
        assert!(e.contains("`topic` contains ' '"), "{e}");
        assert!(e.contains("`consumer_group` takes a string"), "{e}");
        assert!(e.contains("`consume_timeout` must be at least 1"), "{e}");
        assert!(e.contains("`enabled` must be `true` or `false`"), "{e}");
        assert!(!e.contains("missing"), "{e}");
    }

    #[test]
    fn near_misses_are_suggested() {
        let e = error(quote!(topic = "t", consumer_grop = "g"));
        assert!(e.contains("did you mean `consumer_group`?"), "{e}");
        assert!(!e.contains("missing"), "{e}");
        let e = error(quote!(
            topic = "t",
            consumer_group = "g",
            enable = true,
            enabled = true
        ));
        assert!(
            e.contains("`enable` and `enabled` are the same attribute"),
            "{e}"
        );
    }

    #[test]
    fn sql92_needs_an_expression_that_parses() {
        let e = error(quote!(
            topic = "t",
            consumer_group = "g",
            selector_type = "SQL92"
        ));
        assert!(e.contains("needs a `selector_expression`"), "{e}");
        let e = error(quote!(
            topic = "t",
            consumer_group = "g",
            selector_type = "SQL92",
            selector_expression = "a >"
        ));
        assert!(e.contains("invalid SQL92 selector at position 3"), "{e}");
        // A TAG expression is not SQL: accepted, and kept as written.
        let got = pairs(quote!(
            topic = "t",
            consumer_group = "g",
            selector_expression = "a >"
        ));
        assert!(
            got.contains(&("selector_expression", "a >".into())),
            "{got:?}"
        );
    }

    #[test]
    fn orderly_listeners_take_no_retry_delay_level() {
        let e = error(quote!(
            topic = "t",
            consumer_group = "g",
            consume_mode = "ORDERLY",
            delay_level_when_next_consume = 3
        ));
        assert!(e.contains("applies to CONCURRENTLY listeners only"), "{e}");
        let got = pairs(quote!(
            topic = "t",
            consumer_group = "g",
            delay_level_when_next_consume = 3
        ));
        assert!(
            got.contains(&("delay_level_when_next_consume", "3".into())),
            "{got:?}"
        );
    }

    #[test]
    fn values_must_be_literals() {
        let e = error(quote!(topic = TOPIC, consumer_group = "g"));
        assert!(e.contains("`topic` takes a literal, not a constant"), "{e}");
        let e = error(quote!(topic = "t" + "u", consumer_group = "g"));
        assert!(e.contains("attribute values must be literals"), "{e}");
    }
}
