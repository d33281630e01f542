//! The Apache RocketMQ "remoting" protocol, as spoken by RocketMQ 4.x/5.x name servers, brokers and clients.
//!
//! Shared by `rmq-broker` and `rmq-client`, so both sides of every conversation use one codec, and it is their
//! common crate (as Java's `rocketmq-common`) for what both need besides: matching responses to requests and
//! writing state files atomically. No sockets here: bytes in, typed values out, and back.
//!
//! # Layout
//! - [`codes`]: request and response codes (`i32` constants, so unknown codes survive a round trip).
//! - [`command`]: [`RemotingCommand`], the seven header fields plus body that every frame carries.
//! - [`frame`]: the length-prefixed frame codec (tokio-util `Decoder`/`Encoder`) with a max frame size.
//! - [`header`]: JSON and ROCKETMQ-binary serialization of the command header.
//! - [`headers`]: typed request/response headers, converted to and from `extFields`.
//! - [`body`]: JSON bodies (heartbeat, route data, topic config, cluster info, ...).
//! - [`message`]: stored message layout, batch bodies, properties, message ids, sys flags, tag hash.
//! - [`pop`]: the handle of a popped message (`POP_CK`, gRPC receipt handle) and POP retry topic names.
//! - [`recall`]: the recall handle of a delayed message (RocketMQ 5.3).
//! - [`topic`]: the topic and group name rule, retry/DLQ topic names, system topics.
//! - [`lenient`]: how every header and body is read the way Java reads it (the rule table).
//! - [`error`]: the one error type, [`ProtocolError`].
//! - [`pending`]: requests waiting for their response on a connection, matched by `opaque`.
//! - [`persist`]: atomic replacement of a state file (temp file, fsync, rename).
//! - [`clock`]: the time messages are stamped with and deliveries wait on: the system clock or a test's
//!   virtual one.
//!
//! Facts come from `docs/protocol.md` in the repository (cited as "docs/protocol.md §n"), which names the Java
//! classes each was read from.
#![warn(missing_docs)]

pub mod body;
pub mod clock;
pub mod codes;
pub mod command;
pub mod error;
pub mod frame;
pub mod header;
pub mod headers;
pub mod lenient;
pub mod message;
pub mod pending;
pub mod persist;
pub mod pop;
pub mod recall;
pub mod topic;

pub use command::{LanguageCode, RemotingCommand, SerializeType};
pub use error::{ProtocolError, Result};
