//! rmq end-to-end tests over real TCP against a real broker (embedded, or the `rmq-broker` binary as a child
//! process), each with its own ephemeral ports and temporary store.
//!
//! One test binary with a module per acceptance area keeps link time down; each test still starts its own broker.

mod bad_input;
mod broker_admin;
mod broker_conf;
mod checklist;
mod crash;
mod namesrv;
mod namesrv_admin;
mod persistence;
mod pop;
mod power_cut;
mod query;
