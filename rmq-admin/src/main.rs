//! `rmq-admin`: RocketMQ's mqadmin commands (camelCase names, mqadmin's short flags) over
//! `rmq_client::admin::Admin`, for rmq's bundled broker and Apache RocketMQ clusters alike.
//!
//! Layout:
//! - `cli`: the clap definitions, one variant per command;
//! - `commands/`: one module per family (`topic`, `cluster`, `message`, `consumer`, `dlq`) and the shared
//!   [`commands::Ctx`];
//! - `output`: JSON (`--json`) or text, and the message view every message command prints;
//! - `table`: the aligned tables the text output uses;
//! - `time`: mqadmin's time arguments (`ms`, `now`, `yyyy-MM-dd#HH:mm:ss:SSS`);
//! - `errors`: failures as one line naming what is wrong.
//!
//! Exit codes: 0 on success, 1 on any failure, argument errors included (clap's own would be 2), each
//! reported as one line on stderr; stdout carries only results, so `--json` output always parses.

mod cli;
mod commands;
mod errors;
mod output;
mod table;
mod time;

use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::Parser;
use rmq_client::{Admin, ClientConfig};

use crate::cli::Cli;
use crate::commands::Ctx;
use crate::output::Output;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return argument_error(&e),
    };
    let timeout = Duration::from_millis(cli.timeout_ms);
    let mut config = ClientConfig::new(cli.namesrv.clone()).with_instance_name(format!(
        "rmq-admin-{}-{}",
        std::process::id(),
        time::now_ms()
    ));
    config.request_timeout = timeout;
    let namesrvs = match config.namesrv_list() {
        Ok(list) => list,
        Err(e) => return fail(&format!("-n/--namesrv: {e}")),
    };
    let admin = match Admin::start(config.clone()).await {
        Ok(admin) => admin,
        Err(e) => return fail(&e.to_string()),
    };
    let ctx = Ctx {
        admin,
        out: Output::new(cli.json),
        config,
    };
    let result = commands::run(&ctx, cli.command).await;
    ctx.admin.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&errors::describe(&e, &namesrvs, timeout).await),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("rmq-admin: {}", errors::one_line(message));
    ExitCode::FAILURE
}

/// Help and version go to stdout with exit 0; anything else is one line on stderr and exit 1 (the usage
/// block clap adds is left out: `rmq-admin help <command>` shows it).
fn argument_error(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::FAILURE
        }
        _ => {
            let rendered = e.render().to_string();
            let message = rendered
                .split("\nUsage:")
                .next()
                .unwrap_or(&rendered)
                .trim_start_matches("error: ");
            let message: Vec<&str> = message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            fail(&format!(
                "{} (see 'rmq-admin help <command>')",
                message.join(" ")
            ))
        }
    }
}
