//! The stored message record: one CommitLog entry, and one element of a pull/query/view response body
//! (docs/protocol.md §3.1).
//!
//! The broker's store writes these bytes once and serves them unchanged to consumers, so encoder, store and
//! client decoder share this module. Layout (big-endian; offsets for IPv4 born and store hosts):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | totalSize (whole record) |
//! | 4 | 4 | magic: `0xDAA320A7` V1 (1-byte topic length), `0xDAA320AB` V2 (2-byte topic length) |
//! | 8 | 4 | bodyCRC: CRC-32 of the body `& 0x7FFFFFFF` |
//! | 12 | 4 | queueId |
//! | 16 | 4 | flag |
//! | 20 | 8 | queueOffset |
//! | 28 | 8 | physicalOffset |
//! | 36 | 4 | sysFlag |
//! | 40 | 8 | bornTimestamp |
//! | 48 | 8 / 20 | bornHost: address (4 / 16) + i32 port; 20 bytes when sysFlag & `0x10` |
//! | 56 | 8 | storeTimestamp |
//! | 64 | 8 / 20 | storeHost: 20 bytes when sysFlag & `0x20` |
//! | 72 | 4 | reconsumeTimes |
//! | 76 | 8 | preparedTransactionOffset |
//! | 84 | 4 + n | bodyLength + body |
//! | … | 1 + t / 2 + t | topicLength (V1 `i8`, V2 `i16`) + topic |
//! | … | 2 + p | propertiesLength (`i16`) + properties |
//!
//! The CommitLog end-of-file filler is 8 bytes: i32 remaining length, i32 [`BLANK_MAGIC_CODE`].
//!
//! Decoding never trusts a length beyond the buffer, never panics, and borrows the body from the input
//! [`Bytes`] instead of copying it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, Bytes, BytesMut};

use super::msg_id::create_offset_msg_id;
use super::properties::{self, Properties};
use super::sysflag::{BORNHOST_V6_FLAG, STOREHOSTADDRESS_V6_FLAG};
use super::tag::tag_hash_code;
use crate::error::{ProtocolError, Result};

/// Magic of a V1 record (1-byte topic length).
pub const MESSAGE_MAGIC_CODE_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic of a V2 record (2-byte topic length), used for topics longer than 127 bytes.
pub const MESSAGE_MAGIC_CODE_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// Magic of the CommitLog end-of-file filler.
pub const BLANK_MAGIC_CODE: i32 = 0xCBD4_3194_u32 as i32;
/// Size of the end-of-file filler a CommitLog file must always have room for.
pub const END_FILE_MIN_BLANK_LENGTH: usize = 8;

/// Position of totalSize.
pub const POS_TOTAL_SIZE: usize = 0;
/// Position of the magic code.
pub const POS_MAGIC: usize = 4;
/// Position of bodyCRC.
pub const POS_BODY_CRC: usize = 8;
/// Position of queueId.
pub const POS_QUEUE_ID: usize = 12;
/// Position of flag.
pub const POS_FLAG: usize = 16;
/// Position of queueOffset.
pub const POS_QUEUE_OFFSET: usize = 20;
/// Position of physicalOffset.
pub const POS_PHYSICAL_OFFSET: usize = 28;
/// Position of sysFlag.
pub const POS_SYS_FLAG: usize = 36;
/// Position of bornTimestamp.
pub const POS_BORN_TIMESTAMP: usize = 40;
/// Position of bornHost.
pub const POS_BORN_HOST: usize = 48;

/// Largest topic a V1 record can hold; longer ones get V2.
pub const MAX_TOPIC_LEN_V1: usize = 127;
/// Largest topic a V2 record can hold.
pub const MAX_TOPIC_LEN_V2: usize = i16::MAX as usize;
/// Largest properties string (i16 length).
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;

/// Smallest possible record: IPv4 hosts, empty body/topic/properties, V1.
pub const MIN_RECORD_SIZE: usize = 84 + 4 + 1 + 2;

/// Size in bytes of an encoded host: 8 for IPv4, 20 for IPv6.
pub fn host_len(v6: bool) -> usize {
    if v6 {
        20
    } else {
        8
    }
}

/// Position of storeTimestamp for a record with this sysFlag (moves when the born host is IPv6).
pub fn store_timestamp_pos(sys_flag: i32) -> usize {
    POS_BORN_HOST + host_len(sys_flag & BORNHOST_V6_FLAG != 0)
}

/// The body CRC as stored: CRC-32 (IEEE) `& 0x7FFFFFFF`.
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

/// Sets the IPv6 bits of `sys_flag` to match the hosts (the encoder always does this).
pub fn sys_flag_for_hosts(sys_flag: i32, born_host: &SocketAddr, store_host: &SocketAddr) -> i32 {
    let mut f = sys_flag & !(BORNHOST_V6_FLAG | STOREHOSTADDRESS_V6_FLAG);
    if born_host.is_ipv6() {
        f |= BORNHOST_V6_FLAG;
    }
    if store_host.is_ipv6() {
        f |= STOREHOSTADDRESS_V6_FLAG;
    }
    f
}

/// Size of the encoded record for these lengths and hosts (V2 is chosen when the topic exceeds 127 bytes).
pub fn stored_size(
    body_len: usize,
    topic_len: usize,
    props_len: usize,
    born_v6: bool,
    store_v6: bool,
) -> usize {
    let topic_len_bytes = if topic_len > MAX_TOPIC_LEN_V1 { 2 } else { 1 };
    4 + 4
        + 4
        + 4
        + 4
        + 8
        + 8
        + 4
        + 8
        + host_len(born_v6)
        + 8
        + host_len(store_v6)
        + 4
        + 8
        + 4
        + body_len
        + topic_len_bytes
        + topic_len
        + 2
        + props_len
}

/// The fields of a record to encode, borrowed so the store can encode straight into its write buffer.
#[derive(Debug, Clone, Copy)]
pub struct StoredRecord<'a> {
    /// Precomputed [`body_crc`] (compute it outside any lock).
    pub body_crc: i32,
    /// Queue id.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Logical offset in the consume queue.
    pub queue_offset: i64,
    /// Commit-log offset of this record.
    pub commit_log_offset: i64,
    /// MessageSysFlag; the IPv6 host bits are recomputed from the addresses.
    pub sys_flag: i32,
    /// Producer timestamp, ms.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker timestamp, ms.
    pub store_timestamp: i64,
    /// Broker address.
    pub store_host: SocketAddr,
    /// Reconsume count.
    pub reconsume_times: i32,
    /// Half-message offset for committed transactions, else 0.
    pub prepared_transaction_offset: i64,
    /// Body as stored (possibly compressed).
    pub body: &'a [u8],
    /// Topic.
    pub topic: &'a str,
    /// Encoded properties string.
    pub properties: &'a str,
}

impl StoredRecord<'_> {
    /// Encoded size of this record.
    pub fn encoded_size(&self) -> usize {
        stored_size(
            self.body.len(),
            self.topic.len(),
            self.properties.len(),
            self.born_host.is_ipv6(),
            self.store_host.is_ipv6(),
        )
    }
}

fn put_host(dst: &mut BytesMut, host: &SocketAddr) {
    match host.ip() {
        IpAddr::V4(a) => dst.put_slice(&a.octets()),
        IpAddr::V6(a) => dst.put_slice(&a.octets()),
    }
    dst.put_i32(i32::from(host.port()));
}

fn invalid(at: usize, reason: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidMessage {
        at,
        reason: reason.into(),
    }
}

/// Appends one record to `dst` and returns its size.
///
/// # Errors
/// [`ProtocolError::InvalidMessage`] when the topic, properties or body are too long for their length fields.
pub fn encode_stored(dst: &mut BytesMut, r: &StoredRecord<'_>) -> Result<usize> {
    if r.topic.len() > MAX_TOPIC_LEN_V2 {
        return Err(invalid(
            0,
            format!("topic of {} bytes is too long", r.topic.len()),
        ));
    }
    if r.properties.len() > MAX_PROPERTIES_LEN {
        return Err(invalid(
            0,
            format!(
                "properties of {} bytes exceed {MAX_PROPERTIES_LEN}",
                r.properties.len()
            ),
        ));
    }
    let size = r.encoded_size();
    let total = i32::try_from(size)
        .map_err(|_| invalid(0, format!("record of {size} bytes is too large")))?;
    let v2 = r.topic.len() > MAX_TOPIC_LEN_V1;
    dst.reserve(size);
    dst.put_i32(total);
    dst.put_i32(if v2 {
        MESSAGE_MAGIC_CODE_V2
    } else {
        MESSAGE_MAGIC_CODE_V1
    });
    dst.put_i32(r.body_crc);
    dst.put_i32(r.queue_id);
    dst.put_i32(r.flag);
    dst.put_i64(r.queue_offset);
    dst.put_i64(r.commit_log_offset);
    dst.put_i32(sys_flag_for_hosts(r.sys_flag, &r.born_host, &r.store_host));
    dst.put_i64(r.born_timestamp);
    put_host(dst, &r.born_host);
    dst.put_i64(r.store_timestamp);
    put_host(dst, &r.store_host);
    dst.put_i32(r.reconsume_times);
    dst.put_i64(r.prepared_transaction_offset);
    dst.put_i32(r.body.len() as i32); // < total, so it fits
    dst.put_slice(r.body);
    if v2 {
        dst.put_i16(r.topic.len() as i16);
    } else {
        dst.put_u8(r.topic.len() as u8);
    }
    dst.put_slice(r.topic.as_bytes());
    dst.put_i16(r.properties.len() as i16);
    dst.put_slice(r.properties.as_bytes());
    Ok(size)
}

/// Overwrites queueOffset, physicalOffset and storeTimestamp of an encoded record in place.
///
/// Lets a writer encode a record before it knows where the record goes, then fix the three fields that depend
/// on the position (RocketMQ does the same).
///
/// # Errors
/// [`ProtocolError::InvalidMessage`] if `record` is shorter than the fields.
pub fn patch_position(
    record: &mut [u8],
    queue_offset: i64,
    phys_offset: i64,
    store_timestamp: i64,
) -> Result<()> {
    let sys_flag = read_i32(record, POS_SYS_FLAG)?;
    let ts = store_timestamp_pos(sys_flag);
    if record.len() < ts + 8 {
        return Err(invalid(0, "record too short to patch"));
    }
    record[POS_QUEUE_OFFSET..POS_QUEUE_OFFSET + 8].copy_from_slice(&queue_offset.to_be_bytes());
    record[POS_PHYSICAL_OFFSET..POS_PHYSICAL_OFFSET + 8]
        .copy_from_slice(&phys_offset.to_be_bytes());
    record[ts..ts + 8].copy_from_slice(&store_timestamp.to_be_bytes());
    Ok(())
}

/// Appends the CommitLog end-of-file filler header (the rest of the file is left as is).
pub fn encode_blank(dst: &mut BytesMut, remaining: i32) {
    dst.put_i32(remaining);
    dst.put_i32(BLANK_MAGIC_CODE);
}

fn read_i32(b: &[u8], at: usize) -> Result<i32> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(i32::from_be_bytes)
        .ok_or_else(|| invalid(at, "truncated i32"))
}

/// A bounds-checked big-endian reader over one record.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(invalid(
                self.pos,
                format!("{what}: needs {n} bytes, record ends first"),
            )),
        }
    }
    fn i16(&mut self, what: &str) -> Result<i16> {
        let s = self.take(2, what)?;
        Ok(i16::from_be_bytes([s[0], s[1]]))
    }
    fn i32(&mut self, what: &str) -> Result<i32> {
        let s = self.take(4, what)?;
        Ok(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn i64(&mut self, what: &str) -> Result<i64> {
        let s = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(i64::from_be_bytes(a))
    }
    fn host(&mut self, v6: bool, what: &str) -> Result<SocketAddr> {
        let at = self.pos;
        let ip = if v6 {
            let s = self.take(16, what)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(s);
            IpAddr::V6(Ipv6Addr::from(a))
        } else {
            let s = self.take(4, what)?;
            IpAddr::V4(Ipv4Addr::new(s[0], s[1], s[2], s[3]))
        };
        let port = self.i32(what)?;
        let port = u16::try_from(port)
            .map_err(|_| invalid(at, format!("{what}: port {port} out of range")))?;
        Ok(SocketAddr::new(ip, port))
    }
    fn str(&mut self, n: usize, what: &str) -> Result<&'a str> {
        let at = self.pos;
        let s = self.take(n, what)?;
        std::str::from_utf8(s).map_err(|e| invalid(at, format!("{what} is not UTF-8: {e}")))
    }
}

/// A borrowed, fully validated view of one record: what the store's recovery and dispatch need without
/// allocating, and what [`MessageExt`] is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Whole record size.
    pub total_size: usize,
    /// V1 or V2 magic.
    pub magic: i32,
    /// Stored body CRC.
    pub body_crc: i32,
    /// Queue id.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Consume-queue offset.
    pub queue_offset: i64,
    /// Commit-log offset.
    pub commit_log_offset: i64,
    /// MessageSysFlag.
    pub sys_flag: i32,
    /// Producer timestamp.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker timestamp.
    pub store_timestamp: i64,
    /// Broker address.
    pub store_host: SocketAddr,
    /// Reconsume count.
    pub reconsume_times: i32,
    /// Half-message offset.
    pub prepared_transaction_offset: i64,
    /// Position of the body within the record.
    pub body_pos: usize,
    /// The body.
    pub body: &'a [u8],
    /// Topic.
    pub topic: &'a str,
    /// Encoded properties.
    pub properties: &'a str,
}

impl<'a> RecordView<'a> {
    /// Whether the stored body CRC matches the body.
    pub fn crc_ok(&self) -> bool {
        body_crc(self.body) == self.body_crc
    }
    /// One property, looked up in the encoded string (last occurrence wins).
    pub fn property(&self, key: &str) -> Option<&'a str> {
        properties::find(self.properties, key)
    }
    /// The TAGS property.
    pub fn tags(&self) -> Option<&'a str> {
        self.property(properties::TAGS)
    }
    /// The consume-queue tag code: hash of TAGS, 0 without a tag.
    pub fn tag_code(&self) -> i64 {
        self.tags().map(tag_hash_code).unwrap_or(0)
    }
    /// The KEYS property, split on spaces (empty parts skipped).
    pub fn keys(&self) -> impl Iterator<Item = &'a str> {
        properties::split_keys(self.property(properties::KEYS).unwrap_or(""))
    }
    /// The UNIQ_KEY property.
    pub fn uniq_key(&self) -> Option<&'a str> {
        self.property(properties::UNIQ_KEY)
    }
}

/// What [`peek`] found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek<'a> {
    /// A structurally valid record (the CRC is not checked; see [`RecordView::crc_ok`]).
    Message(RecordView<'a>),
    /// The CommitLog end-of-file filler; the rest of the file holds no record.
    Blank {
        /// The remaining length written in the filler.
        remaining: i32,
    },
    /// A zero totalSize: never-written (zero-filled) space, i.e. the end of data.
    Empty,
}

/// Looks at the record at the start of `buf` without allocating (store recovery and dispatch).
///
/// # Errors
/// [`ProtocolError::InvalidMessage`] when the bytes are truncated, the magic is unknown, a length disagrees
/// with totalSize, or a string is not UTF-8.
pub fn peek(buf: &[u8]) -> Result<Peek<'_>> {
    let total = read_i32(buf, POS_TOTAL_SIZE)?;
    if total == 0 {
        return Ok(Peek::Empty);
    }
    let magic = read_i32(buf, POS_MAGIC)?;
    if magic == BLANK_MAGIC_CODE {
        return Ok(Peek::Blank { remaining: total });
    }
    parse_view(buf).map(Peek::Message)
}

/// Parses and validates the record at the start of `buf`.
///
/// # Errors
/// As [`peek`]; a blank or zero header is an error here.
pub fn parse_view(buf: &[u8]) -> Result<RecordView<'_>> {
    let total = read_i32(buf, POS_TOTAL_SIZE)?;
    let total_size = usize::try_from(total)
        .ok()
        .filter(|&t| t >= MIN_RECORD_SIZE)
        .ok_or_else(|| {
            invalid(
                0,
                format!("totalSize {total} below the minimum record size"),
            )
        })?;
    if total_size > buf.len() {
        return Err(invalid(
            0,
            format!(
                "totalSize {total_size} exceeds the {} bytes available",
                buf.len()
            ),
        ));
    }
    let mut r = Reader {
        buf: &buf[..total_size],
        pos: 4,
    };
    let magic = r.i32("magic")?;
    let v2 = match magic {
        MESSAGE_MAGIC_CODE_V1 => false,
        MESSAGE_MAGIC_CODE_V2 => true,
        m => return Err(invalid(4, format!("unknown magic code {:#010X}", m as u32))),
    };
    let body_crc = r.i32("bodyCRC")?;
    let queue_id = r.i32("queueId")?;
    let flag = r.i32("flag")?;
    let queue_offset = r.i64("queueOffset")?;
    let commit_log_offset = r.i64("physicalOffset")?;
    let sys_flag = r.i32("sysFlag")?;
    let born_timestamp = r.i64("bornTimestamp")?;
    let born_host = r.host(sys_flag & BORNHOST_V6_FLAG != 0, "bornHost")?;
    let store_timestamp = r.i64("storeTimestamp")?;
    let store_host = r.host(sys_flag & STOREHOSTADDRESS_V6_FLAG != 0, "storeHost")?;
    let reconsume_times = r.i32("reconsumeTimes")?;
    let prepared_transaction_offset = r.i64("preparedTransactionOffset")?;
    let body_len_at = r.pos;
    let body_len = r.i32("bodyLength")?;
    let body_len = usize::try_from(body_len)
        .map_err(|_| invalid(body_len_at, format!("negative bodyLength {body_len}")))?;
    let body_pos = r.pos;
    let body = r.take(body_len, "body")?;
    let topic_len = if v2 {
        let at = r.pos;
        let n = r.i16("topicLength")?;
        usize::try_from(n).map_err(|_| invalid(at, format!("negative topicLength {n}")))?
    } else {
        // Java reads the V1 length byte as signed.
        let at = r.pos;
        let n = r.take(1, "topicLength")?[0] as i8;
        usize::try_from(n).map_err(|_| invalid(at, format!("negative topicLength {n}")))?
    };
    let topic = r.str(topic_len, "topic")?;
    let props_at = r.pos;
    let props_len = r.i16("propertiesLength")?;
    let props_len = usize::try_from(props_len)
        .map_err(|_| invalid(props_at, format!("negative propertiesLength {props_len}")))?;
    let properties = r.str(props_len, "properties")?;
    if r.pos != total_size {
        return Err(invalid(
            r.pos,
            format!("fields end at {} but totalSize is {total_size}", r.pos),
        ));
    }
    Ok(RecordView {
        total_size,
        magic,
        body_crc,
        queue_id,
        flag,
        queue_offset,
        commit_log_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body_pos,
        body,
        topic,
        properties,
    })
}

/// A decoded stored message, as a consumer sees it (Java `MessageExt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageExt {
    /// Whole record size.
    pub store_size: i32,
    /// V1 or V2 magic code.
    pub magic: i32,
    /// Stored body CRC.
    pub body_crc: i32,
    /// Queue id.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Consume-queue offset.
    pub queue_offset: i64,
    /// Commit-log offset.
    pub commit_log_offset: i64,
    /// MessageSysFlag.
    pub sys_flag: i32,
    /// Producer timestamp, ms.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker timestamp, ms.
    pub store_timestamp: i64,
    /// Broker address.
    pub store_host: SocketAddr,
    /// Reconsume count.
    pub reconsume_times: i32,
    /// Half-message offset for committed transactions, else 0.
    pub prepared_transaction_offset: i64,
    /// Body as stored (compressed when sysFlag says so); a slice of the input buffer.
    pub body: Bytes,
    /// Topic.
    pub topic: String,
    /// Decoded properties.
    pub properties: Properties,
}

impl MessageExt {
    /// The message id a Java client reports: UNIQ_KEY if present, else the offset msg id.
    pub fn msg_id(&self) -> String {
        match self.properties.get(properties::UNIQ_KEY) {
            Some(u) => u.to_owned(),
            None => self.offset_msg_id(),
        }
    }
    /// The offset msg id (store host + commit-log offset).
    pub fn offset_msg_id(&self) -> String {
        create_offset_msg_id(self.store_host, self.commit_log_offset)
    }
    /// One property (the last one if duplicated).
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key)
    }
    /// The TAGS property.
    pub fn tags(&self) -> Option<&str> {
        self.property(properties::TAGS)
    }
    /// The message keys (the KEYS property split at its spaces), the same shape as the client's
    /// `Message::keys`; empty when none were set. The raw value is `property(properties::KEYS)`.
    pub fn keys(&self) -> Vec<&str> {
        properties::split_keys(self.property(properties::KEYS).unwrap_or_default()).collect()
    }
    /// Borrowed fields for [`encode_stored`] (re-encodes this message; properties are re-encoded in order).
    pub fn encode(&self, dst: &mut BytesMut) -> Result<usize> {
        let props = self.properties.encode();
        encode_stored(
            dst,
            &StoredRecord {
                body_crc: self.body_crc,
                queue_id: self.queue_id,
                flag: self.flag,
                queue_offset: self.queue_offset,
                commit_log_offset: self.commit_log_offset,
                sys_flag: self.sys_flag,
                born_timestamp: self.born_timestamp,
                born_host: self.born_host,
                store_timestamp: self.store_timestamp,
                store_host: self.store_host,
                reconsume_times: self.reconsume_times,
                prepared_transaction_offset: self.prepared_transaction_offset,
                body: &self.body,
                topic: &self.topic,
                properties: &props,
            },
        )
    }
}

/// Decodes the record at the start of `buf`; returns it and its size.
///
/// With `decode_body == false` the body is left empty (Java's `readBody = false`). The body is a slice of `buf`.
///
/// # Errors
/// [`ProtocolError::InvalidMessage`] as for [`parse_view`].
pub fn decode_stored(buf: &Bytes, decode_body: bool) -> Result<(MessageExt, usize)> {
    let v = parse_view(buf)?;
    let body = if decode_body {
        buf.slice(v.body_pos..v.body_pos + v.body.len())
    } else {
        Bytes::new()
    };
    let msg = MessageExt {
        store_size: v.total_size as i32,
        magic: v.magic,
        body_crc: v.body_crc,
        queue_id: v.queue_id,
        flag: v.flag,
        queue_offset: v.queue_offset,
        commit_log_offset: v.commit_log_offset,
        sys_flag: v.sys_flag,
        born_timestamp: v.born_timestamp,
        born_host: v.born_host,
        store_timestamp: v.store_timestamp,
        store_host: v.store_host,
        reconsume_times: v.reconsume_times,
        prepared_transaction_offset: v.prepared_transaction_offset,
        body,
        topic: v.topic.to_owned(),
        properties: Properties::parse(v.properties),
    };
    Ok((msg, v.total_size))
}

/// Decodes back-to-back records (a pull response body), stopping at the first one that does not decode,
/// as Java clients do.
pub fn decode_all(buf: &Bytes) -> Vec<MessageExt> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        match decode_stored(&buf.slice(pos..), true) {
            Ok((m, n)) => {
                out.push(m);
                pos += n;
            }
            Err(_) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::properties::encode;
    use proptest::prelude::*;

    fn sample<'a>(body: &'a [u8], topic: &'a str, props: &'a str) -> StoredRecord<'a> {
        StoredRecord {
            body_crc: body_crc(body),
            queue_id: 3,
            flag: 7,
            queue_offset: 42,
            commit_log_offset: 4096,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: "10.0.0.1:5555".parse().unwrap(),
            store_timestamp: 1_700_000_000_001,
            store_host: "127.0.0.1:10911".parse().unwrap(),
            reconsume_times: 1,
            prepared_transaction_offset: 0,
            body,
            topic,
            properties: props,
        }
    }

    fn frame_body() -> Bytes {
        let hex = include_str!("testdata/pull_response_frame.hex").trim();
        let frame = crate::message::msg_id::hex_decode(hex).expect("hex");
        let header_len = (u32::from_be_bytes(frame[4..8].try_into().unwrap()) & 0xFF_FFFF) as usize;
        Bytes::copy_from_slice(&frame[8 + header_len..])
    }

    #[test]
    fn decodes_captured_pull_body() {
        let body = frame_body();
        assert_eq!(body.len(), 8768);
        let msgs = decode_all(&body);
        assert_eq!(msgs.len(), 32);
        let m = &msgs[0];
        assert_eq!(m.store_size, 0x112);
        assert_eq!(m.magic, MESSAGE_MAGIC_CODE_V1);
        assert_eq!(m.topic, "CapTopic");
        assert_eq!(m.queue_id, 1);
        assert_eq!(m.queue_offset, 0);
        assert_eq!(m.commit_log_offset, 0x112);
        assert_eq!(m.body.len(), 64);
        assert!(m.body.iter().all(|&b| b == b'x'));
        assert_eq!(m.body_crc, body_crc(&m.body));
        assert_eq!(m.store_host, "127.0.0.1:41679".parse().unwrap());
        assert_eq!(m.born_host.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(m.property("CLUSTER"), Some("PeerCluster"));
        assert_eq!(m.property("MSG_REGION"), Some("DefaultRegion"));
        assert_eq!(
            m.property(properties::UNIQ_KEY),
            Some("C00002022F2FAC4C820C74C3063B0001")
        );
        assert_eq!(m.msg_id(), "C00002022F2FAC4C820C74C3063B0001");
        assert_eq!(m.offset_msg_id(), "7F0000010000A2CF0000000000000112");
        for (i, w) in msgs.windows(2).enumerate() {
            assert_eq!(w[1].queue_offset, w[0].queue_offset + 1, "record {i}");
            assert!(w[1].body.as_ptr() > w[0].body.as_ptr()); // slices of one buffer
        }
        // Re-encoding reproduces the captured bytes exactly.
        let mut out = BytesMut::new();
        for m in &msgs {
            m.encode(&mut out).unwrap();
        }
        assert_eq!(&out[..], &body[..]);
    }

    #[test]
    fn v2_and_ipv6() {
        let topic = "%RETRY%".to_owned() + &"g".repeat(200);
        let props = encode(&[("TAGS", "TagA"), ("KEYS", "k1  k2")]);
        let mut rec = sample(b"hello", &topic, &props);
        rec.born_host = "[::1]:1234".parse().unwrap();
        rec.store_host = "[fe80::1]:10911".parse().unwrap();
        let mut buf = BytesMut::new();
        let n = encode_stored(&mut buf, &rec).unwrap();
        assert_eq!(n, buf.len());
        let bytes = buf.freeze();
        let (m, used) = decode_stored(&bytes, true).unwrap();
        assert_eq!(used, n);
        assert_eq!(m.magic, MESSAGE_MAGIC_CODE_V2);
        assert_eq!(m.sys_flag, BORNHOST_V6_FLAG | STOREHOSTADDRESS_V6_FLAG);
        assert_eq!(m.topic, topic);
        assert_eq!(m.born_host, rec.born_host);
        assert_eq!(m.store_host, rec.store_host);
        assert_eq!(m.offset_msg_id().len(), 56);
        let Peek::Message(v) = peek(&bytes).unwrap() else {
            panic!("not a message")
        };
        assert!(v.crc_ok());
        assert_eq!(v.tag_code(), 2598919);
        assert_eq!(v.keys().collect::<Vec<_>>(), vec!["k1", "k2"]);
        assert_eq!(v.store_timestamp, rec.store_timestamp);
    }

    #[test]
    fn patch_and_blank() {
        let mut buf = BytesMut::new();
        encode_stored(&mut buf, &sample(b"b", "T", "")).unwrap();
        patch_position(&mut buf, 9, 99, 999).unwrap();
        let (m, _) = decode_stored(&buf.clone().freeze(), false).unwrap();
        assert_eq!(
            (m.queue_offset, m.commit_log_offset, m.store_timestamp),
            (9, 99, 999)
        );
        assert!(m.body.is_empty());
        let mut b = BytesMut::new();
        encode_blank(&mut b, 100);
        assert_eq!(peek(&b).unwrap(), Peek::Blank { remaining: 100 });
        assert_eq!(peek(&[0u8; 8]).unwrap(), Peek::Empty);
        assert!(patch_position(&mut [0u8; 30], 1, 2, 3).is_err());
    }

    #[test]
    fn rejects_bad_records() {
        let mut buf = BytesMut::new();
        encode_stored(&mut buf, &sample(b"body", "Topic", "A\u{1}B\u{2}")).unwrap();
        let good = buf.freeze();
        // Truncated anywhere.
        for cut in 0..good.len() {
            assert!(
                decode_stored(&good.slice(..cut), true).is_err(),
                "cut at {cut}"
            );
        }
        // Bad magic.
        let mut b = good.to_vec();
        b[4] ^= 1;
        assert!(parse_view(&b).is_err());
        // totalSize larger than the buffer, or smaller than the fields.
        for lie in [good.len() as i32 + 1, good.len() as i32 - 1, -5, i32::MAX] {
            let mut b = good.to_vec();
            b[..4].copy_from_slice(&lie.to_be_bytes());
            b.extend_from_slice(&[0u8; 16]);
            assert!(parse_view(&b).is_err(), "lie {lie}");
        }
        // Body length lies.
        let mut b = good.to_vec();
        b[84..88].copy_from_slice(&1000i32.to_be_bytes());
        assert!(parse_view(&b).is_err());
        b[84..88].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(parse_view(&b).is_err());
        // Bad port.
        let mut b = good.to_vec();
        b[52..56].copy_from_slice(&70000i32.to_be_bytes());
        assert!(parse_view(&b).is_err());
        // Too long properties refused at encode.
        let long = "x".repeat(MAX_PROPERTIES_LEN + 1);
        assert!(encode_stored(&mut BytesMut::new(), &sample(b"", "T", &long)).is_err());
        // decode_all stops at the first bad record.
        let mut two = good.to_vec();
        two.extend_from_slice(&good);
        two.extend_from_slice(&good[..good.len() - 1]);
        assert_eq!(decode_all(&Bytes::from(two)).len(), 2);
    }

    fn host() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, p)| SocketAddr::new(IpAddr::from(a), p)),
            (any::<[u8; 16]>(), any::<u16>())
                .prop_map(|(a, p)| SocketAddr::new(IpAddr::from(a), p)),
        ]
    }

    proptest! {
        #[test]
        fn roundtrip(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            topic in "[A-Za-z0-9_%-]{1,200}",
            pairs in proptest::collection::vec(("[A-Z_]{1,8}", "[a-z0-9 ]{1,8}"), 0..5),
            born in host(), store in host(),
            nums in (any::<i32>(), any::<i32>(), any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>(), any::<i32>(), any::<i64>()),
            sys_flag in any::<i32>(),
        ) {
            let props = encode(&pairs);
            let rec = StoredRecord {
                body_crc: body_crc(&body),
                queue_id: nums.0, flag: nums.1, queue_offset: nums.2, commit_log_offset: nums.3,
                sys_flag, born_timestamp: nums.4, born_host: born, store_timestamp: nums.5, store_host: store,
                reconsume_times: nums.6, prepared_transaction_offset: nums.7,
                body: &body, topic: &topic, properties: &props,
            };
            let mut buf = BytesMut::new();
            let n = encode_stored(&mut buf, &rec).unwrap();
            buf.extend_from_slice(b"trailing");
            let bytes = buf.freeze();
            let (m, used) = decode_stored(&bytes, true).unwrap();
            prop_assert_eq!(used, n);
            prop_assert_eq!(&m.body[..], &body[..]);
            prop_assert_eq!(&m.topic, &topic);
            prop_assert_eq!(m.properties.pairs(), &pairs.iter().map(|(a, b)| (a.clone(), b.clone())).collect::<Vec<_>>()[..]);
            prop_assert_eq!(m.sys_flag, sys_flag_for_hosts(sys_flag, &born, &store));
            prop_assert_eq!((m.queue_id, m.flag, m.queue_offset, m.commit_log_offset), (nums.0, nums.1, nums.2, nums.3));
            prop_assert_eq!((m.born_timestamp, m.store_timestamp, m.reconsume_times, m.prepared_transaction_offset), (nums.4, nums.5, nums.6, nums.7));
            prop_assert_eq!((m.born_host, m.store_host), (born, store));
            let mut again = BytesMut::new();
            m.encode(&mut again).unwrap();
            prop_assert_eq!(&again[..], &bytes[..n]);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let b = Bytes::from(data);
            let _ = decode_all(&b);
            let _ = peek(&b);
        }
    }
}
