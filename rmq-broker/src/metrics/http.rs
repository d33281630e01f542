//! `GET /metrics` over axum, in Prometheus text format 0.0.4 or, when the scraper asks for it, OpenMetrics.
//!
//! `prometheus_client` encodes OpenMetrics text only. For everything this broker registers (counters, gauges,
//! classic histograms; no info, stateset or unit metadata) that text differs from format 0.0.4 in three ways,
//! which [`to_text_004`] undoes: a counter's `# HELP`/`# TYPE` name lacks the `_total` its samples carry,
//! `# UNIT` lines, and the closing `# EOF`. Prometheus itself asks for OpenMetrics first and gets it as is.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Content type of Prometheus text format 0.0.4 (the default answer).
pub(crate) const TEXT_004: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics text 1.0.0.
pub(crate) const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `/metrics` on `listener` until `shutdown` fires.
pub(crate) async fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(registry);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::warn!(error = %e, "metrics endpoint stopped");
    }
}

async fn scrape(State(registry): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    // Scrape-time gauges walk the store directory: keep that off the async workers.
    let encoded = tokio::task::spawn_blocking(move || {
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut text, &registry).map(|()| text)
    })
    .await;
    match encoded {
        Ok(Ok(text)) if openmetrics => ([(CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Ok(Ok(text)) => ([(CONTENT_TYPE, TEXT_004)], to_text_004(&text)).into_response(),
        Ok(Err(_)) | Err(_) => {
            tracing::warn!("encoding metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Rewrites `prometheus_client`'s OpenMetrics text as Prometheus text format 0.0.4 (see the module docs).
pub(crate) fn to_text_004(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_get_their_total_name_and_openmetrics_markers_go() {
        let om = "# HELP a_in Messages in.\n# TYPE a_in counter\na_in_total{topic=\"t\"} 3\n\
                  # HELP b Open.\n# TYPE b gauge\nb 2\n# HELP c_seconds Lat.\n# TYPE c_seconds histogram\n\
                  # UNIT c_seconds seconds\nc_seconds_sum 0.5\nc_seconds_count 1\n\
                  c_seconds_bucket{le=\"+Inf\"} 1\n# EOF\n";
        assert_eq!(
            to_text_004(om),
            "# HELP a_in_total Messages in.\n# TYPE a_in_total counter\na_in_total{topic=\"t\"} 3\n\
             # HELP b Open.\n# TYPE b gauge\nb 2\n# HELP c_seconds Lat.\n# TYPE c_seconds histogram\n\
             c_seconds_sum 0.5\nc_seconds_count 1\nc_seconds_bucket{le=\"+Inf\"} 1\n"
        );
    }
}
