//! Independent readers for what the broker returns: stored message records (docs/protocol.md §3.1), properties strings
//! (§3.4) and offset message ids (§3.2). Written from docs/protocol.md, not from `rmq-protocol`, so the tests check the
//! broker against the documented layout rather than against its own codec.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Buf;

/// Magic of a V1 stored record (1-byte topic length).
pub const MAGIC_V1: i32 = 0xDAA320A7_u32 as i32;
/// Magic of a V2 stored record (2-byte topic length).
pub const MAGIC_V2: i32 = 0xDAA320AB_u32 as i32;

/// One decoded stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// totalSize field.
    pub total_size: i32,
    /// Magic code (V1 or V2).
    pub magic: i32,
    /// Stored bodyCRC.
    pub body_crc: i32,
    /// Queue id.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Logical offset in the consume queue.
    pub queue_offset: i64,
    /// Commit-log offset of this record.
    pub physical_offset: i64,
    /// MessageSysFlag.
    pub sys_flag: i32,
    /// Producer timestamp (ms).
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker timestamp (ms).
    pub store_timestamp: i64,
    /// Broker address.
    pub store_host: SocketAddr,
    /// Reconsume count.
    pub reconsume_times: i32,
    /// Prepared-transaction offset.
    pub prepared_transaction_offset: i64,
    /// Body bytes as stored.
    pub body: Vec<u8>,
    /// Topic.
    pub topic: String,
    /// Raw properties string.
    pub properties_raw: String,
}

impl Record {
    /// Parsed properties (Java rules: later duplicates win, empty keys/values dropped).
    pub fn properties(&self) -> HashMap<String, String> {
        decode_properties(&self.properties_raw)
    }

    /// The `TAGS` property.
    pub fn tags(&self) -> Option<String> {
        self.properties().remove("TAGS")
    }

    /// The `KEYS` property.
    pub fn keys(&self) -> Option<String> {
        self.properties().remove("KEYS")
    }

    /// Whether bodyCRC equals CRC-32 of the body masked to 31 bits.
    pub fn body_crc_ok(&self) -> bool {
        (crc32fast::hash(&self.body) & 0x7FFF_FFFF) as i32 == self.body_crc
    }
}

fn host(buf: &mut &[u8], v6: bool) -> Result<SocketAddr, String> {
    let need = if v6 { 20 } else { 8 };
    if buf.len() < need {
        return Err("truncated host".into());
    }
    let ip = if v6 {
        let mut a = [0u8; 16];
        buf.copy_to_slice(&mut a);
        Ipv6Addr::from(a).into()
    } else {
        let mut a = [0u8; 4];
        buf.copy_to_slice(&mut a);
        Ipv4Addr::from(a).into()
    };
    let port = buf.get_i32();
    Ok(SocketAddr::new(ip, port as u16))
}

/// Decodes one record from the front of `buf`; returns it and its size.
pub fn decode_record(buf: &[u8]) -> Result<(Record, usize), String> {
    if buf.len() < 8 {
        return Err(format!("{} bytes left, no record header", buf.len()));
    }
    let total = i32::from_be_bytes(buf[0..4].try_into().expect("4")) as usize;
    if total < 8 || total > buf.len() {
        return Err(format!(
            "record totalSize {total} with {} bytes available",
            buf.len()
        ));
    }
    let mut b = &buf[4..total];
    let need = |b: &[u8], n: usize, what: &str| {
        if b.len() < n {
            Err(format!("record truncated at {what}"))
        } else {
            Ok(())
        }
    };
    need(b, 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8, "fixed part")?;
    let magic = b.get_i32();
    if magic != MAGIC_V1 && magic != MAGIC_V2 {
        return Err(format!("bad magic {magic:#x}"));
    }
    let body_crc = b.get_i32();
    let queue_id = b.get_i32();
    let flag = b.get_i32();
    let queue_offset = b.get_i64();
    let physical_offset = b.get_i64();
    let sys_flag = b.get_i32();
    let born_timestamp = b.get_i64();
    let born_host = host(&mut b, sys_flag & 0x10 != 0)?;
    need(b, 8, "storeTimestamp")?;
    let store_timestamp = b.get_i64();
    let store_host = host(&mut b, sys_flag & 0x20 != 0)?;
    need(b, 4 + 8 + 4, "reconsume/prepared/bodyLength")?;
    let reconsume_times = b.get_i32();
    let prepared_transaction_offset = b.get_i64();
    let body_len = b.get_i32();
    if body_len < 0 {
        return Err("negative body length".into());
    }
    need(b, body_len as usize, "body")?;
    let body = b[..body_len as usize].to_vec();
    b.advance(body_len as usize);
    let topic_len = if magic == MAGIC_V1 {
        need(b, 1, "topic length")?;
        b.get_u8() as usize
    } else {
        need(b, 2, "topic length")?;
        b.get_u16() as usize
    };
    need(b, topic_len, "topic")?;
    let topic =
        String::from_utf8(b[..topic_len].to_vec()).map_err(|e| format!("topic not UTF-8: {e}"))?;
    b.advance(topic_len);
    need(b, 2, "properties length")?;
    let props_len = b.get_i16();
    if props_len < 0 {
        return Err("negative properties length".into());
    }
    need(b, props_len as usize, "properties")?;
    let properties_raw = String::from_utf8(b[..props_len as usize].to_vec())
        .map_err(|e| format!("properties not UTF-8: {e}"))?;
    b.advance(props_len as usize);
    if b.has_remaining() {
        return Err(format!("{} stray bytes inside record", b.remaining()));
    }
    Ok((
        Record {
            total_size: total as i32,
            magic,
            body_crc,
            queue_id,
            flag,
            queue_offset,
            physical_offset,
            sys_flag,
            born_timestamp,
            born_host,
            store_timestamp,
            store_host,
            reconsume_times,
            prepared_transaction_offset,
            body,
            topic,
            properties_raw,
        },
        total,
    ))
}

/// Decodes a body of records back to back (pull / query / view responses). Strict: any malformed byte is an
/// error, because the broker must never send one.
pub fn decode_records(mut buf: &[u8]) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (r, n) = decode_record(buf)?;
        out.push(r);
        buf = &buf[n..];
    }
    Ok(out)
}

/// The properties string: `k 0x01 v 0x02` per pair (docs/protocol.md §3.4).
pub fn encode_properties<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = String::new();
    for (k, v) in pairs {
        if k.is_empty() || v.is_empty() {
            continue;
        }
        s.push_str(k);
        s.push('\u{1}');
        s.push_str(v);
        s.push('\u{2}');
    }
    s
}

/// Parses a properties string the way Java does.
pub fn decode_properties(s: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for item in s.split('\u{2}') {
        if let Some((k, v)) = item.split_once('\u{1}') {
            if !k.is_empty() && !v.is_empty() {
                m.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    m
}

/// An offset message id: store host + commit-log offset (docs/protocol.md §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetMsgId {
    /// Store host.
    pub addr: SocketAddr,
    /// Commit-log physical offset.
    pub offset: i64,
}

/// Decodes an offset msgId (32 hex chars IPv4, 56 IPv6). Requires uppercase hex, as Java writes it.
pub fn decode_offset_msg_id(id: &str) -> Result<OffsetMsgId, String> {
    if id.chars().any(|c| c.is_ascii_lowercase()) {
        return Err(format!("msgId {id} is not uppercase hex"));
    }
    let bytes = (0..id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(id.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|e| format!("msgId {id} is not hex: {e}"))?;
    let mut b = &bytes[..];
    let addr = match bytes.len() {
        16 => host(&mut b, false)?,
        28 => host(&mut b, true)?,
        n => return Err(format!("msgId {id} has {n} bytes, want 16 or 28")),
    };
    Ok(OffsetMsgId {
        addr,
        offset: b.get_i64(),
    })
}

/// Java `String.hashCode()` of a tag, the consume-queue tag code (docs/protocol.md §3.7).
pub fn tag_hash(tag: &str) -> i64 {
    let mut h: i32 = 0;
    for u in tag.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(u as i32);
    }
    h as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip_and_java_rules() {
        let s = encode_properties([("TAGS", "TagA"), ("KEYS", "k1 k2"), ("", "x"), ("e", "")]);
        assert_eq!(s, "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}");
        let m = decode_properties(&s);
        assert_eq!(m.len(), 2);
        assert_eq!(m["KEYS"], "k1 k2");
    }

    #[test]
    fn tag_hash_matches_java() {
        assert_eq!(tag_hash("TagA"), 2598919);
        assert_eq!(tag_hash("*"), 42);
        assert_eq!(tag_hash(""), 0);
    }

    #[test]
    fn offset_msg_id() {
        let id = decode_offset_msg_id("7F000001000051AF0000000000001234").expect("valid");
        assert_eq!(id.addr, "127.0.0.1:20911".parse().expect("addr"));
        assert_eq!(id.offset, 0x1234);
        assert!(decode_offset_msg_id("7f000001000051af0000000000001234").is_err());
        assert!(decode_offset_msg_id("7F00").is_err());
    }
}
