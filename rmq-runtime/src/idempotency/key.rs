//! The identity of one consumption: which group consumed which (tag, key).

use crate::message::MessageExt;

/// Longest body copy, in bytes, kept in `msg_body`. The copy is for a person reading the log; the message
/// itself stays in the broker (and in the DLQ if it gives up), so a long body is cut rather than stored whole.
pub const MAX_STORED_BODY: usize = 4096;

/// Longest remark, in bytes, kept in `remark` (the notes' column is `varchar(500)`).
pub const MAX_REMARK: usize = 500;

/// The consumer-log primary key (group, tag, key) plus what is stored next to it for people.
///
/// The group is part of the key because each consuming service has its own group and applies its own
/// effect: the goods service restoring stock must not make the coupon service's cancel a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeKey {
    pub(crate) group: String,
    pub(crate) tag: String,
    pub(crate) key: String,
    pub(crate) msg_id: Option<String>,
    pub(crate) body: Option<String>,
}

impl ConsumeKey {
    /// A key made by hand, for messages whose business id is not in their keys (e.g. it is in the body).
    pub fn new(group: impl Into<String>, tag: impl Into<String>, key: impl Into<String>) -> Self {
        ConsumeKey {
            group: group.into(),
            tag: tag.into(),
            key: key.into(),
            msg_id: None,
            body: None,
        }
    }

    /// The key of a delivered message for `group`: its tag (empty when untagged), its keys as written
    /// (the shop sets one key, the order or pay id), or its message id when it has no keys.
    ///
    /// The message id is the producer's UNIQ_KEY, which survives redelivery through the retry topic, so it
    /// identifies one send. It does not identify one business event: two sends of the same event get two
    /// ids. Set a key on the producer side when the same event can be sent twice.
    pub fn from_message(group: impl Into<String>, msg: &MessageExt) -> Self {
        let msg_id = msg.msg_id();
        let keys = msg.keys();
        let key = if keys.is_empty() {
            msg_id.clone()
        } else {
            keys.join(" ")
        };
        ConsumeKey::new(group, msg.tags().unwrap_or_default(), key)
            .with_msg_id(msg_id)
            .with_body(&msg.body)
    }

    /// Stores the message id next to the key (column `msg_id`).
    pub fn with_msg_id(mut self, msg_id: impl Into<String>) -> Self {
        self.msg_id = Some(msg_id.into());
        self
    }

    /// Stores a readable copy of the body (column `msg_body`): UTF-8 with invalid bytes replaced, cut to
    /// [`MAX_STORED_BODY`] bytes.
    pub fn with_body(mut self, body: &[u8]) -> Self {
        let cut = &body[..body.len().min(MAX_STORED_BODY)];
        let text = String::from_utf8_lossy(cut);
        // A cut through a multi-byte character shows up as one trailing U+FFFD; that is fine for a copy.
        self.body = Some(text.into_owned());
        self
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The business key (or message id).
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abc", 2), "ab");
        // "é" is two bytes: cutting after one byte must drop it whole.
        assert_eq!(truncate("aé", 2), "a");
    }

    #[test]
    fn body_copy_is_cut() {
        let k = ConsumeKey::new("g", "t", "k").with_body(&[b'x'; MAX_STORED_BODY + 10]);
        assert_eq!(k.body.as_deref().map(str::len), Some(MAX_STORED_BODY));
    }
}
