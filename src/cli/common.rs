//! What several subcommands share: the runtime and the signer they build, how
//! they learn to stop, and the few lines they print alike.
//!
//! Owns these helpers only; it must not know any one subcommand.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{NaiveDate, Utc};

use super::output::{errln, outln};
use crate::config::Config;
use crate::error::Error;
use crate::mail::token::Signer;
use crate::plan;

/// A `YYYY-MM-DD` flag value.
pub(super) fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date; write it as YYYY-MM-DD"))
}

/// The unsubscribe signer, printing the development-secret warning unless `quiet`.
pub(super) fn signer(config: &Config, quiet: bool) -> Result<Signer, Error> {
    signer_for(config, plan::Signing::Preview, quiet)
}

/// [`signer`] for `signing`: refused when the secret is too weak for it.
pub(super) fn signer_for(
    config: &Config,
    signing: plan::Signing<'_>,
    quiet: bool,
) -> Result<Signer, Error> {
    let (signer, warning) = plan::signer_for(config, signing)?;
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
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .build()
        .map_err(Error::Runtime)
}

/// Resolves on SIGINT or SIGTERM: how `send`, `run` and `serve` learn to stop.
pub(crate) async fn shutdown_signal() {
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
pub(super) fn watch_signals(stop: Arc<AtomicBool>, wake: Option<Arc<tokio::sync::Notify>>) {
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.store(true, Ordering::SeqCst);
        if let Some(w) = wake {
            w.notify_waiters();
        }
    });
}

/// A timestamped line on standard output, flushed (the daemon's log); with
/// `--log-format json`, an event on standard error instead.
pub(super) fn log_line(msg: &str) {
    if super::log::json() {
        tracing::info!(target: "tipsheet", "{}", super::log::mask(msg));
        return;
    }
    outln!("{} {msg}", Utc::now().format("%Y-%m-%dT%H:%M:%SZ"));
}

/// Where messages go, as logs name it: `outbox`, or the relay's `host:port`.
pub(super) fn relay(config: &Config) -> String {
    match config.delivery.transport {
        crate::config::TransportKind::Outbox => "outbox".into(),
        crate::config::TransportKind::Smtp => format!("{}:{}", config.smtp.host, config.smtp.port),
    }
}

/// "3 sent, 1 failed" for the ledger's counts, or "no recipients".
pub(super) fn count_parts(counts: &crate::store::Counts) -> String {
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
pub(super) fn list_counts(c: &crate::list::ListCounts) -> String {
    format!(
        "{} active, {} suppressed, {} invalid rows skipped, {} duplicates",
        c.active, c.suppressed, c.invalid, c.duplicates
    )
}
