//! Topic message types (Java 5.x `TopicMessageType`): a topic's `message.type` attribute says which kind of
//! message it takes, a message's properties say which kind it is, and Java's proxy
//! (`DefaultTopicMessageTypeValidator`) refuses a send whose kind is not the topic's — unless the topic is
//! MIXED. rmq applies the check to gRPC sends (`enableTopicMessageTypeCheck`), as the proxy does; Java's broker
//! does not check remoting sends, so neither does rmq's.

use std::fmt;

use rmq_protocol::body::TopicConfig;
use rmq_protocol::message::properties::{self, Properties};

/// The topic attribute holding the type.
pub const ATTRIBUTE: &str = "message.type";

/// A message type, as a topic declares it and as a message's properties make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicMessageType {
    /// No type (a message never parses as this; a topic set to it accepts nothing).
    Unspecified,
    /// Plain messages.
    Normal,
    /// Messages with a message group (`__SHARDINGKEY`).
    Fifo,
    /// Messages with a delay level or a delivery time.
    Delay,
    /// Half messages (`TRAN_MSG=true`).
    Transaction,
    /// Messages with a priority (`__PRIORITY`, Java 5.3.2+).
    Priority,
    /// Any of the others.
    Mixed,
}

impl TopicMessageType {
    /// Every type, for messages naming the accepted values.
    pub const ALL: [TopicMessageType; 7] = [
        TopicMessageType::Unspecified,
        TopicMessageType::Normal,
        TopicMessageType::Fifo,
        TopicMessageType::Delay,
        TopicMessageType::Transaction,
        TopicMessageType::Priority,
        TopicMessageType::Mixed,
    ];

    /// The attribute value (Java's enum name).
    pub fn name(self) -> &'static str {
        match self {
            TopicMessageType::Unspecified => "UNSPECIFIED",
            TopicMessageType::Normal => "NORMAL",
            TopicMessageType::Fifo => "FIFO",
            TopicMessageType::Delay => "DELAY",
            TopicMessageType::Transaction => "TRANSACTION",
            TopicMessageType::Priority => "PRIORITY",
            TopicMessageType::Mixed => "MIXED",
        }
    }

    /// The type an attribute value names (exact, as Java's `valueOf`).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == value)
    }

    /// The type `cfg` declares; `None` when it has no `message.type` attribute (or an unusable one).
    pub fn of_topic(cfg: &TopicConfig) -> Option<Self> {
        cfg.attributes.get(ATTRIBUTE).and_then(|v| Self::parse(v))
    }

    /// The type a message's properties make it (Java's `parseFromMessageProperty`, in its order: transaction,
    /// then delay, then FIFO, then priority; anything else is NORMAL).
    pub fn of_message(props: &Properties) -> Self {
        let has = |k: &str| props.get(k).is_some();
        if props
            .get(properties::TRANSACTION_PREPARED)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            TopicMessageType::Transaction
        } else if has(properties::DELAY_TIME_LEVEL)
            || has(properties::TIMER_DELIVER_MS)
            || has(properties::TIMER_DELAY_SEC)
            || has(properties::TIMER_DELAY_MS)
        {
            TopicMessageType::Delay
        } else if has(properties::SHARDING_KEY) {
            TopicMessageType::Fifo
        } else if has("__PRIORITY") {
            TopicMessageType::Priority
        } else {
            TopicMessageType::Normal
        }
    }
}

impl fmt::Display for TopicMessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A message of another type than its topic takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TopicMessageType validate failed, the expected type is {expected}, but actual type is {actual}")]
pub struct MessageTypeMismatch {
    /// The topic's type.
    pub expected: TopicMessageType,
    /// The message's type.
    pub actual: TopicMessageType,
}

/// Java's `DefaultTopicMessageTypeValidator`: a message must be of its topic's type, unless the topic is MIXED.
///
/// # Errors
/// [`MessageTypeMismatch`] naming both types.
pub fn validate(
    expected: TopicMessageType,
    actual: TopicMessageType,
) -> Result<(), MessageTypeMismatch> {
    if actual == TopicMessageType::Unspecified
        || (actual != expected && expected != TopicMessageType::Mixed)
    {
        return Err(MessageTypeMismatch { expected, actual });
    }
    Ok(())
}

/// Checks a `message.type` attribute value before a topic takes it (Java validates attributes on create).
///
/// # Errors
/// The value, and the accepted ones, when it names no type.
pub fn check_attribute_value(value: &str) -> Result<TopicMessageType, String> {
    TopicMessageType::parse(value).ok_or_else(|| {
        let names: Vec<&str> = TopicMessageType::ALL.iter().map(|t| t.name()).collect();
        format!(
            "attribute {ATTRIBUTE}={value} names no message type; use one of {}",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TopicMessageType::*;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        let mut p = Properties::new();
        for (k, v) in pairs {
            p.insert(*k, *v);
        }
        p
    }

    #[test]
    fn a_message_is_typed_by_its_properties_in_javas_order() {
        assert_eq!(TopicMessageType::of_message(&props(&[])), Normal);
        assert_eq!(
            TopicMessageType::of_message(&props(&[("__SHARDINGKEY", "g")])),
            Fifo
        );
        assert_eq!(
            TopicMessageType::of_message(&props(&[("__SHARDINGKEY", "g"), ("DELAY", "3")])),
            Delay
        );
        assert_eq!(
            TopicMessageType::of_message(&props(&[
                ("TIMER_DELIVER_MS", "1"),
                ("TRAN_MSG", "true")
            ])),
            Transaction
        );
    }

    #[test]
    fn only_the_topics_type_or_a_mixed_topic_accepts_a_message() {
        assert_eq!(validate(Fifo, Fifo), Ok(()));
        assert_eq!(validate(Mixed, Delay), Ok(()));
        let refused = validate(Fifo, Normal).expect_err("NORMAL into FIFO");
        assert_eq!(
            refused.to_string(),
            "TopicMessageType validate failed, the expected type is FIFO, but actual type is NORMAL"
        );
        assert!(validate(Unspecified, Normal).is_err());
        assert!(check_attribute_value("FIFO").is_ok());
        assert!(
            check_attribute_value("fifo").is_err(),
            "exact names, as Java"
        );
    }
}
