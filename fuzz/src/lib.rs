//! Shared pieces of the rmq fuzz targets (docs/fuzzing.md).
//!
//! - [`CapAlloc`], the global allocator of every target: aborts on one allocation above [`MAX_ALLOC`], so a
//!   decoder that allocates a size read from its input is caught even without a sanitizer (libFuzzer's
//!   `-malloc_limit_mb` needs ASan's allocator hooks; the default build here has no sanitizer).
//! - [`split`], cutting one input into a selector byte and the rest.
//! - [`same_command`], comparing commands the way a re-encode must preserve them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;

use rmq_protocol::{LanguageCode, RemotingCommand, SerializeType};

/// Largest single allocation a target may make: inputs are at most a few hundred KiB, so anything above this
/// was sized from a length field, not from the bytes actually present. The frame decoder's own maximum
/// (16 MiB, reserved once the length is accepted) stays below it.
pub const MAX_ALLOC: usize = 64 * 1024 * 1024;

/// The system allocator with a per-allocation cap of [`MAX_ALLOC`].
///
/// Exceeding the cap prints the size and aborts; libFuzzer reports the abort as a crash and saves the input.
/// (A global allocator must not unwind, so it cannot panic instead.)
pub struct CapAlloc;

impl CapAlloc {
    fn check(size: usize) {
        if size > MAX_ALLOC {
            // Small, fixed output: whatever this allocates stays far below the cap, so no recursion.
            let _ = writeln!(
                std::io::stderr(),
                "rmq-fuzz: one allocation of {size} bytes exceeds the cap of {MAX_ALLOC} bytes \
                 (a size taken from the input?)"
            );
            std::process::abort();
        }
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc` contract; the cap
// check only reads the size.
unsafe impl GlobalAlloc for CapAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: same layout, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: same layout, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check(new_size);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CapAlloc = CapAlloc;

/// Splits an input into its first byte (which a target uses to pick a variant) and the rest.
pub fn split(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&first, rest)) => (first, rest),
        None => (0, data),
    }
}

/// Asserts that `back` (decoded from a re-encode of `first`) is the same command.
///
/// The one thing a JSON header cannot carry is an unknown numeric language code (JSON writes names, and a
/// code outside the table is written `OTHER`), so for JSON `Unknown(_)` compares equal to `Other`.
pub fn same_command(first: &RemotingCommand, back: &RemotingCommand) {
    let lang = |cmd: &RemotingCommand| match (cmd.serialize_type, cmd.language) {
        (SerializeType::Json, LanguageCode::Unknown(_)) => LanguageCode::Other,
        (_, l) => l,
    };
    assert_eq!(first.code, back.code, "code");
    assert_eq!(lang(first), lang(back), "language");
    assert_eq!(first.version, back.version, "version");
    assert_eq!(first.opaque, back.opaque, "opaque");
    assert_eq!(first.flag, back.flag, "flag");
    assert_eq!(first.remark, back.remark, "remark");
    assert_eq!(first.ext_fields, back.ext_fields, "ext fields");
    assert_eq!(first.body, back.body, "body");
    assert_eq!(first.serialize_type, back.serialize_type, "serialize type");
}
