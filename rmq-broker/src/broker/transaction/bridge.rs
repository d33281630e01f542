//! Conversions between what producers send and what the transaction topics hold (Java's
//! `TransactionalMessageBridge`): half records, the real message restored from one, op records, and the
//! check-back request.

use bytes::{Bytes, BytesMut};
use rmq_protocol::codes::request;
use rmq_protocol::headers::CheckTransactionStateRequestHeader;
use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::message::stored::{decode_stored, MessageExt};
use rmq_protocol::message::sysflag::{
    reset_transaction_value, TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE,
};
use rmq_protocol::RemotingCommand;

use super::error::TransactionError;
use super::names::{HALF_TOPIC, OP_REMOVE_TAG, OP_TOPIC};
use crate::broker::service::write::{Message, Props};

/// Whether a send's properties make it a half message (Java decides by `TRAN_MSG` alone).
pub fn is_half(props: &Properties) -> bool {
    props
        .get(properties::TRANSACTION_PREPARED)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A `CHECK_IMMUNITY_TIME_IN_SECONDS` value, when usable (Java treats -1, and we any negative or junk, as unset).
pub(crate) fn immunity_secs(value: Option<&str>) -> Option<i64> {
    value
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|s| *s >= 0)
}

/// Turns a prepared send into its half record (docs/protocol.md §4.5): the real topic and queue go into `REAL_TOPIC` /
/// `REAL_QID`, UNIQ_KEY is copied to `__transactionId__`, and the record goes to `RMQ_SYS_TRANS_HALF_TOPIC`
/// queue 0 with transaction type NOT_TYPE, so the store queues it there and nowhere else. Works on the
/// parsed properties, which the write service encodes once afterwards.
pub fn make_half(
    topic: &mut String,
    queue_id: &mut i32,
    sys_flag: &mut i32,
    props: &mut Properties,
) {
    if let Some(uniq) = props.get(properties::UNIQ_KEY).map(str::to_owned) {
        props.insert(properties::TRANSACTION_ID, uniq);
    }
    props.insert(properties::REAL_TOPIC, topic.as_str());
    props.insert(properties::REAL_QUEUE_ID, queue_id.to_string());
    *topic = HALF_TOPIC.to_owned();
    *queue_id = 0;
    *sys_flag = reset_transaction_value(*sys_flag, TRANSACTION_NOT_TYPE);
}

/// A half record read back and checked to be one.
#[derive(Debug, Clone)]
pub(crate) struct HalfRecord {
    /// The decoded record.
    pub msg: MessageExt,
    /// `REAL_TOPIC`.
    pub real_topic: String,
    /// `REAL_QID`.
    pub real_queue_id: i32,
}

impl HalfRecord {
    /// Decodes the raw record at CommitLog offset `phys` and checks it is a half message.
    pub(crate) fn parse(raw: &Bytes, phys: i64) -> Result<HalfRecord, TransactionError> {
        let (msg, _) = decode_stored(raw, true).map_err(|e| TransactionError::Corrupt {
            offset: phys,
            reason: e.to_string(),
        })?;
        if msg.topic != HALF_TOPIC {
            return Err(TransactionError::NotHalf {
                offset: phys,
                topic: msg.topic,
            });
        }
        let real_topic = msg
            .property(properties::REAL_TOPIC)
            .filter(|t| !t.is_empty())
            .ok_or(TransactionError::MissingProperty {
                offset: phys,
                name: properties::REAL_TOPIC,
            })?
            .to_owned();
        let real_queue_id = msg
            .property(properties::REAL_QUEUE_ID)
            .and_then(|q| q.parse().ok())
            .ok_or(TransactionError::MissingProperty {
                offset: phys,
                name: properties::REAL_QUEUE_ID,
            })?;
        Ok(HalfRecord {
            msg,
            real_topic,
            real_queue_id,
        })
    }

    /// `PGROUP`.
    pub(crate) fn producer_group(&self) -> Option<&str> {
        self.msg.property(properties::PRODUCER_GROUP)
    }

    /// `UNIQ_KEY` (the producer's message id).
    pub(crate) fn uniq_key(&self) -> Option<&str> {
        self.msg.property(properties::UNIQ_KEY)
    }

    /// The message as it becomes visible on commit: topic and queue restored, transaction type COMMIT,
    /// `preparedTransactionOffset` = the half record's offset, bookkeeping properties removed.
    pub(crate) fn committed(&self) -> Message {
        let mut props = self.msg.properties.clone();
        for key in [
            properties::REAL_TOPIC,
            properties::REAL_QUEUE_ID,
            properties::TRANSACTION_PREPARED,
            properties::TRANSACTION_CHECK_TIMES,
        ] {
            props.remove(key);
        }
        Message {
            topic: self.real_topic.clone(),
            queue_id: self.real_queue_id,
            flag: self.msg.flag,
            body: self.msg.body.clone(),
            properties: Props::Parsed(props),
            sys_flag: reset_transaction_value(self.msg.sys_flag, TRANSACTION_COMMIT_TYPE),
            born_timestamp: self.msg.born_timestamp,
            born_host: self.msg.born_host,
            reconsume_times: self.msg.reconsume_times,
            prepared_transaction_offset: self.msg.commit_log_offset,
        }
    }

    /// The record kept in `TRANS_CHECK_MAX_TIME_TOPIC` queue 0 when checks are exhausted (as Java's
    /// `DefaultTransactionalMessageCheckListener`): the half message unchanged apart from topic, queue and
    /// the final check count.
    pub(crate) fn discarded(&self, topic: &str, check_times: u32) -> Message {
        let mut props = self.msg.properties.clone();
        props.insert(properties::TRANSACTION_CHECK_TIMES, check_times.to_string());
        Message {
            topic: topic.to_owned(),
            queue_id: 0,
            flag: self.msg.flag,
            body: self.msg.body.clone(),
            properties: Props::Parsed(props),
            sys_flag: reset_transaction_value(self.msg.sys_flag, TRANSACTION_NOT_TYPE),
            born_timestamp: self.msg.born_timestamp,
            born_host: self.msg.born_host,
            reconsume_times: self.msg.reconsume_times,
            prepared_transaction_offset: 0,
        }
    }

    /// The half message as a check-back shows it to the producer: topic and queue restored to `REAL_TOPIC` /
    /// `REAL_QID`, the current check count in `TRANSACTION_CHECK_TIMES`.
    pub(crate) fn checked_message(&self, check_times: u32) -> MessageExt {
        let mut msg = self.msg.clone();
        msg.topic = self.real_topic.clone();
        msg.queue_id = self.real_queue_id;
        msg.properties
            .insert(properties::TRANSACTION_CHECK_TIMES, check_times.to_string());
        msg
    }

    /// CHECK_TRANSACTION_STATE (39, oneway) for this half message (docs/protocol.md §2.3.5): the header names the half
    /// record by queue and CommitLog offset; the body is the record re-encoded with topic and queue restored
    /// to `REAL_TOPIC` / `REAL_QID` and the current check count.
    pub(crate) fn check_request(
        &self,
        broker_name: &str,
        check_times: u32,
    ) -> Result<RemotingCommand, TransactionError> {
        let uniq = self.uniq_key().map(str::to_owned);
        let header = CheckTransactionStateRequestHeader {
            topic: Some(self.real_topic.clone()),
            tran_state_table_offset: self.msg.queue_offset,
            commit_log_offset: self.msg.commit_log_offset,
            msg_id: uniq.clone(),
            transaction_id: uniq,
            offset_msg_id: Some(self.msg.offset_msg_id()),
            broker_name: Some(broker_name.to_owned()),
        };
        let body_msg = self.checked_message(check_times);
        let mut body = BytesMut::new();
        body_msg
            .encode(&mut body)
            .map_err(|e| TransactionError::Corrupt {
                offset: self.msg.commit_log_offset,
                reason: e.to_string(),
            })?;
        let mut cmd = RemotingCommand::request_with(request::CHECK_TRANSACTION_STATE, &header)
            .with_body(body.freeze())
            .into_oneway();
        cmd.opaque = crate::remoting::server::next_request_opaque();
        Ok(cmd)
    }
}

/// The op record that marks half message `half_offset` as done (docs/protocol.md §4.5): topic
/// `RMQ_SYS_TRANS_OP_HALF_TOPIC`, the half queue's id (0), tag `d`, body = the offset in decimal and a comma.
/// The write service stamps its UNIQ_KEY, born time and born host (the broker itself).
pub(crate) fn op_message(half_offset: i64) -> Message {
    let mut props = Properties::new();
    props.insert(properties::TAGS, OP_REMOVE_TAG);
    props.insert(properties::WAIT_STORE_MSG_OK, "false");
    Message {
        topic: OP_TOPIC.to_owned(),
        queue_id: 0,
        flag: 0,
        body: Bytes::from(format!("{half_offset},")),
        properties: Props::Parsed(props),
        sys_flag: 0,
        born_timestamp: 0,
        born_host: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

/// The half offsets an op record body names (Java 5.x may comma-join several); junk is skipped.
pub(crate) fn parse_op_body(body: &[u8]) -> Vec<i64> {
    String::from_utf8_lossy(body)
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MessageToStore;
    use rmq_protocol::message::stored::{body_crc, encode_stored, StoredRecord};

    fn half_message(mut m: MessageToStore) -> MessageToStore {
        let mut props = Properties::parse(&m.properties);
        make_half(&mut m.topic, &mut m.queue_id, &mut m.sys_flag, &mut props);
        m.properties = props.encode();
        m
    }

    fn send(props: &str) -> MessageToStore {
        MessageToStore {
            topic: "Orders".into(),
            queue_id: 3,
            flag: 7,
            body: Bytes::from_static(b"hello"),
            properties: props.into(),
            sys_flag: 0x4 | 0x2,
            born_timestamp: 1234,
            born_host: "10.0.0.1:5000".parse().expect("addr"),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    /// Encodes `m` as the store would at the given offsets.
    fn stored(m: &MessageToStore, queue_offset: i64, phys: i64) -> Bytes {
        let mut b = BytesMut::new();
        encode_stored(
            &mut b,
            &StoredRecord {
                body_crc: body_crc(&m.body),
                queue_id: m.queue_id,
                flag: m.flag,
                queue_offset,
                commit_log_offset: phys,
                sys_flag: m.sys_flag,
                born_timestamp: m.born_timestamp,
                born_host: m.born_host,
                store_timestamp: 99,
                store_host: "127.0.0.1:10911".parse().expect("addr"),
                reconsume_times: m.reconsume_times,
                prepared_transaction_offset: m.prepared_transaction_offset,
                body: &m.body,
                topic: &m.topic,
                properties: &m.properties,
            },
        )
        .expect("encode");
        b.freeze()
    }

    fn props() -> String {
        Properties::from_iter([
            ("TAGS", "A"),
            ("TRAN_MSG", "true"),
            ("PGROUP", "pg"),
            ("UNIQ_KEY", "U1"),
        ])
        .encode()
    }

    #[test]
    fn half_record_keeps_the_real_destination_in_properties() {
        let half = half_message(send(&props()));
        assert_eq!(half.topic, HALF_TOPIC);
        assert_eq!(half.queue_id, 0);
        assert_eq!(
            half.sys_flag, 0x2,
            "transaction bits reset, other bits kept"
        );
        let p = Properties::parse(&half.properties);
        assert_eq!(p.get("REAL_TOPIC"), Some("Orders"));
        assert_eq!(p.get("REAL_QID"), Some("3"));
        assert_eq!(p.get("__transactionId__"), Some("U1"));
        assert_eq!(p.get("TRAN_MSG"), Some("true"));
    }

    #[test]
    fn committed_message_restores_topic_queue_and_links_the_half() {
        let raw = stored(&half_message(send(&props())), 5, 4096);
        let h = HalfRecord::parse(&raw, 4096).expect("half");
        assert_eq!(h.producer_group(), Some("pg"));
        let c = h.committed();
        let c_props = c.properties.clone().encode();
        assert_eq!((c.topic.as_str(), c.queue_id), ("Orders", 3));
        assert_eq!(c.sys_flag, 0x8 | 0x2);
        assert_eq!(c.prepared_transaction_offset, 4096);
        assert_eq!(c.flag, 7);
        assert_eq!(&c.body[..], b"hello");
        let p = Properties::parse(&c_props);
        assert_eq!(p.get("REAL_TOPIC"), None);
        assert_eq!(p.get("TRAN_MSG"), None);
        assert_eq!(p.get("TAGS"), Some("A"));
        assert_eq!(p.get("PGROUP"), Some("pg"));
    }

    #[test]
    fn other_records_are_not_half_messages() {
        let raw = stored(&send(&props()), 0, 0);
        assert!(matches!(
            HalfRecord::parse(&raw, 0),
            Err(TransactionError::NotHalf { .. })
        ));
    }

    #[test]
    fn check_request_body_has_the_real_topic() {
        let raw = stored(&half_message(send(&props())), 5, 4096);
        let h = HalfRecord::parse(&raw, 4096).expect("half");
        let cmd = h.check_request("broker-a", 2).expect("cmd");
        assert!(cmd.is_oneway());
        assert_eq!(cmd.code, 39);
        assert_eq!(cmd.ext_fields["tranStateTableOffset"], "5");
        assert_eq!(cmd.ext_fields["commitLogOffset"], "4096");
        assert_eq!(cmd.ext_fields["msgId"], "U1");
        let (m, _) = decode_stored(&cmd.body, true).expect("body");
        assert_eq!((m.topic.as_str(), m.queue_id), ("Orders", 3));
        assert_eq!(m.property("TRANSACTION_CHECK_TIMES"), Some("2"));
        assert_eq!(m.commit_log_offset, 4096);
    }

    #[test]
    fn op_bodies() {
        let op = op_message(42);
        assert_eq!(&op.body[..], b"42,");
        assert_eq!(parse_op_body(&op.body), vec![42]);
        assert_eq!(parse_op_body(b"1,2,x,,3"), vec![1, 2, 3]);
    }
}
