//! The application context handlers see: beans, templates, settings and the payload codec.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

pub use crate::codec::{Codec, CodecHandle, JsonCodec};
use crate::settings::Settings;
use crate::template::RocketMqTemplate;

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
