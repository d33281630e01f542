//! Helpers shared by the `store_*` integration tests (included with `mod store_util;`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use rmq_broker::store::{FlushDiskType, MessageStore, MessageToStore, PutResult, StoreConfig};
use rmq_protocol::message::properties;
use rmq_protocol::message::{decode_stored, MessageExt};

/// Segment size used by tests: small enough to roll over often.
pub const SEG: u64 = 64 * 1024;

/// A small-file config rooted at `root`.
pub fn config(root: &Path, flush: FlushDiskType) -> StoreConfig {
    StoreConfig {
        root_dir: root.to_path_buf(),
        mapped_file_size_commit_log: SEG,
        consume_queue_entries_per_file: 50,
        flush_disk_type: flush,
        flush_interval_ms: 50,
        max_hash_slot_num: 64,
        max_index_num: 200,
        max_message_size: 16 * 1024,
        ..StoreConfig::default()
    }
}

/// Opens a store on a blocking thread, as the broker does.
pub async fn open(cfg: StoreConfig) -> Arc<MessageStore> {
    tokio::task::spawn_blocking(move || MessageStore::open(cfg))
        .await
        .expect("join")
        .expect("open store")
}

/// A message with a body, a tag and keys.
pub fn msg(topic: &str, queue_id: i32, body: &[u8], tag: &str, keys: &str) -> MessageToStore {
    let mut props = Vec::new();
    if !tag.is_empty() {
        props.push((properties::TAGS, tag));
    }
    if !keys.is_empty() {
        props.push((properties::KEYS, keys));
    }
    MessageToStore {
        topic: topic.to_owned(),
        queue_id,
        flag: 0,
        body: Bytes::copy_from_slice(body),
        properties: properties::encode(&props),
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.1.2.3:40000".parse().expect("addr"),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

/// A body that names its message.
pub fn body(i: usize, len: usize) -> Vec<u8> {
    let mut b = format!("msg-{i:06}-").into_bytes();
    b.resize(len.max(b.len()), b'a' + (i % 26) as u8);
    b
}

/// Decodes one raw record.
pub fn decode(raw: &Bytes) -> MessageExt {
    decode_stored(raw, true).expect("valid record").0
}

/// Pulls a whole queue from `from`, checking that queue offsets are consecutive.
pub fn pull_all(store: &MessageStore, topic: &str, queue_id: i32, from: i64) -> Vec<MessageExt> {
    let mut out = Vec::new();
    let mut offset = from;
    loop {
        let r = store.get_messages(topic, queue_id, offset, 32, 1 << 20, &|_| true);
        if r.messages.is_empty() {
            break;
        }
        for raw in &r.messages {
            let m = decode(raw);
            assert_eq!(m.topic, topic);
            assert_eq!(m.queue_id, queue_id);
            assert_eq!(
                m.queue_offset,
                offset + (out.len() as i64 - (offset - from)),
                "consecutive queue offsets"
            );
            out.push(m);
        }
        offset = r.next_begin_offset;
    }
    out
}

/// The CommitLog segment file holding `phys`.
pub fn segment_path(root: &Path, phys: i64) -> PathBuf {
    let start = phys as u64 - phys as u64 % SEG;
    root.join("commitlog").join(format!("{start:020}"))
}

/// Last record of a list of put results.
pub fn last(results: &[PutResult]) -> &PutResult {
    results
        .iter()
        .max_by_key(|r| r.phys_offset)
        .expect("non-empty")
}
