//! The one place that turns errors into remoting response codes and remarks.
//!
//! Every service refusal ([`ServiceError`]) has exactly one code here, whichever request met it; a gRPC codec
//! gets its own table over the same variants.

use rmq_protocol::codes::response;

use super::refusal::Refusal;
use crate::broker::schedule::ScheduleError;
use crate::broker::service::ServiceError;
use crate::persist::PersistError;
use crate::store::StoreError;

/// The remoting code of a service error.
pub fn code_of(e: &ServiceError) -> i32 {
    match e {
        ServiceError::BrokerNotWritable { .. }
        | ServiceError::TopicNotWritable { .. }
        | ServiceError::SystemTopic { .. }
        | ServiceError::Forbidden(_) => response::NO_PERMISSION,
        ServiceError::NoSuchGroup(_) => response::SUBSCRIPTION_GROUP_NOT_EXIST,
        ServiceError::NoSuchTopic(_) => response::TOPIC_NOT_EXIST,
        ServiceError::NoSubscription(_) => response::SUBSCRIPTION_NOT_EXIST,
        ServiceError::StaleSubscription(_) => response::SUBSCRIPTION_NOT_LATEST,
        ServiceError::BadExpression(_) => response::SUBSCRIPTION_PARSE_FAILED,
        ServiceError::InvalidTopicName(_) | ServiceError::InvalidParameter(_) => {
            response::INVALID_PARAMETER
        }
        ServiceError::TopicNotExist { .. } | ServiceError::UnknownTopic { .. } => {
            response::TOPIC_NOT_EXIST
        }
        ServiceError::GroupNotExist { .. } => response::SUBSCRIPTION_GROUP_NOT_EXIST,
        // As Java's msgCheck (for sends and replies alike): producers treat SYSTEM_ERROR as retryable and
        // refetch the route, which is what a producer holding a stale route needs.
        ServiceError::IllegalQueue { .. } => response::SYSTEM_ERROR,
        ServiceError::BodyTooLarge { .. } | ServiceError::IllegalMessage(_) => {
            response::MESSAGE_ILLEGAL
        }
        ServiceError::NotFound(_) => response::QUERY_NOT_FOUND,
        ServiceError::NoMessage(_) => response::NO_MESSAGE,
        ServiceError::BadHandle(_) => response::MESSAGE_ILLEGAL,
        ServiceError::IllegalOperation(_) => response::ILLEGAL_OPERATION,
        ServiceError::ConsumerNotOnline { .. } => response::CONSUMER_NOT_ONLINE,
        // A header or body that does not decode: SYSTEM_ERROR, as Java's remoting server answers any exception
        // a processor throws (rules: `rmq_protocol::lenient`).
        ServiceError::System(_) | ServiceError::Protocol(_) | ServiceError::Persist(_) => {
            response::SYSTEM_ERROR
        }
        ServiceError::Schedule(ScheduleError::Persist(_)) => response::SYSTEM_ERROR,
        ServiceError::Schedule(_) => response::MESSAGE_ILLEGAL,
        ServiceError::Store(s) => store_code(s),
    }
}

fn store_code(e: &StoreError) -> i32 {
    match e {
        StoreError::MessageTooLarge { .. } | StoreError::PropertiesTooLarge { .. } => {
            response::MESSAGE_ILLEGAL
        }
        // Java refuses puts with SERVICE_NOT_AVAILABLE while its store is not writeable (disk full, or a
        // CommitLog write or sync that failed: `runningFlags` not writeable).
        StoreError::DiskFull { .. } | StoreError::ShuttingDown | StoreError::NotWritable(_) => {
            response::SERVICE_NOT_AVAILABLE
        }
        StoreError::FlushTimeout { .. } => response::FLUSH_DISK_TIMEOUT,
        _ => response::SYSTEM_ERROR,
    }
}

fn store_remark(e: &StoreError) -> String {
    match e {
        // The store checks the properties limit for every write; the remark is the one producers know.
        StoreError::PropertiesTooLarge { size, max } => {
            format!("the message properties size {size} is over the max value {max}")
        }
        other => other.to_string(),
    }
}

impl From<ServiceError> for Refusal {
    fn from(e: ServiceError) -> Self {
        let code = code_of(&e);
        let remark = match &e {
            ServiceError::Store(s) => store_remark(s),
            other => other.to_string(),
        };
        Refusal::new(code, remark)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::new(store_code(&e), store_remark(&e))
    }
}

/// A header or body that does not decode: SYSTEM_ERROR with the decoder's message (which names the field).
impl From<rmq_protocol::ProtocolError> for Refusal {
    fn from(e: rmq_protocol::ProtocolError) -> Self {
        Refusal::from(ServiceError::Protocol(e))
    }
}

impl From<PersistError> for Refusal {
    fn from(e: PersistError) -> Self {
        Refusal::from(ServiceError::Persist(e))
    }
}
