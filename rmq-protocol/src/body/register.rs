//! REGISTER_BROKER body (docs/protocol.md §2.3.6): JSON, or Java's zlib-compressed form when header `compressed=true`.
//!
//! Compressed layout, all inside one zlib stream, lengths i32 big-endian:
//!
//! | part | content |
//! |---|---|
//! | len + bytes | DataVersion JSON |
//! | count | number of topics |
//! | per topic: len + bytes | `name read write perm filterType [attributesJSON]` (space separated, not JSON) |
//! | len + bytes | filter-server list JSON array |
//! | count, then per mapping: len + bytes | static-topic mapping infos (JSON); absent in 4.x bodies |
//!
//! The text form does not carry `topicSysFlag` or `order`; they decode as 0 and false, as in Java.

use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};

use super::json::{from_json, to_json};
use super::topic::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use crate::error::{ProtocolError, Result};

/// Inflated size cap for a compressed body, so a small zlib bomb cannot exhaust memory.
pub const MAX_INFLATED_LEN: u64 = 128 * 1024 * 1024;

/// What a broker tells a name server every 30 s: its topics and filter servers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    /// Topic table and version (with empty static-topic mapping keys, as Java 5.x sends).
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
    /// Filter server addresses (always empty for us).
    pub filter_server_list: Vec<String>,
}

fn invalid(reason: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidBody {
        what: "RegisterBrokerBody",
        reason: reason.into(),
    }
}

impl RegisterBrokerBody {
    /// Parses the body; `compressed` is the request header's `compressed` flag.
    ///
    /// # Errors
    /// [`ProtocolError::InvalidBody`] for bad JSON, a broken zlib stream, lengths past the data, or a topic line
    /// with fewer than five fields.
    pub fn decode(bytes: &[u8], compressed: bool) -> Result<Self> {
        if !compressed {
            return from_json(bytes);
        }
        let mut inflated = Vec::new();
        ZlibDecoder::new(bytes)
            .take(MAX_INFLATED_LEN + 1)
            .read_to_end(&mut inflated)
            .map_err(|e| invalid(format!("zlib: {e}")))?;
        if inflated.len() as u64 > MAX_INFLATED_LEN {
            return Err(invalid(format!(
                "inflates to more than {MAX_INFLATED_LEN} bytes"
            )));
        }
        let mut r = Reader { buf: &inflated };
        let data_version: DataVersion = from_json(r.chunk("data version")?)?;
        let mut wrapper = TopicConfigSerializeWrapper {
            data_version,
            ..Default::default()
        };
        let topics = r.count("topic count")?;
        for _ in 0..topics {
            let text = std::str::from_utf8(r.chunk("topic config")?)
                .map_err(|e| invalid(e.to_string()))?;
            let topic = decode_topic_text(text)?;
            wrapper
                .topic_config_table
                .insert(topic.topic_name.clone(), topic);
        }
        let filter_server_list = from_json(r.chunk("filter server list")?)?;
        if !r.buf.is_empty() {
            let mappings = r.count("mapping count")?;
            for i in 0..mappings {
                let info: serde_json::Value = from_json(r.chunk("mapping info")?)?;
                let topic = info
                    .get("topic")
                    .and_then(|t| t.as_str())
                    .map_or_else(|| i.to_string(), str::to_owned);
                wrapper.topic_queue_mapping_info_map.insert(topic, info);
            }
        }
        Ok(RegisterBrokerBody {
            topic_config_serialize_wrapper: wrapper,
            filter_server_list,
        })
    }

    /// Serializes the body: JSON, or the zlib form (level 9, as Java) when `compressed`.
    pub fn encode(&self, compressed: bool) -> Vec<u8> {
        if !compressed {
            return to_json(self);
        }
        let wrapper = &self.topic_config_serialize_wrapper;
        let mut plain = Vec::new();
        put_chunk(&mut plain, &to_json(&wrapper.data_version));
        put_count(&mut plain, wrapper.topic_config_table.len());
        for topic in wrapper.topic_config_table.values() {
            put_chunk(&mut plain, encode_topic_text(topic).as_bytes());
        }
        put_chunk(&mut plain, &to_json(&self.filter_server_list));
        put_count(&mut plain, wrapper.topic_queue_mapping_info_map.len());
        for info in wrapper.topic_queue_mapping_info_map.values() {
            put_chunk(&mut plain, &to_json(info));
        }
        let mut z = ZlibEncoder::new(
            Vec::with_capacity(plain.len() / 4 + 64),
            Compression::best(),
        );
        // Writing into a Vec cannot fail.
        let _ = z.write_all(&plain);
        z.finish().unwrap_or_default()
    }
}

/// Java's `TopicConfig.encode`: five space-separated fields, a space, then the attributes as JSON.
fn encode_topic_text(t: &TopicConfig) -> String {
    let attributes = String::from_utf8(to_json(&t.attributes)).unwrap_or_default();
    format!(
        "{} {} {} {} {} {}",
        t.topic_name,
        t.read_queue_nums,
        t.write_queue_nums,
        t.perm,
        t.topic_filter_type,
        attributes
    )
}

/// Java's `TopicConfig.decode`; the attributes JSON (everything after the fifth space) is optional and, as in
/// Java, ignored when it does not parse.
fn decode_topic_text(text: &str) -> Result<TopicConfig> {
    let mut parts = text.splitn(6, ' ');
    let mut next = |what: &str| {
        parts
            .next()
            .ok_or_else(|| invalid(format!("topic config {text:?} lacks {what}")))
    };
    let topic_name = next("a name")?.to_owned();
    let int = |s: &str, what: &str| {
        s.parse::<i32>()
            .map_err(|e| invalid(format!("topic {topic_name}: {what}: {e}")))
    };
    let read_queue_nums = int(next("read queues")?, "read queues")?;
    let write_queue_nums = int(next("write queues")?, "write queues")?;
    let perm = int(next("perm")?, "perm")?;
    let topic_filter_type = next("a filter type")?.to_owned();
    let attributes = parts
        .next()
        .and_then(|a| from_json(a.trim().as_bytes()).ok())
        .unwrap_or_default();
    Ok(TopicConfig {
        topic_name,
        read_queue_nums,
        write_queue_nums,
        perm,
        topic_filter_type,
        attributes,
        ..TopicConfig::default()
    })
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&i32::try_from(n).unwrap_or(i32::MAX).to_be_bytes());
}

fn put_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    put_count(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Bounds-checked reader over the inflated bytes.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn count(&mut self, what: &str) -> Result<usize> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<4>()
            .ok_or_else(|| invalid(format!("{what}: truncated")))?;
        self.buf = rest;
        let n = i32::from_be_bytes(*head);
        usize::try_from(n).map_err(|_| invalid(format!("{what}: negative ({n})")))
    }

    fn chunk(&mut self, what: &str) -> Result<&'a [u8]> {
        let len = self.count(what)?;
        let (head, rest) = self.buf.split_at_checked(len).ok_or_else(|| {
            invalid(format!(
                "{what}: {len} bytes announced, {} left",
                self.buf.len()
            ))
        })?;
        self.buf = rest;
        Ok(head)
    }
}
