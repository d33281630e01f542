//! The consume-queue tag code (docs/protocol.md §3.7).
//!
//! Java stores `TAGS.hashCode()` sign-extended to `long` in every consume-queue entry and filters pulls with it,
//! so the hash must be bit-for-bit `java.lang.String.hashCode`: `h = 31·h + c` over UTF-16 code units with
//! wrapping `i32` arithmetic.

/// Java's `String.hashCode()` of `s` (UTF-16 code units, wrapping `i32`).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The tag code stored in a consume-queue entry: the Java hash sign-extended to `i64` (0 for no tag).
pub fn tag_hash_code(tag: &str) -> i64 {
    i64::from(java_string_hash(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_values() {
        assert_eq!(tag_hash_code("TagA"), 2598919);
        assert_eq!(tag_hash_code("*"), 42);
        assert_eq!(tag_hash_code("a"), 97);
        assert_eq!(tag_hash_code(""), 0);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE
        assert_eq!(tag_hash_code("polygenelubricants"), i64::from(i32::MIN));
        // Overflowing: "hello world".hashCode() == 1794106052.
        assert_eq!(tag_hash_code("hello world"), 1794106052);
    }

    #[test]
    fn non_ascii() {
        // "é" is one UTF-16 unit 0xE9; "中" is 0x4E2D.
        assert_eq!(tag_hash_code("é"), 0xE9);
        assert_eq!(tag_hash_code("中文"), 0x4E2D * 31 + 0x6587);
        // U+1F600 is the surrogate pair D83D DE00.
        assert_eq!(tag_hash_code("😀"), 0xD83D * 31 + 0xDE00);
    }
}
