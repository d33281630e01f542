//! Transactional messages over gRPC, as Apache's proxy maps them onto the broker's remoting transactions:
//!
//! - A SendMessage of type TRANSACTION is a prepared send (`TRAN_MSG=true`, sysFlag PREPARED) whose producer
//!   group is the topic's own (namespaced) name — the proxy's "topic name as producer group for the
//!   transactional checker" — so a check-back finds the gRPC producers that publish to the topic.
//! - The client only gets a transaction id (the message's UNIQ_KEY) back; the half record's offsets stay here, in
//!   [`TransactionIds`] (the proxy's `TransactionDataManager`), keyed by producer group and transaction id, for
//!   30 s (`transactionDataExpireMillis`). A check-back records them again, so a producer that answers a
//!   check after a broker restart can still end the transaction.
//! - EndTransaction looks the offsets up and runs [`TransactionService::end_transaction`].
//! - A check-back for a gRPC producer becomes a `RecoverOrphanedTransactionCommand` on its Telemetry stream
//!   ([`recover_command`]); the client answers with EndTransaction (source SERVER_CHECK).
//!
//! [`TransactionService::end_transaction`]: crate::broker::transaction::TransactionService::end_transaction

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rmq_grpc::v2::{
    telemetry_command, Code, Encoding, EndTransactionRequest, EndTransactionResponse, Message,
    MessageType, RecoverOrphanedTransactionCommand, Resource, SystemProperties, TelemetryCommand,
    TransactionResolution,
};
use rmq_protocol::message::msg_id::decode_offset_msg_id;
use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::message::stored::MessageExt;
use rmq_protocol::message::sysflag::TRANSACTION_PREPARED_TYPE;

use super::convert::{ok, status};
use super::metadata::{resource_name, RequestMetadata};
use crate::broker::processor::Services;
use crate::broker::producer_channel::OrphanedTransaction;
use crate::broker::service::write::SendOutcome;
use crate::broker::transaction::EndTransaction;

/// How long the offsets of a transaction are kept for its EndTransaction (the proxy's
/// `transactionDataExpireMillis`, 30 s).
pub const TRANSACTION_DATA_EXPIRY: Duration = Duration::from_secs(30);

/// Where a half message is, as END_TRANSACTION must name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HalfOffsets {
    /// CommitLog offset of the half record.
    pub commit_log_offset: i64,
    /// Half-queue offset (`tranStateTableOffset`).
    pub tran_state_table_offset: i64,
}

/// The offsets of open gRPC transactions by (producer group, transaction id), each kept for
/// [`TRANSACTION_DATA_EXPIRY`] after it was recorded.
#[derive(Debug, Default)]
pub struct TransactionIds {
    entries: Mutex<HashMap<(String, String), (HalfOffsets, Instant)>>,
}

impl TransactionIds {
    /// Records where transaction `transaction_id` of `group` is (on send and on each check-back); drops
    /// expired entries.
    pub fn record(&self, group: &str, transaction_id: &str, at: HalfOffsets) {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        entries.retain(|_, (_, t)| now.duration_since(*t) < TRANSACTION_DATA_EXPIRY);
        entries.insert((group.to_owned(), transaction_id.to_owned()), (at, now));
    }

    /// Where transaction `transaction_id` of `group` is, if recorded and not expired.
    pub fn get(&self, group: &str, transaction_id: &str) -> Option<HalfOffsets> {
        let key = (group.to_owned(), transaction_id.to_owned());
        self.entries
            .lock()
            .get(&key)
            .filter(|(_, t)| t.elapsed() < TRANSACTION_DATA_EXPIRY)
            .map(|(at, _)| *at)
    }

    /// Forgets a transaction that has an outcome.
    pub fn remove(&self, group: &str, transaction_id: &str) {
        self.entries
            .lock()
            .remove(&(group.to_owned(), transaction_id.to_owned()));
    }
}

/// Whether `m` is a transactional message.
pub fn is_transactional(m: &Message) -> bool {
    m.system_properties
        .as_ref()
        .is_some_and(|sp| sp.message_type == MessageType::Transaction as i32)
}

/// The sysFlag and properties of a send: for a transactional message (`group` is then its producer group,
/// the topic's name) a prepared send as the proxy builds it — `TRAN_MSG=true`, `PGROUP`, and
/// `CHECK_IMMUNITY_TIME_IN_SECONDS` from the message's orphaned-transaction recovery duration (0 when unset).
pub fn prepare(group: Option<&str>, m: &Message, properties: String) -> (i32, String) {
    let Some(group) = group else {
        return (0, properties);
    };
    let mut props = Properties::parse(&properties);
    props.insert(properties::TRANSACTION_PREPARED, "true");
    props.insert(properties::PRODUCER_GROUP, group);
    let immunity = m
        .system_properties
        .as_ref()
        .and_then(|sp| sp.orphaned_transaction_recovery_duration.as_ref())
        .map_or(0, |d| d.seconds.max(0));
    props.insert(
        properties::CHECK_IMMUNITY_TIME_IN_SECONDS,
        immunity.to_string(),
    );
    (TRANSACTION_PREPARED_TYPE, props.encode())
}

/// After a send stored: for a transactional one (`group` set), remembers where its half record is under
/// (group, transaction id) and returns the transaction id for the answer; empty for other sends.
pub fn sent(ids: &TransactionIds, group: Option<&str>, outcome: &SendOutcome) -> String {
    let (Some(group), Some(transaction_id)) = (group, outcome.transaction_id.as_deref()) else {
        return String::new();
    };
    // The offset message id the write service answered encodes the half record's CommitLog offset.
    match decode_offset_msg_id(&outcome.msg_id) {
        Ok((_, commit_log_offset)) => ids.record(
            group,
            transaction_id,
            HalfOffsets {
                commit_log_offset,
                tran_state_table_offset: outcome.queue_offset,
            },
        ),
        Err(e) => {
            tracing::warn!(msg_id = %outcome.msg_id, error = %e, "half message id does not decode; its EndTransaction will not find it")
        }
    }
    transaction_id.to_owned()
}

/// EndTransaction: commit or rollback of a transaction this endpoint handed out (or checked back).
/// UNSPECIFIED changes nothing (the proxy forwards it as TRANSACTION_NOT_TYPE, which the broker ignores).
pub async fn end_transaction(
    services: &Services,
    ids: &TransactionIds,
    md: &RequestMetadata,
    req: &EndTransactionRequest,
) -> EndTransactionResponse {
    let answer = |s| EndTransactionResponse { status: Some(s) };
    let Some(topic) = req.topic.as_ref().filter(|t| !t.name.is_empty()) else {
        return answer(status(Code::IllegalTopic, "the request names no topic"));
    };
    if req.transaction_id.trim().is_empty() {
        return answer(status(
            Code::InvalidTransactionId,
            "transaction id cannot be empty",
        ));
    }
    let commit = match TransactionResolution::try_from(req.resolution) {
        Ok(TransactionResolution::Commit) => true,
        Ok(TransactionResolution::Rollback) => false,
        _ => return answer(ok()),
    };
    // The producer group is the topic's name, as on send.
    let group = resource_name(topic, md);
    let Some(at) = ids.get(&group, &req.transaction_id) else {
        return answer(status(
            Code::InternalServerError,
            format!(
                "cannot find transaction data for transaction {} of {group}",
                req.transaction_id
            ),
        ));
    };
    let end = EndTransaction {
        producer_group: group.clone(),
        tran_state_table_offset: at.tran_state_table_offset,
        commit_log_offset: at.commit_log_offset,
        msg_id: req.message_id.clone(),
        commit,
    };
    match services.transactions.end_transaction(&end).await {
        Ok(_) => {
            ids.remove(&group, &req.transaction_id);
            answer(ok())
        }
        Err(e) => answer(status(Code::InternalServerError, e.to_string())),
    }
}

/// The Telemetry command asking a producer about `o`; records its offsets so the producer's answer finds them.
pub fn recover_command(ids: &TransactionIds, o: OrphanedTransaction) -> TelemetryCommand {
    let group = o
        .message
        .property(properties::PRODUCER_GROUP)
        .unwrap_or(o.message.topic.as_str())
        .to_owned();
    ids.record(
        &group,
        &o.transaction_id,
        HalfOffsets {
            commit_log_offset: o.commit_log_offset,
            tran_state_table_offset: o.tran_state_table_offset,
        },
    );
    TelemetryCommand {
        status: Some(ok()),
        command: Some(
            telemetry_command::Command::RecoverOrphanedTransactionCommand(
                RecoverOrphanedTransactionCommand {
                    message: Some(protocol_message(&o.message)),
                    transaction_id: o.transaction_id,
                },
            ),
        ),
    }
}

/// A stored message as the protocol shows it (Java's `GrpcConverter.buildMessage`): `namespace%topic` split
/// into the resource, system properties from the record, every non-system property as a user property.
fn protocol_message(m: &MessageExt) -> Message {
    let (namespace, name) = match m.topic.split_once('%') {
        Some((ns, name)) => (ns.to_owned(), name.to_owned()),
        None => (String::new(), m.topic.clone()),
    };
    let ts = |ms: i64| prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    };
    let user_properties = m
        .properties
        .iter()
        .filter(|(k, _)| !properties::is_system(k))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let system_properties = SystemProperties {
        tag: m.property(properties::TAGS).map(str::to_owned),
        keys: m
            .property(properties::KEYS)
            .map(|k| properties::split_keys(k).map(str::to_owned).collect())
            .unwrap_or_default(),
        message_id: m.msg_id(),
        body_encoding: Encoding::Identity as i32,
        message_type: MessageType::Transaction as i32,
        born_timestamp: Some(ts(m.born_timestamp)),
        born_host: m.born_host.ip().to_string(),
        store_timestamp: Some(ts(m.store_timestamp)),
        store_host: m.store_host.to_string(),
        queue_id: m.queue_id,
        queue_offset: Some(m.queue_offset),
        delivery_attempt: Some(m.reconsume_times.saturating_add(1)),
        ..SystemProperties::default()
    };
    Message {
        topic: Some(Resource {
            resource_namespace: namespace,
            name,
        }),
        user_properties,
        system_properties: Some(system_properties),
        body: m.body.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_offsets_are_found_by_group_and_id_until_removed() {
        let ids = TransactionIds::default();
        let at = HalfOffsets {
            commit_log_offset: 4096,
            tran_state_table_offset: 7,
        };
        ids.record("Orders", "TX1", at);
        assert_eq!(ids.get("Orders", "TX1"), Some(at));
        assert_eq!(ids.get("Other", "TX1"), None, "keyed by group too");
        ids.remove("Orders", "TX1");
        assert_eq!(ids.get("Orders", "TX1"), None);
    }
}
