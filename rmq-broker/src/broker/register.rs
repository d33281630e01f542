//! Registration with every name server in `namesrvAddr`: at start, every `registerNameServerPeriod`, and at
//! once after a topic change. One kept-open connection per name server, because a name server drops a broker's
//! routes when its registering connection closes (docs/protocol.md §5.5).

use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::body::{self, RegisterBrokerBody};
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{RegisterBrokerRequestHeader, UnregisterBrokerRequestHeader};
use rmq_protocol::RemotingCommand;
use tokio::sync::{Mutex, Notify};
use tracing::{debug, warn};

use super::live_config::LiveConfig;
use super::topic_config::TopicConfigManager;
use crate::remoting::RemotingClient;
use rmq_protocol::message::sysflag::perm;

/// Time allowed for one registration round trip (Java: registerBrokerTimeoutMills 24 s).
const REGISTER_TIMEOUT: Duration = Duration::from_secs(24);

/// Who this broker is, as registration tells name servers.
#[derive(Debug, Clone)]
pub struct BrokerIdentity {
    /// `brokerName`.
    pub broker_name: String,
    /// `brokerClusterName`.
    pub cluster_name: String,
    /// `brokerId`.
    pub broker_id: i64,
    /// `ip:port` published to name servers.
    pub broker_addr: String,
    /// Published HA address (no replication: listen port + 1, as Java).
    pub ha_addr: String,
    /// `registerNameServerPeriod`, ms.
    pub register_period_ms: u64,
    /// Frame limit of the connections to name servers.
    pub max_frame_length: usize,
}

/// Keeps one connection per name server and registers over it.
#[derive(Debug)]
pub struct Registrar {
    addrs: Vec<String>,
    clients: Vec<Mutex<Option<RemotingClient>>>,
    identity: BrokerIdentity,
    topics: Arc<TopicConfigManager>,
    /// Signalled when the topic table changed and routes should update now (the topic table's own
    /// [`TopicConfigManager::changes`]; a live `brokerPermission` change signals it too).
    changed: Arc<Notify>,
    /// The broker permission each published topic permission is masked with.
    live: Arc<LiveConfig>,
}

impl Registrar {
    /// A registrar for `addrs` (may be empty: a broker without name servers) publishing `topics`.
    pub fn new(
        addrs: Vec<String>,
        identity: BrokerIdentity,
        topics: Arc<TopicConfigManager>,
        live: Arc<LiveConfig>,
    ) -> Self {
        let clients = addrs.iter().map(|_| Mutex::new(None)).collect();
        Registrar {
            addrs,
            clients,
            identity,
            changed: topics.changes(),
            topics,
            live,
        }
    }

    /// Registers with every name server concurrently; failures are logged and retried next period.
    pub async fn register_all(&self) {
        let mut wrapper = self.topics.wrapper();
        // A broker that is not read-write publishes every topic with at most its own permission (Java's
        // `registerBrokerAll`), so clients stop sending to (or reading from) it.
        let broker_perm = self.live.broker_permission();
        if !perm::is_writeable(broker_perm) || !perm::is_readable(broker_perm) {
            for cfg in wrapper.topic_config_table.values_mut() {
                cfg.perm &= broker_perm;
            }
        }
        let reg_body = RegisterBrokerBody {
            topic_config_serialize_wrapper: wrapper,
            filter_server_list: Vec::new(),
        };
        let payload = body::to_json(&reg_body);
        let id = &self.identity;
        let header = RegisterBrokerRequestHeader {
            broker_name: id.broker_name.clone(),
            broker_addr: id.broker_addr.clone(),
            cluster_name: id.cluster_name.clone(),
            ha_server_addr: id.ha_addr.clone(),
            broker_id: id.broker_id,
            heartbeat_timeout_millis: None,
            enable_acting_master: Some(false),
            compressed: Some(false),
            body_crc32: Some((crc32fast::hash(&payload) & 0x7FFF_FFFF) as i32),
        };
        let calls = self.addrs.iter().zip(&self.clients).map(|(addr, slot)| {
            let cmd = RemotingCommand::request_with(request::REGISTER_BROKER, &header).with_body(payload.clone());
            async move {
                match self.call(addr, slot, cmd, id.max_frame_length).await {
                    Ok(resp) if resp.code == response::SUCCESS => debug!(namesrv = %addr, "registered"),
                    Ok(resp) => warn!(namesrv = %addr, code = resp.code, remark = ?resp.remark, "registration refused"),
                    Err(e) => warn!(namesrv = %addr, error = %e, "registration failed"),
                }
            }
        });
        futures::future::join_all(calls).await;
    }

    /// Tells every name server this broker is leaving.
    pub async fn unregister_all(&self) {
        let id = &self.identity;
        let header = UnregisterBrokerRequestHeader {
            broker_name: id.broker_name.clone(),
            broker_addr: id.broker_addr.clone(),
            cluster_name: id.cluster_name.clone(),
            broker_id: id.broker_id,
        };
        let calls = self.addrs.iter().zip(&self.clients).map(|(addr, slot)| {
            let cmd = RemotingCommand::request_with(request::UNREGISTER_BROKER, &header);
            async move {
                if let Err(e) = self.call(addr, slot, cmd, id.max_frame_length).await {
                    debug!(namesrv = %addr, error = %e, "unregister failed");
                }
            }
        });
        futures::future::join_all(calls).await;
    }

    async fn call(
        &self,
        addr: &str,
        slot: &Mutex<Option<RemotingClient>>,
        cmd: RemotingCommand,
        max_frame: usize,
    ) -> Result<RemotingCommand, crate::remoting::ClientError> {
        let mut guard = slot.lock().await;
        if guard.as_ref().is_none_or(RemotingClient::is_closed) {
            *guard = Some(RemotingClient::connect(addr, max_frame).await?);
        }
        let client = guard
            .as_ref()
            .ok_or_else(|| crate::remoting::ClientError::Closed {
                addr: addr.to_string(),
            })?;
        let result = client.invoke(cmd, REGISTER_TIMEOUT).await;
        if result.is_err() {
            *guard = None;
        }
        result
    }

    /// Runs until `stop`: registers every period and whenever the topic table changes (the first
    /// registration is done by the broker's start, so routes exist before `start` returns).
    pub async fn run(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        if self.addrs.is_empty() {
            return;
        }
        let period = Duration::from_millis(self.identity.register_period_ms);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
                _ = self.changed.notified() => {}
            }
            self.register_all().await;
        }
    }
}
