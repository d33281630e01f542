//! The name server: brokers register their topics here, clients ask it where a topic lives.
//!
//! - [`processor`]: one function per request code;
//! - [`route_info`]: the route tables (brokers, topics' queue data, liveness, write perms);
//! - [`kv_config`]: the KV table, persisted as Java's `kvConfig.json`;
//! - [`live_config`]: the name server's own settings, reported and updated at run time and persisted as
//!   Java's `namesrv.properties`;
//! - [`error`]: why a name server could not start.

pub mod error;
pub mod kv_config;
pub mod live_config;
pub mod processor;
pub mod route_info;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::NamesrvConfig;
pub use error::NamesrvError;
pub use processor::NamesrvProcessor;
pub use route_info::RouteInfo;

/// A running name server: its listener task, its expiry sweeper, and a way to stop both.
#[derive(Debug)]
pub struct NameServer {
    addr: std::net::SocketAddr,
    processor: Arc<NamesrvProcessor>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl NameServer {
    /// Serves on an already bound listener (tests bind `127.0.0.1:0`), with the KV table of
    /// `config.kv_config_path` and the settings of `config.config_store_path` (over `config`) loaded first.
    ///
    /// # Errors
    /// Either file cannot be read or is not valid ([`NamesrvError`] names it), or the listener has no address.
    pub fn start(listener: TcpListener, config: NamesrvConfig) -> Result<NameServer, NamesrvError> {
        let addr = listener.local_addr().map_err(NamesrvError::Io)?;
        let processor = Arc::new(NamesrvProcessor::open(config.clone(), addr)?);
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(crate::remoting::serve(
            listener,
            processor.clone(),
            config.max_frame_length,
            shutdown.clone(),
            tracker.clone(),
            crate::remoting::ConnectionCount::default(),
        ));
        let sweeper = processor.clone();
        let stop = shutdown.clone();
        // `scanNotActiveBrokerInterval` is live: it is re-read before every wait, and an update ends the
        // current wait.
        tracker.spawn(async move {
            loop {
                let wait = sweeper.config().get().scan_interval;
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = sweeper.config().changed().notified() => continue,
                    _ = tokio::time::sleep(wait) => sweeper.scan_not_active_brokers(),
                }
            }
        });
        tracing::info!(%addr, "name server listening");
        Ok(NameServer {
            addr,
            processor,
            shutdown,
            tracker,
        })
    }

    /// The address clients use.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The route table, for inspection in tests and the admin side.
    pub fn processor(&self) -> &Arc<NamesrvProcessor> {
        &self.processor
    }

    /// Stops accepting, closes connections and waits for every task.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}
