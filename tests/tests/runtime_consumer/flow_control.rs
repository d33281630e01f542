//! Flow control of the push consumer (Java's `pullThresholdForQueue`, `pullThresholdSizeForQueue`,
//! `consumeConcurrentlyMaxSpan`): while a queue buffers more than a limit, pulling pauses; it resumes when the
//! listener catches up, and nothing is lost or delivered twice.
//!
//! Each test blocks the listener, waits until the consumer has paused at the limit three times in a row
//! (a pause is counted only when no pull happens in between, so the buffer cannot grow after that), checks
//! the buffer against the limit, then lets the listener go and waits for everything.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::body::ProcessQueueInfo;
use rmq_runtime::{ConsumeContext, ConsumeOutcome, MessageExt, PushConsumer, PushConsumerOptions};
use rmq_tests::client::OutMessage;
use rmq_tests::{eventually, unique, RawClient};
use tokio::sync::{mpsc, Semaphore};

use crate::options;

/// A topic with one queue holding `n` messages of `body_len` bytes, `m0` … `m{n-1}`.
async fn loaded_topic(broker: &EmbeddedBroker, n: usize, body_len: usize) -> String {
    let topic = unique("FlowControl");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    assert_eq!(raw.create_topic(&topic, 1).await.expect("create").code, 0);
    for i in 0..n {
        let mut body = format!("m{i}:").into_bytes();
        body.resize(body_len.max(body.len()), b'x');
        let out = raw
            .send(&OutMessage::new(&topic, &body).queue(0))
            .await
            .expect("send");
        assert_eq!(out.code, 0);
    }
    topic
}

/// Starts a consumer whose listener reports each body and waits for `gate` unless `passes` says otherwise.
async fn gated(
    opts: PushConsumerOptions,
    gate: Arc<Semaphore>,
    passes: impl Fn(&str) -> bool + Send + Sync + 'static,
) -> (PushConsumer, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let passes = Arc::new(passes);
    let consumer = PushConsumer::start(opts, move |msgs: Vec<MessageExt>, _: ConsumeContext| {
        let (tx, gate, passes) = (tx.clone(), gate.clone(), passes.clone());
        async move {
            for m in &msgs {
                let body = String::from_utf8_lossy(&m.body);
                let name = body.split(':').next().unwrap_or_default().to_owned();
                if !passes(&name) {
                    let Ok(permit) = gate.acquire().await else {
                        return ConsumeOutcome::RETRY_LATER;
                    };
                    drop(permit);
                }
                let _ = tx.send(name);
            }
            ConsumeOutcome::Success
        }
    })
    .await
    .expect("consumer");
    (consumer, rx)
}

/// Waits for three flow-control pauses counted by `times`, then returns the queue's buffer.
async fn paused(
    consumer: &PushConsumer,
    topic: &str,
    times: impl Fn(&PushConsumer) -> u64,
) -> ProcessQueueInfo {
    eventually(Duration::from_secs(30), "three flow-control pauses", || {
        let n = times(consumer);
        async move { Ok((n >= 3).then_some(())) }
    })
    .await
    .expect("flow control");
    consumer
        .process_queues()
        .into_iter()
        .find(|(mq, _)| mq.topic == topic)
        .map(|(_, info)| info)
        .expect("the queue is owned")
}

/// Opens the gate and waits until each of `n` messages was handled exactly once.
async fn drains(gate: &Semaphore, rx: &mut mpsc::UnboundedReceiver<String>, n: usize) {
    gate.add_permits(Semaphore::MAX_PERMITS / 2);
    let mut seen: HashMap<String, usize> = HashMap::new();
    while seen.len() < n {
        let name = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("deliveries go on after the pause")
            .expect("consumer alive");
        *seen.entry(name).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulling_pauses_above_pull_threshold_for_queue_and_resumes() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = loaded_topic(&broker, 300, 16).await;
    let mut opts = options(&broker, &unique("flow_count"), &topic);
    opts.pull_threshold_for_queue = 50;
    opts.pull_batch_size = 10;
    let gate = Arc::new(Semaphore::new(0));
    let (consumer, mut rx) = gated(opts, gate.clone(), |_| false).await;
    let info = paused(&consumer, &topic, |c| c.flow_control_times().by_count).await;
    assert!(
        info.cached_msg_count > 50 && info.cached_msg_count <= 50 + 10,
        "one batch past the threshold at most: {info:?}"
    );
    assert!(info.cached_msg_max_offset < 60, "{info:?}");
    drains(&gate, &mut rx, 300).await;
    consumer.shutdown().await;
    let _ = broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulling_pauses_above_pull_threshold_size_for_queue_and_resumes() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = loaded_topic(&broker, 100, 4096).await;
    let mut opts = options(&broker, &unique("flow_size"), &topic);
    opts.pull_threshold_size_for_queue = 64 * 1024;
    opts.pull_batch_size = 4;
    let gate = Arc::new(Semaphore::new(0));
    let (consumer, mut rx) = gated(opts, gate.clone(), |_| false).await;
    let info = paused(&consumer, &topic, |c| c.flow_control_times().by_size).await;
    // 16 bodies of 4 KiB are exactly the limit; pausing starts above it, within one batch of 4.
    assert!(
        info.cached_msg_count > 16 && info.cached_msg_count <= 16 + 4,
        "{info:?}"
    );
    assert_eq!(consumer.flow_control_times().by_count, 0);
    drains(&gate, &mut rx, 100).await;
    consumer.shutdown().await;
    let _ = broker.shutdown().await;
}

/// The span counts what is still buffered (Java's `lastKey - firstKey`), so messages finished out of order
/// shrink it again; with every listener call held, the buffer is one contiguous span and the limit is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulling_pauses_while_buffered_offsets_span_more_than_consume_concurrently_max_span() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = loaded_topic(&broker, 200, 16).await;
    let mut opts = options(&broker, &unique("flow_span"), &topic);
    opts.consume_concurrently_max_span = 20;
    opts.pull_batch_size = 10;
    let gate = Arc::new(Semaphore::new(0));
    let (consumer, mut rx) = gated(opts, gate.clone(), |_| false).await;
    let info = paused(&consumer, &topic, |c| c.flow_control_times().by_span).await;
    assert_eq!(info.cached_msg_min_offset, 0, "{info:?}");
    assert!(
        info.cached_msg_max_offset > 20 && info.cached_msg_max_offset <= 20 + 10,
        "{info:?}"
    );
    assert_eq!(
        consumer.flow_control_times().by_count,
        0,
        "the span, not the count, stopped it"
    );
    assert!(
        info.commit_offset <= 0,
        "nothing is committed while the first message is unfinished: {info:?}"
    );
    drains(&gate, &mut rx, 200).await;
    consumer.shutdown().await;
    let _ = broker.shutdown().await;
}
