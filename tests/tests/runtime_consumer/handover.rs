//! Orderly queues changing hands: a queue moves to a new member only after the batch running on the old one
//! has ended and its offset is committed, and a crashed owner's queues are taken over once its broker lock
//! expires. At no moment do two members run a batch of the same queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::body::MessageQueue;
use rmq_runtime::{ConsumeContext, ConsumeOutcome, MessageExt, PushConsumer, PushConsumerOptions};
use rmq_tests::client::OutMessage;
use rmq_tests::{eventually, unique, RawClient};
use tokio::sync::{mpsc, Semaphore};

use crate::{options, owned};

/// One listener call: who ran it, on which queue, for which body (`q{queue}:{seq}`).
#[derive(Debug, Clone)]
struct Call {
    member: &'static str,
    queue_id: i32,
    seq: usize,
}

/// Which member is inside a listener call of each queue; a second one entering is a violation.
#[derive(Default)]
struct Exclusion {
    running: Mutex<HashMap<i32, &'static str>>,
    violations: Mutex<Vec<String>>,
}

impl Exclusion {
    fn enter(&self, member: &'static str, queue_id: i32) {
        if let Some(other) = self.running.lock().insert(queue_id, member) {
            self.violations.lock().push(format!(
                "{member} entered queue {queue_id} while {other} ran it"
            ));
        }
    }

    fn leave(&self, queue_id: i32) {
        self.running.lock().remove(&queue_id);
    }
}

/// Per queue, a gate the listener waits at before the message with sequence number `hold_at`.
struct Gates {
    hold_at: Option<usize>,
    gates: HashMap<i32, Arc<Semaphore>>,
}

impl Gates {
    fn new(queues: i32, hold_at: Option<usize>) -> Arc<Gates> {
        Arc::new(Gates {
            hold_at,
            gates: (0..queues)
                .map(|q| (q, Arc::new(Semaphore::new(0))))
                .collect(),
        })
    }

    fn open(&self, queue_id: i32) {
        if let Some(g) = self.gates.get(&queue_id) {
            g.add_permits(Semaphore::MAX_PERMITS / 2);
        }
    }
}

fn orderly_options(broker: &EmbeddedBroker, group: &str, topic: &str) -> PushConsumerOptions {
    let mut opts = options(broker, group, topic);
    opts.orderly = true;
    opts.rebalance_interval = Duration::from_millis(300);
    opts
}

async fn start_member(
    opts: PushConsumerOptions,
    member: &'static str,
    gates: Arc<Gates>,
    exclusion: Arc<Exclusion>,
    tx: mpsc::UnboundedSender<Call>,
) -> PushConsumer {
    PushConsumer::start(opts, move |msgs: Vec<MessageExt>, ctx: ConsumeContext| {
        let (gates, exclusion, tx) = (gates.clone(), exclusion.clone(), tx.clone());
        async move {
            let queue_id = ctx.queue.queue_id;
            exclusion.enter(member, queue_id);
            for m in &msgs {
                let body = String::from_utf8_lossy(&m.body).into_owned();
                let seq: usize = body
                    .split_once(':')
                    .and_then(|(_, s)| s.parse().ok())
                    .unwrap_or(usize::MAX);
                let _ = tx.send(Call {
                    member,
                    queue_id,
                    seq,
                });
                if gates.hold_at == Some(seq) {
                    if let Some(gate) = gates.gates.get(&queue_id) {
                        let _ = gate.acquire().await.map(drop);
                    }
                }
            }
            exclusion.leave(queue_id);
            ConsumeOutcome::Success
        }
    })
    .await
    .expect("consumer")
}

/// A topic of `queues` queues, each holding `per_queue` messages `q{queue}:{seq}` in order.
async fn filled_topic(raw: &RawClient, queues: i32, per_queue: usize) -> String {
    let topic = unique("Handover");
    assert_eq!(
        raw.create_topic(&topic, queues).await.expect("create").code,
        0
    );
    for q in 0..queues {
        for seq in 0..per_queue {
            let body = format!("q{q}:{seq}");
            let out = raw
                .send(&OutMessage::new(&topic, body.as_bytes()).queue(q))
                .await
                .expect("send");
            assert_eq!(out.code, 0);
        }
    }
    topic
}

/// Receives calls until `done` holds for what arrived so far.
async fn calls_until(
    rx: &mut mpsc::UnboundedReceiver<Call>,
    got: &mut Vec<Call>,
    what: &str,
    done: impl Fn(&[Call]) -> bool,
) {
    while !done(got) {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(c)) => got.push(c),
            _ => panic!("{what}: not within 30 s; got {got:?}"),
        }
    }
}

/// The first delivery of each sequence number of `queue_id`, in delivery order, with who made it.
fn first_deliveries(got: &[Call], queue_id: i32) -> Vec<(usize, &'static str)> {
    let mut seen = Vec::new();
    for c in got.iter().filter(|c| c.queue_id == queue_id) {
        if !seen.iter().any(|(s, _)| *s == c.seq) {
            seen.push((c.seq, c.member));
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orderly_queue_moves_to_a_new_member_only_after_its_running_batch_ends() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = filled_topic(&raw, 2, 20).await;
    let group = unique("handover");
    let exclusion = Arc::new(Exclusion::default());
    let (tx, mut rx) = mpsc::unbounded_channel();
    // A holds each queue's first message until the test lets it go.
    let a_gates = Gates::new(2, Some(0));
    let a = start_member(
        orderly_options(&broker, &group, &topic),
        "a",
        a_gates.clone(),
        exclusion.clone(),
        tx.clone(),
    )
    .await;
    let mut got = Vec::new();
    calls_until(&mut rx, &mut got, "a runs both first messages", |g| {
        (0..2).all(|q| g.iter().any(|c| c.queue_id == q && c.seq == 0))
    })
    .await;

    let b = start_member(
        orderly_options(&broker, &group, &topic),
        "b",
        Gates::new(2, None),
        exclusion.clone(),
        tx.clone(),
    )
    .await;
    // A gives one queue up (it stops pulling and consuming it) ...
    let moved: MessageQueue = eventually(Duration::from_secs(20), "a gives a queue up", || {
        let held = owned(&a, &topic);
        async move {
            Ok((held.len() == 1).then(|| MessageQueue {
                queue_id: 1 - held[0].queue_id,
                ..held[0].clone()
            }))
        }
    })
    .await
    .expect("rebalance");
    // ... but keeps its lock while that queue's batch runs. B keeps trying at every rebalance (300 ms); the
    // window below spans ten of them and three times the second an unlock used to wait, so an early unlock
    // would show as B running the queue. (No event marks "B tried and failed", so this one check is a window.)
    let window = tokio::time::sleep(Duration::from_secs(3));
    tokio::pin!(window);
    loop {
        tokio::select! {
            _ = &mut window => break,
            c = rx.recv() => got.push(c.expect("consumers alive")),
        }
    }
    assert!(
        !got.iter().any(|c| c.member == "b"),
        "b ran a batch of a queue whose batch still runs on a: {got:?}"
    );
    let probe = raw
        .lock_queues(&group, "probe-client", std::slice::from_ref(&moved))
        .await
        .expect("lock probe");
    assert!(probe.is_empty(), "the moved queue is still locked by a");
    assert!(owned(&b, &topic).is_empty());

    // The batch ends: its offset is committed, the lock released, and B goes on from the next message.
    a_gates.open(moved.queue_id);
    a_gates.open(1 - moved.queue_id);
    calls_until(&mut rx, &mut got, "every message consumed", |g| {
        (0..2).all(|q| (0..20).all(|s| g.iter().any(|c| c.queue_id == q && c.seq == s)))
    })
    .await;
    let moved_calls = first_deliveries(&got, moved.queue_id);
    assert_eq!(
        moved_calls.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (0..20).collect::<Vec<_>>(),
        "in order"
    );
    assert_eq!(moved_calls[0].1, "a");
    assert!(
        moved_calls[1..].iter().all(|(_, m)| *m == "b"),
        "b took over after a's batch: {moved_calls:?}"
    );
    let repeats = got.iter().filter(|c| c.queue_id == moved.queue_id).count() - 20;
    assert_eq!(
        repeats, 0,
        "a's committed batch is not consumed again: {got:?}"
    );
    assert_eq!(owned(&b, &topic), vec![moved.clone()]);
    assert!(!owned(&a, &topic).contains(&moved));
    assert!(
        exclusion.violations.lock().is_empty(),
        "{:?}",
        exclusion.violations.lock()
    );
    a.shutdown().await;
    b.shutdown().await;
    let _ = broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orderly_consumer_takes_over_the_queue_of_a_crashed_owner_when_its_lock_expires() {
    let broker = EmbeddedBroker::builder()
        .property("rebalanceLockMaxLiveTime", "2000")
        .start()
        .await
        .expect("broker");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("Takeover");
    assert_eq!(raw.create_topic(&topic, 2).await.expect("create").code, 0);
    let group = unique("takeover");
    let exclusion = Arc::new(Exclusion::default());
    let (tx, mut rx) = mpsc::unbounded_channel();

    // The victim runs on its own runtime; dropping that runtime kills it mid-batch: no offset commit, no
    // unlock, no unregister, its connections just close.
    let victim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("victim runtime");
    let victim_opts = orderly_options(&broker, &group, &topic);
    let (victim_gates, victim_excl, victim_tx) =
        (Gates::new(2, Some(10)), exclusion.clone(), tx.clone());
    let victim = victim_rt
        .spawn(async move {
            let c = start_member(victim_opts, "victim", victim_gates, victim_excl, victim_tx).await;
            let handle = c.clone();
            std::mem::forget(c);
            handle
        })
        .await
        .expect("victim starts");
    eventually(Duration::from_secs(20), "victim owns both queues", || {
        let n = owned(&victim, &topic).len();
        async move { Ok((n == 2).then_some(())) }
    })
    .await
    .expect("victim");
    let heir = start_member(
        orderly_options(&broker, &group, &topic),
        "heir",
        Gates::new(2, None),
        exclusion.clone(),
        tx.clone(),
    )
    .await;
    eventually(Duration::from_secs(20), "one queue each", || {
        let (v, h) = (owned(&victim, &topic).len(), owned(&heir, &topic).len());
        async move { Ok((v == 1 && h == 1).then_some(())) }
    })
    .await
    .expect("split");
    let victims_queue = owned(&victim, &topic)[0].queue_id;
    for q in 0..2 {
        for seq in 0..30 {
            let body = format!("q{q}:{seq}");
            let out = raw
                .send(&OutMessage::new(&topic, body.as_bytes()).queue(q))
                .await
                .expect("send");
            assert_eq!(out.code, 0);
        }
    }
    let mut got = Vec::new();
    calls_until(&mut rx, &mut got, "victim stuck at message 10", |g| {
        g.iter()
            .any(|c| c.member == "victim" && c.queue_id == victims_queue && c.seq == 10)
    })
    .await;
    assert!(
        !got.iter()
            .any(|c| c.member == "heir" && c.queue_id == victims_queue),
        "the heir never runs the victim's queue while the victim lives"
    );
    std::thread::spawn(move || drop(victim_rt))
        .join()
        .expect("kill the victim");
    let killed_at = got.len();

    calls_until(&mut rx, &mut got, "every message consumed", |g| {
        (0..2).all(|q| (0..30).all(|s| g.iter().any(|c| c.queue_id == q && c.seq == s)))
    })
    .await;
    // The heir resumes the victim's queue from its last committed offset (at most message 10) and keeps the
    // order from there: consecutive, increasing, nothing skipped.
    let resumed: Vec<usize> = got[killed_at..]
        .iter()
        .filter(|c| c.member == "heir" && c.queue_id == victims_queue)
        .map(|c| c.seq)
        .collect();
    assert!(
        resumed.first().is_some_and(|s| *s <= 10),
        "resumed from the committed offset: {resumed:?}"
    );
    let from = resumed[0];
    assert_eq!(
        resumed,
        (from..30).collect::<Vec<_>>(),
        "in order, nothing skipped"
    );
    assert_eq!(owned(&heir, &topic).len(), 2);
    let probe = raw
        .lock_queues(
            &group,
            "probe-client",
            &[MessageQueue {
                topic: topic.clone(),
                broker_name: owned(&heir, &topic)[0].broker_name.clone(),
                queue_id: victims_queue,
            }],
        )
        .await
        .expect("probe");
    assert!(probe.is_empty(), "the heir holds the lock now");
    assert!(
        exclusion
            .violations
            .lock()
            .iter()
            .all(|v| v.contains("victim ran")),
        "only the dead victim's abandoned call may overlap: {:?}",
        exclusion.violations.lock()
    );
    heir.shutdown().await;
    let _ = broker.shutdown().await;
}
