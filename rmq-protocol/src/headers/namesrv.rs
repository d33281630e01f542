//! Name server headers (docs/protocol.md §2.3.6).

ext_header! {
    /// REGISTER_BROKER (103): a broker announcing itself and its topics (body = RegisterBrokerBody).
    /// The optional `__ZONE_NAME` ext is read separately.
    pub struct RegisterBrokerRequestHeader {
        /// Broker name.
        broker_name: String => "brokerName",
        /// `ip:port` clients connect to.
        broker_addr: String => "brokerAddr",
        /// Cluster name.
        cluster_name: String => "clusterName",
        /// `ip:port` of the HA service. Java's name server only stores it (null is kept and handed to slaves
        /// as an absent `haServerAddr`), so absence reads as empty.
        ha_server_addr: String = String::new() => "haServerAddr",
        /// 0 = master.
        broker_id: i64 => "brokerId",
        /// Expiry override in ms.
        heartbeat_timeout_millis: Option<i64> => "heartbeatTimeoutMillis",
        /// Slave-acting-master mode.
        enable_acting_master: Option<bool> => "enableActingMaster",
        /// Body is the zlib form (Java: primitive `boolean`, false when absent; `None` reads as false).
        compressed: Option<bool> => "compressed",
        /// CRC-32 of the body masked to 31 bits; 0 = not checked (Java: `Integer bodyCrc32 = 0`; `None` reads
        /// as 0).
        body_crc32: Option<i32> => "bodyCrc32",
    }

    /// Answer to REGISTER_BROKER, telling a slave where its master is.
    pub struct RegisterBrokerResponseHeader {
        /// Master's HA address.
        ha_server_addr: Option<String> => "haServerAddr",
        /// Master's address.
        master_addr: Option<String> => "masterAddr",
    }

    /// UNREGISTER_BROKER (104): a broker leaving.
    pub struct UnregisterBrokerRequestHeader {
        /// Broker name.
        broker_name: String => "brokerName",
        /// `ip:port`.
        broker_addr: String => "brokerAddr",
        /// Cluster name.
        cluster_name: String => "clusterName",
        /// 0 = master.
        broker_id: i64 => "brokerId",
    }

    /// GET_ROUTEINFO_BY_TOPIC (105).
    pub struct GetRouteInfoRequestHeader {
        /// Topic.
        topic: String => "topic",
        /// Ask for standard JSON even with an old version (docs/protocol.md §4.11).
        accept_standard_json_only: Option<bool> => "acceptStandardJsonOnly",
    }
}
