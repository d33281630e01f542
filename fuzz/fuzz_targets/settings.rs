//! rmq-runtime's application settings from TOML (`Settings::from_toml_str`), then what the runtime does with
//! them: typed lookups, relaxed-key lookups, `${key:default}` placeholders and the unknown-key check.
//!
//! Checks: no panic and no hang (placeholders are resolved once, not recursively); every flattened key can be
//! looked up again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_runtime::settings::Settings;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(settings) = Settings::from_toml_str(&text) else {
        return;
    };
    let entries = settings.with_prefix("");
    for (key, value) in entries.iter().take(32) {
        assert!(
            settings.get(key).is_some(),
            "flattened key {key:?} is not found again"
        );
        let _ = settings.resolve(value, key);
        let _ = settings.get_parsed::<u64>(key);
        let _ = settings.get_parsed::<bool>(key);
    }
    let _ = settings.check_known_keys();
    let _ = settings.get_parsed::<u64>("rocketmq.producer.send-message-timeout");
    let _ = settings.listener_disabled("g", "t");
    let _ = settings.resolve(&text, "input");
});
