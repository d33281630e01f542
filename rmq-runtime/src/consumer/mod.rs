//! The push consumer's building blocks that need no network: queue allocation, the per-queue message buffer
//! and offset storage.
//!
//! - [`allocate`]: which queues this client owns in its group ([`AllocateStrategy`], Java-compatible);
//! - `process_queue`: pulled, unacknowledged messages of one queue and the offset safe to commit;
//! - [`offset_store`]: consume progress in memory, and on local disk for broadcasting consumers.

pub mod allocate;
mod fastjson;
pub mod offset_store;
#[allow(
    dead_code,
    reason = "used by the push consumer's pull and consume services, which build on it"
)]
pub(crate) mod process_queue;

pub use allocate::{AllocateStrategy, Averagely, AveragelyByCircle};
pub use offset_store::{LocalFileOffsetStore, OffsetStoreError, OffsetTable};
