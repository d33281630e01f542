//! Name-server commands: updateKvConfig, deleteKvConfig, getNamesrvConfig, updateNamesrvConfig,
//! updateOrderConf, wipeWritePerm, addWritePerm.
//!
//! As mqadmin, KV writes go to every name server of `-n`; getNamesrvConfig, updateNamesrvConfig and the
//! write-permission commands go to each name server of `-n` in turn and report each. A failure on any name
//! server fails the command, naming that name server and the ones already done.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use rmq_client::admin::namesrv::ORDER_TOPIC_CONFIG;
use serde::Serialize;

use super::Ctx;
use crate::cli::OrderConfMethod;

/// updateKvConfig: PUT_KV_CONFIG to every name server.
pub async fn update_kv_config(ctx: &Ctx, namespace: &str, key: &str, value: &str) -> Result<()> {
    ctx.admin.put_kv_config(namespace, key, value).await?;
    let result = KvChange {
        namespace,
        key,
        value: Some(value),
        namesrvs: ctx.admin.namesrv_addrs()?,
    };
    ctx.out.emit(&result, || {
        "create or update kv config to namespace success.\n".to_string()
    })
}

/// deleteKvConfig: DELETE_KV_CONFIG to every name server.
pub async fn delete_kv_config(ctx: &Ctx, namespace: &str, key: &str) -> Result<()> {
    ctx.admin.delete_kv_config(namespace, key).await?;
    let result = KvChange {
        namespace,
        key,
        value: None,
        namesrvs: ctx.admin.namesrv_addrs()?,
    };
    ctx.out.emit(&result, || {
        "delete kv config from namespace success.\n".to_string()
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KvChange<'a> {
    namespace: &'a str,
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    /// The name servers written to.
    namesrvs: Vec<String>,
}

/// getNamesrvConfig: each name server's config; JSON is `{addr: {key: value}}`.
pub async fn get_namesrv_config(ctx: &Ctx) -> Result<()> {
    let mut all = BTreeMap::new();
    for addr in ctx.admin.namesrv_addrs()? {
        let config = ctx.admin.namesrv_config(&addr).await?;
        all.insert(addr, config);
    }
    ctx.out.emit(&all, || {
        let mut text = String::new();
        for (addr, config) in &all {
            text.push_str(&format!("============{addr}============\n"));
            for (k, v) in config {
                text.push_str(&format!("{k:<50}=  {v}\n"));
            }
        }
        text
    })
}

/// updateNamesrvConfig: one key on each name server of `-n`.
pub async fn update_namesrv_config(ctx: &Ctx, key: &str, value: &str) -> Result<()> {
    let props = BTreeMap::from([(key.to_string(), value.to_string())]);
    let addrs = ctx.admin.namesrv_addrs()?;
    for_each_namesrv(&addrs, |addr| {
        let props = &props;
        async move { ctx.admin.update_namesrv_config(addr, props).await }
    })
    .await?;
    #[derive(Serialize)]
    struct Updated<'a> {
        namesrvs: &'a [String],
        key: &'a str,
        value: &'a str,
    }
    let result = Updated {
        namesrvs: &addrs,
        key,
        value,
    };
    ctx.out.emit(&result, || {
        format!(
            "update name server config success!{}\n{key} : {value}\n",
            addrs.join(";")
        )
    })
}

/// updateOrderConf: put, get or delete a topic's entry of the ORDER_TOPIC_CONFIG namespace.
pub async fn update_order_conf(
    ctx: &Ctx,
    topic: &str,
    method: OrderConfMethod,
    order_conf: Option<&str>,
) -> Result<()> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct OrderConf<'a> {
        topic: &'a str,
        method: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        order_conf: Option<String>,
    }
    match method {
        OrderConfMethod::Put => {
            let Some(conf) = order_conf else {
                bail!("please set orderConf with option -v.");
            };
            ctx.admin.put_order_conf(topic, conf).await?;
            let result = OrderConf {
                topic,
                method: "put",
                order_conf: Some(conf.to_string()),
            };
            ctx.out.emit(&result, || {
                format!("update orderConf success. topic=[{topic}], orderConf=[{conf}]\n")
            })
        }
        OrderConfMethod::Get => {
            let conf = ctx.admin.order_conf(topic).await?.ok_or_else(|| {
                anyhow!("topic {topic} has no orderConf (no key {topic} in namespace {ORDER_TOPIC_CONFIG})")
            })?;
            let result = OrderConf {
                topic,
                method: "get",
                order_conf: Some(conf.clone()),
            };
            ctx.out.emit(&result, || {
                format!("get orderConf success. topic=[{topic}], orderConf=[{conf}]\n")
            })
        }
        OrderConfMethod::Delete => {
            ctx.admin.delete_order_conf(topic).await?;
            let result = OrderConf {
                topic,
                method: "delete",
                order_conf: None,
            };
            ctx.out.emit(&result, || {
                format!("delete orderConf success. topic=[{topic}]\n")
            })
        }
    }
}

/// Which write-permission request to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermChange {
    /// WIPE_WRITE_PERM_OF_BROKER.
    Wipe,
    /// ADD_WRITE_PERM_OF_BROKER.
    Add,
}

/// wipeWritePerm / addWritePerm: each name server of `-n`, with its count of touched topics.
pub async fn write_perm(ctx: &Ctx, broker_name: &str, change: PermChange) -> Result<()> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        namesrv: String,
        broker_name: String,
        topic_count: i32,
    }
    let addrs = ctx.admin.namesrv_addrs()?;
    let counts = for_each_namesrv(&addrs, |addr| async move {
        match change {
            PermChange::Wipe => ctx.admin.wipe_write_perm(addr, broker_name).await,
            PermChange::Add => ctx.admin.add_write_perm(addr, broker_name).await,
        }
    })
    .await?;
    let rows: Vec<Row> = addrs
        .iter()
        .zip(counts)
        .map(|(addr, topic_count)| Row {
            namesrv: addr.clone(),
            broker_name: broker_name.to_string(),
            topic_count,
        })
        .collect();
    let verb = match change {
        PermChange::Wipe => "wipe",
        PermChange::Add => "add",
    };
    ctx.out.emit(&rows, || {
        rows.iter()
            .map(|r| {
                format!(
                    "{verb} write perm of broker[{}] in name server[{}] OK, {}\n",
                    r.broker_name, r.namesrv, r.topic_count
                )
            })
            .collect()
    })
}

/// Runs `call` on each address in order; the first failure stops, naming the name servers already done.
async fn for_each_namesrv<'a, T, F, Fut>(addrs: &'a [String], mut call: F) -> Result<Vec<T>>
where
    F: FnMut(&'a str) -> Fut,
    Fut: std::future::Future<Output = rmq_client::Result<T>>,
{
    let mut out = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        match call(addr).await {
            Ok(v) => out.push(v),
            Err(e) if i == 0 => return Err(e.into()),
            Err(e) => {
                return Err(anyhow::Error::from(e).context(format!(
                    "stopped after succeeding on name servers {}",
                    addrs[..i].join(";")
                )))
            }
        }
    }
    Ok(out)
}
