//! The order service: owns `trade_order`; confirms orders (the orchestration of the other services), and
//! cancels them on the cancel message.
//!
//! # Confirm order
//!
//! 1. Checks, answered with an error and no message: the order's fields are present, the goods and the user
//!    exist, the price is the goods price, the stock covers the quantity (the notes' `>=` refused the last
//!    item; here only a quantity *above* the stock is refused).
//! 2. Pre-order checks, likewise without a message: price × quantity = order amount; shipping fee 0 above
//!    100.00, else 10.00, as the client sent it; the coupon, if any, exists, is the user's and is unused
//!    (coupon_paid = its value); 0 ≤ money_paid ≤ balance; pay_amount = order_amount − coupon_paid −
//!    money_paid, not negative. Then the pre-order is saved with order_status 0 and a snowflake id.
//! 3. In order, each in its own transaction (as separate services would): reduce stock (log −n), mark the
//!    coupon used, pay from the balance (log type 1), confirm (order_status 1, pay_status 0, confirm_time).
//! 4. If a step of 3 fails: the cancel message goes to `orderTopic:order_cancel` with key = order id and the
//!    body [`CancelMessage`], and the caller gets [`ShopError::ConfirmFailed`]. The four cancel consumers
//!    (one consumer group per service) give back exactly what was taken: each reads what its own service
//!    took for the order from its own log, so a failure at step 3's first step gives back nothing.
//!
//! [`ConfirmOrder::fail_at`] makes a step of 3 fail on purpose, as the notes' tests inject a failure.

use std::time::Duration;

use rmq_runtime::{ListenerError, MessageExt};
use serde::{Deserialize, Serialize};

use super::Shop;
use crate::db::{begin_write, ShopDb, TradeOrder};
use crate::error::{ShopError, ShopResult};
use crate::ids::now_ms;

/// Orders above this amount (100.00) ship free.
pub const FREE_SHIPPING_OVER: i64 = 10_000;
/// The shipping fee below it (10.00).
pub const SHIPPING_FEE: i64 = 1_000;

/// The shipping fee the rule gives for an order amount.
pub fn shipping_fee_for(order_amount: i64) -> i64 {
    if order_amount > FREE_SHIPPING_OVER {
        0
    } else {
        SHIPPING_FEE
    }
}

/// The confirm-order request (the notes' TradeOrder as the client sends it). Money in cents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmOrder {
    /// Buyer (required).
    pub user_id: Option<i64>,
    /// Goods (required).
    pub goods_id: Option<i64>,
    /// Quantity, at least 1 (required).
    pub goods_number: Option<i64>,
    /// Unit price as the client saw it (required; must be the goods price).
    pub goods_price: Option<i64>,
    /// price × quantity (required).
    pub order_amount: Option<i64>,
    /// Shipping fee as the client computed it (required).
    pub shipping_fee: Option<i64>,
    /// Coupon to use.
    pub coupon_id: Option<i64>,
    /// Paid from the balance (default 0).
    pub money_paid: Option<i64>,
    /// Address.
    #[serde(default)]
    pub address: String,
    /// Consignee.
    #[serde(default)]
    pub consignee: String,
    /// Failure injection: make this step of the confirmation fail (after the steps before it succeeded).
    pub fail_at: Option<FailAt>,
}

/// A step of the confirmation that [`ConfirmOrder::fail_at`] can make fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailAt {
    /// Reducing stock (nothing was taken yet).
    ReduceStock,
    /// Using the coupon (stock was taken).
    UseCoupon,
    /// Paying from the balance (stock and coupon were taken).
    PayMoney,
    /// Confirming (stock, coupon and balance were taken).
    Confirm,
}

impl FailAt {
    /// The step's name in errors.
    pub fn step(self) -> &'static str {
        match self {
            FailAt::ReduceStock => "reduce stock",
            FailAt::UseCoupon => "use coupon",
            FailAt::PayMoney => "pay from balance",
            FailAt::Confirm => "confirm",
        }
    }
}

/// The cancel message's body (JSON, as the notes define it). Money in cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelMessage {
    /// The order.
    pub order_id: i64,
    /// Its coupon, if any.
    pub coupon_id: Option<i64>,
    /// Its goods.
    pub goods_id: i64,
    /// Its quantity.
    pub goods_number: i64,
    /// Its buyer.
    pub user_id: i64,
    /// What it paid from the balance (money_paid).
    pub user_money: i64,
}

fn required(v: Option<i64>, field: &str) -> ShopResult<i64> {
    v.ok_or_else(|| ShopError::InvalidRequest(format!("{field} is required")))
}

impl<D: ShopDb> Shop<D> {
    /// One order.
    ///
    /// # Errors
    /// [`ShopError::OrderNotFound`], [`ShopError::Database`].
    pub async fn order(&self, order_id: i64) -> ShopResult<TradeOrder> {
        let mut c = self.pool().acquire().await?;
        D::order(&mut c, order_id)
            .await?
            .ok_or(ShopError::OrderNotFound(order_id))
    }

    /// Checks the request (steps 1 and 2 of the [module docs](self)) and builds the pre-order.
    async fn check_order(&self, req: &ConfirmOrder) -> ShopResult<TradeOrder> {
        let user_id = required(req.user_id, "userId")?;
        let goods_id = required(req.goods_id, "goodsId")?;
        let goods_number = required(req.goods_number, "goodsNumber")?;
        let goods_price = required(req.goods_price, "goodsPrice")?;
        let order_amount = required(req.order_amount, "orderAmount")?;
        let shipping_fee = required(req.shipping_fee, "shippingFee")?;
        let money_paid = req.money_paid.unwrap_or(0);
        if goods_number < 1 {
            return Err(ShopError::InvalidRequest(format!(
                "goodsNumber must be at least 1 (got {goods_number})"
            )));
        }

        let mut c = self.pool().acquire().await?;
        // 1. goods, user, price, stock.
        let goods = D::goods(&mut c, goods_id)
            .await?
            .ok_or(ShopError::GoodsNotFound(goods_id))?;
        let user = D::user(&mut c, user_id)
            .await?
            .ok_or(ShopError::UserNotFound(user_id))?;
        if goods_price != goods.goods_price {
            return Err(ShopError::PriceMismatch {
                expected: goods.goods_price,
                given: goods_price,
            });
        }
        if goods_number > goods.goods_number {
            return Err(ShopError::OutOfStock {
                goods_id,
                stock: goods.goods_number,
                wanted: goods_number,
            });
        }

        // 2. amounts, coupon, balance.
        let goods_amount = goods_price
            .checked_mul(goods_number)
            .ok_or_else(|| ShopError::InvalidRequest("price × quantity overflows".into()))?;
        if order_amount != goods_amount {
            return Err(ShopError::OrderAmountInvalid {
                expected: goods_amount,
                given: order_amount,
            });
        }
        let expected_fee = shipping_fee_for(order_amount);
        if shipping_fee != expected_fee {
            return Err(ShopError::ShippingFeeInvalid {
                expected: expected_fee,
                given: shipping_fee,
            });
        }
        let coupon_paid = match req.coupon_id {
            None => 0,
            Some(coupon_id) => {
                let coupon = D::coupon(&mut c, coupon_id)
                    .await?
                    .ok_or(ShopError::CouponNotFound(coupon_id))?;
                if coupon.user_id != user_id {
                    return Err(ShopError::CouponNotOwned { coupon_id, user_id });
                }
                if coupon.is_used != 0 {
                    return Err(ShopError::CouponUsed(coupon_id));
                }
                coupon.coupon_price
            }
        };
        if money_paid < 0 {
            return Err(ShopError::MoneyPaidNegative(money_paid));
        }
        if money_paid > user.user_money {
            return Err(ShopError::MoneyPaidExceedsBalance {
                money_paid,
                balance: user.user_money,
            });
        }
        let pay_amount = order_amount - coupon_paid - money_paid;
        if pay_amount < 0 {
            return Err(ShopError::PaidTooMuch {
                coupon_paid,
                money_paid,
                order_amount,
            });
        }
        Ok(TradeOrder {
            order_id: self.next_id(),
            user_id,
            order_status: 0,
            pay_status: 0,
            shipping_status: 0,
            address: req.address.clone(),
            consignee: req.consignee.clone(),
            goods_id,
            goods_number,
            goods_price,
            goods_amount,
            shipping_fee,
            order_amount,
            coupon_id: req.coupon_id,
            coupon_paid,
            money_paid,
            pay_amount,
            add_time: now_ms(),
            confirm_time: None,
            pay_time: None,
        })
    }

    /// Confirms an order; see the [module docs](self).
    ///
    /// # Errors
    /// A check's error (no message sent), or [`ShopError::ConfirmFailed`] after a step of the confirmation
    /// failed and the cancel message went out.
    pub async fn confirm_order(&self, req: &ConfirmOrder) -> ShopResult<TradeOrder> {
        let order = self.check_order(req).await?;
        let order_id = order.order_id;
        {
            let mut tx = begin_write(self.pool()).await?;
            D::insert_order(&mut tx, &order).await?;
            tx.commit().await?;
        }

        if let Err((step, reason)) = self.run_confirm_steps(&order, req.fail_at).await {
            tracing::warn!(order_id, step, %reason, "order confirmation failed; cancelling");
            let cancel_sent = match self.send_cancel(&order).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(order_id, error = %e, "cancel message not sent: the order stays unconfirmed with what it took");
                    false
                }
            };
            return Err(ShopError::ConfirmFailed {
                order_id,
                step,
                reason,
                cancel_sent,
            });
        }
        self.order(order_id).await
    }

    /// Step 3: stock, coupon, balance, confirm. On failure, the step and why.
    async fn run_confirm_steps(
        &self,
        o: &TradeOrder,
        fail_at: Option<FailAt>,
    ) -> Result<(), (&'static str, String)> {
        let injected = |step: FailAt| -> Result<(), (&'static str, String)> {
            if fail_at == Some(step) {
                Err((
                    step.step(),
                    "failure injected by the request (failAt)".to_string(),
                ))
            } else {
                Ok(())
            }
        };
        let db = |step: FailAt| move |e: ShopError| (step.step(), e.to_string());

        injected(FailAt::ReduceStock)?;
        if !self
            .reduce_stock(o.goods_id, o.order_id, o.goods_number)
            .await
            .map_err(db(FailAt::ReduceStock))?
        {
            return Err((FailAt::ReduceStock.step(), "not enough stock".into()));
        }

        injected(FailAt::UseCoupon)?;
        if let Some(coupon_id) = o.coupon_id {
            if !self
                .use_coupon(coupon_id, o.order_id)
                .await
                .map_err(db(FailAt::UseCoupon))?
            {
                return Err((
                    FailAt::UseCoupon.step(),
                    format!("coupon {coupon_id} is already used"),
                ));
            }
        }

        injected(FailAt::PayMoney)?;
        if o.money_paid > 0
            && !self
                .pay_money(o.user_id, o.order_id, o.money_paid)
                .await
                .map_err(db(FailAt::PayMoney))?
        {
            return Err((FailAt::PayMoney.step(), "balance too low".into()));
        }

        injected(FailAt::Confirm)?;
        let confirmed = async {
            let mut tx = begin_write(self.pool()).await?;
            let done = D::confirm_order(&mut tx, o.order_id, now_ms()).await?;
            tx.commit().await?;
            Ok::<_, ShopError>(done)
        }
        .await
        .map_err(db(FailAt::Confirm))?;
        if !confirmed {
            return Err((
                FailAt::Confirm.step(),
                "the order is no longer unconfirmed".into(),
            ));
        }
        Ok(())
    }

    /// Sends the cancel message (key = order id), retrying a few times on a broker error.
    async fn send_cancel(&self, o: &TradeOrder) -> ShopResult<()> {
        let template = self.template()?;
        let body = CancelMessage {
            order_id: o.order_id,
            coupon_id: o.coupon_id,
            goods_id: o.goods_id,
            goods_number: o.goods_number,
            user_id: o.user_id,
            user_money: o.money_paid,
        };
        let dest = self.config().cancel_destination();
        let mut attempt = 0;
        loop {
            let out = template.payload(&body)?.key(o.order_id.to_string());
            match template.sync_send(&dest, out).await {
                Ok(sent) => {
                    tracing::info!(order_id = o.order_id, msg_id = %sent.msg_id, "cancel message sent");
                    return Ok(());
                }
                Err(e) if attempt < 3 => {
                    attempt += 1;
                    tracing::warn!(order_id = o.order_id, attempt, error = %e, "cancel send failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The cancel consumer: unconfirmed → cancelled (order_status 2), once.
    pub async fn order_on_cancel(
        &self,
        msg: &MessageExt,
        cancel: &CancelMessage,
    ) -> Result<(), ListenerError> {
        let order_id = cancel.order_id;
        let group = self.config().cancel_groups.order.clone();
        let cancelled = self
            .guarded(&group, msg, move |c| Box::pin(D::cancel_order(c, order_id)))
            .await?;
        match cancelled {
            Some(true) => tracing::info!(order_id, "order cancelled"),
            Some(false) => tracing::warn!(
                order_id,
                "cancel message for an order that is not unconfirmed: left as it is"
            ),
            None => {}
        }
        Ok(())
    }
}
