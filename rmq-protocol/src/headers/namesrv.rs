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

    /// PUT_KV_CONFIG (100): store `value` under `namespace`/`key` on the name server.
    pub struct PutKvConfigRequestHeader {
        /// Namespace (`ORDER_TOPIC_CONFIG` for ordered topics).
        namespace: String => "namespace",
        /// Key within the namespace.
        key: String => "key",
        /// Value.
        value: String => "value",
    }

    /// GET_KV_CONFIG (101): one value.
    pub struct GetKvConfigRequestHeader {
        /// Namespace.
        namespace: String => "namespace",
        /// Key within the namespace.
        key: String => "key",
    }

    /// Answer to GET_KV_CONFIG (Java marks the value nullable).
    pub struct GetKvConfigResponseHeader {
        /// The stored value.
        value: Option<String> => "value",
    }

    /// DELETE_KV_CONFIG (102): remove one key (an emptied namespace stays, as in Java).
    pub struct DeleteKvConfigRequestHeader {
        /// Namespace.
        namespace: String => "namespace",
        /// Key within the namespace.
        key: String => "key",
    }

    /// GET_KVLIST_BY_NAMESPACE (219): every key of a namespace (body = KVTable).
    pub struct GetKvListByNamespaceRequestHeader {
        /// Namespace.
        namespace: String => "namespace",
    }

    /// WIPE_WRITE_PERM_OF_BROKER (205): clear the write bit of every queue the broker serves in the routes.
    pub struct WipeWritePermOfBrokerRequestHeader {
        /// Broker name (master and slaves share it).
        broker_name: String => "brokerName",
    }

    /// Answer to WIPE_WRITE_PERM_OF_BROKER.
    pub struct WipeWritePermOfBrokerResponseHeader {
        /// Queue data (topics) of the broker touched, changed or not.
        wipe_topic_count: i32 => "wipeTopicCount",
    }

    /// ADD_WRITE_PERM_OF_BROKER (327): set the perm of every queue the broker serves to read + write (6).
    pub struct AddWritePermOfBrokerRequestHeader {
        /// Broker name.
        broker_name: String => "brokerName",
    }

    /// Answer to ADD_WRITE_PERM_OF_BROKER.
    pub struct AddWritePermOfBrokerResponseHeader {
        /// Queue data (topics) of the broker touched, changed or not.
        add_topic_count: i32 => "addTopicCount",
    }
}
