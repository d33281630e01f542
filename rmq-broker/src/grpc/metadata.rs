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

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_grpc::v2::Resource;

    #[test]
    fn headers_are_read_and_the_namespace_wraps_a_bare_resource() {
        let mut m = MetadataMap::new();
        m.insert(CLIENT_ID, "host@1#0".parse().expect("ascii"));
        m.insert(LANGUAGE, "RUST".parse().expect("ascii"));
        m.insert(NAMESPACE, "ns1".parse().expect("ascii"));
        m.insert(PROTOCOL_VERSION, " ".parse().expect("ascii"));
        let md = RequestMetadata::from_metadata(&m);
        assert_eq!(md.client_id.as_deref(), Some("host@1#0"));
        assert_eq!(md.language.as_deref(), Some("RUST"));
        assert_eq!(md.protocol_version, None, "blank is absent");
        let bare = Resource {
            resource_namespace: String::new(),
            name: "Orders".into(),
        };
        assert_eq!(resource_name(&bare, &md), "ns1%Orders");
        let own = Resource {
            resource_namespace: "ns2".into(),
            name: "Orders".into(),
        };
        assert_eq!(
            resource_name(&own, &md),
            "ns2%Orders",
            "the resource's own namespace wins"
        );
        assert_eq!(resource_name(&bare, &RequestMetadata::default()), "Orders");
    }
}
