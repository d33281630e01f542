//! Transactions through the Spring-style layer: a transaction listener registered as
//! `#[rocketmq_transaction_listener]` expands (an `#[async_trait]` impl + `inventory::submit!`), bound to the
//! default template; commit, rollback, and a check-back for an unknown outcome.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rmq_runtime::__private::{async_trait, inventory};
use rmq_runtime::producer::LocalTransactionState;
use rmq_runtime::testing::{expect_message, test_app};
use rmq_runtime::transaction_listener::TransactionListenerDef;
use rmq_runtime::{AppContext, LocalTransactionListener, Message, MessageExt};

/// The "database": order ids whose local transaction committed.
#[derive(Default)]
struct Orders(Mutex<Vec<String>>);

#[derive(Default)]
struct OrderTx;

#[async_trait]
impl LocalTransactionListener for OrderTx {
    /// What the local transaction should do; `None`: commit but lose the answer.
    type Arg = Option<&'static str>;

    async fn execute(
        &self,
        msg: &Message,
        arg: &Option<&'static str>,
        ctx: &AppContext,
    ) -> LocalTransactionState {
        let order = String::from_utf8_lossy(&msg.body).into_owned();
        match *arg {
            Some("commit") => {
                if let Some(db) = ctx.bean::<Orders>() {
                    db.0.lock().push(order);
                }
                LocalTransactionState::Commit
            }
            Some("rollback") => LocalTransactionState::Rollback,
            _ => {
                // Committed locally, but the answer is lost: the broker must ask.
                if let Some(db) = ctx.bean::<Orders>() {
                    db.0.lock().push(order);
                }
                LocalTransactionState::Unknown
            }
        }
    }

    async fn check(&self, msg: &MessageExt, ctx: &AppContext) -> LocalTransactionState {
        let order = String::from_utf8_lossy(&msg.body).into_owned();
        match ctx.bean::<Orders>() {
            Some(db) if db.0.lock().contains(&order) => LocalTransactionState::Commit,
            _ => LocalTransactionState::Rollback,
        }
    }
}

inventory::submit! {
    TransactionListenerDef {
        name: "OrderTx",
        template: "rocketMQTemplate",
        create: || Arc::new(OrderTx),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_rollback_and_check_back_through_the_template() {
    let app = test_app()
        .set("rocketmq.producer.group", "tx_producer_group")
        .set("rocketmq.embedded.broker.transactionTimeOut", "300")
        .set("rocketmq.embedded.broker.transactionCheckInterval", "100")
        .bean(Orders::default())
        .only_listeners(Vec::<String>::new())
        .transactional_template("rocketMQTemplate", "tx_producer_group")
        .start()
        .await
        .expect("starts");
    let t = app.template();
    let r = t
        .send_in_transaction("TxTopic:pay", "order-1", Some("commit"))
        .await
        .unwrap();
    assert_eq!(r.state, LocalTransactionState::Commit);
    let r = t
        .send_in_transaction("TxTopic:pay", "order-2", Some("rollback"))
        .await
        .unwrap();
    assert_eq!(r.state, LocalTransactionState::Rollback);
    let wrong = t
        .send_in_transaction("TxTopic:pay", "order-x", 42_u32)
        .await
        .expect_err("an argument of another type is refused");
    assert!(
        wrong.to_string().contains("Option<&str>") && wrong.to_string().contains("u32"),
        "{wrong}"
    );
    let r = t
        .send_in_transaction("TxTopic:pay", "order-3", None::<&'static str>)
        .await
        .unwrap();
    assert_eq!(r.state, LocalTransactionState::Unknown);
    expect_message(&app, "TxTopic", Duration::from_secs(10), |m| {
        &m.body[..] == b"order-3"
    })
    .await
    .expect("the check-back finds the local commit and the broker delivers");
    let committed = expect_message(&app, "TxTopic", Duration::from_secs(10), |m| {
        &m.body[..] == b"order-1"
    })
    .await
    .expect("a committed message is delivered");
    assert_eq!(committed.tags(), Some("pay"));
    let none = expect_message(&app, "TxTopic", Duration::from_millis(500), |m| {
        &m.body[..] == b"order-2"
    })
    .await;
    assert!(none.is_err(), "a rolled-back message is never delivered");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactional_template_without_a_listener_is_refused() {
    let err = test_app()
        .only_listeners(Vec::<String>::new())
        .transactional_template("payTemplate", "pay_group")
        .start()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("payTemplate") && err.contains("no #[rocketmq_transaction_listener]"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_back_round_comes_when_virtual_time_reaches_it() {
    // Production defaults: first check after transactionTimeOut (6 s), rounds every transactionCheckInterval
    // (30 s); the test moves the clock instead of waiting.
    let app = test_app()
        .virtual_time()
        .set("rocketmq.producer.group", "tx_virtual_group")
        .bean(Orders::default())
        .only_listeners(Vec::<String>::new())
        .transactional_template("rocketMQTemplate", "tx_virtual_group")
        .start()
        .await
        .expect("starts");
    let t = app.template();
    let r = t
        .send_in_transaction("TxVirtualTopic:pay", "order-v", None::<&'static str>)
        .await
        .unwrap();
    assert_eq!(r.state, LocalTransactionState::Unknown);
    // Nothing is delivered before a round: the message stays half.
    assert!(
        expect_message(&app, "TxVirtualTopic", Duration::from_millis(300), |m| {
            &m.body[..] == b"order-v"
        })
        .await
        .is_err(),
        "delivered before any check-back"
    );
    app.advance(Duration::from_secs(30));
    expect_message(&app, "TxVirtualTopic", Duration::from_secs(10), |m| {
        &m.body[..] == b"order-v"
    })
    .await
    .expect("the round at 30 s asked, the listener found its local commit, the broker delivered");
    app.shutdown().await;
}
