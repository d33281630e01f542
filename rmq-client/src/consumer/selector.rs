//! Which messages of a topic a subscription takes, and the subscription data heartbeats and pulls carry.

use rmq_protocol::body::SubscriptionData;
use rmq_protocol::message::tag_hash_code;

use crate::error::{ClientError, Result};

/// Which messages of a topic a subscription takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageSelector {
    /// `*` or `TagA || TagB`.
    Tag(String),
    /// A SQL92 expression over properties (the broker must enable property filtering).
    Sql92(String),
}

impl MessageSelector {
    /// Every message.
    pub fn all() -> Self {
        MessageSelector::Tag("*".to_string())
    }
}

/// Parses a subscription into what heartbeats and pulls carry.
pub fn subscription_data(
    topic: &str,
    selector: &MessageSelector,
    version: i64,
) -> Result<SubscriptionData> {
    let mut sd = SubscriptionData {
        topic: topic.to_string(),
        sub_version: version,
        ..SubscriptionData::default()
    };
    match selector {
        MessageSelector::Tag(expr) => {
            let expr = expr.trim();
            if expr.is_empty() || expr == "*" {
                sd.sub_string = "*".to_string();
            } else {
                sd.sub_string = expr.to_string();
                for tag in expr.split("||").map(str::trim).filter(|t| !t.is_empty()) {
                    if !sd.tags_set.iter().any(|t| t == tag) {
                        sd.tags_set.push(tag.to_string());
                        sd.code_set.push(tag_hash_code(tag) as i32);
                    }
                }
                if sd.tags_set.is_empty() {
                    return Err(ClientError::InvalidArgument {
                        field: "selector_expression",
                        reason: format!("{expr:?} names no tag"),
                    });
                }
            }
            sd.expression_type = "TAG".to_string();
        }
        MessageSelector::Sql92(expr) => {
            if let Err(e) = rmq_filter::Selector::parse(expr) {
                return Err(ClientError::InvalidArgument {
                    field: "selector_expression",
                    reason: format!("SQL92 {expr:?} does not parse: {e}"),
                });
            }
            sd.sub_string = expr.clone();
            sd.expression_type = "SQL92".to_string();
        }
    }
    Ok(sd)
}
