//! Name-server administration: the KV config (and the ordered-topic settings kept in it), the name server's
//! own config, and the write permission of a broker in the routes (Java `DefaultMQAdminExt`'s
//! `putKVConfigValue`, `getKVListByNamespace`, `getNameServerConfig`, `updateNameServerConfig`,
//! `wipeWritePermOfBroker`, `addWritePermOfBroker`).
//!
//! Writes to the KV config go to **every** name server of the config in turn, as Java's do, since name servers
//! do not share state; reads go to one (the failover choice). Config and write-permission calls name the
//! name server they go to, so a caller can report each one.

use std::collections::{BTreeMap, HashMap};

use rmq_protocol::body::{self, KvTable};
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader, CommandHeader,
    DeleteKvConfigRequestHeader, GetKvConfigRequestHeader, GetKvConfigResponseHeader,
    GetKvListByNamespaceRequestHeader, PutKvConfigRequestHeader,
    WipeWritePermOfBrokerRequestHeader, WipeWritePermOfBrokerResponseHeader,
};
use rmq_protocol::RemotingCommand;

use super::{parse_properties, Admin};
use crate::error::{ClientError, Result};

/// The KV namespace of ordered-topic settings: key = topic, value = `brokerName:queueNums;…` (Java
/// `NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG`).
pub const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

impl Admin {
    /// The name servers of this admin's config, in order (what the per-name-server calls are given).
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] when the configured list does not parse.
    pub fn namesrv_addrs(&self) -> Result<Vec<String>> {
        self.instance().config().namesrv_list()
    }

    // ---- KV config ----

    /// Sets `namespace`/`key` to `value` on every name server (PUT_KV_CONFIG, 100).
    ///
    /// # Errors
    /// An empty namespace or key; otherwise every name server is tried and the last failure is returned.
    pub async fn put_kv_config(&self, namespace: &str, key: &str, value: &str) -> Result<()> {
        check_name("namespace", namespace)?;
        check_name("key", key)?;
        let header = PutKvConfigRequestHeader {
            namespace: namespace.to_string(),
            key: key.to_string(),
            value: value.to_string(),
        };
        self.on_every_namesrv(request::PUT_KV_CONFIG, header.to_ext())
            .await
    }

    /// Removes `namespace`/`key` from every name server (DELETE_KV_CONFIG, 102); an absent key is not an
    /// error.
    ///
    /// # Errors
    /// An empty namespace or key; otherwise every name server is tried and the last failure is returned.
    pub async fn delete_kv_config(&self, namespace: &str, key: &str) -> Result<()> {
        check_name("namespace", namespace)?;
        check_name("key", key)?;
        let header = DeleteKvConfigRequestHeader {
            namespace: namespace.to_string(),
            key: key.to_string(),
        };
        self.on_every_namesrv(request::DELETE_KV_CONFIG, header.to_ext())
            .await
    }

    /// One value (GET_KV_CONFIG, 101); `None` when the name server has none (QUERY_NOT_FOUND).
    ///
    /// # Errors
    /// No name server reachable, or another refusal.
    pub async fn kv_config(&self, namespace: &str, key: &str) -> Result<Option<String>> {
        let header = GetKvConfigRequestHeader {
            namespace: namespace.to_string(),
            key: key.to_string(),
        };
        let cmd = RemotingCommand::request(request::GET_KV_CONFIG, header.to_ext());
        match not_found_as_none(self.call_namesrv(cmd).await)? {
            Some(resp) => Ok(resp.decode_header::<GetKvConfigResponseHeader>()?.value),
            None => Ok(None),
        }
    }

    /// Every key of `namespace` (GET_KVLIST_BY_NAMESPACE, 219); `None` when the namespace does not exist.
    ///
    /// # Errors
    /// No name server reachable, another refusal, or a body that is not a KVTable.
    pub async fn kv_list(&self, namespace: &str) -> Result<Option<BTreeMap<String, String>>> {
        let header = GetKvListByNamespaceRequestHeader {
            namespace: namespace.to_string(),
        };
        let cmd = RemotingCommand::request(request::GET_KVLIST_BY_NAMESPACE, header.to_ext());
        match not_found_as_none(self.call_namesrv(cmd).await)? {
            Some(resp) => {
                let table: KvTable = body::from_json(&resp.body)?;
                Ok(Some(table.table.into_iter().collect()))
            }
            None => Ok(None),
        }
    }

    /// The ordered-topic setting of `topic` (`brokerName:queueNums;…`), if any.
    ///
    /// # Errors
    /// As [`kv_config`](Self::kv_config).
    pub async fn order_conf(&self, topic: &str) -> Result<Option<String>> {
        self.kv_config(ORDER_TOPIC_CONFIG, topic).await
    }

    /// Replaces the ordered-topic setting of `topic` on every name server. Name servers put it in routes
    /// only when their `orderMessageEnable` is true (false by default, as in Java).
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] (field `orderConf`) unless `conf` is `brokerName:queueNums` entries
    /// separated by `;` with positive counts; otherwise as [`put_kv_config`](Self::put_kv_config).
    pub async fn put_order_conf(&self, topic: &str, conf: &str) -> Result<()> {
        check_order_conf(conf)?;
        self.put_kv_config(ORDER_TOPIC_CONFIG, topic, conf).await
    }

    /// Removes the ordered-topic setting of `topic` from every name server.
    ///
    /// # Errors
    /// As [`delete_kv_config`](Self::delete_kv_config).
    pub async fn delete_order_conf(&self, topic: &str) -> Result<()> {
        self.delete_kv_config(ORDER_TOPIC_CONFIG, topic).await
    }

    // ---- name-server config ----

    /// The config of the name server at `namesrv` (GET_NAMESRV_CONFIG, 319), key to value.
    ///
    /// # Errors
    /// The name server is unreachable or refuses.
    pub async fn namesrv_config(&self, namesrv: &str) -> Result<BTreeMap<String, String>> {
        let resp = self
            .call(
                namesrv,
                RemotingCommand::request(request::GET_NAMESRV_CONFIG, HashMap::new()),
            )
            .await?;
        Ok(parse_properties(&String::from_utf8_lossy(&resp.body)))
    }

    /// Updates keys of the name server at `namesrv` (UPDATE_NAMESRV_CONFIG, 318; body = Properties text).
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for an empty map, an empty key or one with `=`, `:`, blanks or a line
    /// break, or a value with a line break; otherwise the name server's refusal (NO_PERMISSION for a
    /// black-listed key, SYSTEM_ERROR naming a bad key or value).
    pub async fn update_namesrv_config(
        &self,
        namesrv: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<()> {
        if properties.is_empty() {
            return Err(invalid("properties", "nothing to update".into()));
        }
        let mut text = String::new();
        for (k, v) in properties {
            if k.is_empty() || k.contains(['=', ':', ' ', '\t', '\r', '\n']) {
                return Err(invalid(
                    "key",
                    format!("{k:?} is not a properties key (empty, or has `=`, `:`, blanks or a line break)"),
                ));
            }
            if v.contains(['\r', '\n']) {
                return Err(invalid("value", format!("{v:?} has a line break")));
            }
            text.push_str(&format!("{k}={v}\n"));
        }
        let cmd = RemotingCommand::request(request::UPDATE_NAMESRV_CONFIG, HashMap::new())
            .with_body(text.into_bytes());
        self.call(namesrv, cmd).await.map(|_| ())
    }

    // ---- write permission ----

    /// Clears the write bit of every queue of broker `broker_name` in the routes of the name server at
    /// `namesrv` (WIPE_WRITE_PERM_OF_BROKER, 205): producers stop sending to it while consumers keep reading.
    /// Returns how many topics' queue data were touched. The broker's next registration with a changed topic
    /// table puts its perms back.
    ///
    /// # Errors
    /// An empty broker name, the name server's refusal, or a response without `wipeTopicCount`.
    pub async fn wipe_write_perm(&self, namesrv: &str, broker_name: &str) -> Result<i32> {
        check_name("brokerName", broker_name)?;
        let header = WipeWritePermOfBrokerRequestHeader {
            broker_name: broker_name.to_string(),
        };
        let resp = self
            .call(
                namesrv,
                RemotingCommand::request(request::WIPE_WRITE_PERM_OF_BROKER, header.to_ext()),
            )
            .await?;
        Ok(resp
            .decode_header::<WipeWritePermOfBrokerResponseHeader>()?
            .wipe_topic_count)
    }

    /// Sets the perm of every queue of broker `broker_name` to read + write (6) in the routes of the name
    /// server at `namesrv` (ADD_WRITE_PERM_OF_BROKER, 327); returns how many topics' queue data were touched.
    ///
    /// # Errors
    /// An empty broker name, the name server's refusal, or a response without `addTopicCount`.
    pub async fn add_write_perm(&self, namesrv: &str, broker_name: &str) -> Result<i32> {
        check_name("brokerName", broker_name)?;
        let header = AddWritePermOfBrokerRequestHeader {
            broker_name: broker_name.to_string(),
        };
        let resp = self
            .call(
                namesrv,
                RemotingCommand::request(request::ADD_WRITE_PERM_OF_BROKER, header.to_ext()),
            )
            .await?;
        Ok(resp
            .decode_header::<AddWritePermOfBrokerResponseHeader>()?
            .add_topic_count)
    }

    /// Sends one request to every name server in turn; the last failure, if any, after all were tried.
    async fn on_every_namesrv(&self, code: i32, ext: HashMap<String, String>) -> Result<()> {
        let mut last = None;
        for addr in self.namesrv_addrs()? {
            if let Err(e) = self
                .call(&addr, RemotingCommand::request(code, ext.clone()))
                .await
            {
                last = Some(e);
            }
        }
        last.map_or(Ok(()), Err)
    }
}

/// QUERY_NOT_FOUND as `None`, other answers unchanged.
fn not_found_as_none(r: Result<RemotingCommand>) -> Result<Option<RemotingCommand>> {
    match r {
        Ok(resp) => Ok(Some(resp)),
        Err(e) if e.response_code() == Some(response::QUERY_NOT_FOUND) => Ok(None),
        Err(e) => Err(e),
    }
}

fn invalid(field: &'static str, reason: String) -> ClientError {
    ClientError::InvalidArgument { field, reason }
}

fn check_name(field: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty".into()));
    }
    Ok(())
}

/// `brokerName:queueNums;brokerName:queueNums`, what producers parse from a route's `orderTopicConf`.
fn check_order_conf(conf: &str) -> Result<()> {
    let entries: Vec<&str> = conf.split(';').filter(|e| !e.trim().is_empty()).collect();
    if entries.is_empty() {
        return Err(invalid(
            "orderConf",
            "empty; expected brokerName:queueNums[;brokerName:queueNums]".into(),
        ));
    }
    for entry in entries {
        let ok = entry.split_once(':').is_some_and(|(broker, n)| {
            !broker.trim().is_empty() && n.trim().parse::<i32>().is_ok_and(|n| n > 0)
        });
        if !ok {
            return Err(invalid(
                "orderConf",
                format!("entry {entry:?} is not brokerName:queueNums with a positive count"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_conf_is_checked_before_sending() {
        assert!(check_order_conf("broker-a:4;broker-b:8").is_ok());
        assert!(check_order_conf("broker-a:4;").is_ok());
        for bad in ["", "broker-a", "broker-a:0", ":4", "broker-a:x"] {
            let e = check_order_conf(bad).unwrap_err();
            assert!(e.to_string().contains("orderConf"), "{bad:?}: {e}");
        }
    }
}
