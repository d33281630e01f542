//! The ROCKETMQ binary header decoder (`rmq_protocol::header::binary::decode`).
//!
//! Checks: no panic, no allocation sized by a length field (the global allocator's cap), and a decoded header
//! re-encodes and decodes to the same command.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rmq_protocol::header::binary;

fuzz_target!(|data: &[u8]| {
    let Ok(cmd) = binary::decode(data) else {
        return;
    };
    let mut buf = BytesMut::new();
    binary::encode(&cmd, &mut buf)
        .unwrap_or_else(|e| panic!("a decoded binary header does not re-encode: {e}: {cmd:?}"));
    let back = binary::decode(&buf).expect("re-encoded binary header decodes");
    rmq_fuzz::same_command(&cmd, &back);
});
