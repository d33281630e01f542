//! Java `.properties` text, the format of RocketMQ's `broker.conf`.
//!
//! Supports what broker.conf files use in practice: `key=value`, `key: value` and `key value` lines, `#` and `!`
//! comments, blank lines, a trailing `\` continuing the line, and the escapes `\t \n \r \\ \= \: \uXXXX`.

/// One `key = value` entry with the line it started on, so errors can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The key, unescaped.
    pub key: String,
    /// The value, unescaped and trimmed at the start.
    pub value: String,
    /// 1-based line number where the entry starts.
    pub line: usize,
}

/// Parses properties text into entries in file order (duplicates kept; the caller decides, last wins in Java).
pub fn parse(text: &str) -> Vec<Property> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((idx, raw)) = lines.next() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let mut logical = String::from(trimmed);
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        out.push(Property {
            key: unescape(key),
            value: unescape(value),
            line: idx + 1,
        });
    }
    out
}

/// A line continues when it ends with an odd number of backslashes.
fn ends_with_continuation(s: &str) -> bool {
    s.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace; the separator and surrounding blanks are dropped.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' | ' ' | '\t' => {
                let key = &line[..i];
                let mut rest = line[i..].trim_start_matches([' ', '\t']);
                if c == ' ' || c == '\t' {
                    if let Some(r) = rest.strip_prefix(['=', ':']) {
                        rest = r;
                    }
                } else {
                    rest = &rest[1..];
                }
                return (key, rest.trim_start_matches([' ', '\t']));
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_broker_conf_uses() {
        let text = "# comment\n! also comment\n\nbrokerClusterName = DefaultCluster\nbrokerName:broker-a\n\
                    brokerId 0\nnamesrvAddr=a:9876;\\\n   b:9876\npath=C\\:\\\\store\\u0041\n  listenPort=10911  \n";
        let props = parse(text);
        let kv: Vec<(&str, &str)> = props
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(
            kv,
            vec![
                ("brokerClusterName", "DefaultCluster"),
                ("brokerName", "broker-a"),
                ("brokerId", "0"),
                ("namesrvAddr", "a:9876;b:9876"),
                ("path", "C:\\storeA"),
                ("listenPort", "10911"),
            ]
        );
        assert_eq!(props[0].line, 4);
        assert_eq!(props[5].line, 10);
    }

    #[test]
    fn key_without_value_is_empty() {
        let props = parse("flag\n");
        assert_eq!(props[0].key, "flag");
        assert_eq!(props[0].value, "");
    }
}
