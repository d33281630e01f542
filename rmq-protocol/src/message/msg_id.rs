//! Message ids (docs/protocol.md §3.2): the offset msg id the broker returns, and the client-side UNIQ_KEY.
//!
//! Offset msg id (uppercase hex, 32 chars for IPv4, 56 for IPv6):
//!
//! | bytes | field |
//! |---|---|
//! | 4 / 16 | store host address |
//! | 4 | store port (i32) |
//! | 8 | commit-log physical offset (i64) |
//!
//! UNIQ_KEY (uppercase hex, 32 chars for an IPv4 client, 56 for IPv6):
//!
//! | bytes | field |
//! |---|---|
//! | 4 / 16 | client IP |
//! | 2 | process id (i16, truncated) |
//! | 4 | random i32 (Java: the class loader's hash code) |
//! | 4 | ms since the start of the current month (i32) |
//! | 2 | counter (i16, wrapping) |

use crate::clock::system_now_ms;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU16, Ordering};
use std::sync::Mutex;

use crate::error::{ProtocolError, Result};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends the uppercase hex of `bytes` to `out`.
pub fn hex_upper_into(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xF)] as char);
    }
}

/// Uppercase hex of `bytes`.
pub fn hex_upper(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    hex_upper_into(&mut s, bytes);
    s
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex (either case) into bytes; `None` on an odd length or a non-hex character.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| Some(hex_val(p[0])? << 4 | hex_val(p[1])?))
        .collect()
}

fn push_addr(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
}

/// Creates the offset msg id of the record at `phys_offset` stored by `store_host`.
pub fn create_offset_msg_id(store_host: SocketAddr, phys_offset: i64) -> String {
    let mut raw = Vec::with_capacity(28);
    push_addr(&mut raw, store_host.ip());
    raw.extend_from_slice(&i32::from(store_host.port()).to_be_bytes());
    raw.extend_from_slice(&phys_offset.to_be_bytes());
    hex_upper(&raw)
}

fn bad_id(reason: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidField {
        field: "msgId",
        value: String::new(),
        reason: reason.into(),
    }
}

/// Decodes an offset msg id into the store host and the commit-log offset.
///
/// # Errors
/// [`ProtocolError::InvalidField`] (field `msgId`) when the length is neither 32 nor 56 or a character is not hex.
pub fn decode_offset_msg_id(id: &str) -> Result<(SocketAddr, i64)> {
    let addr_len = match id.len() {
        32 => 4,
        56 => 16,
        n => return Err(bad_id(format!("length {n}, expected 32 or 56 hex chars"))),
    };
    let raw = hex_decode(id).ok_or_else(|| bad_id("not hex"))?;
    let (addr, rest) = raw.split_at(addr_len);
    let ip = if addr_len == 4 {
        IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))
    } else {
        let mut o = [0u8; 16];
        o.copy_from_slice(addr);
        IpAddr::V6(Ipv6Addr::from(o))
    };
    let port = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let mut off = [0u8; 8];
    off.copy_from_slice(&rest[4..12]);
    let port = u16::try_from(port).map_err(|_| bad_id(format!("port {port} out of range")))?;
    Ok((SocketAddr::new(ip, port), i64::from_be_bytes(off)))
}

/// Generates UNIQ_KEY client message ids, cheaply and from any thread.
///
/// The fixed prefix (IP, pid, random) is hex-encoded once; each id then costs a clock read, one atomic
/// increment and 12 hex digits.
#[derive(Debug)]
pub struct UniqIdGenerator {
    prefix: String,
    month_start_ms: AtomicI64,
    next_month_start_ms: AtomicI64,
    rollover: Mutex<()>,
    counter: AtomicU16,
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian, UTC).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil (year, month) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m)
}

/// (start of the month containing `ms`, start of the next month), both epoch ms, UTC.
fn month_bounds(ms: i64) -> (i64, i64) {
    let (y, m) = civil_from_days(ms.div_euclid(86_400_000));
    let start = days_from_civil(y, m, 1) * 86_400_000;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (start, days_from_civil(ny, nm, 1) * 86_400_000)
}

impl UniqIdGenerator {
    /// A generator for a client at `ip`, with this process's id and a random 32-bit word.
    pub fn new(ip: IpAddr) -> Self {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish() as u32;
        Self::with_parts(ip, std::process::id() as i16, random as i32)
    }

    /// A generator with explicit prefix parts (tests, or to mimic a given client).
    pub fn with_parts(ip: IpAddr, pid: i16, random: i32) -> Self {
        let mut raw = Vec::with_capacity(22);
        push_addr(&mut raw, ip);
        raw.extend_from_slice(&pid.to_be_bytes());
        raw.extend_from_slice(&random.to_be_bytes());
        let (start, next) = month_bounds(system_now_ms());
        Self {
            prefix: hex_upper(&raw),
            month_start_ms: AtomicI64::new(start),
            next_month_start_ms: AtomicI64::new(next),
            rollover: Mutex::new(()),
            counter: AtomicU16::new(0),
        }
    }

    /// The hex prefix shared by every id of this generator.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The next id.
    pub fn next_id(&self) -> String {
        let now = system_now_ms();
        if now >= self.next_month_start_ms.load(Ordering::Relaxed) {
            // Rare: once a month. The mutex only keeps two threads from recomputing at once.
            let _g = self.rollover.lock().unwrap_or_else(|e| e.into_inner());
            if now >= self.next_month_start_ms.load(Ordering::Relaxed) {
                let (start, next) = month_bounds(now);
                self.month_start_ms.store(start, Ordering::Relaxed);
                self.next_month_start_ms.store(next, Ordering::Relaxed);
            }
        }
        let diff = (now - self.month_start_ms.load(Ordering::Relaxed)) as i32;
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut tail = [0u8; 6];
        tail[..4].copy_from_slice(&diff.to_be_bytes());
        tail[4..].copy_from_slice(&count.to_be_bytes());
        let mut s = String::with_capacity(self.prefix.len() + 12);
        s.push_str(&self.prefix);
        hex_upper_into(&mut s, &tail);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn offset_id_v4() {
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        let id = create_offset_msg_id(host, 0x112);
        assert_eq!(id, "7F00000100002A9F0000000000000112");
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (host, 0x112));
        assert_eq!(
            decode_offset_msg_id(&id.to_lowercase()).unwrap(),
            (host, 0x112)
        );
    }

    #[test]
    fn offset_id_v6() {
        let host: SocketAddr = "[::1]:10911".parse().unwrap();
        let id = create_offset_msg_id(host, i64::MAX);
        assert_eq!(id.len(), 56);
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (host, i64::MAX));
    }

    #[test]
    fn offset_id_rejects() {
        assert!(decode_offset_msg_id("").is_err());
        assert!(decode_offset_msg_id("7F00000100002A9F000000000000011").is_err());
        assert!(decode_offset_msg_id("7F00000100002A9F00000000000001G2").is_err());
        assert!(decode_offset_msg_id("7F000001FFFFFFFF0000000000000112").is_err());
        assert!(decode_offset_msg_id("é7F00000100002A9F00000000000011").is_err());
    }

    #[test]
    fn month_math() {
        // 2024-03-15T12:00:00Z
        let (s, n) = month_bounds(1_710_504_000_000);
        assert_eq!(s, 1_709_251_200_000); // 2024-03-01
        assert_eq!(n, 1_711_929_600_000); // 2024-04-01
                                          // December rolls into January.
        let (s, n) = month_bounds(1_703_462_400_000); // 2023-12-25
        assert_eq!(s, 1_701_388_800_000); // 2023-12-01
        assert_eq!(n, 1_704_067_200_000); // 2024-01-01
        assert_eq!(month_bounds(0), (0, 31 * 86_400_000));
    }

    #[test]
    fn uniq_ids_unique_across_threads() {
        let g = Arc::new(UniqIdGenerator::with_parts(
            "192.168.0.1".parse().unwrap(),
            0x1234,
            -1,
        ));
        assert_eq!(g.prefix(), "C0A800011234FFFFFFFF");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let g = g.clone();
                std::thread::spawn(move || (0..1000).map(|_| g.next_id()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert_eq!(id.len(), 32);
                assert!(id
                    .bytes()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
                assert!(all.insert(id));
            }
        }
        let v6 = UniqIdGenerator::new("::1".parse().unwrap()).next_id();
        assert_eq!(v6.len(), 56);
    }
}
