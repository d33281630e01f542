//! `examples-shop`: prepares the database (migrations, consumer log, seed data).
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// The rmq shop.
#[derive(Debug, Parser)]
struct Cli {
    /// The database (sqlite:PATH or postgres://...); default: shop.db under --data-dir.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Where the SQLite file lives.
    #[arg(long, default_value = "shop-data")]
    data_dir: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let db = examples_shop::db::DbPool::connect(cli.database_url.as_deref(), &cli.data_dir)
        .await
        .context("opening the database")?;
    db.prepare().await.context("preparing the database")?;
    println!("{} database ready", db.kind());
    Ok(())
}
