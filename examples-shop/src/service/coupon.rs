//! The coupon service: owns `trade_coupon`.

use rmq_runtime::{ListenerError, MessageExt};

use super::order::CancelMessage;
use super::Shop;
use crate::db::{begin_write, Coupon, ShopDb};
use crate::error::{ShopError, ShopResult};
use crate::ids::now_ms;

impl<D: ShopDb> Shop<D> {
    /// One coupon.
    ///
    /// # Errors
    /// [`ShopError::CouponNotFound`], [`ShopError::Database`].
    pub async fn coupon(&self, coupon_id: i64) -> ShopResult<Coupon> {
        let mut c = self.pool().acquire().await?;
        D::coupon(&mut c, coupon_id)
            .await?
            .ok_or(ShopError::CouponNotFound(coupon_id))
    }

    /// Every coupon.
    pub async fn list_coupons(&self) -> ShopResult<Vec<Coupon>> {
        let mut c = self.pool().acquire().await?;
        Ok(D::list_coupons(&mut c).await?)
    }

    /// Marks the coupon used by the order; `false` when it is used already.
    pub(crate) async fn use_coupon(&self, coupon_id: i64, order_id: i64) -> ShopResult<bool> {
        let mut tx = begin_write(self.pool()).await?;
        let done = D::use_coupon(&mut tx, coupon_id, order_id, now_ms()).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The cancel consumer: marks the order's coupon unused (is_used 0, order_id and used_time null), once.
    pub async fn coupon_on_cancel(
        &self,
        msg: &MessageExt,
        cancel: &CancelMessage,
    ) -> Result<(), ListenerError> {
        let order_id = cancel.order_id;
        let group = self.config().cancel_groups.coupon.clone();
        let Some(coupon_id) = cancel.coupon_id else {
            // Still recorded in the consumer log, so every group shows the message as handled.
            self.guarded(&group, msg, |_| Box::pin(async { Ok(false) }))
                .await?;
            return Ok(());
        };
        let released = self
            .guarded(&group, msg, move |c| {
                Box::pin(D::release_coupon(c, coupon_id, order_id))
            })
            .await?;
        if released == Some(true) {
            tracing::info!(order_id, coupon_id, "coupon released");
        }
        Ok(())
    }
}
