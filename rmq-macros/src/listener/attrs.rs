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
    ("await_termination_millis_when_shutdown", Kind::Int { min: 0 }),
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
        self.entries.iter().map(|e| (e.key, e.value.text())).collect()
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
    let mut seen: Vec<&'static str> = Vec::new();
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
            errors.push_spanned(key.span(), unknown_key_message(&written));
            continue;
        };
        if seen.contains(&canonical) {
            let msg = if written == canonical {
                format!("duplicate attribute `{canonical}`")
            } else {
                format!("duplicate attribute: `{written}` is another name for `{canonical}`, which is already given")
            };
            errors.push_spanned(key.span(), msg);
            continue;
        }
        seen.push(canonical);
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

fn unknown_key_message(written: &str) -> String {
    let known: Vec<String> = KEYS.iter().map(|(k, _)| format!("`{k}`")).collect();
    let mut msg = format!(
        "unknown attribute `{written}`; expected one of {} (or `crate`)",
        known.join(", ")
    );
    let snake = snake_case(written);
    if snake != written && lookup(&snake).is_some() {
        msg.push_str(&format!("\nhelp: attributes are snake_case here: write `{snake}`"));
    } else if let Some((close, _)) = KEYS
        .iter()
        .map(|(k, _)| (*k, edit_distance(written, k)))
        .filter(|(_, d)| *d <= 2)
        .min_by_key(|(_, d)| *d)
    {
        msg.push_str(&format!("\nhelp: did you mean `{close}`?"));
    }
    msg
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
            let text = match value {
                Value::Int { text, .. } => text.clone(),
                Value::Str(_) if value.is_placeholder() => return Ok(()),
                Value::Str(s) => s.value(),
                Value::Bool(_) => {
                    return err(format!(
                        "`{key}` must be an integer, e.g. `{key} = 20`, or a \"${{...}}\" placeholder"
                    ))
                }
            };
            match text.trim().parse::<i64>() {
                Ok(n) if n < min => err(format!("`{key}` must be at least {min}; found {n}")),
                Ok(_) => Ok(()),
                Err(_) => err(format!(
                    "`{key}` must be an integer, e.g. `{key} = 20`, or a \"${{...}}\" placeholder; found \"{text}\""
                )),
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

fn check_combinations(attrs: &ListenerAttrs, seen: &[&str], errors: &mut Errors) {
    let call_site = Span::call_site();
    for required in ["topic", "consumer_group"] {
        if !seen.contains(&required) {
            errors.push_spanned(
                call_site,
                format!(
                    "missing `{required}`: a listener needs `topic = \"...\"` and `consumer_group = \"...\"`"
                ),
            );
        }
    }

    // rocketmq-spring refuses this too ("messageModel BROADCASTING does not support ORDERLY message!").
    if let (Some((mode, mode_e)), Some((model, model_e))) =
        (attrs.literal("consume_mode"), attrs.literal("message_model"))
    {
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
