//! rmq in one file: two listeners and a template on the bundled broker, started in-process.
//!
//! ```sh
//! cargo run -p rmq-runtime --example quickstart             # send a few orders, print what arrived, exit 0
//! cargo run -p rmq-runtime --example quickstart -- --serve  # the same, then keep consuming until Ctrl-C
//! ```
//!
//! Config comes from `application.{toml,yaml,json,properties}` in the working directory (there is none at the
//! repository root) and the environment; with no `rocketmq.name-server` the bundled broker runs in-process on
//! ephemeral ports with a temp store. `ROCKETMQ_NAME_SERVER=127.0.0.1:9876` points the same program at a
//! standalone `rmq-broker` or an Apache RocketMQ cluster instead.

use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rmq_runtime::prelude::*;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct OrderCreated {
    order_id: u64,
    goods_id: u64,
    quantity: i64,
}

/// A bean: what the stock listener changes.
#[derive(Debug, Default)]
struct Stock {
    reserved: AtomicI64,
}

/// Takes only `created` orders, decoded from JSON.
#[rocketmq_listener(
    topic = "${quickstart.topic:orderTopic}",
    consumer_group = "quickstart_stock_group",
    selector_expression = "created"
)]
async fn reserve_stock(
    Json(order): Json<OrderCreated>,
    stock: Bean<Stock>,
) -> Result<(), ListenerError> {
    if order.quantity <= 0 {
        // Retrying cannot fix a bad order: straight to the group's dead-letter queue.
        return Err(ListenerError::dead_letter_msg(format!(
            "order {} has quantity {}",
            order.order_id, order.quantity
        )));
    }
    let total = stock.reserved.fetch_add(order.quantity, Ordering::SeqCst) + order.quantity;
    println!(
        "[stock] order {}: reserved {} of goods {} ({total} reserved in all)",
        order.order_id, order.quantity, order.goods_id
    );
    Ok(())
}

/// Sees every message of the topic, whatever its tag.
#[rocketmq_listener(
    topic = "${quickstart.topic:orderTopic}",
    consumer_group = "quickstart_audit_group"
)]
async fn audit(msg: MessageExt, body: String) {
    println!(
        "[audit] {} tag={} keys={}: {body}",
        msg.msg_id(),
        msg.tags().unwrap_or("-"),
        msg.keys().join(","),
    );
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().any(|a| a == "--serve")).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(serve: bool) -> Result<(), Box<dyn std::error::Error>> {
    let app = Application::builder()
        .set("rocketmq.producer.group", "quickstart_producer_group")
        .bean(Stock::default())
        .start()
        .await?;
    println!("started; name server {}", app.namesrv_addr());

    let topic = app
        .context()
        .settings()
        .get("quickstart.topic")
        .unwrap_or_else(|| "orderTopic".into());
    let template = app.template();
    let orders = [(1, 7, 2), (2, 8, 1), (3, 7, 5)];
    for (order_id, goods_id, quantity) in orders {
        let order = OrderCreated {
            order_id,
            goods_id,
            quantity,
        };
        let sent = template
            .sync_send(
                &format!("{topic}:created"),
                template.payload(&order)?.key(order_id.to_string()),
            )
            .await?;
        println!("[send]  order {order_id} created -> {}", sent.msg_id);
    }
    template
        .sync_send(&format!("{topic}:shipped"), "order 1 shipped")
        .await?;
    println!("[send]  order 1 shipped (the stock listener does not select this tag)");

    // Wait until both listeners have handled what was sent to them.
    for (listener, expected) in [("reserve_stock", orders.len()), ("audit", orders.len() + 1)] {
        let stats = app
            .listener_stats(listener)
            .ok_or_else(|| format!("listener {listener} is not running"))?;
        if !stats
            .wait_handled(expected as u64, Duration::from_secs(30))
            .await
        {
            return Err(format!(
                "{listener} handled {} of {expected} messages ({} failures) within 30 s",
                stats.handled(),
                stats.failed()
            )
            .into());
        }
    }
    let reserved = app
        .context()
        .bean::<Stock>()
        .map(|s| s.reserved.load(Ordering::SeqCst))
        .unwrap_or_default();
    println!("all handled: {reserved} units reserved");

    if serve {
        println!(
            "serving on {} (topic {topic}); Ctrl-C to stop",
            app.namesrv_addr()
        );
        app.run_until_signal().await;
    } else {
        app.shutdown().await;
    }
    Ok(())
}
