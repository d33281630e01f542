//! The shop's configuration: `application.toml` (bundled into the binary, or read from a directory) with
//! the course notes' keys, and the names the services need resolved from it.

use std::path::Path;
use std::time::Duration;

use rmq_runtime::settings::{Settings, SettingsError};

/// The bundled `application.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("../application.toml");

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// rmq's settings refused a file or a value.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The bundled file does not parse (a build defect).
    #[error("bundled application.toml: {0}")]
    Bundled(String),
    /// A key the shop needs is missing.
    #[error("missing configuration key {0}")]
    Missing(&'static str),
}

/// Settings from `dir/application.*` when a directory is given (with environment overrides), else from
/// the bundled `application.toml`.
pub fn load_settings(dir: Option<&Path>) -> Result<Settings, ConfigError> {
    match dir {
        Some(dir) => Ok(Settings::load_dir(dir)?),
        None => bundled_settings(),
    }
}

/// The bundled `application.toml` as settings.
pub fn bundled_settings() -> Result<Settings, ConfigError> {
    Settings::from_toml_str(DEFAULT_CONFIG).map_err(|e| ConfigError::Bundled(e.to_string()))
}

/// Topics, tags and consumer groups, resolved once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopConfig {
    /// `rocketmq.producer.group`: also the outbox rows' group_name.
    pub producer_group: String,
    /// `mq.order.topic`.
    pub order_topic: String,
    /// `mq.order.tag.cancel`.
    pub order_tag_cancel: String,
    /// `mq.order.tag.confirm`.
    pub order_tag_confirm: String,
    /// `mq.pay.topic`.
    pub pay_topic: String,
    /// `mq.pay.tag.paid`.
    pub pay_tag_paid: String,
    /// Cancel groups: `mq.order.consumer.group.{name,goods,coupon,user}`.
    pub cancel_groups: CancelGroups,
    /// Pay groups: `mq.pay.consumer.group.{name,user,log}`.
    pub pay_groups: PayGroups,
    /// `mq.pay.outbox.interval-ms`: how often the relay looks for pending outbox rows.
    pub outbox_interval: Duration,
    /// `shop.max-attempts`: failed runs per key before dead-lettering.
    pub max_attempts: u32,
}

/// The four consumer groups of the cancel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelGroups {
    /// The order service's.
    pub order: String,
    /// The goods service's.
    pub goods: String,
    /// The coupon service's.
    pub coupon: String,
    /// The user service's.
    pub user: String,
}

/// The three consumer groups of the pay message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayGroups {
    /// The order service's.
    pub order: String,
    /// The user service's.
    pub user: String,
    /// The pay-log consumer's.
    pub log: String,
}

impl ShopConfig {
    /// Reads the keys from resolved settings.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let get = |key: &'static str| s.get(key).ok_or(ConfigError::Missing(key));
        Ok(ShopConfig {
            producer_group: get("rocketmq.producer.group")?,
            order_topic: get("mq.order.topic")?,
            order_tag_cancel: get("mq.order.tag.cancel")?,
            order_tag_confirm: get("mq.order.tag.confirm")?,
            pay_topic: get("mq.pay.topic")?,
            pay_tag_paid: get("mq.pay.tag.paid")?,
            cancel_groups: CancelGroups {
                order: get("mq.order.consumer.group.name")?,
                goods: get("mq.order.consumer.group.goods")?,
                coupon: get("mq.order.consumer.group.coupon")?,
                user: get("mq.order.consumer.group.user")?,
            },
            pay_groups: PayGroups {
                order: get("mq.pay.consumer.group.name")?,
                user: get("mq.pay.consumer.group.user")?,
                log: get("mq.pay.consumer.group.log")?,
            },
            outbox_interval: Duration::from_millis(
                s.get_parsed::<u64>("mq.pay.outbox.interval-ms")?
                    .unwrap_or(1000)
                    .max(10),
            ),
            max_attempts: s
                .get_parsed::<u32>("shop.max-attempts")?
                .unwrap_or(3)
                .max(1),
        })
    }

    /// `orderTopic:order_cancel`.
    pub fn cancel_destination(&self) -> String {
        format!("{}:{}", self.order_topic, self.order_tag_cancel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_config_has_the_notes_keys() {
        let s = bundled_settings().expect("bundled config parses");
        let c = ShopConfig::from_settings(&s).expect("keys present");
        assert_eq!(c.producer_group, "orderProducerGroup");
        assert_eq!(c.cancel_destination(), "orderTopic:order_cancel");
        assert_eq!(c.order_tag_confirm, "order_confirm");
        assert_eq!(
            (c.pay_topic.as_str(), c.pay_tag_paid.as_str()),
            ("payTopic", "paid")
        );
        let groups = [
            &c.cancel_groups.order,
            &c.cancel_groups.goods,
            &c.cancel_groups.coupon,
            &c.cancel_groups.user,
            &c.pay_groups.order,
            &c.pay_groups.user,
            &c.pay_groups.log,
        ];
        for (i, g) in groups.iter().enumerate() {
            assert!(!groups[..i].contains(g), "group {g} is shared");
        }
        assert!(s.check_known_keys().is_ok());
    }
}
