//! Points in time as mqadmin reads and prints them: epoch milliseconds, `now`, or local
//! `yyyy-MM-dd#HH:mm:ss:SSS` (Java `UtilAll.YYYY_MM_DD_HH_MM_SS_SSS`).

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Local, LocalResult, NaiveDateTime, TimeZone};

/// mqadmin's input format (chrono spelling of `yyyy-MM-dd#HH:mm:ss:SSS`).
const INPUT_FORMAT: &str = "%Y-%m-%d#%H:%M:%S:%3f";

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    Local::now().timestamp_millis()
}

/// Parses `value` (the argument `what`) as epoch ms, `now`, or local `yyyy-MM-dd#HH:mm:ss:SSS`.
///
/// # Errors
/// Anything else, naming the argument and the accepted forms.
pub fn parse_timestamp(what: &str, value: &str) -> Result<i64> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("now") {
        return Ok(now_ms());
    }
    if let Ok(ms) = value.parse::<i64>() {
        return Ok(ms);
    }
    let naive = NaiveDateTime::parse_from_str(value, INPUT_FORMAT).with_context(|| {
        format!(
            "invalid {what} {value:?}: expected milliseconds since the epoch, `now`, or \
             yyyy-MM-dd#HH:mm:ss:SSS (e.g. 2024-05-01#13:30:00:000)"
        )
    })?;
    match Local.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.timestamp_millis()),
        // A repeated hour (clocks going back): take the earlier instant, as Java's SimpleDateFormat does.
        LocalResult::Ambiguous(earlier, _) => Ok(earlier.timestamp_millis()),
        LocalResult::None => {
            bail!("invalid {what} {value:?}: that local time does not exist (a DST gap)")
        }
    }
}

/// `ms` as local `yyyy-MM-dd HH:mm:ss.SSS`, or `-` for 0 / negative / out-of-range values ("never").
pub fn format_ms(ms: i64) -> String {
    if ms <= 0 {
        return "-".to_string();
    }
    DateTime::from_timestamp_millis(ms).map_or_else(
        || "-".to_string(),
        |t| {
            t.with_timezone(&Local)
                .format("%Y-%m-%d %H:%M:%S%.3f")
                .to_string()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_parse() {
        assert_eq!(
            parse_timestamp("t", "1700000000123").unwrap(),
            1_700_000_000_123
        );
        let before = now_ms();
        let now = parse_timestamp("t", "now").unwrap();
        assert!(now >= before);
        let local = parse_timestamp("t", "2024-05-01#13:30:00:250").unwrap();
        assert_eq!(format_ms(local), "2024-05-01 13:30:00.250");
    }

    #[test]
    fn bad_input_names_the_argument_and_the_forms() {
        let err = parse_timestamp("-s timestamp", "yesterday").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("-s timestamp"), "{text}");
        assert!(text.contains("yyyy-MM-dd#HH:mm:ss:SSS"), "{text}");
    }

    #[test]
    fn never_prints_as_a_dash() {
        assert_eq!(format_ms(0), "-");
        assert_eq!(format_ms(-5), "-");
    }
}
