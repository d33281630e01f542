//! The application builder (SpringApplication's analog): load config, register beans, build templates,
//! discover and validate listeners, start them, run until Ctrl-C/SIGTERM, then shut down gracefully.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::clock::Clock;

use crate::config::ClientConfig;
use crate::container::{validate, Container, ListenerSpec, ListenerStats, StartError};
use crate::context::{AppContext, Codec, CodecHandle, DEFAULT_TEMPLATE};
use crate::producer::{Producer, ProducerOptions, TransactionProducer};
use crate::settings::{Settings, SettingsError};
use crate::template::RocketMqTemplate;
use crate::transaction_listener::{BoundListener, ContextSlot, TransactionListenerDef};

/// Value of `rocketmq.name-server` that starts the bundled broker in the process (also the default).
pub const EMBEDDED: &str = "embedded";

/// Builds and starts an [`Application`].
#[derive(Default)]
pub struct ApplicationBuilder {
    settings: Option<Settings>,
    config_dir: Option<PathBuf>,
    overrides: Vec<(String, String)>,
    beans: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    codec: CodecHandle,
    only: Option<Vec<String>>,
    templates: Vec<(String, String)>,
    transactional: Vec<String>,
    embedded_store: Option<PathBuf>,
    // The test harness: no `application.*` from the working directory unless `config_dir` names one.
    no_default_files: bool,
    // Type names of beans registered as `Arc<T>` through `bean`, for the hint when `Bean<T>` is missing.
    arc_beans: Vec<&'static str>,
    time: TimeMode,
}

/// Which clock the embedded broker and the listeners follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum TimeMode {
    /// The system clock (production, and `real_time()` in tests).
    #[default]
    Real,
    /// A virtual clock moved by `Application::advance`; `auto` also jumps to each next delivery. `asked`:
    /// chosen explicitly (an error without the embedded broker) rather than the harness default.
    Virtual { auto: bool, asked: bool },
}

impl std::fmt::Debug for ApplicationBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicationBuilder")
            .field("only", &self.only)
            .finish_non_exhaustive()
    }
}

impl ApplicationBuilder {
    /// An empty builder (config from `application.*` in the working directory unless told otherwise).
    pub fn new() -> Self {
        ApplicationBuilder::default()
    }

    /// Reads `application.{toml,yaml,json,properties}` from `dir`.
    pub fn config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config_dir = Some(dir.into());
        self
    }

    /// Uses these settings instead of files.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// Sets one config value (wins over files).
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides.push((key.into(), value.into()));
        self
    }

    /// Registers a bean that handlers extract with `Bean<T>`. For a value you already hold in an `Arc`, use
    /// [`bean_arc`](Self::bean_arc) (`bean(Arc::new(x))` registers an `Arc<T>` bean, which `Bean<T>` does not
    /// find; start-up then says so).
    pub fn bean<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        let name = std::any::type_name::<T>();
        if name.starts_with("alloc::sync::Arc<") {
            self.arc_beans.push(name);
        }
        self.beans.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// Registers a shared value as the bean `Bean<T>` extracts (the same `Arc`, not a copy).
    pub fn bean_arc<T: Send + Sync + 'static>(mut self, value: Arc<T>) -> Self {
        self.beans.insert(TypeId::of::<T>(), value);
        self
    }

    /// The test harness's start: settings from `set` only, unless `config_dir` names the app's files.
    #[cfg(feature = "embedded")]
    pub(crate) fn without_default_config_files(mut self) -> Self {
        self.no_default_files = true;
        self
    }

    /// Plugs in a payload codec (JSON by default).
    pub fn codec(mut self, codec: impl Codec) -> Self {
        self.codec = CodecHandle::new(codec);
        self
    }

    /// Starts only these listeners (by function name); the others in the binary stay off, and so do
    /// `#[rocketmq_transaction_listener]`s bound to templates this application does not declare (without
    /// `only_listeners` such a transaction listener stops start-up, as in rocketmq-spring).
    pub fn only_listeners<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.only = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Declares an extra template with its own producer group (rocketmq-spring's ExtRocketMQTemplate).
    pub fn template(mut self, name: impl Into<String>, producer_group: impl Into<String>) -> Self {
        self.templates.push((name.into(), producer_group.into()));
        self
    }

    /// Declares a template whose sends are transactional: start-up fails unless a
    /// `#[rocketmq_transaction_listener(template = name)]` is linked in.
    pub fn transactional_template(
        mut self,
        name: impl Into<String>,
        producer_group: impl Into<String>,
    ) -> Self {
        let name = name.into();
        self.transactional.push(name.clone());
        if name != DEFAULT_TEMPLATE {
            self.templates.push((name, producer_group.into()));
        } else {
            self.overrides
                .push(("rocketmq.producer.group".into(), producer_group.into()));
        }
        self
    }

    /// Runs the embedded broker and the listeners on a virtual clock that moves with real time and with
    /// [`Application::advance`] only: delay levels, timer messages, retry back-off, orderly suspensions and
    /// transaction check rounds then pass when the test says. Needs the embedded broker (refused at start
    /// otherwise: a remote broker cannot share the clock). Turn on jumping to each next delivery with
    /// [`Application::auto_advance`].
    pub fn virtual_time(mut self) -> Self {
        self.time = TimeMode::Virtual {
            auto: false,
            asked: true,
        };
        self
    }

    /// The system clock: a retry really waits its 10 s, 30 s, ... (the harness's default is virtual time that
    /// jumps to each next delivery).
    pub fn real_time(mut self) -> Self {
        self.time = TimeMode::Real;
        self
    }

    /// The test harness's default: virtual time with auto-advance (real time against a remote broker).
    #[cfg(feature = "embedded")]
    pub(crate) fn for_harness(mut self) -> Self {
        self.time = TimeMode::Virtual {
            auto: true,
            asked: false,
        };
        self
    }

    /// Store directory of the embedded broker (default: `rocketmq.embedded.store-dir`, else a temp dir).
    pub fn embedded_store_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.embedded_store = Some(dir.into());
        self
    }

    /// Loads config, validates everything, starts the broker (if embedded), templates and listeners.
    pub async fn start(self) -> Result<Application, StartError> {
        let mut settings = match (self.settings, &self.config_dir) {
            (Some(_), Some(dir)) => {
                return Err(StartError::Settings(SettingsError::Invalid {
                    key: "config_dir".into(),
                    value: dir.display().to_string(),
                    reason: "given together with .settings(..), which replaces config files; use one of them"
                        .into(),
                }))
            }
            (Some(s), None) => s,
            (None, Some(dir)) => Settings::load_dir(dir)?,
            (None, None) if self.no_default_files => Settings::from_pairs(Vec::<(String, String)>::new()),
            (None, None) => Settings::load_dir(".")?,
        };
        for (k, v) in self.overrides {
            settings.set(k, v);
        }
        settings.check_known_keys()?;
        settings.check_placeholders()?;
        install_default_subscriber(&settings)?;

        // Listeners are resolved and checked before anything connects, so a bad attribute fails fast.
        let mut specs = Vec::new();
        for def in crate::listener::ListenerDef::all() {
            if let Some(only) = &self.only {
                if !only.iter().any(|n| n == def.name) {
                    continue;
                }
            }
            specs.push(ListenerSpec::resolve(def, &settings)?);
        }
        if let Some(only) = &self.only {
            for name in only {
                if !specs.iter().any(|s| s.def.name == name) {
                    return Err(StartError::Listener {
                        listener: name.clone(),
                        location: "only_listeners".into(),
                        reason: "no #[rocketmq_listener] function with this name is linked into the binary".into(),
                    });
                }
            }
        }
        specs.sort_by_key(|s| (s.def.file, s.def.line));

        let namesrv = settings
            .get("rocketmq.name-server")
            .filter(|s| !s.trim().is_empty());
        let is_embedded = matches!(namesrv.as_deref(), None | Some(EMBEDDED));
        let (clock, auto) = match self.time {
            TimeMode::Real => (Clock::system(), false),
            TimeMode::Virtual { asked: true, .. } if !is_embedded => {
                return Err(StartError::Settings(SettingsError::Invalid {
                    key: "rocketmq.name-server".into(),
                    value: namesrv.unwrap_or_default(),
                    reason: "virtual_time() needs the embedded broker: a remote broker cannot follow the test's clock"
                        .into(),
                }))
            }
            TimeMode::Virtual { .. } if !is_embedded => (Clock::system(), false),
            TimeMode::Virtual { auto, .. } => (Clock::virtual_time(), auto),
        };
        clock.set_auto_advance(auto);
        let embedded = if is_embedded {
            Some(start_embedded(&settings, self.embedded_store, &clock).await?)
        } else {
            None
        };
        let namesrv_addr = match &embedded {
            Some(b) => b.namesrv_addr(),
            None => namesrv.unwrap_or_default(),
        };
        // Everything after the embedded broker started: on an error the broker is stopped before it is dropped,
        // so its temp store is removed (dropping a running broker leaves its threads writing into the store
        // while the directory is deleted).
        let started = async {
            let mut client = ClientConfig::new(namesrv_addr.clone());
            client.namespace = settings.get("rocketmq.producer.namespace");
            client.namesrv_list()?;

            for name in &self.transactional {
                if !TransactionListenerDef::all().any(|l| l.template == name) {
                    return Err(StartError::Template {
                        template: name.clone(),
                        reason: "declared transactional, but no #[rocketmq_transaction_listener] is bound to it".into(),
                    });
                }
            }
            // Transaction listeners see the context once it exists (it holds the templates built here).
            let slot = ContextSlot::default();
            let templates = build_templates(
                &settings,
                &client,
                self.templates,
                &self.codec,
                self.only.is_some(),
                &slot,
            )
            .await?;
            let default_template =
                templates
                    .get(DEFAULT_TEMPLATE)
                    .cloned()
                    .ok_or_else(|| StartError::Template {
                        template: DEFAULT_TEMPLATE.into(),
                        reason: "not built".into(),
                    })?;
            // Broadcasting consumers keep offsets on local disk. Next to the embedded broker's store by default: a
            // fresh (temp) store must not meet offsets a previous run left in ~/.rocketmq_offsets.
            let offsets_dir = settings
                .get("rocketmq.consumer.local-offset-store-dir")
                .filter(|d| !d.trim().is_empty())
                .map(PathBuf::from)
                .or_else(|| embedded_offsets_dir(embedded.as_ref()));
            if let Some(puller) = build_pull_consumer(&settings, &client, offsets_dir.clone()).await? {
                default_template.set_pull_consumer(puller);
            }
            let ctx = Arc::new(AppContext::new(
                self.beans,
                templates.clone(),
                settings,
                self.codec,
            ));
            BoundListener::bind(&slot, &ctx);
            validate(&specs, &ctx).map_err(|e| with_arc_bean_hint(e, &self.arc_beans))?;
            log_summary(&namesrv_addr, is_embedded, &clock, &specs, &templates);
            let container =
                Container::start(specs, ctx.clone(), &client, offsets_dir, &clock).await?;
            Ok((ctx, default_template, templates, container))
        }
        .await;
        let (ctx, default_template, templates, container) = match started {
            Ok(parts) => parts,
            Err(e) => {
                if let Some(b) = &embedded {
                    if let Err(stop) = b.shutdown().await {
                        tracing::warn!(error = %stop, "embedded broker shutdown after a failed start");
                    }
                }
                return Err(e);
            }
        };
        let driver = clock
            .is_virtual()
            .then(|| tokio::spawn(clock.clone().drive()));
        Ok(Application {
            ctx,
            default_template,
            templates: templates.into_values().collect(),
            container,
            embedded,
            namesrv_addr,
            clock,
            driver,
        })
    }
}

async fn build_templates(
    settings: &Settings,
    client: &ClientConfig,
    extra: Vec<(String, String)>,
    codec: &CodecHandle,
    selected_listeners: bool,
    slot: &ContextSlot,
) -> Result<HashMap<String, RocketMqTemplate>, StartError> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    let default_group = settings
        .get("rocketmq.producer.group")
        .unwrap_or_else(|| "rmq_default_producer_group".to_string());
    wanted.push((DEFAULT_TEMPLATE.to_string(), default_group));
    wanted.extend(extra);
    // With `only_listeners` (tests picking what they start) a transaction listener bound to a template this
    // application does not declare stays off like the listeners left out; otherwise it is a mistake.
    let tx_listeners: Vec<&'static TransactionListenerDef> = TransactionListenerDef::all()
        .filter(|l| !selected_listeners || wanted.iter().any(|(name, _)| name == l.template))
        .collect();
    for l in &tx_listeners {
        if !wanted.iter().any(|(name, _)| name == l.template) {
            return Err(StartError::Template {
                template: l.template.to_string(),
                reason: format!(
                    "transaction listener {} names a template the application does not declare",
                    l.name
                ),
            });
        }
        if tx_listeners
            .iter()
            .filter(|o| o.template == l.template)
            .count()
            > 1
        {
            return Err(StartError::Template {
                template: l.template.to_string(),
                reason: "more than one transaction listener is bound to it".into(),
            });
        }
    }
    let ms = |key: &str, default: u64| -> Result<Duration, StartError> {
        Ok(Duration::from_millis(
            settings.get_parsed::<u64>(key)?.unwrap_or(default),
        ))
    };
    let mut out = HashMap::new();
    for (name, group) in wanted {
        let mut opts = ProducerOptions::new(group, client.namesrv_addr.clone());
        opts.client = client.clone();
        if let Some(instance) = settings.get("rocketmq.producer.instance-name") {
            opts.client.instance_name = instance;
        }
        opts.send_timeout = ms("rocketmq.producer.send-message-timeout", 3000)?;
        if let Some(n) =
            settings.get_parsed::<u32>("rocketmq.producer.retry-times-when-send-failed")?
        {
            opts.retry_times_when_send_failed = n;
        }
        if let Some(n) =
            settings.get_parsed::<u32>("rocketmq.producer.retry-times-when-send-async-failed")?
        {
            opts.retry_times_when_send_async_failed = n;
        }
        if let Some(n) =
            settings.get_parsed::<usize>("rocketmq.producer.compress-message-body-threshold")?
        {
            opts.compress_msg_body_over_howmuch = n;
        }
        if let Some(n) = settings.get_parsed::<usize>("rocketmq.producer.max-message-size")? {
            opts.max_message_size = n;
        }
        let template = match tx_listeners.iter().find(|l| l.template == name) {
            Some(l) => {
                let bound = BoundListener::new((l.create)(), slot.clone());
                let checker = bound.clone();
                let producer =
                    TransactionProducer::start(opts, move |msg: crate::message::MessageExt| {
                        let checker = checker.clone();
                        async move { checker.check(&msg).await }
                    })
                    .await?;
                RocketMqTemplate::transactional(
                    name.clone(),
                    producer,
                    Arc::new(bound),
                    codec.clone(),
                )
            }
            None => {
                RocketMqTemplate::new(name.clone(), Producer::start(opts).await?, codec.clone())
            }
        };
        out.insert(name, template);
    }
    Ok(out)
}

/// The template's pull consumer (rocketmq-spring's `DefaultLitePullConsumer` bean behind
/// `RocketMQTemplate.receive`), from `rocketmq.pull-consumer.*` or the older `rocketmq.consumer.*`, when a group
/// and a topic are configured.
async fn build_pull_consumer(
    settings: &Settings,
    client: &ClientConfig,
    offsets_dir: Option<PathBuf>,
) -> Result<Option<crate::consumer::LitePullConsumer>, StartError> {
    use crate::consumer::{
        LitePullConsumer, LitePullConsumerOptions, MessageModel, MessageSelector,
    };
    use crate::settings::SettingsError;
    let get = |field: &str| settings.pull_consumer(field);
    let (group, topic) = match (get("group")?, get("topic")?) {
        (Some((_, g)), Some((_, t))) if !g.trim().is_empty() && !t.trim().is_empty() => {
            (g.trim().to_string(), t.trim().to_string())
        }
        (None, None) => return Ok(None),
        (g, t) => {
            // One without the other would leave receive() failing later; say which is missing now.
            let (key, value, missing) = match (g, t) {
                (Some((k, v)), _) if !v.trim().is_empty() => (k, v, "topic"),
                (_, Some((k, v))) if !v.trim().is_empty() => (k, v, "group"),
                (Some((k, v)), _) | (_, Some((k, v))) => (k, v, "a non-empty value"),
                (None, None) => unreachable!("handled above"),
            };
            return Err(StartError::Settings(SettingsError::Invalid {
                key,
                value,
                reason: format!(
                    "the template's pull consumer needs both group and topic; {missing} is missing"
                ),
            }));
        }
    };
    let bad = |(key, value): (String, String), reason: &str| {
        StartError::Settings(SettingsError::Invalid {
            key,
            value,
            reason: reason.to_string(),
        })
    };
    let expr = get("selector-expression")?
        .map(|(_, v)| v)
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "*".into());
    let selector = match get("selector-type")? {
        None => MessageSelector::Tag(expr),
        Some(kv) => match kv.1.trim() {
            "TAG" => MessageSelector::Tag(expr),
            "SQL92" => MessageSelector::Sql92(expr),
            _ => return Err(bad(kv, "expected TAG or SQL92")),
        },
    };
    let mut opts =
        LitePullConsumerOptions::new(group, client.namesrv_addr.clone()).subscribe(topic, selector);
    opts.client = client.clone();
    if let Some(dir) = offsets_dir {
        opts.offsets_dir = dir;
    }
    if let Some((_, ns)) = get("namespace")? {
        opts.client.namespace = Some(ns.trim().to_string()).filter(|n| !n.is_empty());
    }
    if let Some((_, name)) = get("instance-name")? {
        if !name.trim().is_empty() {
            opts.client.instance_name = name.trim().to_string();
        }
    }
    if let Some(kv) = get("message-model")? {
        opts.message_model = match kv.1.trim() {
            "CLUSTERING" => MessageModel::Clustering,
            "BROADCASTING" => MessageModel::Broadcasting,
            _ => return Err(bad(kv, "expected CLUSTERING or BROADCASTING")),
        };
    }
    if let Some(kv) = get("pull-batch-size")? {
        opts.pull_batch_size = match kv.1.trim().parse::<i32>() {
            Ok(n) if n > 0 => n,
            _ => return Err(bad(kv, "expected a positive whole number")),
        };
    }
    Ok(Some(LitePullConsumer::start(opts).await?))
}

/// A running application.
pub struct Application {
    ctx: Arc<AppContext>,
    default_template: RocketMqTemplate,
    /// Every template, the default one included.
    templates: Vec<RocketMqTemplate>,
    container: Container,
    embedded: Option<Embedded>,
    namesrv_addr: String,
    clock: Clock,
    // Moves a virtual clock to each next delivery while auto-advance is on; aborted at shutdown.
    driver: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("namesrv_addr", &self.namesrv_addr)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// A builder.
    pub fn builder() -> ApplicationBuilder {
        ApplicationBuilder::new()
    }

    /// The shared context (beans, templates, settings).
    pub fn context(&self) -> &Arc<AppContext> {
        &self.ctx
    }

    /// The default template (`rocketMQTemplate`).
    pub fn template(&self) -> RocketMqTemplate {
        self.default_template.clone()
    }

    /// A template by name.
    pub fn template_named(&self, name: &str) -> Option<RocketMqTemplate> {
        self.ctx.template(name).cloned()
    }

    /// The name servers the application uses (the embedded one's address in embedded mode).
    pub fn namesrv_addr(&self) -> &str {
        &self.namesrv_addr
    }

    /// The embedded broker, when the application runs one.
    #[cfg(feature = "embedded")]
    pub fn embedded_broker(&self) -> Option<&rmq_broker::embedded::EmbeddedBroker> {
        self.embedded.as_ref()
    }

    /// Handled/failed counters of a listener (by function name).
    pub fn listener_stats(&self, listener: impl AsRef<str>) -> Option<Arc<ListenerStats>> {
        self.container.stats(listener.as_ref())
    }

    /// The push consumer running a group.
    pub fn consumer(&self, group: &str) -> Option<&crate::consumer::PushConsumer> {
        self.container.consumer(group)
    }

    /// The clock the embedded broker and the listeners follow (virtual under the test harness).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Moves virtual time forward by `by`: whatever was due by then (a delayed message, a retry, an orderly
    /// queue's suspension, a transaction check round) happens now. Then await its effect as usual
    /// (`await_handled`, `expect_message`).
    ///
    /// # Panics
    /// When the application runs on real time (`real_time()`, or a remote broker).
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by)
    }

    /// Under virtual time, whether the clock jumps by itself to each next delivery (a retry, a delay level, a
    /// timer message, a suspension) as soon as one is waiting: retry chains and long delays take
    /// milliseconds. On by default in the test harness; off for exact steps with [`advance`](Self::advance).
    pub fn auto_advance(&self, on: bool) {
        self.clock.set_auto_advance(on)
    }

    /// Runs until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) {
        wait_for_signal().await;
        tracing::info!("signal received; shutting down");
        self.shutdown().await;
    }

    /// Stops listeners (stop pulls, drain handlers, commit offsets), producers, then the embedded broker.
    pub async fn shutdown(self) {
        if let Some(d) = &self.driver {
            d.abort();
        }
        self.container.shutdown().await;
        futures::future::join_all(self.templates.iter().map(RocketMqTemplate::shutdown)).await;
        if let Some(b) = &self.embedded {
            if let Err(e) = b.shutdown().await {
                tracing::warn!(error = %e, "embedded broker shutdown");
            }
        }
    }
}

#[cfg(feature = "embedded")]
type Embedded = rmq_broker::embedded::EmbeddedBroker;

/// Where broadcasting offsets go in embedded mode: inside the broker's store.
#[cfg(feature = "embedded")]
fn embedded_offsets_dir(embedded: Option<&Embedded>) -> Option<PathBuf> {
    embedded.map(|b| b.store_dir().join("consumer-offsets"))
}

#[cfg(not(feature = "embedded"))]
fn embedded_offsets_dir(_embedded: Option<&Embedded>) -> Option<PathBuf> {
    None
}

/// Starts the bundled broker with `rocketmq.embedded.*` settings.
#[cfg(feature = "embedded")]
async fn start_embedded(
    settings: &Settings,
    store: Option<PathBuf>,
    clock: &Clock,
) -> Result<Embedded, StartError> {
    let store = store.or_else(|| {
        settings
            .get("rocketmq.embedded.store-dir")
            .map(PathBuf::from)
    });
    let mut b = rmq_broker::embedded::EmbeddedBroker::builder().clock(clock.clone());
    if let Some(dir) = store {
        b = b.store_dir(dir);
    }
    // Broker settings by their RocketMQ names, e.g. rocketmq.embedded.broker.transactionCheckInterval.
    for (key, value) in settings.with_prefix("rocketmq.embedded.broker.") {
        b = b.property(key, value);
    }
    if let Some(flush) = settings.get("rocketmq.embedded.flush-disk-type") {
        // Anything but the two values is refused: a typo must not silently mean the weaker ASYNC_FLUSH.
        let sync = match flush.trim().to_ascii_uppercase().as_str() {
            "SYNC_FLUSH" => true,
            "ASYNC_FLUSH" => false,
            _ => {
                return Err(StartError::Settings(
                    crate::settings::SettingsError::Invalid {
                        key: "rocketmq.embedded.flush-disk-type".into(),
                        value: flush,
                        reason: "expected SYNC_FLUSH or ASYNC_FLUSH".into(),
                    },
                ))
            }
        };
        b = b.flush_sync(sync);
    }
    b.start()
        .await
        .map_err(|e| StartError::Broker(e.to_string()))
}

/// Without the `embedded` feature there is no bundled broker to run.
#[cfg(not(feature = "embedded"))]
#[derive(Debug)]
enum Embedded {}

#[cfg(not(feature = "embedded"))]
impl Embedded {
    fn namesrv_addr(&self) -> String {
        match *self {}
    }
    async fn shutdown(&self) -> Result<(), String> {
        match *self {}
    }
}

#[cfg(not(feature = "embedded"))]
async fn start_embedded(
    _settings: &Settings,
    _store: Option<PathBuf>,
    _clock: &Clock,
) -> Result<Embedded, StartError> {
    Err(StartError::Broker(
        "rmq-runtime was built without its `embedded` feature; set rocketmq.name-server to a name server".into(),
    ))
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Logs go somewhere even when the application set up no tracing subscriber (as Spring Boot logs to the
/// console by default): a fmt subscriber to stdout filtered by `RUST_LOG`, INFO when unset. Off with
/// `rocketmq.logging.default-subscriber = false`; an application's own subscriber always wins. Written with
/// `print!` (tracing-subscriber's test writer), so inside `cargo test` libtest captures it and shows it for a
/// failing test only.
fn install_default_subscriber(settings: &Settings) -> Result<(), StartError> {
    let key = "rocketmq.logging.default-subscriber";
    let on = match settings.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => true,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(v) => {
            return Err(StartError::Settings(SettingsError::Invalid {
                key: key.into(),
                value: v,
                reason: "expected true or false".into(),
            }))
        }
    };
    if !on || tracing::dispatcher::has_been_set() {
        return Ok(());
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Another thread may have won the race to install one; either way there is a subscriber now.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
    Ok(())
}

/// What Spring Boot prints at start: where the application connects, every listener and every template.
fn log_summary(
    namesrv: &str,
    embedded: bool,
    clock: &Clock,
    specs: &[ListenerSpec],
    templates: &HashMap<String, RocketMqTemplate>,
) {
    let time = if clock.is_virtual() {
        "virtual"
    } else {
        "system"
    };
    if embedded {
        tracing::info!(name_server = %namesrv, time, "rmq: embedded broker started");
    } else {
        tracing::info!(name_server = %namesrv, time, "rmq: connecting to the name server");
    }
    for s in specs.iter().filter(|s| s.enabled) {
        let selector = match &s.selector {
            crate::consumer::MessageSelector::Tag(t) => format!("TAG {t}"),
            crate::consumer::MessageSelector::Sql92(e) => format!("SQL92 {e}"),
        };
        tracing::info!(
            listener = s.def.name,
            topic = %s.topic,
            group = %s.group,
            selector = %selector,
            mode = if s.orderly { "ORDERLY" } else { "CONCURRENTLY" },
            model = ?s.model,
            "rmq: listener"
        );
    }
    for s in specs.iter().filter(|s| !s.enabled) {
        tracing::info!(listener = s.def.name, topic = %s.topic, "rmq: listener disabled");
    }
    let mut names: Vec<&String> = templates.keys().collect();
    names.sort();
    for name in names {
        let t = &templates[name];
        tracing::info!(
            template = %name,
            producer_group = %t.producer().group(),
            transactional = t.is_transactional(),
            "rmq: template"
        );
    }
}

/// A missing `Bean<T>` whose `Arc<T>` was registered with `bean`: say what to write instead.
fn with_arc_bean_hint(e: StartError, arc_beans: &[&'static str]) -> StartError {
    let StartError::Listener {
        listener,
        location,
        reason,
    } = e
    else {
        return e;
    };
    let hint = arc_beans.iter().find_map(|arc| {
        let inner = arc.strip_prefix("alloc::sync::Arc<")?.strip_suffix('>')?;
        reason
            .contains(&format!("Bean<{inner}>"))
            .then(|| format!("; an Arc<{inner}> is registered: register it with .bean_arc(arc) (or .bean(value)), so Bean<{inner}> finds it"))
    });
    StartError::Listener {
        listener,
        location,
        reason: reason + hint.as_deref().unwrap_or_default(),
    }
}
