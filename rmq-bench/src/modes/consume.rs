//! The consuming side: a push consumer group counting what it gets and timing how long it took.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use rmq_client::consumer::PushConsumer;
use rmq_client::consumer::{
    ConsumeContext, ConsumeFromWhere, ConsumeOutcome, MessageSelector, PushConsumerOptions,
};
use rmq_client::{ClientConfig, MessageExt};

use crate::modes::send::now_micros;
use crate::stats::{Latencies, Meter};

/// Figures of the consuming side.
pub struct ConsumeLoad {
    /// Messages and latency (end to end when bodies carry the send time).
    pub meter: Meter,
    /// Store timestamp → handler.
    pub store_to_consume: Latencies,
    /// Whether bodies carry the send time in their first 8 bytes (e2e mode).
    timed_bodies: bool,
    lane: AtomicUsize,
}

impl ConsumeLoad {
    /// Empty figures.
    pub fn new(timed_bodies: bool) -> Arc<ConsumeLoad> {
        Arc::new(ConsumeLoad {
            meter: Meter::new(),
            store_to_consume: Latencies::new(),
            timed_bodies,
            lane: AtomicUsize::new(0),
        })
    }

    /// Messages consumed so far.
    pub fn consumed(&self) -> u64 {
        self.meter.messages.load(Ordering::Relaxed)
    }

    fn on_message(&self, msg: &MessageExt) {
        let lane = self.lane.fetch_add(1, Ordering::Relaxed);
        let now_us = now_micros();
        let now_ms = (now_us / 1000) as i64;
        let store_ms = (now_ms - msg.store_timestamp).max(0) as u64;
        self.store_to_consume
            .record(lane, Duration::from_millis(store_ms));
        let e2e = match (self.timed_bodies, msg.body.get(..8)) {
            (true, Some(b)) => {
                let mut t = [0u8; 8];
                t.copy_from_slice(b);
                Duration::from_micros(now_us.saturating_sub(u64::from_be_bytes(t)))
            }
            _ => Duration::from_millis((now_ms - msg.born_timestamp).max(0) as u64),
        };
        self.meter.latency.record(lane, e2e);
        self.meter.done(1, msg.body.len() as u64);
    }

    /// Starts a push consumer group on `topic` feeding these figures.
    pub async fn start(
        self: &Arc<Self>,
        client: ClientConfig,
        group: &str,
        topic: &str,
        from_first: bool,
        threads: usize,
    ) -> Result<PushConsumer> {
        let mut opts = PushConsumerOptions::new(group, client.namesrv_addr.clone())
            .subscribe(topic, MessageSelector::all());
        opts.client = client;
        opts.consume_thread_max = threads.max(1);
        opts.consume_from_where = if from_first {
            ConsumeFromWhere::FirstOffset
        } else {
            ConsumeFromWhere::LastOffset
        };
        let load = self.clone();
        let listener = move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            for m in &msgs {
                load.on_message(m);
            }
            async { ConsumeOutcome::Success }
        };
        Ok(PushConsumer::start(opts, listener).await?)
    }
}
