//! Typed write requests and outcomes: what a codec hands the [`WriteService`](super::WriteService) instead of
//! a wire command.

use std::net::SocketAddr;

use bytes::Bytes;
use rmq_protocol::message::properties::Properties;

use crate::broker::schedule::Deferral;
use crate::store::PutResult;

/// Who asks for a write; decides which pipeline steps apply (see the module docs of
/// [`write`](super)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A producer's send: redirect, deferral, half message and stamping all apply; counted.
    Send,
    /// A reply message: stored exactly as sent; counted.
    Reply,
    /// A consumer's send-back to its retry or dead-letter queue: deferred by its delay level; counted.
    SendBack,
    /// An operator's resend of a dead letter to its original topic: deferral applies; counted.
    DlqResend,
    /// A committed transactional message: deferred like a send, but an unusable delivery time only delays
    /// nothing (the producer already committed); not counted.
    Commit,
    /// A transaction op record: stamped with a UNIQ_KEY and the broker's own address; not counted.
    TransactionOp,
    /// A half message given up after `transactionCheckMax` checks; not counted.
    CheckDiscard,
    /// A delay-level or timer message put back on its real topic when due; not counted.
    Redelivery,
    /// A recall marker (`TIMER_DEL_UNIQKEY`): deferred to the delivery time of the message it cancels, where
    /// the timer drops both; not counted.
    Recall,
    /// A POP journal record (checkpoint or ack) in the revive topic: stored as given; not counted.
    PopJournal,
    /// An unacked POP message copied to its retry topic when its invisible time is up: stored as given; not
    /// counted.
    Revive,
}

impl Origin {
    /// Whether a producer's or consumer's request stands behind the write (runtime info and metrics count
    /// those, under the topic the request named).
    pub(crate) fn counted(self) -> bool {
        matches!(
            self,
            Origin::Send | Origin::Reply | Origin::SendBack | Origin::DlqResend
        )
    }
}

/// A message's properties: parsed when some step edits them, else the encoded string as received.
#[derive(Debug, Clone)]
pub enum Props {
    /// Parsed; encoded once right before the put.
    Parsed(Properties),
    /// Already encoded; stored unchanged (reply messages).
    Encoded(String),
}

impl Props {
    /// The parsed map, parsing an encoded string first (once).
    pub(crate) fn parsed(&mut self) -> &mut Properties {
        if let Props::Encoded(s) = self {
            *self = Props::Parsed(Properties::parse(s));
        }
        match self {
            Props::Parsed(p) => p,
            Props::Encoded(_) => unreachable!("just parsed"),
        }
    }

    /// The encoded string.
    pub(crate) fn encode(self) -> String {
        match self {
            Props::Parsed(p) => p.encode(),
            Props::Encoded(s) => s,
        }
    }
}

/// One message to store, as its writer describes it (before redirect, deferral and stamping).
#[derive(Debug, Clone)]
pub struct Message {
    /// Destination topic.
    pub topic: String,
    /// Destination queue.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Body as sent.
    pub body: Bytes,
    /// Properties.
    pub properties: Props,
    /// MessageSysFlag.
    pub sys_flag: i32,
    /// Producer timestamp, ms.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Reconsume count.
    pub reconsume_times: i32,
    /// Half-message offset for committed transactions, else 0.
    pub prepared_transaction_offset: i64,
}

/// What a stored message became.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Where the store put it.
    pub put: PutResult,
    /// Its UNIQ_KEY, when the pipeline looked at the properties.
    pub uniq_key: Option<String>,
    /// Whether (and where) it was parked for later delivery.
    pub deferral: Deferral,
    /// False when SYNC_FLUSH's sync did not finish within `syncFlushTimeout` (FLUSH_DISK_TIMEOUT).
    pub durable: bool,
    /// The recall handle of a producer's message parked on the timer.
    pub recall_handle: Option<String>,
}

/// One message of a batch send.
#[derive(Debug, Clone)]
pub struct BatchMessage {
    /// User flag.
    pub flag: i32,
    /// Body.
    pub body: Bytes,
    /// Encoded properties.
    pub properties: String,
}

/// What a producer sends.
#[derive(Debug, Clone)]
pub enum Payload {
    /// One message.
    Single {
        /// User flag.
        flag: i32,
        /// Body.
        body: Bytes,
        /// Encoded properties.
        properties: String,
    },
    /// Several messages for one queue; `uniq_key` is the batch's own UNIQ_KEY, if the producer set one.
    Batch {
        /// The messages.
        messages: Vec<BatchMessage>,
        /// UNIQ_KEY of the batch as a whole (answered as the transaction id).
        uniq_key: Option<String>,
    },
}

/// A producer's send (SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE, or a gRPC SendMessage).
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// Destination topic.
    pub topic: String,
    /// Requested queue; negative lets the broker choose.
    pub queue_id: i32,
    /// Template for auto-creating the topic (`TBW102`).
    pub default_topic: String,
    /// Queues an auto-created topic asks for.
    pub default_topic_queue_nums: i32,
    /// MessageSysFlag.
    pub sys_flag: i32,
    /// Producer timestamp, ms.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Reconsume count (retry sends carry one).
    pub reconsume_times: Option<i32>,
    /// The producer's limit on reconsumes (honoured from [`V3_4_9`](super::retry::V3_4_9) on).
    pub max_reconsume_times: Option<i32>,
    /// The client's protocol version.
    pub client_version: i32,
    /// The message(s).
    pub payload: Payload,
}

/// What a send stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// Offset message id; a batch's ids comma-joined.
    pub msg_id: String,
    /// The queue the producer addressed (or the broker chose).
    pub queue_id: i32,
    /// Queue offset (a batch's first).
    pub queue_offset: i64,
    /// UNIQ_KEY (a batch's own, if any).
    pub transaction_id: Option<String>,
    /// Written, but not synced within `syncFlushTimeout`: answered with FLUSH_DISK_TIMEOUT and these ids, as
    /// Java answers.
    pub flush_timed_out: bool,
    /// The recall handle of a message with a delivery time (RocketMQ 5.3).
    pub recall_handle: Option<String>,
}
