//! Message-id decoders (`rmq_protocol::message::msg_id`): `decode_offset_msg_id` and `hex_decode`.
//!
//! Checks: no panic; a decoded offset msg id re-creates the same id (modulo hex case); hex decode and encode
//! are inverse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_protocol::message::msg_id::{
    create_offset_msg_id, decode_offset_msg_id, hex_decode, hex_upper,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok((host, offset)) = decode_offset_msg_id(&text) {
        let again = create_offset_msg_id(host, offset);
        assert!(again.eq_ignore_ascii_case(&text), "{text} -> {again}");
    }
    if let Some(bytes) = hex_decode(&text) {
        assert!(hex_upper(&bytes).eq_ignore_ascii_case(&text));
    }
});
