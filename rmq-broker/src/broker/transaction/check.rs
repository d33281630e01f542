//! The check-back service (Java's `TransactionalMessageCheckService`): a timer task that asks producers about
//! half messages nobody committed or rolled back, and gives up on them after `transactionCheckMax` checks.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use super::bridge::HalfRecord;
use super::names::CHECK_MAX_TIME_TOPIC;
use super::service::TransactionService;
use super::state::{ClaimOutcome, PendingHalf};
use crate::broker::client_manager::ClientManager;
use crate::broker::producer_channel::{OrphanedTransaction, ProducerChannel};
use crate::broker::service::write::Origin;
use crate::broker::service::ServiceError;
use crate::broker::topic_config::TopicConfigManager;
use crate::config::BrokerConfig;
use crate::store::StoreError;
use rmq_protocol::clock::{Clock, Wait};

/// The settings of the check service (`transaction*` keys and `fileReservedTime`).
#[derive(Debug, Clone)]
pub struct CheckSettings {
    /// `transactionCheckInterval`, ms.
    pub interval_ms: u64,
    /// `transactionTimeOut`, ms.
    pub time_out_ms: u64,
    /// `transactionCheckMax`.
    pub check_max: u32,
    /// `fileReservedTime`, hours.
    pub file_reserved_hours: u64,
    /// `brokerName`, named in check requests.
    pub broker_name: String,
}

impl CheckSettings {
    /// The check settings of `config`.
    pub fn new(config: &BrokerConfig) -> Self {
        CheckSettings {
            interval_ms: config.transaction_check_interval,
            time_out_ms: config.transaction_time_out,
            check_max: config.transaction_check_max,
            file_reserved_hours: config.file_reserved_time,
            broker_name: config.broker_name.clone(),
        }
    }
}

/// What the check service works with: the transaction table, the producers to ask, and the topic table (for
/// `TRANS_CHECK_MAX_TIME_TOPIC`).
#[derive(Debug, Clone)]
pub struct Checker {
    /// The transaction table.
    pub transactions: Arc<TransactionService>,
    /// Connected producers.
    pub clients: Arc<ClientManager>,
    /// The topic table.
    pub topics: Arc<TopicConfigManager>,
    /// Settings.
    pub settings: CheckSettings,
    /// The clock rounds are timed on and half messages aged by.
    pub clock: Clock,
}

/// Runs check rounds every `transactionCheckInterval` until `stop`, then saves the state file.
///
/// A timer rather than a wake-up per message: like Java, a message is checked at most once per interval, and
/// an idle broker costs one scan of an empty queue tail per interval.
pub async fn run(checker: Checker, stop: CancellationToken) {
    let every = Duration::from_millis(checker.settings.interval_ms.max(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = checker.clock.sleep(every, Wait::Periodic) => round(&checker).await,
        }
    }
    if let Err(e) = checker.transactions.persist() {
        warn!(error = %e, "saving the transaction state at shutdown failed");
    }
}

/// One pass: pick up new half messages, check or discard the due ones, save the state file.
pub async fn round(inner: &Checker) {
    let svc = &inner.transactions;
    svc.scan();
    let cfg = &inner.settings;
    let now = inner.clock.now_ms();
    let timeout = i64::try_from(cfg.time_out_ms).unwrap_or(i64::MAX);
    let reserved_ms =
        i64::try_from(cfg.file_reserved_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX);
    let due = svc.state.lock().due(now, timeout);
    for (offset, p) in due {
        let half = match svc.store.message_at(p.phys_offset) {
            Some(raw) => match HalfRecord::parse(&raw, p.phys_offset) {
                Ok(h) => h,
                Err(e) => {
                    discard(inner, offset, &p, None, &e.to_string()).await;
                    continue;
                }
            },
            None => {
                discard(
                    inner,
                    offset,
                    &p,
                    None,
                    "its record was removed from the CommitLog",
                )
                .await;
                continue;
            }
        };
        if p.check_times >= cfg.check_max {
            let why = format!("no outcome after {} checks", p.check_times);
            discard(inner, offset, &p, Some(&half), &why).await;
        } else if now - p.born_timestamp > reserved_ms {
            discard(
                inner,
                offset,
                &p,
                Some(&half),
                "older than fileReservedTime",
            )
            .await;
        } else if let Some(n) = svc.state.lock().bump(offset) {
            send_check(inner, &half, n);
        }
    }
    if let Err(e) = svc.persist() {
        warn!(error = %e, "saving the transaction state failed");
    }
}

/// Asks one live producer of the message's group about it: CHECK_TRANSACTION_STATE over a remoting connection,
/// or a recover-orphaned-transaction command down a gRPC client's Telemetry stream. The check was already
/// counted: as in Java, a round with no producer online uses up one of the `transactionCheckMax`.
fn send_check(inner: &Checker, half: &HalfRecord, check_times: u32) {
    let offset = half.msg.queue_offset;
    let Some(group) = half.producer_group() else {
        warn!(
            half_offset = offset,
            "half message without PGROUP cannot be checked"
        );
        return;
    };
    let channels = inner.clients.check_channels(group);
    let Some(channel) = inner.transactions.pick(&channels) else {
        warn!(
            group,
            half_offset = offset,
            check_times,
            "transaction check skipped: no live producer of the group"
        );
        return;
    };
    let queued = match &channel {
        ProducerChannel::Remoting(c) => {
            match half.check_request(&inner.settings.broker_name, check_times) {
                Ok(cmd) => c.connection.try_send(cmd),
                Err(e) => {
                    error!(half_offset = offset, error = %e, "cannot build the transaction check request");
                    return;
                }
            }
        }
        ProducerChannel::Grpc(c) => c
            .sender
            .try_send(OrphanedTransaction {
                message: half.checked_message(check_times),
                transaction_id: half.uniq_key().unwrap_or_default().to_owned(),
                commit_log_offset: half.msg.commit_log_offset,
                tran_state_table_offset: offset,
            })
            .is_ok(),
    };
    if queued {
        debug!(
            group,
            half_offset = offset,
            check_times,
            client = %channel.client_id(),
            "transaction check sent"
        );
    } else {
        warn!(group, half_offset = offset, client = %channel.client_id(), "transaction check could not be queued");
    }
}

/// Gives up on a half message: keeps a copy in `TRANS_CHECK_MAX_TIME_TOPIC` (when its record still exists),
/// writes its op record and logs it.
async fn discard(
    inner: &Checker,
    offset: i64,
    p: &PendingHalf,
    half: Option<&HalfRecord>,
    why: &str,
) {
    let svc = &inner.transactions;
    if svc.claim(offset) != ClaimOutcome::Claimed {
        return;
    }
    if let Some(h) = half {
        if inner.topics.get(CHECK_MAX_TIME_TOPIC).is_none() {
            if let Err(e) = inner.topics.create_system_managed(CHECK_MAX_TIME_TOPIC, 1) {
                warn!(error = %e, "cannot save the TRANS_CHECK_MAX_TIME_TOPIC topic config")
            }
        }
        match svc
            .write
            .put(
                Origin::CheckDiscard,
                h.discarded(CHECK_MAX_TIME_TOPIC, p.check_times),
            )
            .await
        {
            Ok(_) | Err(ServiceError::Store(StoreError::FlushTimeout { .. })) => {}
            Err(e) => {
                svc.abandon(offset);
                error!(half_offset = offset, error = %e, "cannot move an unresolved half message to TRANS_CHECK_MAX_TIME_TOPIC; will retry");
                return;
            }
        }
    }
    svc.finish(offset).await;
    let (topic, uniq, group) = half.map_or((None, None, None), |h| {
        (
            Some(h.real_topic.clone()),
            h.uniq_key().map(str::to_owned),
            h.producer_group().map(str::to_owned),
        )
    });
    warn!(
        half_offset = offset,
        commit_log_offset = p.phys_offset,
        check_times = p.check_times,
        topic = ?topic,
        msg_id = ?uniq,
        group = ?group,
        "transactional message discarded: {why}"
    );
}
