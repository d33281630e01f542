//! The attributes of `#[rocketmq_listener]` (rocketmq-spring's `@RocketMQMessageListener`), in one table.
//!
//! Two crates read it: rmq-macros checks literal values at compile time and lists the keys in its "expected
//! one of" message; rmq-runtime takes the defaults from it, checks values resolved from `${...}` placeholders
//! with the same rules, and applies the per-group rule when several listeners share a consumer group. So an
//! attribute is added by adding a row here (plus the field that uses it and its tests); tests fail when this
//! table, the macro's documentation (`rmq-macros/docs/rocketmq_listener.md`) and the runtime's resolved
//! listener disagree.
//!
//! # Layout
//! - this file: [`Attr`], [`Kind`], [`GroupRule`], the table [`ATTRS`], [`lookup`] and the value checks.
#![warn(missing_docs)]

/// What kind of value an attribute takes, and the rule its text must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any string.
    Str,
    /// A topic or group name: RocketMQ's character set, at most `max` characters (Java's `Validators`).
    Name {
        /// The broker's length limit.
        max: usize,
    },
    /// One of these strings (upper case, as Spring's enums).
    Enum(&'static [&'static str]),
    /// An integer at least `min`.
    Int {
        /// The smallest accepted value.
        min: i64,
    },
    /// `true` or `false`.
    Bool,
}

/// How listeners sharing one consumer group combine an attribute (one group is one push consumer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupRule {
    /// Each listener keeps its own value.
    PerListener,
    /// Every listener of the group must give the same value (start-up refuses otherwise).
    Agree,
    /// The group's consumer takes the largest value of its listeners.
    Max,
}

/// One attribute.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    /// The key as written in the macro: the Spring name in snake_case.
    pub key: &'static str,
    /// The name in `@RocketMQMessageListener` (documentation and the camelCase hint).
    pub spring: &'static str,
    /// Other spellings accepted for the key; stored under [`Attr::key`].
    pub aliases: &'static [&'static str],
    /// The kind of value.
    pub kind: Kind,
    /// Whether a listener must give it.
    pub required: bool,
    /// The value used when the attribute is not given, as text; `None` when absence means "not set".
    pub default: Option<&'static str>,
    /// How listeners of one group combine it.
    pub group: GroupRule,
    /// A valid value different from the default, for tests that check an attribute reaches the listener.
    pub sample: &'static str,
    /// One line on what it does.
    pub doc: &'static str,
}

/// `selector_type` values.
pub const SELECTOR_TYPES: &[&str] = &["TAG", "SQL92"];
/// `consume_mode` values.
pub const CONSUME_MODES: &[&str] = &["CONCURRENTLY", "ORDERLY"];
/// `message_model` values.
pub const MESSAGE_MODELS: &[&str] = &["CLUSTERING", "BROADCASTING"];

/// Every attribute, in the order the macro's "expected one of" message lists them.
pub const ATTRS: &[Attr] = &[
    Attr {
        key: "topic",
        spring: "topic",
        aliases: &[],
        kind: Kind::Name {
            max: rmq_protocol::topic::TOPIC_MAX_LENGTH,
        },
        required: true,
        default: None,
        group: GroupRule::PerListener,
        sample: "orders",
        doc: "the topic to consume",
    },
    Attr {
        key: "consumer_group",
        spring: "consumerGroup",
        aliases: &[],
        kind: Kind::Name {
            max: rmq_protocol::topic::NAME_MAX_LENGTH,
        },
        required: true,
        default: None,
        group: GroupRule::PerListener,
        sample: "stock-service",
        doc: "the consumer group; listeners sharing one run on one push consumer",
    },
    Attr {
        key: "selector_type",
        spring: "selectorType",
        aliases: &[],
        kind: Kind::Enum(SELECTOR_TYPES),
        required: false,
        default: Some("TAG"),
        group: GroupRule::PerListener,
        sample: "SQL92",
        doc: "how `selector_expression` is read",
    },
    Attr {
        key: "selector_expression",
        spring: "selectorExpression",
        aliases: &[],
        kind: Kind::Str,
        required: false,
        default: Some("*"),
        group: GroupRule::PerListener,
        sample: "a > 5",
        doc: "tags (`a || b`, `*`) or, with SQL92, a condition on properties (a literal one is parsed at compile time)",
    },
    Attr {
        key: "consume_mode",
        spring: "consumeMode",
        aliases: &[],
        kind: Kind::Enum(CONSUME_MODES),
        required: false,
        default: Some("CONCURRENTLY"),
        group: GroupRule::Agree,
        sample: "ORDERLY",
        doc: "ORDERLY consumes each queue in order, one message at a time, under a broker lock",
    },
    Attr {
        key: "message_model",
        spring: "messageModel",
        aliases: &[],
        kind: Kind::Enum(MESSAGE_MODELS),
        required: false,
        default: Some("CLUSTERING"),
        group: GroupRule::Agree,
        sample: "BROADCASTING",
        doc: "BROADCASTING delivers every message to every instance (not with ORDERLY)",
    },
    Attr {
        key: "consume_thread_max",
        spring: "consumeThreadMax",
        aliases: &[],
        kind: Kind::Int { min: 1 },
        required: false,
        default: Some("64"),
        group: GroupRule::Max,
        sample: "8",
        doc: "handlers running at once (falls back to `consume_thread_number`)",
    },
    Attr {
        key: "consume_thread_number",
        spring: "consumeThreadNumber",
        aliases: &[],
        kind: Kind::Int { min: 1 },
        required: false,
        default: Some("64"),
        group: GroupRule::Max,
        sample: "8",
        doc: "rocketmq-spring 2.2.3's name for `consume_thread_max`, used when that is not given",
    },
    Attr {
        key: "max_reconsume_times",
        spring: "maxReconsumeTimes",
        aliases: &[],
        kind: Kind::Int { min: -1 },
        required: false,
        default: Some("-1"),
        group: GroupRule::Agree,
        sample: "3",
        doc: "retries before dead-lettering; -1: the client's default (16)",
    },
    Attr {
        key: "consume_timeout",
        spring: "consumeTimeout",
        aliases: &[],
        kind: Kind::Int { min: 1 },
        required: false,
        default: Some("15"),
        group: GroupRule::Max,
        sample: "2",
        doc: "minutes a handler may run before its message is sent back for retry",
    },
    Attr {
        key: "delay_level_when_next_consume",
        spring: "delayLevelWhenNextConsume",
        aliases: &[],
        kind: Kind::Int { min: -1 },
        required: false,
        default: Some("0"),
        group: GroupRule::PerListener,
        sample: "2",
        doc: "CONCURRENTLY: delay level of a retry (-1 dead-letters at once, 0 lets the broker decide: 3 + retries so far)",
    },
    Attr {
        key: "suspend_current_queue_time_millis",
        spring: "suspendCurrentQueueTimeMillis",
        aliases: &[],
        kind: Kind::Int { min: 0 },
        required: false,
        default: Some("1000"),
        group: GroupRule::PerListener,
        sample: "250",
        doc: "ORDERLY: how long a queue pauses after a failure before the message is retried",
    },
    Attr {
        key: "await_termination_millis_when_shutdown",
        spring: "awaitTerminationMillisWhenShutdown",
        aliases: &[],
        kind: Kind::Int { min: 0 },
        required: false,
        default: Some("1000"),
        group: GroupRule::Max,
        sample: "5000",
        doc: "how long shutdown waits for running handlers",
    },
    Attr {
        key: "name_server",
        spring: "nameServer",
        aliases: &[],
        kind: Kind::Str,
        required: false,
        default: None,
        group: GroupRule::Agree,
        sample: "10.0.0.1:9876",
        doc: "this listener's name servers instead of `rocketmq.name-server`",
    },
    Attr {
        key: "namespace",
        spring: "namespace",
        aliases: &[],
        kind: Kind::Str,
        required: false,
        default: None,
        group: GroupRule::Agree,
        sample: "staging",
        doc: "prefix of topic and group names; default `rocketmq.consumer.namespace`",
    },
    Attr {
        key: "instance_name",
        spring: "instanceName",
        aliases: &[],
        kind: Kind::Str,
        required: false,
        default: None,
        group: GroupRule::Agree,
        sample: "stock-1",
        doc: "the client instance name instead of the process's default",
    },
    Attr {
        key: "enabled",
        spring: "enabled",
        aliases: &["enable"],
        kind: Kind::Bool,
        required: false,
        default: Some("true"),
        group: GroupRule::PerListener,
        sample: "false",
        doc: "`false` turns the listener off",
    },
    Attr {
        key: "reply_timeout",
        spring: "replyTimeout",
        aliases: &[],
        kind: Kind::Int { min: 1 },
        required: false,
        default: Some("3000"),
        group: GroupRule::PerListener,
        sample: "500",
        doc: "reply listeners: milliseconds sending the reply may take",
    },
];

/// The attribute a written key names (its key or one of its aliases).
pub fn lookup(written: &str) -> Option<&'static Attr> {
    ATTRS
        .iter()
        .find(|a| a.key == written || a.aliases.contains(&written))
}

/// The attribute with this canonical key.
///
/// # Panics
/// When `key` is not in [`ATTRS`]: callers name keys of the table in code, so a miss is a programming error
/// that every test run catches.
pub fn attr(key: &str) -> &'static Attr {
    ATTRS
        .iter()
        .find(|a| a.key == key)
        .unwrap_or_else(|| panic!("`{key}` is not a listener attribute"))
}

impl Attr {
    /// Checks a value's text (a literal, or what a placeholder resolved to); the error names the key.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let key = self.key;
        match self.kind {
            Kind::Str => Ok(()),
            Kind::Name { max } => check_name(key, value, max),
            Kind::Enum(allowed) => {
                if allowed.contains(&value) {
                    return Ok(());
                }
                let list: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
                let mut msg = format!(
                    "`{key}` must be one of {}; found \"{value}\"",
                    list.join(", ")
                );
                if let Some(a) = allowed.iter().find(|a| a.eq_ignore_ascii_case(value)) {
                    msg.push_str(&format!("\nhelp: the values are upper case: \"{a}\""));
                }
                Err(msg)
            }
            Kind::Int { min } => match value.trim().parse::<i64>() {
                Ok(n) if n < min => Err(format!("`{key}` must be at least {min}; found {n}")),
                Ok(_) => Ok(()),
                Err(_) => Err(format!(
                    "`{key}` must be an integer, e.g. `{key} = 20`, or a \"${{...}}\" placeholder; found \"{value}\""
                )),
            },
            Kind::Bool => match value {
                "true" | "false" => Ok(()),
                _ => Err(format!(
                    "`{key}` must be `true` or `false` (or a \"${{...}}\" placeholder); found {value}"
                )),
            },
        }
    }
}

/// RocketMQ's rule for topic and group names (Java `Validators`), with the message naming the attribute.
fn check_name(key: &str, name: &str, max: usize) -> Result<(), String> {
    use rmq_protocol::topic::NameError;
    rmq_protocol::topic::check_name(name, max).map_err(|e| match e {
        NameError::Blank => format!("`{key}` must not be empty"),
        NameError::TooLong { max, .. } => {
            format!("`{key}` is longer than {max} characters, the broker's limit")
        }
        NameError::BadChar(c) => {
            format!("`{key}` contains {c:?}; only letters, digits, %, |, _ and - are allowed")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_aliases_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for a in ATTRS {
            for k in std::iter::once(a.key).chain(a.aliases.iter().copied()) {
                assert!(seen.insert(k), "`{k}` appears twice");
                assert!(
                    k.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "`{k}` is not snake_case"
                );
            }
        }
    }

    #[test]
    fn defaults_and_samples_pass_their_own_checks_and_differ() {
        for a in ATTRS {
            if let Some(d) = a.default {
                a.check(d)
                    .unwrap_or_else(|e| panic!("default of {}: {e}", a.key));
                assert_ne!(
                    Some(a.sample),
                    a.default,
                    "{}: sample is the default",
                    a.key
                );
            }
            a.check(a.sample)
                .unwrap_or_else(|e| panic!("sample of {}: {e}", a.key));
            assert!(
                !a.required || a.default.is_none(),
                "{}: required with a default",
                a.key
            );
        }
    }

    #[test]
    fn checks_name_the_key() {
        assert!(attr("consume_timeout")
            .check("0")
            .unwrap_err()
            .contains("`consume_timeout` must be at least 1"));
        assert!(attr("consume_mode")
            .check("orderly")
            .unwrap_err()
            .contains("upper case: \"ORDERLY\""));
        assert!(attr("topic")
            .check("a b")
            .unwrap_err()
            .contains("`topic` contains ' '"));
        assert!(attr("enabled")
            .check("yes")
            .unwrap_err()
            .contains("`enabled` must be `true` or `false`"));
        assert_eq!(lookup("enable").map(|a| a.key), Some("enabled"));
    }
}
