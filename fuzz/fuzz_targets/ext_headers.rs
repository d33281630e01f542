//! Every typed header of `rmq_protocol::headers`, decoded from one ext map built from the input.
//!
//! The map's keys are mostly drawn from the headers' own `EXT_KEYS` (so decoding gets past the required
//! fields), its values from integers, booleans, their near misses and arbitrary text. Checks: no panic; a
//! decoded header re-encodes (`to_ext`) to keys listed in its `EXT_KEYS` and decodes back to the same value;
//! the send header's V2 spelling and `from_command` likewise.
#![no_main]

use std::collections::HashMap;
use std::fmt::Debug;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rmq_protocol::headers::*;
use rmq_protocol::RemotingCommand;

/// Calls `$m!(Header)` for every header type of the crate. A new header must be added here.
macro_rules! all_headers {
    ($m:ident) => {
        $m!(GetTopicStatsInfoRequestHeader);
        $m!(GetConsumerConnectionListRequestHeader);
        $m!(GetConsumeStatsRequestHeader);
        $m!(ResetOffsetRequestHeader);
        $m!(ReplyMessageRequestHeader);
        $m!(UnregisterClientRequestHeader);
        $m!(GetConsumerListByGroupRequestHeader);
        $m!(NotifyConsumerIdsChangedRequestHeader);
        $m!(RegisterBrokerRequestHeader);
        $m!(RegisterBrokerResponseHeader);
        $m!(UnregisterBrokerRequestHeader);
        $m!(GetRouteInfoRequestHeader);
        $m!(QueryConsumerOffsetRequestHeader);
        $m!(QueryConsumerOffsetResponseHeader);
        $m!(UpdateConsumerOffsetRequestHeader);
        $m!(GetMaxOffsetRequestHeader);
        $m!(GetMaxOffsetResponseHeader);
        $m!(GetMinOffsetRequestHeader);
        $m!(GetMinOffsetResponseHeader);
        $m!(SearchOffsetRequestHeader);
        $m!(SearchOffsetResponseHeader);
        $m!(GetEarliestMsgStoretimeRequestHeader);
        $m!(GetEarliestMsgStoretimeResponseHeader);
        $m!(PullMessageRequestHeader);
        $m!(PullMessageResponseHeader);
        $m!(ViewMessageRequestHeader);
        $m!(QueryMessageRequestHeader);
        $m!(QueryMessageResponseHeader);
        $m!(SendMessageRequestHeader);
        $m!(SendMessageResponseHeader);
        $m!(CreateTopicRequestHeader);
        $m!(DeleteTopicRequestHeader);
        $m!(GetTopicConfigRequestHeader);
        $m!(ConsumerSendMsgBackRequestHeader);
        $m!(EndTransactionRequestHeader);
        $m!(CheckTransactionStateRequestHeader);
    };
}

/// The V2 send keys (`a`..`n`) and the broker-name fallback, which no `EXT_KEYS` lists.
const EXTRA_KEYS: &[&str] = &[
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "bname",
];

/// Every key any header reads, in one pool.
fn key_pool() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = EXTRA_KEYS.to_vec();
    macro_rules! add {
        ($h:ty) => {
            keys.extend_from_slice(<$h as CommandHeader>::EXT_KEYS);
        };
    }
    all_headers!(add);
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[derive(Arbitrary, Debug)]
enum Key {
    Known(u16),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Value {
    Text(String),
    Int(i64),
    Int32(i32),
    Bool(bool),
    /// `true`/`false` in odd case, padded, or Java-ish spellings.
    BoolLike(u8),
    /// An integer with surrounding blanks, a sign, or a fraction.
    IntLike(i32, u8),
}

impl Value {
    fn render(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Int(n) => n.to_string(),
            Value::Int32(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::BoolLike(k) => ["TRUE", "False", " true", "yes", "1", "", "tRuE", "false "]
                [usize::from(*k) % 8]
                .to_owned(),
            Value::IntLike(n, k) => match k % 6 {
                0 => format!(" {n}"),
                1 => format!("+{n}"),
                2 => format!("{n}.0"),
                3 => format!("{n}L"),
                4 => format!("0{n}"),
                _ => format!("{n}000000000000"),
            },
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    entries: Vec<(Key, Value)>,
    code: i32,
}

fuzz_target!(|input: Input| {
    let pool = key_pool();
    let mut ext = HashMap::new();
    for (key, value) in &input.entries {
        let key = match key {
            Key::Known(i) => pool[usize::from(*i) % pool.len()].to_owned(),
            Key::Raw(s) => s.clone(),
        };
        ext.insert(key, value.render());
    }
    macro_rules! check {
        ($h:ty) => {
            check_one::<$h>(&ext);
        };
    }
    all_headers!(check);
    check_send(&ext, input.code);
});

fn check_one<H: CommandHeader + PartialEq + Debug>(ext: &HashMap<String, String>) {
    let Ok(header) = H::from_ext(ext) else {
        return;
    };
    let written = header.to_ext();
    for key in written.keys() {
        assert!(
            H::EXT_KEYS.contains(&key.as_str()),
            "{} writes {key:?}, which its EXT_KEYS does not list",
            std::any::type_name::<H>()
        );
    }
    let back = H::from_ext(&written).unwrap_or_else(|e| {
        panic!(
            "{} does not decode its own ext map: {e}: {written:?}",
            std::any::type_name::<H>()
        )
    });
    assert_eq!(header, back, "{} round trip", std::any::type_name::<H>());
}

fn check_send(ext: &HashMap<String, String>, code: i32) {
    if let Ok(h) = SendMessageRequestHeader::from_ext_v2(ext) {
        let back = SendMessageRequestHeader::from_ext_v2(&h.to_ext_v2()).expect("V2 re-decodes");
        assert_eq!(h, back, "send header V2 round trip");
    }
    let cmd = RemotingCommand::request(code, ext.clone());
    if let Ok(h) = SendMessageRequestHeader::from_command(&cmd) {
        let back = SendMessageRequestHeader::from_command(&h.to_command(code))
            .expect("send header re-decodes with the same code");
        assert_eq!(h, back, "send header from_command round trip");
    }
}
