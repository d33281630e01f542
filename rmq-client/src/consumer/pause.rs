//! The one wait every consumer task makes: a pause that ends early when the task is cancelled.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Waits `d` unless `token` fires first; true when it fired (the caller stops).
pub(crate) async fn pause(token: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = token.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}
