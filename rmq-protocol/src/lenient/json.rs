//! fastjson's coercions as a serde deserializer over a parsed [`serde_json::Value`] (rules: [`crate::lenient`]).
//!
//! The target type says what it wants (`deserialize_i32`, `deserialize_bool`, `deserialize_string`, ...) and
//! [`Lenient`] converts whatever JSON value is there the way fastjson converts it to the Java field's type, so the
//! body structs keep plain Rust field types and stay the single description of each body. `null` object members
//! are dropped before the struct sees them, so they take the struct's default exactly like absent ones.

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde_json::{Map, Number, Value};

/// Why a value could not be read, with the path of keys that led to it.
#[derive(Debug)]
pub struct LenientError(String);

impl std::fmt::Display for LenientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LenientError {}

impl de::Error for LenientError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        LenientError(msg.to_string())
    }
}

/// Reads `T` from a parsed JSON value with fastjson's coercions.
///
/// # Errors
/// A value no coercion turns into the field's type (an object for a number, an out-of-range ordinal, ...).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, LenientError> {
    T::deserialize(Lenient(value))
}

/// A JSON value being read as whatever type asks for it.
#[derive(Debug)]
pub struct Lenient(pub Value);

impl Lenient {
    fn unexpected(&self, wanted: &str) -> LenientError {
        let shown = match &self.0 {
            Value::String(s) => format!("{s:?}"),
            Value::Array(_) => "an array".to_owned(),
            Value::Object(_) => "an object".to_owned(),
            other => other.to_string(),
        };
        LenientError(format!("expected {wanted}, found {shown}"))
    }

    /// The value as an i64 with fastjson's rules; `None` for null and the empty string (the field's default).
    fn integer(&self, wanted: &str) -> Result<Option<i64>, LenientError> {
        match &self.0 {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(i64::from(*b))),
            Value::Number(n) => number_to_i64(n)
                .map(Some)
                .ok_or_else(|| self.unexpected(wanted)),
            Value::String(s) => {
                let t = s.trim();
                if t.is_empty() || t == "null" || t == "NULL" {
                    return Ok(None);
                }
                if let Ok(v) = t.parse::<i64>() {
                    return Ok(Some(v));
                }
                match t.parse::<f64>() {
                    Ok(f) if f.is_finite() => Ok(Some(f.trunc() as i64)),
                    _ => Err(self.unexpected(wanted)),
                }
            }
            _ => Err(self.unexpected(wanted)),
        }
    }

    fn float(&self) -> Result<f64, LenientError> {
        match &self.0 {
            Value::Null => Ok(0.0),
            Value::Bool(b) => Ok(f64::from(u8::from(*b))),
            Value::Number(n) => n.as_f64().ok_or_else(|| self.unexpected("a number")),
            Value::String(s) if s.trim().is_empty() => Ok(0.0),
            Value::String(s) => s.trim().parse().map_err(|_| self.unexpected("a number")),
            _ => Err(self.unexpected("a number")),
        }
    }

    fn boolean(&self) -> Result<bool, LenientError> {
        match &self.0 {
            Value::Null => Ok(false),
            Value::Bool(b) => Ok(*b),
            Value::Number(n) => Ok(number_to_i64(n) == Some(1)),
            Value::String(s) => {
                let t = s.trim();
                if ["true", "1", "y", "t"]
                    .iter()
                    .any(|w| t.eq_ignore_ascii_case(w))
                {
                    Ok(true)
                } else if t.is_empty()
                    || ["false", "0", "n", "f", "null"]
                        .iter()
                        .any(|w| t.eq_ignore_ascii_case(w))
                {
                    Ok(false)
                } else {
                    Err(self.unexpected("a boolean"))
                }
            }
            _ => Err(self.unexpected("a boolean")),
        }
    }

    fn text(self) -> String {
        match self.0 {
            Value::String(s) => s,
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            compound => compound.to_string(),
        }
    }
}

/// fastjson's `intValue()` of a JSON number: integers as they are, fractions truncated toward zero.
fn number_to_i64(n: &Number) -> Option<i64> {
    if let Some(v) = n.as_i64() {
        return Some(v);
    }
    if let Some(v) = n.as_u64() {
        return i64::try_from(v).ok();
    }
    n.as_f64()
        .filter(|f| f.is_finite() && f.abs() < 9.2e18)
        .map(|f| f.trunc() as i64)
}

macro_rules! lenient_int {
    ($($method:ident => $t:ty, $visit:ident, $wide:ty;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
            let wanted = concat!("an integer (", stringify!($t), ")");
            let v = self.integer(wanted)?.unwrap_or(0);
            let narrow = <$t>::try_from(v).map_err(|_| {
                LenientError(format!("{v} is out of range for {}", stringify!($t)))
            })?;
            visitor.$visit(<$wide>::from(narrow))
        }
    )*};
}

impl<'de> Deserializer<'de> for Lenient {
    type Error = LenientError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => {
                if let Some(v) = n.as_u64() {
                    visitor.visit_u64(v)
                } else if let Some(v) = n.as_i64() {
                    visitor.visit_i64(v)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(0.0))
                }
            }
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visitor.visit_seq(Items(items.into_iter())),
            Value::Object(map) => visitor.visit_map(Members::new(map)),
        }
    }

    lenient_int! {
        deserialize_i8 => i8, visit_i64, i64;
        deserialize_i16 => i16, visit_i64, i64;
        deserialize_i32 => i32, visit_i64, i64;
        deserialize_i64 => i64, visit_i64, i64;
        deserialize_u8 => u8, visit_u64, u64;
        deserialize_u16 => u16, visit_u64, u64;
        deserialize_u32 => u32, visit_u64, u64;
        deserialize_u64 => u64, visit_u64, u64;
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_bool(self.boolean()?)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_f64(self.float()?)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_f64(self.float()?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_string(self.text())
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_string(self.text())
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_string(self.text())
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items(items.into_iter())),
            other => visitor.visit_byte_buf(Lenient(other).text().into_bytes()),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Lenient(other)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items(items.into_iter())),
            Value::Null => visitor.visit_seq(Items(Vec::new().into_iter())),
            other => Err(Lenient(other).unexpected("an array")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Members::new(map)),
            Value::Null => visitor.visit_map(Members::new(Map::new())),
            other => Err(Lenient(other).unexpected("an object")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        // A Rust enum mirroring a Java one: by name, or by ordinal as fastjson allows.
        let text = match &self.0 {
            Value::Number(n) => number_to_i64(n)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| variants.get(i))
                .map(|v| (*v).to_owned())
                .ok_or_else(|| self.unexpected(name))?,
            Value::String(s) => variants
                .iter()
                .find(|v| v.eq_ignore_ascii_case(s))
                .map_or_else(|| s.clone(), |v| (*v).to_owned()),
            _ => {
                return serde_json::Value::deserialize_enum(self.0, name, variants, visitor)
                    .map_err(de::Error::custom)
            }
        };
        visitor.visit_enum(text.into_deserializer())
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_string(self.text())
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        visitor.visit_unit()
    }
}

/// Array elements, each read leniently.
struct Items(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Items {
    type Error = LenientError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, LenientError> {
        self.0
            .next()
            .map(|v| seed.deserialize(Lenient(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// Object members without their nulls, values read leniently; an error names the key it happened under.
struct Members {
    iter: serde_json::map::IntoIter,
    pending: Option<(String, Value)>,
}

impl Members {
    fn new(map: Map<String, Value>) -> Self {
        Members {
            iter: map.into_iter(),
            pending: None,
        }
    }
}

impl<'de> MapAccess<'de> for Members {
    type Error = LenientError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, LenientError> {
        for (key, value) in self.iter.by_ref() {
            if value.is_null() {
                continue;
            }
            // Keys are strings on the wire; a map keyed by numbers (`BTreeMap<i64, _>`) reads them as numbers.
            let k = seed
                .deserialize(Lenient(Value::String(key.clone())))
                .map_err(|e| LenientError(format!("key {key:?}: {e}")))?;
            self.pending = Some((key, value));
            return Ok(Some(k));
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, LenientError> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| LenientError("value requested before its key".to_owned()))?;
        seed.deserialize(Lenient(value))
            .map_err(|e| LenientError(format!("{key}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Sample {
        count: i32,
        total: i64,
        flag: bool,
        name: String,
        tags: Vec<String>,
        codes: Vec<i32>,
        table: HashMap<String, i64>,
        maybe: Option<i32>,
    }

    fn read(v: Value) -> Sample {
        from_value(v).unwrap()
    }

    #[test]
    fn numbers_from_strings_booleans_and_fractions() {
        let s = read(json!({"count": "12", "total": "-9000000000", "codes": ["1", 2, true, 3.9]}));
        assert_eq!(s.count, 12);
        assert_eq!(s.total, -9_000_000_000);
        assert_eq!(s.codes, vec![1, 2, 1, 3]);
        assert_eq!(read(json!({"count": ""})).count, 0);
    }

    #[test]
    fn booleans_from_numbers_and_words() {
        assert!(read(json!({"flag": 1})).flag);
        assert!(!read(json!({"flag": 0})).flag);
        assert!(!read(json!({"flag": 2})).flag, "fastjson: intValue() == 1");
        assert!(read(json!({"flag": "TRUE"})).flag);
        assert!(read(json!({"flag": "1"})).flag);
        assert!(!read(json!({"flag": "0"})).flag);
        assert!(from_value::<Sample>(json!({"flag": "maybe"})).is_err());
    }

    #[test]
    fn strings_from_scalars_and_nulls_as_defaults() {
        assert_eq!(read(json!({"name": 42})).name, "42");
        assert_eq!(read(json!({"name": false})).name, "false");
        let s =
            read(json!({"name": null, "tags": null, "table": null, "maybe": null, "count": null}));
        assert_eq!(s, Sample::default());
        assert_eq!(read(json!({"maybe": "7"})).maybe, Some(7));
    }

    #[test]
    fn unknown_members_ignored_and_errors_name_the_key() {
        assert_eq!(read(json!({"whatever": [1, {"x": 2}]})), Sample::default());
        let e = from_value::<Sample>(json!({"count": {"x": 1}})).unwrap_err();
        assert!(e.to_string().starts_with("count:"), "{e}");
        let e = from_value::<Sample>(json!({"count": 3_000_000_000_i64})).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
    }
}
