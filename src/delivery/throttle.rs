//! The pace: messages spaced evenly to `rate_per_second`. Caps over an hour
//! or a day are not a pace: they are counted in the store (`quota.rs`).

use std::time::{Duration, Instant};

/// Spaces messages evenly to a rate (messages per period); no limit when unset.
pub(super) struct Limiter {
    interval: Option<Duration>,
    next: Instant,
}

impl Limiter {
    pub(super) fn new(per_second: u32) -> Self {
        Self {
            interval: (per_second > 0).then(|| Duration::from_secs(1) / per_second),
            next: Instant::now(),
        }
    }

    pub(super) fn ready(&self) -> bool {
        self.until_ready().is_zero()
    }

    pub(super) fn until_ready(&self) -> Duration {
        match self.interval {
            Some(_) => self.next.saturating_duration_since(Instant::now()),
            None => Duration::ZERO,
        }
    }

    pub(super) fn take(&mut self) {
        if let Some(interval) = self.interval {
            self.next = self.next.max(Instant::now()) + interval;
        }
    }
}
