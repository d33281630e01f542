//! The one wait every consumer task makes: a pause that ends early when the task is cancelled.

use std::time::Duration;

use rmq_protocol::clock::{Clock, Wait};
use tokio_util::sync::CancellationToken;

/// Waits `d` unless `token` fires first; true when it fired (the caller stops).
pub(crate) async fn pause(token: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = token.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// Waits `d` of `clock`'s time before a message is consumed again (a suspended orderly queue, a local
/// retry), so a test's virtual clock can move it; true when `token` fired first.
pub(crate) async fn pause_delivery(clock: &Clock, token: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = token.cancelled() => true,
        _ = clock.sleep(d, Wait::Delivery) => false,
    }
}
