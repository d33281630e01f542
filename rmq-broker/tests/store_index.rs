//! Lookup by key: KEYS entries and UNIQ_KEY, time ranges, hash collisions, restart and crash.

mod store_util;

use rmq_broker::store::FlushDiskType;
use rmq_protocol::message::properties;
use store_util::*;

fn with_uniq(
    mut m: rmq_broker::store::MessageToStore,
    uniq: &str,
) -> rmq_broker::store::MessageToStore {
    properties::encode_pair_into(&mut m.properties, properties::UNIQ_KEY, uniq);
    m
}

#[tokio::test]
async fn query_by_key_uniq_key_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), FlushDiskType::Async);
    let store = open(cfg.clone()).await;
    let mut rs = Vec::new();
    for i in 0..300usize {
        // 300 messages × 2-3 keys over 200-entry index files: several files, many collisions in 64 slots.
        let keys = format!("order-{} shared-{}", i, i % 10);
        let m = with_uniq(
            msg("IdxT", 0, &body(i, 80), "", &keys),
            &format!("UNIQ{i:04}"),
        );
        rs.push(store.put_message(m).await.unwrap());
    }
    // Another topic with the same keys must not show up.
    store
        .put_message(msg("Other", 0, b"o", "", "order-7"))
        .await
        .unwrap();
    assert!(store.stats().index_files >= 3);

    let check = |store: &rmq_broker::store::MessageStore| {
        let r = store.query_messages("IdxT", "order-7", 32, 0, i64::MAX);
        assert_eq!(r.messages.len(), 1);
        assert_eq!(decode(&r.messages[0]).commit_log_offset, rs[7].phys_offset);
        assert!(r.index_last_update_phy_offset >= rs[299].phys_offset);
        assert!(r.index_last_update_timestamp >= rs[299].store_timestamp);

        let r = store.query_messages("IdxT", "UNIQ0123", 32, 0, i64::MAX);
        assert_eq!(r.messages.len(), 1);
        assert_eq!(
            decode(&r.messages[0]).property(properties::UNIQ_KEY),
            Some("UNIQ0123")
        );

        let r = store.query_messages("IdxT", "shared-3", 100, 0, i64::MAX);
        assert_eq!(r.messages.len(), 30);
        let offsets: Vec<i64> = r
            .messages
            .iter()
            .map(|m| decode(m).commit_log_offset)
            .collect();
        assert!(offsets.windows(2).all(|w| w[0] > w[1]), "newest first");
        assert_eq!(
            store
                .query_messages("IdxT", "shared-3", 5, 0, i64::MAX)
                .messages
                .len(),
            5
        );

        assert!(store
            .query_messages("IdxT", "order-1000", 32, 0, i64::MAX)
            .messages
            .is_empty());
        assert!(store
            .query_messages("IdxT", "order-7", 32, 0, 1000)
            .messages
            .is_empty());
        let t = rs[7].store_timestamp;
        assert_eq!(
            store
                .query_messages("IdxT", "order-7", 32, t, t)
                .messages
                .len(),
            1
        );
        assert_eq!(
            store
                .query_messages("Other", "order-7", 32, 0, i64::MAX)
                .messages
                .len(),
            1
        );
    };
    check(&store);
    store.shutdown().await.unwrap();
    drop(store);

    let store = open(cfg.clone()).await;
    check(&store);
    drop(store); // crash: the active index file's slots are rebuilt from its entries
    let store = open(cfg.clone()).await;
    check(&store);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn index_is_rebuilt_when_lost() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), FlushDiskType::Async);
    let store = open(cfg.clone()).await;
    for i in 0..50usize {
        store
            .put_message(msg("Lost", 0, &body(i, 50), "", &format!("k{i}")))
            .await
            .unwrap();
    }
    drop(store);
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    std::fs::remove_file(dir.path().join("checkpoint")).unwrap();
    let store = open(cfg).await;
    for i in [0usize, 25, 49] {
        assert_eq!(
            store
                .query_messages("Lost", &format!("k{i}"), 4, 0, i64::MAX)
                .messages
                .len(),
            1
        );
    }
    store.shutdown().await.unwrap();
}
