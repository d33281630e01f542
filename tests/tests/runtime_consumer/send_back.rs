//! A failed message whose send-back the broker refuses is not lost: Java's consumer first sends it to the
//! retry topic itself, and when that fails too it consumes the message again locally, keeping the queue's
//! committed offset below it until a later attempt succeeds.

use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::clock::Clock;
use rmq_runtime::consumer::retry_topic;
use rmq_runtime::{ConsumeContext, ConsumeOutcome, Message, MessageExt, PushConsumer};
use rmq_tests::{eventually, unique, RawClient};
use tokio::sync::{mpsc, oneshot};

use crate::{options, producer};

/// One listener call the test decides: the message, the queue it came from, and where to send the verdict.
struct Call {
    msg: MessageExt,
    from_topic: String,
    verdict: oneshot::Sender<ConsumeOutcome>,
}

async fn next_call(rx: &mut mpsc::UnboundedReceiver<Call>) -> Call {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("a listener call within 30 s")
        .expect("consumer alive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_back_is_retried_locally_and_the_message_is_not_lost() {
    // The retry that finally goes through the broker waits out delay level 3 (10 s) on a virtual clock.
    let clock = Clock::virtual_time();
    clock.set_auto_advance(true);
    let driver = tokio::spawn(clock.clone().drive());
    let broker = EmbeddedBroker::builder()
        .clock(clock.clone())
        .start()
        .await
        .expect("broker");
    let topic = unique("SendBackRefused");
    let group = unique("send_back_refused");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    assert_eq!(raw.create_topic(&topic, 1).await.expect("create").code, 0);
    // The group's retry topic is read-only: the broker refuses CONSUMER_SEND_MSG_BACK and the client's own
    // send to the retry topic alike (NO_PERMISSION).
    let retry = retry_topic(&group);
    let created = raw
        .create_topic_with_perm(&retry, 1, 4)
        .await
        .expect("create retry topic");
    assert_eq!(created.code, 0, "{:?}", created.remark);

    let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
    let mut opts = options(&broker, &group, &topic);
    opts.clock = clock.clone();
    let consumer = PushConsumer::start(opts, move |msgs: Vec<MessageExt>, ctx: ConsumeContext| {
        let tx = tx.clone();
        async move {
            let (verdict, decided) = oneshot::channel();
            let msg = msgs.into_iter().next().expect("one message per call");
            let call = Call {
                msg,
                from_topic: ctx.queue.topic.clone(),
                verdict,
            };
            if tx.send(call).is_err() {
                return ConsumeOutcome::RETRY_LATER;
            }
            decided.await.unwrap_or(ConsumeOutcome::RETRY_LATER)
        }
    })
    .await
    .expect("consumer");
    let p = producer(&broker).await;
    p.send(Message::new(&topic, "fragile")).await.expect("send");

    let first = next_call(&mut rx).await;
    assert_eq!(
        (first.from_topic.as_str(), first.msg.reconsume_times),
        (topic.as_str(), 0)
    );
    let offset = first.msg.queue_offset;
    let _ = first.verdict.send(ConsumeOutcome::RETRY_LATER);

    // Both ways back to the broker were refused: the same message comes again from the original queue.
    let second = next_call(&mut rx).await;
    assert_eq!(
        second.from_topic, topic,
        "retried locally, not via the retry topic"
    );
    assert_eq!(second.msg.msg_id(), first.msg.msg_id());
    assert_eq!(second.msg.queue_offset, offset);
    assert_eq!(second.msg.reconsume_times, 1, "a local retry counts as one");
    assert_eq!(
        raw.queue_offset(true, &retry, 0).await.expect("max offset"),
        0,
        "nothing reached the read-only retry topic"
    );
    consumer.persist_offsets().await;
    let (_, committed) = raw
        .query_consumer_offset(&group, &topic, 0)
        .await
        .expect("query offset");
    assert!(
        committed <= offset,
        "the committed offset ({committed}) must not pass the unfinished message ({offset})"
    );

    // The retry topic becomes writable: the next failure goes back through the broker.
    let reopened = raw
        .create_topic_with_perm(&retry, 1, 6)
        .await
        .expect("update retry topic");
    assert_eq!(reopened.code, 0, "{:?}", reopened.remark);
    let _ = second.verdict.send(ConsumeOutcome::RETRY_LATER);
    let third = next_call(&mut rx).await;
    assert_eq!(
        third.from_topic, retry,
        "the broker took the send-back this time"
    );
    assert_eq!(third.msg.topic, topic, "the original topic is restored");
    assert_eq!(&third.msg.body[..], b"fragile");
    let _ = third.verdict.send(ConsumeOutcome::Success);

    // Handed to the broker, the original is done: its queue's offset moves past it.
    eventually(Duration::from_secs(20), "offset past the message", || {
        let (raw, group, topic, consumer) = (&raw, &group, &topic, &consumer);
        async move {
            consumer.persist_offsets().await;
            let (_, committed) = raw.query_consumer_offset(group, topic, 0).await?;
            Ok((committed > offset).then_some(()))
        }
    })
    .await
    .expect("committed");
    consumer.shutdown().await;
    p.shutdown().await;
    driver.abort();
    let _ = broker.shutdown().await;
}
