//! The request metadata every RocketMQ 5 client sends with each call (Java's proxy reads it into its
//! `ProxyContext`): who the client is, its language and protocol version, the namespace its resources live in,
//! and the `authorization` header kept for ACL.

use tonic::metadata::MetadataMap;

/// `x-mq-client-id`: the client's id (`host@pid#seq` in the Rust client).
pub const CLIENT_ID: &str = "x-mq-client-id";
/// `x-mq-language`: `JAVA`, `RUST`, `GOLANG`, …
pub const LANGUAGE: &str = "x-mq-language";
/// `x-mq-protocol-version`: `v2`.
pub const PROTOCOL_VERSION: &str = "x-mq-protocol-version";
/// `x-mq-client-version`: the client library's version.
pub const CLIENT_VERSION: &str = "x-mq-client-version";
/// `x-mq-namespace`: the namespace the client's resources belong to when a resource names none.
pub const NAMESPACE: &str = "x-mq-namespace";
/// `authorization`: the client's signature, for a later ACL check.
pub const AUTHORIZATION: &str = "authorization";

/// What one request's metadata says about its client; a header that is absent, empty or not ASCII is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMetadata {
    /// `x-mq-client-id`.
    pub client_id: Option<String>,
    /// `x-mq-language`.
    pub language: Option<String>,
    /// `x-mq-protocol-version`.
    pub protocol_version: Option<String>,
    /// `x-mq-client-version`.
    pub client_version: Option<String>,
    /// `x-mq-namespace`.
    pub namespace: Option<String>,
    /// `authorization` (unchecked for now).
    pub authorization: Option<String>,
}

impl RequestMetadata {
    /// Reads the headers of one request.
    pub fn from_metadata(m: &MetadataMap) -> Self {
        let get = |key: &str| {
            m.get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        RequestMetadata {
            client_id: get(CLIENT_ID),
            language: get(LANGUAGE),
            protocol_version: get(PROTOCOL_VERSION),
            client_version: get(CLIENT_VERSION),
            namespace: get(NAMESPACE),
            authorization: get(AUTHORIZATION),
        }
    }
}

/// The broker-side name of a topic or group `r`: Java's `NamespaceUtil.wrapNamespace`, `namespace%name`, with
/// the resource's own namespace, else the request's `x-mq-namespace`; the name alone in the default namespace.
pub fn resource_name(r: &rmq_grpc::v2::Resource, md: &RequestMetadata) -> String {
    let ns = Some(r.resource_namespace.as_str())
        .filter(|n| !n.is_empty())
        .or(md.namespace.as_deref());
    match ns {
        Some(ns) => format!("{ns}%{}", r.name),
        None => r.name.clone(),
    }
}
