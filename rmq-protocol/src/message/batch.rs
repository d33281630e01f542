//! The SEND_BATCH_MESSAGE body (docs/protocol.md §3.3): one short record per message, back to back.
//!
//! | field | size |
//! |---|---|
//! | totalSize (this record) | 4 |
//! | magicCode (Java writes 0) | 4 |
//! | bodyCRC (Java writes 0) | 4 |
//! | flag | 4 |
//! | bodyLength + body | 4 + n |
//! | propertiesLength (`i16`) + properties | 2 + p |
//!
//! The header's topic, queue, sysFlag and bornTimestamp apply to every message; each record carries its own
//! properties (UNIQ_KEY, TAGS, KEYS). Decoding is bounded by the buffer and borrows bodies from it.

use bytes::{BufMut, Bytes, BytesMut};

use super::stored::MAX_PROPERTIES_LEN;
use crate::error::{ProtocolError, Result};

/// Fixed bytes of a batch record besides body and properties.
pub const BATCH_RECORD_OVERHEAD: usize = 4 + 4 + 4 + 4 + 4 + 2;

/// One message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry {
    /// User flag.
    pub flag: i32,
    /// Body (a slice of the request body when decoded).
    pub body: Bytes,
    /// Encoded properties string.
    pub properties: String,
}

fn invalid(at: usize, reason: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidMessage {
        at,
        reason: reason.into(),
    }
}

/// Appends one batch record.
///
/// # Errors
/// [`ProtocolError::InvalidMessage`] when the properties exceed 32767 bytes or the record exceeds `i32`.
pub fn encode_batch_entry(
    dst: &mut BytesMut,
    flag: i32,
    body: &[u8],
    properties: &str,
) -> Result<usize> {
    if properties.len() > MAX_PROPERTIES_LEN {
        return Err(invalid(
            dst.len(),
            format!(
                "properties of {} bytes exceed {MAX_PROPERTIES_LEN}",
                properties.len()
            ),
        ));
    }
    let size = BATCH_RECORD_OVERHEAD + body.len() + properties.len();
    let total = i32::try_from(size).map_err(|_| invalid(dst.len(), "batch record too large"))?;
    dst.reserve(size);
    dst.put_i32(total);
    dst.put_i32(0);
    dst.put_i32(0);
    dst.put_i32(flag);
    dst.put_i32(body.len() as i32);
    dst.put_slice(body);
    dst.put_i16(properties.len() as i16);
    dst.put_slice(properties.as_bytes());
    Ok(size)
}

/// Encodes a whole batch body.
///
/// # Errors
/// As [`encode_batch_entry`].
pub fn encode_batch(entries: &[BatchEntry]) -> Result<Bytes> {
    let cap = entries
        .iter()
        .map(|e| BATCH_RECORD_OVERHEAD + e.body.len() + e.properties.len())
        .sum();
    let mut dst = BytesMut::with_capacity(cap);
    for e in entries {
        encode_batch_entry(&mut dst, e.flag, &e.body, &e.properties)?;
    }
    Ok(dst.freeze())
}

fn be_i32(buf: &[u8], at: usize, what: &str) -> Result<i32> {
    buf.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(i32::from_be_bytes)
        .ok_or_else(|| invalid(at, format!("{what}: truncated")))
}

fn len_field(v: i64, at: usize, what: &str, avail: usize) -> Result<usize> {
    usize::try_from(v)
        .ok()
        .filter(|&n| n <= avail)
        .ok_or_else(|| {
            invalid(
                at,
                format!("{what} {v} does not fit in the {avail} bytes left"),
            )
        })
}

/// Decodes a batch body. Every length is checked against both totalSize and the buffer.
///
/// # Errors
/// [`ProtocolError::InvalidMessage`] on a truncated record, a length that disagrees with totalSize, or
/// properties that are not UTF-8. An empty body decodes to an empty list.
pub fn decode_batch(buf: &Bytes) -> Result<Vec<BatchEntry>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let total = be_i32(buf, pos, "totalSize")?;
        let total = len_field(i64::from(total), pos, "totalSize", buf.len() - pos)?;
        if total < BATCH_RECORD_OVERHEAD {
            return Err(invalid(
                pos,
                format!("totalSize {total} below {BATCH_RECORD_OVERHEAD}"),
            ));
        }
        let rec = &buf[pos..pos + total];
        let flag = be_i32(rec, 12, "flag").map_err(|e| shift(e, pos))?;
        let body_len = be_i32(rec, 16, "bodyLength").map_err(|e| shift(e, pos))?;
        let body_len = len_field(
            i64::from(body_len),
            pos + 16,
            "bodyLength",
            total - BATCH_RECORD_OVERHEAD,
        )?;
        let body_start = pos + 20;
        let props_at = 20 + body_len;
        let props_len = i64::from(i16::from_be_bytes([rec[props_at], rec[props_at + 1]]));
        let props_len = len_field(
            props_len,
            pos + props_at,
            "propertiesLength",
            total - props_at - 2,
        )?;
        if props_at + 2 + props_len != total {
            return Err(invalid(
                pos,
                format!(
                    "fields end at {} but totalSize is {total}",
                    props_at + 2 + props_len
                ),
            ));
        }
        let props = std::str::from_utf8(&rec[props_at + 2..total])
            .map_err(|e| invalid(pos + props_at + 2, format!("properties are not UTF-8: {e}")))?;
        out.push(BatchEntry {
            flag,
            body: buf.slice(body_start..body_start + body_len),
            properties: props.to_owned(),
        });
        pos += total;
    }
    Ok(out)
}

fn shift(e: ProtocolError, by: usize) -> ProtocolError {
    match e {
        ProtocolError::InvalidMessage { at, reason } => ProtocolError::InvalidMessage {
            at: at + by,
            reason,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout() {
        let b = encode_batch(&[BatchEntry {
            flag: 1,
            body: Bytes::from_static(b"ab"),
            properties: "K\u{1}V\u{2}".into(),
        }])
        .unwrap();
        assert_eq!(
            &b[..],
            &[
                0, 0, 0, 28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, b'a', b'b', 0, 4,
                b'K', 1, b'V', 2
            ][..]
        );
        assert_eq!(b.len(), 28);
    }

    #[test]
    fn rejects() {
        let e = BatchEntry {
            flag: 0,
            body: Bytes::from_static(b"body"),
            properties: "A\u{1}B\u{2}".into(),
        };
        let good = encode_batch(&[e.clone(), e]).unwrap();
        assert_eq!(decode_batch(&good).unwrap().len(), 2);
        assert!(decode_batch(&Bytes::new()).unwrap().is_empty());
        for cut in 1..good.len() {
            if cut == good.len() / 2 {
                continue; // a whole first record
            }
            assert!(decode_batch(&good.slice(..cut)).is_err(), "cut {cut}");
        }
        let one = good.len() / 2;
        for (at, val) in [
            (0usize, 1000i32),
            (0, -1),
            (0, 10),
            (16, 100),
            (16, -3),
            (16, 3),
        ] {
            let mut b = good[..one].to_vec();
            b[at..at + 4].copy_from_slice(&val.to_be_bytes());
            assert!(
                decode_batch(&Bytes::from(b)).is_err(),
                "field at {at} = {val}"
            );
        }
        let mut b = good[..one].to_vec();
        b[24] = 0xFF; // props length byte: huge/negative
        assert!(decode_batch(&Bytes::from(b)).is_err());
        let mut b = good[..one].to_vec();
        b[one - 1] = 0xFF; // invalid UTF-8
        assert!(decode_batch(&Bytes::from(b)).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(entries in proptest::collection::vec(
            (any::<i32>(), proptest::collection::vec(any::<u8>(), 0..200), "[A-Za-z\u{1}\u{2}é]{0,40}"), 0..8)) {
            let entries: Vec<BatchEntry> = entries.into_iter()
                .map(|(flag, body, properties)| BatchEntry { flag, body: Bytes::from(body), properties })
                .collect();
            let enc = encode_batch(&entries).unwrap();
            prop_assert_eq!(decode_batch(&enc).unwrap(), entries);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_batch(&Bytes::from(data));
        }
    }
}
