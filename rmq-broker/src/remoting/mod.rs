//! TCP plumbing shared by the name server and the broker: the accept loop, per-connection tasks, and an
//! outbound client for broker → name-server calls.

pub mod client;
pub mod server;

pub use client::{ClientError, RemotingClient};
pub use server::{serve, Connection, ConnectionCount, InvokeError, RequestHandler};
