//! The accept loop and per-connection tasks.
//!
//! Each connection has a reader task and a writer task. The reader decodes frames and runs the handler's
//! futures concurrently (a `FuturesUnordered`), so requests are pipelined: a long-polling pull never blocks the
//! send behind it, and responses go out in completion order, matched by `opaque` on the client. A malformed
//! frame closes only its own connection. The writer batches whatever is queued into one flush.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use rmq_protocol::frame::RemotingCodec;
use rmq_protocol::pending::{Opaques, PendingRequests, WaitError};
use rmq_protocol::RemotingCommand;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

/// Frames queued for one connection's writer before the producer side waits.
const OUTBOUND_QUEUE: usize = 4096;
/// How long a stopping server lets in-flight requests finish.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);
static REQUEST_OPAQUES: Opaques = Opaques::new();

/// A fresh `opaque` for a request the server sends to a client (NOTIFY_CONSUMER_IDS_CHANGED, check-backs).
pub fn next_request_opaque() -> i32 {
    REQUEST_OPAQUES.next()
}

/// A live client connection, as handlers see it: who it is and a way to push frames to it.
///
/// Cheap to clone; the broker keeps clones to send NOTIFY_CONSUMER_IDS_CHANGED and other broker → client
/// requests over the client's own connection (docs/protocol.md §1.6).
#[derive(Clone, Debug)]
pub struct Connection {
    id: u64,
    peer: SocketAddr,
    tx: mpsc::Sender<RemotingCommand>,
    /// Broker → client requests waiting for their response, by opaque.
    pending: PendingRequests,
}

/// Why [`Connection::invoke`] got no response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvokeError {
    /// The connection closed (or its outbound queue is full) before the response came.
    #[error("connection to {peer} closed before it answered")]
    Closed {
        /// The client.
        peer: SocketAddr,
    },
    /// No response within the timeout.
    #[error("no response from {peer} within {timeout:?}")]
    Timeout {
        /// The client.
        peer: SocketAddr,
        /// How long we waited.
        timeout: Duration,
    },
}

impl Connection {
    /// Process-unique id of this connection.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The remote address (the "born host" of messages it sends).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Queues a frame for the peer without waiting; false when the connection is gone or its queue is full.
    pub fn try_send(&self, cmd: RemotingCommand) -> bool {
        self.tx.try_send(cmd).is_ok()
    }

    /// Whether the writer side is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Sends a request to the client and waits up to `timeout` for its response (Java's `invokeSync`, used for
    /// PUSH_REPLY_MESSAGE_TO_CLIENT); the request gets a fresh opaque and loses any oneway flag.
    ///
    /// # Errors
    /// [`InvokeError::Closed`] when the connection is gone or closes first, [`InvokeError::Timeout`].
    pub async fn invoke(
        &self,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, InvokeError> {
        // Dropping the waiter on an early return removes its entry.
        let waiter = self.pending.register(next_request_opaque());
        cmd.opaque = waiter.opaque();
        cmd.flag &= !rmq_protocol::command::FLAG_ONEWAY;
        if self.tx.try_send(cmd).is_err() {
            return Err(InvokeError::Closed { peer: self.peer });
        }
        waiter.wait(timeout).await.map_err(|e| match e {
            WaitError::Closed => InvokeError::Closed { peer: self.peer },
            WaitError::Timeout(timeout) => InvokeError::Timeout {
                peer: self.peer,
                timeout,
            },
        })
    }
}

/// Live connections of one server, kept by its accept loop: one atomic add when a connection starts and one
/// when its task ends, so metrics can read the count at scrape time for free.
#[derive(Debug, Clone, Default)]
pub struct ConnectionCount(Arc<AtomicUsize>);

impl ConnectionCount {
    /// Connections currently open.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts one connection until the returned guard drops.
    fn open(&self) -> OpenConnection {
        self.0.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.0.clone())
    }
}

/// One counted connection; dropping it (whatever way the task ends) uncounts it.
struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a server does with requests. Futures are `'static` so they can outlive the read of their frame.
pub trait RequestHandler: Send + Sync + 'static {
    /// Answers one request; `None` sends nothing (oneway requests, or requests answered elsewhere).
    fn handle(
        &self,
        conn: &Connection,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>>;

    /// Called once when a connection ends, so per-connection registrations can be dropped.
    fn on_close(&self, _conn: &Connection) {}
}

/// Accepts connections until `shutdown` is cancelled; every connection task is tracked by `tracker` so the
/// caller can wait for them, and counted in `connections` while it runs.
pub async fn serve<H: RequestHandler>(
    listener: TcpListener,
    handler: Arc<H>,
    max_frame_len: usize,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    connections: ConnectionCount,
) {
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(5);
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let shutdown = shutdown.clone();
                let tracker2 = tracker.clone();
                let counted = connections.open();
                tracker.spawn(async move {
                    run_connection(stream, peer, handler, max_frame_len, shutdown, tracker2).await;
                    drop(counted);
                });
            }
            Err(e) => {
                // Out of file descriptors and similar: back off instead of spinning.
                warn!(error = %e, "accept failed; backing off {:?}", backoff);
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

async fn run_connection<H: RequestHandler>(
    stream: TcpStream,
    peer: SocketAddr,
    handler: Arc<H>,
    max_frame_len: usize,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let conn = Connection {
        id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
        peer,
        tx,
        pending: PendingRequests::new(),
    };
    tracker.spawn(rmq_protocol::frame::write_queued(
        FramedWrite::new(wr, RemotingCodec::with_max_frame_len(max_frame_len)),
        rx,
    ));
    let mut frames = FramedRead::new(rd, RemotingCodec::with_max_frame_len(max_frame_len));
    let mut inflight: FuturesUnordered<BoxFuture<'static, Option<RemotingCommand>>> =
        FuturesUnordered::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(resp) = inflight.next(), if !inflight.is_empty() => {
                if let Some(resp) = resp {
                    if conn.tx.send(resp).await.is_err() {
                        break;
                    }
                }
            }
            frame = frames.next() => match frame {
                Some(Ok(cmd)) => {
                    if cmd.is_response() {
                        // The answer to a Connection::invoke; anything else (late or unasked) is ignored.
                        let (code, opaque) = (cmd.code, cmd.opaque);
                        if !conn.pending.complete(cmd) {
                            debug!(%peer, code, opaque, "unexpected response frame ignored");
                        }
                        continue;
                    }
                    inflight.push(handler.handle(&conn, cmd));
                }
                Some(Err(e)) => {
                    warn!(%peer, error = %e, "closing connection after a malformed frame");
                    break;
                }
                None => break,
            },
        }
    }
    // Finish what was already asked, within a deadline, then let the writer drain and close.
    let drain = async {
        while let Some(resp) = inflight.next().await {
            if let Some(resp) = resp {
                if conn.tx.send(resp).await.is_err() {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_DEADLINE, drain).await;
    // Fail every invoke still waiting: its response can no longer come.
    conn.pending.fail_all();
    handler.on_close(&conn);
    debug!(%peer, id = conn.id, "connection closed");
}
