//! ROCKETMQ binary header (serialize type 1, Java's `RocketMQSerializable`; docs/protocol.md §1.4, §1.4a).
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | code (i16) |
//! | 2 | 1 | language code |
//! | 3 | 2 | version (i16) |
//! | 5 | 4 | opaque (i32) |
//! | 9 | 4 | flag (i32) |
//! | 13 | 4 + r | remark length (i32) + UTF-8 remark; 0 = no remark |
//! | … | 4 + e | ext length (i32) + entries: key length (i16) + key, value length (i32) + value |
//!
//! Every length is checked against the bytes actually present, so a lying length is an error, never an
//! allocation. A zero-length remark decodes as `None` and a zero-length ext key or value as an absent entry (Java
//! reads both as null): an empty ext value does not survive a binary round trip. Bytes after the ext map are
//! ignored, as Java does.

use bytes::{BufMut, BytesMut};

use crate::command::{LanguageCode, RemotingCommand, SerializeType};
use crate::error::{ProtocolError, Result};

const ENCODING: &str = "ROCKETMQ";

/// Size of the fixed part: code, language, version, opaque, flag, remark length, ext length.
pub const FIXED_LEN: usize = 2 + 1 + 2 + 4 + 4 + 4 + 4;

fn invalid(reason: String) -> ProtocolError {
    ProtocolError::InvalidHeader {
        encoding: ENCODING,
        reason,
    }
}

/// Appends `cmd`'s header in the binary layout to `dst`.
///
/// # Errors
/// Code or version outside `i16`, or an ext key longer than 32767 bytes: Java would silently truncate these and
/// the peer would read a different value, so we refuse instead. Nothing is appended on error.
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<()> {
    let code = i16::try_from(cmd.code)
        .map_err(|_| invalid(format!("code {} does not fit in 16 bits", cmd.code)))?;
    let version = i16::try_from(cmd.version)
        .map_err(|_| invalid(format!("version {} does not fit in 16 bits", cmd.version)))?;
    let mut ext_len: usize = 0;
    for (key, value) in &cmd.ext_fields {
        if i16::try_from(key.len()).is_err() {
            return Err(invalid(format!(
                "ext key of {} bytes exceeds 32767",
                key.len()
            )));
        }
        ext_len += 2 + key.len() + 4 + value.len();
    }
    let remark = cmd.remark.as_deref().unwrap_or("");
    let remark_len = len_i32(remark.len(), "remark")?;
    let ext_len_i32 = len_i32(ext_len, "ext map")?;

    dst.reserve(FIXED_LEN + remark.len() + ext_len);
    dst.put_i16(code);
    dst.put_u8(cmd.language.code());
    dst.put_i16(version);
    dst.put_i32(cmd.opaque);
    dst.put_i32(cmd.flag);
    dst.put_i32(remark_len);
    dst.put_slice(remark.as_bytes());
    dst.put_i32(ext_len_i32);
    for (key, value) in &cmd.ext_fields {
        // Both lengths were checked above (key ≤ i16::MAX, total ≤ i32::MAX).
        dst.put_u16(key.len() as u16);
        dst.put_slice(key.as_bytes());
        dst.put_i32(value.len() as i32);
        dst.put_slice(value.as_bytes());
    }
    Ok(())
}

fn len_i32(len: usize, what: &str) -> Result<i32> {
    i32::try_from(len).map_err(|_| invalid(format!("{what} of {len} bytes is too long")))
}

/// Parses a binary header into a command with an empty body.
///
/// # Errors
/// [`ProtocolError::InvalidHeader`] if the bytes end early, a length is negative or points past the header, or a
/// string is not UTF-8.
pub fn decode(header: &[u8]) -> Result<RemotingCommand> {
    let mut r = Reader { buf: header };
    let code = i32::from(r.i16("code")?);
    let language = LanguageCode::from_code(r.u8("language")?);
    let version = i32::from(r.i16("version")?);
    let opaque = r.i32("opaque")?;
    let flag = r.i32("flag")?;
    let remark_len = r.len_i32("remark length")?;
    let remark = match remark_len {
        0 => None,
        n => Some(r.string(n, "remark")?),
    };
    let ext_len = r.len_i32("ext length")?;
    let mut ext = Reader {
        buf: r.take(ext_len, "ext map")?,
    };
    let mut ext_fields = std::collections::HashMap::new();
    while !ext.buf.is_empty() {
        // Java reads the key length as a signed short (and our encoder refuses longer keys), so a length
        // over 32767 is refused rather than decoded into a header that cannot be written back.
        let key_len = ext.i16("ext key length")?;
        let key_len = usize::try_from(key_len)
            .map_err(|_| invalid(format!("ext key length is negative ({key_len})")))?;
        let key = ext.string(key_len, "ext key")?;
        let value_len = ext.len_i32("ext value length")?;
        let value = ext.string(value_len, "ext value")?;
        if !key.is_empty() && !value.is_empty() {
            ext_fields.insert(key, value);
        }
    }
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::RocketMq,
    })
}

/// A bounds-checked cursor: every read names the field it was reading when the bytes run out.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        match self.buf.split_at_checked(n) {
            Some((head, rest)) => {
                self.buf = rest;
                Ok(head)
            }
            None => Err(invalid(format!(
                "{what}: needs {n} bytes, only {} left in the header",
                self.buf.len()
            ))),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let bytes = self.take(N, what)?;
        bytes
            .try_into()
            .map_err(|_| invalid(format!("{what}: short read")))
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }

    fn i16(&mut self, what: &str) -> Result<i16> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    /// An i32 length, refused when negative.
    fn len_i32(&mut self, what: &str) -> Result<usize> {
        let n = self.i32(what)?;
        usize::try_from(n).map_err(|_| invalid(format!("{what} is negative ({n})")))
    }

    fn string(&mut self, n: usize, what: &str) -> Result<String> {
        let bytes = self.take(n, what)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| invalid(format!("{what} is not UTF-8: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The header part of docs/protocol.md §1.4a.
    const WORKED: &[u8] = &[
        0x00, 0x69, 0x00, 0x01, 0xDF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x00, 0x05, b't', b'o', b'p', b'i', b'c', 0x00, 0x00,
        0x00, 0x01, b'T',
    ];

    fn worked_command() -> RemotingCommand {
        let mut ext = HashMap::new();
        ext.insert("topic".to_owned(), "T".to_owned());
        let mut cmd = RemotingCommand::request(105, ext);
        cmd.language = LanguageCode::Java;
        cmd.opaque = 1;
        cmd.serialize_type = SerializeType::RocketMq;
        cmd
    }

    #[test]
    fn worked_example_both_ways() {
        let mut buf = BytesMut::new();
        encode(&worked_command(), &mut buf).expect("encodes");
        assert_eq!(&buf[..], WORKED);
        assert_eq!(decode(WORKED).expect("decodes"), worked_command());
    }

    #[test]
    fn empty_strings_decode_as_absent() {
        let mut cmd = worked_command();
        cmd.remark = Some(String::new());
        cmd.ext_fields.insert("empty".to_owned(), String::new());
        let mut buf = BytesMut::new();
        encode(&cmd, &mut buf).expect("encodes");
        let back = decode(&buf).expect("decodes");
        assert_eq!(back.remark, None);
        assert_eq!(back.ext_fields, worked_command().ext_fields);
    }

    #[test]
    fn every_truncation_is_an_error() {
        for n in 0..WORKED.len() {
            assert!(decode(&WORKED[..n]).is_err(), "prefix of {n} bytes");
        }
    }

    #[test]
    fn lying_lengths_are_errors() {
        let mut bad = WORKED.to_vec();
        bad[13..17].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(decode(&bad).is_err(), "negative remark length");
        let mut bad = WORKED.to_vec();
        bad[13..17].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(decode(&bad).is_err(), "huge remark length");
        let mut bad = WORKED.to_vec();
        bad[17..21].copy_from_slice(&13i32.to_be_bytes());
        assert!(decode(&bad).is_err(), "ext length past the end");
        let mut bad = WORKED.to_vec();
        bad[17..21].copy_from_slice(&11i32.to_be_bytes());
        assert!(decode(&bad).is_err(), "entry cut by ext length");
        let mut bad = WORKED.to_vec();
        bad[28..32].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(decode(&bad).is_err(), "negative value length");
        let mut bad = WORKED.to_vec();
        bad[23] = 0xff;
        assert!(decode(&bad).is_err(), "invalid UTF-8 key");
    }

    #[test]
    fn refuses_unrepresentable_values() {
        let mut cmd = worked_command();
        cmd.code = 200_050;
        let mut buf = BytesMut::new();
        assert!(encode(&cmd, &mut buf).is_err());
        assert!(buf.is_empty());
        let mut cmd = worked_command();
        cmd.version = 40_000;
        assert!(encode(&cmd, &mut buf).is_err());
        let mut cmd = worked_command();
        cmd.ext_fields.insert("k".repeat(40_000), "v".to_owned());
        assert!(encode(&cmd, &mut buf).is_err());
        assert!(buf.is_empty());
    }
}
