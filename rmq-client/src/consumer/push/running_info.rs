//! What a push consumer tells an operator about itself (GET_CONSUMER_RUNNING_INFO) and how it runs one message
//! an operator hands it (CONSUME_MESSAGE_DIRECTLY).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use rmq_protocol::body::running_info::prop;
use rmq_protocol::body::{
    CMResult, ConsumeMessageDirectlyResult, ConsumerRunningInfo, MessageQueue,
};

use super::inner::PushInner;
use crate::consumer::listener::{ConsumeContext, ConsumeOutcome};
use crate::message::MessageExt;

/// Java's version name for [`rmq_protocol::command::CURRENT_VERSION`].
const CLIENT_VERSION_NAME: &str = "V5_3_3";

impl PushInner {
    /// The running info Java's `DefaultMQPushConsumerImpl.consumerRunningInfo` reports: settings under Java's
    /// property names plus the `PROP_*` keys, subscriptions, every owned queue's process-queue state and the
    /// per-topic rates.
    pub(crate) fn running_info(&self, jstack: bool) -> ConsumerRunningInfo {
        let o = &self.opts;
        let data = self.consumer_data();
        let mut properties = std::collections::BTreeMap::new();
        let mut put = |k: &str, v: String| {
            properties.insert(k.to_owned(), v);
        };
        put("consumerGroup", self.group.clone());
        put("messageModel", data.message_model.clone());
        put("consumeFromWhere", data.consume_from_where.clone());
        put("consumeThreadMin", o.consume_thread_max.to_string());
        put("consumeThreadMax", o.consume_thread_max.to_string());
        put(
            "consumeMessageBatchMaxSize",
            o.consume_message_batch_max_size.to_string(),
        );
        put("pullBatchSize", o.pull_batch_size.to_string());
        put(
            "pullThresholdForQueue",
            o.pull_threshold_for_queue.to_string(),
        );
        put(
            "pullThresholdSizeForQueue",
            (o.pull_threshold_size_for_queue / (1024 * 1024)).to_string(),
        );
        put(
            "consumeConcurrentlyMaxSpan",
            o.consume_concurrently_max_span.to_string(),
        );
        put("maxReconsumeTimes", o.max_reconsume_times.to_string());
        put(
            "consumeTimeout",
            (o.consume_timeout.as_secs() / 60).to_string(),
        );
        put(
            "suspendCurrentQueueTimeMillis",
            o.suspend_current_queue_time.as_millis().to_string(),
        );
        put("namesrvAddr", o.client.namesrv_addr.clone());
        put("instanceName", o.client.instance_name.clone());
        put("clientIP", o.client.client_ip.clone());
        put("language", "RUST".to_owned());
        put(prop::CONSUME_ORDERLY, o.orderly.to_string());
        put(prop::THREADPOOL_CORE_SIZE, o.consume_thread_max.to_string());
        put(
            prop::CONSUMER_START_TIMESTAMP,
            self.started_at_ms.to_string(),
        );
        put(prop::CONSUME_TYPE, data.consume_type.clone());
        put(prop::CLIENT_VERSION, CLIENT_VERSION_NAME.to_owned());
        let mut servers: String = self
            .instance
            .namesrv_addrs()
            .iter()
            .map(|a| format!("{a};"))
            .collect();
        if servers.is_empty() {
            servers = o.client.namesrv_addr.clone();
        }
        put(prop::NAMESERVER_ADDR, servers);
        let mut subscription_set = data.subscription_data_set;
        subscription_set.sort_by(|a, b| a.topic.cmp(&b.topic));
        let owned: Vec<_> = self.queues.lock().values().cloned().collect();
        let mq_table = owned
            .iter()
            .map(|q| {
                let commit = self.offsets.get(&q.mq).unwrap_or(-1);
                (q.mq.clone(), q.pq.info(commit))
            })
            .collect();
        ConsumerRunningInfo {
            properties,
            subscription_set,
            mq_table,
            status_table: self.stats.status_table(),
            user_consumer_info: Default::default(),
            jstack: jstack.then(|| self.task_dump(&owned)),
        }
    }

    /// The closest thing to a thread dump a tokio consumer has: what each queue task is doing.
    fn task_dump(&self, owned: &[Arc<super::inner::OwnedQueue>]) -> String {
        let mut out = format!(
            "consumer {} ({} listener calls at most, {} free)\n",
            self.group,
            self.opts.consume_thread_max,
            self.permits.available_permits()
        );
        for q in owned {
            let info = q.pq.info(self.offsets.get(&q.mq).unwrap_or(-1));
            out.push_str(&format!(
                "  {}:{}:{} cached={} consuming={} locked={} dropped={}\n",
                q.mq.topic,
                q.mq.broker_name,
                q.mq.queue_id,
                info.cached_msg_count,
                info.transaction_msg_count,
                info.locked,
                info.dropped
            ));
        }
        out
    }

    /// Runs the listener on one message an operator sent (Java's `consumeMessageDirectly`): nothing is
    /// committed or sent back, the verdict is only reported.
    pub(crate) async fn consume_directly(
        self: Arc<Self>,
        msg: MessageExt,
        broker_name: String,
    ) -> ConsumeMessageDirectlyResult {
        let ctx = ConsumeContext {
            queue: MessageQueue {
                topic: msg.topic.clone(),
                broker_name,
                queue_id: msg.queue_id,
            },
            orderly: self.opts.orderly,
        };
        let started = Instant::now();
        let listener = self.listener.clone();
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| listener.consume(vec![msg], ctx)));
        let outcome = match run {
            Ok(fut) => tokio::time::timeout(
                self.opts.consume_timeout,
                AssertUnwindSafe(fut).catch_unwind(),
            )
            .await
            .map_err(|_| "the listener timed out".to_owned())
            .and_then(|r| r.map_err(|_| "the listener panicked".to_owned())),
            Err(_) => Err("the listener panicked".to_owned()),
        };
        let (consume_result, remark) = match outcome {
            Ok(ConsumeOutcome::Success) => (CMResult::Success, None),
            Ok(ConsumeOutcome::Retry { .. } | ConsumeOutcome::Suspend(_)) => {
                (CMResult::Later, None)
            }
            Err(e) => (CMResult::ThrowException, Some(e)),
        };
        ConsumeMessageDirectlyResult {
            auto_commit: true,
            consume_result: Some(consume_result),
            order: self.opts.orderly,
            remark,
            spent_time_mills: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        }
    }
}
