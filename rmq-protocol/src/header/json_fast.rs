//! A single-pass reader for the JSON headers peers actually send, in front of the serde reader.
//!
//! Every request and response carries a JSON header, and serde's generic path (visitors, a `String` per key
//! and value, then the typed header) cost 3–10 µs per frame in the codec benchmark — more than everything
//! else a send does. Real headers are a flat object: integers, a few plain strings and one flat `extFields`
//! object of strings (the properties string of every send escapes its 0x01/0x02 separators as `\u0001`
//! and `\u0002`). This reader accepts exactly that shape and gives up (`None`) on anything else — a surrogate
//! escape, a control character, a nested value, a duplicate field, a float, trailing bytes — so
//! the serde reader in `json.rs` stays the one definition of what a header means; a test checks that the
//! two agree on every header this reader accepts.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::command::{LanguageCode, RemotingCommand, SerializeType};

/// Parses `header` if it has the plain shape; `None` means "ask serde".
pub(crate) fn decode(header: &[u8]) -> Option<RemotingCommand> {
    let mut r = Reader { b: header, i: 0 };
    let mut cmd = RemotingCommand {
        code: 0,
        language: LanguageCode::Other,
        version: 0,
        opaque: 0,
        flag: 0,
        remark: None,
        ext_fields: HashMap::new(),
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::Json,
    };
    let mut seen = 0u8;
    r.ws();
    r.eat(b'{')?;
    r.ws();
    if r.peek()? == b'}' {
        r.i += 1;
    } else {
        loop {
            r.ws();
            let key = r.plain_str()?;
            r.ws();
            r.eat(b':')?;
            r.ws();
            let bit = match key {
                "code" => 1,
                "language" => 2,
                "version" => 4,
                "opaque" => 8,
                "flag" => 16,
                "remark" => 32,
                "extFields" => 64,
                _ => 0,
            };
            if bit != 0 {
                // serde refuses a repeated field; let it say so.
                if seen & bit != 0 {
                    return None;
                }
                seen |= bit;
            }
            match key {
                "code" => cmd.code = r.int_or_null()?,
                "version" => cmd.version = r.int_or_null()?,
                "opaque" => cmd.opaque = r.int_or_null()?,
                "flag" => cmd.flag = r.int_or_null()?,
                "language" => {
                    cmd.language = match r.peek()? {
                        b'"' => LanguageCode::from_name(r.plain_str()?),
                        b'n' => {
                            r.lit(b"null")?;
                            LanguageCode::Other
                        }
                        _ => return None,
                    }
                }
                "remark" => {
                    cmd.remark = match r.peek()? {
                        b'"' => Some(r.string()?.into_owned()),
                        b'n' => {
                            r.lit(b"null")?;
                            None
                        }
                        _ => return None,
                    }
                }
                "extFields" => {
                    if r.peek()? == b'n' {
                        r.lit(b"null")?;
                    } else {
                        r.ext_fields(&mut cmd.ext_fields)?;
                    }
                }
                _ => r.skip_scalar()?,
            }
            r.ws();
            match r.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
    }
    r.ws();
    (r.i == r.b.len()).then_some(cmd)
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn lit(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A string with no escapes and no control characters, borrowed from the input.
    fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let rest = self.b.get(start..)?;
        let len = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        self.i = start + len + 1;
        std::str::from_utf8(&rest[..len]).ok()
    }

    /// A string value: borrowed when it has no escapes, else unescaped (surrogate escapes give up).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let save = self.i;
        if let Some(s) = self.plain_str() {
            return Some(Cow::Borrowed(s));
        }
        self.i = save;
        self.eat(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let rest = self.b.get(self.i..)?;
            let len = rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
            out.extend_from_slice(&rest[..len]);
            self.i += len;
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    let c = match self.next()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let end = self.i.checked_add(4)?;
                            let hex = std::str::from_utf8(self.b.get(self.i..end)?).ok()?;
                            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                                return None;
                            }
                            let code = u32::from_str_radix(hex, 16).ok()?;
                            self.i = end;
                            // None for surrogates: pairs are left to serde.
                            char::from_u32(code)?
                        }
                        _ => return None,
                    };
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                _ => return None,
            }
        }
        String::from_utf8(out).ok().map(Cow::Owned)
    }

    /// `-?[0-9]+` not followed by a fraction or exponent; the text of it.
    fn int_text(&mut self) -> Option<&'a str> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        let n = self.i - digits;
        // JSON has no leading zeros ("0" alone is fine), fractions or exponents here. serde_json reads `-0` as
        // the float -0.0, not as an integer, so it is left to serde too.
        if n == 0
            || (n > 1 && self.b[digits] == b'0')
            || (digits > start && n == 1 && self.b[digits] == b'0')
            || matches!(self.peek(), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        std::str::from_utf8(&self.b[start..self.i]).ok()
    }

    fn int_or_null(&mut self) -> Option<i32> {
        if self.peek()? == b'n' {
            self.lit(b"null")?;
            return Some(0);
        }
        self.int_text()?.parse().ok()
    }

    /// Skips an unknown field's value: a plain string, an integer, a boolean or null.
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.lit(b"true"),
            b'f' => self.lit(b"false"),
            b'n' => self.lit(b"null"),
            _ => self.int_text().map(drop),
        }
    }

    fn ext_fields(&mut self, out: &mut HashMap<String, String>) -> Option<()> {
        self.eat(b'{')?;
        out.reserve(16);
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            let value = match self.peek()? {
                b'"' => Some(self.string()?.into_owned()),
                b't' => self.lit(b"true").map(|_| Some("true".to_owned()))?,
                b'f' => self.lit(b"false").map(|_| Some("false".to_owned()))?,
                b'n' => self.lit(b"null").map(|_| None)?,
                _ => {
                    let text = self.int_text()?;
                    // serde reads an integer as i64 or u64 and writes it back; do the same.
                    match text.parse::<i64>() {
                        Ok(v) => Some(v.to_string()),
                        Err(_) => Some(text.parse::<u64>().ok()?.to_string()),
                    }
                }
            };
            // A null value is absent: it neither sets nor clears the key (as the serde reader does).
            if let Some(v) = value {
                out.insert(key.into_owned(), v);
            }
            self.ws();
            match self.next()? {
                b',' => continue,
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same_as_serde(text: &str) -> Option<RemotingCommand> {
        let fast = decode(text.as_bytes());
        if let Some(fast) = &fast {
            let slow = super::super::json::decode_serde(text.as_bytes())
                .unwrap_or_else(|e| panic!("serde refused what the fast reader took: {text}: {e}"));
            assert_eq!(fast, &slow, "{text}");
        }
        fast
    }

    #[test]
    fn takes_the_plain_shape_and_agrees_with_serde() {
        let text = r#"{"code":310,"extFields":{"a":"TopicTest","b":"TBW102","d":4,"e":"-1","n":null,"t":true,"big":18446744073709551615},"flag":0,"language":"JAVA","opaque":-7,"remark":null,"serializeTypeCurrentRPC":"JSON","version":453}"#;
        let cmd = same_as_serde(text).expect("plain header");
        assert_eq!(cmd.code, 310);
        assert_eq!(cmd.opaque, -7);
        assert_eq!(cmd.language, LanguageCode::Java);
        assert_eq!(cmd.ext_fields.get("d").map(String::as_str), Some("4"));
        assert_eq!(cmd.ext_fields.get("t").map(String::as_str), Some("true"));
        assert!(!cmd.ext_fields.contains_key("n"));
        assert!(same_as_serde(" { } ").is_some());
        let escaped =
            same_as_serde(r#"{"remark":"a\"b\\c\/d\n\u00e9","extFields":{"i":"k\u0001v\u0002"}}"#)
                .expect("escapes are read");
        assert_eq!(escaped.remark.as_deref(), Some("a\"b\\c/d\n\u{e9}"));
        assert_eq!(
            escaped.ext_fields.get("i").map(String::as_str),
            Some("k\u{1}v\u{2}")
        );
        assert!(
            same_as_serde("{\"extFields\":{\"k\":\"x\",\"k\":null}, \"remark\" : \"ok\" }")
                .is_some()
        );
    }

    #[test]
    fn leaves_everything_else_to_serde() {
        for text in [
            r#"{"remark":"\ud83d\ude00"}"#,
            r#"{"remark":"bad \x escape"}"#,
            r#"{"remark":"\u00zz"}"#,
            r#"{"code":1,"code":2}"#,
            r#"{"code":1.5}"#,
            r#"{"code":"12"}"#,
            r#"{"language":3}"#,
            r#"{"extFields":{"a":{"nested":1}}}"#,
            r#"{"extFields":{"a":1e3}}"#,
            r#"{"other":[1,2]}"#,
            r#"{"code":01}"#,
            r#"{"code":1} x"#,
            r#"{"code":99999999999}"#,
            "{\"remark\":\"tab\there\"}",
            r#"{"code":1"#,
            "",
        ] {
            assert!(decode(text.as_bytes()).is_none(), "{text}");
        }
    }

    fn arb_command() -> impl Strategy<Value = RemotingCommand> {
        (
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            proptest::option::of(".{0,12}"),
            proptest::collection::hash_map(".{0,8}", ".{0,16}", 0..12),
        )
            .prop_map(|(code, opaque, flag, remark, ext)| {
                let mut c = RemotingCommand::request(code, ext);
                c.opaque = opaque;
                c.flag = flag;
                c.remark = remark;
                c
            })
    }

    proptest! {
        /// Whatever our encoder writes (escapes and all), the fast reader either declines or reads what
        /// serde reads; plain commands it always takes.
        #[test]
        fn agrees_with_serde_on_encoded_commands(cmd in arb_command()) {
            let mut buf = bytes::BytesMut::new();
            super::super::json::encode(&cmd, &mut buf);
            let text = String::from_utf8(buf.to_vec()).expect("utf-8");
            // Our encoder never writes surrogate escapes, so the fast reader takes everything it writes.
            let fast = same_as_serde(&text);
            prop_assert!(fast.is_some(), "declined: {}", text);
        }
    }
}
