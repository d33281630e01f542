//! The outbox relay: a background task that sends the payment callback's pending outbox rows
//! ([`crate::service::Shop::relay_pending`]) at start-up (rows a crash left behind), whenever a callback
//! wakes it, and every `mq.pay.outbox.interval-ms` in case a send failed.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::service::AnyShop;

/// The running relay; [`Relay::stop`] ends it after the run in progress.
#[derive(Debug)]
pub struct Relay {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Starts the relay for `shop` (whose template must be attached).
    pub fn spawn(shop: AnyShop) -> Relay {
        let (stop, mut stopped) = watch::channel(false);
        let interval = shop.config().outbox_interval;
        let task = tokio::spawn(async move {
            loop {
                match shop.relay_pending().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(n, "outbox relay sent rows"),
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox relay: a send failed; the row stays pending")
                    }
                }
                tokio::select! {
                    _ = stopped.changed() => return,
                    _ = shop.outbox_woken() => {}
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        });
        Relay { stop, task }
    }

    /// Stops the relay and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "outbox relay task ended abnormally");
        }
    }
}
