//! The message properties string and the well-known property keys (docs/protocol.md §3.4, §3.5).
//!
//! Properties travel as one string, both in the send header (`properties` ext field) and in every stored
//! record, so producer, broker and consumer must agree on one codec:
//!
//! | part | bytes |
//! |---|---|
//! | name | UTF-8 |
//! | separator | `0x01` |
//! | value | UTF-8 |
//! | terminator | `0x02` (also after the last pair) |
//!
//! Decoding follows Java's `MessageDecoder.string2messageProperties`: split on `0x02`, then on the *first*
//! `0x01`; pairs whose name or value is empty are dropped. Duplicate names are kept in order, and a lookup
//! returns the **last** one, as Java's `HashMap::put` would (old batch brokers append batch-level
//! properties after each message's own, docs/protocol.md §3.3).

/// Separates a name from its value.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Terminates every name/value pair.
pub const PROPERTY_SEPARATOR: char = '\u{2}';

/// Business keys, several separated by [`KEY_SEPARATOR`]; indexed by the store.
pub const KEYS: &str = "KEYS";
/// Separator between several business keys in [`KEYS`].
pub const KEY_SEPARATOR: &str = " ";
/// The message tag; its hash is the consume-queue tag code.
pub const TAGS: &str = "TAGS";
/// `"true"`/`"false"`: whether the producer waits for the store (absent = true).
pub const WAIT_STORE_MSG_OK: &str = "WAIT";
/// Delay level 1..18 (`-1` when routed to a DLQ).
pub const DELAY_TIME_LEVEL: &str = "DELAY";
/// Original topic of a message living in a `%RETRY%` topic.
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
/// Original topic of delayed, timer and half messages.
pub const REAL_TOPIC: &str = "REAL_TOPIC";
/// Original queue id of delayed, timer and half messages.
pub const REAL_QUEUE_ID: &str = "REAL_QID";
/// `"true"` on transactional half messages.
pub const TRANSACTION_PREPARED: &str = "TRAN_MSG";
/// Producer group of a transactional message (for check-back).
pub const PRODUCER_GROUP: &str = "PGROUP";
/// Queue min offset, added client-side to pulled messages.
pub const MIN_OFFSET: &str = "MIN_OFFSET";
/// Queue max offset, added client-side to pulled messages.
pub const MAX_OFFSET: &str = "MAX_OFFSET";
/// Buyer id (Alibaba legacy).
pub const BUYER_ID: &str = "BUYER_ID";
/// Id of the first delivery, kept across retries.
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
/// Transfer flag (legacy).
pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
/// Correction flag (legacy).
pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
/// Message queue id (legacy).
pub const MQ2_FLAG: &str = "MQ2_FLAG";
/// Reconsume count carried by a client-side resend to `%RETRY%`.
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
/// Region of the broker that stored the message.
pub const MSG_REGION: &str = "MSG_REGION";
/// Trace switch (`"true"`/`"false"`).
pub const TRACE_SWITCH: &str = "TRACE_ON";
/// Client message id (docs/protocol.md §3.2).
pub const UNIQ_CLIENT_MESSAGE_ID_KEYIDX: &str = "UNIQ_KEY";
/// Short alias of [`UNIQ_CLIENT_MESSAGE_ID_KEYIDX`].
pub const UNIQ_KEY: &str = UNIQ_CLIENT_MESSAGE_ID_KEYIDX;
/// Max reconsume times carried by a client-side resend.
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
/// Client-side consume start time.
pub const CONSUME_START_TIMESTAMP: &str = "CONSUME_START_TIME";
/// First transaction check not before this many seconds.
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
/// Broker-maintained check counter on half messages.
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
/// Queue offset of the half message, set on re-put half messages.
pub const TRANSACTION_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
/// Transaction id; the broker copies UNIQ_KEY here on half messages.
pub const TRANSACTION_ID: &str = "__transactionId__";
/// Instance id.
pub const INSTANCE_ID: &str = "INSTANCE_ID";
/// Request/reply correlation id.
pub const CORRELATION_ID: &str = "CORRELATION_ID";
/// Client id a reply goes to.
pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
/// Time to live of a request, ms.
pub const TTL: &str = "TTL";
/// Arrival time of a reply.
pub const ARRIVE_TIME: &str = "ARRIVE_TIME";
/// Message type (`reply`).
pub const MSG_TYPE: &str = "MSG_TYPE";
/// When the broker pushed a reply to its requester, epoch ms (added to PUSH_REPLY_MESSAGE_TO_CLIENT).
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
/// Cluster name the broker adds to every stored message.
pub const CLUSTER: &str = "CLUSTER";
/// Inner message count of an inner batch.
pub const INNER_NUM: &str = "INNER_NUM";
/// Base queue offset of an inner batch.
pub const INNER_BASE: &str = "INNER_BASE";
/// Original topic of a dead-lettered message.
pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
/// Original message id of a dead-lettered message.
pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";
/// Ordering key (5.x FIFO/proxy).
pub const SHARDING_KEY: &str = "__SHARDINGKEY";
/// Absolute delivery time, epoch ms (5.x timer).
pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
/// Relative delay in seconds (5.x timer).
pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
/// Relative delay in ms (5.x timer).
pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
/// Timer bookkeeping: when it fires.
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
/// Timer bookkeeping: enqueue time.
pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
/// Timer bookkeeping: dequeue time.
pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
/// Timer bookkeeping: roll count.
pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
/// Timer bookkeeping: uniq key of a deleted timer.
pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
/// Timer bookkeeping: delay level.
pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
/// Born host as a string (5.x).
pub const BORN_HOST: &str = "__BORNHOST";
/// Born timestamp as a string (5.x).
pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
/// First pop time (5.x pop consumption).
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
/// Pop checkpoint marker; the broker strips it from incoming sends.
pub const POP_CK: &str = "POP_CK";
/// Alibaba-cloud ONS delivery time (only recognised for metrics by Apache).
pub const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";
/// Optional 5.x stored-properties CRC; ignore it when reading.
pub const CRC32: &str = "__CRC32#";

/// The keys Java reserves for the system (`MessageConst.STRING_HASH_SET`): `Message.putUserProperty` refuses
/// them, and what is left of a message's properties are its user properties.
pub const SYSTEM_KEYS: &[&str] = &[
    TRACE_SWITCH,
    MSG_REGION,
    KEYS,
    TAGS,
    WAIT_STORE_MSG_OK,
    DELAY_TIME_LEVEL,
    RETRY_TOPIC,
    REAL_TOPIC,
    REAL_QUEUE_ID,
    TRANSACTION_PREPARED,
    PRODUCER_GROUP,
    MIN_OFFSET,
    MAX_OFFSET,
    BUYER_ID,
    ORIGIN_MESSAGE_ID,
    TRANSFER_FLAG,
    CORRECTION_FLAG,
    MQ2_FLAG,
    RECONSUME_TIME,
    UNIQ_KEY,
    MAX_RECONSUME_TIMES,
    CONSUME_START_TIMESTAMP,
    POP_CK,
    "POP_CK_OFFSET",
    FIRST_POP_TIME,
    TRANSACTION_PREPARED_QUEUE_OFFSET,
    "DUP_INFO",
    "EXTEND_UNIQ_INFO",
    INSTANCE_ID,
    CORRELATION_ID,
    REPLY_TO_CLIENT,
    TTL,
    ARRIVE_TIME,
    PUSH_REPLY_TIME,
    CLUSTER,
    MSG_TYPE,
    "INNER_MULTI_QUEUE_OFFSET",
    TIMER_DELAY_SEC,
    TIMER_DELIVER_MS,
    TIMER_ENQUEUE_MS,
    TIMER_DEQUEUE_MS,
    TIMER_ROLL_TIMES,
    TIMER_OUT_MS,
    TIMER_DEL_UNIQKEY,
    TIMER_DELAY_LEVEL,
    BORN_HOST,
    BORN_TIMESTAMP,
];

/// The keys of a `KEYS` value: split on [`KEY_SEPARATOR`], empty parts skipped (what every reader of KEYS
/// means by "the message keys").
pub fn split_keys(value: &str) -> impl Iterator<Item = &str> {
    value.split(KEY_SEPARATOR).filter(|k| !k.is_empty())
}

/// Whether `key` is one of Java's system property keys ([`SYSTEM_KEYS`]).
pub fn is_system(key: &str) -> bool {
    SYSTEM_KEYS.contains(&key)
}

/// Decoded properties in wire order; duplicates are kept and lookups return the last one.
///
/// A `Vec` rather than a `HashMap` because messages carry a handful of properties: a linear scan is faster
/// than hashing, order survives a re-encode, and duplicates stay visible.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    pairs: Vec<(String, String)>,
}

impl Properties {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a properties string ([module docs](self) for the rules).
    pub fn parse(s: &str) -> Self {
        Self { pairs: decode(s) }
    }

    /// The value of `key` (the last one if it occurs several times).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    /// Sets `key`, replacing every earlier occurrence (so the set has no duplicate of it afterwards).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        if let Some(pos) = self.pairs.iter().position(|(k, _)| *k == key) {
            // Everything before `pos` survives, so `pos` is still a valid insertion point.
            self.pairs.retain(|(k, _)| *k != key);
            self.pairs.insert(pos, (key, value));
        } else {
            self.pairs.push((key, value));
        }
    }

    /// Removes every occurrence of `key` and returns the last value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let mut last = None;
        self.pairs.retain_mut(|(k, v)| {
            if k == key {
                last = Some(std::mem::take(v));
                false
            } else {
                true
            }
        });
        last
    }

    /// All pairs in wire order, duplicates included.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Number of pairs (duplicates counted).
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there is no pair.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Encodes back to the wire string.
    pub fn encode(&self) -> String {
        encode(&self.pairs)
    }

    /// Iterates over pairs in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl From<Vec<(String, String)>> for Properties {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            pairs: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

/// Encodes pairs as `name 0x01 value 0x02 ...`, in the given order.
///
/// Pairs with an empty name or value are written too (Java writes them) but will not survive a decode.
pub fn encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let len = pairs
        .iter()
        .map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 2)
        .sum();
    let mut out = String::with_capacity(len);
    for (k, v) in pairs {
        encode_pair_into(&mut out, k.as_ref(), v.as_ref());
    }
    out
}

/// Encodes a map (any iterator of pairs); the map's iteration order becomes the wire order.
pub fn encode_map<'a, I>(map: I) -> String
where
    I: IntoIterator<Item = (&'a String, &'a String)>,
{
    let mut out = String::new();
    for (k, v) in map {
        encode_pair_into(&mut out, k, v);
    }
    out
}

/// Appends one `name 0x01 value 0x02` pair to an encoded string (the broker uses it to add CLUSTER etc.).
pub fn encode_pair_into(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push(NAME_VALUE_SEPARATOR);
    out.push_str(value);
    out.push(PROPERTY_SEPARATOR);
}

/// Decodes a properties string into pairs in wire order (Java rules, see the [module docs](self)).
pub fn decode(s: &str) -> Vec<(String, String)> {
    iter_pairs(s)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Iterates the valid pairs of a properties string without allocating.
pub fn iter_pairs(s: &str) -> impl Iterator<Item = (&str, &str)> {
    s.split(PROPERTY_SEPARATOR).filter_map(|seg| {
        let (k, v) = seg.split_once(NAME_VALUE_SEPARATOR)?;
        (!k.is_empty() && !v.is_empty()).then_some((k, v))
    })
}

/// Looks up one key in an encoded properties string without decoding the rest (last occurrence wins).
///
/// Byte-wise: the broker calls this several times for every stored message (tags, keys, unique key, delay), and
/// the `str::split` version was 13% of the broker's CPU in a batch-send profile.
pub fn find<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let (b, k) = (s.as_bytes(), key.as_bytes());
    // Pair keys end at the first NAME_VALUE_SEPARATOR, so a key holding a separator never matches.
    if k.is_empty() || k.iter().any(|&c| c == 1 || c == 2) {
        return None;
    }
    let mut found = None;
    let mut start = 0;
    while start < b.len() {
        let end = b[start..]
            .iter()
            .position(|&c| c == 2)
            .map_or(b.len(), |p| start + p);
        let seg = &b[start..end];
        if seg.len() > k.len() + 1 && seg[k.len()] == 1 && seg.starts_with(k) {
            // Separators are ASCII, so these are char boundaries.
            found = Some(&s[start + k.len() + 1..end]);
        }
        start = end + 1;
    }
    found
}

/// The definition [`find`] must agree with.
#[cfg(test)]
fn find_by_pairs<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    iter_pairs(s)
        .filter(|(k, _)| *k == key)
        .last()
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn find_agrees_with_the_pair_iterator(
            parts in proptest::collection::vec("[ab\u{1}\u{2}é]{0,4}", 0..8),
            key in "[ab\u{1}é]{0,2}",
        ) {
            let s = parts.concat();
            prop_assert_eq!(find(&s, &key), find_by_pairs(&s, &key));
        }
    }

    #[test]
    fn encode_layout() {
        let s = encode(&[("TAGS", "TagA"), ("KEYS", "k1 k2")]);
        assert_eq!(s, "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}");
    }

    #[test]
    fn decode_drops_empty_and_malformed() {
        let s = "A\u{1}1\u{2}\u{1}x\u{2}B\u{1}\u{2}noseparator\u{2}C\u{1}a\u{1}b\u{2}D\u{1}4";
        let p = decode(s);
        assert_eq!(
            p,
            vec![
                ("A".into(), "1".into()),
                ("C".into(), "a\u{1}b".into()),
                ("D".into(), "4".into())
            ]
        );
    }

    #[test]
    fn last_duplicate_wins() {
        let p = Properties::parse("UNIQ_KEY\u{1}inner\u{2}TAGS\u{1}t\u{2}UNIQ_KEY\u{1}batch\u{2}");
        assert_eq!(p.get(UNIQ_KEY), Some("batch"));
        assert_eq!(find(&p.encode(), UNIQ_KEY), Some("batch"));
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn insert_replaces_all_and_remove() {
        let mut p = Properties::parse("A\u{1}1\u{2}B\u{1}2\u{2}A\u{1}3\u{2}");
        p.insert("A", "9");
        assert_eq!(
            p.pairs(),
            &[("A".into(), "9".into()), ("B".into(), "2".into())]
        );
        p.insert("C", "x");
        assert_eq!(p.remove("A"), Some("9".into()));
        assert_eq!(p.encode(), "B\u{1}2\u{2}C\u{1}x\u{2}");
        assert!(p.remove("Z").is_none());
    }

    fn name() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_#% é中]{1,12}"
    }

    proptest! {
        #[test]
        fn roundtrip(pairs in proptest::collection::vec((name(), name()), 0..10)) {
            let s = encode(&pairs);
            prop_assert_eq!(decode(&s), pairs.clone());
            let p = Properties::parse(&s);
            for (k, _) in &pairs {
                let want = pairs.iter().rev().find(|(k2, _)| k2 == k).map(|(_, v)| v.as_str());
                prop_assert_eq!(p.get(k), want);
            }
        }

        #[test]
        fn decode_never_panics(s in ".{0,64}") {
            let _ = decode(&s);
        }
    }
}
