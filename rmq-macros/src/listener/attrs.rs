//! `#[rocketmq_listener(...)]` attributes: one check per key as it is read, then checks across keys.
//!
//! The names are @RocketMQMessageListener's in snake_case. Every value is kept as written (integers and booleans
//! as their text) because the container resolves `${key:default}` placeholders from config at start-up; a
//! value holding `${` skips its literal checks here for the same reason.

use proc_macro2::Span;

use crate::common::{edit_distance, snake_case, Errors, RawArg, RawArgs, Value};

/// How a key's value is checked.
#[derive(Clone, Copy)]
enum Kind {
    /// Any string.
    Str,
    /// A topic or group name: RocketMQ's character set, at most `max` characters.
    Name { max: usize },
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// An integer at least `min` (as an integer literal or a string holding one).
    Int { min: i64 },
    /// `true` / `false` (or a string holding one).
    Bool,
}

/// Every key, with its kind, in the order the "expected one of" message lists them.
const KEYS: &[(&str, Kind)] = &[
    ("topic", Kind::Name { max: 127 }),
    ("consumer_group", Kind::Name { max: 255 }),
    ("selector_type", Kind::Enum(SELECTOR_TYPES)),
    ("selector_expression", Kind::Str),
    ("consume_mode", Kind::Enum(CONSUME_MODES)),
    ("message_model", Kind::Enum(MESSAGE_MODELS)),
    ("consume_thread_max", Kind::Int { min: 1 }),
    ("consume_thread_number", Kind::Int { min: 1 }),
    // -1: the default (16 retries when concurrent, unbounded when orderly).
    ("max_reconsume_times", Kind::Int { min: -1 }),
    // Minutes, as in Spring.
    ("consume_timeout", Kind::Int { min: 1 }),
    // -1: dead-letter at once; 0: the broker picks the delay; >0: this delay level.
    ("delay_level_when_next_consume", Kind::Int { min: -1 }),
    ("suspend_current_queue_time_millis", Kind::Int { min: 0 }),
    (
        "await_termination_millis_when_shutdown",
        Kind::Int { min: 0 },
    ),
    ("name_server", Kind::Str),
    ("namespace", Kind::Str),
    ("instance_name", Kind::Str),
    ("enabled", Kind::Bool),
    ("reply_timeout", Kind::Int { min: 1 }),
];

/// Other spellings accepted for a key; stored under the canonical key.
const ALIASES: &[(&str, &str)] = &[("enable", "enabled")];

const SELECTOR_TYPES: &[&str] = &["TAG", "SQL92"];
const CONSUME_MODES: &[&str] = &["CONCURRENTLY", "ORDERLY"];
const MESSAGE_MODELS: &[&str] = &["CLUSTERING", "BROADCASTING"];

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
        let Some((canonical, kind)) = lookup(&written) else {
            let (msg, suggested) = unknown_key(&written);
            errors.push_spanned(key.span(), msg);
            // `consumerGroup = ..` is not also reported as a missing `consumer_group`.
            seen.extend(suggested.map(|k| (k, k.to_string())));
            continue;
        };
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
        match check_value(canonical, kind, &value) {
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

fn lookup(written: &str) -> Option<(&'static str, Kind)> {
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == written)
        .map_or(written, |(_, canonical)| *canonical);
    KEYS.iter().find(|(k, _)| *k == canonical).copied()
}

/// The message for an unknown key, and the key it probably meant.
fn unknown_key(written: &str) -> (String, Option<&'static str>) {
    let known: Vec<String> = KEYS.iter().map(|(k, _)| format!("`{k}`")).collect();
    let mut msg = format!(
        "unknown attribute `{written}`; expected one of {} (or `crate`)",
        known.join(", ")
    );
    let snake = snake_case(written);
    let suggested = if let Some((key, _)) = lookup(&snake).filter(|_| snake != written) {
        msg.push_str(&format!(
            "\nhelp: attributes are snake_case here: write `{snake}`"
        ));
        Some(key)
    } else if let Some((close, _)) = KEYS
        .iter()
        .map(|(k, _)| (*k, edit_distance(written, k)))
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

fn check_value(key: &str, kind: Kind, value: &Value) -> syn::Result<()> {
    let err = |msg: String| Err(syn::Error::new(value.span(), msg));
    match kind {
        Kind::Str | Kind::Name { .. } | Kind::Enum(_) => {
            let Value::Str(s) = value else {
                return err(format!("`{key}` takes a string, e.g. `{key} = \"...\"`"));
            };
            if value.is_placeholder() {
                return Ok(());
            }
            let text = s.value();
            match kind {
                Kind::Name { max } => check_name(key, &text, max).or_else(err),
                Kind::Enum(allowed) if !allowed.contains(&text.as_str()) => {
                    let list: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
                    let mut msg = format!(
                        "`{key}` must be one of {}; found \"{text}\"",
                        list.join(", ")
                    );
                    if let Some(a) = allowed.iter().find(|a| a.eq_ignore_ascii_case(&text)) {
                        msg.push_str(&format!("\nhelp: the values are upper case: \"{a}\""));
                    }
                    err(msg)
                }
                _ => Ok(()),
            }
        }
        Kind::Int { min } => {
            let expected = format!(
                "`{key}` must be an integer, e.g. `{key} = 20`, or a \"${{...}}\" placeholder"
            );
            let text = match value {
                Value::Int { text, .. } => text.clone(),
                Value::Str(_) if value.is_placeholder() => return Ok(()),
                Value::Str(s) => s.value(),
                Value::Bool(_) => return err(expected),
            };
            match text.trim().parse::<i64>() {
                Ok(n) if n < min => err(format!("`{key}` must be at least {min}; found {n}")),
                Ok(_) => Ok(()),
                Err(_) => err(format!("{expected}; found \"{text}\"")),
            }
        }
        Kind::Bool => match value {
            Value::Bool(_) => Ok(()),
            Value::Str(_) if value.is_placeholder() => Ok(()),
            Value::Str(s) if matches!(s.value().as_str(), "true" | "false") => Ok(()),
            _ => err(format!(
                "`{key}` must be `true` or `false` (or a \"${{...}}\" placeholder); found {}",
                value.text()
            )),
        },
    }
}

/// RocketMQ's rules for topic and group names (Java `Validators`).
fn check_name(key: &str, name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("`{key}` must not be empty"));
    }
    if name.chars().count() > max {
        return Err(format!(
            "`{key}` is longer than {max} characters, the broker's limit"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-')))
    {
        return Err(format!(
            "`{key}` contains {c:?}; only letters, digits, %, |, _ and - are allowed"
        ));
    }
    Ok(())
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
        pairs(quote!(
            topic = "${t}",
            consumer_group = "${g}",
            consume_mode = "${mode}",
            message_model = "BROADCASTING",
            selector_type = "SQL92",
            selector_expression = "${expr}",
            consume_thread_max = "${threads:4}",
            enabled = "${on}",
        ));
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
        // A TAG expression is not SQL.
        pairs(quote!(
            topic = "t",
            consumer_group = "g",
            selector_expression = "a >"
        ));
    }

    #[test]
    fn values_must_be_literals() {
        let e = error(quote!(topic = TOPIC, consumer_group = "g"));
        assert!(e.contains("attribute values must be literals"), "{e}");
    }
}
