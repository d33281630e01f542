//! The frame codec [`crate::client::RawClient`] speaks.
//!
//! `rmq-protocol`'s own codec, so the client exercises the crate the broker is built on; the wire-format tests
//! use the independent [`crate::wire`] module instead.

/// Codec used by [`crate::client::RawClient`].
pub type Codec = rmq_protocol::frame::RemotingCodec;
