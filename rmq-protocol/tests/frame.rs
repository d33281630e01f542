//! Frame + header codec: the worked example of docs/protocol.md §1.4a, captured frames from real peers, rejection cases, and
//! round-trip properties.

mod common;

use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;
use rmq_protocol::frame::{self, RemotingCodec, DEFAULT_MAX_FRAME_LEN};
use rmq_protocol::{LanguageCode, ProtocolError, RemotingCommand, SerializeType};
use tokio_util::codec::{Decoder, Encoder};

fn worked_command(serialize_type: SerializeType) -> RemotingCommand {
    let mut ext = HashMap::new();
    ext.insert("topic".to_owned(), "T".to_owned());
    let mut cmd = RemotingCommand::request(105, ext);
    cmd.language = LanguageCode::Java;
    cmd.opaque = 1;
    cmd.serialize_type = serialize_type;
    cmd
}

const WORKED_JSON_TEXT: &str =
    "{\"code\":105,\"extFields\":{\"topic\":\"T\"},\"flag\":0,\"language\":\"JAVA\",\
    \"opaque\":1,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":479}";

const WORKED_BINARY: &[u8] = &[
    0x00, 0x00, 0x00, 0x25, 0x01, 0x00, 0x00, 0x21, 0x00, 0x69, 0x00, 0x01, 0xDF, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x00, 0x05, b't',
    b'o', b'p', b'i', b'c', 0x00, 0x00, 0x00, 0x01, b'T',
];

fn encode(cmd: &RemotingCommand) -> BytesMut {
    let mut buf = BytesMut::new();
    frame::encode(cmd, &mut buf).expect("encodes");
    buf
}

fn decode_all(bytes: &[u8]) -> RemotingCommand {
    let mut buf = BytesMut::from(bytes);
    let cmd = frame::decode(&mut buf, DEFAULT_MAX_FRAME_LEN)
        .expect("decodes")
        .expect("whole frame");
    assert!(buf.is_empty(), "frame fully consumed");
    cmd
}

#[test]
fn worked_example_json() {
    let mut expected = vec![0x00, 0x00, 0x00, 0x7F, 0x00, 0x00, 0x00, 0x7B];
    expected.extend_from_slice(WORKED_JSON_TEXT.as_bytes());
    let cmd = worked_command(SerializeType::Json);
    assert_eq!(&encode(&cmd)[..], &expected[..]);
    assert_eq!(decode_all(&expected), cmd);
}

#[test]
fn worked_example_binary() {
    let cmd = worked_command(SerializeType::RocketMq);
    assert_eq!(&encode(&cmd)[..], WORKED_BINARY);
    assert_eq!(decode_all(WORKED_BINARY), cmd);
}

#[test]
fn captured_frames_decode_and_round_trip() {
    let frames = common::frames();
    assert!(
        frames.len() > 40,
        "both capture files loaded ({} frames)",
        frames.len()
    );
    for f in frames {
        let cmd = decode_all(&f.bytes);
        let h = &f.header;
        assert_eq!(
            i64::from(cmd.code),
            h["code"].as_i64().expect("code"),
            "{}",
            f.origin
        );
        assert_eq!(
            i64::from(cmd.opaque),
            h["opaque"].as_i64().expect("opaque"),
            "{}",
            f.origin
        );
        assert_eq!(
            i64::from(cmd.flag),
            h["flag"].as_i64().expect("flag"),
            "{}",
            f.origin
        );
        assert_eq!(
            i64::from(cmd.version),
            h["version"].as_i64().expect("version"),
            "{}",
            f.origin
        );
        assert_eq!(
            cmd.language.name(),
            h["language"].as_str().expect("language"),
            "{}",
            f.origin
        );
        assert_eq!(cmd.remark.as_deref(), h["remark"].as_str(), "{}", f.origin);
        let ext = h["extFields"].as_object().map(|m| m.len()).unwrap_or(0);
        assert_eq!(cmd.ext_fields.len(), ext, "{}", f.origin);
        for (k, v) in h["extFields"].as_object().into_iter().flatten() {
            assert_eq!(
                cmd.ext_fields.get(k).map(String::as_str),
                v.as_str(),
                "{} ext {k}",
                f.origin
            );
        }
        assert_eq!(cmd.serialize_type, SerializeType::Json);
        if !f.truncated {
            let header_len = u32::from_be_bytes([0, f.bytes[5], f.bytes[6], f.bytes[7]]) as usize;
            assert_eq!(&cmd.body[..], &f.bytes[8 + header_len..], "{}", f.origin);
        }
        // decode → encode → decode is the identity, in both serializations.
        assert_eq!(
            decode_all(&encode(&cmd)),
            cmd,
            "{} JSON round trip",
            f.origin
        );
        let mut bin = cmd.clone();
        bin.serialize_type = SerializeType::RocketMq;
        bin.ext_fields.retain(|_, v| !v.is_empty());
        if bin.remark.as_deref() == Some("") {
            bin.remark = None;
        }
        assert_eq!(
            decode_all(&encode(&bin)),
            bin,
            "{} binary round trip",
            f.origin
        );
    }
}

#[test]
fn body_is_split_without_copy() {
    let cmd = worked_command(SerializeType::Json).with_body(Bytes::from_static(b"hello body"));
    let mut buf = encode(&cmd);
    let start = buf.as_ptr() as usize;
    let decoded = frame::decode(&mut buf, DEFAULT_MAX_FRAME_LEN)
        .expect("ok")
        .expect("frame");
    let body_at = decoded.body.as_ptr() as usize;
    assert_eq!(&decoded.body[..], b"hello body");
    assert_eq!(
        body_at,
        start + 8 + WORKED_JSON_TEXT.len(),
        "body points into the read buffer"
    );
}

#[test]
fn incomplete_frames_wait_for_more_bytes() {
    let mut whole = encode(&worked_command(SerializeType::Json).with_body(&b"xyz"[..]));
    whole.extend_from_slice(&encode(&worked_command(SerializeType::RocketMq)));
    let mut codec = RemotingCodec::new();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for b in whole.iter() {
        buf.put_u8(*b);
        if let Some(cmd) = codec.decode(&mut buf).expect("no error") {
            got.push(cmd);
        }
    }
    assert_eq!(got.len(), 2);
    assert_eq!(&got[0].body[..], b"xyz");
    assert_eq!(got[1].serialize_type, SerializeType::RocketMq);
    assert!(buf.is_empty());
}

#[test]
fn codec_encoders_and_limit() {
    let cmd = worked_command(SerializeType::Json).with_body(vec![7u8; 100]);
    let mut codec = RemotingCodec::with_max_frame_len(64);
    let mut buf = BytesMut::from(&b"keep"[..]);
    let err = codec
        .encode(cmd.clone(), &mut buf)
        .expect_err("too large for 64 bytes");
    assert!(matches!(err, ProtocolError::FrameTooLarge { max: 64, .. }));
    assert_eq!(&buf[..], b"keep", "nothing appended on error");

    let mut codec = RemotingCodec::default();
    assert_eq!(codec.max_frame_len(), DEFAULT_MAX_FRAME_LEN);
    let mut buf = BytesMut::new();
    frame::encode(&cmd, &mut buf).expect("by reference");
    codec.encode(cmd.clone(), &mut buf).expect("by value");
    assert_eq!(codec.decode(&mut buf).expect("ok"), Some(cmd.clone()));
    assert_eq!(codec.decode(&mut buf).expect("ok"), Some(cmd));
    assert_eq!(codec.decode(&mut buf).expect("ok"), None);
}

fn decode_err(bytes: &[u8], max: usize) -> ProtocolError {
    let mut buf = BytesMut::from(bytes);
    frame::decode(&mut buf, max).expect_err("must be rejected")
}

#[test]
fn rejects_oversized_length_before_allocating() {
    let mut buf = BytesMut::from(&[0x7F, 0xFF, 0xFF, 0xFF][..]);
    let err = frame::decode(&mut buf, DEFAULT_MAX_FRAME_LEN).expect_err("2 GiB refused");
    assert!(matches!(
        err,
        ProtocolError::FrameTooLarge {
            len: 0x8000_0003,
            max: DEFAULT_MAX_FRAME_LEN
        }
    ));
    assert!(
        buf.capacity() < 1024,
        "nothing reserved for the announced frame"
    );
    // Exactly at the limit is accepted (as incomplete), one more is refused.
    let limit = 1000;
    let at = ((limit - 4) as u32).to_be_bytes();
    let mut buf = BytesMut::from(&at[..]);
    assert!(frame::decode(&mut buf, limit).expect("ok").is_none());
    let over = ((limit - 3) as u32).to_be_bytes();
    assert!(matches!(
        decode_err(&over, limit),
        ProtocolError::FrameTooLarge { .. }
    ));
}

#[test]
fn rejects_negative_and_short_lengths() {
    for len in [-1i32, i32::MIN, 0, 3] {
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        assert!(
            matches!(
                decode_err(&bytes, DEFAULT_MAX_FRAME_LEN),
                ProtocolError::MalformedFrame(_)
            ),
            "{len}"
        );
    }
}

#[test]
fn rejects_header_longer_than_frame() {
    let mut bytes = vec![0, 0, 0, 8, 0, 0, 0, 5];
    bytes.extend_from_slice(b"{}{}");
    assert!(matches!(
        decode_err(&bytes, DEFAULT_MAX_FRAME_LEN),
        ProtocolError::MalformedFrame(_)
    ));
}

#[test]
fn rejects_unknown_serialize_type() {
    let mut bytes = vec![0, 0, 0, 6, 2, 0, 0, 2];
    bytes.extend_from_slice(b"{}");
    assert!(matches!(
        decode_err(&bytes, DEFAULT_MAX_FRAME_LEN),
        ProtocolError::UnknownSerializeType(2)
    ));
}

#[test]
fn rejects_invalid_json_and_utf8() {
    for text in [
        &b"{\"code\":"[..],
        b"not json",
        b"\xC3\x28",
        b"{\"code\":\"x\"}",
    ] {
        let mut bytes = ((4 + text.len()) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&(text.len() as u32).to_be_bytes());
        bytes.extend_from_slice(text);
        assert!(
            matches!(
                decode_err(&bytes, DEFAULT_MAX_FRAME_LEN),
                ProtocolError::InvalidHeader {
                    encoding: "JSON",
                    ..
                }
            ),
            "{text:?}"
        );
    }
}

#[test]
fn rejects_truncated_binary_header() {
    // Keep the frame consistent but cut the header short: header_len < what the header needs.
    let header = &WORKED_BINARY[8..];
    for cut in 0..header.len() {
        let mut bytes = ((4 + cut) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&((1u32 << 24) | cut as u32).to_be_bytes());
        bytes.extend_from_slice(&header[..cut]);
        assert!(
            matches!(
                decode_err(&bytes, DEFAULT_MAX_FRAME_LEN),
                ProtocolError::InvalidHeader {
                    encoding: "ROCKETMQ",
                    ..
                }
            ),
            "cut at {cut}"
        );
    }
}

#[test]
fn eof_mid_frame_is_an_error() {
    let whole = encode(&worked_command(SerializeType::Json));
    let mut buf = BytesMut::from(&whole[..whole.len() - 1]);
    let mut codec = RemotingCodec::new();
    assert!(codec.decode_eof(&mut buf).is_err());
    let mut empty = BytesMut::new();
    assert!(codec.decode_eof(&mut empty).expect("clean EOF").is_none());
}

const JSON_LANGUAGES: [LanguageCode; 14] = [
    LanguageCode::Java,
    LanguageCode::Cpp,
    LanguageCode::Dotnet,
    LanguageCode::Python,
    LanguageCode::Delphi,
    LanguageCode::Erlang,
    LanguageCode::Ruby,
    LanguageCode::Other,
    LanguageCode::Http,
    LanguageCode::Go,
    LanguageCode::Php,
    LanguageCode::Oms,
    LanguageCode::Rust,
    LanguageCode::NodeJs,
];

/// Commands whose JSON encoding must decode to themselves: any strings (empty ones too), any i32.
fn json_command() -> impl Strategy<Value = RemotingCommand> {
    (
        any::<i32>(),
        prop::sample::select(&JSON_LANGUAGES[..]),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        prop::option::of(any::<String>()),
        prop::collection::hash_map(any::<String>(), any::<String>(), 0..8),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(code, language, version, opaque, flag, remark, ext_fields, body)| RemotingCommand {
                code,
                language,
                version,
                opaque,
                flag,
                remark,
                ext_fields,
                body: Bytes::from(body),
                serialize_type: SerializeType::Json,
            },
        )
}

/// Commands the binary layout can carry: code/version in i16, any language byte, and non-empty remark and ext
/// strings (an empty string is read back as null, i.e. absent — see `header::binary`).
fn binary_command() -> impl Strategy<Value = RemotingCommand> {
    let non_empty = || any::<String>().prop_filter("non-empty", |s| !s.is_empty());
    (
        any::<i16>(),
        any::<u8>(),
        any::<i16>(),
        any::<i32>(),
        any::<i32>(),
        prop::option::of(non_empty()),
        prop::collection::hash_map(non_empty(), non_empty(), 0..8),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(code, language, version, opaque, flag, remark, ext_fields, body)| RemotingCommand {
                code: i32::from(code),
                language: LanguageCode::from_code(language),
                version: i32::from(version),
                opaque,
                flag,
                remark,
                ext_fields,
                body: Bytes::from(body),
                serialize_type: SerializeType::RocketMq,
            },
        )
}

proptest! {
    #[test]
    fn json_round_trip(cmd in json_command()) {
        prop_assert_eq!(decode_all(&encode(&cmd)), cmd);
    }

    #[test]
    fn binary_round_trip(cmd in binary_command()) {
        prop_assert_eq!(decode_all(&encode(&cmd)), cmd);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = frame::decode(&mut buf, 4096);
    }

    #[test]
    fn random_headers_never_panic(binary in any::<bool>(), header in prop::collection::vec(any::<u8>(), 0..128)) {
        let mut bytes = ((4 + header.len()) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&((u32::from(binary) << 24) | header.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&header);
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = frame::decode(&mut buf, 4096);
    }

    #[test]
    fn mutated_frames_never_panic(binary in any::<bool>(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let base = if binary { WORKED_BINARY.to_vec() } else { encode(&worked_command(SerializeType::Json)).to_vec() };
        let mut bytes = base;
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = frame::decode(&mut buf, 4096);
    }
}

/// Four bytes announcing a 15 MiB frame reserve a read's worth, not 15 MiB; the frame still decodes once its
/// bytes arrive in pieces.
#[test]
fn announced_length_reserves_only_a_read_ahead() {
    let len: i32 = 15 * 1024 * 1024;
    let mut buf = bytes::BytesMut::new();
    buf.extend_from_slice(&len.to_be_bytes());
    assert!(frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME_LEN)
        .expect("a length under the maximum")
        .is_none());
    assert!(
        buf.capacity() <= frame::RESERVE_AHEAD + 64,
        "reserved {} bytes for 4 received",
        buf.capacity()
    );

    // A real large frame, fed 1 MiB at a time.
    let cmd = rmq_protocol::RemotingCommand::request(10, std::collections::HashMap::new())
        .with_body(vec![7u8; 3 * 1024 * 1024]);
    let mut whole = bytes::BytesMut::new();
    frame::encode(&cmd, &mut whole).expect("encode");
    let mut buf = bytes::BytesMut::new();
    let mut decoded = None;
    for chunk in whole.chunks(1024 * 1024) {
        buf.extend_from_slice(chunk);
        if let Some(c) = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME_LEN).expect("decode") {
            decoded = Some(c);
        }
    }
    assert_eq!(decoded.expect("whole frame").body.len(), 3 * 1024 * 1024);
}
