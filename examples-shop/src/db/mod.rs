//! The shop's database: SQLite (the default, a file under the data directory) or PostgreSQL
//! (`DATABASE_URL=postgres://...`), with the same SQL on both.
//!
//! Every statement lives in [`ShopDb`], a sealed trait implemented for [`sqlx::Sqlite`] and
//! [`sqlx::Postgres`] by one macro, so the text and the bindings are written once. The services are generic
//! over `D: ShopDb` and call `D::reduce_stock(&mut *tx, ..)`; inside a consumer, the idempotency guard hands
//! the handler the claiming transaction's `&mut D::Connection`, and the same methods run on it. (Generic
//! sqlx code written directly against `Executor`/`Encode` bounds would need a dozen higher-ranked
//! where-clauses on every function; the trait keeps them in one place.)
//!
//! Placeholders are `$1..$n`, which SQLite accepts too; `ON CONFLICT .. DO NOTHING` exists in both.
//! Money is integer cents and times are epoch milliseconds, all `BIGINT` (so `i64` on both sides).

mod rows;
mod seed;

use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use rmq_runtime::idempotency::GuardDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Postgres, Sqlite};

pub use rows::{ConsumerLogRow, Coupon, Goods, OutboxRow, Pay, PayLogRow, TradeOrder, User};
pub use seed::{seed_data, SeedCoupon, SeedGoods, SeedUser, SEED};

/// The migrations of `migrations/` at the workspace root, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// What a query returns.
pub type DbResult<T> = Result<T, sqlx::Error>;

mod sealed {
    pub trait Sealed {}
    impl Sealed for sqlx::Sqlite {}
    impl Sealed for sqlx::Postgres {}
}

/// A database the shop runs on: [`sqlx::Sqlite`] or [`sqlx::Postgres`]. Sealed.
///
/// Each method runs one step on a connection (a transaction's, the guard's, or a pooled one). Methods that
/// change state conditionally return whether they did (`false`: the condition did not hold).
pub trait ShopDb: GuardDatabase + sealed::Sealed {
    /// How a transaction that writes begins. SQLite: `BEGIN IMMEDIATE`, taking the write lock before the
    /// first read, so a read-then-write transaction never fails to upgrade its lock under concurrency.
    const BEGIN_WRITE: Option<&'static str>;

    /// The pool's display name ("sqlite" / "postgres").
    const KIND: &'static str;

    // ---- goods ----------------------------------------------------------------------------------------

    /// One goods row.
    fn goods(
        c: &mut Self::Connection,
        goods_id: i64,
    ) -> impl Future<Output = DbResult<Option<Goods>>> + Send;
    /// Every goods row, by id.
    fn list_goods(c: &mut Self::Connection) -> impl Future<Output = DbResult<Vec<Goods>>> + Send;
    /// Takes `n` from stock if at least `n` are there, and logs `-n` for the order.
    fn reduce_stock(
        c: &mut Self::Connection,
        goods_id: i64,
        order_id: i64,
        n: i64,
        now: i64,
    ) -> impl Future<Output = DbResult<bool>> + Send;
    /// Gives back what the order took (per its `-n` log row), once: logs `+n` and adds it to stock.
    /// `None` when the order took nothing or was already restored, else the amount restored.
    fn restore_stock(
        c: &mut Self::Connection,
        goods_id: i64,
        order_id: i64,
        now: i64,
    ) -> impl Future<Output = DbResult<Option<i64>>> + Send;
    /// The stock log of one goods, oldest first.
    fn goods_log(
        c: &mut Self::Connection,
        goods_id: i64,
    ) -> impl Future<Output = DbResult<Vec<(i64, i64, i64)>>> + Send;

    // ---- coupons ---------------------------------------------------------------------------------------

    /// One coupon.
    fn coupon(
        c: &mut Self::Connection,
        coupon_id: i64,
    ) -> impl Future<Output = DbResult<Option<Coupon>>> + Send;
    /// Every coupon, by id.
    fn list_coupons(c: &mut Self::Connection)
        -> impl Future<Output = DbResult<Vec<Coupon>>> + Send;
    /// Marks an unused coupon used by the order.
    fn use_coupon(
        c: &mut Self::Connection,
        coupon_id: i64,
        order_id: i64,
        now: i64,
    ) -> impl Future<Output = DbResult<bool>> + Send;
    /// Marks the coupon unused again, if this order is the one that used it.
    fn release_coupon(
        c: &mut Self::Connection,
        coupon_id: i64,
        order_id: i64,
    ) -> impl Future<Output = DbResult<bool>> + Send;

    // ---- users -----------------------------------------------------------------------------------------

    /// One user.
    fn user(
        c: &mut Self::Connection,
        user_id: i64,
    ) -> impl Future<Output = DbResult<Option<User>>> + Send;
    /// Every user, by id.
    fn list_users(c: &mut Self::Connection) -> impl Future<Output = DbResult<Vec<User>>> + Send;
    /// Takes `amount` from the balance if it is there, and logs it (type 1) for the order.
    fn pay_money(
        c: &mut Self::Connection,
        user_id: i64,
        order_id: i64,
        amount: i64,
        now: i64,
    ) -> impl Future<Output = DbResult<bool>> + Send;
    /// Refunds what the order paid from the balance (per its type-1 log row), once (type-2 row, unique).
    /// `None` when nothing was paid or it was already refunded, else the amount refunded.
    fn refund_money(
        c: &mut Self::Connection,
        user_id: i64,
        order_id: i64,
        now: i64,
    ) -> impl Future<Output = DbResult<Option<i64>>> + Send;
    /// Adds to the user's score.
    fn add_score(
        c: &mut Self::Connection,
        user_id: i64,
        score: i64,
    ) -> impl Future<Output = DbResult<bool>> + Send;
    /// The money log of one user: (order_id, type, amount), oldest first.
    fn money_log(
        c: &mut Self::Connection,
        user_id: i64,
    ) -> impl Future<Output = DbResult<Vec<(i64, i64, i64)>>> + Send;

    // ---- orders ----------------------------------------------------------------------------------------

    /// Saves a pre-order.
    fn insert_order(
        c: &mut Self::Connection,
        o: &TradeOrder,
    ) -> impl Future<Output = DbResult<()>> + Send;
    /// One order.
    fn order(
        c: &mut Self::Connection,
        order_id: i64,
    ) -> impl Future<Output = DbResult<Option<TradeOrder>>> + Send;
    /// Unconfirmed → confirmed (order_status 1, pay_status 0, confirm_time).
    fn confirm_order(
        c: &mut Self::Connection,
        order_id: i64,
        now: i64,
    ) -> impl Future<Output = DbResult<bool>> + Send;
    /// Unconfirmed → cancelled (order_status 2).
    fn cancel_order(
        c: &mut Self::Connection,
        order_id: i64,
    ) -> impl Future<Output = DbResult<bool>> + Send;
    /// pay_status → 2 with pay_time, unless already paid.
    fn mark_order_paid(
        c: &mut Self::Connection,
        order_id: i64,
        now: i64,
    ) -> impl Future<Output = DbResult<bool>> + Send;

    // ---- payments and the outbox -------------------------------------------------------------------------

    /// Whether the order has a paid payment.
    fn order_has_paid_payment(
        c: &mut Self::Connection,
        order_id: i64,
    ) -> impl Future<Output = DbResult<bool>> + Send;
    /// Saves a payment.
    fn insert_pay(c: &mut Self::Connection, p: &Pay) -> impl Future<Output = DbResult<()>> + Send;
    /// One payment.
    fn pay(
        c: &mut Self::Connection,
        pay_id: i64,
    ) -> impl Future<Output = DbResult<Option<Pay>>> + Send;
    /// is_paid 1 → 2.
    fn mark_pay_paid(
        c: &mut Self::Connection,
        pay_id: i64,
    ) -> impl Future<Output = DbResult<bool>> + Send;
    /// Writes an outbox row.
    fn insert_outbox(
        c: &mut Self::Connection,
        r: &OutboxRow,
    ) -> impl Future<Output = DbResult<()>> + Send;
    /// Pending outbox rows, oldest first.
    fn pending_outbox(
        c: &mut Self::Connection,
        limit: i64,
    ) -> impl Future<Output = DbResult<Vec<OutboxRow>>> + Send;
    /// Every outbox row, oldest first.
    fn list_outbox(
        c: &mut Self::Connection,
    ) -> impl Future<Output = DbResult<Vec<OutboxRow>>> + Send;
    /// Marks an outbox row sent.
    fn mark_outbox_sent(
        c: &mut Self::Connection,
        id: i64,
    ) -> impl Future<Output = DbResult<bool>> + Send;
    /// Records a payment in the pay log, once per pay id.
    fn insert_pay_log(
        c: &mut Self::Connection,
        r: &PayLogRow,
    ) -> impl Future<Output = DbResult<bool>> + Send;
    /// The pay log, oldest first.
    fn list_pay_log(
        c: &mut Self::Connection,
    ) -> impl Future<Output = DbResult<Vec<PayLogRow>>> + Send;

    // ---- the consumer log (the idempotency guard's table) -------------------------------------------------

    /// Every consumer-log row, by group, tag and key.
    fn consumer_log(
        c: &mut Self::Connection,
    ) -> impl Future<Output = DbResult<Vec<ConsumerLogRow>>> + Send;

    // ---- seed ------------------------------------------------------------------------------------------

    /// Inserts the seed users, goods and coupons that are missing (existing rows are left alone).
    fn seed(c: &mut Self::Connection, now: i64) -> impl Future<Output = DbResult<()>> + Send;
}

macro_rules! impl_shop_db {
    ($db:ty, $name:expr, $begin:expr) => {
        impl ShopDb for $db {
            const BEGIN_WRITE: Option<&'static str> = $begin;
            const KIND: &'static str = $name;

            async fn goods(c: &mut Self::Connection, goods_id: i64) -> DbResult<Option<Goods>> {
                sqlx::query_as::<_, Goods>(concat!("SELECT ", goods_cols!(), " FROM trade_goods WHERE goods_id = $1"))
                    .bind(goods_id)
                    .fetch_optional(&mut *c)
                    .await
            }

            async fn list_goods(c: &mut Self::Connection) -> DbResult<Vec<Goods>> {
                sqlx::query_as::<_, Goods>(concat!("SELECT ", goods_cols!(), " FROM trade_goods ORDER BY goods_id"))
                    .fetch_all(&mut *c)
                    .await
            }

            async fn reduce_stock(c: &mut Self::Connection, goods_id: i64, order_id: i64, n: i64, now: i64) -> DbResult<bool> {
                let done = sqlx::query(
                    "UPDATE trade_goods SET goods_number = goods_number - $2 WHERE goods_id = $1 AND goods_number >= $2",
                )
                .bind(goods_id)
                .bind(n)
                .execute(&mut *c)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO trade_goods_number_log (goods_id, order_id, goods_number, log_time) VALUES ($1, $2, $3, $4)",
                )
                .bind(goods_id)
                .bind(order_id)
                .bind(-n)
                .bind(now)
                .execute(&mut *c)
                .await?;
                Ok(true)
            }

            async fn restore_stock(c: &mut Self::Connection, goods_id: i64, order_id: i64, now: i64) -> DbResult<Option<i64>> {
                let taken: Option<(i64,)> = sqlx::query_as(
                    "SELECT goods_number FROM trade_goods_number_log WHERE goods_id = $1 AND order_id = $2 AND goods_number < 0",
                )
                .bind(goods_id)
                .bind(order_id)
                .fetch_optional(&mut *c)
                .await?;
                let Some((taken,)) = taken else { return Ok(None) };
                let n = -taken;
                let logged = sqlx::query(
                    "INSERT INTO trade_goods_number_log (goods_id, order_id, goods_number, log_time) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (goods_id, order_id, goods_number) DO NOTHING",
                )
                .bind(goods_id)
                .bind(order_id)
                .bind(n)
                .bind(now)
                .execute(&mut *c)
                .await?;
                if logged.rows_affected() == 0 {
                    return Ok(None);
                }
                sqlx::query("UPDATE trade_goods SET goods_number = goods_number + $2 WHERE goods_id = $1")
                    .bind(goods_id)
                    .bind(n)
                    .execute(&mut *c)
                    .await?;
                Ok(Some(n))
            }

            async fn goods_log(c: &mut Self::Connection, goods_id: i64) -> DbResult<Vec<(i64, i64, i64)>> {
                sqlx::query_as(
                    "SELECT order_id, goods_number, log_time FROM trade_goods_number_log WHERE goods_id = $1 \
                     ORDER BY log_time, order_id, goods_number",
                )
                .bind(goods_id)
                .fetch_all(&mut *c)
                .await
            }

            async fn coupon(c: &mut Self::Connection, coupon_id: i64) -> DbResult<Option<Coupon>> {
                sqlx::query_as::<_, Coupon>(concat!("SELECT ", coupon_cols!(), " FROM trade_coupon WHERE coupon_id = $1"))
                    .bind(coupon_id)
                    .fetch_optional(&mut *c)
                    .await
            }

            async fn list_coupons(c: &mut Self::Connection) -> DbResult<Vec<Coupon>> {
                sqlx::query_as::<_, Coupon>(concat!("SELECT ", coupon_cols!(), " FROM trade_coupon ORDER BY coupon_id"))
                    .fetch_all(&mut *c)
                    .await
            }

            async fn use_coupon(c: &mut Self::Connection, coupon_id: i64, order_id: i64, now: i64) -> DbResult<bool> {
                let done = sqlx::query(
                    "UPDATE trade_coupon SET is_used = 1, order_id = $2, used_time = $3 WHERE coupon_id = $1 AND is_used = 0",
                )
                .bind(coupon_id)
                .bind(order_id)
                .bind(now)
                .execute(&mut *c)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_coupon(c: &mut Self::Connection, coupon_id: i64, order_id: i64) -> DbResult<bool> {
                let done = sqlx::query(
                    "UPDATE trade_coupon SET is_used = 0, order_id = NULL, used_time = NULL \
                     WHERE coupon_id = $1 AND order_id = $2 AND is_used = 1",
                )
                .bind(coupon_id)
                .bind(order_id)
                .execute(&mut *c)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn user(c: &mut Self::Connection, user_id: i64) -> DbResult<Option<User>> {
                sqlx::query_as::<_, User>(concat!("SELECT ", user_cols!(), " FROM trade_user WHERE user_id = $1"))
                    .bind(user_id)
                    .fetch_optional(&mut *c)
                    .await
            }

            async fn list_users(c: &mut Self::Connection) -> DbResult<Vec<User>> {
                sqlx::query_as::<_, User>(concat!("SELECT ", user_cols!(), " FROM trade_user ORDER BY user_id"))
                    .fetch_all(&mut *c)
                    .await
            }

            async fn pay_money(c: &mut Self::Connection, user_id: i64, order_id: i64, amount: i64, now: i64) -> DbResult<bool> {
                let done = sqlx::query(
                    "UPDATE trade_user SET user_money = user_money - $2 WHERE user_id = $1 AND user_money >= $2",
                )
                .bind(user_id)
                .bind(amount)
                .execute(&mut *c)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO trade_user_money_log (user_id, order_id, money_log_type, use_money, create_time) \
                     VALUES ($1, $2, 1, $3, $4)",
                )
                .bind(user_id)
                .bind(order_id)
                .bind(amount)
                .bind(now)
                .execute(&mut *c)
                .await?;
                Ok(true)
            }

            async fn refund_money(c: &mut Self::Connection, user_id: i64, order_id: i64, now: i64) -> DbResult<Option<i64>> {
                let paid: Option<(i64,)> = sqlx::query_as(
                    "SELECT use_money FROM trade_user_money_log WHERE user_id = $1 AND order_id = $2 AND money_log_type = 1",
                )
                .bind(user_id)
                .bind(order_id)
                .fetch_optional(&mut *c)
                .await?;
                let Some((amount,)) = paid else { return Ok(None) };
                let logged = sqlx::query(
                    "INSERT INTO trade_user_money_log (user_id, order_id, money_log_type, use_money, create_time) \
                     VALUES ($1, $2, 2, $3, $4) ON CONFLICT (user_id, order_id, money_log_type) DO NOTHING",
                )
                .bind(user_id)
                .bind(order_id)
                .bind(amount)
                .bind(now)
                .execute(&mut *c)
                .await?;
                if logged.rows_affected() == 0 {
                    return Ok(None);
                }
                sqlx::query("UPDATE trade_user SET user_money = user_money + $2 WHERE user_id = $1")
                    .bind(user_id)
                    .bind(amount)
                    .execute(&mut *c)
                    .await?;
                Ok(Some(amount))
            }

            async fn add_score(c: &mut Self::Connection, user_id: i64, score: i64) -> DbResult<bool> {
                let done = sqlx::query("UPDATE trade_user SET user_score = user_score + $2 WHERE user_id = $1")
                    .bind(user_id)
                    .bind(score)
                    .execute(&mut *c)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn money_log(c: &mut Self::Connection, user_id: i64) -> DbResult<Vec<(i64, i64, i64)>> {
                sqlx::query_as(
                    "SELECT order_id, money_log_type, use_money FROM trade_user_money_log WHERE user_id = $1 \
                     ORDER BY create_time, order_id, money_log_type",
                )
                .bind(user_id)
                .fetch_all(&mut *c)
                .await
            }

            async fn insert_order(c: &mut Self::Connection, o: &TradeOrder) -> DbResult<()> {
                sqlx::query(
                    "INSERT INTO trade_order (order_id, user_id, order_status, pay_status, shipping_status, address, \
                     consignee, goods_id, goods_number, goods_price, goods_amount, shipping_fee, order_amount, coupon_id, \
                     coupon_paid, money_paid, pay_amount, add_time, confirm_time, pay_time) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
                )
                .bind(o.order_id)
                .bind(o.user_id)
                .bind(o.order_status)
                .bind(o.pay_status)
                .bind(o.shipping_status)
                .bind(o.address.as_str())
                .bind(o.consignee.as_str())
                .bind(o.goods_id)
                .bind(o.goods_number)
                .bind(o.goods_price)
                .bind(o.goods_amount)
                .bind(o.shipping_fee)
                .bind(o.order_amount)
                .bind(o.coupon_id)
                .bind(o.coupon_paid)
                .bind(o.money_paid)
                .bind(o.pay_amount)
                .bind(o.add_time)
                .bind(o.confirm_time)
                .bind(o.pay_time)
                .execute(&mut *c)
                .await?;
                Ok(())
            }

            async fn order(c: &mut Self::Connection, order_id: i64) -> DbResult<Option<TradeOrder>> {
                sqlx::query_as::<_, TradeOrder>(concat!("SELECT ", order_cols!(), " FROM trade_order WHERE order_id = $1"))
                    .bind(order_id)
                    .fetch_optional(&mut *c)
                    .await
            }

            async fn confirm_order(c: &mut Self::Connection, order_id: i64, now: i64) -> DbResult<bool> {
                let done = sqlx::query(
                    "UPDATE trade_order SET order_status = 1, pay_status = 0, confirm_time = $2 \
                     WHERE order_id = $1 AND order_status = 0",
                )
                .bind(order_id)
                .bind(now)
                .execute(&mut *c)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn cancel_order(c: &mut Self::Connection, order_id: i64) -> DbResult<bool> {
                let done = sqlx::query("UPDATE trade_order SET order_status = 2 WHERE order_id = $1 AND order_status = 0")
                    .bind(order_id)
                    .execute(&mut *c)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn mark_order_paid(c: &mut Self::Connection, order_id: i64, now: i64) -> DbResult<bool> {
                let done = sqlx::query(
                    "UPDATE trade_order SET pay_status = 2, pay_time = $2 WHERE order_id = $1 AND pay_status <> 2",
                )
                .bind(order_id)
                .bind(now)
                .execute(&mut *c)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn order_has_paid_payment(c: &mut Self::Connection, order_id: i64) -> DbResult<bool> {
                let row: Option<(i64,)> =
                    sqlx::query_as("SELECT pay_id FROM trade_pay WHERE order_id = $1 AND is_paid = 2 LIMIT 1")
                        .bind(order_id)
                        .fetch_optional(&mut *c)
                        .await?;
                Ok(row.is_some())
            }

            async fn insert_pay(c: &mut Self::Connection, p: &Pay) -> DbResult<()> {
                sqlx::query("INSERT INTO trade_pay (pay_id, order_id, pay_amount, is_paid) VALUES ($1, $2, $3, $4)")
                    .bind(p.pay_id)
                    .bind(p.order_id)
                    .bind(p.pay_amount)
                    .bind(p.is_paid)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            }

            async fn pay(c: &mut Self::Connection, pay_id: i64) -> DbResult<Option<Pay>> {
                sqlx::query_as::<_, Pay>("SELECT pay_id, order_id, pay_amount, is_paid FROM trade_pay WHERE pay_id = $1")
                    .bind(pay_id)
                    .fetch_optional(&mut *c)
                    .await
            }

            async fn mark_pay_paid(c: &mut Self::Connection, pay_id: i64) -> DbResult<bool> {
                let done = sqlx::query("UPDATE trade_pay SET is_paid = 2 WHERE pay_id = $1 AND is_paid = 1")
                    .bind(pay_id)
                    .execute(&mut *c)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_outbox(c: &mut Self::Connection, r: &OutboxRow) -> DbResult<()> {
                sqlx::query(
                    "INSERT INTO trade_mq_producer_temp (id, group_name, msg_topic, msg_tag, msg_key, msg_body, msg_status, create_time) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(r.id)
                .bind(r.group_name.as_str())
                .bind(r.msg_topic.as_str())
                .bind(r.msg_tag.as_str())
                .bind(r.msg_key.as_str())
                .bind(r.msg_body.as_str())
                .bind(r.msg_status)
                .bind(r.create_time)
                .execute(&mut *c)
                .await?;
                Ok(())
            }

            async fn pending_outbox(c: &mut Self::Connection, limit: i64) -> DbResult<Vec<OutboxRow>> {
                sqlx::query_as::<_, OutboxRow>(concat!(
                    "SELECT ", outbox_cols!(), " FROM trade_mq_producer_temp WHERE msg_status = 0 ORDER BY create_time, id LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&mut *c)
                .await
            }

            async fn list_outbox(c: &mut Self::Connection) -> DbResult<Vec<OutboxRow>> {
                sqlx::query_as::<_, OutboxRow>(concat!(
                    "SELECT ", outbox_cols!(), " FROM trade_mq_producer_temp ORDER BY create_time, id"
                ))
                .fetch_all(&mut *c)
                .await
            }

            async fn mark_outbox_sent(c: &mut Self::Connection, id: i64) -> DbResult<bool> {
                let done = sqlx::query("UPDATE trade_mq_producer_temp SET msg_status = 1 WHERE id = $1 AND msg_status = 0")
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_pay_log(c: &mut Self::Connection, r: &PayLogRow) -> DbResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO trade_pay_log (pay_id, order_id, pay_amount, log_time) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (pay_id) DO NOTHING",
                )
                .bind(r.pay_id)
                .bind(r.order_id)
                .bind(r.pay_amount)
                .bind(r.log_time)
                .execute(&mut *c)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_pay_log(c: &mut Self::Connection) -> DbResult<Vec<PayLogRow>> {
                sqlx::query_as::<_, PayLogRow>(
                    "SELECT pay_id, order_id, pay_amount, log_time FROM trade_pay_log ORDER BY log_time, pay_id",
                )
                .fetch_all(&mut *c)
                .await
            }

            async fn consumer_log(c: &mut Self::Connection) -> DbResult<Vec<ConsumerLogRow>> {
                sqlx::query_as::<_, ConsumerLogRow>(
                    "SELECT group_name, msg_tag, msg_key, msg_id, msg_body, \
                     CAST(consumer_status AS BIGINT) AS consumer_status, CAST(consumer_times AS BIGINT) AS consumer_times, \
                     CAST(consumer_timestamp AS TEXT) AS consumer_timestamp, remark \
                     FROM trade_mq_consumer_log ORDER BY group_name, msg_tag, msg_key",
                )
                .fetch_all(&mut *c)
                .await
            }

            async fn seed(c: &mut Self::Connection, now: i64) -> DbResult<()> {
                for u in SEED.users {
                    sqlx::query(
                        "INSERT INTO trade_user (user_id, user_name, user_password, user_mobile, user_score, user_reg_time, user_money) \
                         VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT (user_id) DO NOTHING",
                    )
                    .bind(u.user_id)
                    .bind(u.user_name)
                    .bind(seed::password_hash(u.user_name, u.password))
                    .bind(u.user_mobile)
                    .bind(now)
                    .bind(u.user_money)
                    .execute(&mut *c)
                    .await?;
                }
                for g in SEED.goods {
                    sqlx::query(
                        "INSERT INTO trade_goods (goods_id, goods_name, goods_number, goods_price, goods_desc, add_time) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (goods_id) DO NOTHING",
                    )
                    .bind(g.goods_id)
                    .bind(g.goods_name)
                    .bind(g.goods_number)
                    .bind(g.goods_price)
                    .bind(g.goods_desc)
                    .bind(now)
                    .execute(&mut *c)
                    .await?;
                }
                for k in SEED.coupons {
                    sqlx::query(
                        "INSERT INTO trade_coupon (coupon_id, coupon_price, user_id, order_id, is_used, used_time) \
                         VALUES ($1, $2, $3, NULL, 0, NULL) ON CONFLICT (coupon_id) DO NOTHING",
                    )
                    .bind(k.coupon_id)
                    .bind(k.coupon_price)
                    .bind(k.user_id)
                    .execute(&mut *c)
                    .await?;
                }
                Ok(())
            }
        }
    };
}

macro_rules! goods_cols {
    () => {
        "goods_id, goods_name, goods_number, goods_price, goods_desc, add_time"
    };
}
macro_rules! coupon_cols {
    () => {
        "coupon_id, coupon_price, user_id, order_id, is_used, used_time"
    };
}
macro_rules! user_cols {
    () => {
        "user_id, user_name, user_password, user_mobile, user_score, user_reg_time, user_money"
    };
}
macro_rules! order_cols {
    () => {
        "order_id, user_id, order_status, pay_status, shipping_status, address, consignee, goods_id, goods_number, \
         goods_price, goods_amount, shipping_fee, order_amount, coupon_id, coupon_paid, money_paid, pay_amount, \
         add_time, confirm_time, pay_time"
    };
}
macro_rules! outbox_cols {
    () => {
        "id, group_name, msg_topic, msg_tag, msg_key, msg_body, msg_status, create_time"
    };
}

impl_shop_db!(Sqlite, "sqlite", Some("BEGIN IMMEDIATE"));
impl_shop_db!(Postgres, "postgres", None);

/// Begins a transaction that writes ([`ShopDb::BEGIN_WRITE`]).
pub async fn begin_write<D: ShopDb>(pool: &Pool<D>) -> DbResult<sqlx::Transaction<'static, D>> {
    match D::BEGIN_WRITE {
        Some(sql) => pool.begin_with(sql).await,
        None => pool.begin().await,
    }
}

/// A connected pool of either kind.
#[derive(Debug, Clone)]
pub enum DbPool {
    /// SQLite (the default).
    Sqlite(Pool<Sqlite>),
    /// PostgreSQL.
    Postgres(Pool<Postgres>),
}

/// Why the database could not be opened or prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbSetupError {
    /// The URL is neither `sqlite:` nor `postgres://`.
    #[error("unsupported database URL {0:?}: use sqlite:PATH or postgres://...")]
    UnsupportedUrl(String),
    /// Connecting failed.
    #[error("cannot connect to {what}: {source}")]
    Connect {
        /// The database, without credentials.
        what: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A migration failed.
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Creating the consumer log or seeding failed.
    #[error("preparing the database failed: {0}")]
    Prepare(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DbPool {
    /// `DATABASE_URL` if given (postgres:// or sqlite:), else `shop.db` under `data_dir`.
    pub async fn connect(
        database_url: Option<&str>,
        data_dir: &Path,
    ) -> Result<Self, DbSetupError> {
        match database_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let opts =
                    PgConnectOptions::from_str(url).map_err(|source| DbSetupError::Connect {
                        what: redact(url),
                        source,
                    })?;
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await
                    .map_err(|source| DbSetupError::Connect {
                        what: redact(url),
                        source,
                    })?;
                Ok(DbPool::Postgres(pool))
            }
            Some(url) if url.starts_with("sqlite:") => {
                let opts = SqliteConnectOptions::from_str(url).map_err(|source| {
                    DbSetupError::Connect {
                        what: url.to_string(),
                        source,
                    }
                })?;
                Self::sqlite(opts, url).await
            }
            Some(url) => Err(DbSetupError::UnsupportedUrl(redact(url))),
            None => {
                std::fs::create_dir_all(data_dir).map_err(|source| DbSetupError::DataDir {
                    path: data_dir.display().to_string(),
                    source,
                })?;
                let file = data_dir.join("shop.db");
                let opts = SqliteConnectOptions::new().filename(&file);
                Self::sqlite(opts, &file.display().to_string()).await
            }
        }
    }

    async fn sqlite(opts: SqliteConnectOptions, what: &str) -> Result<Self, DbSetupError> {
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await
            .map_err(|source| DbSetupError::Connect {
                what: what.to_string(),
                source,
            })?;
        Ok(DbPool::Sqlite(pool))
    }

    /// "sqlite" or "postgres".
    pub fn kind(&self) -> &'static str {
        match self {
            DbPool::Sqlite(_) => Sqlite::KIND,
            DbPool::Postgres(_) => Postgres::KIND,
        }
    }

    /// Applies the migrations, creates the consumer log (the guard's `ensure_table`) and inserts the seed
    /// rows that are missing. Safe to run at every start.
    pub async fn prepare(&self) -> Result<(), DbSetupError> {
        match self {
            DbPool::Sqlite(p) => prepare_pool(p).await,
            DbPool::Postgres(p) => prepare_pool(p).await,
        }
    }
}

async fn prepare_pool<D>(pool: &Pool<D>) -> Result<(), DbSetupError>
where
    D: ShopDb,
    D::Connection: sqlx::migrate::Migrate,
    D: sqlx::migrate::MigrateDatabase,
{
    MIGRATOR.run(pool).await?;
    rmq_runtime::idempotency::IdempotencyGuard::new(pool.clone())
        .ensure_table()
        .await
        .map_err(|e| DbSetupError::Prepare(Box::new(e)))?;
    let mut tx = begin_write(pool)
        .await
        .map_err(|e| DbSetupError::Prepare(Box::new(e)))?;
    D::seed(&mut tx, crate::ids::now_ms())
        .await
        .map_err(|e| DbSetupError::Prepare(Box::new(e)))?;
    tx.commit()
        .await
        .map_err(|e| DbSetupError::Prepare(Box::new(e)))?;
    Ok(())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
