//! rmq-broker's broker.conf reader: the Java `.properties` parser (`config::properties::parse`) and
//! `BrokerConfig::set`/`validate`, which `BrokerConfig::from_file` runs over each entry, then every accessor
//! that derives a value from the result.
//!
//! Checks: no panic (bad values are `ConfigError`s), and the effective settings a valid config prints
//! (`to_properties`, i.e. `--print-config` and GET_BROKER_CONFIG) read back as the same config.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_broker::config::{parse_delay_levels, properties, BrokerConfig};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut cfg = BrokerConfig::default();
    for p in properties::parse(&text) {
        if cfg.set(&p.key, &p.value).is_err() {
            return;
        }
    }
    let _ = parse_delay_levels(&text);
    if cfg.validate().is_err() {
        return;
    }
    let _ = (
        cfg.advertised_addr(),
        cfg.metrics_listen(),
        cfg.namesrv_addrs(),
        cfg.delay_levels(),
        cfg.store_config(),
        cfg.channel_expiry(),
    );
    let printed = cfg.to_properties();
    let mut again = BrokerConfig::default();
    for (key, value) in &printed {
        // Unset optional paths print as empty, which `set` refuses; they are unset in the default too.
        if value.is_empty() && key == "storePathCommitLog" {
            continue;
        }
        again
            .set(key, value)
            .unwrap_or_else(|e| panic!("printed setting does not read back: {e}"));
    }
    again.validate().expect("a printed valid config is valid");
    assert_eq!(
        again.to_properties(),
        printed,
        "printed config reads back differently"
    );
});
