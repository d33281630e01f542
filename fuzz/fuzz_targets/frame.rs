//! The length-prefixed frame decoder (`rmq_protocol::frame::decode`), fed a byte stream that may hold several
//! frames, a partial one, or garbage.
//!
//! Checks: no panic; `Ok(None)` consumes nothing; a decoded frame consumed exactly its announced length plus the
//! prefix; a frame over the maximum is refused before its bytes are there; every decoded command re-encodes and
//! decodes to the same command.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rmq_protocol::frame::{self, DEFAULT_MAX_FRAME_LEN};
use rmq_protocol::ProtocolError;

/// The maximum frame sizes tried, picked by the first input byte: Java's default and a few small ones, so the
/// size check itself is exercised.
const MAX_LENS: [usize; 4] = [DEFAULT_MAX_FRAME_LEN, 8, 300, 64 * 1024];

fuzz_target!(|data: &[u8]| {
    let (pick, stream) = rmq_fuzz::split(data);
    let max = MAX_LENS[usize::from(pick) % MAX_LENS.len()];
    let mut src = BytesMut::from(stream);
    loop {
        let before = src.len();
        let announced = src
            .first_chunk::<4>()
            .map(|p| i64::from(i32::from_be_bytes(*p)) + 4);
        match frame::decode(&mut src, max) {
            Ok(None) => {
                assert_eq!(src.len(), before, "an incomplete frame consumed bytes");
                break;
            }
            Ok(Some(cmd)) => {
                let used = before - src.len();
                assert_eq!(
                    Some(used as i64),
                    announced,
                    "consumed other than the frame length"
                );
                assert!(used <= max, "a frame over the maximum was accepted");
                roundtrip(&cmd);
            }
            Err(ProtocolError::FrameTooLarge { len, max: m }) => {
                assert!(len > m, "FrameTooLarge for a frame within the limit");
                break;
            }
            Err(_) => break,
        }
    }
});

fn roundtrip(cmd: &rmq_protocol::RemotingCommand) {
    let mut buf = BytesMut::new();
    if frame::encode(cmd, &mut buf).is_err() {
        // Only binary headers can refuse to encode, for values their layout cannot carry; a decoded binary
        // header carries none of those, so this is a decoder/encoder disagreement.
        panic!("a decoded command does not re-encode: {cmd:?}");
    }
    let back = frame::decode(&mut buf, DEFAULT_MAX_FRAME_LEN)
        .expect("re-encoded frame decodes")
        .expect("re-encoded frame is whole");
    assert!(buf.is_empty(), "re-encoded frame left bytes behind");
    rmq_fuzz::same_command(cmd, &back);
}
