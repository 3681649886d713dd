//! The clock every time-dependent command reads: the wall clock, or one that
//! starts at `--now` and runs at normal speed from there.
//!
//! Owns the `--now` testing aid's meaning, once, for `run`, `serve` and the
//! other commands. It must not know what is scheduled.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

/// What the scheduler loop reads and sleeps on; tests inject their own.
pub(crate) trait Clock {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Waits `d` of this clock's time.
    fn sleep(&self, d: Duration) -> impl Future<Output = ()>;
}

/// The wall clock, shifted to start at `--now` when given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    base: Option<DateTime<Utc>>,
    started: Instant,
}

impl WallClock {
    /// Starts at `now` (`--now`), or is the plain wall clock for `None`.
    pub(crate) fn starting_at(now: Option<DateTime<Utc>>) -> Self {
        Self {
            base: now,
            started: Instant::now(),
        }
    }
}

impl Clock for WallClock {
    fn now(&self) -> DateTime<Utc> {
        match self.base {
            Some(b) => b + TimeDelta::from_std(self.started.elapsed()).unwrap_or(TimeDelta::zero()),
            None => Utc::now(),
        }
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(d)
    }
}
