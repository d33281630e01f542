//! Flag words: `MessageSysFlag`, `PullSysFlag` and topic permissions (docs/protocol.md §3.6).
//!
//! Kept as plain `i32` constants (not bitflags types) because every one of them crosses the wire as a decimal
//! ext string or a stored `i32`, and unknown bits must survive a round trip.
//!
//! | bits | MessageSysFlag meaning |
//! |---|---|
//! | `0x1` | body compressed |
//! | `0x2` | multi tags |
//! | `0xC` (bits 2–3) | transaction type: `0x0` not, `0x4` prepared, `0x8` commit, `0xC` rollback |
//! | `0x10` | born host is IPv6 |
//! | `0x20` | store host is IPv6 |
//! | `0x40` | need unwrap (inner batch) |
//! | `0x80` | inner batch |
//! | `0x700` (bits 8–10) | compression type: `0x100` LZ4, `0x200` ZSTD, `0x300` ZLIB (0 = ZLIB for old clients) |

/// Body is compressed.
pub const COMPRESSED_FLAG: i32 = 0x1;
/// Broker marks multi-tag topics.
pub const MULTI_TAGS_FLAG: i32 = 0x2;
/// Not a transactional message.
pub const TRANSACTION_NOT_TYPE: i32 = 0;
/// Transactional half (prepared) message.
pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
/// Transaction commit.
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
/// Transaction rollback.
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
/// Mask of the transaction type bits.
pub const TRANSACTION_TYPE_MASK: i32 = 0xC;
/// Born host is IPv6 (20 bytes instead of 8 in the stored record).
pub const BORNHOST_V6_FLAG: i32 = 0x10;
/// Store host is IPv6 (20 bytes instead of 8 in the stored record).
pub const STOREHOSTADDRESS_V6_FLAG: i32 = 0x20;
/// Inner batch needs unwrapping.
pub const NEED_UNWRAP_FLAG: i32 = 0x40;
/// Record is an inner batch.
pub const INNER_BATCH_FLAG: i32 = 0x80;
/// Compression type LZ4 (frame format).
pub const COMPRESSION_LZ4_TYPE: i32 = 0x100;
/// Compression type ZSTD.
pub const COMPRESSION_ZSTD_TYPE: i32 = 0x200;
/// Compression type ZLIB.
pub const COMPRESSION_ZLIB_TYPE: i32 = 0x300;
/// Mask of the compression type bits.
pub const COMPRESSION_TYPE_MASK: i32 = 0x700;

/// The transaction type bits of a sys flag (one of the `TRANSACTION_*_TYPE` values).
pub fn transaction_value(flag: i32) -> i32 {
    flag & TRANSACTION_TYPE_MASK
}

/// Replaces the transaction type bits of a sys flag.
pub fn reset_transaction_value(flag: i32, ty: i32) -> i32 {
    (flag & !TRANSACTION_TYPE_MASK) | (ty & TRANSACTION_TYPE_MASK)
}

/// Clears the compressed bit (a consumer does this after decompressing).
pub fn clear_compressed_flag(flag: i32) -> i32 {
    flag & !COMPRESSED_FLAG
}

/// Body compression algorithm named by bits 8–10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionType {
    /// LZ4 frame format.
    Lz4,
    /// Zstandard.
    Zstd,
    /// zlib-wrapped deflate (also what type 0 means for old clients).
    Zlib,
}

/// The compression algorithm of a compressed body, `None` when the compressed bit is not set.
///
/// Unknown values (4..7) read as ZLIB, the historic default.
pub fn compression_type(flag: i32) -> Option<CompressionType> {
    if flag & COMPRESSED_FLAG == 0 {
        return None;
    }
    Some(match flag & COMPRESSION_TYPE_MASK {
        COMPRESSION_LZ4_TYPE => CompressionType::Lz4,
        COMPRESSION_ZSTD_TYPE => CompressionType::Zstd,
        _ => CompressionType::Zlib,
    })
}

/// Bits of the PULL_MESSAGE header `sysFlag`.
pub mod pull {
    /// Commit the `commitOffset` field as part of the pull.
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// The broker may hold the request (long polling).
    pub const SUSPEND: i32 = 0x2;
    /// The header carries the subscription expression.
    pub const SUBSCRIPTION: i32 = 0x4;
    /// Class filter mode (obsolete).
    pub const CLASS_FILTER: i32 = 0x8;
    /// Lite pull consumer.
    pub const LITE_PULL: i32 = 0x10;

    /// Builds the flag word a push consumer sends.
    pub fn build(
        commit_offset: bool,
        suspend: bool,
        subscription: bool,
        class_filter: bool,
    ) -> i32 {
        let mut f = 0;
        if commit_offset {
            f |= COMMIT_OFFSET;
        }
        if suspend {
            f |= SUSPEND;
        }
        if subscription {
            f |= SUBSCRIPTION;
        }
        if class_filter {
            f |= CLASS_FILTER;
        }
        f
    }

    /// Whether COMMIT_OFFSET is set.
    pub fn has_commit_offset(f: i32) -> bool {
        f & COMMIT_OFFSET != 0
    }
    /// Whether SUSPEND is set.
    pub fn has_suspend(f: i32) -> bool {
        f & SUSPEND != 0
    }
    /// Whether SUBSCRIPTION is set.
    pub fn has_subscription(f: i32) -> bool {
        f & SUBSCRIPTION != 0
    }
    /// Whether CLASS_FILTER is set.
    pub fn has_class_filter(f: i32) -> bool {
        f & CLASS_FILTER != 0
    }
    /// Whether LITE_PULL is set.
    pub fn has_lite_pull(f: i32) -> bool {
        f & LITE_PULL != 0
    }
    /// Clears COMMIT_OFFSET (the broker does so on a slave).
    pub fn clear_commit_offset(f: i32) -> i32 {
        f & !COMMIT_OFFSET
    }
}

/// Topic/queue/broker permissions (`PermName`): normal topics are READ|WRITE = 6.
pub mod perm {
    /// Priority (unused by clients).
    pub const PRIORITY: i32 = 8;
    /// Consumers may read.
    pub const READ: i32 = 4;
    /// Producers may write.
    pub const WRITE: i32 = 2;
    /// Template topic (`TBW102`): auto-created topics inherit from it.
    pub const INHERIT: i32 = 1;

    /// Whether READ is set.
    pub fn is_readable(perm: i32) -> bool {
        perm & READ == READ
    }
    /// Whether WRITE is set.
    pub fn is_writeable(perm: i32) -> bool {
        perm & WRITE == WRITE
    }
    /// Whether INHERIT is set.
    pub fn is_inherited(perm: i32) -> bool {
        perm & INHERIT == INHERIT
    }
    /// Whether PRIORITY is set.
    pub fn is_priority(perm: i32) -> bool {
        perm & PRIORITY == PRIORITY
    }
    /// Java's `perm2String`: `"RWX"` with `-` for missing bits (X = inherit).
    pub fn to_string(perm: i32) -> String {
        let mut s = String::with_capacity(3);
        s.push(if is_readable(perm) { 'R' } else { '-' });
        s.push(if is_writeable(perm) { 'W' } else { '-' });
        s.push(if is_inherited(perm) { 'X' } else { '-' });
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_bits() {
        let f = COMPRESSED_FLAG | TRANSACTION_PREPARED_TYPE;
        assert_eq!(transaction_value(f), TRANSACTION_PREPARED_TYPE);
        let g = reset_transaction_value(f, TRANSACTION_COMMIT_TYPE);
        assert_eq!(transaction_value(g), TRANSACTION_COMMIT_TYPE);
        assert_eq!(g & COMPRESSED_FLAG, COMPRESSED_FLAG);
        assert_eq!(clear_compressed_flag(g), TRANSACTION_COMMIT_TYPE);
    }

    #[test]
    fn compression() {
        assert_eq!(compression_type(0x300), None);
        assert_eq!(compression_type(1), Some(CompressionType::Zlib));
        assert_eq!(compression_type(0x101), Some(CompressionType::Lz4));
        assert_eq!(compression_type(0x201), Some(CompressionType::Zstd));
        assert_eq!(compression_type(0x301), Some(CompressionType::Zlib));
    }

    #[test]
    fn pull_and_perm() {
        let f = pull::build(true, true, false, false);
        assert_eq!(f, 3);
        assert!(pull::has_commit_offset(f) && pull::has_suspend(f) && !pull::has_subscription(f));
        assert_eq!(pull::clear_commit_offset(f), 2);
        assert!(perm::is_readable(6) && perm::is_writeable(6) && !perm::is_inherited(6));
        assert!(perm::is_inherited(7));
        assert_eq!(perm::to_string(6), "RW-");
        assert_eq!(perm::to_string(7), "RWX");
    }
}
