//! The payload codec: how typed values become message bodies and back (serde_json unless the application
//! plugs in another format). Templates encode with it, listeners decode with it.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

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
