//! Cluster and broker commands: clusterList, brokerStatus, getBrokerConfig.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::cli::Target;
use crate::table::{key_values, Table};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BrokerRow {
    cluster: String,
    broker_name: String,
    broker_id: i64,
    addr: String,
    version: Option<String>,
    put_total_today: Option<String>,
    get_total_today: Option<String>,
    /// Why the broker's runtime figures are missing, when they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// clusterList: every broker of every cluster with its version and today's message counts.
///
/// A broker that does not answer keeps its row, with the error in place of its figures: the list is most
/// needed when something is down.
pub async fn cluster_list(ctx: &Ctx) -> Result<()> {
    let info = ctx.admin.cluster_info().await?;
    let clusters: BTreeMap<&String, &std::collections::BTreeSet<String>> =
        info.cluster_addr_table.iter().collect();
    let mut rows = Vec::new();
    for (cluster, names) in clusters {
        for name in names {
            let Some(bd) = info.broker_addr_table.get(name) else {
                continue;
            };
            for (id, addr) in &bd.broker_addrs {
                let mut row = BrokerRow {
                    cluster: cluster.clone(),
                    broker_name: name.clone(),
                    broker_id: *id,
                    addr: addr.clone(),
                    version: None,
                    put_total_today: None,
                    get_total_today: None,
                    error: None,
                };
                match ctx.admin.broker_runtime_info(addr).await {
                    Ok(rt) => {
                        row.version = rt.get("brokerVersionDesc").cloned();
                        row.put_total_today = rt.get("msgPutTotalTodayNow").cloned();
                        row.get_total_today = rt.get("msgGetTotalTodayNow").cloned();
                    }
                    Err(e) => row.error = Some(e.to_string()),
                }
                rows.push(row);
            }
        }
    }
    ctx.out.emit(&rows, || {
        let mut t = Table::new([
            "#Cluster Name",
            "#Broker Name",
            "#BID",
            "#Addr",
            "#Version",
            "#InTotalToday",
            "#OutTotalToday",
        ]);
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
        for r in &rows {
            t.row([
                r.cluster.clone(),
                r.broker_name.clone(),
                r.broker_id.to_string(),
                r.addr.clone(),
                r.error
                    .as_ref()
                    .map_or_else(|| dash(&r.version), |e| format!("unreachable: {e}")),
                dash(&r.put_total_today),
                dash(&r.get_total_today),
            ]);
        }
        t.render()
    })
}

/// brokerStatus: runtime figures of `-b`, or of every master of `-c`; JSON is `{addr: {key: value}}`.
pub async fn broker_status(ctx: &Ctx, target: &Target) -> Result<()> {
    let mut all = BTreeMap::new();
    for addr in ctx.targets(target).await? {
        let table = ctx.admin.broker_runtime_info(&addr).await?;
        all.insert(addr, table);
    }
    ctx.out.emit(&all, || per_broker(&all))
}

/// getBrokerConfig: broker.conf keys and values of `-b`, or of every master of `-c`; JSON as brokerStatus.
pub async fn broker_config(ctx: &Ctx, target: &Target) -> Result<()> {
    let mut all = BTreeMap::new();
    for addr in ctx.targets(target).await? {
        let table = ctx.admin.broker_config(&addr).await?;
        all.insert(addr, table);
    }
    ctx.out.emit(&all, || per_broker(&all))
}

/// One broker: `key: value` lines; several: a section per broker, as mqadmin's `-c` output.
fn per_broker(all: &BTreeMap<String, BTreeMap<String, String>>) -> String {
    let section = |table: &BTreeMap<String, String>| {
        key_values(table.iter().map(|(k, v)| (k.as_str(), v.clone())))
    };
    match all.len() {
        1 => all.values().map(section).collect(),
        _ => all
            .iter()
            .map(|(addr, table)| format!("============{addr}============\n{}", section(table)))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}
