//! Set-ups many tests share: an rmq-runtime producer, a topic the name server already routes, and the
//! third-party client's runtime.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rmq_runtime::{Producer, ProducerOptions};
use rocketmq_client_rust::{ClientRuntime, ClientRuntimeConfig, TelemetryHandle};
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};

use crate::{eventually, unique, RawClient};

/// How long a new topic may take to appear in the name server's routes (the broker registers it at once).
pub const ROUTE_WAIT: Duration = Duration::from_secs(20);

/// Starts an rmq-runtime producer on `namesrv` with a unique group and instance name.
pub async fn producer(namesrv: &str) -> Producer {
    let mut opts = ProducerOptions::new(unique("pg"), namesrv);
    opts.client.instance_name = unique("producer");
    Producer::start(opts)
        .await
        .expect("rmq-runtime producer starts")
}

/// Creates `topic` with `queues` queues on the broker at `broker` and waits until the name server at `namesrv`
/// routes all of them: consumers look a topic up once at start, and a rebalance should see the whole topic.
pub async fn create_routed_topic(
    broker: &str,
    namesrv: &str,
    topic: &str,
    queues: i32,
) -> Result<()> {
    create_routed_topic_with(broker, namesrv, topic, queues, "").await
}

/// As [`create_routed_topic`], with topic `attributes` (`+message.type=FIFO`, …).
pub async fn create_routed_topic_with(
    broker: &str,
    namesrv: &str,
    topic: &str,
    queues: i32,
    attributes: &str,
) -> Result<()> {
    let raw = RawClient::connect(broker).await?;
    let created = raw.create_topic_with(topic, queues, 6, attributes).await?;
    if created.code != 0 {
        bail!(
            "create topic {topic}: {} {:?}",
            created.code,
            created.remark
        );
    }
    let ns = RawClient::connect(namesrv).await?;
    eventually(ROUTE_WAIT, "topic routed with all its queues", || {
        let ns = &ns;
        async move {
            let route = ns.route_json(topic).await?;
            let routed = route
                .as_ref()
                .and_then(|r| r["queueDatas"][0]["readQueueNums"].as_i64())
                .unwrap_or(0);
            Ok((routed == i64::from(queues)).then_some(()))
        }
    })
    .await
    .with_context(|| format!("route of {topic}"))
}

/// rocketmq-client-rust's own runtime (the client never uses the caller's; its futures are awaited from
/// ours), with the blocking lane deep enough for bursts.
///
/// The client runs each listener call on its MetadataIo blocking lane and treats a call the lane turns away
/// as a failed consume: the message goes to the retry topic without the listener seeing it. The default depth
/// (8 per core, 16 here) overflows under a burst of a few hundred deliveries, so it is raised for every test.
pub struct ThirdPartyRuntime {
    owner: RuntimeOwner,
    /// The runtime the client's builders take.
    pub runtime: Arc<ClientRuntime>,
}

impl ThirdPartyRuntime {
    /// Starts it; `name` names its threads.
    pub fn start(name: &str) -> ThirdPartyRuntime {
        let mut config = RuntimeConfig {
            thread_name: name.to_owned(),
            ..Default::default()
        };
        config.blocking_lane_policies.metadata_io.max_queue_depth = 4096;
        let owner = RuntimeOwner::plan(config)
            .expect("runtime config")
            .build()
            .expect("client runtime owner");
        let runtime = ClientRuntime::try_new(
            owner.root_context().component("client"),
            ClientRuntimeConfig::default(),
            TelemetryHandle::noop(),
        )
        .expect("client runtime");
        ThirdPartyRuntime { owner, runtime }
    }

    /// Stops its tasks (bounded: a stuck client must not hang the test) and its threads.
    pub async fn shutdown(self) {
        let _ = tokio::time::timeout(Duration::from_secs(20), self.runtime.shutdown()).await;
        let _ = tokio::time::timeout(Duration::from_secs(20), self.owner.shutdown_tasks()).await;
        self.owner.shutdown_background();
    }
}
