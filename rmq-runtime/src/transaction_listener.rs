//! Transaction listeners (rocketmq-spring's `RocketMQLocalTransactionListener`): the trait applications
//! implement, the registration `#[rocketmq_transaction_listener]` makes, and the binding of a listener to the
//! application context, which the template runs through [`LocalTransaction`] and the producer's check-backs
//! call.

use std::any::{Any, TypeId};
use std::sync::{Arc, Weak};

use crate::context::AppContext;
use crate::error::{ClientError, Result};
use crate::message::{Message, MessageExt};
use crate::producer::LocalTransactionState;
use crate::template::LocalTransaction;

/// The local transaction of a transactional template (rocketmq-spring's `RocketMQLocalTransactionListener`).
///
/// Implement it with `async fn`s under `#[rocketmq_transaction_listener(template = "...")]`, which registers
/// the listener with the application.
#[async_trait::async_trait]
pub trait LocalTransactionListener: Send + Sync + 'static {
    /// What `send_in_transaction` hands to [`execute`](Self::execute): the application's own type (`()` when
    /// there is nothing to pass). The template checks the type before the half message is sent, so a wrong
    /// argument is an error at the send, never a downcast that silently finds nothing.
    type Arg: Send + Sync + 'static;
    /// Runs the local transaction for a half message that was just stored.
    async fn execute(
        &self,
        msg: &Message,
        arg: &Self::Arg,
        ctx: &AppContext,
    ) -> LocalTransactionState;
    /// Answers a broker check-back for a transaction left unknown.
    async fn check(&self, msg: &MessageExt, ctx: &AppContext) -> LocalTransactionState;
}

/// A [`LocalTransactionListener`] with its argument type erased, as the registration stores it (every
/// listener is one through the blanket impl).
#[async_trait::async_trait]
pub trait ErasedTransactionListener: Send + Sync + 'static {
    /// The listener's `Arg`: its type id and name (for the error when a send passes another type).
    fn arg_type(&self) -> (TypeId, &'static str);
    /// [`LocalTransactionListener::execute`] with an argument of type [`arg_type`](Self::arg_type).
    async fn execute_erased(
        &self,
        msg: &Message,
        arg: &(dyn Any + Send + Sync),
        ctx: &AppContext,
    ) -> LocalTransactionState;
    /// [`LocalTransactionListener::check`].
    async fn check_erased(&self, msg: &MessageExt, ctx: &AppContext) -> LocalTransactionState;
}

#[async_trait::async_trait]
impl<L: LocalTransactionListener> ErasedTransactionListener for L {
    fn arg_type(&self) -> (TypeId, &'static str) {
        (TypeId::of::<L::Arg>(), std::any::type_name::<L::Arg>())
    }

    async fn execute_erased(
        &self,
        msg: &Message,
        arg: &(dyn Any + Send + Sync),
        ctx: &AppContext,
    ) -> LocalTransactionState {
        match arg.downcast_ref::<L::Arg>() {
            Some(arg) => self.execute(msg, arg, ctx).await,
            // The template checked the type; should another caller not, the broker's check-back decides.
            None => LocalTransactionState::Unknown,
        }
    }

    async fn check_erased(&self, msg: &MessageExt, ctx: &AppContext) -> LocalTransactionState {
        self.check(msg, ctx).await
    }
}

/// One `#[rocketmq_transaction_listener]`, as registered.
#[derive(Debug)]
pub struct TransactionListenerDef {
    /// The implementing type's name.
    pub name: &'static str,
    /// The template (by name) whose transactions it runs.
    pub template: &'static str,
    /// Builds the listener (the type's `Default`).
    pub create: fn() -> Arc<dyn ErasedTransactionListener>,
}

inventory::collect!(TransactionListenerDef);

impl TransactionListenerDef {
    /// Every transaction listener linked into this binary.
    pub fn all() -> impl Iterator<Item = &'static TransactionListenerDef> {
        inventory::iter::<TransactionListenerDef>.into_iter()
    }
}

/// Where a bound listener finds the application context once it exists (the context is built after the
/// templates it holds, so the slot is filled in afterwards).
pub type ContextSlot = Arc<parking_lot::RwLock<Option<Weak<AppContext>>>>;

/// A listener with the slot its context arrives in: what a transactional template and its check-backs run.
#[derive(Clone)]
pub struct BoundListener {
    listener: Arc<dyn ErasedTransactionListener>,
    ctx: ContextSlot,
}

impl std::fmt::Debug for BoundListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundListener").finish_non_exhaustive()
    }
}

impl BoundListener {
    /// Binds `listener` to `ctx` (filled in later with [`BoundListener::bind`]).
    pub fn new(listener: Arc<dyn ErasedTransactionListener>, ctx: ContextSlot) -> Self {
        BoundListener { listener, ctx }
    }

    /// Lets the listener see the application context.
    pub fn bind(slot: &ContextSlot, ctx: &Arc<AppContext>) {
        *slot.write() = Some(Arc::downgrade(ctx));
    }

    fn context(&self) -> Option<Arc<AppContext>> {
        self.ctx.read().as_ref().and_then(Weak::upgrade)
    }

    /// Answers a broker check-back; UNKNOWN (ask again later) while there is no context.
    pub async fn check(&self, msg: &MessageExt) -> LocalTransactionState {
        match self.context() {
            Some(ctx) => self.listener.check_erased(msg, &ctx).await,
            None => LocalTransactionState::Unknown,
        }
    }
}

#[async_trait::async_trait]
impl LocalTransaction for BoundListener {
    fn ready(&self) -> Result<()> {
        self.context()
            .map(|_| ())
            .ok_or(ClientError::Shutdown("application context"))
    }

    fn arg_type(&self) -> (TypeId, &'static str) {
        self.listener.arg_type()
    }

    async fn execute(&self, msg: &Message, arg: &(dyn Any + Send + Sync)) -> LocalTransactionState {
        match self.context() {
            Some(ctx) => self.listener.execute_erased(msg, arg, &ctx).await,
            // The context went away between `ready` and now (shutdown): let the check-back decide.
            None => LocalTransactionState::Unknown,
        }
    }
}
