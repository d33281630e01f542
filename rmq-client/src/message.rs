//! Messages as producers build them, and the checks and body compression applied before they leave.

use std::io::{Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
pub use rmq_protocol::message::MessageExt;
use rmq_protocol::message::{properties as keys, sysflag, Properties};

use crate::error::{ClientError, Result};

/// Longest topic name a broker accepts (Java `Validators.TOPIC_MAX_LENGTH`).
pub const TOPIC_MAX_LEN: usize = rmq_protocol::topic::TOPIC_MAX_LENGTH;

/// A message to send: topic, body, and properties (tags, keys, delay, user properties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Destination topic.
    pub topic: String,
    /// Payload, sent as is (compressed on the wire above the producer's threshold).
    pub body: Bytes,
    /// User flag, stored verbatim by the broker.
    pub flag: i32,
    properties: Properties,
}

impl Message {
    /// A message for `topic` with `body`.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Message {
            topic: topic.into(),
            body: body.into(),
            flag: 0,
            properties: Properties::new(),
        }
    }

    /// Sets the tag consumers filter on.
    pub fn with_tags(mut self, tags: impl Into<String>) -> Self {
        self.properties.insert(keys::TAGS, tags);
        self
    }

    /// Sets the keys (space-joined) the broker indexes for query by key.
    pub fn with_keys<I, S>(mut self, keys_iter: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = keys_iter
            .into_iter()
            .map(|k| k.as_ref().to_string())
            .collect();
        self.properties
            .insert(keys::KEYS, joined.join(keys::KEY_SEPARATOR));
        self
    }

    /// Sets one key.
    pub fn with_key(self, key: impl AsRef<str>) -> Self {
        self.with_keys([key])
    }

    /// Sets a user property.
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key, value);
        self
    }

    /// Delivers after one of the broker's delay levels (1 = 1s … 18 = 2h by default).
    pub fn with_delay_level(mut self, level: i32) -> Self {
        self.properties
            .insert(keys::DELAY_TIME_LEVEL, level.to_string());
        self
    }

    /// Delivers after `delay` (RocketMQ 5 timer messages).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.properties
            .insert(keys::TIMER_DELAY_MS, delay.as_millis().to_string());
        self
    }

    /// Delivers at `at` (RocketMQ 5 timer messages).
    pub fn with_delivery_time(mut self, at: SystemTime) -> Self {
        let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        self.properties
            .insert(keys::TIMER_DELIVER_MS, ms.to_string());
        self
    }

    /// Sets the user flag.
    pub fn with_flag(mut self, flag: i32) -> Self {
        self.flag = flag;
        self
    }

    /// Whether the broker should wait for the store to confirm (default true; false trades safety for speed).
    pub fn with_wait_store_msg_ok(mut self, wait: bool) -> Self {
        self.properties
            .insert(keys::WAIT_STORE_MSG_OK, wait.to_string());
        self
    }

    /// The tag, if set.
    pub fn tags(&self) -> Option<&str> {
        self.properties.get(keys::TAGS)
    }

    /// The keys, if set.
    pub fn keys(&self) -> Vec<&str> {
        keys::split_keys(self.properties.get(keys::KEYS).unwrap_or_default()).collect()
    }

    /// One property.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key)
    }

    /// All properties, system ones included.
    pub fn properties(&self) -> &Properties {
        &self.properties
    }

    /// Mutable properties, for layers above (template headers, transaction marks).
    pub fn properties_mut(&mut self) -> &mut Properties {
        &mut self.properties
    }

    /// The delay level, if set.
    pub fn delay_level(&self) -> Option<i32> {
        self.properties
            .get(keys::DELAY_TIME_LEVEL)
            .and_then(|v| v.parse().ok())
    }
}

/// Refuses a topic a broker would refuse, naming the field (Java `Validators.checkTopic`; the rule is
/// `rmq_protocol::topic`'s).
pub fn check_topic(topic: &str) -> Result<()> {
    use rmq_protocol::topic::NameError;
    rmq_protocol::topic::check_name(topic, TOPIC_MAX_LEN).map_err(|e| {
        ClientError::InvalidArgument {
            field: "topic",
            reason: match e {
                NameError::Blank => "topic is empty".into(),
                NameError::TooLong { max, .. } => {
                    format!("{topic:?} is longer than {max} characters")
                }
                NameError::BadChar(c) => format!(
                    "{topic:?} contains {c:?}; only letters, digits, %, |, _ and - are allowed"
                ),
            },
        }
    })
}

/// Refuses a message that cannot be sent: bad topic, empty body, or a body over `max_size` bytes.
pub fn check_message(msg: &Message, max_size: usize) -> Result<()> {
    check_topic(&msg.topic)?;
    if msg.body.is_empty() {
        return Err(ClientError::InvalidArgument {
            field: "body",
            reason: "the message body is empty".into(),
        });
    }
    if msg.body.len() > max_size {
        return Err(ClientError::InvalidArgument {
            field: "body",
            reason: format!(
                "the message body is {} bytes, over the limit of {max_size}",
                msg.body.len()
            ),
        });
    }
    if let Some(level) = msg.property(keys::DELAY_TIME_LEVEL) {
        if level.parse::<i32>().map_or(true, |l| l < 0) {
            return Err(ClientError::InvalidArgument {
                field: "delay_level",
                reason: format!("{level:?} is not a non-negative level"),
            });
        }
    }
    Ok(())
}

/// zlib-compresses `body` (what Java's default compressor writes for sysFlag COMPRESSED).
pub fn compress(body: &[u8], level: u32) -> Result<Vec<u8>> {
    let mut enc = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(body.len() / 2),
        flate2::Compression::new(level),
    );
    enc.write_all(body)
        .and_then(|()| enc.finish())
        .map_err(|e| ClientError::InvalidArgument {
            field: "body",
            reason: format!("compression failed: {e}"),
        })
}

/// The largest body [`decompress_in_place`] inflates to: far above any real message (brokers cap bodies at 4 MiB
/// by default, and text compresses perhaps tenfold), so a compressed bomb cannot make the consumer allocate
/// gigabytes.
pub const MAX_INFLATED_BODY: usize = 256 * 1024 * 1024;

/// Inflates a zlib stream, `None` when it holds more than `cap` bytes (one byte past the cap is read to tell
/// "exactly at" from "over").
fn inflate(body: &[u8], cap: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(cap));
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::ZlibDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)?;
    Ok((out.len() <= cap).then_some(out))
}

/// Undoes body compression of a received message in place and clears the flag, as Java's decoder does.
///
/// zlib is the default (type bits 0 or ZLIB); other algorithms (LZ4, ZSTD) are refused with a clear error, and so
/// is a body that inflates past [`MAX_INFLATED_BODY`].
pub fn decompress_in_place(msg: &mut MessageExt) -> Result<()> {
    if msg.sys_flag & sysflag::COMPRESSED_FLAG == 0 {
        return Ok(());
    }
    let ty = msg.sys_flag & sysflag::COMPRESSION_TYPE_MASK;
    if ty != 0 && ty != sysflag::COMPRESSION_ZLIB_TYPE {
        return Err(ClientError::InvalidArgument {
            field: "body",
            reason: format!(
                "message {} uses compression type {ty:#x}, which rmq does not read",
                msg.msg_id()
            ),
        });
    }
    let out = inflate(&msg.body, MAX_INFLATED_BODY)
        .map_err(|e| ClientError::InvalidArgument {
            field: "body",
            reason: format!(
                "message {} has a corrupt compressed body: {e}",
                msg.msg_id()
            ),
        })?
        .ok_or_else(|| ClientError::InvalidArgument {
            field: "body",
            reason: format!(
                "message {} inflates to more than {MAX_INFLATED_BODY} bytes; not decompressed",
                msg.msg_id()
            ),
        })?;
    msg.body = Bytes::from(out);
    msg.sys_flag = sysflag::clear_compressed_flag(msg.sys_flag) & !sysflag::COMPRESSION_TYPE_MASK;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_rules_name_the_field() {
        assert!(check_topic("Order_topic-1%x|y").is_ok());
        for bad in ["", "a b", "a/b", &"x".repeat(128)] {
            let err = check_topic(bad).unwrap_err();
            assert!(err.to_string().starts_with("invalid topic"), "{err}");
        }
    }

    #[test]
    fn empty_and_oversized_bodies_are_refused() {
        assert!(check_message(&Message::new("t", ""), 10).is_err());
        assert!(check_message(&Message::new("t", vec![0u8; 11]), 10).is_err());
        assert!(check_message(&Message::new("t", vec![0u8; 10]), 10).is_ok());
    }

    #[test]
    fn keys_and_tags_round_trip() {
        let m = Message::new("t", "b")
            .with_tags("A")
            .with_keys(["k1", "k2"])
            .with_property("p", "v");
        assert_eq!(m.tags(), Some("A"));
        assert_eq!(m.keys(), vec!["k1", "k2"]);
        assert_eq!(m.property("p"), Some("v"));
    }

    #[test]
    fn inflating_stops_at_the_cap() {
        let bomb = compress(&vec![0u8; 1001], 9).expect("compress");
        assert!(bomb.len() < 100);
        assert_eq!(
            inflate(&bomb, 1001).expect("inflate").map(|v| v.len()),
            Some(1001)
        );
        assert_eq!(inflate(&bomb, 1000).expect("inflate"), None, "over the cap");
    }

    #[test]
    fn compression_round_trips_through_a_received_message() {
        let body = "hello ".repeat(2000);
        let packed = compress(body.as_bytes(), 5).unwrap();
        assert!(packed.len() < body.len() / 10);
        let mut msg = MessageExt {
            store_size: 0,
            magic: 0,
            body_crc: 0,
            queue_id: 0,
            flag: 0,
            queue_offset: 0,
            commit_log_offset: 0,
            sys_flag: sysflag::COMPRESSED_FLAG,
            born_timestamp: 0,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_timestamp: 0,
            store_host: "127.0.0.1:2".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from(packed),
            topic: "t".into(),
            properties: Properties::new(),
        };
        decompress_in_place(&mut msg).unwrap();
        assert_eq!(&msg.body[..], body.as_bytes());
        assert_eq!(msg.sys_flag & sysflag::COMPRESSED_FLAG, 0);
    }
}
