//! The remoting codecs: each module decodes a family of RemotingCommands into a service's typed request,
//! calls the service and encodes its outcome. [`dispatch`] routes request codes to them; [`status`] maps
//! every service error to its response code and remark, in one place.

pub mod admin;
pub mod client;
pub mod consumer_call;
pub mod dispatch;
pub mod lock;
pub mod offset;
pub mod operations;
pub mod pop;
pub mod pull;
pub mod query;
pub mod recall;
pub mod refusal;
pub mod reply;
pub mod reset_offset;
pub mod retry;
pub mod send;
pub mod stats;
pub mod status;
pub mod transaction;

pub use dispatch::{dispatch, BrokerProcessor, Services};
pub use refusal::{Refusal, Reply};
