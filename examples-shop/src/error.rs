//! Every refusal the shop can answer, with a stable code and a readable message.
//!
//! The HTTP layer sends `{"code": .., "message": ..}` with [`ShopError::status`]; database and broker
//! details are logged, not sent (the message says only that the store or the broker failed).

/// What can go wrong in the shop. Codes are stable strings ([`ShopError::code`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShopError {
    /// The request is missing or malformed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The goods does not exist.
    #[error("goods {0} does not exist")]
    GoodsNotFound(i64),
    /// The user does not exist.
    #[error("user {0} does not exist")]
    UserNotFound(i64),
    /// The client's price is not the goods price.
    #[error("goods price is {expected}, the order says {given}")]
    PriceMismatch {
        /// The goods price.
        expected: i64,
        /// What the order carried.
        given: i64,
    },
    /// Not enough stock.
    #[error("goods {goods_id} has {stock} in stock, the order wants {wanted}")]
    OutOfStock {
        /// Goods.
        goods_id: i64,
        /// In stock.
        stock: i64,
        /// Ordered.
        wanted: i64,
    },
    /// The shipping fee is not the one the rule gives.
    #[error("shipping fee must be {expected} for this order, the order says {given}")]
    ShippingFeeInvalid {
        /// The rule's fee.
        expected: i64,
        /// What the order carried.
        given: i64,
    },
    /// price × quantity is not the order amount.
    #[error("order amount must be {expected} (price × quantity), the order says {given}")]
    OrderAmountInvalid {
        /// price × quantity.
        expected: i64,
        /// What the order carried.
        given: i64,
    },
    /// The coupon does not exist.
    #[error("coupon {0} does not exist")]
    CouponNotFound(i64),
    /// The coupon is used.
    #[error("coupon {0} is already used")]
    CouponUsed(i64),
    /// The coupon belongs to someone else.
    #[error("coupon {coupon_id} does not belong to user {user_id}")]
    CouponNotOwned {
        /// Coupon.
        coupon_id: i64,
        /// The ordering user.
        user_id: i64,
    },
    /// money_paid < 0.
    #[error("money paid must not be negative (got {0})")]
    MoneyPaidNegative(i64),
    /// money_paid > the balance.
    #[error("money paid {money_paid} exceeds the balance {balance}")]
    MoneyPaidExceedsBalance {
        /// Asked.
        money_paid: i64,
        /// Available.
        balance: i64,
    },
    /// coupon + balance pay more than the order costs.
    #[error(
        "coupon {coupon_paid} and money paid {money_paid} exceed the order amount {order_amount}"
    )]
    PaidTooMuch {
        /// Coupon value.
        coupon_paid: i64,
        /// From the balance.
        money_paid: i64,
        /// Order amount.
        order_amount: i64,
    },
    /// A step after the pre-order failed; the order was cancelled by message and what it took is given back.
    #[error("order {order_id} failed at {step}: {reason}; it is being cancelled and compensated")]
    ConfirmFailed {
        /// The pre-order.
        order_id: i64,
        /// Which step ("reduce stock", "use coupon", "pay from balance", "confirm").
        step: &'static str,
        /// Why.
        reason: String,
        /// Whether the cancel message was sent (if not, the order stays unconfirmed and is logged).
        cancel_sent: bool,
    },
    /// The order does not exist.
    #[error("order {0} does not exist")]
    OrderNotFound(i64),
    /// The order is not confirmed, so it cannot be paid.
    #[error("order {order_id} is not confirmed (order_status {status})")]
    OrderNotConfirmed {
        /// Order.
        order_id: i64,
        /// Its status.
        status: i64,
    },
    /// The order already has a paid payment.
    #[error("order {0} is already paid")]
    OrderAlreadyPaid(i64),
    /// The payment amount is not what the order leaves to pay.
    #[error("payment amount must be {expected} for order {order_id}, the request says {given}")]
    PayAmountInvalid {
        /// Order.
        order_id: i64,
        /// The order's pay_amount.
        expected: i64,
        /// What the request carried.
        given: i64,
    },
    /// The payment does not exist.
    #[error("payment {0} does not exist")]
    PayNotFound(i64),
    /// The payment was already marked paid (a repeated callback).
    #[error("payment {0} is already paid")]
    PayAlreadyPaid(i64),
    /// The callback does not say "paid".
    #[error(
        "callback for payment {pay_id} does not report it paid (is_paid {is_paid}, expected 2)"
    )]
    CallbackNotPaid {
        /// Payment.
        pay_id: i64,
        /// What the callback said.
        is_paid: i64,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The broker or the client failed.
    #[error("messaging error: {0}")]
    Messaging(#[from] rmq_runtime::ClientError),
    /// The shop is used before its application (broker, template) is started.
    #[error("the shop is not started: {0}")]
    NotStarted(&'static str),
}

impl ShopError {
    /// The stable code clients see.
    pub fn code(&self) -> &'static str {
        match self {
            ShopError::InvalidRequest(_) => "REQUEST_INVALID",
            ShopError::GoodsNotFound(_) => "GOODS_NOT_FOUND",
            ShopError::UserNotFound(_) => "USER_NOT_FOUND",
            ShopError::PriceMismatch { .. } => "GOODS_PRICE_INVALID",
            ShopError::OutOfStock { .. } => "GOODS_NUM_NOT_ENOUGH",
            ShopError::ShippingFeeInvalid { .. } => "SHIPPING_FEE_INVALID",
            ShopError::OrderAmountInvalid { .. } => "ORDER_AMOUNT_INVALID",
            ShopError::CouponNotFound(_) => "COUPON_NOT_FOUND",
            ShopError::CouponUsed(_) => "COUPON_IS_USED",
            ShopError::CouponNotOwned { .. } => "COUPON_NOT_OWNED",
            ShopError::MoneyPaidNegative(_) => "MONEY_PAID_LESS_ZERO",
            ShopError::MoneyPaidExceedsBalance { .. } => "MONEY_PAID_INVALID",
            ShopError::PaidTooMuch { .. } => "PAY_AMOUNT_LESS_ZERO",
            ShopError::ConfirmFailed { .. } => "ORDER_CONFIRM_FAILED",
            ShopError::OrderNotFound(_) => "ORDER_NOT_FOUND",
            ShopError::OrderNotConfirmed { .. } => "ORDER_NOT_CONFIRMED",
            ShopError::OrderAlreadyPaid(_) => "ORDER_PAY_STATUS_IS_PAY",
            ShopError::PayAmountInvalid { .. } => "PAY_AMOUNT_INVALID",
            ShopError::PayNotFound(_) => "PAYMENT_NOT_FOUND",
            ShopError::PayAlreadyPaid(_) => "PAYMENT_IS_PAID",
            ShopError::CallbackNotPaid { .. } => "PAYMENT_NOT_PAID",
            ShopError::Database(_) => "DATABASE_ERROR",
            ShopError::Messaging(_) => "MQ_ERROR",
            ShopError::NotStarted(_) => "NOT_STARTED",
        }
    }

    /// The message clients see: the error's text, except that database and broker details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            ShopError::Database(_) => "the shop's database failed; try again".to_string(),
            ShopError::Messaging(_) => "the message broker failed; try again".to_string(),
            other => other.to_string(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ShopError::GoodsNotFound(_)
            | ShopError::UserNotFound(_)
            | ShopError::CouponNotFound(_)
            | ShopError::OrderNotFound(_)
            | ShopError::PayNotFound(_) => 404,
            ShopError::CouponUsed(_)
            | ShopError::OutOfStock { .. }
            | ShopError::OrderAlreadyPaid(_)
            | ShopError::PayAlreadyPaid(_)
            | ShopError::OrderNotConfirmed { .. }
            | ShopError::ConfirmFailed { .. } => 409,
            ShopError::Database(_) | ShopError::NotStarted(_) => 500,
            ShopError::Messaging(_) => 502,
            _ => 400,
        }
    }
}

/// The shop's result type.
pub type ShopResult<T, E = ShopError> = Result<T, E>;
