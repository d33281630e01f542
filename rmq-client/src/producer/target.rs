//! Where a send goes when not round-robin: a queue the caller chose, or one a selector (or a hashed key, as
//! Java hashes it) picks from the writable queues.

use std::sync::Arc;

use rmq_protocol::body::MessageQueue;

/// Picks a queue from the writable queues.
pub(crate) type Selector = Arc<dyn Fn(&[MessageQueue]) -> usize + Send + Sync>;

/// Where a send goes when not round-robin.
#[derive(Clone)]
pub(crate) enum Target {
    Queue(MessageQueue),
    Selector(Selector),
}

/// Java's `String.hashCode`, so a key maps to the same queue as from a Java producer.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// `|hash| % n`, computed in i64 so `i32::MIN` stays non-negative.
pub fn queue_index_for_hash(hash: i32, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    ((hash as i64).abs() % n as i64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_java() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("abc"), 96354);
        assert_eq!(
            java_string_hash("order-42"),
            "order-42"
                .chars()
                .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
        );
    }

    #[test]
    fn hash_index_is_never_negative() {
        assert_eq!(
            queue_index_for_hash(i32::MIN, 3),
            (2147483648i64 % 3) as usize
        );
        assert_eq!(queue_index_for_hash(-7, 4), 3);
        assert_eq!(queue_index_for_hash(7, 4), 3);
        assert_eq!(queue_index_for_hash(5, 0), 0);
    }
}
