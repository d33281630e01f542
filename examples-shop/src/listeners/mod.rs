//! The consumers, declared with `#[rocketmq_listener]`. Each service consumes in its own consumer group
//! (CLUSTERING), so every service gets every message, the broker retries failures, and each service can
//! run as several instances. Each handler runs under the consumer-log guard (see [`crate::service`]).
//!
//! Topics, tags and groups are the config keys of `application.toml`, as `${...}` placeholders.

pub mod cancel;
pub mod pay;

/// The four cancel consumers, by function name (for `listener_stats`).
pub const CANCEL_LISTENERS: [&str; 4] = [
    "goods_order_cancel",
    "coupon_order_cancel",
    "user_order_cancel",
    "order_order_cancel",
];

/// The three pay consumers, by function name.
pub const PAY_LISTENERS: [&str; 3] = ["order_pay_paid", "user_pay_paid", "pay_log_paid"];

/// Every listener of the shop.
pub const ALL_LISTENERS: [&str; 7] = [
    CANCEL_LISTENERS[0],
    CANCEL_LISTENERS[1],
    CANCEL_LISTENERS[2],
    CANCEL_LISTENERS[3],
    PAY_LISTENERS[0],
    PAY_LISTENERS[1],
    PAY_LISTENERS[2],
];
