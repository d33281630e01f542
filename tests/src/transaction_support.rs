//! Helpers for transactional-message tests: send a half message, announce a producer group, end a
//! transaction, and receive CHECK_TRANSACTION_STATE (a broker → client request) on the producer's connection.
//!
//! Ext keys are written by hand from docs/protocol.md (§2.3.5, §3.5, §3.6), like the rest of [`crate::client`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rmq_protocol::RemotingCommand;

use crate::client::{code, now_ms, OutMessage, RawClient, SendOutcome};
use crate::record::{decode_offset_msg_id, decode_records, Record};

/// END_TRANSACTION (37).
pub const END_TRANSACTION: i32 = 37;
/// CHECK_TRANSACTION_STATE (39), broker → producer.
pub const CHECK_TRANSACTION_STATE: i32 = 39;
/// MessageSysFlag TRANSACTION_PREPARED_TYPE.
pub const SYSFLAG_PREPARED: i32 = 0x4;

/// The outcome a producer reports in `commitOrRollback` (MessageSysFlag transaction bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxOutcome {
    /// 0: still unknown.
    Unknown,
    /// 8: commit.
    Commit,
    /// 12: rollback.
    Rollback,
}

impl TxOutcome {
    /// The wire value.
    pub fn code(self) -> i32 {
        match self {
            TxOutcome::Unknown => 0,
            TxOutcome::Commit => 8,
            TxOutcome::Rollback => 12,
        }
    }
}

/// Where a half message was stored, as a producer learns it from the send response.
#[derive(Debug, Clone)]
pub struct HalfSent {
    /// The send response.
    pub outcome: SendOutcome,
    /// UNIQ_KEY (the producer's message id).
    pub uniq_key: String,
    /// Producer group.
    pub group: String,
    /// Real topic.
    pub topic: String,
    /// CommitLog offset decoded from the offset msgId.
    pub commit_log_offset: i64,
}

impl HalfSent {
    /// The half message's queue offset (`tranStateTableOffset`).
    pub fn tran_state_table_offset(&self) -> i64 {
        self.outcome.queue_offset
    }
}

/// Sends a half message to `topic` queue 0: `TRAN_MSG=true`, `PGROUP=group`, header sysFlag PREPARED.
pub async fn send_half(
    client: &RawClient,
    topic: &str,
    group: &str,
    body: &[u8],
    extra_props: &[(&str, &str)],
) -> Result<HalfSent> {
    let mut msg = OutMessage::new(topic, body)
        .props(&[("TRAN_MSG", "true"), ("PGROUP", group)])
        .props(extra_props);
    msg.group = group.to_owned();
    let uniq_key = msg.uniq_key().to_owned();
    let mut cmd = msg.to_command();
    cmd.ext_fields
        .insert("f".to_owned(), SYSFLAG_PREPARED.to_string());
    let outcome = SendOutcome::from_response(client.request(cmd).await?)?.ok()?;
    let commit_log_offset = decode_offset_msg_id(&outcome.msg_id)
        .map_err(|e| anyhow!("half message msgId: {e}"))?
        .offset;
    Ok(HalfSent {
        outcome,
        uniq_key,
        group: group.to_owned(),
        topic: topic.to_owned(),
        commit_log_offset,
    })
}

/// The fields of an END_TRANSACTION.
#[derive(Debug, Clone)]
pub struct EndTx {
    /// Real topic.
    pub topic: String,
    /// Producer group.
    pub group: String,
    /// Half message's queue offset.
    pub tran_state_table_offset: i64,
    /// Half message's CommitLog offset.
    pub commit_log_offset: i64,
    /// UNIQ_KEY.
    pub msg_id: String,
    /// The outcome.
    pub outcome: TxOutcome,
    /// Whether this answers a check-back.
    pub from_check: bool,
}

impl EndTx {
    /// The END_TRANSACTION for a half message this test sent.
    pub fn for_sent(h: &HalfSent, outcome: TxOutcome) -> EndTx {
        EndTx {
            topic: h.topic.clone(),
            group: h.group.clone(),
            tran_state_table_offset: h.tran_state_table_offset(),
            commit_log_offset: h.commit_log_offset,
            msg_id: h.uniq_key.clone(),
            outcome,
            from_check: false,
        }
    }

    /// The answer to a check-back, as a producer sends it (fromTransactionCheck=true).
    pub fn answer(check: &CheckRequest, group: &str, outcome: TxOutcome) -> EndTx {
        EndTx {
            topic: check.record.topic.clone(),
            group: group.to_owned(),
            tran_state_table_offset: check.tran_state_table_offset,
            commit_log_offset: check.commit_log_offset,
            msg_id: check.msg_id.clone().unwrap_or_default(),
            outcome,
            from_check: true,
        }
    }

    /// The request command (oneway flag not set).
    pub fn to_command(&self) -> RemotingCommand {
        let ext: HashMap<String, String> = [
            ("topic", self.topic.clone()),
            ("producerGroup", self.group.clone()),
            (
                "tranStateTableOffset",
                self.tran_state_table_offset.to_string(),
            ),
            ("commitLogOffset", self.commit_log_offset.to_string()),
            ("commitOrRollback", self.outcome.code().to_string()),
            ("fromTransactionCheck", self.from_check.to_string()),
            ("msgId", self.msg_id.clone()),
            ("transactionId", self.msg_id.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        RemotingCommand::request(END_TRANSACTION, ext)
    }

    /// Sends it oneway, as producers do.
    pub fn send_oneway(&self, client: &RawClient) -> Result<()> {
        client.oneway(self.to_command())
    }

    /// Sends it expecting a response and returns it.
    pub async fn request(&self, client: &RawClient) -> Result<RemotingCommand> {
        client.request(self.to_command()).await
    }
}

/// HEART_BEAT announcing a producer of `group` (and nothing else), so check-backs for the group come to this
/// connection.
pub async fn producer_heartbeat(
    client: &RawClient,
    client_id: &str,
    group: &str,
) -> Result<RemotingCommand> {
    let body = serde_json::json!({
        "clientID": client_id,
        "producerDataSet": [{"groupName": group}],
        "consumerDataSet": [],
        "heartbeatFingerprint": 0,
        "withoutSub": false,
    });
    let resp = client
        .request(
            RemotingCommand::request(code::HEART_BEAT, HashMap::new()).with_body(body.to_string()),
        )
        .await?;
    if resp.code != 0 {
        bail!("producer heartbeat: code {} {:?}", resp.code, resp.remark);
    }
    Ok(resp)
}

/// A CHECK_TRANSACTION_STATE the broker sent.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// The raw command.
    pub command: RemotingCommand,
    /// `tranStateTableOffset`.
    pub tran_state_table_offset: i64,
    /// `commitLogOffset`.
    pub commit_log_offset: i64,
    /// `msgId` (UNIQ_KEY).
    pub msg_id: Option<String>,
    /// The half message from the body (topic/queue already restored by the broker).
    pub record: Record,
}

impl CheckRequest {
    /// Parses a broker request; fails unless it is a well-formed CHECK_TRANSACTION_STATE.
    pub fn parse(command: RemotingCommand) -> Result<CheckRequest> {
        if command.code != CHECK_TRANSACTION_STATE {
            bail!("expected code 39, got {}", command.code);
        }
        let num = |k: &str| -> Result<i64> {
            command
                .ext_fields
                .get(k)
                .ok_or_else(|| anyhow!("check request without {k}: {command:?}"))?
                .parse()
                .with_context(|| format!("check request {k}"))
        };
        let tran_state_table_offset = num("tranStateTableOffset")?;
        let commit_log_offset = num("commitLogOffset")?;
        let mut recs =
            decode_records(&command.body).map_err(|e| anyhow!("check request body: {e}"))?;
        if recs.len() != 1 {
            bail!("check request body holds {} records", recs.len());
        }
        let record = recs.pop().ok_or_else(|| anyhow!("no record"))?;
        Ok(CheckRequest {
            msg_id: command.ext_fields.get("msgId").cloned(),
            tran_state_table_offset,
            commit_log_offset,
            record,
            command,
        })
    }
}

/// Waits up to `timeout` for the next CHECK_TRANSACTION_STATE on `client`'s connection, skipping other
/// broker requests (e.g. NOTIFY_CONSUMER_IDS_CHANGED). `None` when none came.
pub async fn next_check(client: &RawClient, timeout: Duration) -> Result<Option<CheckRequest>> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match client.next_server_request(left).await {
            None => return Ok(None),
            Some(cmd) if cmd.code == CHECK_TRANSACTION_STATE => {
                return CheckRequest::parse(cmd).map(Some)
            }
            Some(_) => continue,
        }
    }
}

/// A client id for heartbeats, unique per call.
pub fn client_id(tag: &str) -> String {
    format!(
        "127.0.0.1@{}",
        crate::unique(&format!("{tag}{}", now_ms() % 1000))
    )
}
