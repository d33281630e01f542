//! The message properties codec (`rmq_protocol::message::properties`): `decode`/`Properties::parse`, the
//! allocation-free `iter_pairs` and the byte-wise `find` the broker uses on every stored message.
//!
//! The input is the properties string (lossily UTF-8) with an optional key to look up after the last NUL.
//! Checks: no panic; `find` agrees with the last matching pair for the given key and every key present;
//! encode then parse gives the same pairs; `insert` and `remove` leave no duplicate of the key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_protocol::message::properties::{self, Properties};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (s, key) = text.rsplit_once('\0').unwrap_or((&text, "TAGS"));
    let parsed = Properties::parse(s);
    assert_eq!(parsed.pairs().len(), properties::iter_pairs(s).count());
    let last = |k: &str| {
        properties::iter_pairs(s)
            .filter(|(name, _)| *name == k)
            .last()
            .map(|(_, v)| v)
    };
    assert_eq!(properties::find(s, key), last(key), "find({key:?})");
    assert_eq!(parsed.get(key), last(key));
    for (k, v) in parsed.iter().take(16) {
        assert_eq!(properties::find(s, k), parsed.get(k), "find({k:?})");
        assert!(parsed.contains(k));
        let _ = v;
    }
    let encoded = parsed.encode();
    assert_eq!(
        Properties::parse(&encoded),
        parsed,
        "encode/parse round trip"
    );
    let mut edited = parsed.clone();
    if !key.is_empty() {
        edited.insert(key, "v");
        assert_eq!(edited.pairs().iter().filter(|(k, _)| k == key).count(), 1);
        assert_eq!(edited.remove(key).as_deref(), Some("v"));
        assert!(!edited.contains(key));
    }
});
