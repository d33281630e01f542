//! The handle of a popped message (docs/pop-java.md §3, §12): Java's `ExtraInfoUtil` string (`POP_CK`), the
//! retry flag that says which topic a message really came from, and the gRPC receipt handle (the same string
//! plus the CommitLog offset).

use std::fmt;

use crate::topic::RETRY_GROUP_TOPIC_PREFIX;

/// `KeyBuilder.POP_ORDER_REVIVE_QUEUE`: the revive queue id that marks a FIFO pop.
pub const ORDER_REVIVE_QUEUE: i32 = 999;

/// Which topic a popped message was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryFlag {
    /// The normal topic ("0").
    Normal,
    /// The v1 POP retry topic `%RETRY%group_topic` ("1").
    RetryV1,
    /// The v2 POP retry topic `%RETRY%group+topic` ("2").
    RetryV2,
}

impl RetryFlag {
    /// The flag of a stored topic name.
    pub fn of_topic(topic: &str) -> RetryFlag {
        if !topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
            RetryFlag::Normal
        } else if topic.contains('+') {
            RetryFlag::RetryV2
        } else {
            RetryFlag::RetryV1
        }
    }

    /// The wire digit.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryFlag::Normal => "0",
            RetryFlag::RetryV1 => "1",
            RetryFlag::RetryV2 => "2",
        }
    }

    /// Reads the wire digit.
    pub fn parse(s: &str) -> Option<RetryFlag> {
        match s {
            "0" => Some(RetryFlag::Normal),
            "1" => Some(RetryFlag::RetryV1),
            "2" => Some(RetryFlag::RetryV2),
            _ => None,
        }
    }

    /// The real topic of a message of `topic` popped by `group` with this flag.
    pub fn real_topic(self, topic: &str, group: &str) -> String {
        match self {
            RetryFlag::Normal => topic.to_owned(),
            RetryFlag::RetryV1 => pop_retry_topic_v1(group, topic),
            RetryFlag::RetryV2 => format!("{RETRY_GROUP_TOPIC_PREFIX}{group}+{topic}"),
        }
    }
}

/// `KeyBuilder.buildPopRetryTopicV1`: `%RETRY%group_topic`, where unacked POP messages come back.
pub fn pop_retry_topic_v1(group: &str, topic: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}_{topic}")
}

/// The normal topic of a POP retry topic of `group` (`parseNormalTopic`), or `topic` itself.
pub fn normal_topic<'a>(topic: &'a str, group: &str) -> &'a str {
    let v1 = format!("{RETRY_GROUP_TOPIC_PREFIX}{group}_");
    let v2 = format!("{RETRY_GROUP_TOPIC_PREFIX}{group}+");
    topic
        .strip_prefix(v1.as_str())
        .or_else(|| topic.strip_prefix(v2.as_str()))
        .unwrap_or(topic)
}

/// A popped message's handle: Java's 8-field `POP_CK` (`ExtraInfoUtil.buildExtraInfo`), with the CommitLog
/// offset as a ninth field in a gRPC receipt handle (`ReceiptHandle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraInfo {
    /// Start offset of the checkpoint (the message's own offset after a change of invisible time).
    pub ck_offset: i64,
    /// Broker clock at the pop, ms.
    pub pop_time: i64,
    /// Invisible time, ms.
    pub invisible_time: i64,
    /// Revive queue of the checkpoint; [`ORDER_REVIVE_QUEUE`] for FIFO.
    pub revive_qid: i32,
    /// Which topic the message came from.
    pub flag: RetryFlag,
    /// Broker that popped it.
    pub broker_name: String,
    /// Queue of the message.
    pub queue_id: i32,
    /// Queue offset of the message.
    pub offset: i64,
    /// CommitLog offset (receipt handles only; -1 when absent).
    pub commit_log_offset: i64,
}

/// Why a handle string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad receipt handle {handle:?}: {reason}")]
pub struct BadHandle {
    /// The string as received.
    pub handle: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl ExtraInfo {
    /// Reads an 8-field `POP_CK` or 9-field receipt handle (space-separated).
    ///
    /// # Errors
    /// Fewer than 8 fields, or a field that is not a number where one is expected.
    pub fn parse(s: &str) -> Result<ExtraInfo, BadHandle> {
        let bad = |reason| BadHandle {
            handle: s.to_owned(),
            reason,
        };
        let f: Vec<&str> = s.split(' ').collect();
        if f.len() < 8 {
            return Err(bad("fewer than 8 space-separated fields"));
        }
        let num = |i: usize| {
            f[i].parse::<i64>()
                .map_err(|_| bad("a numeric field is not a number"))
        };
        let small = |i: usize| {
            f[i].parse::<i32>()
                .map_err(|_| bad("a numeric field is not a number"))
        };
        Ok(ExtraInfo {
            ck_offset: num(0)?,
            pop_time: num(1)?,
            invisible_time: num(2)?,
            revive_qid: small(3)?,
            flag: RetryFlag::parse(f[4]).ok_or_else(|| bad("the topic flag is not 0, 1 or 2"))?,
            broker_name: f[5].to_owned(),
            queue_id: small(6)?,
            offset: num(7)?,
            commit_log_offset: match f.get(8) {
                Some(v) => v
                    .parse()
                    .map_err(|_| bad("the CommitLog offset is not a number"))?,
                None => -1,
            },
        })
    }

    /// The 8-field `POP_CK` form (what remoting clients carry).
    pub fn pop_ck(&self) -> String {
        format!(
            "{} {} {} {} {} {} {} {}",
            self.ck_offset,
            self.pop_time,
            self.invisible_time,
            self.revive_qid,
            self.flag.as_str(),
            self.broker_name,
            self.queue_id,
            self.offset
        )
    }

    /// When the message becomes visible again, ms.
    pub fn next_visible_time(&self) -> i64 {
        self.pop_time.saturating_add(self.invisible_time)
    }

    /// Whether this is a FIFO pop's handle.
    pub fn is_order(&self) -> bool {
        self.revive_qid == ORDER_REVIVE_QUEUE
    }
}

impl fmt::Display for ExtraInfo {
    /// The 9-field receipt handle.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.pop_ck(), self.commit_log_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_round_trips_in_both_forms() {
        let h = ExtraInfo::parse("1200 1726800000000 60000 3 1 broker-a 2 1203 88").expect("valid");
        assert_eq!(h.flag, RetryFlag::RetryV1);
        assert_eq!(h.commit_log_offset, 88);
        assert_eq!(
            h.to_string(),
            "1200 1726800000000 60000 3 1 broker-a 2 1203 88"
        );
        assert_eq!(h.pop_ck(), "1200 1726800000000 60000 3 1 broker-a 2 1203");
        let ck = ExtraInfo::parse(&h.pop_ck()).expect("8 fields");
        assert_eq!(ck.commit_log_offset, -1);
        assert_eq!(h.next_visible_time(), 1726800060000);
        assert!(ExtraInfo::parse("1 2 3").is_err());
        assert!(ExtraInfo::parse("x 2 3 4 0 b 1 2").is_err());
        assert!(ExtraInfo::parse("1 2 3 4 7 b 1 2").is_err());
    }

    #[test]
    fn retry_topics_map_back_to_their_topic() {
        assert_eq!(pop_retry_topic_v1("g", "T"), "%RETRY%g_T");
        assert_eq!(RetryFlag::of_topic("%RETRY%g_T"), RetryFlag::RetryV1);
        assert_eq!(RetryFlag::of_topic("%RETRY%g+T"), RetryFlag::RetryV2);
        assert_eq!(RetryFlag::of_topic("T"), RetryFlag::Normal);
        assert_eq!(RetryFlag::RetryV1.real_topic("T", "g"), "%RETRY%g_T");
        assert_eq!(normal_topic("%RETRY%g_T", "g"), "T");
        assert_eq!(normal_topic("%RETRY%g+T", "g"), "T");
        assert_eq!(normal_topic("T", "g"), "T");
    }
}
