//! `[delivery]`'s caps inside one run: which caps are in force now (the
//! hour's, the day's, the warm-up step's), and the [`Allowance`] the run
//! loop draws on, reserved from the store a few sends at a time just before
//! they go out.
//!
//! Owns turning the caps into the store's [`Window`]s and a refusal into
//! "wait a moment" or "stop until then". Must not pace (that is
//! `rate_per_second`'s limiter), touch the wire or count anything itself:
//! the store counts, for every run and host at once.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::options::QuotaLimits;
use crate::schedule::clock::{Clock, WallClock};
use crate::store::{Store, StoreError, Window};

/// A cap that frees room within this long is waited for inside the run;
/// a longer wait stops the run, to be continued then.
const WAIT_IN_RUN: TimeDelta = TimeDelta::seconds(60);

/// One cap in force, and how the config names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cap {
    pub(super) window: Window,
    pub(super) what: String,
}

/// The caps in force at `now`: the hour's and the day's, the day's lowered
/// by the warm-up step of today (in the schedule's timezone).
pub(super) fn caps(limits: &QuotaLimits, now: DateTime<Utc>) -> Vec<Cap> {
    let mut caps = Vec::new();
    if limits.per_hour > 0 {
        caps.push(Cap {
            window: Window {
                minutes: 60,
                cap: u64::from(limits.per_hour),
            },
            what: format!("`delivery.max_per_hour` = {}", limits.per_hour),
        });
    }
    let day = |cap: u32, what: String| Cap {
        window: Window {
            minutes: 1440,
            cap: u64::from(cap),
        },
        what,
    };
    match warmup_step(limits, now) {
        Some((n, per_day)) if limits.per_day == 0 || per_day < limits.per_day => caps.push(day(
            per_day,
            format!("the warm-up's cap on day {n} (`delivery.warmup`) = {per_day} a day"),
        )),
        _ if limits.per_day > 0 => caps.push(day(
            limits.per_day,
            format!("`delivery.max_per_day` = {}", limits.per_day),
        )),
        _ => {}
    }
    caps
}

/// The caps in force at `now` as the store counts them, each named by its
/// window (`hour`, `day`), for `/metrics`.
pub(crate) fn caps_in_force(
    limits: &QuotaLimits,
    now: DateTime<Utc>,
) -> Vec<(&'static str, Window)> {
    caps(limits, now)
        .into_iter()
        .map(|c| {
            let name = if c.window.minutes == 60 {
                "hour"
            } else {
                "day"
            };
            (name, c.window)
        })
        .collect()
}

/// The minute the store counts `t` in.
pub(crate) fn store_minute(t: DateTime<Utc>) -> i64 {
    minute_of(t)
}

/// The warm-up's day at `now` (day 1 = `warmup_start`) and the daily cap of
/// the last step whose day has come; before the first step's day, the first
/// step's cap.
fn warmup_step(limits: &QuotaLimits, now: DateTime<Utc>) -> Option<(i64, u32)> {
    let start = limits.warmup_start?;
    let first = limits.warmup.first()?;
    let today = now.with_timezone(&limits.timezone).date_naive();
    let day = (today - start).num_days() + 1;
    let step = limits
        .warmup
        .iter()
        .rev()
        .find(|(d, _)| i64::from(*d) <= day)
        .unwrap_or(first);
    Some((day, step.1))
}

/// Minutes since the Unix epoch (UTC), as the store counts them.
fn minute_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

/// The sends this run may still hand out, reserved from the store, and why
/// it may not when it may not.
pub(super) struct Allowance {
    limits: QuotaLimits,
    clock: WallClock,
    /// Reserved and not yet handed out, counted in `minute`.
    left: u64,
    minute: i64,
    /// A cap frees room soon: no reservation is tried before then.
    retry_at: Option<DateTime<Utc>>,
    /// A cap stopped the run: which, and when it has room again.
    stopped: Option<(String, DateTime<Utc>)>,
    /// The minute each handed-out send was reserved in, by recipient key,
    /// until its end is known (only while a cap is in force).
    held: HashMap<String, i64>,
    /// Sends handed out that never reached the relay (it could not be
    /// reached, or refused everything), by the minute they were reserved
    /// in: given back at the end, as the relay did not count them either.
    unsent: BTreeMap<i64, u64>,
}

impl Allowance {
    /// The caps of `limits`, counted on a clock that reads `now` at the start.
    pub(super) fn new(limits: QuotaLimits, now: DateTime<Utc>) -> Self {
        Self {
            limits,
            clock: WallClock::starting_at(Some(now)),
            left: 0,
            minute: 0,
            retry_at: None,
            stopped: None,
            held: HashMap::new(),
            unsent: BTreeMap::new(),
        }
    }

    /// Whether one more message may be taken now. When nothing is left
    /// reserved in this minute, reserves up to `want` more first: sends are
    /// counted in the minute they go out, never ahead of it.
    pub(super) async fn ready(&mut self, store: &Store, want: usize) -> Result<bool, StoreError> {
        if !self.limits.any() {
            return Ok(true);
        }
        if self.stopped.is_some() {
            return Ok(false);
        }
        let now = self.clock.now();
        let minute = minute_of(now);
        if self.left > 0 {
            if minute == self.minute {
                return Ok(true);
            }
            store.return_sends(self.minute, self.left).await?;
            self.left = 0;
        }
        if self.retry_at.is_some_and(|t| now < t) {
            return Ok(false);
        }
        self.retry_at = None;
        let caps = caps(&self.limits, now);
        let windows: Vec<Window> = caps.iter().map(|c| c.window).collect();
        let r = store
            .reserve_sends(minute, want.max(1) as u64, &windows)
            .await?;
        self.minute = minute;
        self.left = r.granted;
        if r.granted > 0 {
            return Ok(true);
        }
        let (i, free) = r.blocked.unwrap_or((0, minute + 1));
        let until = DateTime::from_timestamp(free * 60, 0).unwrap_or(now);
        if until - now <= WAIT_IN_RUN {
            self.retry_at = Some(until.max(now + TimeDelta::seconds(1)));
        } else {
            let what = caps.get(i).map(|c| c.what.clone()).unwrap_or_default();
            self.stopped = Some((what, until));
        }
        Ok(false)
    }

    /// One reserved send was handed out, for the recipient `key`.
    pub(super) fn take(&mut self, key: &str) {
        self.left = self.left.saturating_sub(1);
        if self.limits.any() {
            self.held.insert(key.to_string(), self.minute);
        }
    }

    /// The send for `key` reached the relay (delivered, or refused by it):
    /// it stays counted.
    pub(super) fn reached(&mut self, key: &str) {
        self.held.remove(key);
    }

    /// The send for `key` never reached the relay: it is given back at the
    /// end, in the minute it was reserved in.
    pub(super) fn never_sent(&mut self, key: &str) {
        if let Some(minute) = self.held.remove(key) {
            *self.unsent.entry(minute).or_default() += 1;
        }
    }

    /// How long until a reservation is worth trying again: zero unless a cap
    /// frees room soon; at most a second, so that a stop is seen.
    pub(super) fn until_ready(&self) -> Duration {
        self.retry_at
            .and_then(|t| (t - self.clock.now()).to_std().ok())
            .unwrap_or_default()
            .min(Duration::from_secs(1))
    }

    /// Whether a cap stopped the run.
    pub(super) fn stopped(&self) -> bool {
        self.stopped.is_some()
    }

    /// Gives back what was reserved and not handed out, and what was
    /// handed out and never reached the relay; the cap that stopped the
    /// run, if one did, and when it has room again. A send whose end is not
    /// known (in flight when the store was lost) stays counted.
    pub(super) async fn finish(
        self,
        store: &Store,
    ) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        if self.left > 0 {
            store.return_sends(self.minute, self.left).await?;
        }
        for (minute, n) in self.unsent {
            store.return_sends(minute, n).await?;
        }
        Ok(self.stopped)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;

    fn limits(per_hour: u32, per_day: u32, warmup: &[(u32, u32)]) -> QuotaLimits {
        QuotaLimits {
            per_hour,
            per_day,
            warmup: warmup.to_vec(),
            warmup_start: NaiveDate::from_ymd_opt(2026, 12, 1),
            timezone: chrono_tz::America::New_York,
        }
    }

    fn day_cap(l: &QuotaLimits, now: DateTime<Utc>) -> Option<(u64, String)> {
        caps(l, now)
            .into_iter()
            .find(|c| c.window.minutes == 1440)
            .map(|c| (c.window.cap, c.what))
    }

    #[test]
    fn the_warmup_step_of_the_local_day_lowers_the_daily_cap() {
        let l = limits(0, 500, &[(1, 50), (3, 200), (7, 1000)]);
        let at = |d, h| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap();
        // 2026-12-01 03:00 UTC is still November 30 in New York: before day 1.
        assert_eq!(day_cap(&l, at(1, 3)).unwrap().0, 50);
        assert_eq!(day_cap(&l, at(2, 12)).unwrap().0, 50);
        let (cap, what) = day_cap(&l, at(3, 12)).unwrap();
        assert_eq!(cap, 200);
        assert!(what.contains("day 3"), "{what}");
        // Day 7's step is above max_per_day: the day's own cap holds.
        let (cap, what) = day_cap(&l, at(20, 12)).unwrap();
        assert_eq!(cap, 500);
        assert_eq!(what, "`delivery.max_per_day` = 500");
        assert_eq!(caps(&limits(100, 0, &[]), at(2, 0)).len(), 1);
        assert!(caps(&limits(0, 0, &[]), at(2, 0)).is_empty());
    }
}
