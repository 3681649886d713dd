//! What the run loop asks of the store to keep `[delivery]`'s caps: sends
//! counted per minute, reserved before they go out, so that every run, every
//! restart and every host of the shared store draw on one count.
//!
//! Owns the [`Quotas`] trait, its records and the arithmetic both engines
//! share ([`grant`], [`frees_at`]); the engines hold the SQL and make each
//! reservation atomic. Which caps apply (hour, day, warm-up) is the
//! caller's: the store counts, it does not decide.

use async_trait::async_trait;

use super::StoreError;

/// One cap: at most `cap` sends in any `minutes` minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The window's length in minutes (60 for an hour, 1440 for a day).
    pub minutes: u32,
    /// Sends allowed in it.
    pub cap: u64,
}

impl Window {
    /// The first minute counted in the window ending with `minute`. Counts
    /// are kept per whole minute, so the window takes in the minute that
    /// began exactly `minutes` ago as well: no span of `minutes` minutes is
    /// ever counted short, at the cost of waiting up to a minute longer.
    pub fn first_minute(&self, minute: i64) -> i64 {
        minute - i64::from(self.minutes)
    }
}

/// What a reservation got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// Sends granted now (and counted in this minute).
    pub granted: u64,
    /// When fewer were granted than asked: the window (its index in the
    /// request) that refused, and the first minute it has room again.
    pub blocked: Option<(usize, i64)>,
}

/// The quota side of the store.
#[async_trait]
pub trait Quotas: Send + Sync {
    /// Reserves up to `want` sends in `minute` (minutes since the Unix epoch,
    /// UTC) under every window of `windows` at once, atomically for every
    /// run and host sharing the store, and counts those granted.
    async fn reserve_sends(
        &self,
        minute: i64,
        want: u64,
        windows: &[Window],
    ) -> Result<Reserved, StoreError>;

    /// Gives back `count` sends reserved in `minute` and never handed out.
    async fn return_sends(&self, minute: i64, count: u64) -> Result<(), StoreError>;

    /// The sends counted in `window` ending with `minute`.
    async fn sends_within(&self, minute: i64, window: Window) -> Result<u64, StoreError>;
}

/// Counts older than this are of no window's concern and are deleted.
pub(crate) const KEEP_MINUTES: i64 = 2 * 1440 + 1;

/// What a reservation may grant given the counts in `buckets` (minute, sends;
/// ascending, none after `minute`): `want`, or the least room of any window.
/// Shared by both engines.
pub(crate) fn grant(
    minute: i64,
    want: u64,
    windows: &[Window],
    buckets: &[(i64, u64)],
) -> Reserved {
    let used: Vec<u64> = windows
        .iter()
        .map(|w| used_in(minute, *w, buckets))
        .collect();
    let granted = windows
        .iter()
        .zip(&used)
        .map(|(w, u)| w.cap.saturating_sub(*u))
        .fold(want, u64::min);
    let mut blocked: Option<(usize, i64)> = None;
    if granted < want {
        for (i, (w, u)) in windows.iter().zip(&used).enumerate() {
            let after = u + granted;
            if after < w.cap {
                continue;
            }
            // This grant is the newest count: older ones leave first.
            let at = frees_at(minute, *w, buckets, after + 1 - w.cap);
            // The window that frees last is the one to wait for.
            if blocked.is_none_or(|(_, b)| at > b) {
                blocked = Some((i, at));
            }
        }
    }
    Reserved { granted, blocked }
}

/// The sends in `window` ending with `minute`.
fn used_in(minute: i64, window: Window, buckets: &[(i64, u64)]) -> u64 {
    let first = window.first_minute(minute);
    buckets
        .iter()
        .filter(|(m, _)| *m >= first && *m <= minute)
        .map(|(_, n)| n)
        .sum()
}

/// The first minute at which `window` has room for one more send than now,
/// given that `need` sends (at least one) must leave it first: each minute's
/// count leaves the window `window.minutes + 1` minutes after it began.
pub(crate) fn frees_at(minute: i64, window: Window, buckets: &[(i64, u64)], need: u64) -> i64 {
    let first = window.first_minute(minute);
    let need = need.max(1);
    let mut left = 0;
    for &(m, n) in buckets.iter().filter(|(m, _)| *m >= first && *m <= minute) {
        left += n;
        if left >= need {
            return m + i64::from(window.minutes) + 1;
        }
    }
    // Nothing counted can free enough (a cap of 0 cannot be configured):
    // the window is full of this minute's own sends.
    minute + i64::from(window.minutes) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Window = Window {
        minutes: 60,
        cap: 100,
    };

    #[test]
    fn a_grant_is_the_least_room_of_every_window() {
        let day = Window {
            minutes: 1440,
            cap: 150,
        };
        // 60 sent two hours ago, 30 ten minutes ago.
        let buckets = [(880, 60), (990, 30)];
        let r = grant(1000, 50, &[HOUR, day], &buckets);
        // The hour has 70 left, the day 60.
        assert_eq!(r.granted, 50);
        assert_eq!(r.blocked, None);
        let r = grant(1000, 80, &[HOUR, day], &buckets);
        assert_eq!(r.granted, 60);
        // The day frees one when the 60 of minute 880 leave it.
        assert_eq!(r.blocked, Some((1, 880 + 1441)));
    }

    #[test]
    fn a_full_hour_frees_when_its_oldest_minute_leaves() {
        let buckets = [(940, 40), (970, 60)];
        let r = grant(1000, 10, &[HOUR], &buckets);
        assert_eq!(
            r,
            Reserved {
                granted: 0,
                blocked: Some((0, 1001))
            }
        );
        // The minute exactly an hour ago still counts; the one before does not.
        assert_eq!(grant(1000, 1, &[HOUR], &[(939, 100)]).granted, 1);
        assert_eq!(grant(1000, 1, &[HOUR], &[(940, 100)]).granted, 0);
        // Over the cap (a cap lowered since): enough must leave to make room.
        assert_eq!(frees_at(1000, HOUR, &[(941, 30), (950, 90)], 31), 1011);
    }
}
