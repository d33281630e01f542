//! The pay message (`payTopic:paid`, key = pay id): one consumer per service.

use rmq_runtime::prelude::*;

use crate::service::pay::PaidMessage;
use crate::service::AnyShop;
use crate::with_shop;

/// Order: mark the order paid.
#[rocketmq_listener(
    topic = "${mq.pay.topic}",
    consumer_group = "${mq.pay.consumer.group.name}",
    selector_expression = "${mq.pay.tag.paid}"
)]
pub async fn order_pay_paid(
    msg: MessageExt,
    Json(paid): Json<PaidMessage>,
    shop: Bean<AnyShop>,
) -> Result<(), ListenerError> {
    with_shop!(&*shop, s => s.order_on_paid(&msg, &paid).await)
}

/// User: add the score.
#[rocketmq_listener(
    topic = "${mq.pay.topic}",
    consumer_group = "${mq.pay.consumer.group.user}",
    selector_expression = "${mq.pay.tag.paid}"
)]
pub async fn user_pay_paid(
    msg: MessageExt,
    Json(paid): Json<PaidMessage>,
    shop: Bean<AnyShop>,
) -> Result<(), ListenerError> {
    with_shop!(&*shop, s => s.user_on_paid(&msg, &paid).await)
}

/// Pay log: record the payment.
#[rocketmq_listener(
    topic = "${mq.pay.topic}",
    consumer_group = "${mq.pay.consumer.group.log}",
    selector_expression = "${mq.pay.tag.paid}"
)]
pub async fn pay_log_paid(
    msg: MessageExt,
    Json(paid): Json<PaidMessage>,
    shop: Bean<AnyShop>,
) -> Result<(), ListenerError> {
    with_shop!(&*shop, s => s.pay_log_on_paid(&msg, &paid).await)
}
