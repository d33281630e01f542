//! Resolves where the load goes: a given name server, or the bundled broker started for the run; and
//! creates the topic on every master so the queue count is the same on every broker compared.

use anyhow::{Context, Result};
use rmq_client::admin::TopicSpec;
use rmq_client::{Admin, ClientConfig};

use crate::broker_proc::BrokerProcess;
use crate::cli::Target;
use crate::stats::Rss;

/// The cluster under load.
pub struct Setup {
    /// Name servers.
    pub namesrv: String,
    /// The gRPC endpoint (`--grpc`, or the started broker's).
    pub grpc: Option<String>,
    /// The broker started for the run (killed when the run ends), if any.
    _broker: Option<BrokerProcess>,
    /// The broker whose memory is reported.
    pub broker_pid: Option<u32>,
    serialize: rmq_client::protocol::command::SerializeType,
}

impl Setup {
    /// Starts the bundled broker unless `-n` was given, then creates the topic (and `extra` topics).
    pub async fn new(target: &Target) -> Result<Setup> {
        let (namesrv, broker) = match &target.namesrv {
            Some(ns) => (ns.clone(), None),
            None => {
                let b = BrokerProcess::start(
                    target.broker_bin.clone(),
                    target.flush,
                    target.store.clone(),
                )
                .await?;
                eprintln!(
                    "started rmq-broker (pid {:?}, {}) on name server {}",
                    b.pid(),
                    target.flush.name(),
                    b.namesrv
                );
                (b.namesrv.clone(), Some(b))
            }
        };
        let grpc = target
            .grpc
            .clone()
            .or_else(|| broker.as_ref().and_then(|b| b.grpc.clone()));
        let broker_pid = target
            .broker_pid
            .or_else(|| broker.as_ref().and_then(BrokerProcess::pid));
        let setup = Setup {
            namesrv,
            grpc,
            _broker: broker,
            broker_pid,
            serialize: match target.serialize {
                crate::cli::Serialize::Json => rmq_client::protocol::command::SerializeType::Json,
                crate::cli::Serialize::Rocketmq => {
                    rmq_client::protocol::command::SerializeType::RocketMq
                }
            },
        };
        if target.queues > 0 {
            setup.create_topic(&target.topic, target.queues).await?;
        }
        Ok(setup)
    }

    /// Client settings for this cluster, with a distinct instance name per role so producer and consumer
    /// do not share connections (as two processes would not).
    pub fn client(&self, instance: &str) -> ClientConfig {
        let mut c = ClientConfig::new(self.namesrv.clone()).with_instance_name(instance);
        c.serialize_type = self.serialize;
        c
    }

    async fn create_topic(&self, topic: &str, queues: i32) -> Result<()> {
        let admin = Admin::start(self.client("bench-admin"))
            .await
            .context("cannot start the admin client")?;
        let masters = admin.all_masters().await.with_context(|| {
            format!("cannot read the cluster from name server {}", self.namesrv)
        })?;
        if masters.is_empty() {
            anyhow::bail!("name server {} knows no broker", self.namesrv);
        }
        for addr in &masters {
            admin
                .create_topic(addr, &TopicSpec::new(topic, queues))
                .await
                .with_context(|| format!("cannot create topic {topic} on {addr}"))?;
        }
        // Let the route reach the name server before producers ask for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while admin.topic_route(topic).await.is_err() {
            if std::time::Instant::now() > deadline {
                anyhow::bail!("topic {topic} has no route 10 s after creating it");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        admin.shutdown();
        Ok(())
    }

    /// The broker's memory now, if a broker process is known.
    pub fn rss(&self) -> Option<Rss> {
        self.broker_pid.and_then(Rss::of)
    }
}
