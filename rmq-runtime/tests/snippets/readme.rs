//! The README's "Using rmq from a service" and "Testing an app" snippets, verbatim between the markers, so
//! they compile and their tests run (`tests/tests/architecture.rs` checks the README still matches).
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

/// What the README's listener updates (not shown there).
pub struct Stock(Mutex<HashMap<i64, i32>>);

#[derive(Debug, thiserror::Error)]
#[error("unknown goods {0}")]
pub struct UnknownGoods(i64);

impl Stock {
    pub fn new() -> Self {
        Stock(Mutex::new(HashMap::from([(7, 10)])))
    }

    pub async fn restore(&self, goods_id: i64, n: i32) -> Result<(), UnknownGoods> {
        let mut stock = self.0.lock().map_err(|_| UnknownGoods(goods_id))?;
        let left = stock.get_mut(&goods_id).ok_or(UnknownGoods(goods_id))?;
        *left += n;
        Ok(())
    }

    pub fn of(&self, goods_id: i64) -> Option<i32> {
        self.0.lock().ok()?.get(&goods_id).copied()
    }
}

// README: service
use rmq_runtime::prelude::*;   // Application, Bean, Json, ListenerError, MessageExt, Settings, the two macros, ...

#[derive(serde::Serialize, serde::Deserialize)]
struct CancelOrder { order_id: i64, goods_id: i64, goods_number: i32 }

#[rocketmq_listener(topic = "${mq.order.topic}", consumer_group = "goods_order_cancel_group",
                    selector_expression = "${mq.order.tag.cancel:order_cancel}")]
async fn on_cancel(Json(msg): Json<CancelOrder>, stock: Bean<Stock>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    stock.restore(msg.goods_id, msg.goods_number).await?;   // any error → retried later (10 s, 30 s, 1 min, ...)
    Ok(())
}

/// The application as the service builds it; its tests start the same one (`test_app_from(app())`).
pub fn app() -> ApplicationBuilder {
    // application.toml / .yaml / .json / .properties in the working directory (rocketmq-spring's keys, e.g.
    // mq.order.topic = "orderTopic") and environment overrides (ROCKETMQ_NAME_SERVER=...); no
    // rocketmq.name-server (or "embedded") runs the bundled broker in-process.
    Application::builder().bean(Stock::new())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = app().start().await?;          // logs each listener and template at INFO (RUST_LOG to change)
    let cancel = CancelOrder { order_id: 1, goods_id: 7, goods_number: 1 };
    app.template()
        .convert_and_send_with("orderTopic:order_cancel", &cancel, |m| m.key("1").header("source", "web"))
        .await?;
    app.run_until_signal().await;   // Ctrl-C / SIGTERM: stop pulls, drain handlers, commit offsets
    Ok(())
}
// README: end

// README: testing
use std::time::Duration;
use rmq_runtime::listener;                   // listener!(f): f's name, checked by the compiler
use rmq_runtime::testing::{await_handled, expect_dead_letter, test_app, test_app_from};

#[tokio::test(flavor = "multi_thread")]
async fn cancel_restores_stock() {
    let app = test_app_from(app())             // the service's own builder: its application.* files and beans,
        .set("mq.order.topic", "orderTopic")   // on a fresh embedded broker
        .only_listeners([listener!(on_cancel)])   // start just what the test needs ("on_cancel" works too)
        .start().await.unwrap();
    app.template().sync_send("orderTopic:order_cancel", r#"{"order_id":1,"goods_id":7,"goods_number":1}"#).await.unwrap();
    await_handled(&app, listener!(on_cancel), 1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(app.context().bean::<Stock>().unwrap().of(7), Some(11));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_goods_end_in_the_dead_letter_queue() {
    let app = test_app().set("mq.order.topic", "orderTopic").bean(Stock::new())
        .only_listeners(["on_cancel"]).start().await.unwrap();
    app.template().sync_send("orderTopic:order_cancel", r#"{"order_id":2,"goods_id":0,"goods_number":1}"#).await.unwrap();
    // 16 retries, 4 h 45 min of back-off in production: about a second here (virtual time).
    let dead = expect_dead_letter(&app, "goods_order_cancel_group", Duration::from_secs(10), |_| true).await.unwrap();
    assert_eq!(dead.reconsume_times, 17);      // its deliveries: the first and 16 retries
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_two_hour_delay_arrives_when_the_test_says() {
    let app = test_app().virtual_time()        // time moves only with the test (and real time)
        .set("mq.order.topic", "orderTopic").bean(Stock::new())
        .only_listeners(["on_cancel"]).start().await.unwrap();
    let body = r#"{"order_id":3,"goods_id":7,"goods_number":2}"#;
    app.template().sync_send_delay_level("orderTopic:order_cancel", body, 18).await.unwrap();   // level 18: 2 h
    app.advance(Duration::from_secs(2 * 3600));
    await_handled(&app, "on_cancel", 1, Duration::from_secs(5)).await.unwrap();
    app.shutdown().await;
}
// README: end
