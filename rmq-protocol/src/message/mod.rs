//! Message encodings shared by broker, store and client (docs/protocol.md §3).
//!
//! - [`stored`]: the CommitLog record = one element of a pull/query/view response body, [`MessageExt`].
//! - [`batch`]: the SEND_BATCH_MESSAGE body.
//! - [`properties`]: the properties string codec and the well-known keys.
//! - [`msg_id`]: offset msg ids and the UNIQ_KEY generator.
//! - [`sysflag`]: MessageSysFlag, PullSysFlag and permission bits.
//! - [`tag`]: the consume-queue tag code (Java `String.hashCode`).

pub mod batch;
pub mod msg_id;
pub mod properties;
pub mod stored;
pub mod sysflag;
pub mod tag;

pub use batch::{decode_batch, encode_batch, BatchEntry};
pub use msg_id::{create_offset_msg_id, decode_offset_msg_id, UniqIdGenerator};
pub use properties::Properties;
pub use stored::{
    decode_all, decode_stored, encode_stored, peek, MessageExt, Peek, RecordView, StoredRecord,
};
pub use tag::tag_hash_code;
