//! Client management headers (docs/protocol.md §2.3.4).

ext_header! {
    /// UNREGISTER_CLIENT (35): a client leaving, with the groups it leaves.
    pub struct UnregisterClientRequestHeader {
        /// `ip@instance` client id (Java key `clientID`). Java's broker unregisters by channel and never
        /// dereferences it on the consumer path, so an absent id reads as empty (the broker here matches by
        /// connection as well).
        client_id: String = String::new() => "clientID",
        /// Producer group being left.
        producer_group: Option<String> => "producerGroup",
        /// Consumer group being left.
        consumer_group: Option<String> => "consumerGroup",
    }

    /// GET_CONSUMER_LIST_BY_GROUP (38): live client ids of a group, for rebalancing.
    pub struct GetConsumerListByGroupRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
    }

    /// NOTIFY_CONSUMER_IDS_CHANGED (40, broker → client, oneway): rebalance now.
    pub struct NotifyConsumerIdsChangedRequestHeader {
        /// Consumer group whose membership changed.
        consumer_group: String => "consumerGroup",
    }
}
