//! The SEND_BATCH_MESSAGE body decoder (`rmq_protocol::message::decode_batch`).
//!
//! Checks: no panic, no allocation sized by a length field, and a decoded batch re-encodes to the input's size
//! (the layout has no slack; only the magic and CRC words, which Java writes as 0, are not kept) and decodes
//! back to the same entries.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rmq_protocol::message::{decode_batch, encode_batch};

fuzz_target!(|data: &[u8]| {
    let buf = Bytes::copy_from_slice(data);
    let Ok(entries) = decode_batch(&buf) else {
        return;
    };
    let encoded = encode_batch(&entries).expect("a decoded batch re-encodes");
    assert_eq!(
        encoded.len(),
        data.len(),
        "re-encoded batch has another size"
    );
    let back = decode_batch(&encoded).expect("re-encoded batch decodes");
    assert_eq!(back, entries);
});
