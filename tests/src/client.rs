//! [`RawClient`]: a small pipelined remoting client for tests.
//!
//! One TCP connection, a writer task and a reader task. Requests get a fresh `opaque` and are matched with their
//! response by it, so several requests can be in flight at once. Frames from the server that are not responses
//! (e.g. NOTIFY_CONSUMER_IDS_CHANGED) are queued for [`RawClient::next_server_request`].
//!
//! Request ext fields are written by hand from the tables of docs/protocol.md (§2.3), not taken from `rmq-protocol`'s typed
//! headers, so a field-name mistake shared by the protocol crate and the broker still fails a test.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use rmq_protocol::body::{self, LockBatchRequestBody, LockBatchResponseBody, MessageQueue};
use rmq_protocol::codes::{request, response};
use rmq_protocol::RemotingCommand;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::codec::{Encoder, FramedRead};

use crate::codec::{self, Codec};
use crate::record::{decode_records, encode_properties, Record};

/// Default time a request may take before [`RawClient::request`] gives up.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Request codes used by the helpers (docs/protocol.md §2.1), spelled out so the tests read like docs/protocol.md.
pub mod code {
    #![allow(missing_docs)]
    pub const SEND_MESSAGE: i32 = 10;
    pub const PULL_MESSAGE: i32 = 11;
    pub const QUERY_MESSAGE: i32 = 12;
    pub const QUERY_CONSUMER_OFFSET: i32 = 14;
    pub const UPDATE_CONSUMER_OFFSET: i32 = 15;
    pub const UPDATE_AND_CREATE_TOPIC: i32 = 17;
    pub const GET_MAX_OFFSET: i32 = 30;
    pub const GET_MIN_OFFSET: i32 = 31;
    pub const VIEW_MESSAGE_BY_ID: i32 = 33;
    pub const HEART_BEAT: i32 = 34;
    pub const UNREGISTER_CLIENT: i32 = 35;
    pub const GET_CONSUMER_LIST_BY_GROUP: i32 = 38;
    pub const NOTIFY_CONSUMER_IDS_CHANGED: i32 = 40;
    pub const GET_ROUTEINFO_BY_TOPIC: i32 = 105;
    pub const GET_BROKER_CLUSTER_INFO: i32 = 106;
    pub const GET_ALL_TOPIC_LIST_FROM_NAMESERVER: i32 = 206;
    pub const SEND_MESSAGE_V2: i32 = 310;
    pub const SEND_BATCH_MESSAGE: i32 = 320;
}

/// Response codes used by the tests (docs/protocol.md §2.2).
pub mod rc {
    #![allow(missing_docs)]
    pub const SUCCESS: i32 = 0;
    pub const SYSTEM_ERROR: i32 = 1;
    pub const REQUEST_CODE_NOT_SUPPORTED: i32 = 3;
    pub const SERVICE_NOT_AVAILABLE: i32 = 14;
    pub const TOPIC_NOT_EXIST: i32 = 17;
    pub const PULL_NOT_FOUND: i32 = 19;
    pub const PULL_RETRY_IMMEDIATELY: i32 = 20;
    pub const PULL_OFFSET_MOVED: i32 = 21;
    pub const QUERY_NOT_FOUND: i32 = 22;
    pub const SUBSCRIPTION_NOT_EXIST: i32 = 24;
    pub const SUBSCRIPTION_NOT_LATEST: i32 = 25;
}

/// PullSysFlag bits (docs/protocol.md §3.6).
pub mod pull_flag {
    #![allow(missing_docs)]
    pub const COMMIT_OFFSET: i32 = 0x1;
    pub const SUSPEND: i32 = 0x2;
    pub const SUBSCRIPTION: i32 = 0x4;
}

type Pending = Arc<Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>>;

/// A connection to a name server or broker.
pub struct RawClient {
    addr: String,
    out: mpsc::UnboundedSender<Bytes>,
    pending: Pending,
    next_opaque: AtomicI32,
    incoming: tokio::sync::Mutex<mpsc::UnboundedReceiver<RemotingCommand>>,
    closed: watch::Receiver<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for RawClient {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn ext<const N: usize>(pairs: [(&str, String); N]) -> HashMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Current epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A fresh UNIQ_KEY-shaped id (32 uppercase hex chars), unique within the process.
pub fn uniq_key() -> String {
    static SEQ: AtomicI32 = AtomicI32::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) as u32;
    format!(
        "7F000001{:04X}{:012X}{:08X}",
        std::process::id() & 0xFFFF,
        now_ms() as u64 & 0xFFFF_FFFF_FFFF,
        seq
    )
}

impl RawClient {
    /// Connects to `addr` (`host:port`).
    pub async fn connect(addr: &str) -> Result<RawClient> {
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .with_context(|| format!("connect to {addr} timed out"))?
            .with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true).ok();
        let (rd, mut wr) = stream.into_split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (closed_tx, closed) = watch::channel(false);
        let pending: Pending = Arc::default();

        let writer = tokio::spawn(async move {
            while let Some(buf) = out_rx.recv().await {
                if wr.write_all(&buf).await.is_err() {
                    break;
                }
            }
        });
        let reader_pending = pending.clone();
        let reader = tokio::spawn(async move {
            let mut frames = FramedRead::new(rd, Codec::default());
            while let Some(Ok(cmd)) = frames.next().await {
                if cmd.is_response() {
                    let tx = reader_pending
                        .lock()
                        .expect("pending lock")
                        .remove(&cmd.opaque);
                    if let Some(tx) = tx {
                        let _ = tx.send(cmd);
                    }
                } else {
                    let _ = in_tx.send(cmd);
                }
            }
            // EOF or undecodable frame: fail every waiter.
            reader_pending.lock().expect("pending lock").clear();
            let _ = closed_tx.send(true);
        });
        Ok(RawClient {
            addr: addr.to_owned(),
            out,
            pending,
            next_opaque: AtomicI32::new(1),
            incoming: tokio::sync::Mutex::new(in_rx),
            closed,
            tasks: vec![writer, reader],
        })
    }

    /// The address this client is connected to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn encode(cmd: RemotingCommand) -> Result<Bytes> {
        let mut buf = BytesMut::new();
        Codec::default()
            .encode(cmd, &mut buf)
            .map_err(|e| anyhow!("encode: {e}"))?;
        Ok(buf.freeze())
    }

    /// Sends `cmd` (its `opaque` is replaced) and waits up to [`REQUEST_TIMEOUT`] for the response.
    pub async fn request(&self, cmd: RemotingCommand) -> Result<RemotingCommand> {
        self.request_timeout(cmd, REQUEST_TIMEOUT).await
    }

    /// Sends `cmd` and waits up to `timeout` for the response with the same opaque.
    pub async fn request_timeout(
        &self,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        let opaque = self.next_opaque.fetch_add(1, Ordering::Relaxed);
        cmd.opaque = opaque;
        cmd.flag &= !rmq_protocol::command::FLAG_ONEWAY;
        let code = cmd.code;
        let bytes = Self::encode(cmd)?;
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .expect("pending lock")
            .insert(opaque, tx);
        if *self.closed.borrow() {
            self.pending.lock().expect("pending lock").remove(&opaque);
            bail!("connection to {} is closed", self.addr);
        }
        self.out
            .send(bytes)
            .map_err(|_| anyhow!("connection to {} is closed", self.addr))?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => bail!(
                "connection to {} closed before the response to code {code}",
                self.addr
            ),
            Err(_) => {
                self.pending.lock().expect("pending lock").remove(&opaque);
                bail!(
                    "no response to code {code} from {} within {timeout:?}",
                    self.addr
                )
            }
        }
    }

    /// Sends `cmd` with the ONEWAY flag; no response is expected.
    pub fn oneway(&self, mut cmd: RemotingCommand) -> Result<()> {
        cmd.opaque = self.next_opaque.fetch_add(1, Ordering::Relaxed);
        cmd.flag |= rmq_protocol::command::FLAG_ONEWAY;
        let bytes = Self::encode(cmd)?;
        self.out
            .send(bytes)
            .map_err(|_| anyhow!("connection to {} is closed", self.addr))
    }

    /// Answers a request the server sent us (e.g. PUSH_REPLY_MESSAGE_TO_CLIENT, which the broker waits for):
    /// `resp` should come from `RemotingCommand::response_to(&request, code)`, which keeps its opaque.
    pub fn respond(&self, resp: RemotingCommand) -> Result<()> {
        let bytes = Self::encode(resp)?;
        self.out
            .send(bytes)
            .map_err(|_| anyhow!("connection to {} is closed", self.addr))
    }

    /// Writes raw bytes to the connection (for hand-made or broken frames).
    pub fn send_raw(&self, bytes: impl Into<Bytes>) -> Result<()> {
        self.out
            .send(bytes.into())
            .map_err(|_| anyhow!("connection to {} is closed", self.addr))
    }

    /// Registers `opaque` as awaited and returns the receiver (pair with [`RawClient::send_raw`]).
    pub fn expect_response(&self, opaque: i32) -> oneshot::Receiver<RemotingCommand> {
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .expect("pending lock")
            .insert(opaque, tx);
        rx
    }

    /// Whether the server has closed the connection (or sent something undecodable).
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Waits until the connection is closed; false if it is still open after `timeout`.
    pub async fn wait_closed(&self, timeout: Duration) -> bool {
        let mut rx = self.closed.clone();
        let closed = tokio::time::timeout(timeout, rx.wait_for(|c| *c)).await;
        matches!(closed, Ok(Ok(_)))
    }

    /// The next request the server sent us (e.g. code 40), waiting up to `timeout`.
    pub async fn next_server_request(&self, timeout: Duration) -> Option<RemotingCommand> {
        let mut rx = self.incoming.lock().await;
        tokio::time::timeout(timeout, rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next request with `code` the server sent us, skipping others (e.g. NOTIFY_CONSUMER_IDS_CHANGED after
    /// a heartbeat); `None` when none came within `timeout`.
    pub async fn next_server_request_with_code(
        &self,
        code: i32,
        timeout: Duration,
    ) -> Option<RemotingCommand> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_server_request(left).await {
                Some(cmd) if cmd.code == code => return Some(cmd),
                Some(_) if !left.is_zero() => continue,
                _ => return None,
            }
        }
    }

    // ----- name server -----

    /// GET_ROUTEINFO_BY_TOPIC (105).
    pub async fn get_route(&self, topic: &str) -> Result<RemotingCommand> {
        self.request(RemotingCommand::request(
            code::GET_ROUTEINFO_BY_TOPIC,
            ext([("topic", topic.to_owned())]),
        ))
        .await
    }

    /// GET_ROUTEINFO_BY_TOPIC parsed as JSON; `None` if the name server says TOPIC_NOT_EXIST.
    pub async fn route_json(&self, topic: &str) -> Result<Option<serde_json::Value>> {
        let resp = self.get_route(topic).await?;
        match resp.code {
            rc::SUCCESS => Ok(Some(parse_json_lenient(&resp.body)?)),
            rc::TOPIC_NOT_EXIST => Ok(None),
            c => bail!("route of {topic}: code {c} remark {:?}", resp.remark),
        }
    }

    // ----- producer -----

    /// Sends one message (SEND_MESSAGE_V2 to queue 0, auto-creating the topic from TBW102).
    pub async fn send_message(
        &self,
        topic: &str,
        body: &[u8],
        tags: Option<&str>,
        keys: Option<&str>,
        props: &[(&str, &str)],
    ) -> Result<SendOutcome> {
        let msg = OutMessage::new(topic, body)
            .tags(tags)
            .keys(keys)
            .props(props);
        self.send(&msg).await
    }

    /// Sends `msg` and returns the parsed response.
    pub async fn send(&self, msg: &OutMessage) -> Result<SendOutcome> {
        let resp = self.request(msg.to_command()).await?;
        SendOutcome::from_response(resp)
    }

    /// UPDATE_AND_CREATE_TOPIC (17) with `queues` read and write queues, perm RW.
    pub async fn create_topic(&self, topic: &str, queues: i32) -> Result<RemotingCommand> {
        self.create_topic_with_perm(topic, queues, 6).await
    }

    /// UPDATE_AND_CREATE_TOPIC (17) with `queues` read and write queues and permission `perm` (2 W, 4 R, 6 RW).
    pub async fn create_topic_with_perm(
        &self,
        topic: &str,
        queues: i32,
        perm: i32,
    ) -> Result<RemotingCommand> {
        self.create_topic_with(topic, queues, perm, "").await
    }

    /// UPDATE_AND_CREATE_TOPIC (17) with permission `perm` and `attributes` (`+key=value,...`; empty sends none).
    pub async fn create_topic_with(
        &self,
        topic: &str,
        queues: i32,
        perm: i32,
        attributes: &str,
    ) -> Result<RemotingCommand> {
        let mut fields = vec![
            ("topic", topic.to_owned()),
            ("defaultTopic", "TBW102".to_owned()),
            ("readQueueNums", queues.to_string()),
            ("writeQueueNums", queues.to_string()),
            ("perm", perm.to_string()),
            ("topicFilterType", "SINGLE_TAG".to_owned()),
            ("topicSysFlag", "0".to_owned()),
            ("order", "false".to_owned()),
        ];
        if !attributes.is_empty() {
            fields.push(("attributes", attributes.to_owned()));
        }
        self.request(RemotingCommand::request(
            code::UPDATE_AND_CREATE_TOPIC,
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ))
        .await
    }

    /// LOCK_BATCH_MQ for `client_id` in `group`: the queues among `mqs` it holds afterwards (fails unless SUCCESS).
    pub async fn lock_queues(
        &self,
        group: &str,
        client_id: &str,
        mqs: &[MessageQueue],
    ) -> Result<HashSet<MessageQueue>> {
        let resp = self
            .request(lock_request(request::LOCK_BATCH_MQ, group, client_id, mqs))
            .await?;
        if resp.code != response::SUCCESS {
            bail!("LOCK_BATCH_MQ answered {}: {:?}", resp.code, resp.remark);
        }
        let held: LockBatchResponseBody = body::from_json(&resp.body).context("lock body")?;
        Ok(held.lock_ok_mq_set.into_iter().collect())
    }

    /// UNLOCK_BATCH_MQ for `client_id` in `group` (fails unless SUCCESS).
    pub async fn unlock_queues(
        &self,
        group: &str,
        client_id: &str,
        mqs: &[MessageQueue],
    ) -> Result<()> {
        let resp = self
            .request(lock_request(
                request::UNLOCK_BATCH_MQ,
                group,
                client_id,
                mqs,
            ))
            .await?;
        if resp.code != response::SUCCESS {
            bail!("UNLOCK_BATCH_MQ answered {}: {:?}", resp.code, resp.remark);
        }
        Ok(())
    }

    // ----- consumer -----

    /// HEART_BEAT (34) announcing a push consumer of `group` subscribed to `topic` with `*`.
    pub async fn heartbeat(
        &self,
        client_id: &str,
        group: &str,
        topic: &str,
    ) -> Result<RemotingCommand> {
        let body = serde_json::json!({
            "clientID": client_id,
            "producerDataSet": [{"groupName": "CLIENT_INNER_PRODUCER"}],
            "consumerDataSet": [{
                "groupName": group,
                "consumeType": "CONSUME_PASSIVELY",
                "messageModel": "CLUSTERING",
                "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET",
                "subscriptionDataSet": [{
                    "classFilterMode": false,
                    "topic": topic,
                    "subString": "*",
                    "tagsSet": [],
                    "codeSet": [],
                    "subVersion": now_ms(),
                    "expressionType": "TAG",
                }],
                "unitMode": false,
            }],
            "heartbeatFingerprint": 0,
            "withoutSub": false,
        });
        self.request(
            RemotingCommand::request(code::HEART_BEAT, HashMap::new()).with_body(body.to_string()),
        )
        .await
    }

    /// PULL_MESSAGE (11) with the SUBSCRIPTION flag and expression `*`, no suspend.
    pub async fn pull(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max: i32,
    ) -> Result<PullOutcome> {
        self.pull_with(&PullArgs::new(group, topic, queue_id, offset).max(max))
            .await
    }

    /// PULL_MESSAGE (11) with full control.
    pub async fn pull_with(&self, a: &PullArgs) -> Result<PullOutcome> {
        let timeout = Duration::from_millis(a.suspend_ms as u64) + REQUEST_TIMEOUT;
        let resp = self.request_timeout(a.to_command(), timeout).await?;
        PullOutcome::from_response(resp)
    }

    /// Pulls from `offset` until the queue is exhausted (code 19) and returns every record read.
    pub async fn pull_all(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        mut offset: i64,
    ) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        loop {
            let p = self.pull(group, topic, queue_id, offset, 32).await?;
            match p.code {
                rc::SUCCESS => {
                    if p.records.is_empty() {
                        bail!("pull FOUND with an empty body at offset {offset}");
                    }
                    out.extend(p.records);
                    if p.next_begin_offset <= offset {
                        bail!(
                            "pull at {offset} did not advance (next {})",
                            p.next_begin_offset
                        );
                    }
                    offset = p.next_begin_offset;
                }
                rc::PULL_NOT_FOUND => return Ok(out),
                rc::PULL_RETRY_IMMEDIATELY => offset = p.next_begin_offset,
                c => bail!(
                    "pull {topic}/{queue_id}@{offset}: code {c} remark {:?}",
                    p.remark
                ),
            }
        }
    }

    /// QUERY_CONSUMER_OFFSET (14): `(code, offset)`.
    pub async fn query_consumer_offset(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
    ) -> Result<(i32, i64)> {
        let resp = self
            .request(RemotingCommand::request(
                code::QUERY_CONSUMER_OFFSET,
                ext([
                    ("consumerGroup", group.to_owned()),
                    ("topic", topic.to_owned()),
                    ("queueId", queue_id.to_string()),
                ]),
            ))
            .await?;
        let off = resp
            .ext_fields
            .get("offset")
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        Ok((resp.code, off))
    }

    /// UPDATE_CONSUMER_OFFSET (15), as a normal request (Java sends it oneway; we want the ack).
    pub async fn update_consumer_offset(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) -> Result<i32> {
        let resp = self
            .request(RemotingCommand::request(
                code::UPDATE_CONSUMER_OFFSET,
                ext([
                    ("consumerGroup", group.to_owned()),
                    ("topic", topic.to_owned()),
                    ("queueId", queue_id.to_string()),
                    ("commitOffset", offset.to_string()),
                ]),
            ))
            .await?;
        Ok(resp.code)
    }

    /// GET_MAX_OFFSET (30) / GET_MIN_OFFSET (31): the offset, failing on a non-zero code.
    pub async fn queue_offset(&self, max: bool, topic: &str, queue_id: i32) -> Result<i64> {
        let c = if max {
            code::GET_MAX_OFFSET
        } else {
            code::GET_MIN_OFFSET
        };
        let resp = self
            .request(RemotingCommand::request(
                c,
                ext([
                    ("topic", topic.to_owned()),
                    ("queueId", queue_id.to_string()),
                ]),
            ))
            .await?;
        if resp.code != rc::SUCCESS {
            bail!(
                "offset request {c} for {topic}/{queue_id}: code {} {:?}",
                resp.code,
                resp.remark
            );
        }
        resp.ext_fields
            .get("offset")
            .ok_or_else(|| anyhow!("offset response without ext offset: {resp:?}"))?
            .parse()
            .context("offset ext")
    }

    // ----- queries -----

    /// QUERY_MESSAGE (12) by key over all time.
    pub async fn query_message(
        &self,
        topic: &str,
        key: &str,
        max: i32,
    ) -> Result<(RemotingCommand, Vec<Record>)> {
        let resp = self
            .request(RemotingCommand::request(
                code::QUERY_MESSAGE,
                ext([
                    ("topic", topic.to_owned()),
                    ("key", key.to_owned()),
                    ("maxNum", max.to_string()),
                    ("beginTimestamp", "0".to_owned()),
                    ("endTimestamp", i64::MAX.to_string()),
                ]),
            ))
            .await?;
        let recs = if resp.code == rc::SUCCESS {
            decode_records(&resp.body).map_err(|e| anyhow!("QUERY_MESSAGE body: {e}"))?
        } else {
            Vec::new()
        };
        Ok((resp, recs))
    }

    /// VIEW_MESSAGE_BY_ID (33) by commit-log offset.
    pub async fn view_message(&self, offset: i64) -> Result<(RemotingCommand, Option<Record>)> {
        let resp = self
            .request(RemotingCommand::request(
                code::VIEW_MESSAGE_BY_ID,
                ext([("offset", offset.to_string())]),
            ))
            .await?;
        let rec = if resp.code == rc::SUCCESS {
            let mut v =
                decode_records(&resp.body).map_err(|e| anyhow!("VIEW_MESSAGE_BY_ID body: {e}"))?;
            if v.len() != 1 {
                bail!("VIEW_MESSAGE_BY_ID returned {} records", v.len());
            }
            v.pop()
        } else {
            None
        };
        Ok((resp, rec))
    }
}

/// Parses JSON that may use Java's unquoted integer map keys (`{0:"addr"}`, docs/protocol.md §4.11) by quoting them first.
pub fn parse_json_lenient(body: &[u8]) -> Result<serde_json::Value> {
    let text = std::str::from_utf8(body).context("JSON body is not UTF-8")?;
    if let Ok(v) = serde_json::from_str(text) {
        return Ok(v);
    }
    serde_json::from_str(&quote_integer_keys(text))
        .with_context(|| format!("unparseable JSON body: {text}"))
}

/// Rewrites `{0:` / `,12:` outside strings into `{"0":` / `,"12":`.
pub fn quote_integer_keys(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut in_str, mut esc) = (0, false, false);
    while i < chars.len() {
        let c = chars[i];
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        if c == '"' {
            in_str = true;
            out.push(c);
            i += 1;
            continue;
        }
        out.push(c);
        if c == '{' || c == ',' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let start = j;
            if j < chars.len() && chars[j] == '-' {
                j += 1;
            }
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let mut k = j;
            while k < chars.len() && chars[k].is_whitespace() {
                k += 1;
            }
            if j > start && k < chars.len() && chars[k] == ':' {
                out.push('"');
                out.extend(&chars[start..j]);
                out.push('"');
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct OutMessage {
    /// Target topic.
    pub topic: String,
    /// Body.
    pub body: Vec<u8>,
    /// Properties in order (TAGS, KEYS, user properties, UNIQ_KEY, WAIT).
    pub properties: Vec<(String, String)>,
    /// Target queue; < 0 lets the broker pick.
    pub queue_id: i32,
    /// SEND_MESSAGE (10) or SEND_MESSAGE_V2 (310).
    pub code: i32,
    /// Producer group.
    pub group: String,
}

impl OutMessage {
    /// A message for queue 0 of `topic` with a fresh UNIQ_KEY, sent with SEND_MESSAGE_V2.
    pub fn new(topic: &str, body: &[u8]) -> Self {
        OutMessage {
            topic: topic.to_owned(),
            body: body.to_vec(),
            properties: vec![
                ("UNIQ_KEY".to_owned(), uniq_key()),
                ("WAIT".to_owned(), "true".to_owned()),
            ],
            queue_id: 0,
            code: code::SEND_MESSAGE_V2,
            group: "rmq_tests_producer".to_owned(),
        }
    }

    /// Sets TAGS.
    pub fn tags(mut self, tags: Option<&str>) -> Self {
        if let Some(t) = tags {
            self.properties.push(("TAGS".to_owned(), t.to_owned()));
        }
        self
    }

    /// Sets KEYS.
    pub fn keys(mut self, keys: Option<&str>) -> Self {
        if let Some(k) = keys {
            self.properties.push(("KEYS".to_owned(), k.to_owned()));
        }
        self
    }

    /// Adds user properties.
    pub fn props(mut self, props: &[(&str, &str)]) -> Self {
        self.properties.extend(
            props
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self
    }

    /// Sets the target queue.
    pub fn queue(mut self, queue_id: i32) -> Self {
        self.queue_id = queue_id;
        self
    }

    /// Uses SEND_MESSAGE (10, long field names) instead of V2.
    pub fn v1(mut self) -> Self {
        self.code = code::SEND_MESSAGE;
        self
    }

    /// The UNIQ_KEY property.
    pub fn uniq_key(&self) -> &str {
        self.properties
            .iter()
            .find(|(k, _)| k == "UNIQ_KEY")
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The request command.
    pub fn to_command(&self) -> RemotingCommand {
        let props = encode_properties(
            self.properties
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let fields: [(&str, &str, String); 10] = [
            ("producerGroup", "a", self.group.clone()),
            ("topic", "b", self.topic.clone()),
            ("defaultTopic", "c", "TBW102".to_owned()),
            ("defaultTopicQueueNums", "d", "4".to_owned()),
            ("queueId", "e", self.queue_id.to_string()),
            ("sysFlag", "f", "0".to_owned()),
            ("bornTimestamp", "g", now_ms().to_string()),
            ("flag", "h", "0".to_owned()),
            ("properties", "i", props),
            ("reconsumeTimes", "j", "0".to_owned()),
        ];
        let v2 = self.code != code::SEND_MESSAGE;
        let ext = fields
            .into_iter()
            .map(|(v1k, v2k, v)| ((if v2 { v2k } else { v1k }).to_owned(), v))
            .collect();
        RemotingCommand::request(self.code, ext).with_body(self.body.clone())
    }
}

/// A parsed send response.
#[derive(Debug, Clone)]
pub struct SendOutcome {
    /// Response code (0 = stored).
    pub code: i32,
    /// Remark.
    pub remark: Option<String>,
    /// Offset msgId.
    pub msg_id: String,
    /// Queue the broker stored into.
    pub queue_id: i32,
    /// Consume-queue offset.
    pub queue_offset: i64,
    /// All response ext fields.
    pub ext: HashMap<String, String>,
}

impl SendOutcome {
    /// Parses a send response; on success the three required ext fields must be present.
    pub fn from_response(resp: RemotingCommand) -> Result<SendOutcome> {
        let get = |k: &str| resp.ext_fields.get(k).cloned();
        let mut out = SendOutcome {
            code: resp.code,
            remark: resp.remark.clone(),
            msg_id: String::new(),
            queue_id: -1,
            queue_offset: -1,
            ext: resp.ext_fields.clone(),
        };
        if resp.code == rc::SUCCESS {
            out.msg_id = get("msgId").ok_or_else(|| anyhow!("send OK without msgId: {resp:?}"))?;
            out.queue_id = get("queueId")
                .ok_or_else(|| anyhow!("send OK without queueId: {resp:?}"))?
                .parse()?;
            out.queue_offset = get("queueOffset")
                .ok_or_else(|| anyhow!("send OK without queueOffset: {resp:?}"))?
                .parse()?;
        }
        Ok(out)
    }

    /// Fails unless the code is SUCCESS.
    pub fn ok(self) -> Result<SendOutcome> {
        if self.code != rc::SUCCESS {
            bail!("send failed: code {} remark {:?}", self.code, self.remark);
        }
        Ok(self)
    }
}

/// Arguments of a PULL_MESSAGE.
#[derive(Debug, Clone)]
pub struct PullArgs {
    /// consumerGroup.
    pub group: String,
    /// topic.
    pub topic: String,
    /// queueId.
    pub queue_id: i32,
    /// queueOffset.
    pub offset: i64,
    /// maxMsgNums.
    pub max: i32,
    /// sysFlag.
    pub sys_flag: i32,
    /// commitOffset.
    pub commit_offset: i64,
    /// suspendTimeoutMillis.
    pub suspend_ms: i64,
    /// subscription expression (sent when the SUBSCRIPTION flag is set).
    pub subscription: String,
    /// subVersion (default: now).
    pub sub_version: Option<i64>,
}

impl PullArgs {
    /// A non-suspending pull of up to 32 messages with subscription `*` in the header.
    pub fn new(group: &str, topic: &str, queue_id: i32, offset: i64) -> Self {
        PullArgs {
            group: group.to_owned(),
            topic: topic.to_owned(),
            queue_id,
            offset,
            max: 32,
            sys_flag: pull_flag::SUBSCRIPTION,
            commit_offset: 0,
            suspend_ms: 0,
            subscription: "*".to_owned(),
            sub_version: None,
        }
    }

    /// Leaves the SUBSCRIPTION flag off: the broker uses the subscription the group's heartbeat registered
    /// (as a push consumer's pulls do), stamped with `sub_version`.
    pub fn registered_subscription(mut self, sub_version: i64) -> Self {
        self.sys_flag &= !pull_flag::SUBSCRIPTION;
        self.sub_version = Some(sub_version);
        self
    }

    /// Sets maxMsgNums.
    pub fn max(mut self, max: i32) -> Self {
        self.max = max;
        self
    }

    /// Allows the broker to hold the pull for `ms` (SUSPEND flag).
    pub fn suspend(mut self, ms: i64) -> Self {
        self.sys_flag |= pull_flag::SUSPEND;
        self.suspend_ms = ms;
        self
    }

    /// Piggybacks a commit offset (COMMIT_OFFSET flag).
    pub fn commit(mut self, offset: i64) -> Self {
        self.sys_flag |= pull_flag::COMMIT_OFFSET;
        self.commit_offset = offset;
        self
    }

    /// Sets the tag expression.
    pub fn subscription(mut self, expr: &str) -> Self {
        self.subscription = expr.to_owned();
        self
    }

    /// The request command.
    pub fn to_command(&self) -> RemotingCommand {
        let mut e = ext([
            ("consumerGroup", self.group.clone()),
            ("topic", self.topic.clone()),
            ("queueId", self.queue_id.to_string()),
            ("queueOffset", self.offset.to_string()),
            ("maxMsgNums", self.max.to_string()),
            ("sysFlag", self.sys_flag.to_string()),
            ("commitOffset", self.commit_offset.to_string()),
            ("suspendTimeoutMillis", self.suspend_ms.to_string()),
            (
                "subVersion",
                self.sub_version.unwrap_or_else(now_ms).to_string(),
            ),
            ("expressionType", "TAG".to_owned()),
        ]);
        if self.sys_flag & pull_flag::SUBSCRIPTION != 0 {
            e.insert("subscription".to_owned(), self.subscription.clone());
        }
        RemotingCommand::request(code::PULL_MESSAGE, e)
    }
}

/// A parsed pull response.
#[derive(Debug, Clone)]
pub struct PullOutcome {
    /// Response code.
    pub code: i32,
    /// Remark.
    pub remark: Option<String>,
    /// nextBeginOffset (-1 if absent).
    pub next_begin_offset: i64,
    /// minOffset (-1 if absent).
    pub min_offset: i64,
    /// maxOffset (-1 if absent).
    pub max_offset: i64,
    /// Decoded records (code 0 only).
    pub records: Vec<Record>,
    /// Raw ext.
    pub ext: HashMap<String, String>,
}

impl PullOutcome {
    /// Parses a pull response; a FOUND body must decode strictly.
    pub fn from_response(resp: RemotingCommand) -> Result<PullOutcome> {
        let num = |k: &str| {
            resp.ext_fields
                .get(k)
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1)
        };
        let records = if resp.code == rc::SUCCESS {
            decode_records(&resp.body).map_err(|e| anyhow!("pull body: {e}"))?
        } else {
            Vec::new()
        };
        Ok(PullOutcome {
            code: resp.code,
            remark: resp.remark.clone(),
            next_begin_offset: num("nextBeginOffset"),
            min_offset: num("minOffset"),
            max_offset: num("maxOffset"),
            records,
            ext: resp.ext_fields,
        })
    }
}

/// Re-export so tests can name the codec in use.
/// A LOCK_BATCH_MQ / UNLOCK_BATCH_MQ request (`onlyThisBroker`, as a consumer sends it).
fn lock_request(code: i32, group: &str, client_id: &str, mqs: &[MessageQueue]) -> RemotingCommand {
    let body = LockBatchRequestBody {
        consumer_group: group.to_owned(),
        client_id: client_id.to_owned(),
        only_this_broker: true,
        mq_set: mqs.to_vec(),
    };
    RemotingCommand::request(code, Default::default()).with_body(body::to_json(&body))
}

pub use codec::Codec as ClientCodec;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_java_integer_keys_only_outside_strings() {
        let t = r#"{"brokerAddrs":{0:"127.0.0.1:1",1:"x"},"s":"{2:3}","n":[1,2]}"#;
        let v: serde_json::Value = serde_json::from_str(&quote_integer_keys(t)).expect("quoted");
        assert_eq!(v["brokerAddrs"]["0"], "127.0.0.1:1");
        assert_eq!(v["brokerAddrs"]["1"], "x");
        assert_eq!(v["s"], "{2:3}");
        assert_eq!(v["n"][1], 2);
    }

    #[test]
    fn v1_and_v2_send_headers() {
        let m = OutMessage::new("T", b"x").tags(Some("A"));
        let c = m.to_command();
        assert_eq!(c.code, 310);
        assert_eq!(c.ext_fields["b"], "T");
        let c = m.v1().to_command();
        assert_eq!(c.code, 10);
        assert_eq!(c.ext_fields["topic"], "T");
        assert!(c.ext_fields["properties"].contains("TAGS\u{1}A\u{2}"));
    }
}
