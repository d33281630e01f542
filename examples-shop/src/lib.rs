//! The shop: the course notes' order / goods / coupon / user / pay services on rmq.
//!
//! # Layout
//!
//! - [`config`]: `application.toml` (the notes' keys) and the names resolved from it.
//! - [`db`]: SQLite or PostgreSQL, the migrations of `migrations/`, every SQL statement ([`db::ShopDb`]),
//!   seed data.
//! - [`error`]: [`ShopError`], one variant per refusal, each with a code.
//! - [`ids`]: snowflake-style ids and the clock.
//! - [`service`]: the five services ([`service::Shop`] over a database, [`service::AnyShop`] over either).
//! - [`listeners`]: the `#[rocketmq_listener]` consumers, one consumer group per service and message.
//! - [`http`]: the axum API (`/order/confirm`, `/pay/createPayment`, `/pay/callbackPayment`, reads).
//! - [`relay`]: the outbox relay of the payment callback.
//! - [`app`]: [`app::ShopApp`] starts it all (database, broker, template, listeners).
//! - [`demo`]: the `demo` command's scenarios and invariants.
#![warn(missing_docs)]

pub mod app;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod http;
pub mod ids;
pub mod listeners;
pub mod relay;
pub mod service;

pub use error::{ShopError, ShopResult};
