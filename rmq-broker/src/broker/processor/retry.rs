//! CONSUMER_SEND_MSG_BACK (36) and `RMQ_RESEND_DLQ_MESSAGE` (40001, an rmq extension): the remoting codecs of
//! [`WriteService::send_back`] and [`WriteService::resend_dlq`] (retry and dead letters are described in
//! [`service::write::retry`](crate::broker::service::write::retry)).

use std::collections::HashMap;

use rmq_protocol::headers::{CommandHeader, ConsumerSendMsgBackRequestHeader, ExtField};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Reply};
pub use crate::broker::service::write::retry::{
    dlq_topic, retry_topic, DLQ_NUMS_PER_GROUP, V3_4_9,
};
use crate::broker::service::write::{ResendDlq, SendBack, WriteService};

/// Header of [`RMQ_RESEND_DLQ_MESSAGE`](rmq_protocol::codes::request::RMQ_RESEND_DLQ_MESSAGE): which dead letter,
/// and optionally where to instead of its original topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResendDlqMessageRequestHeader {
    /// CommitLog offset of the `%DLQ%group` record.
    pub offset: i64,
    /// Target topic; default the recorded original topic (`DLQ_ORIGIN_TOPIC`, else `RETRY_TOPIC`).
    pub topic: Option<String>,
}

impl CommandHeader for ResendDlqMessageRequestHeader {
    const EXT_KEYS: &'static [&'static str] = &["offset", "topic"];

    fn to_ext(&self) -> HashMap<String, String> {
        let mut ext = HashMap::new();
        self.offset.write(&mut ext, "offset");
        self.topic.write(&mut ext, "topic");
        ext
    }

    fn from_ext(ext: &HashMap<String, String>) -> rmq_protocol::Result<Self> {
        Ok(ResendDlqMessageRequestHeader {
            offset: ExtField::read(ext, "offset")?,
            topic: ExtField::read(ext, "topic")?,
        })
    }
}

/// CONSUMER_SEND_MSG_BACK: re-store a failed message in `%RETRY%group` or `%DLQ%group`.
pub async fn consumer_send_msg_back(write: &WriteService, req: &RemotingCommand) -> Reply {
    let h: ConsumerSendMsgBackRequestHeader = req.decode_header()?;
    write
        .send_back(SendBack {
            group: h.group,
            offset: h.offset,
            delay_level: h.delay_level,
            max_reconsume_times: h.max_reconsume_times,
            client_version: req.version,
        })
        .await?;
    Ok(ok(req))
}

/// RMQ_RESEND_DLQ_MESSAGE: put the dead letter at `offset` back on its original topic (or the header's), with a
/// fresh reconsume count. Answers with the new record's `msgId`, `queueId` and `queueOffset`.
pub async fn resend_dlq_message(write: &WriteService, req: &RemotingCommand) -> Reply {
    let h: ResendDlqMessageRequestHeader = req.decode_header()?;
    let out = write
        .resend_dlq(ResendDlq {
            offset: h.offset,
            topic: h.topic,
        })
        .await?;
    let mut ext = HashMap::new();
    ext.insert("msgId".to_owned(), out.msg_id);
    ext.insert("queueId".to_owned(), out.queue_id.to_string());
    ext.insert("queueOffset".to_owned(), out.queue_offset.to_string());
    Ok(ok(req).with_ext(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resend_header_round_trip() {
        let h = ResendDlqMessageRequestHeader {
            offset: 1234,
            topic: None,
        };
        let ext = h.to_ext();
        assert_eq!(ext.get("offset").map(String::as_str), Some("1234"));
        assert_eq!(
            ResendDlqMessageRequestHeader::from_ext(&ext).expect("parse"),
            h
        );
        assert!(ResendDlqMessageRequestHeader::from_ext(&HashMap::new()).is_err());
    }
}
