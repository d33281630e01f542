//! A small reader for the JSON dialect fastjson writes for maps with non-string keys.
//!
//! fastjson serialises a `Map<MessageQueue, _>` with each key written inline as an object,
//! `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5}}`, which no standard JSON parser accepts.
//! This reader takes standard JSON plus object keys that are any value (objects, numbers, ...). Scalars are
//! handed to serde_json, so string escapes and number syntax follow the standard exactly.

use std::fmt;

/// Nesting deeper than this is refused instead of risking the stack on a damaged file.
const MAX_DEPTH: usize = 64;

/// A parsed value; object entries keep their order and their keys may be any value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(Value, Value)>),
}

/// Why a document could not be read, with the byte position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub(crate) at: usize,
    pub(crate) what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl Value {
    /// The value of the first entry whose key is this string, if this is an object.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Value::String(s) if s == name))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Parses one whole document; anything but whitespace after the value is an error.
pub(crate) fn parse(input: &str) -> Result<Value, ParseError> {
    let mut parser = Parser {
        src: input,
        bytes: input.as_bytes(),
        pos: 0,
    };
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != parser.bytes.len() {
        return Err(parser.error("trailing characters after the document"));
    }
    Ok(value)
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: impl Into<String>) -> ParseError {
        ParseError {
            at: self.pos,
            what: what.into(),
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.bytes.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), ParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected `{}`", byte as char)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.literal(),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(entries));
        }
        loop {
            let key = self.value(depth + 1)?;
            self.expect(b':')?;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(entries));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    /// Finds the closing quote, then lets serde_json decode the escapes.
    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let mut i = start + 1;
        loop {
            match self.bytes.get(i) {
                None => return Err(self.error("unterminated string")),
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let text = self
            .src
            .get(start..=i)
            .ok_or_else(|| self.error("bad string"))?;
        let s = serde_json::from_str(text).map_err(|e| self.error(format!("bad string: {e}")))?;
        self.pos = i + 1;
        Ok(s)
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let len = self.bytes[start..]
            .iter()
            .take_while(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
            .count();
        let text = self
            .src
            .get(start..start + len)
            .ok_or_else(|| self.error("bad number"))?;
        let n = serde_json::from_str(text).map_err(|e| self.error(format!("bad number: {e}")))?;
        self.pos += len;
        Ok(Value::Number(n))
    }

    fn literal(&mut self) -> Result<Value, ParseError> {
        for (word, value) in [
            ("null", Value::Null),
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
        ] {
            if self.bytes[self.pos..].starts_with(word.as_bytes()) {
                self.pos += word.len();
                return Ok(value);
            }
        }
        Err(self.error("unexpected character"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(n: i64) -> Value {
        Value::Number(n.into())
    }

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    #[test]
    fn reads_object_keys() {
        let v = parse(r#"{"t":{{"a":1}:2, 3:[true,null,"x\"y"]}}"#).unwrap();
        let expected = Value::Object(vec![(
            s("t"),
            Value::Object(vec![
                (Value::Object(vec![(s("a"), num(1))]), num(2)),
                (
                    num(3),
                    Value::Array(vec![Value::Bool(true), Value::Null, s("x\"y")]),
                ),
            ]),
        )]);
        assert_eq!(v, expected);
        assert_eq!(v.get("t").map(|t| t.get("a")), Some(None));
        assert_eq!(num(1).get("a"), None);
    }

    #[test]
    fn reads_standard_json_with_escapes_and_spacing() {
        let v = parse(
            " {\n\t\"a\" : [ -2.5e3 , \"é\\u0041\" ] , \"b\":{}, \"c\":[], \"d\":false }\r\n",
        )
        .unwrap();
        let expected = Value::Object(vec![
            (
                s("a"),
                Value::Array(vec![
                    Value::Number(serde_json::Number::from_f64(-2500.0).unwrap()),
                    s("\u{e9}A"),
                ]),
            ),
            (s("b"), Value::Object(vec![])),
            (s("c"), Value::Array(vec![])),
            (s("d"), Value::Bool(false)),
        ]);
        assert_eq!(v, expected);
    }

    #[test]
    fn rejects_damage() {
        for bad in [
            "",
            "{",
            r#"{"a":1"#,
            r#"{"a" 1}"#,
            r#"{"a":1}}"#,
            r#"{"a":"unterminated}"#,
            "{\"a\":nul}",
            "[1,]",
            "{\"a\":1,}",
            "\u{0}",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(parse(&"[".repeat(MAX_DEPTH + 2)).is_err());
    }
}
