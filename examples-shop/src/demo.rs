//! The `demo` command: the notes' scenarios on the embedded defaults (bundled broker in-process, SQLite in a
//! temp directory), with every invariant checked.
//!
//! 1. A successful order: stock −1, coupon used by the order, balance −money_paid, order confirmed.
//! 2. An order whose confirmation fails after stock, coupon and balance were taken (`failAt = confirm`): the
//!    cancel message reaches the four consumers, which give everything back; the order ends cancelled.
//! 3. Payment of order 1 and its callback, twice: the second is answered "already paid" and sends nothing;
//!    the outbox relay sends the pay message once, and the three pay consumers mark the order paid, add the
//!    score and write the pay log.
//!
//! [`run`] returns a [`DemoReport`]: the before/after table, the consumer log, and the invariants that did
//! not hold (none, when the shop works).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::app::{ShopApp, ShopOptions, StartupError};
use crate::config::load_settings;
use crate::db::{ConsumerLogRow, OutboxRow, PayLogRow, TradeOrder};
use crate::error::ShopError;
use crate::listeners::{CANCEL_LISTENERS, PAY_LISTENERS};
use crate::service::order::{shipping_fee_for, ConfirmOrder, FailAt};
use crate::service::pay::{score_for, CreatePayment, PayCallback};
use crate::service::AnyShop;

/// The demo's buyer, goods and coupons (seed data).
pub const DEMO_USER: i64 = 1;
/// The phone (500000 cents).
pub const DEMO_GOODS: i64 = 1;
/// The coupon of the successful order.
pub const DEMO_COUPON_OK: i64 = 101;
/// The coupon of the failing order.
pub const DEMO_COUPON_FAIL: i64 = 102;
/// The notes' money paid: 100.00.
pub const DEMO_MONEY_PAID: i64 = 10_000;

/// How long the demo waits for consumers.
const WAIT: Duration = Duration::from_secs(30);

/// Why the demo could not run at all (as opposed to an invariant failing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The shop did not start.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// A shop call failed unexpectedly.
    #[error("shop call failed: {0}")]
    Shop(#[from] ShopError),
    /// The temp directory.
    #[error("temp directory: {0}")]
    Io(#[from] std::io::Error),
}

/// One row of the before/after table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRow {
    /// What the row shows.
    pub label: String,
    /// Stock of the demo goods.
    pub stock: i64,
    /// The coupon involved: "unused" or "used by #order".
    pub coupon: String,
    /// The buyer's balance (cents).
    pub balance: i64,
    /// The buyer's score.
    pub score: i64,
    /// order_status / pay_status of the order involved, if any.
    pub order: Option<(i64, i64)>,
}

/// What the demo saw.
#[derive(Debug, Default)]
pub struct DemoReport {
    /// The before/after table.
    pub rows: Vec<StateRow>,
    /// The consumer log at the end.
    pub consumer_log: Vec<ConsumerLogRow>,
    /// Orders created (ok, failed).
    pub orders: Vec<TradeOrder>,
    /// Invariants that did not hold.
    pub failures: Vec<String>,
    /// Narration.
    pub notes: Vec<String>,
}

impl DemoReport {
    /// Whether every invariant held.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    fn check(&mut self, cond: bool, what: impl Into<String>) {
        if !cond {
            self.failures.push(what.into());
        }
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for n in &self.notes {
            let _ = writeln!(s, "{n}");
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<38} {:>6}  {:<32} {:>12} {:>6}  order / pay status",
            "state", "stock", "coupon", "balance", "score"
        );
        for r in &self.rows {
            let order = match r.order {
                Some((o, p)) => format!("{} / {}", order_status_name(o), pay_status_name(p)),
                None => "-".into(),
            };
            let _ = writeln!(
                s,
                "{:<38} {:>6}  {:<32} {:>12} {:>6}  {}",
                r.label,
                r.stock,
                r.coupon,
                money(r.balance),
                r.score,
                order
            );
        }
        let _ = writeln!(s, "\nconsumer log (trade_mq_consumer_log):");
        let _ = writeln!(
            s,
            "{:<28} {:<14} {:<20} {:>6} {:>5}  remark",
            "group", "tag", "key", "status", "times"
        );
        for l in &self.consumer_log {
            let _ = writeln!(
                s,
                "{:<28} {:<14} {:<20} {:>6} {:>5}  {}",
                l.group_name,
                l.msg_tag,
                l.msg_key,
                l.consumer_status,
                l.consumer_times,
                l.remark.as_deref().unwrap_or("")
            );
        }
        let _ = writeln!(s);
        if self.ok() {
            let _ = writeln!(s, "every invariant held");
        } else {
            for f in &self.failures {
                let _ = writeln!(s, "INVARIANT FAILED: {f}");
            }
        }
        s
    }
}

/// Cents as "1234.56".
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

/// order_status as a word.
pub fn order_status_name(s: i64) -> &'static str {
    match s {
        0 => "unconfirmed",
        1 => "confirmed",
        2 => "cancelled",
        3 => "invalid",
        4 => "refunded",
        _ => "?",
    }
}

/// pay_status as a word.
pub fn pay_status_name(s: i64) -> &'static str {
    match s {
        0 => "unpaid",
        1 => "paying",
        2 => "paid",
        _ => "?",
    }
}

/// The demo's order request for `coupon`.
pub fn demo_order(coupon: i64, fail_at: Option<FailAt>) -> ConfirmOrder {
    let price = 500_000;
    ConfirmOrder {
        user_id: Some(DEMO_USER),
        goods_id: Some(DEMO_GOODS),
        goods_number: Some(1),
        goods_price: Some(price),
        order_amount: Some(price),
        shipping_fee: Some(shipping_fee_for(price)),
        coupon_id: Some(coupon),
        money_paid: Some(DEMO_MONEY_PAID),
        address: "1 Demo Street".into(),
        consignee: "alice".into(),
        fail_at,
    }
}

/// Starts the shop on the embedded defaults in a temp directory and runs the demo.
pub async fn run() -> Result<DemoReport, DemoError> {
    let dir = tempfile::Builder::new().prefix("rmq-shop-demo").tempdir()?;
    run_in(dir.path(), None).await
}

/// Runs the demo with its data under `data_dir` (and `database_url`, if given).
pub async fn run_in(
    data_dir: &Path,
    database_url: Option<String>,
) -> Result<DemoReport, DemoError> {
    let settings = load_settings(None).map_err(StartupError::from)?;
    let app = ShopApp::start(ShopOptions::new(settings, database_url, data_dir)).await?;
    let result = scenarios(&app).await;
    app.shutdown().await;
    result
}

async fn state(
    shop: &AnyShop,
    label: &str,
    coupon: i64,
    order: Option<i64>,
) -> Result<StateRow, ShopError> {
    let goods = shop.goods(DEMO_GOODS).await?;
    let c = shop.coupon(coupon).await?;
    let user = shop.user(DEMO_USER).await?;
    let order = match order {
        Some(id) => {
            let o = shop.order(id).await?;
            Some((o.order_status, o.pay_status))
        }
        None => None,
    };
    Ok(StateRow {
        label: label.to_string(),
        stock: goods.goods_number,
        coupon: match (c.is_used, c.order_id) {
            (1, Some(o)) => format!("{coupon} used by #{o}"),
            (1, None) => format!("{coupon} used"),
            _ => format!("{coupon} unused"),
        },
        balance: user.user_money,
        score: user.user_score,
        order,
    })
}

async fn scenarios(app: &ShopApp) -> Result<DemoReport, DemoError> {
    let shop = app.shop();
    let mut r = DemoReport::default();
    r.notes.push(format!(
        "rmq shop demo: bundled broker at {}, {} database",
        app.app().namesrv_addr(),
        shop.db_kind()
    ));

    // 1. A successful order.
    let before = state(shop, "before order 1", DEMO_COUPON_OK, None).await?;
    let ok = shop
        .confirm_order(&demo_order(DEMO_COUPON_OK, None))
        .await?;
    r.notes.push(format!(
        "order #{} confirmed: pay {} (= {} - coupon {} - balance {})",
        ok.order_id,
        money(ok.pay_amount),
        money(ok.order_amount),
        money(ok.coupon_paid),
        money(ok.money_paid)
    ));
    let after = state(
        shop,
        "after order 1 (confirmed)",
        DEMO_COUPON_OK,
        Some(ok.order_id),
    )
    .await?;
    r.check(
        after.stock == before.stock - 1,
        format!(
            "order 1: stock {} → {}, expected −1",
            before.stock, after.stock
        ),
    );
    r.check(
        after.coupon == format!("{DEMO_COUPON_OK} used by #{}", ok.order_id),
        format!("order 1: coupon is {:?}", after.coupon),
    );
    r.check(
        after.balance == before.balance - DEMO_MONEY_PAID,
        format!(
            "order 1: balance {} → {}, expected −{}",
            before.balance, after.balance, DEMO_MONEY_PAID
        ),
    );
    r.check(
        after.order == Some((1, 0)),
        format!(
            "order 1: status {:?}, expected confirmed/unpaid",
            after.order
        ),
    );
    r.check(
        ok.pay_amount == 480_000,
        format!(
            "order 1: pay amount {}, expected 4800.00",
            money(ok.pay_amount)
        ),
    );
    r.rows.push(before);
    r.rows.push(after.clone());

    // 2. An order that fails after stock, coupon and balance were taken, and is compensated.
    let before2 = state(shop, "before order 2", DEMO_COUPON_FAIL, None).await?;
    let failed_id = match shop
        .confirm_order(&demo_order(DEMO_COUPON_FAIL, Some(FailAt::Confirm)))
        .await
    {
        Err(ShopError::ConfirmFailed {
            order_id,
            step,
            cancel_sent,
            ..
        }) => {
            r.notes.push(format!(
                "order #{order_id} failed at \"{step}\" (injected); cancel message sent: {cancel_sent}"
            ));
            r.check(cancel_sent, "order 2: the cancel message was not sent");
            order_id
        }
        Err(e) => return Err(e.into()),
        Ok(o) => {
            r.failures.push(format!(
                "order 2 (#{}) was confirmed despite failAt",
                o.order_id
            ));
            return Ok(r);
        }
    };
    // What the failure left before compensation (the consumers may already be at work, so not checked).
    for name in CANCEL_LISTENERS {
        let handled = match app.app().listener_stats(name) {
            Some(stats) => stats.wait_handled(1, WAIT).await,
            None => false,
        };
        r.check(
            handled,
            format!("cancel listener {name} did not handle the cancel message within {WAIT:?}"),
        );
    }
    let after2 = state(
        shop,
        "after order 2 (failed, compensated)",
        DEMO_COUPON_FAIL,
        Some(failed_id),
    )
    .await?;
    r.check(
        after2.stock == before2.stock,
        format!(
            "order 2: stock {} → {}, expected restored",
            before2.stock, after2.stock
        ),
    );
    r.check(
        after2.coupon == format!("{DEMO_COUPON_FAIL} unused"),
        format!("order 2: coupon is {:?}", after2.coupon),
    );
    r.check(
        after2.balance == before2.balance,
        format!(
            "order 2: balance {} → {}, expected refunded",
            before2.balance, after2.balance
        ),
    );
    r.check(
        after2.order == Some((2, 0)),
        format!(
            "order 2: status {:?}, expected cancelled/unpaid",
            after2.order
        ),
    );
    let goods_log = shop.goods_log(DEMO_GOODS).await?;
    let entries: Vec<i64> = goods_log
        .iter()
        .filter(|(o, _, _)| *o == failed_id)
        .map(|(_, n, _)| *n)
        .collect();
    r.check(
        entries.len() == 2 && entries.contains(&-1) && entries.contains(&1),
        format!("order 2: goods log {entries:?}, expected -1 and +1"),
    );
    let money_log: Vec<(i64, i64)> = shop
        .money_log(DEMO_USER)
        .await?
        .into_iter()
        .filter(|(o, _, _)| *o == failed_id)
        .map(|(_, t, m)| (t, m))
        .collect();
    r.check(
        money_log.len() == 2
            && money_log.contains(&(1, DEMO_MONEY_PAID))
            && money_log.contains(&(2, DEMO_MONEY_PAID)),
        format!("order 2: money log {money_log:?}, expected one payment and one refund"),
    );
    r.rows.push(before2);
    r.rows.push(after2);

    // The consumer log: one done row per cancel group for the failed order, nothing else failed.
    r.consumer_log = shop.consumer_log().await?;
    let cfg = shop.config();
    for group in [
        &cfg.cancel_groups.goods,
        &cfg.cancel_groups.coupon,
        &cfg.cancel_groups.user,
        &cfg.cancel_groups.order,
    ] {
        let rows: Vec<&ConsumerLogRow> = r
            .consumer_log
            .iter()
            .filter(|l| &l.group_name == group && l.msg_key == failed_id.to_string())
            .collect();
        r.check(
            rows.len() == 1 && rows[0].consumer_status == 1 && rows[0].consumer_times == 1,
            format!(
                "consumer log of {group} for order {failed_id}: {rows:?}, expected one done row"
            ),
        );
    }
    payment(app, &mut r, &ok).await?;

    r.consumer_log = shop.consumer_log().await?;
    r.orders.push(shop.order(ok.order_id).await?);
    r.orders.push(shop.order(failed_id).await?);
    Ok(r)
}

/// Scenario 3: pay order 1, call back twice.
async fn payment(app: &ShopApp, r: &mut DemoReport, order: &TradeOrder) -> Result<(), DemoError> {
    let shop = app.shop();
    let before = state(shop, "before payment", DEMO_COUPON_OK, Some(order.order_id)).await?;
    let pay = shop
        .create_payment(&CreatePayment {
            order_id: Some(order.order_id),
            pay_amount: Some(order.pay_amount),
        })
        .await?;
    let callback = PayCallback {
        pay_id: Some(pay.pay_id),
        is_paid: Some(2),
    };
    let first = shop.callback_payment(&callback).await?;
    r.check(
        first.is_paid == 2,
        format!(
            "payment {}: first callback left is_paid {}",
            pay.pay_id, first.is_paid
        ),
    );
    match shop.callback_payment(&callback).await {
        Err(ShopError::PayAlreadyPaid(id)) if id == pay.pay_id => r.notes.push(format!(
            "payment #{} of {} for order #{}: first callback accepted, second answered \"already paid\"",
            pay.pay_id,
            money(pay.pay_amount),
            order.order_id
        )),
        other => r.failures.push(format!("second callback answered {other:?}, expected \"already paid\"")),
    }
    match shop
        .create_payment(&CreatePayment {
            order_id: Some(order.order_id),
            pay_amount: None,
        })
        .await
    {
        Err(ShopError::OrderAlreadyPaid(_)) => {}
        other => r.failures.push(format!(
            "a second payment for a paid order answered {other:?}"
        )),
    }
    for name in PAY_LISTENERS {
        let handled = match app.app().listener_stats(name) {
            Some(stats) => stats.wait_handled(1, WAIT).await,
            None => false,
        };
        r.check(
            handled,
            format!("pay listener {name} did not handle the pay message within {WAIT:?}"),
        );
    }
    let after = state(
        shop,
        "after payment (callback twice)",
        DEMO_COUPON_OK,
        Some(order.order_id),
    )
    .await?;
    r.check(
        after.order == Some((1, 2)),
        format!(
            "payment: order status {:?}, expected confirmed/paid",
            after.order
        ),
    );
    r.check(
        shop.order(order.order_id).await?.pay_time.is_some(),
        "payment: order has no pay_time",
    );
    r.check(
        after.score == before.score + score_for(pay.pay_amount),
        format!(
            "payment: score {} → {}, expected +{}",
            before.score,
            after.score,
            score_for(pay.pay_amount)
        ),
    );
    r.check(
        after.balance == before.balance && after.stock == before.stock,
        "payment changed balance or stock",
    );
    shop.wait_outbox_sent(&pay.pay_id.to_string(), WAIT).await?;
    let outbox: Vec<OutboxRow> = shop
        .outbox()
        .await?
        .into_iter()
        .filter(|o| o.msg_key == pay.pay_id.to_string())
        .collect();
    r.check(
        outbox.len() == 1 && outbox[0].msg_status == 1,
        format!("payment: outbox rows {outbox:?}, expected one, sent"),
    );
    let log: Vec<PayLogRow> = shop
        .pay_log()
        .await?
        .into_iter()
        .filter(|l| l.pay_id == pay.pay_id)
        .collect();
    r.check(
        log.len() == 1 && log[0].pay_amount == pay.pay_amount,
        format!("payment: pay log {log:?}, expected one row"),
    );
    let consumer_log = shop.consumer_log().await?;
    let cfg = shop.config();
    for group in [
        &cfg.pay_groups.order,
        &cfg.pay_groups.user,
        &cfg.pay_groups.log,
    ] {
        let rows: Vec<&ConsumerLogRow> = consumer_log
            .iter()
            .filter(|l| &l.group_name == group && l.msg_key == pay.pay_id.to_string())
            .collect();
        r.check(
            rows.len() == 1 && rows[0].consumer_status == 1 && rows[0].consumer_times == 1,
            format!(
                "consumer log of {group} for payment {}: {rows:?}, expected one done row",
                pay.pay_id
            ),
        );
    }
    r.rows.push(before);
    r.rows.push(after);
    Ok(())
}
