//! The pay service: owns `trade_pay`, `trade_mq_producer_temp` (the outbox) and `trade_pay_log`.
//!
//! # Payment callback and the outbox
//!
//! The third party's callback marks the payment paid (is_paid 1 → 2, only from 1) and, **in the same
//! transaction**, writes the pay message to the outbox. The caller is answered as soon as that commits; a
//! second callback finds is_paid 2, is answered "already paid" and writes nothing. The relay
//! ([`Shop::relay_pending`], run by [`crate::relay`] at start-up, when woken by a callback, and
//! periodically) sends each pending row to `payTopic:paid` with key = pay id and marks it sent. A crash
//! between the commit and the send leaves the row pending, and the next relay run sends it; a crash between
//! the send and the mark sends it twice, which the consumers' guard turns into one effect.
//!
//! # Pay consumers
//!
//! order: pay_status 2 and pay_time; user: score + pay_amount / 100 (one point per 1.00); pay log: one
//! `trade_pay_log` row. Each in its own consumer group, each under the guard.

use rmq_runtime::{ListenerError, MessageExt, Outgoing};
use serde::{Deserialize, Serialize};

use super::Shop;
use crate::db::{begin_write, OutboxRow, Pay, PayLogRow, ShopDb};
use crate::error::{ShopError, ShopResult};
use crate::ids::now_ms;

/// Create a payment for an order (the notes' TradePay). Money in cents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePayment {
    /// The order (required).
    pub order_id: Option<i64>,
    /// The amount; when given it must be the order's pay_amount.
    pub pay_amount: Option<i64>,
}

/// The third party's callback.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayCallback {
    /// The payment (required).
    pub pay_id: Option<i64>,
    /// 2 = paid (required; anything else is refused).
    pub is_paid: Option<i64>,
}

/// The pay message's body. Money in cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaidMessage {
    /// The payment.
    pub pay_id: i64,
    /// Its order.
    pub order_id: i64,
    /// The order's buyer.
    pub user_id: i64,
    /// The amount paid.
    pub pay_amount: i64,
}

/// Score for a payment: one point per 1.00.
pub fn score_for(pay_amount: i64) -> i64 {
    pay_amount / 100
}

impl<D: ShopDb> Shop<D> {
    /// One payment.
    ///
    /// # Errors
    /// [`ShopError::PayNotFound`], [`ShopError::Database`].
    pub async fn pay(&self, pay_id: i64) -> ShopResult<Pay> {
        let mut c = self.pool().acquire().await?;
        D::pay(&mut c, pay_id)
            .await?
            .ok_or(ShopError::PayNotFound(pay_id))
    }

    /// Creates a payment (is_paid 1) for a confirmed order that has no paid payment.
    ///
    /// # Errors
    /// [`ShopError::InvalidRequest`], [`ShopError::OrderNotFound`], [`ShopError::OrderNotConfirmed`],
    /// [`ShopError::OrderAlreadyPaid`], [`ShopError::PayAmountInvalid`], [`ShopError::Database`].
    pub async fn create_payment(&self, req: &CreatePayment) -> ShopResult<Pay> {
        let order_id = req
            .order_id
            .ok_or_else(|| ShopError::InvalidRequest("orderId is required".into()))?;
        let mut tx = begin_write(self.pool()).await?;
        let order = D::order(&mut tx, order_id)
            .await?
            .ok_or(ShopError::OrderNotFound(order_id))?;
        if order.pay_status == 2 || D::order_has_paid_payment(&mut tx, order_id).await? {
            return Err(ShopError::OrderAlreadyPaid(order_id));
        }
        if order.order_status != 1 {
            return Err(ShopError::OrderNotConfirmed {
                order_id,
                status: order.order_status,
            });
        }
        if let Some(given) = req.pay_amount {
            if given != order.pay_amount {
                return Err(ShopError::PayAmountInvalid {
                    order_id,
                    expected: order.pay_amount,
                    given,
                });
            }
        }
        let pay = Pay {
            pay_id: self.next_id(),
            order_id,
            pay_amount: order.pay_amount,
            is_paid: 1,
        };
        D::insert_pay(&mut tx, &pay).await?;
        tx.commit().await?;
        Ok(pay)
    }

    /// The payment callback: is_paid 1 → 2 and the outbox row, in one transaction; see the
    /// [module docs](self). Wakes the relay.
    ///
    /// # Errors
    /// [`ShopError::InvalidRequest`], [`ShopError::CallbackNotPaid`], [`ShopError::PayNotFound`],
    /// [`ShopError::PayAlreadyPaid`] (a repeated callback: nothing is written or sent),
    /// [`ShopError::Database`].
    pub async fn callback_payment(&self, req: &PayCallback) -> ShopResult<Pay> {
        let pay_id = req
            .pay_id
            .ok_or_else(|| ShopError::InvalidRequest("payId is required".into()))?;
        let is_paid = req
            .is_paid
            .ok_or_else(|| ShopError::InvalidRequest("isPaid is required".into()))?;
        if is_paid != 2 {
            return Err(ShopError::CallbackNotPaid { pay_id, is_paid });
        }
        let cfg = self.config();
        let mut tx = begin_write(self.pool()).await?;
        let pay = D::pay(&mut tx, pay_id)
            .await?
            .ok_or(ShopError::PayNotFound(pay_id))?;
        if !D::mark_pay_paid(&mut tx, pay_id).await? {
            return Err(ShopError::PayAlreadyPaid(pay_id));
        }
        let order = D::order(&mut tx, pay.order_id)
            .await?
            .ok_or(ShopError::OrderNotFound(pay.order_id))?;
        let body = PaidMessage {
            pay_id,
            order_id: pay.order_id,
            user_id: order.user_id,
            pay_amount: pay.pay_amount,
        };
        let body = serde_json::to_string(&body).map_err(|e| {
            ShopError::InvalidRequest(format!("pay message does not serialize: {e}"))
        })?;
        let row = OutboxRow {
            id: self.next_id(),
            group_name: cfg.producer_group.clone(),
            msg_topic: cfg.pay_topic.clone(),
            msg_tag: cfg.pay_tag_paid.clone(),
            msg_key: pay_id.to_string(),
            msg_body: body,
            msg_status: 0,
            create_time: now_ms(),
        };
        D::insert_outbox(&mut tx, &row).await?;
        tx.commit().await?;
        self.inner.outbox_wake.notify_one();
        Ok(Pay { is_paid: 2, ..pay })
    }

    /// Every outbox row.
    pub async fn outbox(&self) -> ShopResult<Vec<OutboxRow>> {
        let mut c = self.pool().acquire().await?;
        Ok(D::list_outbox(&mut c).await?)
    }

    /// The pay log.
    pub async fn pay_log(&self) -> ShopResult<Vec<PayLogRow>> {
        let mut c = self.pool().acquire().await?;
        Ok(D::list_pay_log(&mut c).await?)
    }

    /// Sends the pending outbox rows (oldest first) and marks each sent; stops at the first send that fails
    /// (the row stays pending for the next run). Returns how many were sent.
    ///
    /// # Errors
    /// [`ShopError::Database`], [`ShopError::Messaging`], [`ShopError::NotStarted`].
    pub async fn relay_pending(&self) -> ShopResult<usize> {
        let template = self.template()?;
        let mut sent = 0;
        loop {
            let rows = {
                let mut c = self.pool().acquire().await?;
                D::pending_outbox(&mut c, 100).await?
            };
            if rows.is_empty() {
                return Ok(sent);
            }
            for row in rows {
                let dest = format!("{}:{}", row.msg_topic, row.msg_tag);
                let out = Outgoing::new(row.msg_body.clone()).key(row.msg_key.clone());
                let result = template.sync_send(&dest, out).await?;
                let mut tx = begin_write(self.pool()).await?;
                D::mark_outbox_sent(&mut tx, row.id).await?;
                tx.commit().await?;
                self.inner.outbox_sent.notify_waiters();
                tracing::info!(outbox_id = row.id, key = %row.msg_key, msg_id = %result.msg_id, "outbox row sent");
                sent += 1;
            }
        }
    }

    /// Waits until the outbox row with message key `key` is marked sent; false after `timeout`. The relay
    /// marks a row after its send returns, so a consumer can see the message before the row says so.
    ///
    /// # Errors
    /// [`ShopError::Database`].
    pub async fn wait_outbox_sent(
        &self,
        key: &str,
        timeout: std::time::Duration,
    ) -> ShopResult<bool> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let sent = self.inner.outbox_sent.notified();
            tokio::pin!(sent);
            sent.as_mut().enable();
            let rows = self.outbox().await?;
            if rows.iter().any(|r| r.msg_key == key && r.msg_status == 1) {
                return Ok(true);
            }
            if tokio::time::timeout_at(deadline, sent).await.is_err() {
                return Ok(false);
            }
        }
    }

    /// Waits until a callback wakes the relay (or forever).
    pub(crate) async fn outbox_woken(&self) {
        self.inner.outbox_wake.notified().await;
    }

    /// Pay consumer of the order service: pay_status 2 and pay_time, once.
    pub async fn order_on_paid(
        &self,
        msg: &MessageExt,
        paid: &PaidMessage,
    ) -> Result<(), ListenerError> {
        let order_id = paid.order_id;
        let group = self.config().pay_groups.order.clone();
        let marked = self
            .guarded(&group, msg, move |c| {
                Box::pin(D::mark_order_paid(c, order_id, now_ms()))
            })
            .await?;
        if marked == Some(true) {
            tracing::info!(order_id, pay_id = paid.pay_id, "order paid");
        }
        Ok(())
    }

    /// Pay consumer of the user service: adds the score, once.
    pub async fn user_on_paid(
        &self,
        msg: &MessageExt,
        paid: &PaidMessage,
    ) -> Result<(), ListenerError> {
        let (user_id, score) = (paid.user_id, score_for(paid.pay_amount));
        let group = self.config().pay_groups.user.clone();
        self.guarded(&group, msg, move |c| {
            Box::pin(D::add_score(c, user_id, score))
        })
        .await?;
        Ok(())
    }

    /// The pay-log consumer: records the payment in `trade_pay_log`, once.
    pub async fn pay_log_on_paid(
        &self,
        msg: &MessageExt,
        paid: &PaidMessage,
    ) -> Result<(), ListenerError> {
        let row = PayLogRow {
            pay_id: paid.pay_id,
            order_id: paid.order_id,
            pay_amount: paid.pay_amount,
            log_time: now_ms(),
        };
        let group = self.config().pay_groups.log.clone();
        self.guarded(&group, msg, move |c| {
            Box::pin(async move { D::insert_pay_log(c, &row).await })
        })
        .await?;
        Ok(())
    }
}
