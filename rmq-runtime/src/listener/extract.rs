//! Handler arguments, extracted the axum way: each argument type says how it is built from a delivery.
//!
//! Every argument goes through [`FromMessage`], which applications implement for their own types too. A type
//! that does not implement it but is `Deserialize` is the body decoded by the codec (`order: Order`); the
//! macro picks between the two with [`Extractor`] (see there). `Option<T>` is `None` where `T` does not
//! extract (absent bean, undecodable body, missing header).

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::ListenerError;
use crate::context::AppContext;
use crate::message::MessageExt;
use crate::template::RocketMqTemplate;
use rmq_protocol::message::{properties, Properties};

/// Builds a handler argument from one message and the application.
///
/// Implement it for your own argument types (a value parsed from a property, a tenant looked up from a header)
/// and take them as listener arguments like the built-in ones:
///
/// ```
/// use std::sync::Arc;
/// use rmq_runtime::context::AppContext;
/// use rmq_runtime::listener::FromMessage;
/// use rmq_runtime::{ListenerError, MessageExt};
///
/// struct Tenant(String);
///
/// impl FromMessage for Tenant {
///     fn from_message(msg: &MessageExt, _ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
///         msg.property("tenant")
///             .map(|t| Tenant(t.to_string()))
///             .ok_or_else(|| ListenerError::dead_letter_msg("no tenant property"))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `FromMessage`",
    note = "implement `rmq_runtime::FromMessage` for it, or take it as a `serde::Deserialize` payload"
)]
pub trait FromMessage: Sized {
    /// Extracts the argument; an error here dead-letters (the payload will never parse) or retries (a bean
    /// is missing) as the implementation decides.
    fn from_message(msg: &MessageExt, ctx: &Arc<AppContext>) -> Result<Self, ListenerError>;
}

/// The body parsed as JSON into `T`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromMessage for Json<T> {
    fn from_message(msg: &MessageExt, ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        ctx.codec().decode::<T>(&msg.body).map(Json).map_err(|e| {
            ListenerError::dead_letter_msg(format!(
                "message {} body is not a {}: {e}",
                msg.msg_id(),
                std::any::type_name::<T>()
            ))
        })
    }
}

/// The body decoded into any `T: DeserializeOwned` (what a bare `T` argument means); the macro unwraps it.
#[derive(Debug)]
pub struct Payload<T>(pub T);

impl<T: DeserializeOwned> FromMessage for Payload<T> {
    fn from_message(msg: &MessageExt, ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        Json::<T>::from_message(msg, ctx).map(|j| Payload(j.0))
    }
}

/// A shared value registered on the application (a DB pool, a service).
///
/// It derefs to `T`, so `bean.method()` and `bean.0` reach the bean itself (the `Arc` is not a public field,
/// which would shadow a tuple-struct bean's own `.0`); [`Bean::arc`] gives the `Arc` to keep or pass on.
#[derive(Debug)]
pub struct Bean<T: ?Sized>(Arc<T>);

impl<T: ?Sized> Bean<T> {
    /// Wraps a shared value (what the container does for each registered bean).
    pub fn new(value: Arc<T>) -> Self {
        Bean(value)
    }

    /// The shared `Arc`, to clone into a task or a struct.
    pub fn arc(&self) -> &Arc<T> {
        &self.0
    }

    /// The shared `Arc`, by value.
    pub fn into_arc(self) -> Arc<T> {
        self.0
    }
}

impl<T: ?Sized> From<Arc<T>> for Bean<T> {
    fn from(value: Arc<T>) -> Self {
        Bean(value)
    }
}

impl<T: ?Sized> Clone for Bean<T> {
    fn clone(&self) -> Self {
        Bean(self.0.clone())
    }
}

impl<T: ?Sized> Deref for Bean<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Send + Sync + 'static> FromMessage for Bean<T> {
    fn from_message(_msg: &MessageExt, ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        ctx.bean::<T>().map(Bean).ok_or_else(|| {
            ListenerError::retry_msg(format!(
                "no bean of type {} is registered",
                std::any::type_name::<T>()
            ))
        })
    }
}

impl FromMessage for MessageExt {
    fn from_message(msg: &MessageExt, _ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        Ok(msg.clone())
    }
}

impl FromMessage for String {
    fn from_message(msg: &MessageExt, _ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        String::from_utf8(msg.body.to_vec()).map_err(|e| {
            ListenerError::dead_letter_msg(format!(
                "message {} body is not UTF-8: {e}",
                msg.msg_id()
            ))
        })
    }
}

impl FromMessage for Vec<u8> {
    fn from_message(msg: &MessageExt, _ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        Ok(msg.body.to_vec())
    }
}

impl FromMessage for Bytes {
    fn from_message(msg: &MessageExt, _ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        Ok(msg.body.clone())
    }
}

impl FromMessage for Arc<AppContext> {
    fn from_message(_msg: &MessageExt, ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        Ok(ctx.clone())
    }
}

impl FromMessage for RocketMqTemplate {
    fn from_message(_msg: &MessageExt, ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        ctx.default_template().cloned().ok_or_else(|| {
            ListenerError::retry_msg("no default RocketMqTemplate (set rocketmq.producer.group)")
        })
    }
}

/// The message's properties (rocketmq-spring's `@Headers`): system ones such as `KEYS`, `TAGS` and `UNIQ_KEY`
/// and the user properties a producer set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Properties);

impl Headers {
    /// A property by name (the last one when repeated, as Java's map).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }

    /// The user properties: every pair whose key is not one of Java's system keys.
    pub fn user(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().filter(|(k, _)| !properties::is_system(k))
    }

    /// The message keys (`KEYS`, space-separated).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        properties::split_keys(self.get(properties::KEYS).unwrap_or_default())
    }

    /// The tag, if the message has one.
    pub fn tag(&self) -> Option<&str> {
        self.get(properties::TAGS)
    }
}

impl Deref for Headers {
    type Target = Properties;
    fn deref(&self) -> &Properties {
        &self.0
    }
}

impl FromMessage for Headers {
    fn from_message(msg: &MessageExt, _ctx: &Arc<AppContext>) -> Result<Self, ListenerError> {
        Ok(Headers(msg.properties.clone()))
    }
}

/// How the macro reaches an argument's extractor: through [`FromMessage`] when the type implements it,
/// otherwise as the body decoded into a `T: Deserialize` ([`Payload`]).
///
/// Rust has no specialization, so the choice is made by method resolution ("autoref specialization"): the
/// macro calls `(&&Extractor::<T>::new()).extract(..)`; [`ViaFromMessage`] is implemented for
/// `&Extractor<T>` where `T: FromMessage` and is found first, the inherent [`Extractor::extract`] (for
/// `T: Deserialize`) one auto-deref later. A type with neither gets [`PayloadArgument`]'s compile error at
/// the argument. Not an API to call by hand.
#[doc(hidden)]
pub struct Extractor<T>(PhantomData<fn() -> T>);

impl<T> Extractor<T> {
    /// The extractor of `T`.
    pub const fn new() -> Self {
        Extractor(PhantomData)
    }
}

impl<T> Default for Extractor<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The [`FromMessage`] branch of [`Extractor`].
#[doc(hidden)]
pub trait ViaFromMessage<T> {
    /// Extracts `T` with its `FromMessage` impl.
    fn extract(&self, msg: &MessageExt, ctx: &Arc<AppContext>) -> Result<T, ListenerError>;
}

impl<T: FromMessage> ViaFromMessage<T> for &Extractor<T> {
    fn extract(&self, msg: &MessageExt, ctx: &Arc<AppContext>) -> Result<T, ListenerError> {
        T::from_message(msg, ctx)
    }
}

/// What a listener argument that does not implement [`FromMessage`] must be: a `Deserialize` type, the
/// body decoded by the application's codec.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a listener argument",
    label = "neither `FromMessage` nor `Deserialize`",
    note = "an argument is a type implementing `rmq_runtime::FromMessage` (Json<T>, String, Bytes, MessageExt, Headers, Bean<T>, RocketMqTemplate, Arc<AppContext>, or your own impl), or a `T: serde::Deserialize` decoded from the body"
)]
pub trait PayloadArgument: DeserializeOwned {}

impl<T: DeserializeOwned> PayloadArgument for T {}

impl<T> Extractor<T> {
    /// Extracts `T` by decoding the body: the branch for types without a `FromMessage` impl. An inherent
    /// method, found after [`ViaFromMessage`] and whose bound is checked only once chosen, so a type with
    /// neither gets [`PayloadArgument`]'s message.
    pub fn extract(&self, msg: &MessageExt, ctx: &Arc<AppContext>) -> Result<T, ListenerError>
    where
        T: PayloadArgument,
    {
        Payload::<T>::from_message(msg, ctx).map(|p| p.0)
    }
}

/// Shim helper for `Option<T>` arguments: `None` where `T` did not extract (logged at debug level).
pub fn optional<T>(extracted: Result<T, ListenerError>, msg: &MessageExt) -> Option<T> {
    match extracted {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::debug!(
                msg_id = %msg.msg_id(),
                argument = std::any::type_name::<T>(),
                error = %e,
                "optional listener argument not extracted"
            );
            None
        }
    }
}
