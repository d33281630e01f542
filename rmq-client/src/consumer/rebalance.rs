//! Which queues of a topic this member takes, the same for push and lite pull consumers: all of them when
//! broadcasting, else the group's strategy over the route's queues and the members the broker knows.

use rmq_protocol::body::MessageQueue;

use super::allocate::AllocateStrategy;
use super::model::MessageModel;
use crate::error::Result;
use crate::instance::ClientInstance;
use crate::route::subscribe_queues;

/// This member's share of `topic`'s readable queues; `None` while the broker lists no member of `group` (its
/// heartbeat has not arrived): the caller keeps what it has until the next round.
///
/// # Errors
/// No route for `topic`, or the member list could not be asked.
pub(crate) async fn allocate_topic(
    instance: &ClientInstance,
    group: &str,
    model: MessageModel,
    strategy: &dyn AllocateStrategy,
    topic: &str,
) -> Result<Option<Vec<MessageQueue>>> {
    let route = instance.route(topic).await?;
    let mqs = subscribe_queues(topic, &route);
    match model {
        MessageModel::Broadcasting => Ok(Some(mqs)),
        MessageModel::Clustering => {
            let mut cids = instance.consumer_ids(topic, group).await?;
            if cids.is_empty() {
                return Ok(None);
            }
            cids.sort();
            Ok(Some(strategy.allocate(
                group,
                instance.client_id(),
                &mqs,
                &cids,
            )))
        }
    }
}
