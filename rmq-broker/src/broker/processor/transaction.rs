//! END_TRANSACTION (37): a producer's commit or rollback of a half message (docs/protocol.md §2.3.5, §4.5).
//!
//! Producers send it oneway, so a failure is only visible in the broker log: it is logged at warn with the
//! producer's address. A request sent with a response expected gets the usual code and remark.

use rmq_protocol::codes::response;
use rmq_protocol::headers::EndTransactionRequestHeader;
use rmq_protocol::message::sysflag::{
    TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE, TRANSACTION_ROLLBACK_TYPE,
};
use rmq_protocol::RemotingCommand;
use tracing::{debug, info, warn};

use super::refusal::{ok, Refusal, Reply};
use crate::broker::transaction::{
    EndOutcome, EndTransaction, TransactionError, TransactionService,
};
use crate::remoting::Connection;

/// Commits or rolls back the half message the header names; UNKNOWN (0) changes nothing, the check service
/// will ask again later.
pub async fn end_transaction(
    transactions: &TransactionService,
    conn: &Connection,
    req: &RemotingCommand,
) -> Reply {
    let h: EndTransactionRequestHeader = req.decode_header()?;
    let from_check = h.from_transaction_check.unwrap_or(false);
    let commit = match h.commit_or_rollback {
        TRANSACTION_COMMIT_TYPE => true,
        TRANSACTION_ROLLBACK_TYPE => false,
        TRANSACTION_NOT_TYPE => {
            info!(
                peer = %conn.peer(), group = %h.producer_group, msg_id = %h.msg_id, from_check,
                remark = ?req.remark, "producer reports transaction state UNKNOWN; it will be checked back"
            );
            return Ok(ok(req).with_remark("transaction state unknown; the broker will check back"));
        }
        other => {
            return Err(Refusal::new(
                response::INVALID_PARAMETER,
                format!(
                    "commitOrRollback {other} is none of 0 (unknown), 8 (commit), 12 (rollback)"
                ),
            ))
        }
    };
    let end = EndTransaction {
        producer_group: h.producer_group.clone(),
        tran_state_table_offset: h.tran_state_table_offset,
        commit_log_offset: h.commit_log_offset,
        msg_id: h.msg_id.clone(),
        commit,
    };
    match transactions.end_transaction(&end).await {
        Ok(outcome) => {
            debug!(
                peer = %conn.peer(), group = %h.producer_group, msg_id = %h.msg_id, from_check,
                half_offset = h.tran_state_table_offset, ?outcome, "END_TRANSACTION applied"
            );
            let resp = ok(req);
            Ok(match outcome {
                EndOutcome::AlreadyResolved => {
                    resp.with_remark("the transaction already has an outcome; nothing done")
                }
                _ => resp,
            })
        }
        Err(e) => {
            warn!(
                peer = %conn.peer(), group = %h.producer_group, msg_id = %h.msg_id, from_check,
                commit, commit_log_offset = h.commit_log_offset, error = %e, "END_TRANSACTION refused"
            );
            Err(match e {
                TransactionError::Write(s) => Refusal::from(s),
                other => Refusal::new(response::SYSTEM_ERROR, other.to_string()),
            })
        }
    }
}
