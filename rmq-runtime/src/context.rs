//! The application context handlers see: beans, templates, settings and the payload codec.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::settings::Settings;
use crate::template::RocketMqTemplate;

/// Turns payloads into bodies and back; serde_json unless the application plugs in another format.
pub trait Codec: Send + Sync + 'static {
    /// Encodes a value (already in serde's data model) into a message body.
    fn encode_value(&self, value: &serde_json::Value) -> Result<Vec<u8>, String>;
    /// Decodes a body into serde's data model.
    fn decode_value(&self, body: &[u8]) -> Result<serde_json::Value, String>;
    /// Whether this is plain JSON, so typed values can skip the `Value` detour.
    fn is_json(&self) -> bool {
        false
    }
}

/// The default codec: JSON text.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCodec;

impl Codec for JsonCodec {
    fn encode_value(&self, value: &serde_json::Value) -> Result<Vec<u8>, String> {
        serde_json::to_vec(value).map_err(|e| e.to_string())
    }
    fn decode_value(&self, body: &[u8]) -> Result<serde_json::Value, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }
    fn is_json(&self) -> bool {
        true
    }
}

/// A shareable codec handle with typed helpers.
#[derive(Clone)]
pub struct CodecHandle(Arc<dyn Codec>);

impl std::fmt::Debug for CodecHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodecHandle")
    }
}

impl Default for CodecHandle {
    fn default() -> Self {
        CodecHandle(Arc::new(JsonCodec))
    }
}

impl CodecHandle {
    /// Wraps a custom codec.
    pub fn new(codec: impl Codec) -> Self {
        CodecHandle(Arc::new(codec))
    }

    /// Encodes `value` as a body.
    pub fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, String> {
        if self.0.is_json() {
            return serde_json::to_vec(value).map_err(|e| e.to_string());
        }
        let v = serde_json::to_value(value).map_err(|e| e.to_string())?;
        self.0.encode_value(&v)
    }

    /// Decodes a body into `T`.
    pub fn decode<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, String> {
        if self.0.is_json() {
            return serde_json::from_slice(body).map_err(|e| e.to_string());
        }
        let v = self.0.decode_value(body)?;
        serde_json::from_value(v).map_err(|e| e.to_string())
    }
}

/// Everything a running application shares with its handlers.
pub struct AppContext {
    beans: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    templates: HashMap<String, RocketMqTemplate>,
    settings: Settings,
    codec: CodecHandle,
}

impl std::fmt::Debug for AppContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppContext")
            .field("beans", &self.beans.len())
            .field("templates", &self.templates.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The name of the template built from `rocketmq.producer.*` (rocketmq-spring's `rocketMQTemplate` bean).
pub const DEFAULT_TEMPLATE: &str = "rocketMQTemplate";

impl AppContext {
    /// A context from parts (the application builder assembles them).
    pub fn new(
        beans: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
        templates: HashMap<String, RocketMqTemplate>,
        settings: Settings,
        codec: CodecHandle,
    ) -> Self {
        AppContext {
            beans,
            templates,
            settings,
            codec,
        }
    }

    /// The bean of type `T`, if registered.
    pub fn bean<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.beans
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|b| b.downcast::<T>().ok())
    }

    /// Whether a bean with this type id is registered (start-up validation).
    pub fn has_bean(&self, type_id: TypeId) -> bool {
        self.beans.contains_key(&type_id)
    }

    /// A template by name.
    pub fn template(&self, name: &str) -> Option<&RocketMqTemplate> {
        self.templates.get(name)
    }

    /// The default template.
    pub fn default_template(&self) -> Option<&RocketMqTemplate> {
        self.templates.get(DEFAULT_TEMPLATE)
    }

    /// Resolved configuration.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The payload codec.
    pub fn codec(&self) -> &CodecHandle {
        &self.codec
    }
}
