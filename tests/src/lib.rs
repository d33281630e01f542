//! Shared helpers of rmq's end-to-end tests (the tests themselves live in `tests/tests/`).
//!
//! - [`client`]: [`client::RawClient`], a small pipelined remoting client with request helpers.
//! - [`wire`]: an independent frame encoder/decoder (JSON and ROCKETMQ headers) for wire-format and bad-input
//!   tests.
//! - [`record`]: independent decoders for stored message records, properties and offset message ids.
//! - [`fixtures`]: shared set-ups: an rmq-runtime producer, a routed topic, the third-party client's runtime.
//! - [`process`]: run the `rmq-broker` binary as a child process (READY line, SIGKILL/SIGTERM, Drop guard).
//! - [`cpp_client`]: Apache's C++ client (librocketmq, through its Python binding) as a child process.
//! - [`eventually`]: await a condition with a deadline.
//! - [`ci`]: whether a missing external service (e.g. the C++ client) fails a test instead of skipping it.
#![warn(missing_docs)]

pub mod client;
pub mod codec;
pub mod cpp_client;
pub mod fixtures;
pub mod process;
pub mod record;
pub mod schedule_support;
pub mod transaction_support;
pub mod wire;

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use client::RawClient;

/// A name unique within this test process (topics and groups), e.g. `unique("Topic")` → `Topic_1234_7`.
pub fn unique(prefix: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether this is a CI run (`RMQ_CI`, which `.ci/run` sets, or the usual `CI`, set to anything but empty, `0` or
/// `false`): tests that need something outside the workspace (such as Apache's C++ client) fail when it is missing
/// instead of printing a SKIP line.
pub fn ci() -> bool {
    ["RMQ_CI", "CI"].iter().any(|k| {
        std::env::var(k)
            .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
    })
}

/// Re-evaluates `check` until it yields `Some`, or fails after `timeout` with the last error text.
///
/// For conditions the tests cannot subscribe to (e.g. "the name server lists this broker"): the check is the
/// synchronisation, the short pause between attempts only bounds the polling rate.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "condition not met yet".to_owned(),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() >= deadline {
            anyhow::bail!("{what}: not true after {timeout:?} ({last})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
