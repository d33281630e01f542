//! Rows as the tables hold them (money in cents, times in epoch milliseconds).

use serde::Serialize;

/// `trade_goods`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Goods {
    /// Id.
    pub goods_id: i64,
    /// Name.
    pub goods_name: String,
    /// Stock.
    pub goods_number: i64,
    /// Price in cents.
    pub goods_price: i64,
    /// Description.
    pub goods_desc: String,
    /// When it was added.
    pub add_time: i64,
}

/// `trade_coupon`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Coupon {
    /// Id.
    pub coupon_id: i64,
    /// Value in cents.
    pub coupon_price: i64,
    /// Owner.
    pub user_id: i64,
    /// The order that used it.
    pub order_id: Option<i64>,
    /// 0 unused, 1 used.
    pub is_used: i64,
    /// When it was used.
    pub used_time: Option<i64>,
}

/// `trade_user`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Id.
    pub user_id: i64,
    /// Name.
    pub user_name: String,
    /// The salted hash (never sent to clients).
    #[serde(skip)]
    pub user_password: String,
    /// Mobile number.
    pub user_mobile: String,
    /// Score.
    pub user_score: i64,
    /// Registration time.
    pub user_reg_time: i64,
    /// Balance in cents.
    pub user_money: i64,
}

/// `trade_order`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct TradeOrder {
    /// Id (snowflake).
    pub order_id: i64,
    /// Buyer.
    pub user_id: i64,
    /// 0 unconfirmed, 1 confirmed, 2 cancelled, 3 invalid, 4 refunded.
    pub order_status: i64,
    /// 0 unpaid, 1 paying, 2 paid.
    pub pay_status: i64,
    /// 0 not shipped, 1 shipped, 2 returned.
    pub shipping_status: i64,
    /// Address.
    pub address: String,
    /// Consignee.
    pub consignee: String,
    /// Goods.
    pub goods_id: i64,
    /// Quantity.
    pub goods_number: i64,
    /// Unit price in cents.
    pub goods_price: i64,
    /// price × quantity.
    pub goods_amount: i64,
    /// Shipping fee in cents.
    pub shipping_fee: i64,
    /// Order amount in cents (= goods_amount).
    pub order_amount: i64,
    /// Coupon used.
    pub coupon_id: Option<i64>,
    /// The coupon's value.
    pub coupon_paid: i64,
    /// Paid from the balance.
    pub money_paid: i64,
    /// Left to pay: order_amount − coupon_paid − money_paid.
    pub pay_amount: i64,
    /// Created.
    pub add_time: i64,
    /// Confirmed.
    pub confirm_time: Option<i64>,
    /// Paid.
    pub pay_time: Option<i64>,
}

/// `trade_pay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Pay {
    /// Id (snowflake).
    pub pay_id: i64,
    /// Order.
    pub order_id: i64,
    /// Amount in cents.
    pub pay_amount: i64,
    /// 1 not paid, 2 paid.
    pub is_paid: i64,
}

/// `trade_mq_producer_temp`: the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct OutboxRow {
    /// Id (snowflake).
    pub id: i64,
    /// Producer group.
    pub group_name: String,
    /// Topic.
    pub msg_topic: String,
    /// Tag.
    pub msg_tag: String,
    /// Key.
    pub msg_key: String,
    /// Body (JSON).
    pub msg_body: String,
    /// 0 pending, 1 sent.
    pub msg_status: i64,
    /// Written.
    pub create_time: i64,
}

/// `trade_pay_log`: what the pay-log consumer records, one row per payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct PayLogRow {
    /// Payment.
    pub pay_id: i64,
    /// Order.
    pub order_id: i64,
    /// Amount in cents.
    pub pay_amount: i64,
    /// Recorded.
    pub log_time: i64,
}

/// `trade_mq_consumer_log`: the idempotency guard's rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerLogRow {
    /// Consumer group.
    pub group_name: String,
    /// Tag.
    pub msg_tag: String,
    /// Key (order or pay id).
    pub msg_key: String,
    /// Message id.
    pub msg_id: Option<String>,
    /// Body copy.
    pub msg_body: Option<String>,
    /// 0 processing, 1 done, 2 failed.
    pub consumer_status: i64,
    /// Runs recorded.
    pub consumer_times: i64,
    /// Last change.
    pub consumer_timestamp: Option<String>,
    /// Last failure.
    pub remark: Option<String>,
}
