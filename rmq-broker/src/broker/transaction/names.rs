//! The system topics and names of transactional messages.

/// Where half messages live (queue 0).
pub const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Where outcomes are recorded (queue 0, mirroring the half queue).
pub const OP_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Where half messages go after `transactionCheckMax` unanswered checks.
pub const CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// Tag of op records ("delete"), as Java's `TransactionalMessageUtil.REMOVETAG`.
pub const OP_REMOVE_TAG: &str = "d";
/// Name of the state file under `<storePathRootDir>/config/`.
pub const STATE_FILE: &str = "transaction.json";
