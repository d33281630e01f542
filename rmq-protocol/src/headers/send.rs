//! SEND_MESSAGE (10) / SEND_MESSAGE_V2 (310) / SEND_BATCH_MESSAGE (320) headers (docs/protocol.md §2.3.1).
//!
//! One struct, two spellings: code 10 uses Java's field names (`producerGroup`, …, broker name as `bname`), codes
//! 310/320/325 the single letters `a`..`n` of `SendMessageRequestHeaderV2`. [`CommandHeader`] uses V1;
//! [`SendMessageRequestHeader::from_command`] and [`SendMessageRequestHeader::to_command`] pick by code.

use std::collections::HashMap;

use super::{CommandHeader, ExtField, FieldKind, FieldSpec};
use crate::codes::request;
use crate::command::RemotingCommand;
use crate::error::Result;

/// A producer's send: target, flags and properties of the message in the body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageRequestHeader {
    /// Producer group. Java's broker only copies it into hook contexts and metrics labels: empty when absent.
    pub producer_group: String,
    /// Target topic.
    pub topic: String,
    /// Template topic for auto-create (Java sends `TBW102`). Java's broker reads it only when the topic does
    /// not exist: empty when absent (then no template matches and auto-create is refused).
    pub default_topic: String,
    /// Queue count for auto-create (Java: 4). Read by Java's broker only on auto-create: 0 when absent (the
    /// broker clamps to at least one queue).
    pub default_topic_queue_nums: i32,
    /// Target queue; < 0 lets the broker pick.
    pub queue_id: i32,
    /// MessageSysFlag bits.
    pub sys_flag: i32,
    /// Producer's epoch ms.
    pub born_timestamp: i64,
    /// User flag, stored verbatim.
    pub flag: i32,
    /// Properties string (docs/protocol.md §3.4).
    pub properties: Option<String>,
    /// Reconsume count, for sends to `%RETRY%` topics.
    pub reconsume_times: Option<i32>,
    /// Unit mode.
    pub unit_mode: Option<bool>,
    /// Max reconsume times, for sends to `%RETRY%` topics.
    pub max_reconsume_times: Option<i32>,
    /// True for SEND_BATCH_MESSAGE.
    pub batch: Option<bool>,
    /// Target broker name.
    pub broker_name: Option<String>,
}

/// Ext keys in field order: V1 names.
const V1_KEYS: [&str; 14] = [
    "producerGroup",
    "topic",
    "defaultTopic",
    "defaultTopicQueueNums",
    "queueId",
    "sysFlag",
    "bornTimestamp",
    "flag",
    "properties",
    "reconsumeTimes",
    "unitMode",
    "maxReconsumeTimes",
    "batch",
    "bname",
];

/// Ext keys in field order: V2 letters.
const V2_KEYS: [&str; 14] = [
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
];

impl SendMessageRequestHeader {
    /// Whether a send with this request code uses the V2 single-letter keys.
    pub fn uses_v2(code: i32) -> bool {
        matches!(
            code,
            request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE | request::SEND_REPLY_MESSAGE_V2
        )
    }

    /// Parses the header of a send command, choosing V1 or V2 keys by its code.
    ///
    /// # Errors
    /// As [`CommandHeader::from_ext`], naming the key of the spelling that was expected.
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self> {
        if Self::uses_v2(cmd.code) {
            Self::from_ext_v2(&cmd.ext_fields)
        } else {
            Self::from_ext(&cmd.ext_fields)
        }
    }

    /// A send request with this header, keys spelled as `code` requires.
    pub fn to_command(&self, code: i32) -> RemotingCommand {
        let ext = if Self::uses_v2(code) {
            self.to_ext_v2()
        } else {
            self.to_ext_v1()
        };
        RemotingCommand::request(code, ext)
    }

    /// Ext map with V1 (long) keys, as for code 10.
    pub fn to_ext_v1(&self) -> HashMap<String, String> {
        self.write_keys(&V1_KEYS)
    }

    /// Ext map with V2 (`a`..`n`) keys, as for codes 310/320.
    pub fn to_ext_v2(&self) -> HashMap<String, String> {
        self.write_keys(&V2_KEYS)
    }

    /// Parses V2 (`a`..`n`) keys; the broker name falls back to `bname` when `n` is absent.
    ///
    /// # Errors
    /// As [`CommandHeader::from_ext`].
    pub fn from_ext_v2(ext: &HashMap<String, String>) -> Result<Self> {
        let mut h = Self::read_keys(ext, &V2_KEYS)?;
        if h.broker_name.is_none() {
            h.broker_name = ExtField::read(ext, "bname")?;
        }
        Ok(h)
    }

    fn write_keys(&self, keys: &[&'static str; 14]) -> HashMap<String, String> {
        let [k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13] = *keys;
        let mut ext = HashMap::with_capacity(14);
        self.producer_group.write(&mut ext, k0);
        self.topic.write(&mut ext, k1);
        self.default_topic.write(&mut ext, k2);
        self.default_topic_queue_nums.write(&mut ext, k3);
        self.queue_id.write(&mut ext, k4);
        self.sys_flag.write(&mut ext, k5);
        self.born_timestamp.write(&mut ext, k6);
        self.flag.write(&mut ext, k7);
        self.properties.write(&mut ext, k8);
        self.reconsume_times.write(&mut ext, k9);
        self.unit_mode.write(&mut ext, k10);
        self.max_reconsume_times.write(&mut ext, k11);
        self.batch.write(&mut ext, k12);
        self.broker_name.write(&mut ext, k13);
        ext
    }

    fn read_keys(ext: &HashMap<String, String>, keys: &[&'static str; 14]) -> Result<Self> {
        let [k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13] = *keys;
        Ok(SendMessageRequestHeader {
            producer_group: ExtField::read_or(ext, k0, String::new())?,
            topic: ExtField::read(ext, k1)?,
            default_topic: ExtField::read_or(ext, k2, String::new())?,
            default_topic_queue_nums: ExtField::read_or(ext, k3, 0)?,
            queue_id: ExtField::read(ext, k4)?,
            sys_flag: ExtField::read(ext, k5)?,
            born_timestamp: ExtField::read(ext, k6)?,
            flag: ExtField::read(ext, k7)?,
            properties: ExtField::read(ext, k8)?,
            reconsume_times: ExtField::read(ext, k9)?,
            unit_mode: ExtField::read(ext, k10)?,
            max_reconsume_times: ExtField::read(ext, k11)?,
            batch: ExtField::read(ext, k12)?,
            broker_name: ExtField::read(ext, k13)?,
        })
    }
}

/// The V1 field table; V2 has the same kinds under its letters. `producerGroup`, `defaultTopic` and
/// `defaultTopicQueueNums` are `@CFNotNull` in Java but not dereferenced on an ordinary send, so they are not
/// required here.
const V1_FIELDS: [FieldSpec; 14] = {
    const fn f(key: &'static str, kind: FieldKind, required: bool) -> FieldSpec {
        FieldSpec {
            key,
            kind,
            required,
        }
    }
    use FieldKind::{Boolean, Int, Long, Str};
    [
        f(V1_KEYS[0], Str, false),
        f(V1_KEYS[1], Str, true),
        f(V1_KEYS[2], Str, false),
        f(V1_KEYS[3], Int, false),
        f(V1_KEYS[4], Int, true),
        f(V1_KEYS[5], Int, true),
        f(V1_KEYS[6], Long, true),
        f(V1_KEYS[7], Int, true),
        f(V1_KEYS[8], Str, false),
        f(V1_KEYS[9], Int, false),
        f(V1_KEYS[10], Boolean, false),
        f(V1_KEYS[11], Int, false),
        f(V1_KEYS[12], Boolean, false),
        f(V1_KEYS[13], Str, false),
    ]
};

impl CommandHeader for SendMessageRequestHeader {
    const EXT_KEYS: &'static [&'static str] = &V1_KEYS;
    const FIELDS: &'static [FieldSpec] = &V1_FIELDS;

    /// V1 keys; see [`SendMessageRequestHeader::to_ext_v2`] for codes 310/320.
    fn to_ext(&self) -> HashMap<String, String> {
        self.to_ext_v1()
    }

    /// V1 keys; see [`SendMessageRequestHeader::from_command`] to pick by code.
    fn from_ext(ext: &HashMap<String, String>) -> Result<Self> {
        Self::read_keys(ext, &V1_KEYS)
    }
}

ext_header! {
    /// The broker's answer to a send. The broker adds ext `MSG_REGION` and `TRACE_ON` itself.
    pub struct SendMessageResponseHeader {
        /// Offset message id (comma-joined for a batch). Java's client only stores it in the `SendResult`
        /// (`offsetMsgId`), so absence reads as empty.
        msg_id: String = String::new() => "msgId",
        /// Queue the message went to.
        queue_id: i32 => "queueId",
        /// Consume-queue offset (first of a batch).
        queue_offset: i64 => "queueOffset",
        /// Java sets it to the UNIQ_KEY.
        transaction_id: Option<String> => "transactionId",
        /// Only for inner-batch topics.
        batch_uniq_id: Option<String> => "batchUniqId",
        /// RocketMQ 5.3: the handle that recalls a delayed message (RECALL_MESSAGE).
        recall_handle: Option<String> => "recallHandle",
    }
}

ext_header! {
    /// RECALL_MESSAGE (370, RocketMQ 5.3): cancel a delayed message by the recall handle its send answered.
    pub struct RecallMessageRequestHeader {
        /// Producer group.
        producer_group: String = String::new() => "producerGroup",
        /// Topic of the message.
        topic: String => "topic",
        /// The handle.
        recall_handle: String => "recallHandle",
    }

    /// Answer to RECALL_MESSAGE.
    pub struct RecallMessageResponseHeader {
        /// UNIQ_KEY of the recalled message.
        msg_id: String => "msgId",
    }
}
