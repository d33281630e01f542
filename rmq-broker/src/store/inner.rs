//! [`StoreInner`]: the state shared by the API, the writer thread and the flush thread. Its behaviour is spread
//! over the modules that own each concern (`writer`, `flush`, `dispatch`, `recovery`, `read`, `cleanup`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};

use super::config::StoreConfig;
use super::consume_queue::ConsumeQueue;
use super::error::Result;
use super::index::IndexService;
use super::put_state::PutState;
use super::segment::SegmentSet;

/// State shared by the API, the writer thread and the flush thread.
pub(crate) struct StoreInner {
    pub(crate) cfg: StoreConfig,
    pub(crate) commitlog: SegmentSet,
    pub(crate) put: Mutex<PutState>,
    pub(crate) writer_cv: Condvar,
    pub(crate) space: tokio::sync::Notify,
    pub(crate) pending_bytes: AtomicUsize,
    pub(crate) written: AtomicI64,
    pub(crate) flushed: AtomicI64,
    pub(crate) dispatched: AtomicI64,
    pub(crate) index_persisted: AtomicI64,
    pub(crate) min_phys: AtomicI64,
    pub(crate) cqs: RwLock<HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>>,
    pub(crate) index: IndexService,
    pub(crate) put_count: AtomicU64,
    pub(crate) put_bytes: AtomicU64,
    pub(crate) disk_ratio_bits: AtomicU64,
    pub(crate) disk_full: AtomicBool,
}

impl StoreInner {
    pub(crate) fn find_cq(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.cqs.read().get(topic)?.get(&queue_id).cloned()
    }

    pub(crate) fn find_or_create_cq(
        &self,
        topic: &str,
        queue_id: i32,
    ) -> std::io::Result<Arc<ConsumeQueue>> {
        if let Some(cq) = self.find_cq(topic, queue_id) {
            return Ok(cq);
        }
        let mut w = self.cqs.write();
        if let Some(cq) = w.get(topic).and_then(|m| m.get(&queue_id)) {
            return Ok(cq.clone());
        }
        let dir = self
            .cfg
            .consume_queue_path()
            .join(topic)
            .join(queue_id.to_string());
        let cq = Arc::new(ConsumeQueue::open(
            self.cfg.fs.clone(),
            dir,
            topic,
            queue_id,
            self.cfg.consume_queue_entries_per_file,
        )?);
        w.entry(topic.to_owned())
            .or_default()
            .insert(queue_id, cq.clone());
        Ok(cq)
    }

    pub(crate) fn all_cqs(&self) -> Vec<Arc<ConsumeQueue>> {
        self.cqs
            .read()
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    pub(crate) fn load_cqs(&self) -> Result<()> {
        let fs = &self.cfg.fs;
        let root = self.cfg.consume_queue_path();
        fs.create_dir_all(&root)?;
        let mut map: HashMap<String, HashMap<i32, Arc<ConsumeQueue>>> = HashMap::new();
        for t in fs.list_dir(&root)? {
            if !t.is_dir {
                continue;
            }
            let topic = t.name;
            for q in fs.list_dir(&t.path)? {
                let Ok(qid) = q.name.parse::<i32>() else {
                    continue;
                };
                let cq = ConsumeQueue::open(
                    fs.clone(),
                    q.path,
                    &topic,
                    qid,
                    self.cfg.consume_queue_entries_per_file,
                )?;
                map.entry(topic.clone())
                    .or_default()
                    .insert(qid, Arc::new(cq));
            }
        }
        *self.cqs.write() = map;
        Ok(())
    }
}
