//! The goods service: owns `trade_goods` and `trade_goods_number_log`.

use rmq_runtime::{ListenerError, MessageExt};

use super::order::CancelMessage;
use super::Shop;
use crate::db::{begin_write, Goods, ShopDb};
use crate::error::{ShopError, ShopResult};
use crate::ids::now_ms;

impl<D: ShopDb> Shop<D> {
    /// One goods row.
    ///
    /// # Errors
    /// [`ShopError::GoodsNotFound`], [`ShopError::Database`].
    pub async fn goods(&self, goods_id: i64) -> ShopResult<Goods> {
        let mut c = self.pool().acquire().await?;
        D::goods(&mut c, goods_id)
            .await?
            .ok_or(ShopError::GoodsNotFound(goods_id))
    }

    /// Every goods row.
    pub async fn list_goods(&self) -> ShopResult<Vec<Goods>> {
        let mut c = self.pool().acquire().await?;
        Ok(D::list_goods(&mut c).await?)
    }

    /// The stock log: (order_id, ±n, log_time).
    pub async fn goods_log(&self, goods_id: i64) -> ShopResult<Vec<(i64, i64, i64)>> {
        let mut c = self.pool().acquire().await?;
        Ok(D::goods_log(&mut c, goods_id).await?)
    }

    /// Takes `n` from stock for the order (logged −n); `false` when there is not enough.
    pub(crate) async fn reduce_stock(
        &self,
        goods_id: i64,
        order_id: i64,
        n: i64,
    ) -> ShopResult<bool> {
        let mut tx = begin_write(self.pool()).await?;
        let done = D::reduce_stock(&mut tx, goods_id, order_id, n, now_ms()).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The cancel consumer: gives back what the order took (logged +n), once.
    pub async fn goods_on_cancel(
        &self,
        msg: &MessageExt,
        cancel: &CancelMessage,
    ) -> Result<(), ListenerError> {
        let (goods_id, order_id) = (cancel.goods_id, cancel.order_id);
        let group = self.config().cancel_groups.goods.clone();
        let restored = self
            .guarded(&group, msg, move |c| {
                Box::pin(D::restore_stock(c, goods_id, order_id, now_ms()))
            })
            .await?;
        if let Some(Some(n)) = restored {
            tracing::info!(order_id, goods_id, n, "stock restored");
        }
        Ok(())
    }
}
