//! Starting the whole shop: database (migrations, consumer log, seed), the rmq application (broker,
//! template, every listener) and the shop bean they share.

use std::path::PathBuf;

use rmq_runtime::container::StartError;
use rmq_runtime::settings::Settings;
use rmq_runtime::Application;

use crate::config::{ConfigError, ShopConfig};
use crate::db::{DbPool, DbSetupError};
use crate::listeners::ALL_LISTENERS;
use crate::relay::Relay;
use crate::service::AnyShop;

/// What [`ShopApp::start`] needs.
#[derive(Debug, Clone)]
pub struct ShopOptions {
    /// Resolved settings ([`crate::config::load_settings`]).
    pub settings: Settings,
    /// `sqlite:PATH` or `postgres://...`; `None`: `shop.db` under `data_dir`.
    pub database_url: Option<String>,
    /// The data directory (SQLite file, embedded broker store).
    pub data_dir: PathBuf,
    /// Run the outbox relay (default true; tests turn it off to leave rows pending, as a crash would).
    pub relay: bool,
}

impl ShopOptions {
    /// Options with the relay on.
    pub fn new(
        settings: Settings,
        database_url: Option<String>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        ShopOptions {
            settings,
            database_url,
            data_dir: data_dir.into(),
            relay: true,
        }
    }
}

/// Why the shop did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Database.
    #[error(transparent)]
    Db(#[from] DbSetupError),
    /// rmq (broker, template, listeners).
    #[error("starting rmq: {0}")]
    Rmq(#[from] StartError),
}

/// The running shop.
#[derive(Debug)]
pub struct ShopApp {
    app: Application,
    shop: AnyShop,
    relay: Option<Relay>,
}

impl ShopApp {
    /// Opens and prepares the database, then starts rmq with the shop as a bean and every listener.
    pub async fn start(opts: ShopOptions) -> Result<ShopApp, StartupError> {
        let mut settings = opts.settings;
        let cfg = ShopConfig::from_settings(&settings)?;
        let pool = DbPool::connect(opts.database_url.as_deref(), &opts.data_dir).await?;
        pool.prepare().await?;
        if settings.get("rocketmq.embedded.store-dir").is_none() {
            settings.set(
                "rocketmq.embedded.store-dir",
                opts.data_dir.join("broker").display().to_string(),
            );
        }
        let shop = AnyShop::new(pool, cfg);
        let app = Application::builder()
            .settings(settings)
            .bean(shop.clone())
            .only_listeners(ALL_LISTENERS)
            .start()
            .await?;
        shop.attach_template(app.template());
        let relay = opts.relay.then(|| Relay::spawn(shop.clone()));
        tracing::info!(
            db = shop.db_kind(),
            namesrv = app.namesrv_addr(),
            "shop started"
        );
        Ok(ShopApp { app, shop, relay })
    }

    /// The shop.
    pub fn shop(&self) -> &AnyShop {
        &self.shop
    }

    /// The rmq application (templates, listener stats, the embedded broker).
    pub fn app(&self) -> &Application {
        &self.app
    }

    /// Stops the relay, listeners, producers and the embedded broker.
    pub async fn shutdown(self) {
        if let Some(relay) = self.relay {
            relay.stop().await;
        }
        self.app.shutdown().await;
    }
}
