//! The command line: clap definitions and printing, one file per subcommand.
//!
//! Owns the interface (commands, flags, what they print) and nothing else:
//! each command calls one library function (planning in [`crate::plan`], the
//! delivery session in [`crate::delivery::session`], the scheduler loop in
//! [`crate::schedule::daemon`], the server in [`crate::web`]) and prints the
//! typed result. No SQL, no SMTP and no file-format parsing here; exit codes
//! come from [`crate::error`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::error::{Error, Outcome, exit};
use crate::mail::token::Signer;
use crate::plan;

mod check;
mod import;
mod inbound;
pub mod output;
mod preview;
mod privacy;
mod progress;
mod run;
mod schedule;
mod send;
mod serve;
mod status;
mod store;
pub mod subscribers;

use output::{errln, outln};

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
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 instant like 2026-12-01T14:00:00Z ({e})"))
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date; write it as YYYY-MM-DD"))
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate config, content and subscribers.
    Check,
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
    /// One reader's data: show it, or forget it (erasure on request).
    Subscribers(privacy::SubscribersArgs),
    /// Read bounces, complaints and mailed unsubscribes (files, `-`, or `--maildir`).
    Inbound(inbound::InboundArgs),
}

/// Runs the parsed command line on the one runtime the command line owns:
/// everything below it is async.
pub fn run(cli: Cli) -> Result<Outcome, Error> {
    let rt = match cli.command {
        // The server answers many clients at once.
        Command::Serve(_) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?,
        _ => runtime()?,
    };
    rt.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> Result<Outcome, Error> {
    let now = cli.now.unwrap_or_else(Utc::now);
    match &cli.command {
        Command::Check => check::run(&cli.config, now).await,
        Command::Preview(a) => preview::run(&Config::load(&cli.config)?, a, now).await,
        Command::Send(a) => send::run(&Config::load(&cli.config)?, a, now).await,
        Command::Status(a) => status::run(&Config::load(&cli.config)?, a, now).await,
        Command::Schedule(a) => schedule::run(&Config::load(&cli.config)?, a, now).await,
        Command::Run => run::run(&Config::load(&cli.config)?, cli.now).await,
        Command::Serve(a) => serve::run(&Config::load(&cli.config)?, a, cli.now).await,
        Command::Import(a) => import::run(a, &cli.config),
        Command::Subscribers(a) => privacy::run(&Config::load(&cli.config)?, a, now).await,
        Command::Inbound(a) => inbound::run(&Config::load(&cli.config)?, a, now).await,
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

/// The unsubscribe signer, printing the development-secret warning unless `quiet`.
fn signer(config: &Config, quiet: bool) -> Result<Signer, Error> {
    let (signer, warning) = plan::signer(config)?;
    if let Some(w) = warning
        && !quiet
    {
        errln!("{w}");
    }
    Ok(signer)
}

/// One thread drives every connection: the per-message work is small, and
/// waking threads across cores for each SMTP reply cost more than it saved
/// (about 0.65× smtp-source on two cores, against about 0.9× on one thread).
/// DKIM signing still runs on the blocking pool, one thread per core: with a
/// thread per connection, eight RSA signatures time-sliced on two cores sent
/// about 13% slower (more CPU a signature, and the connections' thread
/// crowded out).
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .build()
        .map_err(Error::Runtime)
}

/// Resolves on SIGINT or SIGTERM: how `send`, `run` and `serve` learn to stop.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Sets `stop` (and wakes `wake`) on SIGINT or SIGTERM.
fn watch_signals(stop: Arc<AtomicBool>, wake: Option<Arc<tokio::sync::Notify>>) {
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.store(true, Ordering::SeqCst);
        if let Some(w) = wake {
            w.notify_waiters();
        }
    });
}

/// A timestamped line on standard output, flushed (the daemon's log).
fn log_line(msg: &str) {
    outln!("{} {msg}", Utc::now().format("%Y-%m-%dT%H:%M:%SZ"));
}

/// "3 sent, 1 failed" for the ledger's counts, or "no recipients".
fn count_parts(counts: &crate::store::Counts) -> String {
    let parts: Vec<String> = counts
        .by_status
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    if parts.is_empty() {
        "no recipients".into()
    } else {
        parts.join(", ")
    }
}

/// "Recipients: 3 active, …" (preview) and "recipients: …" (dry run).
fn list_counts(c: &crate::list::ListCounts) -> String {
    format!(
        "{} active, {} suppressed, {} invalid rows skipped, {} duplicates",
        c.active, c.suppressed, c.invalid, c.duplicates
    )
}
