//! SQL92 selector micro-benchmarks: the per-message cost a SQL92 subscription adds to a pull, and the
//! one-off parse cost at subscribe time.
//!
//! - `eval/<selector>/map`: evaluation against a `HashMap` of the message's properties.
//! - `eval/<selector>/wire`: evaluation with each property looked up in the encoded properties string
//!   (`name 0x01 value 0x02 ...`) by `rmq_protocol::message::properties::find`, as the broker does for a
//!   stored record (`RecordView::property`).
//! - `parse/<selector>`: [`Selector::parse`].
//!
//! The message carries the properties a Java producer and the broker write (KEYS, UNIQ_KEY, WAIT, TAGS,
//! CLUSTER) besides the user properties the selectors read, so lookups scan a realistic list.
//!
//! Run: `cargo bench -p rmq-filter --bench sql92`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rmq_filter::Selector;
use rmq_protocol::message::properties;

/// (bench name, expression); every one matches [`PROPERTIES`].
const SELECTORS: [(&str, &str); 4] = [
    ("gt_and_eq", "a > 5 AND b = 'x'"),
    ("between_or_in", "a BETWEEN 1 AND 10 OR c IN ('p','q')"),
    ("is_not_null", "x IS NOT NULL"),
    (
        "order_routing",
        "(region = 'eu-west' OR region = 'us-east') AND amount BETWEEN 100 AND 500 \
         AND TAGS <> 'TagB' AND vip IS NOT NULL",
    ),
];

/// One message's properties, system ones first as they are stored.
const PROPERTIES: [(&str, &str); 11] = [
    ("KEYS", "order-00000042"),
    ("UNIQ_KEY", "7F00000100002A9F00000000002A"),
    ("WAIT", "true"),
    ("TAGS", "TagA"),
    ("CLUSTER", "DefaultCluster"),
    ("a", "7"),
    ("b", "x"),
    ("c", "q"),
    ("x", "present"),
    ("region", "eu-west"),
    ("amount", "129"),
];

/// Extra user property read by `order_routing`, kept last so the scan walks the whole string.
const VIP: (&str, &str) = ("vip", "gold");

/// The properties string as stored: `name 0x01 value 0x02` per pair.
fn wire_string() -> String {
    let pairs: Vec<(&str, &str)> = PROPERTIES
        .iter()
        .chain(std::iter::once(&VIP))
        .copied()
        .collect();
    properties::encode(&pairs)
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(40)
        .nresamples(20_000)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
}

fn eval_benches(c: &mut Criterion) {
    let map: HashMap<&str, &str> = PROPERTIES
        .iter()
        .chain(std::iter::once(&VIP))
        .copied()
        .collect();
    let wire = wire_string();
    let mut g = c.benchmark_group("eval");
    g.throughput(Throughput::Elements(1));
    for (name, expr) in SELECTORS {
        let selector = Selector::parse(expr).expect("bench selector parses");
        assert!(
            selector.matches(&|k| map.get(k).copied()),
            "{name} must match the bench message"
        );
        assert!(selector.matches(&|k| properties::find(&wire, k)));
        g.bench_function(format!("{name}/map"), |b| {
            b.iter(|| black_box(&selector).matches(&|k| map.get(k).copied()))
        });
        g.bench_function(format!("{name}/wire"), |b| {
            b.iter(|| black_box(&selector).matches(&|k| properties::find(black_box(&wire), k)))
        });
    }
    g.finish();
}

fn parse_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (name, expr) in SELECTORS {
        g.throughput(Throughput::Bytes(expr.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| Selector::parse(black_box(expr)).expect("parses"))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = eval_benches, parse_benches
}
criterion_main!(benches);
