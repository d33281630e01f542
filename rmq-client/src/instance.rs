//! One client instance per (name-server list, instance name): shared connections, routes and heartbeats.
//!
//! This is Java's `MQClientInstance`. Producers and consumers register a hook with it; it keeps their topics'
//! routes fresh (every `poll_name_server_interval` and on demand), heartbeats every broker with all their groups,
//! and routes requests that brokers start to the right producer or consumer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::{Mutex, RwLock};
use rmq_protocol::body::{
    self, ConsumeMessageDirectlyResult, ConsumerData, ConsumerRunningInfo, HeartbeatData,
    MessageQueue, ProducerData, TopicRouteData,
};
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{
    CheckTransactionStateRequestHeader, ConsumeMessageDirectlyResultRequestHeader,
    GetConsumerRunningInfoRequestHeader, GetRouteInfoRequestHeader,
    NotifyConsumerIdsChangedRequestHeader, UnregisterClientRequestHeader,
};
use rmq_protocol::message::{decode_stored, properties, MessageExt};
use rmq_protocol::RemotingCommand;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::remoting::{ensure_success, ConnectionPool, InboundHandler};
use crate::route::PublishInfo;

/// The producer group every consumer's heartbeat also lists (Java `CLIENT_INNER_PRODUCER`), for send-backs.
pub const CLIENT_INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";

/// What an instance needs from a producer group.
pub trait ProducerHook: Send + Sync + 'static {
    /// A broker asks for the outcome of a half message (CHECK_TRANSACTION_STATE).
    fn check_transaction(
        &self,
        broker_addr: String,
        header: CheckTransactionStateRequestHeader,
        msg: MessageExt,
    );
}

/// What an instance needs from a consumer group.
pub trait ConsumerHook: Send + Sync + 'static {
    /// The group's heartbeat entry (model, subscriptions).
    fn consumer_data(&self) -> ConsumerData;
    /// Membership changed (or the periodic timer fired): re-run queue allocation soon, without blocking.
    fn rebalance_now(&self);
    /// An operator reset the group's offsets (RESET_CONSUMER_CLIENT_OFFSET).
    fn reset_offsets(&self, topic: &str, offsets: Vec<(MessageQueue, i64)>) {
        let _ = (topic, offsets);
    }
    /// What GET_CONSUMER_RUNNING_INFO answers for this group (`None`: the consumer is gone).
    fn running_info(&self, jstack: bool) -> Option<ConsumerRunningInfo> {
        let _ = jstack;
        None
    }
    /// Runs one message through the listener for CONSUME_MESSAGE_DIRECTLY; `None` when this consumer has no
    /// listener (Java answers only for push consumers).
    fn consume_directly(
        &self,
        msg: MessageExt,
        broker_name: String,
    ) -> Option<BoxFuture<'static, ConsumeMessageDirectlyResult>> {
        let _ = (msg, broker_name);
        None
    }
}

type Registry = Mutex<HashMap<String, Weak<ClientInstance>>>;

fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// Shared connections, routes and heartbeats of every producer and consumer with the same client id.
pub struct ClientInstance {
    config: ClientConfig,
    client_id: String,
    namesrvs: Vec<String>,
    namesrv_cursor: AtomicUsize,
    pool: ConnectionPool,
    routes: RwLock<HashMap<String, Arc<TopicRouteData>>>,
    publish: RwLock<HashMap<String, Arc<PublishInfo>>>,
    /// broker name → broker id → address, merged from every route seen.
    brokers: RwLock<HashMap<String, BTreeMap<i64, String>>>,
    producers: RwLock<HashMap<String, Arc<dyn ProducerHook>>>,
    consumers: RwLock<HashMap<String, Arc<dyn ConsumerHook>>>,
    /// Request-reply waiters by CORRELATION_ID.
    replies: Mutex<HashMap<String, oneshot::Sender<MessageExt>>>,
    route_refresh: tokio::sync::Mutex<()>,
    shutdown: CancellationToken,
    me: Weak<ClientInstance>,
}

impl std::fmt::Debug for ClientInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInstance")
            .field("client_id", &self.client_id)
            .field("namesrvs", &self.namesrvs)
            .finish_non_exhaustive()
    }
}

impl ClientInstance {
    /// The instance for `config`'s client id and name servers, created (with its background tasks) on first use.
    pub fn get_or_create(config: &ClientConfig) -> Result<Arc<ClientInstance>> {
        let namesrvs = config.namesrv_list()?;
        let client_id = config.client_id();
        let key = format!("{client_id}|{}", namesrvs.join(";"));
        let mut reg = registry().lock();
        if let Some(found) = reg.get(&key).and_then(Weak::upgrade) {
            if !found.shutdown.is_cancelled() {
                return Ok(found);
            }
        }
        let timeout = config.request_timeout;
        let instance = Arc::new_cyclic(|weak: &Weak<ClientInstance>| {
            let handler: Weak<dyn InboundHandler> = weak.clone();
            ClientInstance {
                config: config.clone(),
                client_id,
                namesrv_cursor: AtomicUsize::new(0),
                namesrvs,
                pool: ConnectionPool::new(timeout, handler),
                routes: RwLock::default(),
                publish: RwLock::default(),
                brokers: RwLock::default(),
                producers: RwLock::default(),
                consumers: RwLock::default(),
                replies: Mutex::default(),
                route_refresh: tokio::sync::Mutex::new(()),
                shutdown: CancellationToken::new(),
                me: weak.clone(),
            }
        });
        reg.retain(|_, w| w.strong_count() > 0);
        reg.insert(key, Arc::downgrade(&instance));
        drop(reg);
        instance.spawn_timers();
        Ok(instance)
    }

    /// `ip@instance`, the id brokers know this client by.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The name servers this instance talks to, in the order given.
    pub fn namesrv_addrs(&self) -> &[String] {
        &self.namesrvs
    }

    /// The settings this instance was created with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Cancelled when the instance shuts down; producers and consumers tie their tasks to it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    fn spawn_timers(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let token = self.shutdown.clone();
        let routes_every = self.config.poll_name_server_interval;
        let beat_every = self.config.heartbeat_interval;
        tokio::spawn(async move {
            let mut routes = tokio::time::interval(routes_every);
            let mut beats = tokio::time::interval(beat_every);
            routes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Both fire at once on the first tick; skip it (start-up does its own route fetch and heartbeat).
            routes.tick().await;
            beats.tick().await;
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = routes.tick() => {
                        let Some(me) = weak.upgrade() else { return };
                        me.refresh_all_routes().await;
                    }
                    _ = beats.tick() => {
                        let Some(me) = weak.upgrade() else { return };
                        me.heartbeat_all().await;
                    }
                }
            }
        });
    }

    // ---- transport ----

    /// Sends a request to `addr` and returns the response whatever its code.
    pub async fn invoke_raw(
        &self,
        addr: &str,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        cmd.serialize_type = self.config.serialize_type;
        let conn = self.pool.get(addr).await?;
        let result = conn.invoke(cmd, timeout).await;
        if matches!(result, Err(ClientError::Closed { .. })) {
            self.pool.close(addr);
        }
        result
    }

    /// Sends a request to `addr`; a non-success code becomes [`ClientError::Broker`].
    pub async fn invoke(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        let resp = self.invoke_raw(addr, cmd, timeout).await?;
        ensure_success(addr, resp)
    }

    /// Sends a oneway request to `addr`.
    pub async fn invoke_oneway(&self, addr: &str, mut cmd: RemotingCommand) -> Result<()> {
        cmd.serialize_type = self.config.serialize_type;
        self.pool.get(addr).await?.invoke_oneway(cmd).await
    }

    /// Sends a request to the name servers, starting with the last one that worked and failing over in order.
    pub async fn invoke_namesrv(&self, cmd: RemotingCommand) -> Result<RemotingCommand> {
        let n = self.namesrvs.len();
        let start = self.namesrv_cursor.load(Ordering::Relaxed);
        let mut last_err = None;
        for i in 0..n {
            let idx = (start + i) % n;
            let addr = &self.namesrvs[idx];
            match self
                .invoke_raw(addr, cmd.clone(), self.config.request_timeout)
                .await
            {
                Ok(resp) => {
                    self.namesrv_cursor.store(idx, Ordering::Relaxed);
                    return Ok(resp);
                }
                Err(e) => {
                    tracing::debug!(namesrv = %addr, error = %e, "name server unreachable; trying the next");
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| ClientError::InvalidArgument {
            field: "namesrv_addr",
            reason: "empty".into(),
        }))
    }

    // ---- routes ----

    /// Fetches `topic`'s route from the name servers and caches it.
    pub async fn update_route(&self, topic: &str) -> Result<Arc<TopicRouteData>> {
        let header = GetRouteInfoRequestHeader {
            topic: topic.to_string(),
            accept_standard_json_only: Some(true),
        };
        let resp = self
            .invoke_namesrv(RemotingCommand::request_with(
                request::GET_ROUTEINFO_BY_TOPIC,
                &header,
            ))
            .await
            .map_err(|e| ClientError::NoRoute {
                topic: topic.to_string(),
                reason: e.to_string(),
            })?;
        if resp.code != response::SUCCESS {
            return Err(ClientError::NoRoute {
                topic: topic.to_string(),
                reason: format!("code {}: {}", resp.code, resp.remark.unwrap_or_default()),
            });
        }
        let route: TopicRouteData = body::from_json(&resp.body)?;
        let route = Arc::new(route);
        let mut new_masters = Vec::new();
        {
            let mut brokers = self.brokers.write();
            for bd in &route.broker_datas {
                let old = brokers.insert(bd.broker_name.clone(), bd.broker_addrs.clone());
                let old_master = old.as_ref().and_then(|ids| ids.get(&0)).map(String::as_str);
                new_masters.extend(
                    bd.master_addr()
                        .filter(|m| old_master != Some(*m))
                        .map(str::to_string),
                );
            }
        }
        // A master seen for the first time learns our groups now rather than at the next heartbeat tick (Java
        // heartbeats a second after start): transaction check-backs only go to producers a broker knows.
        if let Some(me) = self.me.upgrade().filter(|_| !new_masters.is_empty()) {
            tokio::spawn(async move {
                if me.producers.read().is_empty() && me.consumers.read().is_empty() {
                    return;
                }
                for addr in new_masters {
                    if let Err(e) = me.heartbeat(&addr).await {
                        tracing::debug!(broker = %addr, error = %e, "heartbeat to a new master failed");
                    }
                }
            });
        }
        let changed = self
            .routes
            .read()
            .get(topic)
            .is_none_or(|old| **old != *route);
        if changed {
            self.routes.write().insert(topic.to_string(), route.clone());
            self.publish.write().insert(
                topic.to_string(),
                Arc::new(PublishInfo::from_route(topic, route.clone())),
            );
        }
        Ok(route)
    }

    /// The cached route of `topic`, fetched if not cached yet.
    pub async fn route(&self, topic: &str) -> Result<Arc<TopicRouteData>> {
        if let Some(r) = self.routes.read().get(topic) {
            return Ok(r.clone());
        }
        self.update_route(topic).await
    }

    /// Where `topic` can be written, fetched if not cached yet.
    pub async fn publish_info(&self, topic: &str) -> Result<Arc<PublishInfo>> {
        if let Some(p) = self.publish.read().get(topic) {
            if !p.is_empty() {
                return Ok(p.clone());
            }
        }
        self.update_route(topic).await?;
        self.publish
            .read()
            .get(topic)
            .filter(|p| !p.is_empty())
            .cloned()
            .ok_or_else(|| ClientError::NoRoute {
                topic: topic.to_string(),
                reason: "no writable queue on a broker with a master".into(),
            })
    }

    /// Where `topic` can be written; a topic the name servers do not know yet borrows the route of
    /// `default_topic` (TBW102) with at most `queue_nums` queues per broker, so the broker auto-creates it on the
    /// first send (Java `tryToFindTopicPublishInfo`).
    pub async fn publish_info_or_default(
        &self,
        topic: &str,
        default_topic: &str,
        queue_nums: i32,
    ) -> Result<Arc<PublishInfo>> {
        match self.publish_info(topic).await {
            Ok(p) => Ok(p),
            Err(ClientError::NoRoute { .. }) if !default_topic.is_empty() => {
                let template =
                    self.update_route(default_topic)
                        .await
                        .map_err(|e| ClientError::NoRoute {
                            topic: topic.to_string(),
                            reason: format!("unknown topic, and no auto-create template: {e}"),
                        })?;
                let mut route = (*template).clone();
                for qd in &mut route.queue_datas {
                    qd.read_queue_nums = qd.read_queue_nums.min(queue_nums);
                    qd.write_queue_nums = qd.write_queue_nums.min(queue_nums);
                }
                let info = Arc::new(PublishInfo::from_route(topic, Arc::new(route)));
                if info.is_empty() {
                    return Err(ClientError::NoRoute {
                        topic: topic.to_string(),
                        reason: format!(
                            "the auto-create template {default_topic} has no writable queue"
                        ),
                    });
                }
                self.publish.write().insert(topic.to_string(), info.clone());
                Ok(info)
            }
            Err(e) => Err(e),
        }
    }

    /// Refreshes every cached route (the periodic poll); failures keep the old route.
    pub async fn refresh_all_routes(&self) {
        let Ok(_guard) = self.route_refresh.try_lock() else {
            return;
        };
        let mut topics: HashSet<String> = self.routes.read().keys().cloned().collect();
        topics.extend(self.publish.read().keys().cloned());
        for topic in topics {
            if let Err(e) = self.update_route(&topic).await {
                tracing::debug!(%topic, error = %e, "route refresh failed; keeping the cached route");
            }
        }
    }

    /// The master address of `broker_name`, from any route seen.
    pub fn master_addr(&self, broker_name: &str) -> Option<String> {
        self.brokers
            .read()
            .get(broker_name)
            .and_then(|ids| ids.get(&0).cloned())
    }

    /// An address of `broker_name`: the master if known, else any replica (reads and offset queries).
    pub fn any_addr(&self, broker_name: &str) -> Option<String> {
        let brokers = self.brokers.read();
        let ids = brokers.get(broker_name)?;
        ids.get(&0).or_else(|| ids.values().next()).cloned()
    }

    /// The master address of `broker_name`, refreshing `topic`'s route once if it is unknown.
    pub async fn master_addr_for(&self, broker_name: &str, topic: &str) -> Result<String> {
        if let Some(a) = self.master_addr(broker_name) {
            return Ok(a);
        }
        self.update_route(topic).await?;
        self.master_addr(broker_name)
            .ok_or_else(|| ClientError::NoBrokerAddr {
                broker_name: broker_name.to_string(),
            })
    }

    /// Every master address known from routes.
    pub fn master_addrs(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .brokers
            .read()
            .values()
            .filter_map(|ids| ids.get(&0).cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every broker name known from routes.
    pub fn broker_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.brokers.read().keys().cloned().collect();
        names.sort();
        names
    }

    // ---- membership ----

    /// Adds a producer group; refused if the group is already registered in this instance.
    pub fn register_producer(&self, group: &str, hook: Arc<dyn ProducerHook>) -> Result<()> {
        let mut producers = self.producers.write();
        if producers.contains_key(group) {
            return Err(ClientError::InvalidArgument {
                field: "producer_group",
                reason: format!(
                    "group {group} is already started in client {}; use another instance_name",
                    self.client_id
                ),
            });
        }
        producers.insert(group.to_string(), hook);
        Ok(())
    }

    /// Adds a consumer group; refused if the group is already registered in this instance.
    pub fn register_consumer(&self, group: &str, hook: Arc<dyn ConsumerHook>) -> Result<()> {
        let mut consumers = self.consumers.write();
        if consumers.contains_key(group) {
            return Err(ClientError::InvalidArgument {
                field: "consumer_group",
                reason: format!(
                    "group {group} is already started in client {}; use another instance_name",
                    self.client_id
                ),
            });
        }
        consumers.insert(group.to_string(), hook);
        Ok(())
    }

    /// Removes a producer group and tells every broker; the instance shuts down when nothing is left.
    pub async fn unregister_producer(&self, group: &str) {
        self.producers.write().remove(group);
        self.unregister_client(Some(group), None).await;
        self.shutdown_if_unused();
    }

    /// Removes a consumer group and tells every broker; the instance shuts down when nothing is left.
    pub async fn unregister_consumer(&self, group: &str) {
        self.consumers.write().remove(group);
        self.unregister_client(None, Some(group)).await;
        self.shutdown_if_unused();
    }

    fn shutdown_if_unused(&self) {
        if self.producers.read().is_empty() && self.consumers.read().is_empty() {
            self.shutdown.cancel();
            self.pool.close_all();
        }
    }

    async fn unregister_client(&self, producer_group: Option<&str>, consumer_group: Option<&str>) {
        let header = UnregisterClientRequestHeader {
            client_id: self.client_id.clone(),
            producer_group: producer_group.map(str::to_string),
            consumer_group: consumer_group.map(str::to_string),
        };
        for addr in self.master_addrs() {
            let cmd = RemotingCommand::request_with(request::UNREGISTER_CLIENT, &header);
            if let Err(e) = self.invoke(&addr, cmd, self.config.request_timeout).await {
                tracing::debug!(broker = %addr, error = %e, "unregister failed; the broker will expire us");
            }
        }
    }

    /// The heartbeat this instance sends: every producer and consumer group.
    pub fn heartbeat_data(&self) -> HeartbeatData {
        let mut producer_data_set: Vec<ProducerData> = self
            .producers
            .read()
            .keys()
            .map(|g| ProducerData {
                group_name: g.clone(),
            })
            .collect();
        let consumer_data_set: Vec<ConsumerData> = self
            .consumers
            .read()
            .values()
            .map(|h| h.consumer_data())
            .collect();
        if !consumer_data_set.is_empty() {
            producer_data_set.push(ProducerData {
                group_name: CLIENT_INNER_PRODUCER_GROUP.to_string(),
            });
        }
        HeartbeatData {
            client_id: self.client_id.clone(),
            producer_data_set,
            consumer_data_set,
            heartbeat_fingerprint: 0,
            without_sub: false,
        }
    }

    /// Heartbeats every known master now (start-up, subscription change, and the periodic timer).
    pub async fn heartbeat_all(&self) {
        let data = self.heartbeat_data();
        if data.producer_data_set.is_empty() && data.consumer_data_set.is_empty() {
            return;
        }
        let body = Bytes::from(body::to_json(&data));
        let addrs = self.master_addrs();
        let calls = addrs.iter().map(|addr| {
            let cmd = RemotingCommand::request(request::HEART_BEAT, HashMap::new())
                .with_body(body.clone());
            async move {
                if let Err(e) = self.invoke(addr, cmd, self.config.request_timeout).await {
                    tracing::debug!(broker = %addr, error = %e, "heartbeat failed");
                }
            }
        });
        futures::future::join_all(calls).await;
    }

    /// Heartbeats one broker and waits for the answer (a consumer must be known before its first pull).
    pub async fn heartbeat(&self, addr: &str) -> Result<()> {
        let data = self.heartbeat_data();
        let cmd = RemotingCommand::request(request::HEART_BEAT, HashMap::new())
            .with_body(body::to_json(&data));
        self.invoke(addr, cmd, self.config.request_timeout)
            .await
            .map(|_| ())
    }

    /// Topics with a cached route (what the periodic refresh covers).
    pub fn cached_topics(&self) -> HashSet<String> {
        self.routes.read().keys().cloned().collect()
    }

    // ---- request-reply ----

    /// Registers a waiter for the reply with `correlation_id`; the receiver fires when the broker pushes it.
    pub fn expect_reply(&self, correlation_id: &str) -> oneshot::Receiver<MessageExt> {
        let (tx, rx) = oneshot::channel();
        self.replies.lock().insert(correlation_id.to_string(), tx);
        rx
    }

    /// Forgets a waiter (timed out or failed to send).
    pub fn forget_reply(&self, correlation_id: &str) {
        self.replies.lock().remove(correlation_id);
    }

    fn deliver_reply(&self, msg: MessageExt) -> bool {
        let Some(id) = msg.property(properties::CORRELATION_ID).map(str::to_string) else {
            return false;
        };
        match self.replies.lock().remove(&id) {
            Some(tx) => tx.send(msg).is_ok(),
            None => false,
        }
    }

    /// Stops background tasks and closes connections (producers and consumers should be shut down first).
    pub fn shutdown(&self) {
        self.shutdown.cancel();
        self.pool.close_all();
    }

    // ---- broker-initiated requests ----

    /// The hook of `group`, if this client has such a consumer.
    fn consumer_hook(&self, group: &str) -> Option<Arc<dyn ConsumerHook>> {
        self.consumers.read().get(group).cloned()
    }

    /// GET_CONSUMER_RUNNING_INFO (307): the group's running info, as Java's `ClientRemotingProcessor`.
    fn running_info(&self, req: &RemotingCommand) -> RemotingCommand {
        let h: GetConsumerRunningInfoRequestHeader = match req.decode_header() {
            Ok(h) => h,
            Err(e) => {
                return RemotingCommand::response_to(req, response::SYSTEM_ERROR)
                    .with_remark(e.to_string())
            }
        };
        match self
            .consumer_hook(&h.consumer_group)
            .and_then(|hook| hook.running_info(h.jstack_enable))
        {
            Some(info) => {
                RemotingCommand::response_to(req, response::SUCCESS).with_body(info.to_json())
            }
            None => RemotingCommand::response_to(req, response::SYSTEM_ERROR).with_remark(format!(
                "The Consumer Group <{}> not exist in this consumer",
                h.consumer_group
            )),
        }
    }

    /// CONSUME_MESSAGE_DIRECTLY (309): runs the stored record in the body through the group's listener.
    async fn consume_directly(&self, req: &RemotingCommand) -> RemotingCommand {
        let refuse = |remark: String| {
            RemotingCommand::response_to(req, response::SYSTEM_ERROR).with_remark(remark)
        };
        let h: ConsumeMessageDirectlyResultRequestHeader = match req.decode_header() {
            Ok(h) => h,
            Err(e) => return refuse(e.to_string()),
        };
        let msg = match decode_stored(&req.body, true) {
            Ok((m, _)) => m,
            Err(e) => return refuse(format!("the body is not a stored message: {e}")),
        };
        let broker = h.broker_name.unwrap_or_default();
        match self
            .consumer_hook(&h.consumer_group)
            .and_then(|hook| hook.consume_directly(msg, broker))
        {
            Some(run) => {
                let result = run.await;
                RemotingCommand::response_to(req, response::SUCCESS)
                    .with_body(rmq_protocol::body::to_json(&result))
            }
            None => refuse(format!(
                "The Consumer Group <{}> not exist in this consumer",
                h.consumer_group
            )),
        }
    }

    fn on_request(self: Arc<Self>, addr: String, req: RemotingCommand) -> Option<RemotingCommand> {
        match req.code {
            request::NOTIFY_CONSUMER_IDS_CHANGED => {
                match req.decode_header::<NotifyConsumerIdsChangedRequestHeader>() {
                    Ok(h) => {
                        let hook = self.consumers.read().get(&h.consumer_group).cloned();
                        if let Some(hook) = hook {
                            tracing::debug!(group = %h.consumer_group, broker = %addr, "consumer ids changed; rebalancing");
                            hook.rebalance_now();
                        }
                    }
                    Err(e) => {
                        tracing::warn!(broker = %addr, error = %e, "bad NOTIFY_CONSUMER_IDS_CHANGED")
                    }
                }
                None
            }
            request::CHECK_TRANSACTION_STATE => {
                let header = match req.decode_header::<CheckTransactionStateRequestHeader>() {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::warn!(broker = %addr, error = %e, "bad CHECK_TRANSACTION_STATE header");
                        return None;
                    }
                };
                let msg = match decode_stored(&req.body, true) {
                    Ok((m, _)) => m,
                    Err(e) => {
                        tracing::warn!(broker = %addr, error = %e, "bad CHECK_TRANSACTION_STATE body");
                        return None;
                    }
                };
                let group = msg
                    .property(properties::PRODUCER_GROUP)
                    .unwrap_or_default()
                    .to_string();
                let hook = self.producers.read().get(&group).cloned();
                match hook {
                    Some(hook) => hook.check_transaction(addr, header, msg),
                    None => {
                        tracing::warn!(%group, "transaction check for a producer group not in this process")
                    }
                }
                None
            }
            request::RESET_CONSUMER_CLIENT_OFFSET => {
                let group = req.ext_fields.get("group").cloned().unwrap_or_default();
                let topic = req.ext_fields.get("topic").cloned().unwrap_or_default();
                let offsets = parse_offset_table(&req.body);
                if let Some(hook) = self.consumers.read().get(&group).cloned() {
                    hook.reset_offsets(&topic, offsets);
                }
                Some(RemotingCommand::response_to(&req, response::SUCCESS))
            }
            request::PUSH_REPLY_MESSAGE_TO_CLIENT => {
                let msg = reply_message_from_push(&req);
                let delivered = msg.map(|m| self.deliver_reply(m)).unwrap_or(false);
                if !delivered {
                    tracing::debug!(broker = %addr, "reply for a request that already timed out or is unknown");
                }
                Some(RemotingCommand::response_to(&req, response::SUCCESS))
            }
            other => Some(
                RemotingCommand::response_to(&req, response::REQUEST_CODE_NOT_SUPPORTED)
                    .with_remark(format!("request code {other} not supported by rmq-runtime")),
            ),
        }
    }
}

impl InboundHandler for ClientInstance {
    fn handle(
        &self,
        addr: String,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let me = self.me.upgrade();
        async move {
            let me = me?;
            match request.code {
                request::GET_CONSUMER_RUNNING_INFO => Some(me.running_info(&request)),
                request::CONSUME_MESSAGE_DIRECTLY => Some(me.consume_directly(&request).await),
                _ => me.on_request(addr, request),
            }
        }
        .boxed()
    }
}

/// ResetOffsetBody (fastjson object keys); an undecodable body resets nothing and is logged.
fn parse_offset_table(body: &[u8]) -> Vec<(MessageQueue, i64)> {
    match rmq_protocol::body::ResetOffsetBody::from_json(body) {
        Ok(b) => b.offset_table.into_iter().collect(),
        Err(e) => {
            tracing::warn!(error = %e, "undecodable RESET_CONSUMER_CLIENT_OFFSET body");
            Vec::new()
        }
    }
}

/// The reply message a broker pushes: header fields describe it, the body is its body.
fn reply_message_from_push(req: &RemotingCommand) -> Option<MessageExt> {
    let ext = &req.ext_fields;
    let props = properties::Properties::parse(ext.get("properties").map_or("", String::as_str));
    let parse_addr = |k: &str| {
        // Java prints hosts as `/ip:port`.
        ext.get(k)
            .and_then(|s| s.trim_start_matches('/').parse().ok())
            .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)))
    };
    let num = |k: &str| ext.get(k).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    Some(MessageExt {
        store_size: 0,
        magic: 0,
        body_crc: 0,
        queue_id: num("queueId") as i32,
        flag: num("flag") as i32,
        queue_offset: 0,
        commit_log_offset: 0,
        sys_flag: num("sysFlag") as i32,
        born_timestamp: num("bornTimestamp"),
        born_host: parse_addr("bornHost"),
        store_timestamp: num("storeTimestamp"),
        store_host: parse_addr("storeHost"),
        reconsume_times: num("reconsumeTimes") as i32,
        prepared_transaction_offset: 0,
        body: req.body.clone(),
        topic: ext.get("topic").cloned().unwrap_or_default(),
        properties: props,
    })
}
