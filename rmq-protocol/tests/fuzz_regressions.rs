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
