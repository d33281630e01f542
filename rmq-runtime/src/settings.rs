//! Application configuration: rocketmq-spring's keys from application.{toml,yaml,json,properties}, environment
//! overrides, and `${key:default}` placeholders.
//!
//! Files are read with the `config` crate (Java `.properties` with a small parser of its own) and flattened to
//! dotted keys, so `[rocketmq] name-server = "..."` and `rocketmq.name-server=...` are the same setting. An
//! environment variable named like the key in upper case with `.` and `-` as `_` (ROCKETMQ_NAME_SERVER)
//! overrides the file, as Spring's relaxed binding does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rmq_filter::suggest::edit_distance;

/// Why configuration could not be loaded or resolved; every variant names the key or file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A file could not be read or parsed.
    #[error("config file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Parser or I/O message.
        reason: String,
    },
    /// Configuration given as text (a bundled default) could not be parsed.
    #[error("configuration text: {reason}")]
    Text {
        /// Parser message.
        reason: String,
    },
    /// `${key}` names a key that is not set and has no default.
    #[error("unresolved placeholder ${{{key}}} in {context}")]
    Unresolved {
        /// The missing key.
        key: String,
        /// Where the placeholder was (attribute and listener).
        context: String,
    },
    /// Placeholders that refer back to themselves, e.g. `a = "${b}"`, `b = "${a}"`.
    #[error("placeholder cycle: {}", .keys.join(" -> "))]
    Cycle {
        /// The keys in the order they were followed, the first repeated at the end.
        keys: Vec<String>,
    },
    /// A value does not have the expected type.
    #[error("{key} = {value:?}: {reason}")]
    Invalid {
        /// The key (or attribute).
        key: String,
        /// Its value.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A rocketmq-spring key asks for something rmq's client does not implement (ACL signing, TLS, message
    /// trace, namespaceV2): refused rather than ignored, since running without it is not what was configured.
    #[error("{key} = {value:?}: {reason}")]
    Unsupported {
        /// The key as written.
        key: String,
        /// Its value.
        value: String,
        /// What is missing and what to do instead.
        reason: String,
    },
    /// A `rocketmq.*` key rmq does not know (a typo would otherwise be ignored silently).
    #[error("unknown config key {key}{hint}")]
    UnknownKey {
        /// The key.
        key: String,
        /// "; did you mean ...?" when a known key is close.
        hint: String,
    },
}

/// rocketmq-spring's keys (relaxed: compared after removing `-` and `_` and lower-casing), plus rmq's own.
const KNOWN_KEYS: &[&str] = &[
    "rocketmq.name-server",
    "rocketmq.access-channel",
    "rocketmq.producer.group",
    "rocketmq.producer.namespace",
    "rocketmq.producer.send-message-timeout",
    "rocketmq.producer.retry-times-when-send-failed",
    "rocketmq.producer.retry-times-when-send-async-failed",
    "rocketmq.producer.compress-message-body-threshold",
    "rocketmq.producer.max-message-size",
    "rocketmq.producer.retry-next-server",
    "rocketmq.producer.instance-name",
    "rocketmq.producer.access-key",
    "rocketmq.producer.secret-key",
    "rocketmq.producer.enable-msg-trace",
    "rocketmq.producer.customized-trace-topic",
    "rocketmq.producer.tls-enable",
    "rocketmq.producer.namespace-v2",
    // The template's pull consumer: rocketmq-spring 2.2.3+ spells it rocketmq.pull-consumer.*, 2.0-2.2.2 (and
    // the guides written then) rocketmq.consumer.*; both are read (see PULL_CONSUMER_PREFIXES).
    "rocketmq.pull-consumer.group",
    "rocketmq.pull-consumer.topic",
    "rocketmq.pull-consumer.selector-type",
    "rocketmq.pull-consumer.selector-expression",
    "rocketmq.pull-consumer.message-model",
    "rocketmq.pull-consumer.pull-batch-size",
    "rocketmq.pull-consumer.namespace",
    "rocketmq.pull-consumer.instance-name",
    "rocketmq.pull-consumer.access-key",
    "rocketmq.pull-consumer.secret-key",
    "rocketmq.pull-consumer.enable-msg-trace",
    "rocketmq.pull-consumer.customized-trace-topic",
    "rocketmq.pull-consumer.tls-enable",
    "rocketmq.pull-consumer.namespace-v2",
    "rocketmq.consumer.group",
    "rocketmq.consumer.topic",
    "rocketmq.consumer.selector-type",
    "rocketmq.consumer.selector-expression",
    "rocketmq.consumer.message-model",
    "rocketmq.consumer.pull-batch-size",
    "rocketmq.consumer.namespace",
    "rocketmq.consumer.instance-name",
    "rocketmq.consumer.access-key",
    "rocketmq.consumer.secret-key",
    "rocketmq.consumer.enable-msg-trace",
    "rocketmq.consumer.customized-trace-topic",
    "rocketmq.consumer.tls-enable",
    "rocketmq.consumer.namespace-v2",
    "rocketmq.consumer.local-offset-store-dir",
    "rocketmq.embedded.store-dir",
    "rocketmq.embedded.flush-disk-type",
    "rocketmq.logging.default-subscriber",
];

/// Where the template's pull consumer is configured: rocketmq-spring 2.2.3+'s prefix first, then the
/// `rocketmq.consumer.` of 2.0–2.2.2 that older guides and applications use.
pub const PULL_CONSUMER_PREFIXES: [&str; 2] = ["rocketmq.pull-consumer.", "rocketmq.consumer."];

/// rocketmq-spring client settings rmq cannot honour, `(field, refused when, why)`, checked under
/// `rocketmq.producer.` and both [`PULL_CONSUMER_PREFIXES`]. Their defaults (empty, `false`) are accepted.
const UNSUPPORTED: &[(&str, Refused, &str)] = &[
    (
        "access-key",
        Refused::NonEmpty,
        "ACL request signing (access-key/secret-key) is not implemented in rmq's client; remove the key",
    ),
    (
        "secret-key",
        Refused::NonEmpty,
        "ACL request signing (access-key/secret-key) is not implemented in rmq's client; remove the key",
    ),
    (
        "enable-msg-trace",
        Refused::True,
        "message trace is not implemented in rmq's client; remove the key or set it to false",
    ),
    (
        "tls-enable",
        Refused::True,
        "TLS is not implemented in rmq's client; remove the key or set it to false",
    ),
    (
        "namespace-v2",
        Refused::NonEmpty,
        "namespaceV2 is not implemented in rmq's client; use namespace",
    ),
];

/// When an [`UNSUPPORTED`] setting is refused.
#[derive(Debug, Clone, Copy)]
enum Refused {
    /// Any non-blank value.
    NonEmpty,
    /// `true` (`false` is accepted; anything else is not a boolean).
    True,
}

fn relaxed(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Flat, resolved configuration.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: BTreeMap<String, String>,
    use_env: bool,
}

impl Settings {
    /// Settings from explicit pairs (tests and programmatic setup); no environment overrides.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Settings {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            use_env: false,
        }
    }

    /// Loads `application.{toml,yaml,yml,json,properties}` from `dir` (each that exists, in that order, later
    /// ones winning) with environment overrides.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, SettingsError> {
        let mut settings = Settings {
            values: BTreeMap::new(),
            use_env: true,
        };
        for ext in ["toml", "yaml", "yml", "json", "properties"] {
            let path = dir.as_ref().join(format!("application.{ext}"));
            if path.exists() {
                settings.merge_file(&path)?;
            }
        }
        Ok(settings)
    }

    /// Loads one file (format from its extension) with environment overrides.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Self, SettingsError> {
        let mut settings = Settings {
            values: BTreeMap::new(),
            use_env: true,
        };
        settings.merge_file(path.as_ref())?;
        Ok(settings)
    }

    fn merge_file(&mut self, path: &Path) -> Result<(), SettingsError> {
        let err = |reason: String| SettingsError::File {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if ext == "properties" {
            self.values.extend(parse_properties(&text));
            return Ok(());
        }
        let format = match ext {
            "toml" => config::FileFormat::Toml,
            "yaml" | "yml" => config::FileFormat::Yaml,
            "json" => config::FileFormat::Json,
            other => return Err(err(format!("unsupported extension {other:?}"))),
        };
        self.values
            .extend(parse_structured(&text, format).map_err(err)?);
        Ok(())
    }

    /// Settings from TOML text, e.g. a configuration bundled into a binary; no environment overrides.
    ///
    /// # Errors
    /// [`SettingsError::Text`] with the parser's message.
    pub fn from_toml_str(text: &str) -> Result<Self, SettingsError> {
        let values = parse_structured(text, config::FileFormat::Toml)
            .map_err(|reason| SettingsError::Text { reason })?;
        Ok(Settings {
            values,
            use_env: false,
        })
    }

    /// Sets a value (programmatic overrides win over files, not over the environment).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.values.insert(key.into(), value.into());
    }

    /// A value: the environment override, else the file's (keys compared relaxed), with the `${...}`
    /// placeholders it holds resolved as Spring's `Environment` does (`group = "${app.name}_orders"`). A value
    /// whose placeholders do not resolve is returned as written; [`Settings::check_placeholders`] reports it
    /// at start-up.
    pub fn get(&self, key: &str) -> Option<String> {
        let raw = self.raw_get(key)?;
        if !raw.contains("${") {
            return Some(raw);
        }
        let mut stack = vec![key.to_string()];
        Some(self.expand(&raw, key, &mut stack).unwrap_or(raw))
    }

    /// Every value's placeholders resolve (no unknown key without a default, no cycle); the error names the
    /// key whose value failed.
    pub fn check_placeholders(&self) -> Result<(), SettingsError> {
        for (key, value) in &self.values {
            if value.contains("${") {
                let mut stack = vec![key.clone()];
                self.expand(value, &format!("the value of {key}"), &mut stack)?;
            }
        }
        Ok(())
    }

    /// A value as written (environment override, else the file's; keys compared relaxed).
    fn raw_get(&self, key: &str) -> Option<String> {
        if self.use_env {
            let env_key: String = key.to_uppercase().replace(['.', '-'], "_");
            if let Ok(v) = std::env::var(&env_key) {
                return Some(v);
            }
        }
        if let Some(v) = self.values.get(key) {
            return Some(v.clone());
        }
        let want = relaxed(key);
        self.values
            .iter()
            .find(|(k, _)| relaxed(k) == want)
            .map(|(_, v)| v.clone())
    }

    /// A typed value, with an error naming the key when it does not parse.
    pub fn get_parsed<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, SettingsError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<T>()
                .map(Some)
                .map_err(|e| SettingsError::Invalid {
                    key: key.to_string(),
                    value: v.clone(),
                    reason: e.to_string(),
                }),
        }
    }

    /// Replaces every `${key}` / `${key:default}` in `raw`; `context` names the place for errors. Values
    /// and defaults may hold placeholders themselves (`${a:${b}}`); a cycle is an error naming its keys.
    pub fn resolve(&self, raw: &str, context: &str) -> Result<String, SettingsError> {
        self.expand(raw, context, &mut Vec::new())
    }

    /// [`Settings::resolve`] with the keys being expanded (outermost first), to refuse cycles.
    fn expand(
        &self,
        raw: &str,
        context: &str,
        stack: &mut Vec<String>,
    ) -> Result<String, SettingsError> {
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = closing_brace(after) else {
                return Err(SettingsError::Invalid {
                    key: context.to_string(),
                    value: raw.to_string(),
                    reason: "unterminated ${".into(),
                });
            };
            let inner = &after[..end];
            let (key, default) = match split_default(inner) {
                Some((k, d)) => (k.trim(), Some(d)),
                None => (inner.trim(), None),
            };
            let key = self.expand(key, context, stack)?;
            match self.raw_get(&key) {
                Some(value) => {
                    if let Some(first) = stack.iter().position(|k| relaxed(k) == relaxed(&key)) {
                        let mut keys = stack[first..].to_vec();
                        keys.push(key);
                        return Err(SettingsError::Cycle { keys });
                    }
                    stack.push(key);
                    let expanded = self.expand(&value, context, stack);
                    stack.pop();
                    out.push_str(&expanded?);
                }
                None => match default {
                    Some(d) => out.push_str(&self.expand(d, context, stack)?),
                    None => {
                        return Err(SettingsError::Unresolved {
                            key,
                            context: context.to_string(),
                        })
                    }
                },
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Refuses `rocketmq.*` keys rmq does not know (listener switches `rocketmq.consumer.listeners.*` and
    /// per-listener keys are allowed).
    pub fn check_known_keys(&self) -> Result<(), SettingsError> {
        let known: Vec<String> = KNOWN_KEYS.iter().map(|k| relaxed(k)).collect();
        for key in self.values.keys() {
            let r = relaxed(key);
            if !r.starts_with("rocketmq.")
                || r.starts_with("rocketmq.consumer.listeners.")
                || r.starts_with("rocketmq.embedded.broker.")
                || known.contains(&r)
            {
                continue;
            }
            let hint = KNOWN_KEYS
                .iter()
                .min_by_key(|k| edit_distance(&relaxed(k), &r))
                .filter(|k| edit_distance(&relaxed(k), &r) <= 3)
                .map(|k| format!("; did you mean {k}?"))
                .unwrap_or_default();
            return Err(SettingsError::UnknownKey {
                key: key.clone(),
                hint,
            });
        }
        self.check_supported()
    }

    /// Refuses client features rmq cannot honour when they are switched on (see `UNSUPPORTED`).
    fn check_supported(&self) -> Result<(), SettingsError> {
        let prefixes = std::iter::once("rocketmq.producer.").chain(PULL_CONSUMER_PREFIXES);
        for prefix in prefixes {
            for (field, when, reason) in UNSUPPORTED {
                let key = format!("{prefix}{field}");
                let Some(value) = self.get(&key) else {
                    continue;
                };
                let v = value.trim();
                let refused = match when {
                    Refused::NonEmpty => !v.is_empty(),
                    Refused::True => match v.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" | "" => false,
                        _ => {
                            return Err(SettingsError::Invalid {
                                key,
                                value,
                                reason: "expected true or false".into(),
                            })
                        }
                    },
                };
                if refused {
                    return Err(SettingsError::Unsupported {
                        key: self.written_key(&key),
                        value,
                        reason: (*reason).to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The key as the configuration spells it (`rocketmq.consumer.accessKey`), for messages; `key` itself
    /// when it comes from the environment.
    fn written_key(&self, key: &str) -> String {
        let want = relaxed(key);
        self.values
            .keys()
            .find(|k| relaxed(k) == want)
            .cloned()
            .unwrap_or_else(|| key.to_string())
    }

    /// A pull-consumer setting (`field` like `group` or `pull-batch-size`) from either of
    /// [`PULL_CONSUMER_PREFIXES`], as `(key as written, value)`.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] when both prefixes set it to different values: which one wins would be a guess.
    pub fn pull_consumer(&self, field: &str) -> Result<Option<(String, String)>, SettingsError> {
        let mut found: Option<(String, String)> = None;
        for prefix in PULL_CONSUMER_PREFIXES {
            let key = format!("{prefix}{field}");
            let Some(value) = self.get(&key) else {
                continue;
            };
            match &found {
                Some((first, v)) if v.trim() != value.trim() => {
                    return Err(SettingsError::Invalid {
                        key: self.written_key(&key),
                        value,
                        reason: format!(
                            "conflicts with {first} = {v:?}; both configure the template's pull consumer, set one"
                        ),
                    })
                }
                Some(_) => {}
                None => found = Some((self.written_key(&key), value)),
            }
        }
        Ok(found)
    }

    /// Every `(rest of key, value)` whose key starts with `prefix` (e.g. the embedded broker's own settings
    /// under `rocketmq.embedded.broker.`).
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        self.values
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(prefix)
                    .map(|rest| (rest.to_string(), v.clone()))
            })
            .collect()
    }

    /// Whether `rocketmq.consumer.listeners.<group>.<topic>` turns a listener off (rocketmq-spring's switch).
    pub fn listener_disabled(&self, group: &str, topic: &str) -> bool {
        self.get(&format!("rocketmq.consumer.listeners.{group}.{topic}"))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
    }
}

/// TOML, YAML or JSON text as dotted keys (`a.b.c = value`).
fn parse_structured(
    text: &str,
    format: config::FileFormat,
) -> Result<BTreeMap<String, String>, String> {
    let cfg = config::Config::builder()
        .add_source(config::File::from_str(text, format))
        .build()
        .map_err(|e| e.to_string())?;
    let root: serde_json::Value = cfg.try_deserialize().map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    flatten("", &root, &mut out);
    Ok(out)
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        serde_json::Value::Null => {}
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Java `.properties`: `key=value`, `key: value` or `key value`; `#`/`!` comments; `\` continues a line.
fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if logical.is_empty()
            && (trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!'))
        {
            continue;
        }
        if let Some(cont) = trimmed.strip_suffix('\\') {
            logical.push_str(cont);
            continue;
        }
        logical.push_str(trimmed);
        let entry = std::mem::take(&mut logical);
        let split = entry.find(['=', ':', ' ', '\t']);
        let (k, v) = match split {
            Some(i) => (
                &entry[..i],
                entry[i + 1..].trim_start_matches([' ', '\t', '=', ':']),
            ),
            None => (entry.as_str(), ""),
        };
        out.insert(k.trim().to_string(), v.trim_end().to_string());
    }
    out
}

/// The index of the `}` closing a placeholder whose `${` came just before `s`, skipping nested ones.
fn closing_brace(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"${") {
            depth += 1;
            i += 2;
            continue;
        }
        if b[i] == b'}' {
            if depth == 0 {
                return Some(i);
            }
            depth -= 1;
        }
        i += 1;
    }
    None
}

/// `key:default` split at the first `:` outside a nested placeholder.
fn split_default(inner: &str) -> Option<(&str, &str)> {
    let b = inner.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"${") {
            depth += 1;
            i += 2;
            continue;
        }
        match b[i] {
            b'}' => depth = depth.saturating_sub(1),
            b':' if depth == 0 => return Some((&inner[..i], &inner[i + 1..])),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_inside_values_and_defaults_resolve_and_cycles_are_refused() {
        let s = Settings::from_pairs([
            ("notify.app", "notify"),
            ("group", "${notify.app}_orders"),
            ("topic", "${missing:${notify.app}-topic}"),
            ("deep", "${group}-x"),
            ("a", "${b}"),
            ("b", "x-${a}"),
        ]);
        assert_eq!(s.get("group").as_deref(), Some("notify_orders"));
        assert_eq!(s.get("deep").as_deref(), Some("notify_orders-x"));
        assert_eq!(s.resolve("${topic}", "t").unwrap(), "notify-topic");
        assert_eq!(s.resolve("${x:${y:7}}", "t").unwrap(), "7");
        let err = s
            .resolve("${a}", "attribute topic of listener l")
            .unwrap_err();
        assert_eq!(err.to_string(), "placeholder cycle: a -> b -> a");
        // `get` returns what it cannot resolve as written; the start-up check names it.
        assert_eq!(s.get("a").as_deref(), Some("${b}"));
        let err = s.check_placeholders().unwrap_err();
        assert_eq!(err.to_string(), "placeholder cycle: a -> b -> a");
        let ok = Settings::from_pairs([("group", "${app:shop}_orders")]);
        ok.check_placeholders().unwrap();
        let missing = Settings::from_pairs([("group", "${app}_orders")]);
        assert_eq!(
            missing.check_placeholders().unwrap_err().to_string(),
            "unresolved placeholder ${app} in the value of group"
        );
    }

    #[test]
    fn placeholders_resolve_with_defaults_and_name_missing_keys() {
        let s = Settings::from_pairs([("mq.order.topic", "orderTopic"), ("n", "3")]);
        assert_eq!(s.resolve("${mq.order.topic}", "t").unwrap(), "orderTopic");
        assert_eq!(s.resolve("x-${n}-${missing:7}", "t").unwrap(), "x-3-7");
        let err = s
            .resolve("${nope}", "attribute topic of listener on_cancel")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unresolved placeholder ${nope} in attribute topic of listener on_cancel"
        );
    }

    #[test]
    fn properties_files_parse_like_java() {
        let p = parse_properties(
            "# c\nrocketmq.name-server=127.0.0.1:9876\n! c\na: b\nlong = one \\\n  two\n",
        );
        assert_eq!(p["rocketmq.name-server"], "127.0.0.1:9876");
        assert_eq!(p["a"], "b");
        assert_eq!(p["long"], "one two");
    }

    #[test]
    fn toml_yaml_and_properties_agree_and_keys_are_relaxed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("application.toml"), "[rocketmq]\nname-server = \"a:1\"\n[rocketmq.producer]\ngroup = \"g\"\nsend-message-timeout = 5000\n").unwrap();
        let s = Settings::load_dir(dir.path()).unwrap();
        assert_eq!(s.get("rocketmq.name-server").as_deref(), Some("a:1"));
        assert_eq!(s.get("rocketmq.nameServer").as_deref(), Some("a:1"));
        assert_eq!(
            s.get_parsed::<u64>("rocketmq.producer.send-message-timeout")
                .unwrap(),
            Some(5000)
        );
        std::fs::write(
            dir.path().join("application.yaml"),
            "rocketmq:\n  producer:\n    group: y\n",
        )
        .unwrap();
        let s = Settings::load_dir(dir.path()).unwrap();
        assert_eq!(
            s.get("rocketmq.producer.group").as_deref(),
            Some("y"),
            "yaml overrides toml"
        );
    }

    #[test]
    fn unknown_rocketmq_keys_are_refused_with_a_hint() {
        let s = Settings::from_pairs([("rocketmq.name-sever", "x")]);
        let err = s.check_known_keys().unwrap_err().to_string();
        assert!(
            err.contains("rocketmq.name-sever")
                && err.contains("did you mean rocketmq.name-server"),
            "{err}"
        );
        let ok =
            Settings::from_pairs([("rocketmq.consumer.listeners.g.t", "false"), ("mq.x", "y")]);
        assert!(ok.check_known_keys().is_ok());
        assert!(ok.listener_disabled("g", "t"));
    }

    #[test]
    fn pull_consumer_keys_come_from_either_prefix_in_any_spelling() {
        let s = Settings::from_pairs([
            ("rocketmq.consumer.selectorExpression", "a || b"),
            ("rocketmq.pull-consumer.group", "g"),
            ("rocketmq.consumer.group", "g"),
            ("rocketmq.consumer.pull_batch_size", "4"),
        ]);
        assert!(s.check_known_keys().is_ok());
        assert_eq!(
            s.pull_consumer("selector-expression").unwrap(),
            Some((
                "rocketmq.consumer.selectorExpression".to_string(),
                "a || b".to_string()
            ))
        );
        assert_eq!(
            s.pull_consumer("group").unwrap(),
            Some(("rocketmq.pull-consumer.group".to_string(), "g".to_string())),
            "the same value under both prefixes is no conflict"
        );
        assert_eq!(
            s.pull_consumer("pull-batch-size").unwrap().map(|(_, v)| v),
            Some("4".to_string())
        );
        assert_eq!(s.pull_consumer("topic").unwrap(), None);
        let both = Settings::from_pairs([
            ("rocketmq.pull-consumer.topic", "A"),
            ("rocketmq.consumer.topic", "B"),
        ]);
        let err = both.pull_consumer("topic").unwrap_err().to_string();
        assert!(
            err.contains("rocketmq.consumer.topic") && err.contains("rocketmq.pull-consumer.topic"),
            "{err}"
        );
    }

    #[test]
    fn features_rmq_lacks_are_refused_only_when_switched_on() {
        let off = Settings::from_pairs([
            ("rocketmq.consumer.access-key", ""),
            ("rocketmq.consumer.tlsEnable", "false"),
            ("rocketmq.producer.enable-msg-trace", "false"),
            (
                "rocketmq.consumer.customized-trace-topic",
                "RMQ_SYS_TRACE_TOPIC",
            ),
        ]);
        assert!(off.check_known_keys().is_ok());
        let on = Settings::from_pairs([("rocketmq.consumer.tlsEnable", "true")]);
        let err = on.check_known_keys().unwrap_err();
        assert!(matches!(err, SettingsError::Unsupported { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("rocketmq.consumer.tlsEnable = \"true\""),
            "{err}"
        );
    }

    #[test]
    fn bad_numbers_name_the_key() {
        let s = Settings::from_pairs([("rocketmq.producer.max-message-size", "lots")]);
        let err = s
            .get_parsed::<usize>("rocketmq.producer.max-message-size")
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("rocketmq.producer.max-message-size = \"lots\""),
            "{err}"
        );
    }
}
