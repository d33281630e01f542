//! GET_CONSUMER_RUNNING_INFO (307) and CONSUME_MESSAGE_DIRECTLY (309): an admin asks the broker about one of
//! its consumers; the broker forwards the request on that consumer's own connection and returns the client's
//! answer as it is (Java's `AdminBrokerProcessor.callConsumer`).

use std::time::Duration;

use rmq_protocol::codes::response;
use rmq_protocol::headers::{
    ConsumeMessageDirectlyResultRequestHeader, GetConsumerRunningInfoRequestHeader,
};
use rmq_protocol::message::decode_offset_msg_id;
use rmq_protocol::RemotingCommand;

use super::refusal::{Refusal, Reply};
use crate::broker::service::admin::AdminService;
use crate::remoting::InvokeError;

/// How long the consumer may take to answer (Java: 10 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Clients older than V3_1_8_SNAPSHOT cannot answer these requests.
const MIN_CLIENT_VERSION: i32 = 62;

/// GET_CONSUMER_RUNNING_INFO: forwarded unchanged (header and body) to the named client.
pub async fn running_info(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: GetConsumerRunningInfoRequestHeader = req.decode_header()?;
    call_consumer(
        admin,
        req,
        &h.consumer_group,
        &h.client_id,
        req.body.clone(),
    )
    .await
}

/// CONSUME_MESSAGE_DIRECTLY: the stored record named by the offset message id becomes the body, the
/// broker's name goes into `brokerName`, then it is forwarded to the named client.
pub async fn consume_directly(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: ConsumeMessageDirectlyResultRequestHeader = req.decode_header()?;
    let msg_id = h.msg_id.clone().unwrap_or_default();
    let (_, offset) = decode_offset_msg_id(&msg_id).map_err(|e| {
        Refusal::new(
            response::SYSTEM_ERROR,
            format!("msgId {msg_id:?} is not an offset message id: {e}"),
        )
    })?;
    let record = admin.store.message_at(offset).ok_or_else(|| {
        Refusal::new(
            response::SYSTEM_ERROR,
            format!("no message at commit-log offset {offset} (msgId {msg_id})"),
        )
    })?;
    let mut forwarded = req.clone();
    forwarded
        .ext_fields
        .insert("brokerName".to_owned(), admin.config.broker_name.clone());
    if let Some(topic) = h.topic.as_deref().filter(|t| !t.is_empty()) {
        if let Some(cfg) = admin.topics.get(topic) {
            forwarded
                .ext_fields
                .insert("topicSysFlag".to_owned(), cfg.topic_sys_flag.to_string());
        }
    }
    if let Some(g) = admin.groups.get(&h.consumer_group) {
        forwarded
            .ext_fields
            .insert("groupSysFlag".to_owned(), g.group_sys_flag.to_string());
    }
    let client = h.client_id.clone().unwrap_or_default();
    call_consumer(admin, &forwarded, &h.consumer_group, &client, record).await
}

/// Sends `req`'s code and ext fields with `body` to `client_id` of `group` and returns its response.
async fn call_consumer(
    admin: &AdminService,
    req: &RemotingCommand,
    group: &str,
    client_id: &str,
    body: bytes::Bytes,
) -> Reply {
    let Some(channel) = admin.clients.find_consumer_channel(group, client_id) else {
        return Err(Refusal::new(
            response::SYSTEM_ERROR,
            format!("The Consumer <{group}> <{client_id}> not online"),
        ));
    };
    if channel.version < MIN_CLIENT_VERSION {
        return Err(Refusal::new(
            response::SYSTEM_ERROR,
            format!(
                "The Consumer <{client_id}> Version <{}> too low to finish, please upgrade it to V3_1_8_SNAPSHOT",
                channel.version
            ),
        ));
    }
    let call = RemotingCommand::request(req.code, req.ext_fields.clone()).with_body(body);
    match channel.connection.invoke(call, CALL_TIMEOUT).await {
        Ok(mut answer) => {
            answer.opaque = req.opaque;
            Ok(answer)
        }
        Err(e @ InvokeError::Timeout { .. }) => Err(Refusal::new(
            response::CONSUME_MSG_TIMEOUT,
            format!("consumer <{group}> <{client_id}> Timeout: {e}"),
        )),
        Err(e) => Err(Refusal::new(
            response::SYSTEM_ERROR,
            format!("invoke consumer <{group}> <{client_id}> Exception: {e}"),
        )),
    }
}
