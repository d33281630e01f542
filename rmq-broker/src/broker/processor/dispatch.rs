//! The broker's [`RequestHandler`]: routes each remoting request code to its codec over the service that
//! handles it, and turns refusals into response code + remark in one place.

use std::sync::Arc;

use futures::future::BoxFuture;
use rmq_protocol::codes::{request, response};
use rmq_protocol::RemotingCommand;

use super::refusal::Refusal;
use super::{
    admin, client, consumer_call, lock, offset, operations, pop, pull, query, recall, reply,
    reset_offset, retry, send, stats, transaction,
};
use crate::broker::service::admin::AdminService;
use crate::broker::service::client::ClientService;
use crate::broker::service::offset::OffsetService;
use crate::broker::service::pop::PopService;
use crate::broker::service::pull::PullService;
use crate::broker::service::write::WriteService;
use crate::broker::transaction::TransactionService;
use crate::metrics::RequestMetrics;
use crate::remoting::{Connection, RequestHandler};

/// The services the remoting codecs call; a gRPC front end holds the same `Arc`s.
#[derive(Debug, Clone)]
pub struct Services {
    /// Every put.
    pub write: Arc<WriteService>,
    /// Pulls.
    pub pulls: Arc<PullService>,
    /// Consumer and queue offsets.
    pub offsets: Arc<OffsetService>,
    /// Connected clients.
    pub clients: Arc<ClientService>,
    /// END_TRANSACTION.
    pub transactions: Arc<TransactionService>,
    /// POP consumption.
    pub pops: Arc<PopService>,
    /// Operator requests.
    pub admin: Arc<AdminService>,
    /// Send latency, when metrics are on.
    pub metrics: Option<RequestMetrics>,
    /// `storeReplyMessageEnable`.
    pub store_reply: bool,
}

/// The broker's [`RequestHandler`].
#[derive(Debug)]
pub struct BrokerProcessor {
    services: Arc<Services>,
}

impl BrokerProcessor {
    /// A handler over the broker's services.
    pub fn new(services: Arc<Services>) -> Self {
        BrokerProcessor { services }
    }
}

/// Routes one request to its processor.
pub async fn dispatch(
    s: Arc<Services>,
    conn: Connection,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let admin = &*s.admin;
    let reply = match req.code {
        request::SEND_MESSAGE | request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE => {
            let timed = send::process(&s.write, &conn, &req);
            crate::metrics::time_send(s.metrics.as_ref(), timed).await
        }
        request::SEND_REPLY_MESSAGE | request::SEND_REPLY_MESSAGE_V2 => {
            let cx = reply::ReplyContext {
                write: &s.write,
                clients: &s.clients.clients,
                store_reply: s.store_reply,
            };
            reply::process(cx, &conn, &req).await
        }
        request::PULL_MESSAGE | request::LITE_PULL_MESSAGE => pull::process(&s.pulls, &req).await,
        request::RECALL_MESSAGE => recall::recall_message(&s.write, &conn, &req).await,
        request::POP_MESSAGE => pop::pop_message(&s.pops, &req).await,
        request::ACK_MESSAGE => pop::ack_message(&s.pops, &req).await,
        request::BATCH_ACK_MESSAGE => pop::batch_ack_message(&s.pops, &req).await,
        request::CHANGE_MESSAGE_INVISIBLETIME => pop::change_invisible_time(&s.pops, &req).await,
        request::NOTIFICATION => pop::notification(&s.pops, &req).await,
        request::CONSUMER_SEND_MSG_BACK => retry::consumer_send_msg_back(&s.write, &req).await,
        request::RMQ_RESEND_DLQ_MESSAGE => retry::resend_dlq_message(&s.write, &req).await,
        request::END_TRANSACTION => {
            transaction::end_transaction(&s.transactions, &conn, &req).await
        }
        request::QUERY_CONSUMER_OFFSET => offset::query_consumer_offset(&s.offsets, &req),
        request::UPDATE_CONSUMER_OFFSET => offset::update_consumer_offset(&s.offsets, &req),
        request::GET_MAX_OFFSET => offset::get_max_offset(&s.offsets, &req),
        request::GET_MIN_OFFSET => offset::get_min_offset(&s.offsets, &req),
        request::SEARCH_OFFSET_BY_TIMESTAMP => offset::search_offset_by_timestamp(&s.offsets, &req),
        request::GET_EARLIEST_MSG_STORETIME => offset::earliest_msg_store_time(&s.offsets, &req),
        request::HEART_BEAT => client::heartbeat(&s.clients, &conn, &req),
        request::UNREGISTER_CLIENT => client::unregister_client(&s.clients, &conn, &req),
        request::GET_CONSUMER_LIST_BY_GROUP => client::consumer_list(&s.clients, &req),
        request::CHECK_CLIENT_CONFIG => client::check_client_config(&s.clients, &req),
        request::UPDATE_AND_CREATE_TOPIC => admin::create_topic(admin, &req),
        request::DELETE_TOPIC_IN_BROKER => admin::delete_topic(admin, &req),
        request::GET_ALL_TOPIC_CONFIG => admin::all_topic_config(admin, &req),
        request::GET_TOPIC_CONFIG => admin::topic_config(admin, &req),
        request::GET_BROKER_RUNTIME_INFO => admin::runtime_info(admin, &req),
        request::GET_BROKER_CONFIG => admin::broker_config(admin, &req),
        request::UPDATE_BROKER_CONFIG => admin::update_broker_config(admin, &req),
        request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => {
            admin::update_subscription_group(admin, &req)
        }
        request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => admin::all_subscription_groups(admin, &req),
        request::DELETE_SUBSCRIPTIONGROUP => admin::delete_subscription_group(admin, &req),
        request::GET_TOPIC_STATS_INFO => stats::topic_stats(admin, &req),
        request::GET_CONSUMER_CONNECTION_LIST => stats::consumer_connections(admin, &req),
        request::GET_CONSUME_STATS => stats::consume_stats(admin, &req),
        request::INVOKE_BROKER_TO_RESET_OFFSET => {
            reset_offset::invoke_broker_to_reset_offset(admin, &req)
        }
        request::LOCK_BATCH_MQ => lock::lock_batch(admin, &req),
        request::UNLOCK_BATCH_MQ => lock::unlock_batch(admin, &req),
        request::QUERY_MESSAGE => query::query_message(admin, &req),
        request::VIEW_MESSAGE_BY_ID => query::view_message_by_id(admin, &req),
        request::GET_CONSUMER_RUNNING_INFO => consumer_call::running_info(admin, &req).await,
        request::CONSUME_MESSAGE_DIRECTLY => consumer_call::consume_directly(admin, &req).await,
        request::GET_PRODUCER_CONNECTION_LIST => operations::producer_connections(admin, &req),
        request::QUERY_TOPIC_CONSUME_BY_WHO => operations::topic_consumed_by(admin, &req),
        request::CLONE_GROUP_OFFSET => operations::clone_group_offset(admin, &req),
        request::GET_BROKER_CONSUME_STATS => operations::broker_consume_stats(admin, &req),
        request::VIEW_BROKER_STATS_DATA => operations::stats_data(admin, &req),
        request::QUERY_CONSUME_QUEUE => operations::query_consume_queue(admin, &req),
        request::CLEAN_EXPIRED_CONSUMEQUEUE => operations::clean_expired_consume_queue(admin, &req),
        request::CLEAN_UNUSED_TOPIC => operations::clean_unused_topic(admin, &req),
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
        Box::pin(dispatch(self.services.clone(), conn.clone(), req))
    }

    fn on_close(&self, conn: &Connection) {
        self.services.clients.connection_closed(conn.id());
    }
}
