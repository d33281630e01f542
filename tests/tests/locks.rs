//! LOCK_BATCH_MQ / UNLOCK_BATCH_MQ over TCP: an orderly consumer group has one owner per queue at a time,
//! ownership moves on unlock (rebalance) and when the owner stops renewing (crash).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::body::MessageQueue;
use rmq_tests::{unique, RawClient};

fn queues(topic: &str, broker: &str, n: i32) -> Vec<MessageQueue> {
    (0..n)
        .map(|q| MessageQueue {
            topic: topic.to_string(),
            broker_name: broker.to_string(),
            queue_id: q,
        })
        .collect()
}

async fn lock(
    c: &RawClient,
    group: &str,
    client_id: &str,
    mqs: &[MessageQueue],
) -> HashSet<MessageQueue> {
    c.lock_queues(group, client_id, mqs).await.expect("lock")
}

async fn unlock(c: &RawClient, group: &str, client_id: &str, mqs: &[MessageQueue]) {
    c.unlock_queues(group, client_id, mqs)
        .await
        .expect("unlock");
}

#[tokio::test]
async fn two_orderly_consumers_never_hold_the_same_queue() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let a = RawClient::connect(&broker.broker_addr()).await.expect("a");
    let b = RawClient::connect(&broker.broker_addr()).await.expect("b");
    let group = unique("orderly");
    let all = queues(&unique("T"), "broker-a", 8);

    // Both race for every queue, many rounds (renewals included): the two held sets are always disjoint and
    // together cover every queue.
    for round in 0..20 {
        let (ha, hb) = tokio::join!(
            lock(&a, &group, "client-a", &all),
            lock(&b, &group, "client-b", &all)
        );
        assert!(
            ha.is_disjoint(&hb),
            "round {round}: both hold {:?}",
            ha.intersection(&hb).collect::<Vec<_>>()
        );
        assert_eq!(
            ha.len() + hb.len(),
            all.len(),
            "round {round}: every queue has an owner"
        );
    }

    // Rebalance: a gives up the first half; b can now take it, and a can no longer.
    let first_half = &all[..4];
    unlock(&a, &group, "client-a", first_half).await;
    let hb = lock(&b, &group, "client-b", first_half).await;
    assert_eq!(hb.len(), 4);
    assert!(lock(&a, &group, "client-a", first_half).await.is_empty());

    // Unlocking somebody else's queue is a no-op.
    unlock(&a, &group, "client-a", first_half).await;
    assert!(lock(&a, &group, "client-a", first_half).await.is_empty());

    // Another group is independent.
    let other = lock(&a, &unique("other"), "client-a", &all).await;
    assert_eq!(other.len(), all.len());
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_crashed_owners_lock_expires() {
    let max_live = Duration::from_millis(400);
    let broker = EmbeddedBroker::builder()
        .property("rebalanceLockMaxLiveTime", max_live.as_millis().to_string())
        .start()
        .await
        .expect("broker");
    let a = RawClient::connect(&broker.broker_addr()).await.expect("a");
    let b = RawClient::connect(&broker.broker_addr()).await.expect("b");
    let group = unique("orderly");
    let mqs = queues(&unique("T"), "broker-a", 2);

    let locked_at = Instant::now();
    assert_eq!(lock(&a, &group, "client-a", &mqs).await.len(), 2);
    drop(a); // the owner crashes: no renewal, no unlock
             // b retries the way a client's lock renewal does until the lock is granted; it must not be granted before
             // the lock's live time has passed since a's last renewal.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let held = lock(&b, &group, "client-b", &mqs).await;
        if held.len() == 2 {
            assert!(
                locked_at.elapsed() >= max_live,
                "taken over after {:?}",
                locked_at.elapsed()
            );
            break;
        }
        assert!(held.is_empty(), "partial takeover {held:?}");
        assert!(Instant::now() < deadline, "lock never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    broker.shutdown().await.expect("shutdown");
}
