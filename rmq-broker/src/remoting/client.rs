//! A small pipelined remoting client for the broker's own outbound calls (registration with name servers).

use std::time::Duration;

use futures::StreamExt;
use rmq_protocol::frame::RemotingCodec;
use rmq_protocol::pending::{Opaques, PendingRequests, WaitError};
use rmq_protocol::RemotingCommand;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

/// Why an outbound call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Connecting failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Target address.
        addr: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// No response within the timeout.
    #[error("request to {addr} timed out after {timeout:?}")]
    Timeout {
        /// Target address.
        addr: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The connection closed before the response arrived.
    #[error("connection to {addr} closed")]
    Closed {
        /// Target address.
        addr: String,
    },
}

/// One connection with requests matched to responses by `opaque`.
#[derive(Debug)]
pub struct RemotingClient {
    addr: String,
    tx: mpsc::Sender<RemotingCommand>,
    pending: PendingRequests,
    opaques: Opaques,
}

impl RemotingClient {
    /// Connects and starts the reader and writer tasks (they end when the client is dropped or the peer closes).
    pub async fn connect(addr: &str, max_frame_len: usize) -> Result<RemotingClient, ClientError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::channel::<RemotingCommand>(1024);
        let pending = PendingRequests::new();
        let sink = FramedWrite::new(wr, RemotingCodec::with_max_frame_len(max_frame_len));
        tokio::spawn(rmq_protocol::frame::write_queued(sink, rx));
        let reader_pending = pending.clone();
        let mut frames = FramedRead::new(rd, RemotingCodec::with_max_frame_len(max_frame_len));
        tokio::spawn(async move {
            while let Some(Ok(cmd)) = frames.next().await {
                if cmd.is_response() {
                    reader_pending.complete(cmd);
                }
            }
            // Fail every waiter at once instead of letting each hit its timeout.
            reader_pending.fail_all();
        });
        Ok(RemotingClient {
            addr: addr.to_string(),
            tx,
            pending,
            opaques: Opaques::new(),
        })
    }

    /// The peer address this client was connected to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether the connection is known to be gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Sends a request and waits for its response.
    pub async fn invoke(
        &self,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, ClientError> {
        // Dropping the waiter on an early return removes its entry.
        let waiter = self.pending.register(self.opaques.next());
        cmd.opaque = waiter.opaque();
        if self.tx.send(cmd).await.is_err() {
            return Err(ClientError::Closed {
                addr: self.addr.clone(),
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
}
