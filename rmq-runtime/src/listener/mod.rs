//! What `#[rocketmq_listener]` expands to, and what the container needs to run it.
//!
//! The macro keeps the user's `async fn` as written and adds two things: a handler shim (a plain `fn` pointer
//! that extracts each argument from the message and the application context, awaits the user's function and
//! turns its return value into a [`HandlerResult`]) and a [`ListenerDef`] registered with `inventory`.
//!
//! Registration uses **inventory** rather than linkme: inventory's `submit!` works with any linker and target
//! our users build for (linkme's linker sections need per-platform support and have broken under some LTO and
//! static-linking setups), and its one-time start-up cost is a few pointer pushes per listener.

mod error;
mod extract;
mod name;

use std::any::TypeId;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;

pub use self::error::{ErrorConv, ListenerError, ListenerReturnError, ViaBoxed};
pub use self::extract::{
    optional, Bean, Extractor, FromMessage, Headers, Json, Payload, PayloadArgument, ViaFromMessage,
};
pub use self::name::ListenerName;
use crate::context::AppContext;
use crate::message::MessageExt;

/// What a handler shim returns: an optional reply body (reply listeners), or why the message failed.
pub type HandlerResult = Result<Option<Bytes>, ListenerError>;

/// The shim the macro generates around a listener function.
pub type HandlerFn = fn(Arc<AppContext>, Vec<MessageExt>) -> BoxFuture<'static, HandlerResult>;

/// A bean type a listener extracts, checked at start-up so a missing registration fails before any message.
#[derive(Debug, Clone, Copy)]
pub struct BeanRequirement {
    /// The bean's type id.
    pub type_id: fn() -> TypeId,
    /// The bean's type name, for the error message.
    pub type_name: fn() -> &'static str,
}

impl BeanRequirement {
    /// The requirement for `T` (const, so the macro can put it in a static).
    pub const fn of<T: 'static>() -> BeanRequirement {
        BeanRequirement {
            type_id: TypeId::of::<T>,
            type_name: std::any::type_name::<T>,
        }
    }
}

/// One `#[rocketmq_listener]` function, as the macro registered it.
///
/// Attribute values are kept as written (numbers too) so `${key:default}` placeholders resolve from config at
/// start-up; the macro already refused unknown attributes and bad literal values.
#[derive(Debug)]
pub struct ListenerDef {
    /// The function name (error messages and logs name the listener by it).
    pub name: &'static str,
    /// `module_path!()` of the function.
    pub module: &'static str,
    /// `file!()` of the function.
    pub file: &'static str,
    /// `line!()` of the function.
    pub line: u32,
    /// `(attribute, raw value)` pairs, e.g. `("topic", "${mq.order.topic}")`.
    pub attrs: &'static [(&'static str, &'static str)],
    /// The shim that runs the function for a delivery.
    pub handler: HandlerFn,
    /// Beans the arguments need.
    pub beans: &'static [BeanRequirement],
    /// Batch form: the first argument is a `Vec<_>`, the shim accepts several messages.
    pub batch: bool,
    /// Reply form: the function returns a value that is sent back to a `send_and_receive` caller.
    pub reply: bool,
}

impl ListenerDef {
    /// The raw value of an attribute, if given.
    pub fn attr(&self, key: &str) -> Option<&'static str> {
        self.attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// Every listener linked into this binary.
    pub fn all() -> impl Iterator<Item = &'static ListenerDef> {
        inventory::iter::<ListenerDef>.into_iter()
    }
}

inventory::collect!(ListenerDef);

/// Shim helper: the single message of a non-batch delivery.
pub fn single(mut msgs: Vec<MessageExt>) -> Result<MessageExt, ListenerError> {
    match msgs.len() {
        1 => Ok(msgs.remove(0)),
        n => Err(ListenerError::dead_letter_msg(format!(
            "a single-message listener was given {n} messages (consume_message_batch_max_size must be 1)"
        ))),
    }
}

/// Shim helper: a listener without a reply.
pub fn no_reply<R, E: Into<ListenerError>>(ret: Result<R, E>) -> HandlerResult {
    ret.map(|_| None).map_err(Into::into)
}

/// Shim helper: a reply listener returning a serializable value (sent as JSON).
pub fn reply_json<R: serde::Serialize, E: Into<ListenerError>>(ret: Result<R, E>) -> HandlerResult {
    let value = ret.map_err(Into::into)?;
    serde_json::to_vec(&value)
        .map(|v| Some(Bytes::from(v)))
        .map_err(|e| ListenerError::dead_letter_msg(format!("reply does not serialize: {e}")))
}

/// Shim helper: a reply listener returning a `String` (sent as its UTF-8 bytes, as rocketmq-spring does).
pub fn reply_string<E: Into<ListenerError>>(ret: Result<String, E>) -> HandlerResult {
    ret.map(|s| Some(Bytes::from(s))).map_err(Into::into)
}

/// Shim helper: a reply listener returning raw bytes (`Vec<u8>` or `Bytes`).
pub fn reply_bytes<R: Into<Bytes>, E: Into<ListenerError>>(ret: Result<R, E>) -> HandlerResult {
    ret.map(|b| Some(b.into())).map_err(Into::into)
}
