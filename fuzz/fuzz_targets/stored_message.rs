//! The stored-record decoders of `rmq_protocol::message::stored`: `peek` and `parse_view` (store recovery and
//! dispatch), `decode_stored` and `decode_all` (a pull response body of back-to-back records).
//!
//! Checks: no panic; `peek`, `parse_view` and `decode_stored` agree; `decode_all` consumes records exactly;
//! every decoded message re-encodes and decodes to the same message (a V2 record with a short topic comes back
//! as V1, so the magic and size are not compared), its offset msg id decodes to its store host and offset, and
//! patching the position of a valid record keeps it valid.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use rmq_protocol::message::msg_id::decode_offset_msg_id;
use rmq_protocol::message::stored::{self, parse_view, patch_position};
use rmq_protocol::message::{decode_all, decode_stored, peek, MessageExt, Peek};

fuzz_target!(|data: &[u8]| {
    let buf = Bytes::copy_from_slice(data);
    let view = parse_view(&buf);
    match peek(&buf) {
        Ok(Peek::Message(v)) => {
            assert_eq!(view.as_ref().ok(), Some(&v), "peek and parse_view disagree")
        }
        Ok(Peek::Empty | Peek::Blank { .. }) | Err(_) => {}
    }
    match decode_stored(&buf, true) {
        Ok((msg, used)) => {
            let v = view.expect("parse_view refused what decode_stored took");
            assert_eq!(used, v.total_size);
            assert_eq!(&msg.body[..], v.body);
            let (lean, _) = decode_stored(&buf, false).expect("decodes without the body too");
            assert!(lean.body.is_empty());
            check_message(&msg);
            let _ = (
                v.crc_ok(),
                v.tags(),
                v.tag_code(),
                v.uniq_key(),
                v.keys().count(),
            );
            let mut copy = data[..used].to_vec();
            patch_position(&mut copy, 1, 2, 3).expect("a valid record can be patched");
            let patched = parse_view(&copy).expect("a patched record stays valid");
            assert_eq!(
                (
                    patched.queue_offset,
                    patched.commit_log_offset,
                    patched.store_timestamp
                ),
                (1, 2, 3)
            );
        }
        Err(_) => assert!(view.is_err(), "decode_stored refused what parse_view took"),
    }
    let all = decode_all(&buf);
    let mut pos = 0;
    for msg in &all {
        pos += usize::try_from(msg.store_size).expect("positive size");
    }
    assert!(pos <= buf.len(), "decode_all read past the buffer");
    for msg in all.iter().take(8) {
        check_message(msg);
    }
});

fn check_message(msg: &MessageExt) {
    let _ = (msg.msg_id(), msg.tags(), msg.keys());
    let (host, offset) =
        decode_offset_msg_id(&msg.offset_msg_id()).expect("own offset msg id decodes");
    assert_eq!((host, offset), (msg.store_host, msg.commit_log_offset));
    let mut out = BytesMut::new();
    // Re-encoding can only fail when the re-encoded properties string (every valid pair, each terminated)
    // outgrows the i16 length: an input whose last pair lacked its terminator at exactly the limit.
    let Ok(n) = msg.encode(&mut out) else {
        assert!(msg.properties.encode().len() > stored::MAX_PROPERTIES_LEN);
        return;
    };
    assert_eq!(n, out.len());
    let (back, used) = decode_stored(&out.freeze(), true).expect("re-encoded record decodes");
    assert_eq!(used, n);
    let strip = |m: &MessageExt| MessageExt {
        magic: 0,
        store_size: 0,
        ..m.clone()
    };
    assert_eq!(strip(&back), strip(msg));
}
