//! The shop: the course notes' order / goods / coupon / user / pay services on rmq.
//!
//! # Layout
//!
//! - [`config`]: `application.toml` (the notes' keys) and the names resolved from it.
//! - [`db`]: SQLite or PostgreSQL, the migrations of `migrations/`, every SQL statement ([`db::ShopDb`]),
//!   seed data.
//! - [`error`]: [`ShopError`], one variant per refusal, each with a code.
//! - [`ids`]: snowflake-style ids and the clock.
#![warn(missing_docs)]

pub mod config;
pub mod db;
pub mod error;
pub mod ids;

pub use error::{ShopError, ShopResult};
