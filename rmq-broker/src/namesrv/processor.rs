//! Name-server request handling: one function per request code, all answering from [`RouteInfo`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::{self, BoxFuture, FutureExt};
use parking_lot::{Mutex, RwLock};
use rmq_protocol::body::{self, KvTable, RegisterBrokerBody, TopicList, TopicRouteData};
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{
    CommandHeader, GetRouteInfoRequestHeader, RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader,
};
use rmq_protocol::RemotingCommand;
use tracing::{info, warn};

use super::route_info::{Registration, RouteInfo};
use crate::config::NamesrvConfig;
use crate::remoting::{Connection, RequestHandler};

/// Requesters from this version on get standard JSON routes (V4_9_4, docs/protocol.md §4.11).
const STANDARD_JSON_VERSION: i32 = 401;
/// Brokers older than this send no parsable RegisterBrokerBody (V3_0_11).
const REGISTER_BODY_VERSION: i32 = 37;
/// KV namespace holding `brokerName:queueNums;…` for ordered topics.
const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// Answers name-server requests.
#[derive(Debug)]
pub struct NamesrvProcessor {
    config: NamesrvConfig,
    routes: RwLock<RouteInfo>,
    kv: Mutex<HashMap<String, HashMap<String, String>>>,
}

impl NamesrvProcessor {
    /// A processor with empty tables.
    pub fn new(config: NamesrvConfig) -> Self {
        NamesrvProcessor {
            config,
            routes: RwLock::new(RouteInfo::default()),
            kv: Mutex::new(HashMap::new()),
        }
    }

    /// Read access to the route tables.
    pub fn routes(&self) -> parking_lot::RwLockReadGuard<'_, RouteInfo> {
        self.routes.read()
    }

    /// Drops brokers that stopped re-registering.
    pub fn scan_not_active_brokers(&self) {
        for addr in self.routes.write().expire(Instant::now()) {
            warn!(broker = %addr, "broker registration expired; removed from routes");
        }
    }

    fn process(&self, conn: &Connection, req: &RemotingCommand) -> RemotingCommand {
        let result = match req.code {
            request::REGISTER_BROKER => self.register_broker(conn, req),
            request::UNREGISTER_BROKER => self.unregister_broker(req),
            request::GET_ROUTEINFO_BY_TOPIC => self.route_by_topic(req),
            request::GET_BROKER_CLUSTER_INFO => {
                let info = self.routes.read().cluster_info();
                Ok(ok(req).with_body(info.to_json(false)))
            }
            request::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                let list = TopicList {
                    topic_list: self.routes.read().topics(),
                    broker_addr: None,
                };
                Ok(ok(req).with_body(body::to_json(&list)))
            }
            request::DELETE_TOPIC_IN_NAMESRV => self.delete_topic(req),
            request::REGISTER_TOPIC_IN_NAMESRV => self.register_topic(req),
            request::PUT_KV_CONFIG => self.put_kv(req),
            request::GET_KV_CONFIG => self.get_kv(req),
            request::DELETE_KV_CONFIG => self.delete_kv(req),
            code => Ok(
                RemotingCommand::response_to(req, response::REQUEST_CODE_NOT_SUPPORTED)
                    .with_remark(format!(" request type {code} not supported")),
            ),
        };
        result.unwrap_or_else(|(code, remark)| {
            RemotingCommand::response_to(req, code).with_remark(remark)
        })
    }

    fn register_broker(&self, conn: &Connection, req: &RemotingCommand) -> Reply {
        let h: RegisterBrokerRequestHeader = req.decode_header().map_err(bad_request)?;
        if let Some(crc) = h.body_crc32.filter(|c| *c != 0) {
            let actual = (crc32fast::hash(&req.body) & 0x7FFF_FFFF) as i32;
            if actual != crc {
                return Err((response::SYSTEM_ERROR, "crc32 not match".to_string()));
            }
        }
        let body = if req.version >= REGISTER_BODY_VERSION && !req.body.is_empty() {
            RegisterBrokerBody::decode(&req.body, h.compressed.unwrap_or(false))
                .map_err(bad_request)?
        } else {
            RegisterBrokerBody::default()
        };
        let wrapper = body.topic_config_serialize_wrapper;
        let timeout = h
            .heartbeat_timeout_millis
            .filter(|ms| *ms > 0)
            .map(|ms| Duration::from_millis(ms as u64))
            .unwrap_or(self.config.broker_expiry);
        let mut routes = self.routes.write();
        let fresh = !routes
            .cluster_info()
            .broker_addr_table
            .contains_key(&h.broker_name);
        let result = routes.register(Registration {
            cluster: h.cluster_name.clone(),
            broker_addr: h.broker_addr.clone(),
            broker_name: h.broker_name.clone(),
            broker_id: h.broker_id,
            ha_server_addr: h.ha_server_addr.clone(),
            timeout,
            data_version: wrapper.data_version,
            topics: wrapper.topic_config_table.into_values().collect(),
            connection: Some(conn.id()),
            enable_acting_master: h.enable_acting_master.unwrap_or(false),
        });
        drop(routes);
        if fresh {
            info!(broker = %h.broker_name, addr = %h.broker_addr, cluster = %h.cluster_name, "broker registered");
        }
        let header = RegisterBrokerResponseHeader {
            ha_server_addr: result.ha_server_addr,
            master_addr: result.master_addr,
        };
        let order = self
            .kv
            .lock()
            .get(ORDER_TOPIC_CONFIG)
            .cloned()
            .unwrap_or_default();
        Ok(ok(req)
            .with_ext(header.to_ext())
            .with_body(body::to_json(&KvTable { table: order })))
    }

    fn unregister_broker(&self, req: &RemotingCommand) -> Reply {
        let h: UnregisterBrokerRequestHeader = req.decode_header().map_err(bad_request)?;
        self.routes.write().unregister(
            &h.cluster_name,
            &h.broker_addr,
            &h.broker_name,
            h.broker_id,
        );
        info!(broker = %h.broker_name, addr = %h.broker_addr, "broker unregistered");
        Ok(ok(req))
    }

    fn route_by_topic(&self, req: &RemotingCommand) -> Reply {
        let h: GetRouteInfoRequestHeader = req.decode_header().map_err(bad_request)?;
        let Some(mut route) = self.routes.read().topic_route(&h.topic) else {
            return Err((
                response::TOPIC_NOT_EXIST,
                format!(
                    "No topic route info in name server for the topic: {}\nSee http://rocketmq.apache.org/docs/faq/ for further details.",
                    h.topic
                ),
            ));
        };
        route.order_topic_conf = self
            .kv
            .lock()
            .get(ORDER_TOPIC_CONFIG)
            .and_then(|ns| ns.get(&h.topic))
            .cloned();
        let standard =
            req.version >= STANDARD_JSON_VERSION || h.accept_standard_json_only.unwrap_or(false);
        Ok(ok(req).with_body(route.to_json(standard)))
    }

    fn delete_topic(&self, req: &RemotingCommand) -> Reply {
        let topic = required_ext(req, "topic")?;
        let cluster = req.ext_fields.get("clusterName").map(String::as_str);
        self.routes.write().delete_topic(topic, cluster);
        Ok(ok(req))
    }

    fn register_topic(&self, req: &RemotingCommand) -> Reply {
        let topic = required_ext(req, "topic")?;
        let route: TopicRouteData = body::from_json(&req.body).map_err(bad_request)?;
        self.routes.write().register_topic(topic, route.queue_datas);
        Ok(ok(req))
    }

    fn put_kv(&self, req: &RemotingCommand) -> Reply {
        let ns = required_ext(req, "namespace")?;
        let key = required_ext(req, "key")?;
        let value = required_ext(req, "value")?;
        self.kv
            .lock()
            .entry(ns.to_string())
            .or_default()
            .insert(key.to_string(), value.to_string());
        Ok(ok(req))
    }

    fn get_kv(&self, req: &RemotingCommand) -> Reply {
        let ns = required_ext(req, "namespace")?;
        let key = required_ext(req, "key")?;
        match self.kv.lock().get(ns).and_then(|m| m.get(key)) {
            Some(v) => {
                let mut r = ok(req);
                r.ext_fields.insert("value".into(), v.clone());
                Ok(r)
            }
            None => Err((
                response::QUERY_NOT_FOUND,
                format!("No config item, Namespace: {ns} Key: {key}"),
            )),
        }
    }

    fn delete_kv(&self, req: &RemotingCommand) -> Reply {
        let ns = required_ext(req, "namespace")?;
        let key = required_ext(req, "key")?;
        if let Some(m) = self.kv.lock().get_mut(ns) {
            m.remove(key);
        }
        Ok(ok(req))
    }
}

type Reply = Result<RemotingCommand, (i32, String)>;

fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response::SUCCESS)
}

/// A header or body that does not decode: SYSTEM_ERROR naming the field, as Java's remoting server answers.
fn bad_request(e: rmq_protocol::ProtocolError) -> (i32, String) {
    (response::SYSTEM_ERROR, e.to_string())
}

fn required_ext<'a>(
    req: &'a RemotingCommand,
    field: &'static str,
) -> Result<&'a str, (i32, String)> {
    req.ext_fields
        .get(field)
        .map(String::as_str)
        .ok_or_else(|| bad_request(rmq_protocol::ProtocolError::MissingField { field }))
}

impl RequestHandler for NamesrvProcessor {
    fn handle(
        &self,
        conn: &Connection,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let resp = self.process(conn, &req);
        future::ready(if req.is_oneway() { None } else { Some(resp) }).boxed()
    }

    fn on_close(&self, conn: &Connection) {
        for addr in self.routes.write().connection_closed(conn.id()) {
            info!(broker = %addr, "broker connection closed; removed from routes");
        }
    }
}
