//! The command line: clap definitions and printing, one file per subcommand.
//!
//! Owns the interface (commands, flags, what they print) and nothing else:
//! each command calls one library function (planning in [`crate::plan`], the
//! delivery session in [`crate::delivery::session`], the scheduler loop in
//! [`crate::schedule::daemon`], the server in [`crate::web`]) and prints the
//! typed result. No SQL, no SMTP and no file-format parsing here; exit codes
//! come from [`crate::error`].

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::error::{Ending, Error, exit};

mod admin;
mod approve;
mod backup;
mod check;
mod common;
mod fetch;
mod hold;
mod import;
mod inbound;
mod log;
pub(crate) mod output;
mod preview;
mod progress;
mod reader;
mod run;
mod schedule;
mod send;
mod serve;
mod status;
mod store;
pub(crate) mod subscribers;

use output::errln;

/// tipsheet: assemble, preview and send the career-tips newsletter.
#[derive(Debug, Parser)]
#[command(name = "tipsheet", version, about)]
pub struct Cli {
    /// The config file.
    #[arg(
        long,
        global = true,
        env = "TIPSHEET_CONFIG",
        default_value = "config.toml"
    )]
    pub config: PathBuf,
    /// Evaluate as if it were this instant (RFC 3339); a testing aid.
    #[arg(long, global = true, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// How standard error is written: `text`, or `json` (one object per event).
    #[arg(
        long,
        global = true,
        env = "TIPSHEET_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: log::LogFormat,
    /// In JSON logs, write readers' addresses instead of `<address>`.
    #[arg(long, global = true)]
    pub log_personal: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 instant like 2026-12-01T14:00:00Z ({e})"))
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate config, content and subscribers (and, with `--dns`, the domain's DNS).
    Check(check::CheckArgs),
    /// Dry run: render the next issue for one subscriber and write it to files.
    Preview(preview::PreviewArgs),
    /// Deliver an issue to every active subscriber.
    Send(send::SendArgs),
    /// Show what the ledger recorded.
    Status(status::StatusArgs),
    /// List upcoming and recent slots with their status.
    Schedule(schedule::ScheduleArgs),
    /// Run as a scheduler: send each slot on time, until SIGTERM.
    Run,
    /// Serve unsubscribe, sign-up, the web archive and the admin preview over HTTP.
    Serve(serve::ServeArgs),
    /// Turn an article (Markdown, HTML or plain text) into a comparison file.
    Import(import::ImportArgs),
    /// Import new comparisons from the configured feeds (`[[content.feeds]]`).
    Fetch(fetch::FetchArgs),
    /// Approve an issue: freeze it as it stands and sign it off for sending.
    Approve(approve::ApproveArgs),
    /// Put an issue on hold: no command on any host sends it until `release`.
    Hold(hold::HoldArgs),
    /// Release an issue put on hold.
    Release(hold::ReleaseArgs),
    /// One reader's data: show it, or forget it (erasure on request).
    Subscribers(reader::SubscribersArgs),
    /// Read bounces, complaints and mailed unsubscribes (files, `-`, or `--maildir`).
    Inbound(inbound::InboundArgs),
    /// Copy the ledger and the list files to a new folder (safe while a send runs).
    Backup(backup::BackupArgs),
    /// Write a backup folder back (refused while a send runs).
    Restore(backup::RestoreArgs),
    /// The console's accounts: add, list, change (password, role), remove.
    Admin(admin::AdminArgs),
}

/// Runs the parsed command line on the one runtime the command line owns:
/// everything below it is async.
pub fn run(cli: Cli) -> Result<Ending, Error> {
    log::init(cli.log_format, cli.log_personal);
    let rt = match cli.command {
        // The server answers many clients at once.
        Command::Serve(_) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?,
        _ => common::runtime()?,
    };
    rt.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> Result<Ending, Error> {
    let now = cli.now.unwrap_or_else(Utc::now);
    match &cli.command {
        Command::Check(a) => check::run(&cli.config, a, now).await,
        Command::Preview(a) => preview::run(&Config::load(&cli.config)?, a, now).await,
        Command::Send(a) => send::run(&Config::load(&cli.config)?, a, now).await,
        Command::Status(a) => status::run(&Config::load(&cli.config)?, a, now).await,
        Command::Schedule(a) => schedule::run(&Config::load(&cli.config)?, a, now).await,
        Command::Run => run::run(&Config::load(&cli.config)?, cli.now).await,
        Command::Serve(a) => serve::run(&Config::load(&cli.config)?, a, cli.now).await,
        Command::Import(a) => import::run(a, &cli.config),
        Command::Fetch(a) => fetch::run(&Config::load(&cli.config)?, a).await,
        Command::Approve(a) => approve::run(&Config::load(&cli.config)?, a, now).await,
        Command::Hold(a) => hold::hold(&Config::load(&cli.config)?, a, now).await,
        Command::Release(a) => hold::release(&Config::load(&cli.config)?, a, now).await,
        Command::Subscribers(a) => reader::run(&Config::load(&cli.config)?, a, now).await,
        Command::Inbound(a) => inbound::run(&Config::load(&cli.config)?, a, now).await,
        Command::Backup(a) => backup::backup(&Config::load(&cli.config)?, a),
        Command::Restore(a) => backup::restore(&Config::load(&cli.config)?, a),
        Command::Admin(a) => admin::run(&Config::load(&cli.config)?, a).await,
    }
}

/// Prints `error` and its causes on standard error, each once.
pub fn print_error(error: &Error) {
    errln!("error: {error}");
    let mut last = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        let text = c.to_string();
        // Wrappers that show their source inline would print it twice.
        if !last.contains(&text) {
            errln!("  caused by: {text}");
        }
        last = text;
        cause = c.source();
    }
}

/// The exit code once everything is printed: a full disk behind `> file` turns
/// success into failure; a closed pipe (`| head`) is fine.
pub fn finish(code: u8) -> u8 {
    match output::stdout_error() {
        Some(e) if code == exit::OK => {
            errln!("error: cannot write to standard output: {e}");
            exit::FAILED
        }
        _ => code,
    }
}
