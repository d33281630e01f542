//! Message filtering for pulls: TAG expressions by ConsumeQueue tag code, SQL92 selectors by the stored
//! record's properties (RocketMQ's `ExpressionMessageFilter` and `ConsumerFilterManager`).
//!
//! A SQL92 expression is compiled once per (group, topic) and subscription version, when the heartbeat
//! carrying it arrives (or at the first pull that needs it), and kept in the [`SelectorCache`]; an expression
//! that does not parse is kept too, as its error, so every pull for that subscription is refused with the
//! position of the problem while the heartbeat itself still succeeds (as in RocketMQ).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use rmq_filter::{Selector, SyntaxError};
use rmq_protocol::body::SubscriptionData;
use rmq_protocol::message::stored::parse_view;
use rmq_protocol::message::tag::tag_hash_code;

/// Whether a subscription's `expressionType` is SQL92 (anything else is treated as TAG).
pub fn is_sql92(expression_type: &str) -> bool {
    expression_type.eq_ignore_ascii_case("SQL92")
}

/// Which consume-queue tag codes a pull accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagFilter {
    /// `*` or empty: everything.
    All,
    /// `a || b`: tag hash codes (collisions are re-checked by the client, as in RocketMQ).
    Codes(HashSet<i64>),
}

impl TagFilter {
    /// Parses a TAG expression: `*`, empty, or tags separated by `||`.
    pub fn parse(expression: &str) -> TagFilter {
        let expr = expression.trim();
        if expr.is_empty() || expr == "*" {
            return TagFilter::All;
        }
        TagFilter::Codes(
            expr.split("||")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(tag_hash_code)
                .collect(),
        )
    }

    /// From a heartbeat subscription, using its code set when present.
    pub fn from_subscription(sub: &SubscriptionData) -> TagFilter {
        if sub.sub_string.trim() == "*" || sub.sub_string.trim().is_empty() {
            TagFilter::All
        } else if !sub.code_set.is_empty() {
            TagFilter::Codes(sub.code_set.iter().map(|c| i64::from(*c)).collect())
        } else {
            TagFilter::parse(&sub.sub_string)
        }
    }

    /// Whether a consume-queue entry with this tag code is delivered.
    pub fn accepts(&self, tag_code: i64) -> bool {
        match self {
            TagFilter::All => true,
            TagFilter::Codes(codes) => codes.contains(&tag_code),
        }
    }
}

/// What one pull keeps: the tag-code prefilter, plus a SQL92 selector checked on each candidate record.
#[derive(Debug, Clone)]
pub struct MessageFilter {
    tags: TagFilter,
    sql: Option<Selector>,
}

impl MessageFilter {
    /// A TAG subscription: tag codes only.
    pub fn tags(tags: TagFilter) -> Self {
        MessageFilter { tags, sql: None }
    }

    /// A SQL92 subscription: every tag code passes and each record is checked against `selector`.
    pub fn sql92(selector: Selector) -> Self {
        MessageFilter {
            tags: TagFilter::All,
            sql: Some(selector),
        }
    }

    /// Whether records must be read before deciding (SQL92).
    pub fn needs_record(&self) -> bool {
        self.sql.is_some()
    }

    /// The ConsumeQueue stage: whether a record with this tag code is a candidate.
    pub fn accepts_tag_code(&self, tag_code: i64) -> bool {
        self.tags.accepts(tag_code)
    }

    /// The record stage: whether the stored record's properties satisfy the selector (always true without
    /// one). A record that does not parse, or whose evaluation fails, does not match (RocketMQ logs and
    /// skips it).
    pub fn accepts_record(&self, record: &[u8]) -> bool {
        let Some(selector) = &self.sql else {
            return true;
        };
        match parse_view(record) {
            Ok(view) => selector.matches(&|name| view.property(name)),
            Err(_) => false,
        }
    }
}

/// One compiled subscription expression.
#[derive(Debug)]
struct Compiled {
    version: i64,
    expression: String,
    selector: Result<Selector, SyntaxError>,
}

/// Compiled SQL92 selectors by (consumer group, topic), each for one subscription version and expression.
#[derive(Debug, Default)]
pub struct SelectorCache {
    entries: RwLock<HashMap<(String, String), Compiled>>,
    compilations: AtomicU64,
}

impl SelectorCache {
    /// The selector of `group`'s subscription to `topic` at `version`, compiling `expression` only if the
    /// cache does not already hold this version of it. An older cached version is replaced; a newer one is
    /// kept (a late heartbeat must not roll a subscription back), and the caller still gets its own result.
    ///
    /// # Errors
    /// The [`SyntaxError`] of an expression that does not parse (remembered like a valid one).
    pub fn register(
        &self,
        group: &str,
        topic: &str,
        version: i64,
        expression: &str,
    ) -> Result<Selector, SyntaxError> {
        let key = (group.to_owned(), topic.to_owned());
        if let Some(c) = self.entries.read().get(&key) {
            if c.version == version && c.expression == expression {
                return c.selector.clone();
            }
        }
        self.compilations.fetch_add(1, Ordering::Relaxed);
        let selector = Selector::parse(expression);
        let mut entries = self.entries.write();
        let newer_cached = entries.get(&key).is_some_and(|c| c.version > version);
        if !newer_cached {
            entries.insert(
                key,
                Compiled {
                    version,
                    expression: expression.to_owned(),
                    selector: selector.clone(),
                },
            );
        }
        selector
    }

    /// Forgets `group`'s selector for `topic` (its subscription went back to TAG).
    pub fn remove(&self, group: &str, topic: &str) {
        self.entries
            .write()
            .remove(&(group.to_owned(), topic.to_owned()));
    }

    /// How many times an expression was compiled (to check "once per subscription version").
    pub fn compilations(&self) -> u64 {
        self.compilations.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_protocol::message::stored::{encode_stored, StoredRecord};

    #[test]
    fn tag_expressions() {
        assert_eq!(TagFilter::parse("*"), TagFilter::All);
        assert_eq!(TagFilter::parse(""), TagFilter::All);
        let f = TagFilter::parse("TagA || TagB");
        assert!(f.accepts(2598919));
        assert!(f.accepts(2598920));
        assert!(!f.accepts(0));
    }

    #[test]
    fn compiled_once_per_version() {
        let cache = SelectorCache::default();
        assert!(cache.register("g", "t", 1, "a > 1").is_ok());
        assert!(cache.register("g", "t", 1, "a > 1").is_ok());
        assert_eq!(cache.compilations(), 1);
        let err = cache.register("g", "t", 2, "a >").expect_err("bad");
        assert_eq!(err.position, 3);
        assert!(cache.register("g", "t", 2, "a >").is_err());
        assert_eq!(cache.compilations(), 2);
        // A late heartbeat with an older version gets its own result but does not replace the newer entry.
        assert!(cache.register("g", "t", 1, "a > 1").is_ok());
        assert!(cache.register("g", "t", 2, "a >").is_err());
        assert_eq!(cache.compilations(), 3);
        cache.remove("g", "t");
        assert!(cache.register("g", "t", 2, "a >").is_err());
        assert_eq!(cache.compilations(), 4);
    }

    #[test]
    fn record_stage_reads_properties() {
        let props = "a\u{1}5\u{2}TAGS\u{1}x\u{2}";
        let rec = StoredRecord {
            body_crc: 0,
            queue_id: 0,
            flag: 0,
            queue_offset: 0,
            commit_log_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: "127.0.0.1:1".parse().expect("addr"),
            store_timestamp: 0,
            store_host: "127.0.0.1:2".parse().expect("addr"),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: b"body",
            topic: "T",
            properties: props,
        };
        let mut buf = bytes::BytesMut::new();
        encode_stored(&mut buf, &rec).expect("encodes");
        let f = MessageFilter::sql92(Selector::parse("a > 3 AND TAGS = 'x'").expect("parses"));
        assert!(f.needs_record() && f.accepts_tag_code(12345));
        assert!(f.accepts_record(&buf));
        let f = MessageFilter::sql92(Selector::parse("a > 7").expect("parses"));
        assert!(!f.accepts_record(&buf));
        assert!(!f.accepts_record(b"garbage"));
        assert!(MessageFilter::tags(TagFilter::All).accepts_record(b"garbage"));
    }
}
