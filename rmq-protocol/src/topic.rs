//! Topic and group names: the character rule every RocketMQ side enforces, and the names Java derives from a
//! group or reserves for itself (`MixAll`, `TopicValidator`), so broker and client spell them alike.

/// Prefix of a consumer group's retry topic (`MixAll.RETRY_GROUP_TOPIC_PREFIX`).
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
/// Prefix of a consumer group's dead-letter topic (`MixAll.DLQ_GROUP_TOPIC_PREFIX`).
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";
/// Longest topic a client may name (`TopicValidator.TOPIC_MAX_LENGTH`).
pub const TOPIC_MAX_LENGTH: usize = 127;
/// Longest retry or dead-letter topic, and longest group name (Java's `CHARACTER_MAX_LENGTH`).
pub const NAME_MAX_LENGTH: usize = 255;
/// The auto-create template topic (`TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC`).
pub const TBW102: &str = "TBW102";
/// Where delay-level messages wait (`TopicValidator.RMQ_SYS_SCHEDULE_TOPIC`).
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Where timer messages wait (`TimerMessageStore.TIMER_TOPIC`).
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
/// Half messages of transactions (`TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC`).
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Outcomes of half messages (`TopicValidator.RMQ_SYS_TRANS_OP_HALF_TOPIC`).
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Half messages checked too often (`TopicValidator.RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC`).
pub const TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";

/// Why a name breaks the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty or only whitespace.
    #[error("is blank")]
    Blank,
    /// Longer than the limit.
    #[error("is {len} characters, longer than {max}")]
    TooLong {
        /// The limit.
        max: usize,
        /// The name's length.
        len: usize,
    },
    /// A character outside `^[%|a-zA-Z0-9_-]+$`.
    #[error("contains {0:?}; only letters, digits, %, |, _ and - are allowed")]
    BadChar(char),
}

/// Checks `name` against RocketMQ's rule (`^[%|a-zA-Z0-9_-]+$`, at most `max` characters).
pub fn check_name(name: &str, max: usize) -> Result<(), NameError> {
    if name.trim().is_empty() {
        return Err(NameError::Blank);
    }
    if name.len() > max {
        return Err(NameError::TooLong {
            max,
            len: name.len(),
        });
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-')))
    {
        Some(c) => Err(NameError::BadChar(c)),
        None => Ok(()),
    }
}

/// The limit for a topic: 255 for retry and dead-letter topics, 127 for the rest (Java's broker).
pub fn topic_max_length(topic: &str) -> usize {
    if is_retry_topic(topic) || is_dlq_topic(topic) {
        NAME_MAX_LENGTH
    } else {
        TOPIC_MAX_LENGTH
    }
}

/// Checks a topic name with the limit [`topic_max_length`] gives it.
pub fn check_topic(topic: &str) -> Result<(), NameError> {
    check_name(topic, topic_max_length(topic))
}

/// `%RETRY%<group>`: where a group's failed messages come back.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}

/// `%DLQ%<group>`: where a group's messages go after the last retry.
pub fn dlq_topic(group: &str) -> String {
    format!("{DLQ_GROUP_TOPIC_PREFIX}{group}")
}

/// Whether `topic` is a group's retry topic.
pub fn is_retry_topic(topic: &str) -> bool {
    topic.starts_with(RETRY_GROUP_TOPIC_PREFIX)
}

/// Whether `topic` is a group's dead-letter topic.
pub fn is_dlq_topic(topic: &str) -> bool {
    topic.starts_with(DLQ_GROUP_TOPIC_PREFIX)
}

/// The group a retry topic belongs to.
pub fn group_of_retry_topic(topic: &str) -> Option<&str> {
    topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX)
}

/// The group a dead-letter topic belongs to.
pub fn group_of_dlq_topic(topic: &str) -> Option<&str> {
    topic.strip_prefix(DLQ_GROUP_TOPIC_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_limits_follow_java() {
        assert_eq!(retry_topic("g"), "%RETRY%g");
        assert_eq!(group_of_retry_topic(&retry_topic("g")), Some("g"));
        assert_eq!(group_of_dlq_topic(&dlq_topic("g")), Some("g"));
        assert_eq!(group_of_retry_topic("orders"), None);
        assert_eq!(check_topic(&"a".repeat(127)), Ok(()));
        assert_eq!(
            check_topic(&"a".repeat(128)),
            Err(NameError::TooLong { max: 127, len: 128 })
        );
        assert_eq!(check_topic(&retry_topic(&"a".repeat(200))), Ok(()));
        assert_eq!(check_topic(" "), Err(NameError::Blank));
        assert_eq!(check_topic("a b"), Err(NameError::BadChar(' ')));
        assert_eq!(check_topic("a|b%c_d-e"), Ok(()));
    }
}
