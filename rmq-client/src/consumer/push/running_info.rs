//! What a push consumer tells an operator about itself (GET_CONSUMER_RUNNING_INFO) and how it runs one message
//! an operator hands it (CONSUME_MESSAGE_DIRECTLY).

use std::sync::Arc;
use std::time::Instant;

use rmq_protocol::body::running_info::prop;
use rmq_protocol::body::{
    CMResult, ConsumeMessageDirectlyResult, ConsumerRunningInfo, MessageQueue, ProcessQueueInfo,
};

use super::consume::{run_listener, ListenerFailure};
use super::inner::PushInner;
use crate::consumer::listener::{ConsumeContext, ConsumeOutcome};
use crate::consumer::membership::basic_running_info;
use crate::message::MessageExt;

/// Java's version name for [`rmq_protocol::command::CURRENT_VERSION`].
const CLIENT_VERSION_NAME: &str = "V5_3_3";

impl PushInner {
    /// The running info Java's `DefaultMQPushConsumerImpl.consumerRunningInfo` reports: settings under Java's
    /// property names plus the `PROP_*` keys, subscriptions, every owned queue's process-queue state and the
    /// per-topic rates.
    pub(crate) fn running_info(&self, jstack: bool) -> ConsumerRunningInfo {
        let o = &self.opts;
        let mut info = basic_running_info(self.consumer_data(), &self.instance, self.started_at_ms);
        let mut put = |k: &str, v: String| {
            info.properties.insert(k.to_owned(), v);
        };
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
        put(prop::CLIENT_VERSION, CLIENT_VERSION_NAME.to_owned());
        let queues = self.queue_infos();
        info.status_table = self.stats.status_table();
        info.jstack = jstack.then(|| self.task_dump(&queues));
        info.mq_table = queues.into_iter().collect();
        info
    }

    /// Each owned queue's process-queue state with its offset-store offset (-1: none yet), sorted by queue.
    pub(crate) fn queue_infos(&self) -> Vec<(MessageQueue, ProcessQueueInfo)> {
        let owned: Vec<_> = self.queues.lock().values().cloned().collect();
        let mut v: Vec<(MessageQueue, ProcessQueueInfo)> = owned
            .iter()
            .map(|o| {
                let commit = self.offsets.get(&o.mq).unwrap_or(-1);
                (o.mq.clone(), o.pq.info(commit))
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The closest thing to a thread dump a tokio consumer has: what each queue task is doing.
    fn task_dump(&self, queues: &[(MessageQueue, ProcessQueueInfo)]) -> String {
        let mut out = format!(
            "consumer {} ({} listener calls at most, {} free)\n",
            self.group,
            self.opts.consume_thread_max,
            self.permits.available_permits()
        );
        for (mq, info) in queues {
            out.push_str(&format!(
                "  {}:{}:{} cached={} consuming={} locked={} dropped={}\n",
                mq.topic,
                mq.broker_name,
                mq.queue_id,
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
        let (consume_result, remark) = match run_listener(&self, vec![msg], ctx).await {
            Ok(ConsumeOutcome::Success) => (CMResult::Success, None),
            Ok(ConsumeOutcome::Retry { .. } | ConsumeOutcome::Suspend(_)) => {
                (CMResult::Later, None)
            }
            Err(ListenerFailure::Panicked) => (
                CMResult::ThrowException,
                Some("the listener panicked".to_owned()),
            ),
            Err(ListenerFailure::TimedOut) => (
                CMResult::ThrowException,
                Some("the listener timed out".to_owned()),
            ),
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
