//! Cluster and broker commands: clusterList (-m, -i, -c), brokerStatus, getBrokerConfig.

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
    /// Messages per second in (first figure of `putTps`).
    in_tps: Option<String>,
    /// Messages per second out (first figure of `getTransferredTps`).
    out_tps: Option<String>,
    /// -m: messages in yesterday, out yesterday, in today, out today.
    #[serde(skip_serializing_if = "Option::is_none")]
    in_total_yesterday: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out_total_yesterday: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_total_today: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out_total_today: Option<i64>,
    /// Why the broker's runtime figures are missing, when they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// clusterList's options.
#[derive(Debug, Clone, Default)]
pub struct ClusterListArgs {
    /// -m: yesterday's and today's totals instead of the version and TPS.
    pub more_stats: bool,
    /// -i: repeat every this many seconds.
    pub interval: Option<u64>,
    /// -c: only this cluster.
    pub cluster: Option<String>,
    /// With -i: stop after this many rounds.
    pub rounds: Option<u32>,
}

/// clusterList: every broker of every cluster (or of `-c`) with its version, TPS and today's message counts;
/// `-m` shows yesterday's and today's totals; `-i` repeats.
///
/// A broker that does not answer keeps its row, with the error in place of its figures: the list is most
/// needed when something is down.
pub async fn cluster_list(ctx: &Ctx, args: &ClusterListArgs) -> Result<()> {
    let mut round = 0;
    loop {
        cluster_list_once(ctx, args).await?;
        round += 1;
        let Some(every) = args.interval else {
            return Ok(());
        };
        if args.rounds.is_some_and(|n| round >= n) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(every)).await;
    }
}

fn first_figure(v: Option<&String>) -> Option<String> {
    v.and_then(|s| s.split_whitespace().next())
        .map(str::to_owned)
}

fn diff(now: Option<&String>, then: Option<&String>) -> Option<i64> {
    let n: i64 = now?.parse().ok()?;
    let t: i64 = then?.parse().ok()?;
    Some(n - t)
}

async fn cluster_list_once(ctx: &Ctx, args: &ClusterListArgs) -> Result<()> {
    let info = ctx.admin.cluster_info().await?;
    let clusters: BTreeMap<&String, &std::collections::BTreeSet<String>> =
        info.cluster_addr_table.iter().collect();
    if let Some(c) = &args.cluster {
        if !clusters.contains_key(c) {
            anyhow::bail!("cluster {c} is not registered with the name servers");
        }
    }
    let mut rows = Vec::new();
    for (cluster, names) in clusters {
        if args.cluster.as_ref().is_some_and(|c| c != cluster) {
            continue;
        }
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
                    in_tps: None,
                    out_tps: None,
                    in_total_yesterday: None,
                    out_total_yesterday: None,
                    in_total_today: None,
                    out_total_today: None,
                    error: None,
                };
                match ctx.admin.broker_runtime_info(addr).await {
                    Ok(rt) => {
                        row.version = rt.get("brokerVersionDesc").cloned();
                        row.put_total_today = rt.get("msgPutTotalTodayNow").cloned();
                        row.get_total_today = rt.get("msgGetTotalTodayNow").cloned();
                        row.in_tps = first_figure(rt.get("putTps"));
                        row.out_tps = first_figure(
                            rt.get("getTransferredTps")
                                .or_else(|| rt.get("getTransferedTps")),
                        );
                        if args.more_stats {
                            row.in_total_yesterday = diff(
                                rt.get("msgPutTotalTodayMorning"),
                                rt.get("msgPutTotalYesterdayMorning"),
                            );
                            row.out_total_yesterday = diff(
                                rt.get("msgGetTotalTodayMorning"),
                                rt.get("msgGetTotalYesterdayMorning"),
                            );
                            row.in_total_today = diff(
                                rt.get("msgPutTotalTodayNow"),
                                rt.get("msgPutTotalTodayMorning"),
                            );
                            row.out_total_today = diff(
                                rt.get("msgGetTotalTodayNow"),
                                rt.get("msgGetTotalTodayMorning"),
                            );
                        }
                    }
                    Err(e) => row.error = Some(e.to_string()),
                }
                rows.push(row);
            }
        }
    }
    let more = args.more_stats;
    ctx.out.emit(&rows, || {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
        let num = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |n| n.to_string());
        if more {
            let mut t = Table::new([
                "#Cluster Name",
                "#Broker Name",
                "#InTotalYest",
                "#OutTotalYest",
                "#InTotalToday",
                "#OutTotalToday",
            ]);
            for r in &rows {
                t.row([
                    r.cluster.clone(),
                    r.broker_name.clone(),
                    num(r.in_total_yesterday),
                    num(r.out_total_yesterday),
                    num(r.in_total_today),
                    num(r.out_total_today),
                ]);
            }
            return t.render();
        }
        let mut t = Table::new([
            "#Cluster Name",
            "#Broker Name",
            "#BID",
            "#Addr",
            "#Version",
            "#InTPS",
            "#OutTPS",
            "#InTotalToday",
            "#OutTotalToday",
        ]);
        for r in &rows {
            t.row([
                r.cluster.clone(),
                r.broker_name.clone(),
                r.broker_id.to_string(),
                r.addr.clone(),
                r.error
                    .as_ref()
                    .map_or_else(|| dash(&r.version), |e| format!("unreachable: {e}")),
                dash(&r.in_tps),
                dash(&r.out_tps),
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
