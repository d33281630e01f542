//! The five services as modules of one [`Shop`]: each owns its tables and its consumers, and they meet only
//! in the order flow's calls (the notes' RPC) and in messages.
//!
//! - [`order`]: confirm order (the orchestration), cancel order on the cancel message, mark paid.
//! - [`goods`]: reduce stock, restore it on cancel.
//! - [`coupon`]: mark a coupon used, unused again on cancel.
//! - [`user`]: pay from the balance, refund on cancel, add score when paid.
//! - [`pay`]: create a payment, the payment callback with its outbox, the relay, the pay log.
//!
//! [`Shop<D>`] is generic over the database; [`AnyShop`] holds the one the process runs on and is the bean
//! listeners and HTTP handlers get.

pub mod coupon;
pub mod goods;
pub mod order;
pub mod pay;
pub mod user;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rmq_runtime::idempotency::{GuardError, IdempotencyGuard, Outcome};
use rmq_runtime::{ListenerError, MessageExt, RocketMqTemplate};
use sqlx::{Pool, Postgres, Sqlite};

use crate::config::ShopConfig;
use crate::db::{
    ConsumerLogRow, Coupon, DbPool, Goods, OutboxRow, Pay, PayLogRow, ShopDb, TradeOrder, User,
};
use crate::error::{ShopError, ShopResult};
use crate::ids::IdGenerator;
use order::ConfirmOrder;
use pay::{CreatePayment, PayCallback};

/// The shop over database `D`. Cheap to clone.
pub struct Shop<D: ShopDb> {
    inner: Arc<Inner<D>>,
}

impl<D: ShopDb> Clone for Shop<D> {
    fn clone(&self) -> Self {
        Shop {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<D: ShopDb> std::fmt::Debug for Shop<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop")
            .field("db", &D::KIND)
            .field("config", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

struct Inner<D: ShopDb> {
    pool: Pool<D>,
    guard: IdempotencyGuard<D>,
    cfg: ShopConfig,
    ids: IdGenerator,
    template: OnceLock<RocketMqTemplate>,
    faults: Mutex<HashMap<String, Fault>>,
    stalled: tokio::sync::Notify,
    outbox_wake: tokio::sync::Notify,
    // Fired after each outbox row is marked sent (what waits for the relay listens here).
    outbox_sent: tokio::sync::Notify,
}

impl<D: ShopDb> Shop<D> {
    /// A shop over a prepared pool (see [`DbPool::prepare`]).
    pub fn new(pool: Pool<D>, cfg: ShopConfig) -> Self {
        let guard = IdempotencyGuard::new(pool.clone()).max_attempts(cfg.max_attempts);
        Shop {
            inner: Arc::new(Inner {
                pool,
                guard,
                cfg,
                ids: IdGenerator::default(),
                template: OnceLock::new(),
                faults: Mutex::new(HashMap::new()),
                stalled: tokio::sync::Notify::new(),
                outbox_wake: tokio::sync::Notify::new(),
                outbox_sent: tokio::sync::Notify::new(),
            }),
        }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<D> {
        &self.inner.pool
    }

    /// The consumer-log guard every consumer runs under.
    pub fn guard(&self) -> &IdempotencyGuard<D> {
        &self.inner.guard
    }

    /// The resolved configuration.
    pub fn config(&self) -> &ShopConfig {
        &self.inner.cfg
    }

    /// A new snowflake id.
    pub fn next_id(&self) -> i64 {
        self.inner.ids.next_id()
    }

    /// Gives the shop the template it sends with (once the application is started). Later calls are ignored.
    pub fn attach_template(&self, template: RocketMqTemplate) {
        let _ = self.inner.template.set(template);
    }

    fn template(&self) -> ShopResult<&RocketMqTemplate> {
        self.inner
            .template
            .get()
            .ok_or(ShopError::NotStarted("no template attached"))
    }

    /// Test and demo hook: the next `n` guarded runs of consumer group `group` fail *after* applying their
    /// effect (which the guard then rolls back), as a crash or a lost connection mid-handler would.
    pub fn fail_next(&self, group: &str, n: u32) {
        let mut faults = self.inner.faults.lock().unwrap_or_else(|p| p.into_inner());
        faults.entry(group.to_string()).or_default().fail = n;
    }

    /// Test hook for crash tests: the next guarded run of `group` applies its effect inside the claim and
    /// then never finishes, holding its transaction open, until the process dies. [`Shop::stalled`] tells
    /// when it got there.
    pub fn stall_next(&self, group: &str) {
        let mut faults = self.inner.faults.lock().unwrap_or_else(|p| p.into_inner());
        faults.entry(group.to_string()).or_default().stall = true;
    }

    /// Completes once a run armed by [`Shop::stall_next`] has applied its effect and stalled.
    pub async fn stalled(&self) {
        self.inner.stalled.notified().await;
    }

    /// The injected fault due for `group`, if any (and uses it up).
    fn take_fault(&self, group: &str) -> Option<FaultKind> {
        let mut faults = self.inner.faults.lock().unwrap_or_else(|p| p.into_inner());
        let f = faults.get_mut(group)?;
        if f.stall {
            f.stall = false;
            Some(FaultKind::Stall)
        } else if f.fail > 0 {
            f.fail -= 1;
            Some(FaultKind::Fail)
        } else {
            None
        }
    }

    /// Every consumer-log row.
    pub async fn consumer_log(&self) -> ShopResult<Vec<ConsumerLogRow>> {
        let mut c = self.pool().acquire().await?;
        Ok(D::consumer_log(&mut c).await?)
    }

    /// Runs `effect` under the guard for `group` and turns the result into the listener's answer:
    /// applied or duplicate → consumed; a failure → retry, or dead-letter once the attempts are used up.
    async fn guarded<T, F>(
        &self,
        group: &str,
        msg: &MessageExt,
        effect: F,
    ) -> Result<Option<T>, ListenerError>
    where
        T: Send + 'static,
        F: Send
            + for<'c> FnOnce(
                &'c mut D::Connection,
            ) -> futures::future::BoxFuture<'c, Result<T, sqlx::Error>>,
    {
        let fault = self.take_fault(group);
        let stalled = Arc::clone(&self.inner);
        let stalled = move || stalled.stalled.notify_one();
        let result = self
            .guard()
            .run_message(group, msg, move |conn| {
                let fut = effect(conn);
                Box::pin(async move {
                    let value = fut
                        .await
                        .map_err(|e| Box::new(e) as rmq_runtime::idempotency::BoxError)?;
                    match fault {
                        Some(FaultKind::Fail) => {
                            return Err(
                                Box::new(InjectedFault) as rmq_runtime::idempotency::BoxError
                            )
                        }
                        Some(FaultKind::Stall) => {
                            stalled();
                            std::future::pending::<()>().await;
                        }
                        None => {}
                    }
                    Ok(value)
                })
            })
            .await;
        match result {
            Ok(Outcome::Applied(v)) => Ok(Some(v)),
            Ok(Outcome::Duplicate) => {
                tracing::info!(
                    group,
                    key = msg.keys().join(" "),
                    "duplicate delivery: no effect"
                );
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(group, key = msg.keys().join(" "), error = %e, "consumer failed");
                Err(GuardError::into_listener_error(e))
            }
        }
    }
}

/// Faults armed for one consumer group.
#[derive(Debug, Default)]
struct Fault {
    fail: u32,
    stall: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultKind {
    Fail,
    Stall,
}

/// The failure [`Shop::fail_next`] injects.
#[derive(Debug, thiserror::Error)]
#[error("injected failure (Shop::fail_next)")]
pub struct InjectedFault;

/// The shop on whichever database the process runs: the bean listeners and HTTP handlers get.
#[derive(Debug, Clone)]
pub enum AnyShop {
    /// On SQLite.
    Sqlite(Shop<Sqlite>),
    /// On PostgreSQL.
    Postgres(Shop<Postgres>),
}

/// Runs `$body` with `$s` bound to the concrete [`Shop`] inside an [`AnyShop`].
#[macro_export]
macro_rules! with_shop {
    ($any:expr, $s:ident => $body:expr) => {
        match $any {
            $crate::service::AnyShop::Sqlite($s) => $body,
            $crate::service::AnyShop::Postgres($s) => $body,
        }
    };
}

impl AnyShop {
    /// A shop over a prepared pool.
    pub fn new(pool: DbPool, cfg: ShopConfig) -> Self {
        match pool {
            DbPool::Sqlite(p) => AnyShop::Sqlite(Shop::new(p, cfg)),
            DbPool::Postgres(p) => AnyShop::Postgres(Shop::new(p, cfg)),
        }
    }

    /// The resolved configuration.
    pub fn config(&self) -> &ShopConfig {
        with_shop!(self, s => s.config())
    }

    /// "sqlite" or "postgres".
    pub fn db_kind(&self) -> &'static str {
        match self {
            AnyShop::Sqlite(_) => Sqlite::KIND,
            AnyShop::Postgres(_) => Postgres::KIND,
        }
    }

    /// See [`Shop::attach_template`].
    pub fn attach_template(&self, template: RocketMqTemplate) {
        with_shop!(self, s => s.attach_template(template))
    }

    /// See [`Shop::fail_next`].
    pub fn fail_next(&self, group: &str, n: u32) {
        with_shop!(self, s => s.fail_next(group, n))
    }

    /// See [`Shop::stall_next`].
    pub fn stall_next(&self, group: &str) {
        with_shop!(self, s => s.stall_next(group))
    }

    /// See [`Shop::stalled`].
    pub async fn stalled(&self) {
        with_shop!(self, s => s.stalled().await)
    }

    /// Every consumer-log row.
    pub async fn consumer_log(&self) -> ShopResult<Vec<ConsumerLogRow>> {
        with_shop!(self, s => s.consumer_log().await)
    }

    /// See [`Shop::confirm_order`].
    pub async fn confirm_order(&self, req: &ConfirmOrder) -> ShopResult<TradeOrder> {
        with_shop!(self, s => s.confirm_order(req).await)
    }

    /// See [`Shop::order`].
    pub async fn order(&self, order_id: i64) -> ShopResult<TradeOrder> {
        with_shop!(self, s => s.order(order_id).await)
    }

    /// See [`Shop::goods`].
    pub async fn goods(&self, goods_id: i64) -> ShopResult<Goods> {
        with_shop!(self, s => s.goods(goods_id).await)
    }

    /// See [`Shop::list_goods`].
    pub async fn list_goods(&self) -> ShopResult<Vec<Goods>> {
        with_shop!(self, s => s.list_goods().await)
    }

    /// See [`Shop::coupon`].
    pub async fn coupon(&self, coupon_id: i64) -> ShopResult<Coupon> {
        with_shop!(self, s => s.coupon(coupon_id).await)
    }

    /// See [`Shop::list_coupons`].
    pub async fn list_coupons(&self) -> ShopResult<Vec<Coupon>> {
        with_shop!(self, s => s.list_coupons().await)
    }

    /// See [`Shop::user`].
    pub async fn user(&self, user_id: i64) -> ShopResult<User> {
        with_shop!(self, s => s.user(user_id).await)
    }

    /// See [`Shop::list_users`].
    pub async fn list_users(&self) -> ShopResult<Vec<User>> {
        with_shop!(self, s => s.list_users().await)
    }

    /// See [`Shop::money_log`].
    pub async fn money_log(&self, user_id: i64) -> ShopResult<Vec<(i64, i64, i64)>> {
        with_shop!(self, s => s.money_log(user_id).await)
    }

    /// The stock log of one goods: (order_id, ±n, log_time).
    pub async fn goods_log(&self, goods_id: i64) -> ShopResult<Vec<(i64, i64, i64)>> {
        with_shop!(self, s => s.goods_log(goods_id).await)
    }

    /// See [`Shop::create_payment`].
    pub async fn create_payment(&self, req: &CreatePayment) -> ShopResult<Pay> {
        with_shop!(self, s => s.create_payment(req).await)
    }

    /// See [`Shop::callback_payment`].
    pub async fn callback_payment(&self, req: &PayCallback) -> ShopResult<Pay> {
        with_shop!(self, s => s.callback_payment(req).await)
    }

    /// See [`Shop::pay`].
    pub async fn pay(&self, pay_id: i64) -> ShopResult<Pay> {
        with_shop!(self, s => s.pay(pay_id).await)
    }

    /// See [`Shop::outbox`].
    pub async fn outbox(&self) -> ShopResult<Vec<OutboxRow>> {
        with_shop!(self, s => s.outbox().await)
    }

    /// See [`Shop::pay_log`].
    pub async fn pay_log(&self) -> ShopResult<Vec<PayLogRow>> {
        with_shop!(self, s => s.pay_log().await)
    }

    /// See [`Shop::wait_outbox_sent`].
    pub async fn wait_outbox_sent(
        &self,
        key: &str,
        timeout: std::time::Duration,
    ) -> ShopResult<bool> {
        with_shop!(self, s => s.wait_outbox_sent(key, timeout).await)
    }

    /// See [`Shop::relay_pending`].
    pub async fn relay_pending(&self) -> ShopResult<usize> {
        with_shop!(self, s => s.relay_pending().await)
    }

    /// Waits until a payment callback writes an outbox row.
    pub async fn outbox_woken(&self) {
        with_shop!(self, s => s.outbox_woken().await)
    }
}
