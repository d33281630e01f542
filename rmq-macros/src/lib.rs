//! Proc macros of rmq (`#[rocketmq_listener]`, `#[rocketmq_transaction_listener]`); they arrive with the
//! Spring-style layer issue. Use them through `rmq-runtime`, which re-exports them.
