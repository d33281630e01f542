//! Shared by the integration tests: the captured frames in `tests/captures/` (golden vectors from real RocketMQ
//! peers) and [`ext`], an ext map from literal pairs.
#![allow(dead_code)]

use std::collections::HashMap;

use serde_json::Value;

/// An ext map from `(key, value)` pairs, as a peer's header would carry them.
pub fn ext(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// One recorded frame.
pub struct Captured {
    /// `file:line` plus request/response, for assertion messages.
    pub origin: String,
    /// The whole frame, length prefix included.
    pub bytes: Vec<u8>,
    /// The capture tool's parse of the header.
    pub header: Value,
    /// Whether the recording cut the frame at 16 KiB.
    pub truncated: bool,
}

const FILES: [(&str, &str); 2] = [
    (
        "cpp-client-requests.jsonl",
        include_str!("../captures/cpp-client-requests.jsonl"),
    ),
    (
        "rust-client-vs-rust-broker.jsonl",
        include_str!("../captures/rust-client-vs-rust-broker.jsonl"),
    ),
];

/// Every frame of both capture files, requests and responses.
pub fn frames() -> Vec<Captured> {
    let mut out = Vec::new();
    for (name, text) in FILES {
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let obj: Value = serde_json::from_str(line).expect("capture line is JSON");
            let parts: Vec<(&str, &Value)> = if obj.get("frame_hex").is_some() {
                vec![("frame", &obj)]
            } else {
                vec![("request", &obj["request"]), ("response", &obj["response"])]
            };
            for (role, f) in parts {
                if f.is_null() {
                    continue;
                }
                out.push(Captured {
                    origin: format!("{name}:{} {role}", n + 1),
                    bytes: hex(f["frame_hex"].as_str().expect("frame_hex")),
                    header: f["header"].clone(),
                    truncated: f["frame_truncated"].as_bool().unwrap_or(false),
                });
            }
        }
    }
    out
}

/// Decodes lowercase or uppercase hex.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digit"))
        .collect()
}
