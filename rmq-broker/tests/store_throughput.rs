//! Throughput probe (ignored by default): `cargo test --release -p rmq-broker --test store_throughput -- --ignored --nocapture`.

mod store_util;

use std::time::Instant;

use rmq_broker::store::{FlushDiskType, StoreConfig};
use rmq_protocol::message::properties;
use store_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "performance probe"]
async fn put_throughput_1k() {
    for flush in [FlushDiskType::Async, FlushDiskType::Sync] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StoreConfig {
            flush_disk_type: flush,
            ..StoreConfig::with_root(dir.path())
        };
        let store = open(cfg).await;
        let tasks = 256;
        let per_task = 800;
        let t0 = Instant::now();
        let mut hs = Vec::new();
        for t in 0..tasks {
            let store = store.clone();
            hs.push(tokio::spawn(async move {
                for i in 0..per_task {
                    let mut m = msg("Perf", t % 8, &[b'x'; 1024], "TagA", &format!("k{t}-{i}"));
                    properties::encode_pair_into(
                        &mut m.properties,
                        properties::UNIQ_KEY,
                        "0A0000010000000000000000000000AB",
                    );
                    store.put_message(m).await.unwrap();
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        let n = tasks * per_task;
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{flush:?}: {n} puts in {secs:.2}s = {:.0} msg/s",
            n as f64 / secs
        );
        store.shutdown().await.unwrap();
    }
}
