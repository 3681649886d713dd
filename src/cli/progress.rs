//! How a delivery session looks on the console: the steps it reports, and
//! its progress as a bar on a terminal or a line every 10 s otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use super::output::errln;
use crate::delivery::Reporter;
use crate::diagnostic::Diagnostic;
use crate::store::{Outcome, RecipientStatus};

/// The console reporter for `send` and `run`.
pub(super) struct Console {
    tty: bool,
    /// Where messages go (`outbox`, or the relay's `host:port`), for JSON logs.
    relay: String,
    state: Mutex<State>,
}

struct State {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    done: u64,
    failed: u64,
    last_log: Instant,
    started: Instant,
}

impl Console {
    /// A bar when standard error is a terminal, log lines otherwise (JSON
    /// events with `--log-format json`).
    pub(super) fn new(relay: String) -> Self {
        Self {
            tty: std::io::stderr().is_terminal() && !super::log::json(),
            relay,
            state: Mutex::new(State {
                bar: None,
                total: 0,
                done: 0,
                failed: 0,
                last_log: Instant::now(),
                started: Instant::now(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Reporter for Console {
    fn frozen(&self, number: u32, date: NaiveDate, added: u64, skipped: &[Diagnostic]) {
        for d in skipped {
            errln!("{d}");
        }
        if super::log::json() {
            tracing::info!(target: "tipsheet", issue = number, slot = %date, relay = %self.relay, recipients = added, skipped = skipped.len(), "issue #{number} ({date}): {added} recipients frozen");
            return;
        }
        errln!("issue #{number} ({date}): {added} recipients frozen");
    }

    fn recovered(&self, uncertain: u64, resending: bool) {
        errln!(
            "{uncertain} recipient(s) were in flight when an earlier run stopped; {}",
            if resending {
                "sending them again (the server may already have them)"
            } else {
                "leaving them uncertain (--no-resend-uncertain)"
            }
        );
    }

    fn started(&self, total: u64) {
        let mut s = self.state();
        s.total = total;
        s.started = Instant::now();
        s.last_log = Instant::now();
        s.bar = self.tty.then(|| {
            let b = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} sent · {per_sec} · eta {eta} · {msg}",
            ) {
                b.set_style(style);
            }
            b
        });
    }

    fn advanced(&self, outcomes: &[Outcome]) {
        let n = outcomes.len() as u64;
        if n == 0 {
            return;
        }
        let failed = outcomes
            .iter()
            .filter(|o| matches!(o.status, RecipientStatus::Failed | RecipientStatus::Bounced))
            .count() as u64;
        let mut s = self.state();
        s.done += n;
        s.failed += failed;
        if let Some(b) = &s.bar {
            b.inc(n);
            b.set_message(format!("{} failed", s.failed));
        } else if s.last_log.elapsed() >= Duration::from_secs(10) {
            s.last_log = Instant::now();
            let rate = s.done as f64 / s.started.elapsed().as_secs_f64().max(0.001);
            if super::log::json() {
                tracing::info!(target: "tipsheet", relay = %self.relay, done = s.done, total = s.total, failed = s.failed, rate = rate.round(), "progress");
                return;
            }
            errln!(
                "progress: {}/{} done, {} failed, {:.0} msgs/s",
                s.done,
                s.total,
                s.failed,
                rate
            );
        }
    }

    fn finished(&self) {
        if let Some(b) = self.state().bar.take() {
            b.finish_and_clear();
        }
    }
}
