//! [`RemotingCommand`]: the unit every RocketMQ connection exchanges (docs/protocol.md §1.2).

use std::collections::HashMap;

use bytes::Bytes;

/// Bit 0 of `flag`: this frame is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Bit 1 of `flag`: the requester expects no response.
pub const FLAG_ONEWAY: i32 = 2;

/// The `version` we put in our own frames: Java's `MQVersion.CURRENT_VERSION` (V5_3_3). It selects standard-JSON
/// routes (≥ 401), header `maxReconsumeTimes` (≥ 121) and RegisterBrokerBody parsing (≥ 37) on real servers.
pub const CURRENT_VERSION: i32 = 479;

/// How a header is serialized; the high byte of the second length word (docs/protocol.md §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum SerializeType {
    /// UTF-8 JSON text; what we emit by default.
    #[default]
    Json,
    /// Java's compact `RocketMQSerializable` binary layout (docs/protocol.md §1.4).
    RocketMq,
}

impl SerializeType {
    /// The type byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }

    /// Inverse of [`SerializeType::code`]; `None` for a byte that names no serialization.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(SerializeType::Json),
            1 => Some(SerializeType::RocketMq),
            _ => None,
        }
    }
}

/// The sender's language. JSON headers carry the name, binary headers the byte (docs/protocol.md §1.2).
///
/// `Other(n)` keeps codes we do not know, so a frame from a newer peer still decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum LanguageCode {
    Java,
    Cpp,
    Dotnet,
    Python,
    Delphi,
    Erlang,
    Ruby,
    Other,
    Http,
    Go,
    Php,
    Oms,
    Rust,
    NodeJs,
    /// A code outside the known table (binary headers only).
    Unknown(u8),
}

impl LanguageCode {
    /// The byte used in ROCKETMQ binary headers.
    pub fn code(self) -> u8 {
        match self {
            LanguageCode::Java => 0,
            LanguageCode::Cpp => 1,
            LanguageCode::Dotnet => 2,
            LanguageCode::Python => 3,
            LanguageCode::Delphi => 4,
            LanguageCode::Erlang => 5,
            LanguageCode::Ruby => 6,
            LanguageCode::Other => 7,
            LanguageCode::Http => 8,
            LanguageCode::Go => 9,
            LanguageCode::Php => 10,
            LanguageCode::Oms => 11,
            LanguageCode::Rust => 12,
            LanguageCode::NodeJs => 13,
            LanguageCode::Unknown(c) => c,
        }
    }

    /// Inverse of [`LanguageCode::code`]; never fails.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => LanguageCode::Java,
            1 => LanguageCode::Cpp,
            2 => LanguageCode::Dotnet,
            3 => LanguageCode::Python,
            4 => LanguageCode::Delphi,
            5 => LanguageCode::Erlang,
            6 => LanguageCode::Ruby,
            7 => LanguageCode::Other,
            8 => LanguageCode::Http,
            9 => LanguageCode::Go,
            10 => LanguageCode::Php,
            11 => LanguageCode::Oms,
            12 => LanguageCode::Rust,
            13 => LanguageCode::NodeJs,
            c => LanguageCode::Unknown(c),
        }
    }

    /// The name used in JSON headers (Java enum names).
    pub fn name(self) -> &'static str {
        match self {
            LanguageCode::Java => "JAVA",
            LanguageCode::Cpp => "CPP",
            LanguageCode::Dotnet => "DOTNET",
            LanguageCode::Python => "PYTHON",
            LanguageCode::Delphi => "DELPHI",
            LanguageCode::Erlang => "ERLANG",
            LanguageCode::Ruby => "RUBY",
            LanguageCode::Other => "OTHER",
            LanguageCode::Http => "HTTP",
            LanguageCode::Go => "GO",
            LanguageCode::Php => "PHP",
            LanguageCode::Oms => "OMS",
            LanguageCode::Rust => "RUST",
            LanguageCode::NodeJs => "NODE_JS",
            LanguageCode::Unknown(_) => "OTHER",
        }
    }

    /// Inverse of [`LanguageCode::name`]; an unknown name maps to `Other` (as the Go client does).
    pub fn from_name(name: &str) -> Self {
        match name {
            "JAVA" => LanguageCode::Java,
            "CPP" => LanguageCode::Cpp,
            "DOTNET" => LanguageCode::Dotnet,
            "PYTHON" => LanguageCode::Python,
            "DELPHI" => LanguageCode::Delphi,
            "ERLANG" => LanguageCode::Erlang,
            "RUBY" => LanguageCode::Ruby,
            "HTTP" => LanguageCode::Http,
            "GO" => LanguageCode::Go,
            "PHP" => LanguageCode::Php,
            "OMS" => LanguageCode::Oms,
            "RUST" => LanguageCode::Rust,
            "NODE_JS" => LanguageCode::NodeJs,
            _ => LanguageCode::Other,
        }
    }
}

/// One request or response: the seven header fields of docs/protocol.md §1.2 plus the body.
///
/// Built by the frame decoder for incoming frames and by [`RemotingCommand::request`] /
/// [`RemotingCommand::response_to`] for outgoing ones.
#[derive(Debug, Clone, PartialEq)]
pub struct RemotingCommand {
    /// Request code ([`crate::codes::request`]) or response code ([`crate::codes::response`]).
    pub code: i32,
    /// Sender's language.
    pub language: LanguageCode,
    /// Sender's `MQVersion` ordinal.
    pub version: i32,
    /// Request id chosen by the requester, echoed by the response.
    pub opaque: i32,
    /// Bit 0 response, bit 1 oneway.
    pub flag: i32,
    /// Error text on responses.
    pub remark: Option<String>,
    /// The typed header's fields as strings (see [`crate::headers`]).
    pub ext_fields: HashMap<String, String>,
    /// Opaque body bytes (possibly empty).
    pub body: Bytes,
    /// How the header was (or will be) serialized.
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    /// A new request with our language and version; the caller assigns `opaque`.
    pub fn request(code: i32, ext_fields: HashMap<String, String>) -> Self {
        RemotingCommand {
            code,
            language: LanguageCode::Rust,
            version: CURRENT_VERSION,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields,
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        }
    }

    /// A response answering `req`: same opaque, response bit set, given code, and the request's header
    /// encoding (Java's servers answer in the serialize type the request used).
    pub fn response_to(req: &RemotingCommand, code: i32) -> Self {
        RemotingCommand {
            code,
            language: LanguageCode::Rust,
            version: CURRENT_VERSION,
            opaque: req.opaque,
            flag: FLAG_RESPONSE,
            remark: None,
            ext_fields: HashMap::new(),
            body: Bytes::new(),
            serialize_type: req.serialize_type,
        }
    }

    /// Builder: set the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Builder: set the remark.
    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }

    /// Builder: set the ext fields.
    pub fn with_ext(mut self, ext: HashMap<String, String>) -> Self {
        self.ext_fields = ext;
        self
    }

    /// Builder: mark as oneway (no response will be sent).
    pub fn into_oneway(mut self) -> Self {
        self.flag |= FLAG_ONEWAY;
        self
    }

    /// Whether this frame is a response.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// Whether the requester expects no response.
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }
}
