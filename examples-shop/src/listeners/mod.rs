//! The consumers, declared with `#[rocketmq_listener]`. Each service consumes in its own consumer group
//! (CLUSTERING), so every service gets every message, the broker retries failures, and each service can
//! run as several instances. Each handler runs under the consumer-log guard (see [`crate::service`]).
//!
//! Topics, tags and groups are the config keys of `application.toml`, as `${...}` placeholders.

pub mod cancel;

/// The four cancel consumers, by function name (for `listener_stats`).
pub const CANCEL_LISTENERS: [&str; 4] = [
    "goods_order_cancel",
    "coupon_order_cancel",
    "user_order_cancel",
    "order_order_cancel",
];

/// Every listener of the shop.
pub const ALL_LISTENERS: [&str; 4] = CANCEL_LISTENERS;
