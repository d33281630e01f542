//! Handler arguments, extracted the axum way: each argument type says how it is built from a delivery.

use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::ListenerError;
use crate::context::AppContext;
use crate::message::MessageExt;
use crate::template::RocketMqTemplate;

/// Builds a handler argument from one message and the application.
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
#[derive(Debug)]
pub struct Bean<T: ?Sized>(pub Arc<T>);

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
