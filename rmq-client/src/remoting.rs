//! Pipelined connections to name servers and brokers, and the pool that reuses them.
//!
//! A connection has one reader and one writer task. Requests carry a process-wide unique `opaque`; the reader
//! hands each response to its waiter, and passes requests the server starts (NOTIFY_CONSUMER_IDS_CHANGED,
//! CHECK_TRANSACTION_STATE, ...) to the [`InboundHandler`], answering them unless they are oneway.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::StreamExt;
use parking_lot::Mutex;
use rmq_protocol::frame::RemotingCodec;
use rmq_protocol::pending::{Opaques, PendingRequests, WaitError};
use rmq_protocol::RemotingCommand;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::error::{ClientError, Result};

/// Largest frame the client accepts (as the broker: 16 MiB).
const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;
/// First wait after a failed connect; doubles per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between connect attempts to a dead address.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Opaques are unique per process so a response can never be matched to another connection's waiter.
static OPAQUES: Opaques = Opaques::new();

/// Receives requests a server sends to the client; returns the response for two-way requests.
pub trait InboundHandler: Send + Sync + 'static {
    /// Handles one server-initiated request from `addr`.
    fn handle(
        &self,
        addr: String,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>>;
}

/// One TCP connection with requests matched to responses by `opaque`.
#[derive(Debug)]
pub struct Connection {
    addr: String,
    tx: mpsc::Sender<RemotingCommand>,
    pending: PendingRequests,
    // Set by the reader when the peer closes or sends garbage, so callers stop using this connection at once.
    closed: Arc<AtomicBool>,
}

impl Connection {
    /// Connects and starts the reader and writer tasks; they end when the peer closes or the connection is dropped.
    pub async fn connect(
        addr: &str,
        timeout: Duration,
        handler: Weak<dyn InboundHandler>,
    ) -> Result<Connection> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(ClientError::Connect {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                return Err(ClientError::Connect {
                    addr: addr.to_string(),
                    reason: format!("no answer within {timeout:?}"),
                })
            }
        };
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::channel::<RemotingCommand>(4096);
        let pending = PendingRequests::new();
        let sink = FramedWrite::new(wr, RemotingCodec::with_max_frame_len(MAX_FRAME_LEN));
        tokio::spawn(rmq_protocol::frame::write_queued(sink, rx));
        let closed = Arc::new(AtomicBool::new(false));
        let reader_closed = closed.clone();
        let reader_pending = pending.clone();
        let reply_tx = tx.downgrade();
        let peer = addr.to_string();
        let mut frames = FramedRead::new(rd, RemotingCodec::with_max_frame_len(MAX_FRAME_LEN));
        tokio::spawn(async move {
            while let Some(frame) = frames.next().await {
                let cmd = match frame {
                    Ok(cmd) => cmd,
                    Err(e) => {
                        tracing::warn!(addr = %peer, error = %e, "malformed frame; closing connection");
                        break;
                    }
                };
                if cmd.is_response() {
                    reader_pending.complete(cmd);
                    continue;
                }
                let Some(handler) = handler.upgrade() else {
                    continue;
                };
                let oneway = cmd.is_oneway();
                let fut = handler.handle(peer.clone(), cmd);
                let reply_tx = reply_tx.clone();
                tokio::spawn(async move {
                    if let Some(resp) = fut.await {
                        if !oneway {
                            if let Some(tx) = reply_tx.upgrade() {
                                let _ = tx.send(resp).await;
                            }
                        }
                    }
                });
            }
            // Fail every waiter now instead of letting each hit its timeout.
            reader_closed.store(true, Ordering::Release);
            reader_pending.fail_all();
        });
        Ok(Connection {
            addr: addr.to_string(),
            tx,
            pending,
            closed,
        })
    }

    /// The peer address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether the connection is known to be gone (writer or reader ended).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.tx.is_closed()
    }

    /// Sends a request and waits for its response (any code; see [`ensure_success`] to turn refusals into errors).
    pub async fn invoke(
        &self,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        // Registered before sending so a fast answer is not lost; dropping the waiter on any early return
        // removes its entry.
        let waiter = self.pending.register(OPAQUES.next());
        cmd.opaque = waiter.opaque();
        if self.closed.load(Ordering::Acquire) {
            return Err(ClientError::Closed {
                addr: self.addr.clone(),
            });
        }
        let sent = tokio::time::timeout(timeout, self.tx.send(cmd)).await;
        if !matches!(sent, Ok(Ok(()))) {
            return Err(match sent {
                Err(_) => ClientError::Timeout {
                    addr: self.addr.clone(),
                    timeout,
                },
                _ => ClientError::Closed {
                    addr: self.addr.clone(),
                },
            });
        }
        waiter.wait(timeout).await.map_err(|e| match e {
            WaitError::Closed => ClientError::Closed {
                addr: self.addr.clone(),
            },
            WaitError::Timeout(timeout) => ClientError::Timeout {
                addr: self.addr.clone(),
                timeout,
            },
        })
    }

    /// Sends a request marked oneway; returns once it is queued for writing.
    pub async fn invoke_oneway(&self, mut cmd: RemotingCommand) -> Result<()> {
        cmd.opaque = OPAQUES.next();
        self.tx
            .send(cmd.into_oneway())
            .await
            .map_err(|_| ClientError::Closed {
                addr: self.addr.clone(),
            })
    }
}

/// Turns a non-success response into [`ClientError::Broker`], keeping code and remark.
pub fn ensure_success(addr: &str, resp: RemotingCommand) -> Result<RemotingCommand> {
    if resp.code == rmq_protocol::codes::response::SUCCESS {
        Ok(resp)
    } else {
        Err(ClientError::Broker {
            addr: addr.to_string(),
            code: resp.code,
            remark: resp.remark.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    retry_at: Instant,
    wait: Duration,
}

/// Connections by address, reconnecting on demand with exponential backoff after failures.
pub struct ConnectionPool {
    conns: Mutex<HashMap<String, Arc<Connection>>>,
    backoff: Mutex<HashMap<String, Backoff>>,
    // Serialises connects so a burst of callers opens one socket per address, not one each.
    connecting: tokio::sync::Mutex<()>,
    connect_timeout: Duration,
    handler: Weak<dyn InboundHandler>,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("conns", &self.conns.lock().keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ConnectionPool {
    /// A pool whose connections pass server requests to `handler`.
    pub fn new(connect_timeout: Duration, handler: Weak<dyn InboundHandler>) -> Self {
        ConnectionPool {
            conns: Mutex::default(),
            backoff: Mutex::default(),
            connecting: tokio::sync::Mutex::new(()),
            connect_timeout,
            handler,
        }
    }

    fn live(&self, addr: &str) -> Option<Arc<Connection>> {
        let conns = self.conns.lock();
        conns.get(addr).filter(|c| !c.is_closed()).cloned()
    }

    /// The open connection to `addr`, connecting if there is none (refused while the address is backing off).
    pub async fn get(&self, addr: &str) -> Result<Arc<Connection>> {
        if let Some(c) = self.live(addr) {
            return Ok(c);
        }
        let _guard = self.connecting.lock().await;
        if let Some(c) = self.live(addr) {
            return Ok(c);
        }
        if let Some(b) = self.backoff.lock().get(addr).copied() {
            if Instant::now() < b.retry_at {
                return Err(ClientError::Connect {
                    addr: addr.to_string(),
                    reason: format!(
                        "backing off after a failed connect (retry in {:?})",
                        b.retry_at - Instant::now()
                    ),
                });
            }
        }
        match Connection::connect(addr, self.connect_timeout, self.handler.clone()).await {
            Ok(conn) => {
                let conn = Arc::new(conn);
                self.backoff.lock().remove(addr);
                self.conns.lock().insert(addr.to_string(), conn.clone());
                Ok(conn)
            }
            Err(e) => {
                let mut backoff = self.backoff.lock();
                let wait = backoff
                    .get(addr)
                    .map_or(MIN_BACKOFF, |b| (b.wait * 2).min(MAX_BACKOFF));
                backoff.insert(
                    addr.to_string(),
                    Backoff {
                        retry_at: Instant::now() + wait,
                        wait,
                    },
                );
                Err(e)
            }
        }
    }

    /// Addresses with an open connection.
    pub fn addrs(&self) -> Vec<String> {
        self.conns
            .lock()
            .iter()
            .filter(|(_, c)| !c.is_closed())
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// Drops the connection to `addr` (its tasks end when the last user lets go).
    pub fn close(&self, addr: &str) {
        self.conns.lock().remove(addr);
    }

    /// Drops every connection.
    pub fn close_all(&self) {
        self.conns.lock().clear();
    }
}
