//! RECALL_MESSAGE (370): the remoting codec of [`WriteService::recall`].

use rmq_protocol::headers::{
    CommandHeader, RecallMessageRequestHeader, RecallMessageResponseHeader,
};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Reply};
use crate::broker::service::write::{Recall, WriteService};
use crate::remoting::Connection;

/// RECALL_MESSAGE: SUCCESS with the recalled message's id.
pub async fn recall_message(
    write: &WriteService,
    conn: &Connection,
    req: &RemotingCommand,
) -> Reply {
    let h: RecallMessageRequestHeader = req.decode_header()?;
    let msg_id = write
        .recall(Recall {
            topic: h.topic,
            handle: h.recall_handle,
            producer_group: h.producer_group,
            born_host: conn.peer(),
        })
        .await?;
    Ok(ok(req).with_ext(RecallMessageResponseHeader { msg_id }.to_ext()))
}
