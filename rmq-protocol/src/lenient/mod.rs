//! Reading what peers write the way Java's broker and clients read it: the one rule for every header and body.
//!
//! Apache's clients were written against Java's readers, not against a schema, so each writes its fields a little
//! differently: the C++ client sends `unitMode=0`, enum fields as ordinals and `subVersion` as a JSON string; Go
//! and Python clients leave fields out. Java reads ext fields with its own parsers and JSON bodies with fastjson,
//! and accepts all of these; so does rmq. Where Java refuses, rmq refuses with the field named.
//!
//! # Ext fields (typed headers, [`crate::headers`])
//! Java: `RemotingCommand.decodeCommandCustomHeader` (reflective) and the `FastCodesHeader` decoders.
//!
//! | Java field type | accepted text | rmq |
//! |---|---|---|
//! | `String` | anything, verbatim | same |
//! | `int`/`Integer` | `Integer.parseInt`: optional `+`/`-`, decimal digits, in range | same (ASCII digits only: Java also takes other Unicode decimal digits) |
//! | `long`/`Long` | `Long.parseLong`, same form | same |
//! | `boolean`/`Boolean` | `Boolean.parseBoolean`: `true` in any case → true, anything else → false | same ([`java_parse_boolean`]) |
//! | absent `@CFNotNull` field | logged, left null, then dereferenced → SYSTEM_ERROR | refused: SYSTEM_ERROR, "the custom field <x> is null" |
//! | absent field with a Java initializer | the initializer | the same default (`field: T = v` in the table) |
//! | absent nullable field | null | `None` |
//! | unparsable number, nullable or initialized field | logged, left null / at its initializer | `None` / the default |
//! | unparsable number, `@CFNotNull` field | logged, left null, then dereferenced → SYSTEM_ERROR | refused: SYSTEM_ERROR naming the field |
//! | unknown key | ignored | ignored |
//!
//! # JSON bodies ([`crate::body`])
//! Java: fastjson 1.x (`JSON.parseObject(bytes, Class)`), which coerces a value to the field's declared type.
//! [`from_json`](crate::body::from_json) parses strictly first (the common, fast case) and falls back to
//! [`json::from_value`], which applies these rules:
//!
//! | field type | accepted JSON | value |
//! |---|---|---|
//! | `int`/`long` | number; number as string (`"123"`, `"+5"`); `true`/`false`; a fraction | the number; string parsed; 1/0; truncated toward 0 |
//! | `boolean` | `true`/`false`; number; `"true"`/`"false"` any case, `"1"`/`"0"`, `"Y"`/`"N"`, `"T"`/`"F"` | fastjson's: a number is true when it is 1 |
//! | `String` | string; number or boolean | the text as written |
//! | enum (as a name) | name (exact, or in any case); ordinal number; numeric string | the canonical name ([`java_enum`]) |
//! | set/list | array; `null` | elements; empty |
//! | map/object | object; `null` | entries; defaults |
//! | any field | `null`, `""` for a number or boolean, absent | the field's Java default |
//! | unknown key | anything | ignored |
//!
//! Java's non-standard JSON (bare integer map keys, objects as map keys) is repaired before parsing, see
//! [`crate::body::quote_bare_integer_keys`] and [`crate::body::quote_object_keys`].

pub mod json;

/// Java's `Boolean.parseBoolean`: `true` ignoring ASCII case is true, anything else (`1`, `yes`, ``) is false.
pub fn java_parse_boolean(raw: &str) -> bool {
    raw.eq_ignore_ascii_case("true")
}

/// A Java enum that crosses the wire by name (Java, Go) or by ordinal (C++): its constants in declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JavaEnum {
    /// The Java class name, for errors.
    pub name: &'static str,
    /// Constant names in ordinal order.
    pub constants: &'static [&'static str],
}

/// `org.apache.rocketmq.remoting.protocol.heartbeat.ConsumeType`.
pub const CONSUME_TYPE: JavaEnum = JavaEnum {
    name: "ConsumeType",
    constants: &["CONSUME_ACTIVELY", "CONSUME_PASSIVELY", "CONSUME_POP"],
};

/// `org.apache.rocketmq.remoting.protocol.heartbeat.MessageModel`.
pub const MESSAGE_MODEL: JavaEnum = JavaEnum {
    name: "MessageModel",
    constants: &["BROADCASTING", "CLUSTERING"],
};

/// `org.apache.rocketmq.common.consumer.ConsumeFromWhere`.
pub const CONSUME_FROM_WHERE: JavaEnum = JavaEnum {
    name: "ConsumeFromWhere",
    constants: &[
        "CONSUME_FROM_LAST_OFFSET",
        "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
        "CONSUME_FROM_MIN_OFFSET",
        "CONSUME_FROM_MAX_OFFSET",
        "CONSUME_FROM_FIRST_OFFSET",
        "CONSUME_FROM_TIMESTAMP",
    ],
};

/// `org.apache.rocketmq.common.TopicFilterType`.
pub const TOPIC_FILTER_TYPE: JavaEnum = JavaEnum {
    name: "TopicFilterType",
    constants: &["SINGLE_TAG", "MULTI_TAG"],
};

/// `org.apache.rocketmq.remoting.protocol.LanguageCode` (5.x adds `NODE_JS` after `RUST`), as a [`Connection`]'s
/// `language` in admin bodies.
///
/// [`Connection`]: crate::body::Connection
pub const LANGUAGE_CODE: JavaEnum = JavaEnum {
    name: "LanguageCode",
    constants: &[
        "JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO",
        "PHP", "OMS", "RUST", "NODE_JS",
    ],
};

/// What an enum value on the wire means: its canonical constant name.
///
/// A name matches exactly or ignoring ASCII case; an ordinal (a number, or a string of digits) picks the constant
/// in declaration order. A name Java does not know is kept as written (fastjson reads it as null, which the
/// broker then treats as its default; keeping the text lets the caller decide and report it).
///
/// # Errors
/// An ordinal out of range, as fastjson refuses it; the message names the enum and the value.
pub fn java_enum(e: &JavaEnum, raw: &str) -> Result<String, String> {
    if let Some(c) = e.constants.iter().find(|c| c.eq_ignore_ascii_case(raw)) {
        return Ok((*c).to_owned());
    }
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw
            .parse::<usize>()
            .ok()
            .and_then(|i| e.constants.get(i))
            .map(|c| (*c).to_owned())
            .ok_or_else(|| format!("{raw} is not an ordinal of {}", e.name));
    }
    Ok(raw.to_owned())
}

/// serde `deserialize_with` functions for `String` fields that hold a Java enum name.
pub mod enum_field {
    use serde::{Deserialize, Deserializer};

    use super::{java_enum, JavaEnum};

    /// A scalar as it may arrive for an enum field: name or ordinal. `null` is refused here so that the strict
    /// path falls back to the lenient one, which drops null members and so gives the struct's default.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Name(String),
        Ordinal(u64),
    }

    fn read<'de, D: Deserializer<'de>>(d: D, e: &JavaEnum) -> Result<String, D::Error> {
        let text = match Raw::deserialize(d)? {
            Raw::Name(s) => s,
            Raw::Ordinal(n) => n.to_string(),
        };
        java_enum(e, &text).map_err(serde::de::Error::custom)
    }

    /// `ConsumeType` by name or ordinal.
    pub fn consume_type<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        read(d, &super::CONSUME_TYPE)
    }

    /// `MessageModel` by name or ordinal.
    pub fn message_model<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        read(d, &super::MESSAGE_MODEL)
    }

    /// `ConsumeFromWhere` by name or ordinal.
    pub fn consume_from_where<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        read(d, &super::CONSUME_FROM_WHERE)
    }

    /// `TopicFilterType` by name or ordinal.
    pub fn topic_filter_type<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        read(d, &super::TOPIC_FILTER_TYPE)
    }

    /// `LanguageCode` by name or ordinal.
    pub fn language_code<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        read(d, &super::LANGUAGE_CODE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_read_as_java_parse_boolean() {
        for t in ["true", "TRUE", "True", "tRuE"] {
            assert!(java_parse_boolean(t), "{t}");
        }
        for f in ["false", "1", "0", "", "yes", " true", "true "] {
            assert!(!java_parse_boolean(f), "{f:?}");
        }
    }

    #[test]
    fn enums_by_name_case_or_ordinal() {
        assert_eq!(
            java_enum(&MESSAGE_MODEL, "CLUSTERING").unwrap(),
            "CLUSTERING"
        );
        assert_eq!(
            java_enum(&MESSAGE_MODEL, "clustering").unwrap(),
            "CLUSTERING"
        );
        assert_eq!(java_enum(&MESSAGE_MODEL, "0").unwrap(), "BROADCASTING");
        assert_eq!(
            java_enum(&CONSUME_FROM_WHERE, "4").unwrap(),
            "CONSUME_FROM_FIRST_OFFSET"
        );
        assert_eq!(java_enum(&CONSUME_TYPE, "FUTURE").unwrap(), "FUTURE");
        assert!(java_enum(&MESSAGE_MODEL, "2")
            .unwrap_err()
            .contains("MessageModel"));
    }
}
