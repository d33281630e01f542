//! JSON header (serialize type 0, docs/protocol.md §1.3).
//!
//! Encoding mimics Java (fastjson): keys in alphabetical order, `remark` omitted when absent, and always
//! `"serializeTypeCurrentRPC":"JSON"` because mxsm servers drop frames without it (docs/protocol.md §6.13). Ext keys are
//! written sorted too, so our frames are byte-for-byte reproducible.
//!
//! Decoding is lenient the way real peers need: unknown keys are ignored, `remark`/`extFields` may be missing or
//! `null`, ext values may be JSON numbers or booleans (stringified) or `null` (dropped), integer fields may be
//! numeric strings, and an unknown `language` name becomes [`LanguageCode::Other`].

use std::collections::HashMap;
use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::command::{LanguageCode, RemotingCommand, SerializeType};
use crate::error::{ProtocolError, Result};

const ENCODING: &str = "JSON";

/// Appends `cmd`'s header as JSON text to `dst`; cannot fail.
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    dst.reserve(110 + cmd.remark.as_ref().map_or(0, String::len) + ext_size_hint(&cmd.ext_fields));
    dst.put_slice(b"{\"code\":");
    write_i32(dst, cmd.code);
    dst.put_slice(b",\"extFields\":{");
    let mut entries: Vec<(&String, &String)> = cmd.ext_fields.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            dst.put_u8(b',');
        }
        write_str(dst, key);
        dst.put_u8(b':');
        write_str(dst, value);
    }
    dst.put_slice(b"},\"flag\":");
    write_i32(dst, cmd.flag);
    dst.put_slice(b",\"language\":\"");
    dst.put_slice(cmd.language.name().as_bytes());
    dst.put_slice(b"\",\"opaque\":");
    write_i32(dst, cmd.opaque);
    if let Some(remark) = &cmd.remark {
        dst.put_slice(b",\"remark\":");
        write_str(dst, remark);
    }
    dst.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    write_i32(dst, cmd.version);
    dst.put_u8(b'}');
}

/// Parses a JSON header into a command with an empty body.
///
/// # Errors
/// [`ProtocolError::InvalidHeader`] for text that is not UTF-8, not a JSON object, or has ill-typed fields.
pub fn decode(header: &[u8]) -> Result<RemotingCommand> {
    if let Some(cmd) = super::json_fast::decode(header) {
        return Ok(cmd);
    }
    decode_serde(header)
}

/// The reference reader alone: every header shape peers may send (escapes, numeric strings, nested values).
///
/// [`decode`] tries a fast reader first and falls back to this one; it is public so differential tests and
/// the fuzz targets can check that both always agree.
///
/// # Errors
/// As [`decode`].
pub fn decode_serde(header: &[u8]) -> Result<RemotingCommand> {
    // serde would also accept a JSON array for a struct; a header is always an object.
    if header.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(invalid("not a JSON object".to_owned()));
    }
    let wire: WireHeader = serde_json::from_slice(header).map_err(|e| invalid(e.to_string()))?;
    Ok(RemotingCommand {
        code: wire.code.0,
        language: wire.language.0,
        version: wire.version.0,
        opaque: wire.opaque.0,
        flag: wire.flag.0,
        remark: wire.remark,
        ext_fields: wire.ext_fields.0,
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::Json,
    })
}

fn invalid(reason: String) -> ProtocolError {
    ProtocolError::InvalidHeader {
        encoding: ENCODING,
        reason,
    }
}

fn ext_size_hint(ext: &HashMap<String, String>) -> usize {
    ext.iter().map(|(k, v)| k.len() + v.len() + 6).sum()
}

/// Writes `v` in decimal without going through `fmt`.
fn write_i32(dst: &mut BytesMut, v: i32) {
    let mut buf = [0u8; 11];
    let mut pos = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        pos -= 1;
        // `n % 10` < 10, so the cast cannot truncate.
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    dst.put_slice(&buf[pos..]);
}

/// Writes `s` as a quoted JSON string: `"`, `\` and control characters escaped, everything else verbatim UTF-8.
pub(crate) fn write_str(dst: &mut BytesMut, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    dst.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        dst.put_slice(&bytes[start..i]);
        if short.is_empty() {
            dst.put_slice(b"\\u00");
            dst.put_u8(HEX[usize::from(b >> 4)]);
            dst.put_u8(HEX[usize::from(b & 0xf)]);
        } else {
            dst.put_slice(short);
        }
        start = i + 1;
    }
    dst.put_slice(&bytes[start..]);
    dst.put_u8(b'"');
}

/// The header as it appears on the wire; only the fields we keep, every one optional.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireHeader {
    #[serde(default)]
    code: LenientI32,
    #[serde(default)]
    language: Language,
    #[serde(default)]
    version: LenientI32,
    #[serde(default)]
    opaque: LenientI32,
    #[serde(default)]
    flag: LenientI32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default)]
    ext_fields: ExtFields,
}

/// An `int` field: a JSON integer in `i32` range, a numeric string (fastjson accepts both), or null (0).
#[derive(Default)]
struct LenientI32(i32);

impl<'de> Deserialize<'de> for LenientI32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LenientI32;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a 32-bit integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<LenientI32, E> {
                i32::try_from(v)
                    .map(LenientI32)
                    .map_err(|_| E::custom(format!("{v} out of i32 range")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<LenientI32, E> {
                i32::try_from(v)
                    .map(LenientI32)
                    .map_err(|_| E::custom(format!("{v} out of i32 range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<LenientI32, E> {
                v.trim()
                    .parse()
                    .map(LenientI32)
                    .map_err(|_| E::custom(format!("{v:?} is not an i32")))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<LenientI32, E> {
                Ok(LenientI32(0))
            }
        }
        d.deserialize_any(V)
    }
}

/// `language`: a Java enum name (unknown → Other), or a numeric code; null → Other.
struct Language(LanguageCode);

impl Default for Language {
    fn default() -> Self {
        Language(LanguageCode::Other)
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Language;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a language name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Language, E> {
                Ok(Language(LanguageCode::from_name(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Language, E> {
                Ok(Language(
                    u8::try_from(v).map_or(LanguageCode::Other, LanguageCode::from_code),
                ))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Language, E> {
                Ok(Language(
                    u8::try_from(v).map_or(LanguageCode::Other, LanguageCode::from_code),
                ))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Language, E> {
                Ok(Language::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// `extFields`: an object whose values become strings; `null` object or values are treated as absent.
#[derive(Default)]
struct ExtFields(HashMap<String, String>);

impl<'de> Deserialize<'de> for ExtFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExtFields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of ext fields")
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<ExtFields, E> {
                Ok(ExtFields::default())
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<ExtFields, A::Error> {
                let mut out = HashMap::with_capacity(map.size_hint().unwrap_or(8).min(64));
                while let Some((key, value)) = map.next_entry::<String, ExtValue>()? {
                    if let Some(value) = value.0 {
                        out.insert(key, value);
                    }
                }
                Ok(ExtFields(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One ext value: strings kept, numbers and booleans stringified, nested JSON kept as its text, null dropped.
struct ExtValue(Option<String>);

impl<'de> Deserialize<'de> for ExtValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExtValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an ext value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<ExtValue, E> {
                Ok(ExtValue(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<ExtValue, E> {
                Ok(ExtValue(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<ExtValue, E> {
                Ok(ExtValue(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<ExtValue, E> {
                Ok(ExtValue(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<ExtValue, E> {
                Ok(ExtValue(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<ExtValue, E> {
                Ok(ExtValue(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<ExtValue, E> {
                Ok(ExtValue(None))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<ExtValue, A::Error> {
                let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ExtValue(Some(v.to_string())))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<ExtValue, A::Error> {
                let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(ExtValue(Some(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_to_string(cmd: &RemotingCommand) -> String {
        let mut buf = BytesMut::new();
        encode(cmd, &mut buf);
        String::from_utf8(buf.to_vec()).unwrap_or_default()
    }

    #[test]
    fn worked_example_text() {
        let mut ext = HashMap::new();
        ext.insert("topic".to_owned(), "T".to_owned());
        let mut cmd = RemotingCommand::request(105, ext);
        cmd.language = LanguageCode::Java;
        cmd.opaque = 1;
        let text = encode_to_string(&cmd);
        assert_eq!(
            text,
            "{\"code\":105,\"extFields\":{\"topic\":\"T\"},\"flag\":0,\"language\":\"JAVA\",\"opaque\":1,\
             \"serializeTypeCurrentRPC\":\"JSON\",\"version\":479}"
        );
        assert_eq!(text.len(), 123);
    }

    #[test]
    fn integers_format_like_java() {
        for v in [
            0,
            7,
            -1,
            10,
            479,
            i32::MIN,
            i32::MAX,
            -2_147_483_647,
            1_000_000,
        ] {
            let mut buf = BytesMut::new();
            write_i32(&mut buf, v);
            assert_eq!(&buf[..], v.to_string().as_bytes());
        }
    }

    #[test]
    fn strings_are_escaped() {
        let s = "a\"b\\c\nd\u{1}e\u{7f}é\u{2028}/";
        let mut buf = BytesMut::new();
        write_str(&mut buf, s);
        let back: String = serde_json::from_slice(&buf).unwrap_or_default();
        assert_eq!(back, s);
        assert_eq!(
            &buf[..],
            "\"a\\\"b\\\\c\\nd\\u0001e\u{7f}é\u{2028}/\"".as_bytes()
        );
    }

    #[test]
    fn lenient_decode() {
        let text = br#"{"code":"34","language":"KLINGON","opaque":9,"flag":0,"remark":null,"version":317,
            "extFields":{"a":1,"b":true,"c":null,"d":"x","e":1.5,"f":[1,"2"],"g":{"h":0}},"unknown":{"x":[1,2]}}"#;
        let cmd = decode(text).expect("lenient header decodes");
        assert_eq!(cmd.code, 34);
        assert_eq!(cmd.language, LanguageCode::Other);
        assert_eq!(cmd.version, 317);
        assert_eq!(cmd.remark, None);
        let ext = &cmd.ext_fields;
        assert_eq!(ext.get("a").map(String::as_str), Some("1"));
        assert_eq!(ext.get("b").map(String::as_str), Some("true"));
        assert!(!ext.contains_key("c"));
        assert_eq!(ext.get("d").map(String::as_str), Some("x"));
        assert_eq!(ext.get("e").map(String::as_str), Some("1.5"));
        assert_eq!(ext.get("f").map(String::as_str), Some("[1,\"2\"]"));
        assert_eq!(ext.get("g").map(String::as_str), Some("{\"h\":0}"));
    }

    #[test]
    fn minimal_and_null_fields() {
        let cmd = decode(br#"{"code":0,"extFields":null}"#).expect("decodes");
        assert!(cmd.ext_fields.is_empty());
        assert_eq!(cmd.remark, None);
        let cmd = decode(b"{}").expect("decodes");
        assert_eq!(cmd.code, 0);
        assert_eq!(cmd.language, LanguageCode::Other);
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            b"null",
            b"{\"code\":1.5}",
            b"{\"code\":99999999999}",
            b"{\"extFields\":[1]}",
            b"{\"remark\":5}",
            b"\xff\xfe",
            b"{\"code\":1} trailing",
        ] {
            assert!(
                matches!(
                    decode(bad),
                    Err(ProtocolError::InvalidHeader {
                        encoding: "JSON",
                        ..
                    })
                ),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
