//! The listener container: resolves each registered listener's attributes against config, validates them
//! all before anything starts, and runs one push consumer per consumer group dispatching to the handlers.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::clock::Clock;
use tokio::sync::Notify;

use crate::config::ClientConfig;
use crate::consumer::push::subscription_data;
use crate::consumer::{
    ConsumeContext, ConsumeOutcome, MessageModel, MessageSelector, PushConsumer,
    PushConsumerOptions,
};
use crate::context::AppContext;
use crate::listener::ListenerDef;
use crate::message::MessageExt;
use crate::settings::{Settings, SettingsError};

/// Why an application did not start; listener errors name the listener and where it is declared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Configuration could not be loaded or a key is invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A listener's attributes are invalid or conflict with another listener.
    #[error("listener {listener} ({location}): {reason}")]
    Listener {
        /// Function name.
        listener: String,
        /// `file:line`.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A template or transaction listener is misconfigured.
    #[error("template {template}: {reason}")]
    Template {
        /// Template name.
        template: String,
        /// What is wrong.
        reason: String,
    },
    /// The client could not start (name server unreachable, group already started, ...).
    #[error(transparent)]
    Client(#[from] crate::error::ClientError),
    /// The embedded broker could not start.
    #[error("embedded broker: {0}")]
    Broker(String),
}

/// A listener with every attribute resolved and typed.
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    /// The registration.
    pub def: &'static ListenerDef,
    /// Topic (placeholders resolved).
    pub topic: String,
    /// Consumer group.
    pub group: String,
    /// TAG or SQL92 selector.
    pub selector: MessageSelector,
    /// ORDERLY consumption.
    pub orderly: bool,
    /// CLUSTERING or BROADCASTING.
    pub model: MessageModel,
    /// consume_thread_max (rocketmq-spring default 64).
    pub consume_thread_max: usize,
    /// max_reconsume_times as given (-1: the consumer's default, 16).
    pub max_reconsume_times: i32,
    /// consume_timeout in minutes (15).
    pub consume_timeout: Duration,
    /// Delay level of a retry (0 = broker schedule; -1 = DLQ now).
    pub delay_level_when_next_consume: i32,
    /// Orderly pause after a failure (1000 ms).
    pub suspend_time: Duration,
    /// Shutdown drain time (1000 ms, rocketmq-spring's default).
    pub await_termination: Duration,
    /// Per-listener name server override.
    pub name_server: Option<String>,
    /// Namespace: the `namespace` attribute, else `rocketmq.consumer.namespace` (rocketmq-spring 2.2.3+).
    pub namespace: Option<String>,
    /// Instance name override.
    pub instance_name: Option<String>,
    /// Reply listeners: how long sending the reply may take (reply_timeout, 3000 ms as rocketmq-spring).
    pub reply_timeout: Duration,
    /// enabled = false turns the listener off.
    pub enabled: bool,
}

impl ListenerSpec {
    fn err(def: &ListenerDef, reason: impl Into<String>) -> StartError {
        StartError::Listener {
            listener: def.name.to_string(),
            location: format!("{}:{}", def.file, def.line),
            reason: reason.into(),
        }
    }

    /// Resolves `def` against `settings`: placeholders filled, the attribute table's checks applied to what
    /// they resolved to, defaults from the table for what the listener does not give.
    pub fn resolve(
        def: &'static ListenerDef,
        settings: &Settings,
    ) -> Result<ListenerSpec, StartError> {
        // The value given (resolved and checked), if any.
        let given = |key: &str| -> Result<Option<String>, StartError> {
            let attr = rmq_listener_attrs::attr(key);
            let Some(raw) = def.attr(key) else {
                return Ok(None);
            };
            let value = settings
                .resolve(raw, &format!("attribute {key} of listener {}", def.name))?
                .trim()
                .to_string();
            attr.check(&value).map_err(|e| Self::err(def, e))?;
            Ok(Some(value))
        };
        // The value given, else the table's default.
        let value = |key: &str| -> Result<Option<String>, StartError> {
            Ok(given(key)?.or_else(|| rmq_listener_attrs::attr(key).default.map(str::to_string)))
        };
        // An integer attribute; the table gives every one a default and checked its text.
        let num = |key: &str| -> Result<i64, StartError> {
            value(key)?
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| Self::err(def, format!("`{key}` has no integer value")))
        };
        let text = |key: &str| -> Result<String, StartError> {
            value(key)?.ok_or_else(|| Self::err(def, format!("`{key}` is required")))
        };
        let topic = text("topic")?;
        crate::message::check_topic(&topic).map_err(|e| Self::err(def, e.to_string()))?;
        let group = text("consumer_group")?;
        let expression = text("selector_expression")?;
        let selector = match text("selector_type")?.as_str() {
            "SQL92" => MessageSelector::Sql92(expression),
            _ => MessageSelector::Tag(expression),
        };
        subscription_data(&topic, &selector, 0).map_err(|e| Self::err(def, e.to_string()))?;
        let orderly = text("consume_mode")? == "ORDERLY";
        let model = match text("message_model")?.as_str() {
            "BROADCASTING" => MessageModel::Broadcasting,
            _ => MessageModel::Clustering,
        };
        if orderly && model == MessageModel::Broadcasting {
            return Err(Self::err(
                def,
                "ORDERLY consumption cannot be BROADCASTING (no queue locks across instances)",
            ));
        }
        if orderly && given("delay_level_when_next_consume")?.is_some() {
            return Err(Self::err(
                def,
                "delay_level_when_next_consume applies to CONCURRENTLY listeners only; an ORDERLY listener \
                 retries in place after suspend_current_queue_time_millis",
            ));
        }
        let threads = match given("consume_thread_max")? {
            Some(v) => v.parse::<i64>().unwrap_or(1),
            None => num("consume_thread_number")?,
        };
        let enabled = text("enabled")? == "true";
        let millis = |v: i64| Duration::from_millis(v.max(0) as u64);
        Ok(ListenerSpec {
            def,
            enabled: enabled && !settings.listener_disabled(&group, &topic),
            topic,
            group,
            selector,
            orderly,
            model,
            consume_thread_max: threads.max(1) as usize,
            max_reconsume_times: num("max_reconsume_times")? as i32,
            consume_timeout: Duration::from_secs(num("consume_timeout")?.max(1) as u64 * 60),
            delay_level_when_next_consume: num("delay_level_when_next_consume")? as i32,
            suspend_time: millis(num("suspend_current_queue_time_millis")?),
            await_termination: millis(num("await_termination_millis_when_shutdown")?),
            name_server: given("name_server")?.filter(|s| !s.is_empty()),
            // rocketmq-spring 2.2.3+: rocketmq.consumer.namespace is the default of listeners without their own.
            namespace: given("namespace")?.filter(|s| !s.is_empty()).or_else(|| {
                settings
                    .get("rocketmq.consumer.namespace")
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            }),
            instance_name: given("instance_name")?.filter(|s| !s.is_empty()),
            reply_timeout: millis(num("reply_timeout")?.max(1)),
        })
    }

    /// The resolved value of an attribute in the attribute's own text form (`consume_timeout` in minutes,
    /// `consume_mode` as `ORDERLY` ...); `None` for an optional attribute that is not set. Every key of the
    /// attribute table has an arm here (a test checks), and the per-group rule compares these values.
    pub fn value_of(&self, key: &str) -> Option<String> {
        let ms = |d: Duration| d.as_millis().to_string();
        Some(match key {
            "topic" => self.topic.clone(),
            "consumer_group" => self.group.clone(),
            "selector_type" => match self.selector {
                MessageSelector::Tag(_) => "TAG".into(),
                MessageSelector::Sql92(_) => "SQL92".into(),
            },
            "selector_expression" => match &self.selector {
                MessageSelector::Tag(e) | MessageSelector::Sql92(e) => e.clone(),
            },
            "consume_mode" => if self.orderly {
                "ORDERLY"
            } else {
                "CONCURRENTLY"
            }
            .into(),
            "message_model" => match self.model {
                MessageModel::Clustering => "CLUSTERING".into(),
                MessageModel::Broadcasting => "BROADCASTING".into(),
            },
            "consume_thread_max" | "consume_thread_number" => self.consume_thread_max.to_string(),
            // -1 and 16 are the same setting (the consumer's default).
            "max_reconsume_times" => match self.max_reconsume_times {
                n if n < 0 => 16.to_string(),
                n => n.to_string(),
            },
            "consume_timeout" => (self.consume_timeout.as_secs() / 60).to_string(),
            "delay_level_when_next_consume" => self.delay_level_when_next_consume.to_string(),
            "suspend_current_queue_time_millis" => ms(self.suspend_time),
            "await_termination_millis_when_shutdown" => ms(self.await_termination),
            "name_server" => return self.name_server.clone(),
            "namespace" => return self.namespace.clone(),
            "instance_name" => return self.instance_name.clone(),
            "enabled" => self.enabled.to_string(),
            "reply_timeout" => ms(self.reply_timeout),
            _ => return None,
        })
    }
}

/// Checks the listeners together: duplicate (group, topic), groups that disagree on an attribute the table
/// marks [`GroupRule::Agree`](rmq_listener_attrs::GroupRule::Agree) or on the batch form, missing beans.
pub fn validate(specs: &[ListenerSpec], ctx: &AppContext) -> Result<(), StartError> {
    let mut pairs: HashMap<(&str, &str), &ListenerSpec> = HashMap::new();
    let mut groups: HashMap<&str, &ListenerSpec> = HashMap::new();
    let agreed: Vec<&str> = rmq_listener_attrs::ATTRS
        .iter()
        .filter(|a| a.group == rmq_listener_attrs::GroupRule::Agree)
        .map(|a| a.key)
        .collect();
    for s in specs {
        if let Some(other) = pairs.insert((&s.group, &s.topic), s) {
            return Err(ListenerSpec::err(
                s.def,
                format!(
                    "group {} already consumes topic {} in listener {} ({}:{}); one (group, topic) pair has one listener",
                    s.group, s.topic, other.def.name, other.def.file, other.def.line
                ),
            ));
        }
        if let Some(first) = groups.get(s.group.as_str()) {
            let differs = agreed
                .iter()
                .find(|k| first.value_of(k) != s.value_of(k))
                .copied()
                // One consumer per group pulls in batches of one size: a single-message listener must not
                // share it with a batch listener.
                .or((first.def.batch != s.def.batch)
                    .then_some("form (batch `Vec<_>` vs single message)"));
            if let Some(what) = differs {
                return Err(ListenerSpec::err(
                    s.def,
                    format!(
                        "group {} is also used by listener {} with a different {what}; a consumer group must subscribe consistently",
                        s.group, first.def.name
                    ),
                ));
            }
        } else {
            groups.insert(&s.group, s);
        }
        for bean in s.def.beans {
            if !ctx.has_bean((bean.type_id)()) {
                return Err(ListenerSpec::err(
                    s.def,
                    format!(
                        "needs a Bean<{}> but none is registered on the application",
                        (bean.type_name)()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// How often a listener ran, for tests and metrics.
#[derive(Debug, Default)]
pub struct ListenerStats {
    handled: AtomicU64,
    failed: AtomicU64,
    changed: Notify,
}

impl ListenerStats {
    /// Messages handled successfully.
    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::Acquire)
    }

    /// Handler failures (each retry counts).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Acquire)
    }

    /// Waits until `handled() >= n`; false on timeout.
    pub async fn wait_handled(&self, n: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if self.handled() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.handled() >= n;
            }
        }
    }

    fn record(&self, ok: bool, n: u64) {
        if ok {
            self.handled.fetch_add(n, Ordering::AcqRel);
        } else {
            self.failed.fetch_add(n, Ordering::AcqRel);
        }
        self.changed.notify_waiters();
    }
}

/// The running consumers of an application.
#[derive(Debug, Default)]
pub struct Container {
    consumers: Vec<(String, PushConsumer)>,
    stats: BTreeMap<&'static str, Arc<ListenerStats>>,
}

impl Container {
    /// Starts one push consumer per group over the enabled listeners; broadcasting groups keep their offsets
    /// in `offsets_dir` (default: the client's, `~/.rocketmq_offsets`).
    pub async fn start(
        specs: Vec<ListenerSpec>,
        ctx: Arc<AppContext>,
        base: &ClientConfig,
        offsets_dir: Option<std::path::PathBuf>,
        clock: &Clock,
    ) -> Result<Container, StartError> {
        let mut by_group: BTreeMap<String, Vec<ListenerSpec>> = BTreeMap::new();
        for s in specs.into_iter().filter(|s| s.enabled) {
            by_group.entry(s.group.clone()).or_default().push(s);
        }
        let mut container = Container::default();
        for (group, specs) in by_group {
            let first = &specs[0];
            let mut client = base.clone();
            if let Some(ns) = &first.name_server {
                client.namesrv_addr = ns.clone();
            }
            if let Some(name) = &first.instance_name {
                client.instance_name = name.clone();
            }
            client.namespace = first.namespace.clone().or(client.namespace);
            let mut opts = PushConsumerOptions::new(group.clone(), client.namesrv_addr.clone());
            opts.client = client;
            if let Some(dir) = &offsets_dir {
                opts.offsets_dir = dir.clone();
            }
            opts.clock = clock.clone();
            opts.message_model = first.model;
            opts.orderly = first.orderly;
            if first.max_reconsume_times >= 0 {
                opts.max_reconsume_times = first.max_reconsume_times;
            }
            opts.consume_thread_max = specs
                .iter()
                .map(|s| s.consume_thread_max)
                .max()
                .unwrap_or(20);
            opts.consume_timeout = specs
                .iter()
                .map(|s| s.consume_timeout)
                .max()
                .unwrap_or(opts.consume_timeout);
            opts.await_termination = specs
                .iter()
                .map(|s| s.await_termination)
                .max()
                .unwrap_or_default();
            opts.suspend_current_queue_time = first.suspend_time;
            if specs.iter().any(|s| s.def.batch) {
                opts.consume_message_batch_max_size = 32;
            }
            let mut routes: HashMap<String, (ListenerSpec, Arc<ListenerStats>)> = HashMap::new();
            for s in &specs {
                opts.subscriptions
                    .push((s.topic.clone(), s.selector.clone()));
                let stats = container.stats.entry(s.def.name).or_default().clone();
                routes.insert(opts.client.wrap(&s.topic), (s.clone(), stats));
            }
            let routes = Arc::new(routes);
            let ctx = ctx.clone();
            let consumer =
                PushConsumer::start(opts, move |msgs: Vec<MessageExt>, cctx: ConsumeContext| {
                    let routes = routes.clone();
                    let ctx = ctx.clone();
                    async move { dispatch(&routes, ctx, msgs, cctx).await }
                })
                .await?;
            tracing::info!(%group, listeners = specs.len(), "listener container started");
            container.consumers.push((group, consumer));
        }
        Ok(container)
    }

    /// Stats of a listener by function name.
    pub fn stats(&self, listener: &str) -> Option<Arc<ListenerStats>> {
        self.stats.get(listener).cloned()
    }

    /// The push consumer of a group.
    pub fn consumer(&self, group: &str) -> Option<&PushConsumer> {
        self.consumers
            .iter()
            .find(|(g, _)| g == group)
            .map(|(_, c)| c)
    }

    /// Stops every consumer gracefully (stop pulls, drain handlers, commit offsets, leave groups).
    pub async fn shutdown(&self) {
        futures::future::join_all(self.consumers.iter().map(|(_, c)| c.shutdown())).await;
    }
}

async fn dispatch(
    routes: &HashMap<String, (ListenerSpec, Arc<ListenerStats>)>,
    ctx: Arc<AppContext>,
    msgs: Vec<MessageExt>,
    cctx: ConsumeContext,
) -> ConsumeOutcome {
    let Some(topic) = msgs.first().map(|m| m.topic.clone()) else {
        return ConsumeOutcome::Success;
    };
    let Some((spec, stats)) = routes.get(&topic) else {
        tracing::error!(%topic, "message for a topic no listener of this group handles");
        return ConsumeOutcome::RETRY_LATER;
    };
    let n = msgs.len() as u64;
    let ids: Vec<String> = msgs.iter().map(MessageExt::msg_id).collect();
    let request = msgs
        .first()
        .filter(|m| {
            spec.def.reply
                && m.property(rmq_protocol::message::properties::CORRELATION_ID)
                    .is_some()
        })
        .cloned();
    match (spec.def.handler)(ctx.clone(), msgs).await {
        Ok(reply) => {
            if let (Some(req), Some(body)) = (request, reply) {
                let Some(template) = ctx.default_template() else {
                    tracing::error!(
                        listener = spec.def.name,
                        "a reply listener needs the default template to answer"
                    );
                    stats.record(false, n);
                    return ConsumeOutcome::RETRY_LATER;
                };
                let sent =
                    tokio::time::timeout(spec.reply_timeout, template.producer().reply(&req, body))
                        .await
                        .unwrap_or_else(|_| {
                            Err(crate::error::ClientError::Timeout {
                                addr: format!("reply to {}", req.msg_id()),
                                timeout: spec.reply_timeout,
                            })
                        });
                if let Err(e) = sent {
                    tracing::warn!(listener = spec.def.name, error = %e, "reply not sent; retrying the request");
                    stats.record(false, n);
                    return ConsumeOutcome::RETRY_LATER;
                }
            }
            stats.record(true, n);
            ConsumeOutcome::Success
        }
        Err(e) => {
            stats.record(false, n);
            if e.is_dead_letter() {
                tracing::warn!(
                    listener = spec.def.name,
                    topic = %spec.topic,
                    msg_id = %ids.join(","),
                    error = %e,
                    "message dead-lettered to %DLQ%{}",
                    spec.group
                );
                ConsumeOutcome::DEAD_LETTER
            } else {
                tracing::warn!(listener = spec.def.name, error = %e, "handler failed; the message will be retried");
                if cctx.orderly {
                    ConsumeOutcome::Suspend(spec.suspend_time)
                } else {
                    ConsumeOutcome::Retry {
                        delay_level: spec.delay_level_when_next_consume,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rmq_listener_attrs::{GroupRule, ATTRS};

    use super::*;
    use crate::listener::HandlerResult;

    fn noop(
        _: Arc<AppContext>,
        _: Vec<MessageExt>,
    ) -> futures::future::BoxFuture<'static, HandlerResult> {
        Box::pin(async { Ok(None) })
    }

    /// A registration as the macro would make it, with `topic` and `consumer_group` filled in when absent.
    fn def(attrs: &[(&'static str, &'static str)]) -> &'static ListenerDef {
        let mut all: Vec<(&'static str, &'static str)> = attrs.to_vec();
        for (k, v) in [("topic", "orders"), ("consumer_group", "g")] {
            if !all.iter().any(|(key, _)| *key == k) {
                all.push((k, v));
            }
        }
        Box::leak(Box::new(ListenerDef {
            name: "l",
            module: module_path!(),
            file: file!(),
            line: line!(),
            attrs: Box::leak(all.into_boxed_slice()),
            handler: noop,
            beans: &[],
            batch: false,
            reply: false,
        }))
    }

    fn resolve(attrs: &[(&'static str, &'static str)]) -> Result<ListenerSpec, StartError> {
        ListenerSpec::resolve(def(attrs), &Settings::from_pairs([("x", "y")]))
    }

    /// Other attributes a sample needs to be valid.
    fn companions(key: &str) -> Vec<(&'static str, &'static str)> {
        match key {
            "selector_type" => vec![("selector_expression", "a > 5")],
            _ => vec![],
        }
    }

    #[test]
    fn a_placeholder_cannot_give_an_orderly_listener_a_retry_delay_level() {
        let settings = Settings::from_pairs([("mode", "ORDERLY")]);
        let e = ListenerSpec::resolve(
            def(&[
                ("consume_mode", "${mode}"),
                ("delay_level_when_next_consume", "2"),
            ]),
            &settings,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("CONCURRENTLY listeners only"), "{e}");
    }

    #[test]
    fn every_attribute_of_the_table_reaches_the_resolved_listener() {
        let defaults = resolve(&[]).unwrap_or_else(|e| panic!("{e}"));
        for a in ATTRS {
            let mut attrs = companions(a.key);
            attrs.push((a.key, a.sample));
            let spec = resolve(&attrs).unwrap_or_else(|e| panic!("{}: {e}", a.key));
            assert_eq!(
                spec.value_of(a.key).as_deref(),
                Some(a.sample),
                "`{}` = {:?} does not reach the resolved listener",
                a.key,
                a.sample
            );
            if !a.required {
                assert_ne!(
                    defaults.value_of(a.key).as_deref(),
                    Some(a.sample),
                    "`{}`: the default resolves like the sample",
                    a.key
                );
                assert_eq!(
                    defaults.value_of(a.key).is_some(),
                    a.default.is_some(),
                    "`{}`: a default in the table and none in the listener, or the reverse",
                    a.key
                );
            }
        }
    }

    #[test]
    fn resolved_placeholders_get_the_tables_checks() {
        let settings = Settings::from_pairs([("t", "0"), ("mode", "orderly"), ("topic", "a b")]);
        let check = |attrs: &[(&'static str, &'static str)]| {
            ListenerSpec::resolve(def(attrs), &settings)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        let e = check(&[("consume_timeout", "${t}")]);
        assert!(
            e.contains("`consume_timeout` must be at least 1; found 0"),
            "{e}"
        );
        let e = check(&[("consume_mode", "${mode}")]);
        assert!(e.contains("the values are upper case: \"ORDERLY\""), "{e}");
        let e = check(&[("topic", "${topic}")]);
        assert!(e.contains("`topic` contains ' '"), "{e}");
    }

    #[test]
    fn listeners_of_a_group_must_agree_on_every_agree_attribute() {
        let ctx = AppContext::new(
            HashMap::new(),
            HashMap::new(),
            Settings::from_pairs([("x", "y")]),
            Default::default(),
        );
        let agreed: Vec<_> = ATTRS
            .iter()
            .filter(|a| a.group == GroupRule::Agree)
            .collect();
        assert!(agreed.len() >= 5);
        for a in agreed {
            let first = resolve(&[("topic", "t1")]).unwrap();
            let mut attrs = companions(a.key);
            attrs.extend([("topic", "t2"), (a.key, a.sample)]);
            let second = resolve(&attrs).unwrap();
            let e = validate(&[first.clone(), second], &ctx)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("a different {}", a.key)),
                "{}: {e}",
                a.key
            );
            let same = resolve(&[("topic", "t2")]).unwrap();
            validate(&[first, same], &ctx).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
