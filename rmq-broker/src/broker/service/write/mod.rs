//! The write service: the one path by which messages enter the store.
//!
//! Client sends (SEND_MESSAGE, V2, batch), reply messages, consumer send-back (retry and dead-letter
//! queues), dead-letter resends, transaction commits and op records, the check service's discards and the
//! schedule's redeliveries all go through [`WriteService`]. Each arrives as a typed request whose
//! [`Origin`] selects the steps that apply, always in this order: permission and size checks, retry/DLQ
//! redirect, deferral (delay level or timer), half message, stamping, the store put, waking the schedule, and
//! counting. Properties are parsed at most once and encoded once, right before the put; their size is checked
//! by the store alone.
//!
//! - [`request`]: the typed requests and outcomes.
//! - [`service`]: [`WriteService`] and the pipeline.
//! - [`route`]: where a producer's send goes (topic checks, auto-creation, queue choice).
//! - [`recall`]: cancelling a delayed message before its delivery time.
//! - [`retry`]: consumer send-back, dead-letter resend and the DLQ rule of plain retry sends.

pub mod recall;
pub mod request;
pub mod retry;
pub mod route;
pub mod service;

pub use recall::Recall;
pub use request::{
    BatchMessage, Message, Origin, Payload, Props, SendOutcome, SendRequest, Stored,
};
pub use retry::{ResendDlq, ResendOutcome, SendBack};
pub use route::Route;
pub use service::{PutCounter, WritePolicy, WriteService};
