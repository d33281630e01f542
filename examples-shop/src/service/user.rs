//! The user service: owns `trade_user` and `trade_user_money_log`.

use rmq_runtime::{ListenerError, MessageExt};

use super::order::CancelMessage;
use super::Shop;
use crate::db::{begin_write, ShopDb, User};
use crate::error::{ShopError, ShopResult};
use crate::ids::now_ms;

impl<D: ShopDb> Shop<D> {
    /// One user.
    ///
    /// # Errors
    /// [`ShopError::UserNotFound`], [`ShopError::Database`].
    pub async fn user(&self, user_id: i64) -> ShopResult<User> {
        let mut c = self.pool().acquire().await?;
        D::user(&mut c, user_id)
            .await?
            .ok_or(ShopError::UserNotFound(user_id))
    }

    /// Every user.
    pub async fn list_users(&self) -> ShopResult<Vec<User>> {
        let mut c = self.pool().acquire().await?;
        Ok(D::list_users(&mut c).await?)
    }

    /// The user's money log: (order_id, type 1 paid / 2 refunded, amount).
    pub async fn money_log(&self, user_id: i64) -> ShopResult<Vec<(i64, i64, i64)>> {
        let mut c = self.pool().acquire().await?;
        Ok(D::money_log(&mut c, user_id).await?)
    }

    /// Pays `amount` of the order from the balance (logged, type 1); `false` when the balance is short.
    pub(crate) async fn pay_money(
        &self,
        user_id: i64,
        order_id: i64,
        amount: i64,
    ) -> ShopResult<bool> {
        let mut tx = begin_write(self.pool()).await?;
        let done = D::pay_money(&mut tx, user_id, order_id, amount, now_ms()).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The cancel consumer: refunds what the order paid from the balance (type 2, at most once per order).
    ///
    /// The amount comes from the order's type-1 log row, not the message, so a failure before the balance
    /// step refunds nothing; a message whose `userMoney` disagrees is logged.
    pub async fn user_on_cancel(
        &self,
        msg: &MessageExt,
        cancel: &CancelMessage,
    ) -> Result<(), ListenerError> {
        let (user_id, order_id) = (cancel.user_id, cancel.order_id);
        let group = self.config().cancel_groups.user.clone();
        let refunded = self
            .guarded(&group, msg, move |c| {
                Box::pin(D::refund_money(c, user_id, order_id, now_ms()))
            })
            .await?;
        if let Some(Some(amount)) = refunded {
            if amount != cancel.user_money {
                tracing::warn!(
                    order_id,
                    amount,
                    message_says = cancel.user_money,
                    "refund differs from the message"
                );
            }
            tracing::info!(order_id, user_id, amount, "balance refunded");
        }
        Ok(())
    }
}
