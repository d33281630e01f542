//! The name server's tables: which brokers exist, which topics they serve, and whether they are alive.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rmq_protocol::body::{
    BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfig, TopicRouteData,
};
use rmq_protocol::message::sysflag::perm;

/// What WIPE_WRITE_PERM_OF_BROKER / ADD_WRITE_PERM_OF_BROKER do to a broker's queue data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePerm {
    /// Clear the write bit, keeping the others (Java `perm &= ~PERM_WRITE`).
    Wipe,
    /// Set the perm to exactly read + write (6), dropping any other bit, as Java does.
    Add,
}

/// Liveness record of one registered broker address.
#[derive(Debug, Clone)]
struct BrokerLive {
    last_update: Instant,
    timeout: Duration,
    data_version: DataVersion,
    connection: Option<u64>,
    ha_server_addr: String,
    cluster: String,
    broker_name: String,
    broker_id: i64,
}

/// What a registration tells the broker back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterResult {
    /// HA address of the master, for slaves.
    pub ha_server_addr: Option<String>,
    /// Master address, for slaves.
    pub master_addr: Option<String>,
}

/// One broker registration as the name server sees it.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Cluster name.
    pub cluster: String,
    /// `ip:port` clients connect to.
    pub broker_addr: String,
    /// Broker name (master and slaves share it).
    pub broker_name: String,
    /// 0 = master.
    pub broker_id: i64,
    /// HA address.
    pub ha_server_addr: String,
    /// How long the registration stays valid without renewal.
    pub timeout: Duration,
    /// Version of the topic table; unchanged versions skip the topic update.
    pub data_version: DataVersion,
    /// The broker's topics (only a master's are applied).
    pub topics: Vec<TopicConfig>,
    /// The connection that registered, so its close unregisters the broker.
    pub connection: Option<u64>,
    /// Whether a slave may act as master.
    pub enable_acting_master: bool,
}

/// The route tables. Not synchronised itself; the processor wraps it in a lock.
#[derive(Debug, Default)]
pub struct RouteInfo {
    topic_queue_table: HashMap<String, BTreeMap<String, QueueData>>,
    broker_addr_table: BTreeMap<String, BrokerData>,
    cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
    broker_live_table: HashMap<String, BrokerLive>,
}

impl RouteInfo {
    /// Records or renews a broker; applies a master's topic table when it is new or changed.
    pub fn register(&mut self, reg: Registration) -> RegisterResult {
        self.cluster_addr_table
            .entry(reg.cluster.clone())
            .or_default()
            .insert(reg.broker_name.clone());
        let data = self
            .broker_addr_table
            .entry(reg.broker_name.clone())
            .or_insert_with(|| BrokerData {
                cluster: reg.cluster.clone(),
                broker_name: reg.broker_name.clone(),
                broker_addrs: BTreeMap::new(),
                enable_acting_master: reg.enable_acting_master,
                zone_name: None,
            });
        data.enable_acting_master = reg.enable_acting_master;
        // The same address under another id means the broker switched role: keep one entry per address.
        data.broker_addrs
            .retain(|id, addr| !(addr == &reg.broker_addr && *id != reg.broker_id));
        let first = data
            .broker_addrs
            .insert(reg.broker_id, reg.broker_addr.clone())
            .as_deref()
            != Some(reg.broker_addr.as_str());
        let master_addr = data.broker_addrs.get(&0).cloned();

        let changed = match self.broker_live_table.get(&reg.broker_addr) {
            Some(live) => live.data_version != reg.data_version,
            None => true,
        };
        if reg.broker_id == 0 && (first || changed) {
            self.apply_topics(&reg.broker_name, &reg.topics);
        }
        self.broker_live_table.insert(
            reg.broker_addr.clone(),
            BrokerLive {
                last_update: Instant::now(),
                timeout: reg.timeout,
                data_version: reg.data_version,
                connection: reg.connection,
                ha_server_addr: reg.ha_server_addr,
                cluster: reg.cluster,
                broker_name: reg.broker_name,
                broker_id: reg.broker_id,
            },
        );
        if reg.broker_id == 0 {
            return RegisterResult::default();
        }
        let ha = master_addr
            .as_ref()
            .and_then(|m| self.broker_live_table.get(m))
            .map(|l| l.ha_server_addr.clone());
        RegisterResult {
            ha_server_addr: ha,
            master_addr,
        }
    }

    /// Replaces the queue data of `broker_name`: its topics get its queues, topics it no longer has lose them.
    fn apply_topics(&mut self, broker_name: &str, topics: &[TopicConfig]) {
        let names: BTreeSet<&str> = topics.iter().map(|t| t.topic_name.as_str()).collect();
        self.topic_queue_table.retain(|topic, brokers| {
            if !names.contains(topic.as_str()) {
                brokers.remove(broker_name);
            }
            !brokers.is_empty()
        });
        for t in topics {
            self.topic_queue_table
                .entry(t.topic_name.clone())
                .or_default()
                .insert(
                    broker_name.to_string(),
                    QueueData {
                        broker_name: broker_name.to_string(),
                        read_queue_nums: t.read_queue_nums,
                        write_queue_nums: t.write_queue_nums,
                        perm: t.perm,
                        topic_sys_flag: t.topic_sys_flag,
                    },
                );
        }
    }

    /// Removes one broker address; removes the broker (and its queues) when no address is left.
    pub fn unregister(
        &mut self,
        cluster: &str,
        broker_addr: &str,
        broker_name: &str,
        broker_id: i64,
    ) {
        self.broker_live_table.remove(broker_addr);
        let mut remove_broker = false;
        if let Some(data) = self.broker_addr_table.get_mut(broker_name) {
            if data.broker_addrs.get(&broker_id).map(String::as_str) == Some(broker_addr) {
                data.broker_addrs.remove(&broker_id);
            }
            remove_broker = data.broker_addrs.is_empty();
        }
        if remove_broker {
            self.broker_addr_table.remove(broker_name);
            if let Some(names) = self.cluster_addr_table.get_mut(cluster) {
                names.remove(broker_name);
                if names.is_empty() {
                    self.cluster_addr_table.remove(cluster);
                }
            }
            self.topic_queue_table.retain(|_, brokers| {
                brokers.remove(broker_name);
                !brokers.is_empty()
            });
        }
    }

    /// Drops brokers whose registration expired; returns their addresses.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        self.remove_where(|l| now.duration_since(l.last_update) > l.timeout)
    }

    /// Drops every broker registered over the closed connection.
    pub fn connection_closed(&mut self, connection: u64) -> Vec<String> {
        self.remove_where(|l| l.connection == Some(connection))
    }

    /// Unregisters every broker address whose liveness record matches `gone`; returns those addresses.
    fn remove_where(&mut self, gone: impl Fn(&BrokerLive) -> bool) -> Vec<String> {
        let removed: Vec<(String, BrokerLive)> = self
            .broker_live_table
            .iter()
            .filter(|(_, l)| gone(l))
            .map(|(a, l)| (a.clone(), l.clone()))
            .collect();
        for (addr, live) in &removed {
            self.unregister(&live.cluster, addr, &live.broker_name, live.broker_id);
        }
        removed.into_iter().map(|(a, _)| a).collect()
    }

    /// The route of a topic, or None when no live broker serves it.
    pub fn topic_route(&self, topic: &str) -> Option<TopicRouteData> {
        let queues = self.topic_queue_table.get(topic)?;
        let broker_datas = queues
            .keys()
            .filter_map(|name| self.broker_addr_table.get(name).cloned())
            .collect::<Vec<_>>();
        if broker_datas.is_empty() {
            return None;
        }
        Some(TopicRouteData {
            order_topic_conf: None,
            queue_datas: queues.values().cloned().collect(),
            broker_datas,
            filter_server_table: HashMap::new(),
        })
    }

    /// Every broker and cluster.
    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            broker_addr_table: self
                .broker_addr_table
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            cluster_addr_table: self
                .cluster_addr_table
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// Every topic some broker serves.
    pub fn topics(&self) -> BTreeSet<String> {
        self.topic_queue_table.keys().cloned().collect()
    }

    /// Adds queue data for a topic on brokers this name server knows (REGISTER_TOPIC_IN_NAMESRV).
    pub fn register_topic(&mut self, topic: &str, queues: Vec<QueueData>) {
        for q in queues {
            if self.broker_addr_table.contains_key(&q.broker_name) {
                self.topic_queue_table
                    .entry(topic.to_string())
                    .or_default()
                    .insert(q.broker_name.clone(), q);
            }
        }
    }

    /// Changes the perm of every queue data of `broker_name`, in the routes only: the broker's own topic
    /// config is untouched, and its next registration that rewrites queue data (a changed topic table, or a
    /// first registration) puts its perms back, as in Java. Returns how many queue data were touched, changed
    /// or not (Java's count).
    pub fn operate_write_perm(&mut self, broker_name: &str, op: WritePerm) -> i32 {
        let mut touched = 0;
        for brokers in self.topic_queue_table.values_mut() {
            if let Some(q) = brokers.get_mut(broker_name) {
                q.perm = match op {
                    WritePerm::Wipe => q.perm & !perm::WRITE,
                    WritePerm::Add => perm::READ | perm::WRITE,
                };
                touched += 1;
            }
        }
        touched
    }

    /// Removes a topic from the routes (all brokers, or only those of `cluster`).
    pub fn delete_topic(&mut self, topic: &str, cluster: Option<&str>) {
        match cluster.and_then(|c| self.cluster_addr_table.get(c)) {
            Some(names) => {
                if let Some(brokers) = self.topic_queue_table.get_mut(topic) {
                    brokers.retain(|name, _| !names.contains(name));
                    if brokers.is_empty() {
                        self.topic_queue_table.remove(topic);
                    }
                }
            }
            None => {
                self.topic_queue_table.remove(topic);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str, queues: i32) -> TopicConfig {
        TopicConfig {
            topic_name: name.into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: 6,
            ..TopicConfig::default()
        }
    }

    fn reg(
        cluster: &str,
        name: &str,
        addr: &str,
        topics: Vec<TopicConfig>,
        counter: i64,
    ) -> Registration {
        Registration {
            cluster: cluster.into(),
            broker_addr: addr.into(),
            broker_name: name.into(),
            broker_id: 0,
            ha_server_addr: String::new(),
            timeout: Duration::from_secs(120),
            data_version: DataVersion {
                state_version: 0,
                timestamp: 1,
                counter,
            },
            topics,
            connection: Some(7),
            enable_acting_master: false,
        }
    }

    #[test]
    fn two_brokers_share_a_topic_route() {
        let mut r = RouteInfo::default();
        r.register(reg("c", "a", "1.1.1.1:1", vec![topic("T", 4)], 1));
        r.register(reg("c", "b", "2.2.2.2:1", vec![topic("T", 2)], 1));
        let route = r.topic_route("T").expect("route");
        assert_eq!(route.queue_datas.len(), 2);
        assert_eq!(route.broker_datas.len(), 2);
        assert_eq!(r.cluster_info().cluster_addr_table["c"].len(), 2);
    }

    #[test]
    fn changed_topic_table_replaces_old_topics() {
        let mut r = RouteInfo::default();
        r.register(reg(
            "c",
            "a",
            "1.1.1.1:1",
            vec![topic("T", 4), topic("U", 4)],
            1,
        ));
        r.register(reg("c", "a", "1.1.1.1:1", vec![topic("T", 4)], 2));
        assert!(r.topic_route("U").is_none());
        assert!(r.topic_route("T").is_some());
    }

    #[test]
    fn expiry_and_connection_close_remove_brokers() {
        let mut r = RouteInfo::default();
        let mut short = reg("c", "a", "1.1.1.1:1", vec![topic("T", 4)], 1);
        short.timeout = Duration::from_millis(0);
        short.connection = Some(1);
        r.register(short);
        r.register(reg("c", "b", "2.2.2.2:1", vec![topic("T", 4)], 1));
        let expired = r.expire(Instant::now() + Duration::from_millis(5));
        assert_eq!(expired, vec!["1.1.1.1:1".to_string()]);
        assert_eq!(r.topic_route("T").expect("b remains").broker_datas.len(), 1);
        assert_eq!(r.connection_closed(7), vec!["2.2.2.2:1".to_string()]);
        assert!(r.topic_route("T").is_none());
        assert!(r.cluster_info().broker_addr_table.is_empty());
    }

    #[test]
    fn write_perm_is_wiped_and_added_per_broker_until_a_changed_registration() {
        let mut r = RouteInfo::default();
        let mut inherit = topic("U", 1);
        inherit.perm = 7;
        r.register(reg("c", "a", "1.1.1.1:1", vec![topic("T", 4), inherit], 1));
        r.register(reg("c", "b", "2.2.2.2:1", vec![topic("T", 2)], 1));
        let perms = |r: &RouteInfo, t: &str| -> Vec<(String, i32)> {
            r.topic_route(t)
                .expect("route")
                .queue_datas
                .into_iter()
                .map(|q| (q.broker_name, q.perm))
                .collect()
        };
        assert_eq!(r.operate_write_perm("a", WritePerm::Wipe), 2);
        assert_eq!(perms(&r, "T"), vec![("a".into(), 4), ("b".into(), 6)]);
        assert_eq!(perms(&r, "U"), vec![("a".into(), 5)]);
        assert_eq!(r.operate_write_perm("nobody", WritePerm::Wipe), 0);
        assert_eq!(r.operate_write_perm("a", WritePerm::Add), 2);
        assert_eq!(perms(&r, "U"), vec![("a".into(), 6)]);
        r.operate_write_perm("a", WritePerm::Wipe);
        // Same data version: the queue data stay as the name server has them.
        r.register(reg("c", "a", "1.1.1.1:1", vec![topic("T", 4)], 1));
        assert_eq!(perms(&r, "T")[0], ("a".into(), 4));
        r.register(reg("c", "a", "1.1.1.1:1", vec![topic("T", 4)], 2));
        assert_eq!(perms(&r, "T")[0], ("a".into(), 6));
    }
}
