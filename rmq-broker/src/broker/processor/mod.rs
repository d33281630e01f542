//! Broker request processors, one module per family. Each takes a typed request and returns a response or a
//! [`Refusal`]; [`dispatch`] turns refusals into response code + remark in one place.

pub mod admin;
pub mod client;
pub mod lock;
pub mod offset;
pub mod pull;
pub mod query;
pub mod reply;
pub mod reset_offset;
pub mod retry;
pub mod send;
pub mod stats;
pub mod status;
pub mod transaction;

use std::sync::Arc;

use futures::future::BoxFuture;
use rmq_protocol::codes::{request, response};
use rmq_protocol::RemotingCommand;

use super::BrokerInner;
use crate::remoting::{Connection, RequestHandler};

/// A request the broker answers with an error code and a remark naming what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Response code.
    pub code: i32,
    /// Human-readable reason.
    pub remark: String,
}

impl Refusal {
    /// A refusal with the given code and remark.
    pub fn new(code: i32, remark: impl Into<String>) -> Self {
        Refusal {
            code,
            remark: remark.into(),
        }
    }
}

/// What a processor returns.
pub type Reply = Result<RemotingCommand, Refusal>;

/// The broker's [`RequestHandler`].
#[derive(Debug)]
pub struct BrokerProcessor {
    inner: Arc<BrokerInner>,
}

impl BrokerProcessor {
    /// A handler over the broker state.
    pub fn new(inner: Arc<BrokerInner>) -> Self {
        BrokerProcessor { inner }
    }
}

/// Routes one request to its processor.
pub async fn dispatch(
    inner: Arc<BrokerInner>,
    conn: Connection,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let reply = match req.code {
        request::SEND_MESSAGE | request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE => {
            let timed = send::process(&inner.write, &conn, &req);
            crate::metrics::time_send(inner.request_metrics.as_ref(), timed).await
        }
        request::SEND_REPLY_MESSAGE | request::SEND_REPLY_MESSAGE_V2 => {
            let cx = reply::ReplyContext {
                write: &inner.write,
                clients: &inner.clients,
                store_reply: inner.config.store_reply_message_enable,
            };
            reply::process(cx, &conn, &req).await
        }
        request::PULL_MESSAGE | request::LITE_PULL_MESSAGE => {
            pull::process(&inner.pulls, &req).await
        }
        request::CONSUMER_SEND_MSG_BACK => retry::consumer_send_msg_back(&inner.write, &req).await,
        request::RMQ_RESEND_DLQ_MESSAGE => retry::resend_dlq_message(&inner.write, &req).await,
        request::END_TRANSACTION => {
            transaction::end_transaction(&inner.transactions, &conn, &req).await
        }
        request::QUERY_CONSUMER_OFFSET => offset::query_consumer_offset(&inner, &req),
        request::UPDATE_CONSUMER_OFFSET => offset::update_consumer_offset(&inner, &req),
        request::GET_MAX_OFFSET => offset::get_max_offset(&inner, &req),
        request::GET_MIN_OFFSET => offset::get_min_offset(&inner, &req),
        request::SEARCH_OFFSET_BY_TIMESTAMP => offset::search_offset_by_timestamp(&inner, &req),
        request::GET_EARLIEST_MSG_STORETIME => offset::earliest_msg_store_time(&inner, &req),
        request::HEART_BEAT => client::heartbeat(&inner, &conn, &req),
        request::UNREGISTER_CLIENT => client::unregister_client(&inner, &conn, &req),
        request::GET_CONSUMER_LIST_BY_GROUP => client::consumer_list(&inner, &req),
        request::CHECK_CLIENT_CONFIG => client::check_client_config(&inner, &req),
        request::UPDATE_AND_CREATE_TOPIC => admin::create_topic(&inner, &req),
        request::DELETE_TOPIC_IN_BROKER => admin::delete_topic(&inner, &req),
        request::GET_ALL_TOPIC_CONFIG => admin::all_topic_config(&inner, &req),
        request::GET_TOPIC_CONFIG => admin::topic_config(&inner, &req),
        request::GET_BROKER_RUNTIME_INFO => admin::runtime_info(&inner, &req),
        request::GET_BROKER_CONFIG => admin::broker_config(&inner, &req),
        request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => {
            admin::update_subscription_group(&inner, &req)
        }
        request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => admin::all_subscription_groups(&inner, &req),
        request::DELETE_SUBSCRIPTIONGROUP => admin::delete_subscription_group(&inner, &req),
        request::GET_TOPIC_STATS_INFO => stats::topic_stats(&inner, &req),
        request::GET_CONSUMER_CONNECTION_LIST => stats::consumer_connections(&inner, &req),
        request::GET_CONSUME_STATS => stats::consume_stats(&inner, &req),
        request::INVOKE_BROKER_TO_RESET_OFFSET => {
            reset_offset::invoke_broker_to_reset_offset(&inner, &req)
        }
        request::LOCK_BATCH_MQ => lock::lock_batch(&inner, &req),
        request::UNLOCK_BATCH_MQ => lock::unlock_batch(&inner, &req),
        request::QUERY_MESSAGE => query::query_message(&inner, &req),
        request::VIEW_MESSAGE_BY_ID => query::view_message_by_id(&inner, &req),
        code => Err(Refusal::new(
            response::REQUEST_CODE_NOT_SUPPORTED,
            format!(" request type {code} not supported"),
        )),
    };
    if req.is_oneway() {
        if let Err(r) = &reply {
            tracing::debug!(code = req.code, remark = %r.remark, "oneway request refused");
        }
        return None;
    }
    Some(reply.unwrap_or_else(|r| RemotingCommand::response_to(&req, r.code).with_remark(r.remark)))
}

impl RequestHandler for BrokerProcessor {
    fn handle(
        &self,
        conn: &Connection,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(dispatch(self.inner.clone(), conn.clone(), req))
    }

    fn on_close(&self, conn: &Connection) {
        for group in self.inner.clients.connection_closed(conn.id()) {
            client::notify_consumer_ids_changed(&self.inner, &group);
        }
    }
}

/// Stored records back to back, the body layout of pull and query responses (notes §3.1).
pub(crate) fn concat_records(records: &[bytes::Bytes]) -> bytes::Bytes {
    let mut body = bytes::BytesMut::with_capacity(records.iter().map(|r| r.len()).sum());
    for r in records {
        body.extend_from_slice(r);
    }
    body.freeze()
}

/// A SUCCESS response to `req`.
pub(crate) fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response::SUCCESS)
}
