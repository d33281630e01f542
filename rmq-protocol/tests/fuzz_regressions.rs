//! Inputs the fuzz targets (fuzz/, docs/fuzzing.md) found, each pinned so the bug stays fixed.

use rmq_protocol::header::json;

/// header_json: the fast reader took `-0` as the integer 0 while the serde reader (the definition of a JSON
/// header) refuses it for an int field (serde_json reads `-0` as the float -0.0) and writes `"-0"` for an ext
/// value; the two readers must never disagree.
#[test]
fn json_header_negative_zero_reads_like_serde() {
    let input = br#"{"code":-0,"language":"ON"}"#;
    assert!(json::decode_serde(input).is_err());
    assert!(json::decode(input).is_err());
    let ext = br#"{"code":1,"extFields":{"a":-0}}"#;
    let fast = json::decode(ext).expect("decodes");
    let reference = json::decode_serde(ext).expect("decodes");
    assert_eq!(fast, reference);
    assert_eq!(fast.ext_fields.get("a").map(String::as_str), Some("-0"));
}

/// Review of the header_binary round trip: an ext key of more than 32767 bytes (length as an unsigned
/// 16-bit number) decoded, but the encoder refuses such a key and Java reads the length as a signed short
/// (a negative array size, so an exception). Now refused on decode too, so whatever decodes re-encodes.
#[test]
fn binary_header_key_over_i16_is_refused() {
    use rmq_protocol::header::binary;
    let key_len: u16 = 40_000;
    let mut ext = Vec::new();
    ext.extend_from_slice(&key_len.to_be_bytes());
    ext.extend(std::iter::repeat_n(b'k', usize::from(key_len)));
    ext.extend_from_slice(&1i32.to_be_bytes());
    ext.push(b'v');
    let mut header = vec![0, 105, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    header.extend_from_slice(&(ext.len() as i32).to_be_bytes());
    header.extend_from_slice(&ext);
    assert!(binary::decode(&header).is_err());

    // The longest key Java can write still decodes and re-encodes.
    let mut cmd = binary::decode(&[
        0, 105, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ])
    .expect("empty header");
    cmd.ext_fields.insert("k".repeat(32_767), "v".to_owned());
    let mut buf = bytes::BytesMut::new();
    binary::encode(&cmd, &mut buf).expect("encodes");
    assert_eq!(
        binary::decode(&buf).expect("decodes").ext_fields,
        cmd.ext_fields
    );
}
