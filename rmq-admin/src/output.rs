//! Where results go: JSON (`--json`, for scripts) or text (tables and `key: value` lines, for people), and the
//! one view of a stored message every message command prints.

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::Result;
use rmq_client::MessageExt;
use rmq_protocol::message::properties as keys;
use serde::Serialize;

use crate::table::{key_values, Table};
use crate::time::format_ms;

/// Writes each command's result once, as JSON or as text.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// JSON when `json`, text otherwise.
    pub fn new(json: bool) -> Self {
        Output { json }
    }

    /// Prints `value` as pretty JSON, or the text `human` builds; only the chosen one is built.
    ///
    /// # Errors
    /// Serialisation or a stdout write failure (a closed pipe, as under `| head`, is not an error).
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> Result<()> {
        let text = if self.json {
            let mut s = serde_json::to_string_pretty(value)?;
            s.push('\n');
            s
        } else {
            human()
        };
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// A stored message as rmq-admin prints it: every header field, the properties and the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// The id clients see (UNIQ_KEY, else the offset message id).
    pub msg_id: String,
    /// Store host + commit-log offset: what queryMsgById and dlqResend take.
    pub offset_msg_id: String,
    /// Topic as stored.
    pub topic: String,
    /// Broker name, when the message was read from a known queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_name: Option<String>,
    /// Queue id.
    pub queue_id: i32,
    /// Offset in the queue.
    pub queue_offset: i64,
    /// Offset in the broker's commit log.
    pub commit_log_offset: i64,
    /// TAGS.
    pub tags: Option<String>,
    /// KEYS, space separated.
    pub keys: Option<String>,
    /// Deliveries so far minus one.
    pub reconsume_times: i32,
    /// Epoch ms the producer built it.
    pub born_timestamp: i64,
    /// Epoch ms the broker stored it.
    pub store_timestamp: i64,
    /// Producer address.
    pub born_host: String,
    /// Broker address.
    pub store_host: String,
    /// Message sys flag.
    pub sys_flag: i32,
    /// User flag.
    pub flag: i32,
    /// Body CRC32 as stored.
    pub body_crc: i32,
    /// Every property (system ones included), the last value of a repeated key.
    pub properties: BTreeMap<String, String>,
    /// Body bytes.
    pub body_size: usize,
    /// The body: its text when it is UTF-8, else lowercase hex (see `body_encoding`).
    pub body: String,
    /// `utf8` or `hex`.
    pub body_encoding: &'static str,
}

impl MessageView {
    /// The view of `m`, read from `broker_name` when known.
    pub fn new(m: &MessageExt, broker_name: Option<&str>) -> Self {
        let (body, body_encoding) = match std::str::from_utf8(&m.body) {
            Ok(text) => (text.to_string(), "utf8"),
            Err(_) => (m.body.iter().map(|b| format!("{b:02x}")).collect(), "hex"),
        };
        MessageView {
            msg_id: m.msg_id(),
            offset_msg_id: m.offset_msg_id(),
            topic: m.topic.clone(),
            broker_name: broker_name.map(str::to_string),
            queue_id: m.queue_id,
            queue_offset: m.queue_offset,
            commit_log_offset: m.commit_log_offset,
            tags: m.tags().map(str::to_string),
            keys: (!m.keys().is_empty()).then(|| m.keys().join(" ")),
            reconsume_times: m.reconsume_times,
            born_timestamp: m.born_timestamp,
            store_timestamp: m.store_timestamp,
            born_host: m.born_host.to_string(),
            store_host: m.store_host.to_string(),
            sys_flag: m.sys_flag,
            flag: m.flag,
            body_crc: m.body_crc,
            properties: m
                .properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body_size: m.body.len(),
            body,
            body_encoding,
        }
    }

    /// The property `key`, if present.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// Every field on its own line, mqadmin's `queryMsgById` layout.
    pub fn render(&self) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
        let props = self
            .properties
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut lines = vec![
            ("OffsetID", self.offset_msg_id.clone()),
            ("MsgId", self.msg_id.clone()),
            ("Topic", self.topic.clone()),
        ];
        if let Some(b) = &self.broker_name {
            lines.push(("Broker Name", b.clone()));
        }
        lines.extend([
            ("Tags", opt(&self.tags)),
            ("Keys", opt(&self.keys)),
            ("Queue ID", self.queue_id.to_string()),
            ("Queue Offset", self.queue_offset.to_string()),
            ("CommitLog Offset", self.commit_log_offset.to_string()),
            ("Reconsume Times", self.reconsume_times.to_string()),
            ("Born Timestamp", format_ms(self.born_timestamp)),
            ("Store Timestamp", format_ms(self.store_timestamp)),
            ("Born Host", self.born_host.clone()),
            ("Store Host", self.store_host.clone()),
            ("System Flag", self.sys_flag.to_string()),
            ("Properties", format!("{{{props}}}")),
            ("Body Size", self.body_size.to_string()),
            (
                "Message Body",
                match self.body_encoding {
                    "hex" => format!("(hex) {}", self.body),
                    _ => self.body.clone(),
                },
            ),
        ]);
        key_values(lines)
    }
}

/// A table of messages, one per row (printMsg, consumeMessage, queryMsgByKey); bodies only when `body`.
pub fn message_table(views: &[MessageView], body: bool) -> String {
    let mut header = vec![
        "#Broker Name",
        "#QID",
        "#Offset",
        "#Msg ID",
        "#Offset Msg ID",
        "#Tags",
        "#Keys",
        "#Store Time",
    ];
    if body {
        header.push("#Body");
    }
    let mut t = Table::new(header);
    for v in views {
        let mut row = vec![
            v.broker_name.clone().unwrap_or_else(|| "-".to_string()),
            v.queue_id.to_string(),
            v.queue_offset.to_string(),
            v.msg_id.clone(),
            v.offset_msg_id.clone(),
            v.tags.clone().unwrap_or_default(),
            v.keys.clone().unwrap_or_default(),
            format_ms(v.store_timestamp),
        ];
        if body {
            row.push(v.body.clone());
        }
        t.row(row);
    }
    t.render()
}

/// The topic a dead letter or retry message came from (DLQ_ORIGIN_TOPIC, else RETRY_TOPIC).
pub fn original_topic(v: &MessageView) -> Option<&str> {
    v.property(keys::DLQ_ORIGIN_TOPIC)
        .or_else(|| v.property(keys::RETRY_TOPIC))
}
