//! Transactional sends: a half message, the local transaction, then COMMIT / ROLLBACK / UNKNOWN, and answers to
//! the broker's check-backs for transactions left unknown.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};

use futures::future::BoxFuture;
use futures::FutureExt;
use rmq_protocol::codes::request;
use rmq_protocol::headers::{CheckTransactionStateRequestHeader, EndTransactionRequestHeader};
use rmq_protocol::message::{decode_offset_msg_id, properties as keys, sysflag};
use rmq_protocol::RemotingCommand;

use super::handle::Producer;
use super::inner::ProducerInner;
use super::options::ProducerOptions;
use super::result::{SendResult, SendStatus};
use crate::error::{ClientError, Result};
use crate::instance::ProducerHook;
use crate::message::{Message, MessageExt};

/// The outcome of a local transaction (Java `LocalTransactionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTransactionState {
    /// Deliver the message.
    Commit,
    /// Discard the message.
    Rollback,
    /// Not known yet: the broker will ask again later.
    Unknown,
}

impl LocalTransactionState {
    fn sys_flag(self) -> i32 {
        match self {
            LocalTransactionState::Commit => sysflag::TRANSACTION_COMMIT_TYPE,
            LocalTransactionState::Rollback => sysflag::TRANSACTION_ROLLBACK_TYPE,
            LocalTransactionState::Unknown => sysflag::TRANSACTION_NOT_TYPE,
        }
    }
}

/// Answers a broker's check-back for a half message whose transaction ended UNKNOWN (or whose end was lost).
pub trait TransactionChecker: Send + Sync + 'static {
    /// Looks up the local transaction of `msg` (its keys, transaction id, properties) and reports its state.
    fn check(&self, msg: MessageExt) -> BoxFuture<'static, LocalTransactionState>;
}

impl<F, Fut> TransactionChecker for F
where
    F: Fn(MessageExt) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = LocalTransactionState> + Send + 'static,
{
    fn check(&self, msg: MessageExt) -> BoxFuture<'static, LocalTransactionState> {
        self(msg).boxed()
    }
}

/// What a transactional send did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSendResult {
    /// Where the half message was stored.
    pub send: SendResult,
    /// The local transaction's outcome, as told to the broker.
    pub state: LocalTransactionState,
}

/// A producer whose messages are delivered only if the local transaction commits.
#[derive(Clone, Debug)]
pub struct TransactionProducer {
    producer: Producer,
}

/// Routes check-backs to the checker. The producer is set right after it registers (it needs the hook first).
struct CheckHook {
    producer: Arc<parking_lot::Mutex<Weak<ProducerInner>>>,
    checker: Arc<dyn TransactionChecker>,
}

impl ProducerHook for CheckHook {
    fn check_transaction(
        &self,
        broker_addr: String,
        header: CheckTransactionStateRequestHeader,
        msg: MessageExt,
    ) {
        let Some(inner) = self.producer.lock().upgrade() else {
            return;
        };
        let checker = self.checker.clone();
        tokio::spawn(async move {
            let state = match AssertUnwindSafe(checker.check(msg.clone()))
                .catch_unwind()
                .await
            {
                Ok(state) => state,
                Err(_) => {
                    tracing::error!(msg_id = %msg.msg_id(), "transaction checker panicked; answering UNKNOWN");
                    LocalTransactionState::Unknown
                }
            };
            let end = EndTransactionRequestHeader {
                topic: Some(msg.topic.clone()),
                producer_group: inner.opts.group.clone(),
                tran_state_table_offset: header.tran_state_table_offset,
                commit_log_offset: header.commit_log_offset,
                commit_or_rollback: state.sys_flag(),
                from_transaction_check: Some(true),
                msg_id: msg
                    .property(keys::UNIQ_KEY)
                    .map(str::to_string)
                    .or(header.msg_id.clone())
                    .unwrap_or_default(),
                transaction_id: header
                    .transaction_id
                    .clone()
                    .or_else(|| msg.property(keys::TRANSACTION_ID).map(str::to_string)),
            };
            let cmd = RemotingCommand::request_with(request::END_TRANSACTION, &end).with_remark(
                format!("check-back answered by producer group {}", inner.opts.group),
            );
            if let Err(e) = inner.instance.invoke_oneway(&broker_addr, cmd).await {
                tracing::warn!(broker = %broker_addr, error = %e, "could not answer a transaction check-back");
            }
        });
    }
}

impl TransactionProducer {
    /// Starts a transactional producer whose check-backs are answered by `checker`.
    pub async fn start(
        opts: ProducerOptions,
        checker: impl TransactionChecker,
    ) -> Result<TransactionProducer> {
        let checker: Arc<dyn TransactionChecker> = Arc::new(checker);
        let slot: Arc<parking_lot::Mutex<Weak<ProducerInner>>> = Arc::default();
        let hook = CheckHook {
            producer: slot.clone(),
            checker,
        };
        let producer = Producer::start_with_hook(opts, Arc::new(hook)).await?;
        *slot.lock() = Arc::downgrade(&producer.inner);
        Ok(TransactionProducer { producer })
    }

    /// The underlying producer (for plain sends from the same group).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Sends `msg` as a half message, runs `execute` (with the send result), and ends the transaction with its
    /// outcome. A panic or a failed half send rolls back; UNKNOWN leaves the decision to a later check-back.
    pub async fn send_in_transaction<F, Fut>(
        &self,
        msg: Message,
        execute: F,
    ) -> Result<TransactionSendResult>
    where
        F: FnOnce(SendResult) -> Fut,
        Fut: Future<Output = LocalTransactionState>,
    {
        if msg.delay_level().is_some_and(|l| l > 0) {
            return Err(ClientError::InvalidArgument {
                field: "delay_level",
                reason: "transactional messages cannot use a delay level".into(),
            });
        }
        let inner = &self.producer.inner;
        let msg = msg
            .with_property(keys::TRANSACTION_PREPARED, "true")
            .with_property(keys::PRODUCER_GROUP, inner.opts.group.clone());
        let send = inner
            .send_retrying(msg, None, inner.opts.retry_times_when_send_failed)
            .await?;
        let state = if send.status == SendStatus::SendOk {
            // A closure may panic before it returns its future, or the future while it runs.
            let run = match std::panic::catch_unwind(AssertUnwindSafe(|| execute(send.clone()))) {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            match run {
                Ok(state) => state,
                Err(_) => {
                    tracing::error!(msg_id = %send.msg_id, "local transaction panicked; rolling back");
                    LocalTransactionState::Rollback
                }
            }
        } else {
            LocalTransactionState::Rollback
        };
        self.end_transaction(&send, state).await?;
        Ok(TransactionSendResult { send, state })
    }

    async fn end_transaction(&self, send: &SendResult, state: LocalTransactionState) -> Result<()> {
        let inner = &self.producer.inner;
        let (_, commit_log_offset) = decode_offset_msg_id(&send.offset_msg_id)?;
        let addr = inner
            .instance
            .master_addr_for(&send.queue.broker_name, &send.queue.topic)
            .await?;
        let header = EndTransactionRequestHeader {
            topic: Some(send.queue.topic.clone()),
            producer_group: inner.opts.group.clone(),
            tran_state_table_offset: send.queue_offset,
            commit_log_offset,
            commit_or_rollback: state.sys_flag(),
            from_transaction_check: Some(false),
            msg_id: send.msg_id.clone(),
            transaction_id: Some(
                send.transaction_id
                    .clone()
                    .unwrap_or_else(|| send.msg_id.clone()),
            ),
        };
        let cmd = RemotingCommand::request_with(request::END_TRANSACTION, &header);
        inner.instance.invoke_oneway(&addr, cmd).await
    }

    /// Unregisters the group.
    pub async fn shutdown(&self) {
        self.producer.shutdown().await;
    }
}
