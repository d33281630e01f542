//! JSON helpers shared by every body, and the bare-integer-key repair for Java's route JSON (docs/protocol.md §4.11).

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ProtocolError, Result};

/// The last path segment of a type name, for error messages ("TopicRouteData", not the full path).
fn short_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

fn invalid<T: ?Sized>(reason: impl ToString) -> ProtocolError {
    ProtocolError::InvalidBody {
        what: short_name::<T>(),
        reason: reason.to_string(),
    }
}

/// Serializes a body to compact JSON.
///
/// Infallible for every body type of this module (string-keyed or integer-keyed maps, plain fields); for a value
/// serde_json cannot represent it returns `null`. Use [`try_to_json`] to see that error instead.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    try_to_json(value).unwrap_or_else(|_| b"null".to_vec())
}

/// Serializes a body to compact JSON, reporting a value serde_json cannot represent.
///
/// # Errors
/// [`ProtocolError::InvalidBody`] naming the type.
pub fn try_to_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(invalid::<T>)
}

/// Parses a body a peer sent, as Java's fastjson would read it (the rules: [`crate::lenient`]).
///
/// Well-typed standard JSON takes the direct serde path; anything else is repaired (Java's bare integer map
/// keys, `{0:"addr"}`), parsed to a value and read with fastjson's coercions (numbers as strings, booleans as
/// 0/1, enums as ordinals, nulls as defaults). Both paths give the same value wherever the strict one succeeds.
///
/// # Errors
/// [`ProtocolError::InvalidBody`] naming the type and what was wrong: not JSON at all, or a value no coercion
/// turns into its field's type (the message names the key).
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(strict) => {
            let repaired = quote_bare_integer_keys(bytes);
            let value: serde_json::Value = match serde_json::from_slice(&repaired) {
                Ok(v) => v,
                Err(_) => return Err(invalid::<T>(strict)),
            };
            crate::lenient::json::from_value(value).map_err(invalid::<T>)
        }
    }
}

/// Quotes object keys that are bare integers (`{0:"a",-1:"b"}` → `{"0":"a","-1":"b"}`), leaving everything
/// else, including the contents of strings, untouched. Borrows the input when there is nothing to repair.
///
/// A key position is right after `{` or `,` outside a string; the integer must be followed (after optional
/// whitespace) by `:` to count as a key, so numbers in arrays are left alone.
pub fn quote_bare_integer_keys(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut in_string = false;
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if in_string {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        i += 1;
        match b {
            b'"' => in_string = true,
            b'{' | b',' => {
                if let Some((start, end)) = bare_integer_key(input, i) {
                    let buf = out.get_or_insert_with(|| Vec::with_capacity(input.len() + 16));
                    buf.extend_from_slice(input.get(copied..start).unwrap_or_default());
                    buf.push(b'"');
                    buf.extend_from_slice(input.get(start..end).unwrap_or_default());
                    buf.push(b'"');
                    copied = end;
                    i = end;
                }
            }
            _ => {}
        }
    }
    match out {
        None => Cow::Borrowed(input),
        Some(mut buf) => {
            buf.extend_from_slice(input.get(copied..).unwrap_or_default());
            Cow::Owned(buf)
        }
    }
}

/// If an optionally signed integer followed by `:` starts at `from` (after whitespace), its byte range.
fn bare_integer_key(input: &[u8], from: usize) -> Option<(usize, usize)> {
    let at = |i: usize| input.get(i).copied();
    let mut i = from;
    while at(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    let start = i;
    if at(i) == Some(b'-') {
        i += 1;
    }
    let digits = i;
    while at(i).is_some_and(|b| b.is_ascii_digit()) {
        i += 1;
    }
    if i == digits {
        return None;
    }
    let end = i;
    while at(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    (at(i) == Some(b':')).then_some((start, end))
}

/// Turns object keys that are JSON objects (fastjson's form for `Map<MessageQueue, V>`,
/// `{{"brokerName":"b","queueId":0,"topic":"T"}:5}`) into JSON strings holding that object text
/// (`{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}":5}`), so a standard parser can read the body;
/// everything else, including the contents of strings, is left untouched. Borrows the input when there is
/// nothing to repair.
///
/// A key position is right after `{`, or after `,` inside an object (not an array), outside a string. An
/// unterminated key object is left as it is, for the parser to report.
pub fn quote_object_keys(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    // true for an object, false for an array.
    let mut containers: Vec<bool> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'"' => {
                expect_key = false;
                i = string_end(input, i);
                continue;
            }
            b'{' if expect_key => {
                let Some(end) = object_end(input, i) else {
                    break;
                };
                let buf = out.get_or_insert_with(|| Vec::with_capacity(input.len() + 64));
                buf.extend_from_slice(input.get(copied..i).unwrap_or_default());
                buf.push(b'"');
                for &c in input.get(i..end).unwrap_or_default() {
                    match c {
                        b'"' => buf.extend_from_slice(b"\\\""),
                        b'\\' => buf.extend_from_slice(b"\\\\"),
                        b'\n' => buf.extend_from_slice(b"\\n"),
                        b'\r' => buf.extend_from_slice(b"\\r"),
                        b'\t' => buf.extend_from_slice(b"\\t"),
                        c => buf.push(c),
                    }
                }
                buf.push(b'"');
                copied = end;
                i = end;
                expect_key = false;
                continue;
            }
            b'{' => {
                containers.push(true);
                expect_key = true;
            }
            b'[' => {
                containers.push(false);
                expect_key = false;
            }
            b'}' | b']' => {
                containers.pop();
                expect_key = false;
            }
            b',' => expect_key = containers.last() == Some(&true),
            c if c.is_ascii_whitespace() => {}
            _ => expect_key = false,
        }
        i += 1;
    }
    match out {
        None => Cow::Borrowed(input),
        Some(mut buf) => {
            buf.extend_from_slice(input.get(copied..).unwrap_or_default());
            Cow::Owned(buf)
        }
    }
}

/// Index just past the `}` closing the object that starts at `start`, skipping strings; `None` if unclosed.
fn object_end(input: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while let Some(&b) = input.get(i) {
        match b {
            b'"' => {
                i = string_end(input, i);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Removes the quotes around integer keys of every object that is the value of a `"brokerAddrs"` key, turning
/// serde_json's standard output into Java's default form. Input must be serde_json output (compact, valid).
pub(crate) fn unquote_broker_addr_keys(json: String) -> String {
    const KEY: &[u8] = b"\"brokerAddrs\"";
    if !json.contains("\"brokerAddrs\"") {
        return json;
    }
    let input = json.as_bytes();
    let mut out = Vec::with_capacity(input.len());
    let mut depth = 0usize;
    // Depth of the brokerAddrs object we are inside, if any; and whether its `{` is expected next.
    let mut addrs_depth: Option<usize> = None;
    let mut expect_addrs = false;
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'"' {
            let end = string_end(input, i);
            let token = input.get(i..end).unwrap_or_default();
            let is_key = input.get(end) == Some(&b':');
            let inner = token
                .get(1..token.len().saturating_sub(1))
                .unwrap_or_default();
            if is_key && addrs_depth == Some(depth) && is_integer(inner) {
                out.extend_from_slice(inner);
            } else {
                out.extend_from_slice(token);
            }
            expect_addrs = is_key && token == KEY;
            i = end;
            continue;
        }
        match b {
            b'{' => {
                depth += 1;
                if expect_addrs {
                    addrs_depth = Some(depth);
                }
            }
            b'}' => {
                if addrs_depth == Some(depth) {
                    addrs_depth = None;
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        if b != b':' {
            expect_addrs = false;
        }
        out.push(b);
        i += 1;
    }
    // Only ASCII quotes were removed, so the bytes are still UTF-8.
    String::from_utf8(out).unwrap_or(json)
}

/// Index just past the closing quote of the string starting at `start` (or the input's end).
fn string_end(input: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = input.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    input.len()
}

fn is_integer(s: &[u8]) -> bool {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        String::from_utf8(quote_bare_integer_keys(s.as_bytes()).into_owned()).unwrap_or_default()
    }

    #[test]
    fn quotes_only_bare_integer_keys() {
        assert_eq!(
            quoted(r#"{0:"a:1",12 : "b", -3:"c"}"#),
            r#"{"0":"a:1","12" : "b", "-3":"c"}"#
        );
        assert_eq!(quoted(r#"{"x":{0:"y"}}"#), r#"{"x":{"0":"y"}}"#);
        for unchanged in [
            r#"{"0":"a"}"#,
            r#"[1,2,{"k":[3,4]}]"#,
            r#"{"s":"{0:\"x\",1:2}"}"#,
            r#"{"n":1.5e3,"m":-2}"#,
            "",
            "{",
            "{12",
            "{-:",
        ] {
            assert_eq!(quoted(unchanged), unchanged, "{unchanged}");
        }
        // An escaped backslash ends the string before `,1:`, so that `1` is a real key.
        assert_eq!(quoted(r#"{"s":"a\\",1:"b"}"#), r#"{"s":"a\\","1":"b"}"#);
    }

    #[test]
    fn quotes_only_object_keys() {
        let q = |s: &str| {
            String::from_utf8(quote_object_keys(s.as_bytes()).into_owned()).unwrap_or_default()
        };
        assert_eq!(q(r#"{{"a":1}:2}"#), r#"{"{\"a\":1}":2}"#);
        assert_eq!(
            q(r#"{"t":{{"a":"}"}:2, {"b":[1]} :3}}"#),
            r#"{"t":{"{\"a\":\"}\"}":2, "{\"b\":[1]}" :3}}"#
        );
        for unchanged in [
            r#"[{"a":1},{"b":2}]"#,
            r#"{"a":[{"x":1},{"y":2}],"b":{"c":{}}}"#,
            r#"{"s":"{{\"a\":1}:2}"}"#,
            "{{",
            "",
        ] {
            assert_eq!(q(unchanged), unchanged, "{unchanged}");
        }
    }

    #[test]
    fn unquotes_only_broker_addrs() {
        let std = r#"{"brokerAddrs":{"0":"a","1":"b"},"x":{"0":"c"},"s":"\"brokerAddrs\":{\"0\":1}","brokerName":"0"}"#;
        assert_eq!(
            unquote_broker_addr_keys(std.to_owned()),
            r#"{"brokerAddrs":{0:"a",1:"b"},"x":{"0":"c"},"s":"\"brokerAddrs\":{\"0\":1}","brokerName":"0"}"#
        );
        let empty = r#"{"brokerAddrs":{},"n":{"1":"x"}}"#;
        assert_eq!(unquote_broker_addr_keys(empty.to_owned()), empty);
    }

    #[test]
    fn short_names() {
        assert_eq!(
            short_name::<crate::body::TopicRouteData>(),
            "TopicRouteData"
        );
        assert_eq!(
            short_name::<std::collections::HashMap<String, String>>(),
            "HashMap"
        );
    }
}
