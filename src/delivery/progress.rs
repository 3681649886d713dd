//! Progress of a run: a bar on a terminal, a line every 10 s otherwise.

use std::time::{Duration, Instant};

use crate::store::{Outcome, RecipientStatus};

/// A progress bar on a TTY, a log line every few seconds otherwise.
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    done: std::cell::Cell<u64>,
    failed: std::cell::Cell<u64>,
    last_log: std::cell::Cell<Instant>,
    started: Instant,
}

impl Progress {
    pub(super) fn new(total: u64, tty: bool) -> Self {
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} sent · {per_sec} · eta {eta} · {msg}",
            ) {
                b.set_style(style);
            }
            b
        });
        Self {
            bar,
            total,
            done: 0.into(),
            failed: 0.into(),
            last_log: Instant::now().into(),
            started: Instant::now(),
        }
    }

    pub(super) fn advance(&self, outcomes: &[Outcome]) {
        let n = outcomes.len() as u64;
        if n == 0 {
            return;
        }
        let failed = outcomes
            .iter()
            .filter(|o| matches!(o.status, RecipientStatus::Failed | RecipientStatus::Bounced))
            .count() as u64;
        self.done.set(self.done.get() + n);
        self.failed.set(self.failed.get() + failed);
        if let Some(b) = &self.bar {
            b.inc(n);
            b.set_message(format!("{} failed", self.failed.get()));
        } else if self.last_log.get().elapsed() >= Duration::from_secs(10) {
            self.last_log.set(Instant::now());
            let rate = self.done.get() as f64 / self.started.elapsed().as_secs_f64().max(0.001);
            crate::output::errln!(
                "progress: {}/{} done, {} failed, {:.0} msgs/s",
                self.done.get(),
                self.total,
                self.failed.get(),
                rate
            );
        }
    }

    pub(super) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
