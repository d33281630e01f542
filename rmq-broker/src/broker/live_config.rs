//! Broker settings an operator may change while the broker runs (UPDATE_BROKER_CONFIG): held in atomics the
//! services read on every request, so a change takes effect at the next request without a restart.
//!
//! Today that is `brokerPermission`, which operators flip to drain a broker (4: read-only) or bring it back
//! (6). A change also re-registers with the name servers at once (the topic table's version is bumped, as
//! Java does), with every topic's permission masked by the broker's, as Java's `registerBrokerAll` does.

use std::sync::atomic::{AtomicI32, Ordering};

/// Keys [`LiveConfig`] applies at run time; other keys are saved and take effect at the next start.
pub const LIVE_KEYS: &[&str] = &["brokerPermission"];

/// The run-time-changeable settings.
#[derive(Debug)]
pub struct LiveConfig {
    broker_permission: AtomicI32,
}

impl LiveConfig {
    /// Starts from `broker_permission`.
    pub fn new(broker_permission: i32) -> Self {
        LiveConfig {
            broker_permission: AtomicI32::new(broker_permission),
        }
    }

    /// `brokerPermission` now.
    pub fn broker_permission(&self) -> i32 {
        self.broker_permission.load(Ordering::Acquire)
    }

    /// Changes `brokerPermission` (the caller has the routes published again).
    pub fn set_broker_permission(&self, perm: i32) {
        self.broker_permission.store(perm, Ordering::Release);
    }
}
