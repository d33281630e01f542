//! What a client instance needs to know: where the name servers are and who it is.

use std::time::Duration;

use rmq_protocol::command::SerializeType;

use crate::error::{ClientError, Result};

/// Settings shared by every producer and consumer of one client instance (Java `ClientConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Name servers, `host:port;host:port` (the `NAMESRV_ADDR` form).
    pub namesrv_addr: String,
    /// Distinguishes client instances in one process; part of the client id.
    pub instance_name: String,
    /// Address brokers see in the client id; defaults to the first non-loopback IPv4 address, else 127.0.0.1.
    pub client_ip: String,
    /// Optional unit name, appended to the client id as Java does.
    pub unit_name: Option<String>,
    /// Namespace prefixed to topics and groups (`ns%topic`), for multi-tenant clusters.
    pub namespace: Option<String>,
    /// Timeout of admin and route calls (Java `mqClientApiTimeout`, 3 s).
    pub request_timeout: Duration,
    /// How often routes are refreshed from the name server (Java `pollNameServerInterval`, 30 s).
    pub poll_name_server_interval: Duration,
    /// How often every broker gets a heartbeat (Java `heartbeatBrokerInterval`, 30 s).
    pub heartbeat_interval: Duration,
    /// How often clustering consumers commit offsets to the broker (Java `persistConsumerOffsetInterval`, 5 s).
    pub persist_offset_interval: Duration,
    /// Header encoding of requests (Java's `rocketmq.serialize.type`, env `ROCKETMQ_SERIALIZE_TYPE`): JSON by
    /// default as every client; ROCKETMQ's binary headers cost both sides less CPU (docs/performance.md).
    pub serialize_type: SerializeType,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            namesrv_addr: std::env::var("NAMESRV_ADDR")
                .unwrap_or_else(|_| "127.0.0.1:9876".to_string()),
            instance_name: std::env::var("ROCKETMQ_CLIENT_NAME")
                .unwrap_or_else(|_| std::process::id().to_string()),
            client_ip: local_ip(),
            unit_name: None,
            namespace: None,
            request_timeout: Duration::from_secs(3),
            poll_name_server_interval: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(30),
            persist_offset_interval: Duration::from_secs(5),
            serialize_type: match std::env::var("ROCKETMQ_SERIALIZE_TYPE").as_deref() {
                Ok("ROCKETMQ") => SerializeType::RocketMq,
                _ => SerializeType::Json,
            },
        }
    }
}

impl ClientConfig {
    /// Defaults with the given name-server list.
    pub fn new(namesrv_addr: impl Into<String>) -> Self {
        ClientConfig {
            namesrv_addr: namesrv_addr.into(),
            ..ClientConfig::default()
        }
    }

    /// Same config under another instance name (a separate client id, connections and heartbeats).
    pub fn with_instance_name(mut self, name: impl Into<String>) -> Self {
        self.instance_name = name.into();
        self
    }

    /// `ip@instance[@unit]`, how brokers identify this client.
    pub fn client_id(&self) -> String {
        match &self.unit_name {
            Some(unit) => format!("{}@{}@{}", self.client_ip, self.instance_name, unit),
            None => format!("{}@{}", self.client_ip, self.instance_name),
        }
    }

    /// The name servers, in the order given.
    pub fn namesrv_list(&self) -> Result<Vec<String>> {
        let list: Vec<String> = self
            .namesrv_addr
            .split([';', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if list.is_empty() {
            return Err(ClientError::InvalidArgument {
                field: "namesrv_addr",
                reason: format!("no name server address in {:?}", self.namesrv_addr),
            });
        }
        for addr in &list {
            let ok = addr
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                return Err(ClientError::InvalidArgument {
                    field: "namesrv_addr",
                    reason: format!("{addr:?} is not host:port"),
                });
            }
        }
        Ok(list)
    }

    /// `name` with this config's namespace prefix (Java `NamespaceUtil.wrapNamespace`), system names untouched.
    pub fn wrap(&self, name: &str) -> String {
        match &self.namespace {
            Some(ns) if !ns.is_empty() => {
                for prefix in [
                    rmq_protocol::topic::RETRY_GROUP_TOPIC_PREFIX,
                    rmq_protocol::topic::DLQ_GROUP_TOPIC_PREFIX,
                ] {
                    if let Some(rest) = name.strip_prefix(prefix) {
                        if rest.starts_with(&format!("{ns}%")) {
                            return name.to_string();
                        }
                        return format!("{prefix}{ns}%{rest}");
                    }
                }
                if name.starts_with(&format!("{ns}%")) {
                    name.to_string()
                } else {
                    format!("{ns}%{name}")
                }
            }
            _ => name.to_string(),
        }
    }
}

/// The first non-loopback IPv4 address, found by asking the OS which source address reaches a public address
/// (a UDP connect sends nothing).
fn local_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("8.8.8.8:80")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .map_or_else(|| "127.0.0.1".to_string(), |ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namesrv_list_splits_and_validates() {
        let c = ClientConfig::new("a:1; b:2");
        assert_eq!(c.namesrv_list().unwrap(), vec!["a:1", "b:2"]);
        let err = ClientConfig::new("nohost").namesrv_list().unwrap_err();
        assert!(err.to_string().contains("namesrv_addr"), "{err}");
        assert!(ClientConfig::new(" ; ").namesrv_list().is_err());
    }

    #[test]
    fn namespace_wraps_topics_and_retry_names() {
        let mut c = ClientConfig::new("a:1");
        assert_eq!(c.wrap("t"), "t");
        c.namespace = Some("ns".into());
        assert_eq!(c.wrap("t"), "ns%t");
        assert_eq!(c.wrap("ns%t"), "ns%t");
        assert_eq!(c.wrap("%RETRY%g"), "%RETRY%ns%g");
    }
}
