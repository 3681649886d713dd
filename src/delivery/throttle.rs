//! Rate limits: messages spaced evenly per second or per hour.

use std::time::{Duration, Instant};

/// Spaces messages evenly to a rate (messages per period); no limit when unset.
pub(super) struct Limiter {
    interval: Option<Duration>,
    next: Instant,
}

impl Limiter {
    pub(super) fn new(per_second: u32) -> Self {
        Self::every(Duration::from_secs(1), per_second)
    }

    pub(super) fn per_hour(per_hour: u32) -> Self {
        Self::every(Duration::from_secs(3600), per_hour)
    }

    pub(super) fn every(period: Duration, count: u32) -> Self {
        Self {
            interval: (count > 0).then(|| period / count),
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
