//! The shop end to end: the bundled broker in-process and a real database — a temp SQLite file, or a fresh
//! PostgreSQL database per test when `RMQ_TEST_POSTGRES_URL` is set (e.g. `postgres://postgres@127.0.0.1/postgres`;
//! the user must be allowed to create databases).

use std::path::Path;
use std::time::Duration;

use examples_shop::app::{ShopApp, ShopOptions};
use examples_shop::config::bundled_settings;
use examples_shop::db::ConsumerLogRow;
use examples_shop::demo::{
    demo_order, DEMO_COUPON_FAIL, DEMO_COUPON_OK, DEMO_GOODS, DEMO_MONEY_PAID, DEMO_USER,
};
use examples_shop::listeners::{CANCEL_LISTENERS, PAY_LISTENERS};
use examples_shop::service::order::{CancelMessage, ConfirmOrder, FailAt};
use examples_shop::service::pay::{score_for, CreatePayment, PayCallback};
use examples_shop::service::AnyShop;
use examples_shop::ShopError;
use rmq_runtime::testing::expect_dead_letter;

const WAIT: Duration = Duration::from_secs(60);

/// A started shop and what it runs on.
struct TestShop {
    app: Option<ShopApp>,
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl TestShop {
    async fn start() -> TestShop {
        let dir = tempfile::Builder::new()
            .prefix("shop-test")
            .tempdir()
            .expect("temp dir");
        let database_url = fresh_postgres().await;
        let app = start_app(dir.path(), database_url.clone(), true).await;
        TestShop {
            app: Some(app),
            dir,
            database_url,
        }
    }

    fn app(&self) -> &ShopApp {
        self.app.as_ref().expect("started")
    }

    fn shop(&self) -> &AnyShop {
        self.app().shop()
    }

    async fn wait_handled(&self, listener: &str, n: u64) {
        let stats = self
            .app()
            .app()
            .listener_stats(listener)
            .expect("listener runs");
        assert!(
            stats.wait_handled(n, WAIT).await,
            "{listener} handled {} of {n} (failed {})",
            stats.handled(),
            stats.failed()
        );
    }

    /// Messages stored in `topic` so far (every queue), read from the embedded broker's store: a check that
    /// nothing was sent needs no waiting, because every send the shop makes returns after the store has it.
    fn stored(&self, topic: &str) -> i64 {
        let broker = self
            .app()
            .app()
            .embedded_broker()
            .expect("the shop tests run the embedded broker");
        (0..16)
            .map(|q| broker.broker().store().max_offset_in_queue(topic, q))
            .sum()
    }

    fn handled(&self, listener: &str) -> u64 {
        self.app()
            .app()
            .listener_stats(listener)
            .expect("listener runs")
            .handled()
    }

    async fn log_rows(&self, group: &str, key: i64) -> Vec<ConsumerLogRow> {
        self.shop()
            .consumer_log()
            .await
            .expect("consumer log")
            .into_iter()
            .filter(|l| l.group_name == group && l.msg_key == key.to_string())
            .collect()
    }

    async fn restart(&mut self, relay: bool) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
        self.app = Some(start_app(self.dir.path(), self.database_url.clone(), relay).await);
    }

    async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
    }
}

async fn start_app(dir: &Path, database_url: Option<String>, relay: bool) -> ShopApp {
    let mut settings = bundled_settings().expect("bundled config");
    // Redeliveries after 1 s instead of the default 10 s, 30 s, ... so retry tests finish quickly.
    settings.set(
        "rocketmq.embedded.broker.messageDelayLevel",
        ["1s"; 18].join(" "),
    );
    let mut opts = ShopOptions::new(settings, database_url, dir);
    opts.relay = relay;
    ShopApp::start(opts).await.expect("shop starts")
}

/// A CI run (`RMQ_CI` or `CI` set, as rmq-tests' `ci()` reads them): a missing database fails instead of skipping.
fn ci() -> bool {
    ["RMQ_CI", "CI"].iter().any(|k| {
        std::env::var(k)
            .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
    })
}

/// A fresh PostgreSQL database when RMQ_TEST_POSTGRES_URL is set, else None (SQLite in the temp dir); under CI
/// a missing URL fails the test.
async fn fresh_postgres() -> Option<String> {
    let Some(base) = std::env::var("RMQ_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        assert!(
            !ci(),
            "PostgreSQL is required in CI (RMQ_CI or CI is set); set RMQ_TEST_POSTGRES_URL=postgres://..."
        );
        return None;
    };
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .expect("RMQ_TEST_POSTGRES_URL connects");
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "shop_test_{}_{}_{}",
        std::process::id(),
        examples_shop::ids::now_ms(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h.to_string(), format!("?{q}")),
        None => (base.clone(), String::new()),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = head[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(head.len());
    Some(format!("{}/{name}{query}", &head[..host_end]))
}

// ---- the success path --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_path_produces_the_specs_states() {
    let t = TestShop::start().await;
    let shop = t.shop();
    let stock0 = shop.goods(DEMO_GOODS).await.unwrap().goods_number;
    let money0 = shop.user(DEMO_USER).await.unwrap().user_money;

    let o = shop
        .confirm_order(&demo_order(DEMO_COUPON_OK, None))
        .await
        .expect("order confirmed");
    assert_eq!((o.order_status, o.pay_status, o.shipping_status), (1, 0, 0));
    assert_eq!(
        (
            o.goods_price,
            o.goods_number,
            o.goods_amount,
            o.order_amount
        ),
        (500_000, 1, 500_000, 500_000)
    );
    assert_eq!(
        (o.shipping_fee, o.coupon_id, o.coupon_paid, o.money_paid),
        (0, Some(DEMO_COUPON_OK), 10_000, 10_000)
    );
    assert_eq!(o.pay_amount, 480_000, "the notes' 4800");
    assert!(o.confirm_time.is_some() && o.pay_time.is_none());

    assert_eq!(
        shop.goods(DEMO_GOODS).await.unwrap().goods_number,
        stock0 - 1
    );
    let coupon = shop.coupon(DEMO_COUPON_OK).await.unwrap();
    assert_eq!((coupon.is_used, coupon.order_id), (1, Some(o.order_id)));
    assert!(coupon.used_time.is_some());
    assert_eq!(
        shop.user(DEMO_USER).await.unwrap().user_money,
        money0 - DEMO_MONEY_PAID
    );
    let goods_log: Vec<i64> = shop
        .goods_log(DEMO_GOODS)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.0 == o.order_id)
        .map(|l| l.1)
        .collect();
    assert_eq!(goods_log, vec![-1]);
    let money_log: Vec<(i64, i64)> = shop
        .money_log(DEMO_USER)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.0 == o.order_id)
        .map(|l| (l.1, l.2))
        .collect();
    assert_eq!(money_log, vec![(1, DEMO_MONEY_PAID)]);

    // No cancel message for a confirmed order: none was stored (so none can arrive later).
    assert_eq!(
        t.stored("orderTopic"),
        0,
        "a confirmed order sent a message"
    );
    for l in CANCEL_LISTENERS {
        assert_eq!(t.handled(l), 0, "{l}");
    }
    assert!(shop.consumer_log().await.unwrap().is_empty());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_refuse_with_their_code_and_send_nothing() {
    let t = TestShop::start().await;
    let shop = t.shop();
    let ok = || demo_order(DEMO_COUPON_OK, None);
    let cases: Vec<(&str, ConfirmOrder)> = vec![
        ("REQUEST_INVALID", ConfirmOrder::default()),
        (
            "REQUEST_INVALID",
            ConfirmOrder {
                goods_number: Some(0),
                ..ok()
            },
        ),
        (
            "GOODS_NOT_FOUND",
            ConfirmOrder {
                goods_id: Some(999),
                ..ok()
            },
        ),
        (
            "USER_NOT_FOUND",
            ConfirmOrder {
                user_id: Some(999),
                ..ok()
            },
        ),
        (
            "GOODS_PRICE_INVALID",
            ConfirmOrder {
                goods_price: Some(1),
                ..ok()
            },
        ),
        (
            "GOODS_NUM_NOT_ENOUGH",
            ConfirmOrder {
                goods_number: Some(1001),
                order_amount: Some(500_500_000),
                ..ok()
            },
        ),
        (
            "ORDER_AMOUNT_INVALID",
            ConfirmOrder {
                order_amount: Some(1),
                ..ok()
            },
        ),
        (
            "SHIPPING_FEE_INVALID",
            ConfirmOrder {
                shipping_fee: Some(1_000),
                ..ok()
            },
        ),
        (
            "COUPON_NOT_FOUND",
            ConfirmOrder {
                coupon_id: Some(999),
                ..ok()
            },
        ),
        (
            "COUPON_NOT_OWNED",
            ConfirmOrder {
                coupon_id: Some(201),
                ..ok()
            },
        ),
        (
            "MONEY_PAID_LESS_ZERO",
            ConfirmOrder {
                money_paid: Some(-1),
                ..ok()
            },
        ),
        (
            "MONEY_PAID_INVALID",
            ConfirmOrder {
                money_paid: Some(10_000_001),
                ..ok()
            },
        ),
        (
            "PAY_AMOUNT_LESS_ZERO",
            ConfirmOrder {
                money_paid: Some(495_000),
                ..ok()
            },
        ),
    ];
    for (code, req) in cases {
        match shop.confirm_order(&req).await {
            Err(e) => assert_eq!(e.code(), code, "{req:?}: {e}"),
            Ok(o) => panic!("{req:?} was accepted as order {}", o.order_id),
        }
    }
    // A used coupon.
    shop.confirm_order(&ok()).await.expect("first order");
    let e = shop.confirm_order(&ok()).await.expect_err("coupon reused");
    assert_eq!(e.code(), "COUPON_IS_USED");
    // Shipping: 10.00 at or below 100.00.
    let book = ConfirmOrder {
        goods_id: Some(2),
        goods_price: Some(5_000),
        order_amount: Some(5_000),
        shipping_fee: Some(1_000),
        coupon_id: None,
        money_paid: Some(0),
        ..ok()
    };
    let o = shop.confirm_order(&book).await.expect("book ordered");
    assert_eq!((o.shipping_fee, o.pay_amount), (1_000, 5_000));

    assert_eq!(t.stored("orderTopic"), 0, "a refused order sent a message");
    for l in CANCEL_LISTENERS {
        assert_eq!(t.handled(l), 0, "{l}: a refused order sent a message");
    }
    assert_eq!(
        shop.goods(DEMO_GOODS).await.unwrap().goods_number,
        999,
        "only the first order took stock"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_item_can_be_bought() {
    let t = TestShop::start().await;
    let shop = t.shop();
    let stock = shop.goods(DEMO_GOODS).await.unwrap().goods_number;
    let all = ConfirmOrder {
        goods_number: Some(stock),
        order_amount: Some(500_000 * stock),
        coupon_id: None,
        money_paid: Some(0),
        ..demo_order(DEMO_COUPON_OK, None)
    };
    let o = shop
        .confirm_order(&all)
        .await
        .expect("buying the whole stock is allowed");
    assert_eq!(o.goods_number, stock);
    assert_eq!(shop.goods(DEMO_GOODS).await.unwrap().goods_number, 0);
    let e = shop
        .confirm_order(&demo_order(DEMO_COUPON_OK, None))
        .await
        .expect_err("sold out");
    assert_eq!(e.code(), "GOODS_NUM_NOT_ENOUGH");
    t.stop().await;
}

// ---- failure and compensation ------------------------------------------------------------------------

async fn failing_order(t: &TestShop, fail_at: FailAt) -> i64 {
    match t
        .shop()
        .confirm_order(&demo_order(DEMO_COUPON_FAIL, Some(fail_at)))
        .await
    {
        Err(ShopError::ConfirmFailed {
            order_id,
            cancel_sent: true,
            ..
        }) => order_id,
        other => panic!("expected a failed confirmation, got {other:?}"),
    }
}

/// The state of a failed order once compensated: cancelled, and everything given back.
async fn assert_compensated(t: &TestShop, order_id: i64, stock0: i64, money0: i64, took: bool) {
    let shop = t.shop();
    let o = shop.order(order_id).await.unwrap();
    assert_eq!((o.order_status, o.pay_status), (2, 0), "order cancelled");
    assert_eq!(
        shop.goods(DEMO_GOODS).await.unwrap().goods_number,
        stock0,
        "stock restored"
    );
    let c = shop.coupon(DEMO_COUPON_FAIL).await.unwrap();
    assert_eq!(
        (c.is_used, c.order_id, c.used_time),
        (0, None, None),
        "coupon unused"
    );
    assert_eq!(
        shop.user(DEMO_USER).await.unwrap().user_money,
        money0,
        "balance restored"
    );
    let goods_log: Vec<i64> = shop
        .goods_log(DEMO_GOODS)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.0 == order_id)
        .map(|l| l.1)
        .collect();
    let money_log: Vec<(i64, i64)> = shop
        .money_log(DEMO_USER)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.0 == order_id)
        .map(|l| (l.1, l.2))
        .collect();
    if took {
        assert_eq!(goods_log, vec![-1, 1]);
        assert_eq!(money_log, vec![(1, DEMO_MONEY_PAID), (2, DEMO_MONEY_PAID)]);
    } else {
        assert!(
            goods_log.is_empty() && money_log.is_empty(),
            "{goods_log:?} {money_log:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_after_everything_was_taken_is_compensated() {
    let t = TestShop::start().await;
    let shop = t.shop();
    let stock0 = shop.goods(DEMO_GOODS).await.unwrap().goods_number;
    let money0 = shop.user(DEMO_USER).await.unwrap().user_money;
    let order_id = failing_order(&t, FailAt::Confirm).await;
    for l in CANCEL_LISTENERS {
        t.wait_handled(l, 1).await;
    }
    assert_compensated(&t, order_id, stock0, money0, true).await;
    let cfg = shop.config().clone();
    for g in [
        &cfg.cancel_groups.goods,
        &cfg.cancel_groups.coupon,
        &cfg.cancel_groups.user,
        &cfg.cancel_groups.order,
    ] {
        let rows = t.log_rows(g, order_id).await;
        assert_eq!(rows.len(), 1, "{g}");
        assert_eq!(
            (
                rows[0].consumer_status,
                rows[0].consumer_times,
                rows[0].msg_tag.as_str()
            ),
            (1, 1, "order_cancel")
        );
        let body: CancelMessage =
            serde_json::from_str(rows[0].msg_body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            CancelMessage {
                order_id,
                coupon_id: Some(DEMO_COUPON_FAIL),
                goods_id: DEMO_GOODS,
                goods_number: 1,
                user_id: DEMO_USER,
                user_money: DEMO_MONEY_PAID
            }
        );
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_before_anything_was_taken_gives_nothing_back() {
    let t = TestShop::start().await;
    let shop = t.shop();
    let stock0 = shop.goods(DEMO_GOODS).await.unwrap().goods_number;
    let money0 = shop.user(DEMO_USER).await.unwrap().user_money;
    let order_id = failing_order(&t, FailAt::ReduceStock).await;
    for l in CANCEL_LISTENERS {
        t.wait_handled(l, 1).await;
    }
    assert_compensated(&t, order_id, stock0, money0, false).await;

    // Half-way: stock and coupon taken, balance not.
    let order_id = match shop
        .confirm_order(&demo_order(DEMO_COUPON_FAIL, Some(FailAt::PayMoney)))
        .await
    {
        Err(ShopError::ConfirmFailed { order_id, .. }) => order_id,
        other => panic!("{other:?}"),
    };
    for l in CANCEL_LISTENERS {
        t.wait_handled(l, 2).await;
    }
    let o = shop.order(order_id).await.unwrap();
    assert_eq!(o.order_status, 2);
    assert_eq!(shop.goods(DEMO_GOODS).await.unwrap().goods_number, stock0);
    assert_eq!(shop.coupon(DEMO_COUPON_FAIL).await.unwrap().is_used, 0);
    assert_eq!(
        shop.user(DEMO_USER).await.unwrap().user_money,
        money0,
        "nothing paid, nothing refunded"
    );
    t.stop().await;
}

// ---- exactly-once effects under at-least-once delivery ----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_cancel_message_twice_restores_once() {
    let t = TestShop::start().await;
    let shop = t.shop();
    let stock0 = shop.goods(DEMO_GOODS).await.unwrap().goods_number;
    let money0 = shop.user(DEMO_USER).await.unwrap().user_money;
    let order_id = failing_order(&t, FailAt::Confirm).await;
    for l in CANCEL_LISTENERS {
        t.wait_handled(l, 1).await;
    }
    // The same message again: same key, same body.
    let template = t.app().app().template();
    let body = CancelMessage {
        order_id,
        coupon_id: Some(DEMO_COUPON_FAIL),
        goods_id: DEMO_GOODS,
        goods_number: 1,
        user_id: DEMO_USER,
        user_money: DEMO_MONEY_PAID,
    };
    let out = template.payload(&body).unwrap().key(order_id.to_string());
    template
        .sync_send(&shop.config().cancel_destination(), out)
        .await
        .expect("resent");
    for l in CANCEL_LISTENERS {
        t.wait_handled(l, 2).await;
    }
    assert_compensated(&t, order_id, stock0, money0, true).await;
    let cfg = shop.config().clone();
    for g in [
        &cfg.cancel_groups.goods,
        &cfg.cancel_groups.coupon,
        &cfg.cancel_groups.user,
        &cfg.cancel_groups.order,
    ] {
        let rows = t.log_rows(g, order_id).await;
        assert_eq!(rows.len(), 1, "{g}");
        assert_eq!(
            (rows[0].consumer_status, rows[0].consumer_times),
            (1, 1),
            "{g}: the duplicate ran nothing"
        );
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_failing_twice_then_succeeding_has_one_effect() {
    let t = TestShop::start().await;
    let shop = t.shop();
    let stock0 = shop.goods(DEMO_GOODS).await.unwrap().goods_number;
    let money0 = shop.user(DEMO_USER).await.unwrap().user_money;
    let group = shop.config().cancel_groups.goods.clone();
    shop.fail_next(&group, 2);
    let order_id = failing_order(&t, FailAt::Confirm).await;
    for l in CANCEL_LISTENERS {
        t.wait_handled(l, 1).await;
    }
    let stats = t.app().app().listener_stats("goods_order_cancel").unwrap();
    assert_eq!(stats.failed(), 2, "two failed runs before the success");
    assert_compensated(&t, order_id, stock0, money0, true).await;
    let rows = t.log_rows(&group, order_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].consumer_status, rows[0].consumer_times),
        (1, 3),
        "two failures and the success recorded"
    );
    assert!(
        rows[0]
            .remark
            .as_deref()
            .unwrap_or_default()
            .contains("injected"),
        "{:?}",
        rows[0].remark
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_always_fails_dead_letters_without_effect() {
    let t = TestShop::start().await;
    let shop = t.shop();
    let stock0 = shop.goods(DEMO_GOODS).await.unwrap().goods_number;
    let group = shop.config().cancel_groups.goods.clone();
    shop.fail_next(&group, u32::MAX);
    let order_id = failing_order(&t, FailAt::Confirm).await;
    let key = order_id.to_string();
    let dead = expect_dead_letter(t.app().app(), &group, WAIT, |m| m.keys() == [key.as_str()])
        .await
        .expect("the message reaches the group's DLQ");
    assert_eq!(dead.keys(), [key.as_str()]);
    let rows = t.log_rows(&group, order_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].consumer_status, rows[0].consumer_times),
        (2, 3),
        "failed, attempts used up"
    );
    // No partial effect: the deduction stays, no restore was logged.
    assert_eq!(
        shop.goods(DEMO_GOODS).await.unwrap().goods_number,
        stock0 - 1
    );
    let goods_log: Vec<i64> = shop
        .goods_log(DEMO_GOODS)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.0 == order_id)
        .map(|l| l.1)
        .collect();
    assert_eq!(goods_log, vec![-1]);
    // The other services compensated regardless.
    for l in [
        "coupon_order_cancel",
        "user_order_cancel",
        "order_order_cancel",
    ] {
        t.wait_handled(l, 1).await;
    }
    assert_eq!(shop.order(order_id).await.unwrap().order_status, 2);
    t.stop().await;
}

// ---- payment -----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_path_produces_the_specs_states() {
    let t = TestShop::start().await;
    let shop = t.shop();
    let o = shop
        .confirm_order(&demo_order(DEMO_COUPON_OK, None))
        .await
        .unwrap();
    let score0 = shop.user(DEMO_USER).await.unwrap().user_score;

    let e = shop
        .create_payment(&CreatePayment {
            order_id: Some(o.order_id),
            pay_amount: Some(1),
        })
        .await
        .expect_err("wrong amount");
    assert_eq!(e.code(), "PAY_AMOUNT_INVALID");
    let e = shop
        .create_payment(&CreatePayment {
            order_id: Some(42),
            pay_amount: None,
        })
        .await
        .expect_err("no order");
    assert_eq!(e.code(), "ORDER_NOT_FOUND");

    let pay = shop
        .create_payment(&CreatePayment {
            order_id: Some(o.order_id),
            pay_amount: Some(480_000),
        })
        .await
        .unwrap();
    assert_eq!(
        (pay.order_id, pay.pay_amount, pay.is_paid),
        (o.order_id, 480_000, 1)
    );

    let e = shop
        .callback_payment(&PayCallback {
            pay_id: Some(7),
            is_paid: Some(2),
        })
        .await
        .expect_err("unknown");
    assert_eq!(e.code(), "PAYMENT_NOT_FOUND");
    let e = shop
        .callback_payment(&PayCallback {
            pay_id: Some(pay.pay_id),
            is_paid: Some(1),
        })
        .await
        .expect_err("not paid");
    assert_eq!(e.code(), "PAYMENT_NOT_PAID");

    let callback = PayCallback {
        pay_id: Some(pay.pay_id),
        is_paid: Some(2),
    };
    assert_eq!(shop.callback_payment(&callback).await.unwrap().is_paid, 2);
    let e = shop
        .callback_payment(&callback)
        .await
        .expect_err("second callback");
    assert_eq!(e.code(), "PAYMENT_IS_PAID");
    for l in PAY_LISTENERS {
        t.wait_handled(l, 1).await;
    }
    let paid = shop.order(o.order_id).await.unwrap();
    assert_eq!((paid.order_status, paid.pay_status), (1, 2));
    assert!(paid.pay_time.is_some());
    assert_eq!(
        shop.user(DEMO_USER).await.unwrap().user_score,
        score0 + score_for(480_000)
    );
    assert_eq!(shop.pay(pay.pay_id).await.unwrap().is_paid, 2);
    assert!(
        shop.wait_outbox_sent(&pay.pay_id.to_string(), WAIT)
            .await
            .unwrap(),
        "the relay marked the outbox row sent"
    );
    let outbox = shop.outbox().await.unwrap();
    assert_eq!(outbox.len(), 1, "the second callback wrote nothing");
    assert_eq!(
        (
            outbox[0].msg_topic.as_str(),
            outbox[0].msg_tag.as_str(),
            outbox[0].msg_status
        ),
        ("payTopic", "paid", 1)
    );
    assert_eq!(outbox[0].msg_key, pay.pay_id.to_string());
    assert_eq!(outbox[0].group_name, "orderProducerGroup");
    let log = shop.pay_log().await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].pay_id, log[0].order_id, log[0].pay_amount),
        (pay.pay_id, o.order_id, 480_000)
    );
    let cfg = shop.config().clone();
    for g in [
        &cfg.pay_groups.order,
        &cfg.pay_groups.user,
        &cfg.pay_groups.log,
    ] {
        let rows = t.log_rows(g, pay.pay_id).await;
        assert_eq!(rows.len(), 1, "{g}");
        assert_eq!(
            (
                rows[0].consumer_status,
                rows[0].consumer_times,
                rows[0].msg_tag.as_str()
            ),
            (1, 1, "paid")
        );
    }
    let e = shop
        .create_payment(&CreatePayment {
            order_id: Some(o.order_id),
            pay_amount: None,
        })
        .await
        .expect_err("already paid");
    assert_eq!(e.code(), "ORDER_PAY_STATUS_IS_PAY");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_sends_outbox_rows_left_by_a_crash() {
    let mut t = TestShop::start().await;
    // Run without the relay, as if the process died after the callback committed and before the send.
    t.restart(false).await;
    let shop = t.shop().clone();
    let o = shop
        .confirm_order(&demo_order(DEMO_COUPON_OK, None))
        .await
        .unwrap();
    let pay = shop
        .create_payment(&CreatePayment {
            order_id: Some(o.order_id),
            pay_amount: None,
        })
        .await
        .unwrap();
    shop.callback_payment(&PayCallback {
        pay_id: Some(pay.pay_id),
        is_paid: Some(2),
    })
    .await
    .unwrap();
    // Without the relay nothing is sent: the row stays pending and payTopic holds nothing.
    assert_eq!(t.stored("payTopic"), 0, "sent without a relay");
    assert_eq!(shop.outbox().await.unwrap()[0].msg_status, 0, "pending");
    assert_eq!(shop.order(o.order_id).await.unwrap().pay_status, 0);

    t.restart(true).await;
    for l in PAY_LISTENERS {
        t.wait_handled(l, 1).await;
    }
    let shop = t.shop();
    assert_eq!(
        shop.order(o.order_id).await.unwrap().pay_status,
        2,
        "paid once the relay sent the leftover"
    );
    // The relay marks the row sent after the broker acknowledged it, which can be after the listeners ran.
    assert!(
        shop.wait_outbox_sent(&pay.pay_id.to_string(), WAIT)
            .await
            .unwrap(),
        "the relay never marked the leftover row sent"
    );
    assert_eq!(shop.pay_log().await.unwrap().len(), 1);
    t.stop().await;
}

// ---- the demo ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_holds_every_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let report = examples_shop::demo::run_in(dir.path(), fresh_postgres().await)
        .await
        .expect("demo runs");
    assert!(report.ok(), "{}", report.render());
}

// ---- invariants under load -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_orders_keep_every_invariant() {
    let t = TestShop::start().await;
    let shop = t.shop().clone();
    let stock0 = shop.goods(DEMO_GOODS).await.unwrap().goods_number;
    let money0 = shop.user(DEMO_USER).await.unwrap().user_money;
    let steps = [
        FailAt::ReduceStock,
        FailAt::UseCoupon,
        FailAt::PayMoney,
        FailAt::Confirm,
    ];
    let mut tasks = Vec::new();
    for i in 0..200_i64 {
        let shop = shop.clone();
        let qty = 1 + i % 3;
        let req = ConfirmOrder {
            goods_number: Some(qty),
            order_amount: Some(500_000 * qty),
            coupon_id: (i < 10).then_some(101 + i),
            money_paid: Some(100),
            // Every fourth order fails, at each step in turn.
            fail_at: (i % 4 == 0).then(|| steps[(i as usize / 4) % 4]),
            ..demo_order(DEMO_COUPON_OK, None)
        };
        tasks.push(tokio::spawn(async move {
            (req.fail_at.is_some(), shop.confirm_order(&req).await)
        }));
    }
    let (mut confirmed, mut failed) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.expect("order task") {
            (false, Ok(o)) => confirmed.push(o),
            (
                true,
                Err(ShopError::ConfirmFailed {
                    order_id,
                    cancel_sent: true,
                    ..
                }),
            ) => failed.push(order_id),
            (forced, other) => panic!("forced failure {forced}: {other:?}"),
        }
    }
    assert_eq!((confirmed.len(), failed.len()), (150, 50));
    for l in CANCEL_LISTENERS {
        t.wait_handled(l, 50).await;
    }
    let sold: i64 = confirmed.iter().map(|o| o.goods_number).sum();
    assert_eq!(
        shop.goods(DEMO_GOODS).await.unwrap().goods_number + sold,
        stock0,
        "stock + sold = initial"
    );
    let paid: i64 = confirmed.iter().map(|o| o.money_paid).sum();
    assert_eq!(
        shop.user(DEMO_USER).await.unwrap().user_money + paid,
        money0,
        "money conserved"
    );
    for id in &failed {
        assert_eq!(
            shop.order(*id).await.unwrap().order_status,
            2,
            "failed order {id} cancelled"
        );
    }
    for o in &confirmed {
        assert_eq!(shop.order(o.order_id).await.unwrap().order_status, 1);
    }
    for c in shop.list_coupons().await.unwrap() {
        match c.order_id {
            Some(order_id) => {
                assert_eq!(c.is_used, 1);
                assert!(
                    confirmed.iter().any(|o| o.order_id == order_id),
                    "coupon {} used by a non-confirmed order",
                    c.coupon_id
                );
            }
            None => assert_eq!(c.is_used, 0, "coupon {} used by no order", c.coupon_id),
        }
    }
    let log = shop.consumer_log().await.unwrap();
    assert_eq!(log.len(), 200, "four groups × 50 cancelled orders");
    assert!(log
        .iter()
        .all(|l| l.consumer_status == 1 && l.consumer_times == 1));
    t.stop().await;
}

// ---- the HTTP API ----------------------------------------------------------------------------------------

mod http {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::*;

    async fn call(
        router: &axum::Router,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let req = Request::builder().method(method).uri(path);
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    fn order_json(coupon: i64) -> Value {
        json!({"userId": 1, "goodsId": 1, "goodsNumber": 1, "goodsPrice": 500000, "orderAmount": 500000,
               "shippingFee": 0, "couponId": coupon, "moneyPaid": 10000})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_api_confirms_pays_and_answers_json_errors() {
        let t = TestShop::start().await;
        let router = examples_shop::http::router(t.shop().clone());

        let (status, order) = call(&router, "POST", "/order/confirm", Some(order_json(101))).await;
        assert_eq!(status, StatusCode::OK, "{order}");
        assert_eq!(
            (order["orderStatus"].as_i64(), order["payAmount"].as_i64()),
            (Some(1), Some(480_000))
        );
        let order_id = order["orderId"].as_i64().unwrap();

        let (status, err) = call(&router, "POST", "/order/confirm", Some(order_json(101))).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::CONFLICT, Some("COUPON_IS_USED"))
        );
        assert!(err["message"].as_str().unwrap().contains("101"));
        let (status, err) = call(
            &router,
            "POST",
            "/order/confirm",
            Some(json!({"userId": "x"})),
        )
        .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("REQUEST_INVALID"))
        );
        let (status, err) = call(&router, "GET", "/order/abc", None).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("REQUEST_INVALID"))
        );
        let (status, err) = call(&router, "GET", "/order/1", None).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("ORDER_NOT_FOUND"))
        );
        let (status, err) = call(&router, "GET", "/nowhere", None).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
        );

        let mut failing = order_json(102);
        failing["failAt"] = json!("confirm");
        let (status, err) = call(&router, "POST", "/order/confirm", Some(failing)).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::CONFLICT, Some("ORDER_CONFIRM_FAILED"))
        );

        let (status, got) = call(&router, "GET", &format!("/order/{order_id}"), None).await;
        assert_eq!(
            (status, got["orderId"].as_i64()),
            (StatusCode::OK, Some(order_id))
        );
        let (_, user) = call(&router, "GET", "/user/1", None).await;
        assert!(
            user.get("userPassword").is_none(),
            "the hash is not sent: {user}"
        );
        let (_, goods) = call(&router, "GET", "/goods", None).await;
        assert_eq!(goods.as_array().map(Vec::len), Some(2));
        let (_, coupon) = call(&router, "GET", "/coupon/101", None).await;
        assert_eq!(coupon["orderId"].as_i64(), Some(order_id));
        let (_, coupons) = call(&router, "GET", "/coupons", None).await;
        assert!(coupons.as_array().is_some_and(|c| c.len() >= 10));

        let (status, pay) = call(
            &router,
            "POST",
            "/pay/createPayment",
            Some(json!({"orderId": order_id, "payAmount": 480000})),
        )
        .await;
        assert_eq!(
            (status, pay["isPaid"].as_i64()),
            (StatusCode::OK, Some(1)),
            "{pay}"
        );
        let callback = json!({"payId": pay["payId"], "isPaid": 2});
        let (status, paid) = call(
            &router,
            "POST",
            "/pay/callbackPayment",
            Some(callback.clone()),
        )
        .await;
        assert_eq!((status, paid["isPaid"].as_i64()), (StatusCode::OK, Some(2)));
        let (status, err) = call(&router, "POST", "/pay/callbackPayment", Some(callback)).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::CONFLICT, Some("PAYMENT_IS_PAID"))
        );

        for l in PAY_LISTENERS.iter().chain(CANCEL_LISTENERS.iter()) {
            t.wait_handled(l, 1).await;
        }
        let (_, order) = call(&router, "GET", &format!("/order/{order_id}"), None).await;
        assert_eq!(order["payStatus"].as_i64(), Some(2));
        let (status, log) = call(&router, "GET", "/mq/consumer-log", None).await;
        assert_eq!(
            (status, log.as_array().map(Vec::len)),
            (StatusCode::OK, Some(7)),
            "{log}"
        );
        t.stop().await;
    }
}

// ---- a consumer killed mid-handler ---------------------------------------------------------------------

/// Set (to the data directory) in the child process of the crash test.
const CRASH_CHILD_ENV: &str = "SHOP_CRASH_CHILD_DIR";
/// The child's database URL (PostgreSQL runs), if any.
const CRASH_CHILD_DB_ENV: &str = "SHOP_CRASH_CHILD_DB";

/// The crash test's child: a shop whose goods cancel consumer applies its effect and then stalls with its
/// transaction open; prints `STALLED <order id>` and waits to be killed. Ignored in a normal run (the crash
/// test runs it with `--ignored`), so it is never reported as a pass it did not earn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of the consumer-crash test; run by that test"]
async fn crash_child() {
    let dir = std::env::var(CRASH_CHILD_ENV).unwrap_or_else(|_| {
        panic!("crash_child runs as the crash test's child, with {CRASH_CHILD_ENV} set")
    });
    let app = start_app(
        Path::new(&dir),
        std::env::var(CRASH_CHILD_DB_ENV).ok(),
        true,
    )
    .await;
    let shop = app.shop().clone();
    shop.stall_next(&shop.config().cancel_groups.goods.clone());
    let order_id = match shop
        .confirm_order(&demo_order(DEMO_COUPON_FAIL, Some(FailAt::Confirm)))
        .await
    {
        Err(ShopError::ConfirmFailed { order_id, .. }) => order_id,
        other => panic!("{other:?}"),
    };
    shop.stalled().await;
    println!("STALLED {order_id}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_mid_handler_restores_once_after_redelivery() {
    if std::env::var(CRASH_CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("shop-crash")
        .tempdir()
        .unwrap();
    let database_url = fresh_postgres().await;
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "crash_child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CRASH_CHILD_ENV, dir.path())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null());
    if let Some(url) = &database_url {
        cmd.env(CRASH_CHILD_DB_ENV, url);
    }
    let mut child = cmd.spawn().expect("child starts");
    let stdout = child.stdout.take().unwrap();
    let reader = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            // libtest prints "test crash_child ... " without a newline before the child's own output.
            if let Some(at) = line.find("STALLED ") {
                return line[at + "STALLED ".len()..].trim().parse::<i64>().ok();
            }
        }
        None
    });
    let order_id = tokio::time::timeout(WAIT, reader).await;
    // kill -9: no shutdown, no offset commit, the claim's transaction dies with the process.
    let _ = child.kill();
    let _ = child.wait();
    let order_id = order_id
        .expect("child stalled in time")
        .unwrap()
        .expect("child printed the order id");

    let app = start_app(dir.path(), database_url, true).await;
    let t = TestShop {
        app: Some(app),
        dir,
        database_url: None,
    };
    let shop = t.shop();
    t.wait_handled("goods_order_cancel", 1).await;
    let goods_log: Vec<i64> = shop
        .goods_log(DEMO_GOODS)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.0 == order_id)
        .map(|l| l.1)
        .collect();
    assert_eq!(goods_log, vec![-1, 1], "restored exactly once");
    let stock0 = examples_shop::db::SEED.goods[0].goods_number;
    assert_eq!(shop.goods(DEMO_GOODS).await.unwrap().goods_number, stock0);
    let rows = t
        .log_rows(&shop.config().cancel_groups.goods.clone(), order_id)
        .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].consumer_status, rows[0].consumer_times),
        (1, 1),
        "the killed run left nothing behind"
    );
    // The other consumers handled it before the kill or handle it now: either way once.
    let money0 = examples_shop::db::SEED.users[0].user_money;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let c = shop.coupon(DEMO_COUPON_FAIL).await.unwrap();
        let o = shop.order(order_id).await.unwrap();
        let money = shop.user(DEMO_USER).await.unwrap().user_money;
        if (c.is_used, o.order_status, money) == (0, 2, money0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not compensated: coupon used {}, order status {}, balance {money}",
            c.is_used,
            o.order_status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refunds = shop
        .money_log(DEMO_USER)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.0 == order_id && l.1 == 2)
        .count();
    assert_eq!(refunds, 1);
    t.stop().await;
}
