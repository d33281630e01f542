//! The cancel message (`orderTopic:order_cancel`, key = order id): one consumer per service.

use rmq_runtime::prelude::*;

use crate::service::order::CancelMessage;
use crate::service::AnyShop;
use crate::with_shop;

/// Goods: restore the stock the order took.
#[rocketmq_listener(
    topic = "${mq.order.topic}",
    consumer_group = "${mq.order.consumer.group.goods}",
    selector_expression = "${mq.order.tag.cancel}"
)]
pub async fn goods_order_cancel(
    msg: MessageExt,
    Json(cancel): Json<CancelMessage>,
    shop: Bean<AnyShop>,
) -> Result<(), ListenerError> {
    with_shop!(&*shop, s => s.goods_on_cancel(&msg, &cancel).await)
}

/// Coupon: mark the order's coupon unused.
#[rocketmq_listener(
    topic = "${mq.order.topic}",
    consumer_group = "${mq.order.consumer.group.coupon}",
    selector_expression = "${mq.order.tag.cancel}"
)]
pub async fn coupon_order_cancel(
    msg: MessageExt,
    Json(cancel): Json<CancelMessage>,
    shop: Bean<AnyShop>,
) -> Result<(), ListenerError> {
    with_shop!(&*shop, s => s.coupon_on_cancel(&msg, &cancel).await)
}

/// User: refund what the order paid from the balance.
#[rocketmq_listener(
    topic = "${mq.order.topic}",
    consumer_group = "${mq.order.consumer.group.user}",
    selector_expression = "${mq.order.tag.cancel}"
)]
pub async fn user_order_cancel(
    msg: MessageExt,
    Json(cancel): Json<CancelMessage>,
    shop: Bean<AnyShop>,
) -> Result<(), ListenerError> {
    with_shop!(&*shop, s => s.user_on_cancel(&msg, &cancel).await)
}

/// Order: mark the order cancelled.
#[rocketmq_listener(
    topic = "${mq.order.topic}",
    consumer_group = "${mq.order.consumer.group.name}",
    selector_expression = "${mq.order.tag.cancel}"
)]
pub async fn order_order_cancel(
    msg: MessageExt,
    Json(cancel): Json<CancelMessage>,
    shop: Bean<AnyShop>,
) -> Result<(), ListenerError> {
    with_shop!(&*shop, s => s.order_on_cancel(&msg, &cancel).await)
}
