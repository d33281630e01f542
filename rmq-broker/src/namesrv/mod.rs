//! The name server: brokers register their topics here, clients ask it where a topic lives.

pub mod processor;
pub mod route_info;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::NamesrvConfig;
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
    /// Serves on an already bound listener (tests bind `127.0.0.1:0`).
    pub fn start(listener: TcpListener, config: NamesrvConfig) -> std::io::Result<NameServer> {
        let addr = listener.local_addr()?;
        let processor = Arc::new(NamesrvProcessor::new(config.clone()));
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
        tracker.spawn(async move {
            let mut tick = tokio::time::interval(config.scan_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => sweeper.scan_not_active_brokers(),
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
