//! Name-server request handling: one function per request code, answering from [`RouteInfo`], the
//! [`KvConfig`] and the [`LiveConfig`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::future::{self, BoxFuture, FutureExt};
use parking_lot::RwLock;
use rmq_protocol::body::{self, KvTable, RegisterBrokerBody, TopicList, TopicRouteData};
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader, CommandHeader,
    GetKvListByNamespaceRequestHeader, GetRouteInfoRequestHeader, RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader,
    WipeWritePermOfBrokerRequestHeader, WipeWritePermOfBrokerResponseHeader,
};
use rmq_protocol::RemotingCommand;
use tracing::{info, warn};

use super::error::NamesrvError;
use super::kv_config::KvConfig;
use super::live_config::LiveConfig;
use super::route_info::{Registration, RouteInfo, WritePerm};
use crate::config::NamesrvConfig;
use crate::persist::PersistError;
use crate::remoting::{Connection, RequestHandler};
use crate::store::fs::FsHandle;

/// Requesters from this version on get standard JSON routes (V4_9_4, docs/protocol.md §4.11).
const STANDARD_JSON_VERSION: i32 = 401;
/// Brokers older than this send no parsable RegisterBrokerBody (V3_0_11).
const REGISTER_BODY_VERSION: i32 = 37;
/// KV namespace holding `brokerName:queueNums;…` for ordered topics.
const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// Answers name-server requests.
#[derive(Debug)]
pub struct NamesrvProcessor {
    config: LiveConfig,
    routes: RwLock<RouteInfo>,
    kv: KvConfig,
}

impl NamesrvProcessor {
    /// A processor with empty routes, the KV table of `kvConfigPath` and the config of `configStorePath` on
    /// top of `config`; `listen` is reported as `bindAddress` / `listenPort`.
    ///
    /// # Errors
    /// Either file cannot be read or is not valid, named in the error: the name server must not start
    /// without the settings it had.
    pub fn open(config: NamesrvConfig, listen: SocketAddr) -> Result<Self, NamesrvError> {
        let fs = FsHandle::default();
        let kv = KvConfig::open(fs.clone(), config.kv_config_path.clone())
            .map_err(NamesrvError::KvConfig)?;
        Ok(NamesrvProcessor {
            config: LiveConfig::open(config, listen, fs)?,
            routes: RwLock::new(RouteInfo::default()),
            kv,
        })
    }

    /// The settings in force (changed at run time by UPDATE_NAMESRV_CONFIG).
    pub fn config(&self) -> &LiveConfig {
        &self.config
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
                if !self.config.get().enable_all_topic_list {
                    return RemotingCommand::response_to(req, response::SYSTEM_ERROR)
                        .with_remark("disable");
                }
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
            request::GET_KVLIST_BY_NAMESPACE => self.kv_list(req),
            request::WIPE_WRITE_PERM_OF_BROKER => self.write_perm(req, WritePerm::Wipe),
            request::ADD_WRITE_PERM_OF_BROKER => self.write_perm(req, WritePerm::Add),
            request::GET_NAMESRV_CONFIG => {
                Ok(ok(req).with_body(self.config.properties_text().into_bytes()))
            }
            request::UPDATE_NAMESRV_CONFIG => self.config.update(&req.body).map(|()| ok(req)),
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
            .unwrap_or(self.config.get().broker_expiry);
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
        let resp = ok(req).with_ext(header.to_ext());
        if !self.config.get().return_order_topic_config_to_broker {
            return Ok(resp);
        }
        let order = self
            .kv
            .namespace(ORDER_TOPIC_CONFIG)
            .unwrap_or_default()
            .into_iter()
            .collect();
        Ok(resp.with_body(body::to_json(&KvTable { table: order })))
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
        if self.config.get().order_message_enable {
            route.order_topic_conf = self.kv.get(ORDER_TOPIC_CONFIG, &h.topic);
        }
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
        self.kv.put(ns, key, value).map_err(not_persisted)?;
        Ok(ok(req))
    }

    fn get_kv(&self, req: &RemotingCommand) -> Reply {
        let ns = required_ext(req, "namespace")?;
        let key = required_ext(req, "key")?;
        match self.kv.get(ns, key) {
            Some(v) => {
                let mut r = ok(req);
                r.ext_fields.insert("value".into(), v);
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
        self.kv.delete(ns, key).map_err(not_persisted)?;
        Ok(ok(req))
    }

    fn kv_list(&self, req: &RemotingCommand) -> Reply {
        let h: GetKvListByNamespaceRequestHeader = req.decode_header().map_err(bad_request)?;
        match self.kv.namespace(&h.namespace) {
            Some(table) => Ok(ok(req).with_body(body::to_json(&KvTable {
                table: table.into_iter().collect(),
            }))),
            None => Err((
                response::QUERY_NOT_FOUND,
                format!("No config item, Namespace: {}", h.namespace),
            )),
        }
    }

    fn write_perm(&self, req: &RemotingCommand, op: WritePerm) -> Reply {
        let (broker_name, ext) = match op {
            WritePerm::Wipe => {
                let h: WipeWritePermOfBrokerRequestHeader =
                    req.decode_header().map_err(bad_request)?;
                let count = self.routes.write().operate_write_perm(&h.broker_name, op);
                let resp = WipeWritePermOfBrokerResponseHeader {
                    wipe_topic_count: count,
                };
                (h.broker_name, resp.to_ext())
            }
            WritePerm::Add => {
                let h: AddWritePermOfBrokerRequestHeader =
                    req.decode_header().map_err(bad_request)?;
                let count = self.routes.write().operate_write_perm(&h.broker_name, op);
                let resp = AddWritePermOfBrokerResponseHeader {
                    add_topic_count: count,
                };
                (h.broker_name, resp.to_ext())
            }
        };
        info!(broker = %broker_name, ?op, ?ext, "write perm of broker changed in the routes");
        Ok(ok(req).with_ext(ext))
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

/// A KV change whose file write failed: refused, naming the file (the table is unchanged).
fn not_persisted(e: PersistError) -> (i32, String) {
    (
        response::SYSTEM_ERROR,
        format!("kv config not changed, kvConfigPath not written: {e}"),
    )
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
