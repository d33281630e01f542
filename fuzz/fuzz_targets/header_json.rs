//! The JSON header decoder (`rmq_protocol::header::json::decode`: a fast single-pass reader in front of the
//! serde reader).
//!
//! Checks: no panic; the combined decoder and the serde reference reader (`decode_serde`) agree on every input
//! (both refuse, or both give the same command), so the fast path never changes what a header means; a decoded
//! header re-encodes and decodes to the same command.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rmq_protocol::header::json;

fuzz_target!(|data: &[u8]| {
    let fast = json::decode(data);
    let reference = json::decode_serde(data);
    let cmd = match (fast, reference) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "fast and serde readers disagree");
            a
        }
        (Err(_), Err(_)) => return,
        (a, b) => panic!("fast and serde readers disagree: {a:?} vs {b:?}"),
    };
    let mut buf = BytesMut::new();
    json::encode(&cmd, &mut buf);
    let back = json::decode(&buf).expect("re-encoded JSON header decodes");
    rmq_fuzz::same_command(&cmd, &back);
});
