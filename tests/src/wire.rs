//! An independent, hand-written frame encoder/decoder (docs/protocol.md §1.1, §1.3, §1.4).
//!
//! The broker uses `rmq-protocol`'s codec on both sides of its connections, so a bug shared by its encoder and
//! decoder would be invisible to a client built on the same codec. The tests that check the wire format itself
//! (both header encodings, Go/C++-style JSON headers without `serializeTypeCurrentRPC`, bad input) therefore
//! build and parse frames with this module, which follows docs/protocol.md byte by byte and shares no code with
//! `rmq-protocol` except the plain [`RemotingCommand`] struct.

use std::collections::HashMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use rmq_protocol::{LanguageCode, RemotingCommand, SerializeType};
use serde_json::{Map, Value};

/// Options for the JSON header text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonStyle {
    /// Emit `"serializeTypeCurrentRPC":"JSON"` as Java does (Go and C++ clients don't).
    pub serialize_type_key: bool,
    /// Emit `"remark":""` when the remark is absent, as the Go and C++ clients do.
    pub empty_remark: bool,
}

impl JsonStyle {
    /// What the Java client writes.
    pub const JAVA: JsonStyle = JsonStyle {
        serialize_type_key: true,
        empty_remark: false,
    };
    /// What rocketmq-client-go / the C++ client write: no `serializeTypeCurrentRPC`, `"remark":""`.
    pub const GO: JsonStyle = JsonStyle {
        serialize_type_key: false,
        empty_remark: true,
    };
}

/// The JSON header text of `cmd`, keys in alphabetical order as fastjson writes them.
pub fn json_header(cmd: &RemotingCommand, style: JsonStyle) -> String {
    // Keys inserted alphabetically, so the text is the same whether or not serde_json's `preserve_order`
    // feature is enabled somewhere in the dependency graph.
    let mut obj = Map::new();
    obj.insert("code".into(), Value::from(cmd.code));
    let mut ext = Map::new();
    let mut keys: Vec<&String> = cmd.ext_fields.keys().collect();
    keys.sort();
    for k in keys {
        ext.insert(k.clone(), Value::from(cmd.ext_fields[k].clone()));
    }
    obj.insert("extFields".into(), Value::Object(ext));
    obj.insert("flag".into(), Value::from(cmd.flag));
    obj.insert("language".into(), Value::from(cmd.language.name()));
    obj.insert("opaque".into(), Value::from(cmd.opaque));
    match (&cmd.remark, style.empty_remark) {
        (Some(r), _) => {
            obj.insert("remark".into(), Value::from(r.clone()));
        }
        (None, true) => {
            obj.insert("remark".into(), Value::from(""));
        }
        (None, false) => {}
    }
    if style.serialize_type_key {
        obj.insert("serializeTypeCurrentRPC".into(), Value::from("JSON"));
    }
    obj.insert("version".into(), Value::from(cmd.version));
    Value::Object(obj).to_string()
}

/// The ROCKETMQ binary header of `cmd` (docs/protocol.md §1.4). Ext entries are written in key order.
pub fn binary_header(cmd: &RemotingCommand) -> Vec<u8> {
    let mut h = Vec::new();
    h.put_i16(cmd.code as i16);
    h.put_u8(cmd.language.code());
    h.put_i16(cmd.version as i16);
    h.put_i32(cmd.opaque);
    h.put_i32(cmd.flag);
    match &cmd.remark {
        Some(r) if !r.is_empty() => {
            h.put_i32(r.len() as i32);
            h.put_slice(r.as_bytes());
        }
        _ => h.put_i32(0),
    }
    let mut map = Vec::new();
    let mut keys: Vec<&String> = cmd.ext_fields.keys().collect();
    keys.sort();
    for k in keys {
        let v = &cmd.ext_fields[k];
        map.put_u16(k.len() as u16);
        map.put_slice(k.as_bytes());
        map.put_i32(v.len() as i32);
        map.put_slice(v.as_bytes());
    }
    h.put_i32(map.len() as i32);
    h.extend_from_slice(&map);
    h
}

/// A whole frame from a serialize type, a header and a body (docs/protocol.md §1.1).
pub fn frame(serialize_type: u8, header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + header.len() + body.len());
    f.put_i32((4 + header.len() + body.len()) as i32);
    f.put_u32(((serialize_type as u32) << 24) | header.len() as u32);
    f.put_slice(header);
    f.put_slice(body);
    f
}

/// `cmd` as a frame with a JSON header in the given style.
pub fn encode_json(cmd: &RemotingCommand, style: JsonStyle) -> Vec<u8> {
    frame(0, json_header(cmd, style).as_bytes(), &cmd.body)
}

/// `cmd` as a frame with a ROCKETMQ binary header.
pub fn encode_binary(cmd: &RemotingCommand) -> Vec<u8> {
    frame(1, &binary_header(cmd), &cmd.body)
}

/// `cmd` in its own `serialize_type`, Java-style JSON for JSON.
pub fn encode(cmd: &RemotingCommand) -> Vec<u8> {
    match cmd.serialize_type {
        SerializeType::Json => encode_json(cmd, JsonStyle::JAVA),
        SerializeType::RocketMq => encode_binary(cmd),
    }
}

/// Decodes one frame from the front of `buf`.
///
/// `Ok(None)` = not enough bytes yet; `Ok(Some((cmd, consumed)))`; `Err` = the bytes are not a valid frame.
pub fn decode(buf: &[u8]) -> Result<Option<(RemotingCommand, usize)>, String> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let frame_len = i32::from_be_bytes(buf[0..4].try_into().expect("4 bytes"));
    if frame_len < 4 {
        return Err(format!("frame length {frame_len} < 4"));
    }
    let total = 4 + frame_len as usize;
    if buf.len() < total {
        return Ok(None);
    }
    let mut f = &buf[4..total];
    let word = f.get_u32();
    let ser = (word >> 24) as u8;
    let header_len = (word & 0x00FF_FFFF) as usize;
    if header_len > f.len() {
        return Err(format!("header length {header_len} > {}", f.len()));
    }
    let (header, body) = f.split_at(header_len);
    let mut cmd = match ser {
        0 => decode_json_header(header)?,
        1 => decode_binary_header(header)?,
        other => return Err(format!("unknown serialize type {other}")),
    };
    cmd.body = Bytes::copy_from_slice(body);
    Ok(Some((cmd, total)))
}

fn decode_json_header(header: &[u8]) -> Result<RemotingCommand, String> {
    let v: Value = serde_json::from_slice(header).map_err(|e| format!("bad JSON header: {e}"))?;
    let obj = v.as_object().ok_or("JSON header is not an object")?;
    let int = |k: &str| obj.get(k).and_then(Value::as_i64).unwrap_or(0) as i32;
    let mut ext_fields = HashMap::new();
    if let Some(Value::Object(m)) = obj.get("extFields") {
        for (k, v) in m {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            ext_fields.insert(k.clone(), s);
        }
    }
    Ok(RemotingCommand {
        code: int("code"),
        language: LanguageCode::from_name(
            obj.get("language").and_then(Value::as_str).unwrap_or(""),
        ),
        version: int("version"),
        opaque: int("opaque"),
        flag: int("flag"),
        remark: obj.get("remark").and_then(Value::as_str).map(str::to_owned),
        ext_fields,
        body: Bytes::new(),
        serialize_type: SerializeType::Json,
    })
}

fn decode_binary_header(mut h: &[u8]) -> Result<RemotingCommand, String> {
    fn need(h: &[u8], n: usize) -> Result<(), String> {
        if h.len() < n {
            Err(format!(
                "binary header truncated: need {n}, have {}",
                h.len()
            ))
        } else {
            Ok(())
        }
    }
    need(h, 17)?;
    let code = h.get_i16() as i32;
    let language = LanguageCode::from_code(h.get_u8());
    let version = h.get_i16() as i32;
    let opaque = h.get_i32();
    let flag = h.get_i32();
    let remark_len = h.get_i32();
    if remark_len < 0 {
        return Err("negative remark length".into());
    }
    need(h, remark_len as usize)?;
    let remark = if remark_len == 0 {
        None
    } else {
        let r = String::from_utf8_lossy(&h[..remark_len as usize]).into_owned();
        h.advance(remark_len as usize);
        Some(r)
    };
    need(h, 4)?;
    let ext_len = h.get_i32();
    if ext_len < 0 {
        return Err("negative ext length".into());
    }
    need(h, ext_len as usize)?;
    let mut m = &h[..ext_len as usize];
    let mut ext_fields = HashMap::new();
    while m.has_remaining() {
        need(m, 2)?;
        let kl = m.get_u16() as usize;
        need(m, kl)?;
        let k = String::from_utf8_lossy(&m[..kl]).into_owned();
        m.advance(kl);
        need(m, 4)?;
        let vl = m.get_i32();
        if vl < 0 {
            return Err("negative ext value length".into());
        }
        need(m, vl as usize)?;
        let v = String::from_utf8_lossy(&m[..vl as usize]).into_owned();
        m.advance(vl as usize);
        ext_fields.insert(k, v);
    }
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        body: Bytes::new(),
        serialize_type: SerializeType::RocketMq,
    })
}

/// A `tokio_util` codec over [`decode`] / [`encode`], for reading whole frames off a socket.
#[derive(Debug, Default, Clone, Copy)]
pub struct WireCodec;

impl tokio_util::codec::Decoder for WireCodec {
    type Item = RemotingCommand;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RemotingCommand>, std::io::Error> {
        match decode(src).map_err(std::io::Error::other)? {
            None => Ok(None),
            Some((cmd, n)) => {
                src.advance(n);
                Ok(Some(cmd))
            }
        }
    }
}

impl tokio_util::codec::Encoder<RemotingCommand> for WireCodec {
    type Error = std::io::Error;

    fn encode(&mut self, cmd: RemotingCommand, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        dst.extend_from_slice(&encode(&cmd));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_request() -> RemotingCommand {
        let mut cmd =
            RemotingCommand::request(105, HashMap::from([("topic".to_owned(), "T".to_owned())]));
        cmd.language = LanguageCode::Java;
        cmd.opaque = 1;
        cmd
    }

    /// docs/protocol.md §1.4a, JSON half.
    #[test]
    fn json_worked_example() {
        let text = json_header(&route_request(), JsonStyle::JAVA);
        assert_eq!(
            text,
            r#"{"code":105,"extFields":{"topic":"T"},"flag":0,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":479}"#
        );
        let f = encode_json(&route_request(), JsonStyle::JAVA);
        assert_eq!(&f[..8], &[0, 0, 0, 0x7F, 0, 0, 0, 0x7B]);
    }

    /// docs/protocol.md §1.4a, ROCKETMQ half: every byte.
    #[test]
    fn binary_worked_example() {
        let f = encode_binary(&route_request());
        let mut want = vec![
            0, 0, 0, 0x25, 1, 0, 0, 0x21, 0, 0x69, 0, 0x01, 0xDF, 0, 0, 0, 1, 0, 0, 0, 0,
        ];
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x0C, 0, 5]);
        want.extend_from_slice(b"topic");
        want.extend_from_slice(&[0, 0, 0, 1, b'T']);
        assert_eq!(f, want);
    }

    #[test]
    fn both_encodings_round_trip() {
        let mut cmd = route_request();
        cmd.remark = Some("r".into());
        cmd.body = Bytes::from_static(b"body");
        cmd.ext_fields.insert("k".into(), "v".into());
        for (f, ser) in [
            (encode_json(&cmd, JsonStyle::JAVA), SerializeType::Json),
            (encode_binary(&cmd), SerializeType::RocketMq),
        ] {
            let (back, n) = decode(&f).expect("valid").expect("complete");
            assert_eq!(n, f.len());
            let mut want = cmd.clone();
            want.serialize_type = ser;
            assert_eq!(back, want);
            assert_eq!(decode(&f[..f.len() - 1]).expect("valid prefix"), None);
        }
    }
}
