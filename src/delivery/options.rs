//! How a run behaves ([`RunOptions`], [`Retry`]) and what it did ([`Summary`]).
//!
//! Plain data shared by the session that builds the options, the workers that
//! retry and the run loop that sums up. Must not depend on any of them.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::pause::Pause;

/// Retry timing.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts per recipient per run.
    pub max_attempts: u32,
    /// First delay.
    pub base: Duration,
}

impl Retry {
    /// The delay before attempt `attempt + 1`: doubling, capped at a minute, ±25% jitter.
    pub fn delay(&self, attempt: u32, salt: &str) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(Duration::from_secs(60));
        let r = RandomState::new().hash_one((salt, attempt)) % 1000;
        exp.mul_f64(0.75 + r as f64 / 2000.0)
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Delivered in this run.
    pub delivered: u64,
    /// Ended `failed` in this run.
    pub failed: u64,
    /// Ended `bounced` in this run.
    pub bounced: u64,
    /// Skipped because suppressed after the list was frozen.
    pub skipped: u64,
    /// Left `uncertain` and not resent (`--no-resend-uncertain`).
    pub uncertain_left: u64,
    /// Providers (or the relay) paused after consecutive sender-level
    /// refusals: their recipients were left pending for the next run.
    pub paused: Vec<Pause>,
    /// Stopped by a signal or a hold.
    pub interrupted: bool,
    /// Stopped because the issue was put on hold while it was being sent.
    pub held: bool,
    /// Stopped at a cap (`[delivery] max_per_hour`, `max_per_day`, the
    /// warm-up) with recipients left pending.
    pub quota: Option<QuotaStop>,
    /// What each relay carried in this run, and how often it was taken out
    /// of rotation (empty for the outbox).
    pub relays: Vec<RelayUse>,
    /// Seconds spent.
    pub seconds: f64,
}

/// A run that stopped at a cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaStop {
    /// Which cap, as the config names it (`delivery.max_per_hour` = 100).
    pub cap: String,
    /// When there is room again: rerun then (`run` does).
    pub until: DateTime<Utc>,
    /// Recipients left pending.
    pub left: u64,
}

/// One relay in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayUse {
    /// Its name (`name`, or `host:port`).
    pub name: String,
    /// Messages it accepted in this run.
    pub carried: u64,
    /// Times it was taken out of rotation in this run.
    pub taken_out: u32,
    /// Out of rotation when the run ended.
    pub out: bool,
}

/// The caps of `[delivery]`: at most `per_hour` messages in any 60 minutes
/// and `per_day` in any 24 hours (0: no cap), the day's cap lowered by the
/// warm-up step in force. Counted in the store, on the run's clock.
#[derive(Debug, Clone)]
pub struct QuotaLimits {
    /// `delivery.max_per_hour`; 0 = no cap.
    pub per_hour: u32,
    /// `delivery.max_per_day`; 0 = no cap.
    pub per_day: u32,
    /// `delivery.warmup`: (day, per_day) steps by increasing day.
    pub warmup: Vec<(u32, u32)>,
    /// `delivery.warmup_start`: the warm-up's day 1.
    pub warmup_start: Option<NaiveDate>,
    /// The schedule's timezone, in which warm-up days are counted.
    pub timezone: chrono_tz::Tz,
}

impl QuotaLimits {
    /// Whether any cap is set (if not, the store is never asked).
    pub fn any(&self) -> bool {
        self.per_hour > 0 || self.per_day > 0 || !self.warmup.is_empty()
    }
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Resend recipients left uncertain by a crash (at least once).
    pub resend_uncertain: bool,
    /// Parallel connections.
    pub concurrency: usize,
    /// Retry timing.
    pub retry: Retry,
    /// Messages per second, 0 = unlimited.
    pub rate_per_second: u32,
    /// The caps, counted in the store.
    pub quota: QuotaLimits,
    /// The command's clock now (`--now` moves it): the caps' windows and
    /// the warm-up's days are counted on it from here.
    pub now: DateTime<Utc>,
    /// Consecutive sender-level refusals from one provider (or the relay)
    /// that pause it for the rest of the run; 0 = never.
    pub provider_pause_after: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_with_jitter_and_cap() {
        let r = Retry {
            max_attempts: 5,
            base: Duration::from_millis(1000),
        };
        for (attempt, base_ms) in [
            (1u32, 1000u64),
            (2, 2000),
            (3, 4000),
            (7, 60_000),
            (30, 60_000),
        ] {
            let d = r.delay(attempt, "a@x").as_millis() as u64;
            assert!(
                d >= base_ms * 3 / 4 && d <= base_ms * 5 / 4,
                "attempt {attempt}: {d}"
            );
        }
    }
}
