//! Issue scheduling: turns the `[schedule]` config into issue slots.
//!
//! The config is a standard 5-field crontab(5) expression (`cron`), an IANA
//! timezone (`timezone`), a cadence in weeks (`every_weeks`), an anchor date
//! (`anchor`, the local date of issue #1) and a grace period (`grace`, how long
//! after its slot an issue may still be sent).
//!
//! * A **slot** is one firing of the cron expression, evaluated on the wall
//!   clock of the timezone, that falls on or after the anchor date and in a week
//!   that is a whole number of `every_weeks` cycles away from the anchor's week.
//!   Weeks start on Monday.
//! * An issue is identified by the local date of its slot, so the expression
//!   must fire at most once per day (a single minute and a single hour).
//! * Slot #1 is the anchor; each later slot is numbered one higher.
//!
//! Nothing here reads the clock: every time-dependent function takes "now" (or
//! a bound) as a parameter.
//!
//! # Daylight saving time
//!
//! Firings are computed on the local wall clock and only then mapped to real
//! instants, so each local date yields at most one slot:
//!
//! * **Fall-back** (a local time that happens twice): the slot is the *first*
//!   (earlier UTC) occurrence. 01:30 on 2027-11-07 in `America/New_York` is
//!   01:30 EDT = 05:30 UTC.
//! * **Spring-forward** (a local time that does not exist): the slot is the
//!   *first instant after the gap*, as Vixie cron does. 02:30 on 2027-03-14 in
//!   `America/New_York` becomes 03:00 EDT = 07:00 UTC. The slot keeps the
//!   cron's date.
//!
//! The `cron` crate on its own does something different: evaluated directly in
//! a timezone it fires twice at a fall-back and skips the day entirely at a
//! spring-forward. To avoid both, this module asks the `cron` crate for firings
//! on a UTC clock used as a stand-in for the naive local wall clock (UTC has no
//! gaps or repeats) and resolves each wall-clock time itself.
//!
//! # Limits
//!
//! The `cron` crate only knows the years 1970 to 2100, and searches stop 100
//! years after the anchor, so slot iterators end at whichever comes first.

pub(crate) mod clock;
mod crontab;
pub(crate) mod daemon;
mod error;

pub use crontab::{parse_duration, translate_crontab};
use crontab::{parse_duration_inner, translate};
pub(crate) use error::ScheduleError;

use std::collections::VecDeque;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc,
};
use chrono_tz::Tz;

/// How far after the anchor slots are searched for.
const SEARCH_YEARS: u32 = 100;
/// The first year the `cron` crate evaluates.
const MIN_ANCHOR_YEAR: i32 = 1970;
/// The last year accepted for an anchor (the `cron` crate stops after 2100).
const MAX_ANCHOR_YEAR: i32 = 2099;

/// One issue slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The anchor slot is #1, the next slot #2, and so on.
    pub number: u32,
    /// Local date of the firing: identifies the issue.
    pub date: NaiveDate,
    /// The firing in the schedule's timezone (after DST resolution).
    pub local: DateTime<Tz>,
    /// The same instant in UTC.
    pub utc: DateTime<Utc>,
}

/// A parsed, validated `[schedule]` config.
#[derive(Debug, Clone)]
pub struct Schedule {
    crontab: String,
    expression: String,
    cron: cron::Schedule,
    tz: Tz,
    every_weeks: u32,
    anchor: NaiveDate,
    grace: Duration,
    /// The last local date searched for slots.
    horizon: NaiveDate,
}

impl Schedule {
    /// Parses and validates a `[schedule]` config.
    ///
    /// `cron`: 5-field crontab expression e.g. "0 9 * * TUE" or "0 9 * * 2"; `timezone`: IANA name;
    /// `every_weeks`: 1..=52; `anchor`: "YYYY-MM-DD" string; `grace`: e.g. "6h", "90m", "1d", "30s", "2h30m".
    ///
    /// The anchor must be a date the expression fires on (in `timezone`).
    pub fn new(
        cron: &str,
        timezone: &str,
        every_weeks: u32,
        anchor: &str,
        grace: &str,
    ) -> Result<Self, ScheduleError> {
        let (expression, cron_schedule) = translate(cron)?;
        let tz = Tz::from_str(timezone.trim())
            .map_err(|_| ScheduleError::Timezone(timezone.to_string()))?;
        if !(1..=52).contains(&every_weeks) {
            return Err(ScheduleError::EveryWeeks(every_weeks));
        }
        let anchor_date = parse_anchor(anchor)?;
        let grace_duration =
            parse_duration_inner(grace).map_err(|problem| ScheduleError::Grace {
                value: grace.to_string(),
                problem,
            })?;
        if grace_duration <= Duration::zero() {
            return Err(ScheduleError::Grace {
                value: grace.to_string(),
                problem: "it must be longer than zero; use e.g. `6h`".to_string(),
            });
        }
        let last_cron_day = NaiveDate::from_ymd_opt(2100, 12, 31).unwrap_or(NaiveDate::MAX);
        let horizon = anchor_date
            .checked_add_months(Months::new(SEARCH_YEARS * 12))
            .map_or(last_cron_day, |d| d.min(last_cron_day));
        let schedule = Schedule {
            crontab: cron.trim().to_string(),
            expression,
            cron: cron_schedule,
            tz,
            every_weeks,
            anchor: anchor_date,
            grace: grace_duration,
            horizon,
        };
        schedule.check_anchor()?;
        Ok(schedule)
    }

    /// The timezone the cron expression is evaluated in.
    pub(crate) fn timezone(&self) -> Tz {
        self.tz
    }

    /// How long after its slot an issue may still be sent.
    pub(crate) fn grace(&self) -> Duration {
        self.grace
    }

    /// The local date of slot #1.
    pub(crate) fn anchor(&self) -> NaiveDate {
        self.anchor
    }

    /// The cadence in weeks (1..=52).
    pub(crate) fn every_weeks(&self) -> u32 {
        self.every_weeks
    }

    /// The 5-field crontab expression as configured (trimmed).
    #[cfg(test)]
    pub(crate) fn crontab(&self) -> &str {
        &self.crontab
    }

    /// The 6-field expression handed to the cron crate (for display/tests).
    pub(crate) fn cron_expression(&self) -> &str {
        &self.expression
    }

    /// Slots with utc >= `from`, in order (lazy iterator; never ends).
    ///
    /// In practice it ends 100 years after the anchor or after 2100, whichever
    /// comes first (see the module docs).
    pub fn slots_from(&self, from: DateTime<Utc>) -> impl Iterator<Item = Slot> + '_ {
        self.all_slots().skip_while(move |slot| slot.utc < from)
    }

    /// The slot whose local date is `date`, or None if `date` is not a slot date.
    pub fn slot_on(&self, date: NaiveDate) -> Option<Slot> {
        if date < self.anchor || date > self.horizon {
            return None;
        }
        self.all_slots()
            .find(|slot| slot.date >= date)
            .filter(|slot| slot.date == date)
    }

    /// Up to `n` most recent slots with utc < `before`, oldest first.
    pub(crate) fn slots_before(&self, before: DateTime<Utc>, n: usize) -> Vec<Slot> {
        if n == 0 {
            return Vec::new();
        }
        let mut recent = VecDeque::with_capacity(n.min(64));
        for slot in self.all_slots().take_while(|slot| slot.utc < before) {
            if recent.len() == n {
                recent.pop_front();
            }
            recent.push_back(slot);
        }
        recent.into()
    }

    /// The slot that is due at `now`: slot.utc <= now < slot.utc + grace (the latest such), if any.
    pub(crate) fn due(&self, now: DateTime<Utc>) -> Option<Slot> {
        let latest = self.all_slots().take_while(|slot| slot.utc <= now).last()?;
        match latest.utc.checked_add_signed(self.grace) {
            Some(deadline) if now >= deadline => None,
            _ => Some(latest),
        }
    }

    /// Every slot from the anchor on, numbered.
    fn all_slots(&self) -> SlotIter<'_> {
        SlotIter {
            schedule: self,
            cursor: start_of(self.anchor).checked_sub_signed(Duration::seconds(1)),
            number: 0,
        }
    }

    /// The first wall-clock firing strictly after `after` (ignoring the week cycle).
    fn next_firing(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        self.cron
            .after(&Utc.from_utc_datetime(&after))
            .next()
            .map(|t| t.naive_utc())
    }

    /// The last wall-clock firing strictly before `before` (ignoring the week cycle).
    fn prev_firing(&self, before: NaiveDateTime) -> Option<NaiveDateTime> {
        self.cron
            .after(&Utc.from_utc_datetime(&before))
            .next_back()
            .map(|t| t.naive_utc())
    }

    /// Whether `date` lies in a week of the cycle that starts at the anchor's week.
    fn in_cycle(&self, date: NaiveDate) -> bool {
        let diff = week_index(date) - week_index(self.anchor);
        diff.rem_euclid(i64::from(self.every_weeks)) == 0
    }

    /// The Monday starting the first in-cycle week after the week of `date`.
    fn next_cycle_monday(&self, date: NaiveDate) -> Option<NaiveDate> {
        let week = week_index(date);
        let every = i64::from(self.every_weeks);
        let offset = (week - week_index(self.anchor)).rem_euclid(every);
        monday_of_week(week.checked_add(every - offset)?)
    }

    /// Errors unless the cron expression fires on the anchor date.
    fn check_anchor(&self) -> Result<(), ScheduleError> {
        let day_start = start_of(self.anchor);
        let fires = day_start
            .checked_sub_signed(Duration::seconds(1))
            .and_then(|t| self.next_firing(t))
            .is_some_and(|t| t.date() == self.anchor);
        if fires {
            return Ok(());
        }
        let before = self.prev_firing(day_start).map(|t| t.date());
        let after = self
            .anchor
            .succ_opt()
            .map(start_of)
            .and_then(|t| t.checked_sub_signed(Duration::seconds(1)))
            .and_then(|t| self.next_firing(t))
            .map(|t| t.date());
        let cron = &self.crontab;
        let hint = match (before, after) {
            (Some(b), Some(a)) => {
                format!("`{cron}` fires on {b} and {a} near it; pick one of those")
            }
            (Some(d), None) | (None, Some(d)) => {
                format!("`{cron}` fires on {d} near it; pick that date")
            }
            (None, None) => format!(
                "`{cron}` never fires between 1970 and 2100; check its day-of-month and month fields"
            ),
        };
        Err(ScheduleError::AnchorNotSlot {
            anchor: self.anchor,
            hint,
        })
    }
}

/// Iterates over all slots from the anchor, numbering them.
struct SlotIter<'a> {
    schedule: &'a Schedule,
    /// Wall-clock time after which to look for the next firing; `None` when done.
    cursor: Option<NaiveDateTime>,
    number: u32,
}

impl Iterator for SlotIter<'_> {
    type Item = Slot;

    fn next(&mut self) -> Option<Slot> {
        loop {
            let cursor = self.cursor?;
            let schedule = self.schedule;
            let firing = match schedule.next_firing(cursor) {
                Some(f) if f.date() <= schedule.horizon => f,
                _ => {
                    self.cursor = None;
                    return None;
                }
            };
            let date = firing.date();
            if !schedule.in_cycle(date) {
                // Jump straight to the next week of the cycle.
                self.cursor = schedule
                    .next_cycle_monday(date)
                    .map(start_of)
                    .and_then(|t| t.checked_sub_signed(Duration::seconds(1)));
                continue;
            }
            self.cursor = Some(firing);
            let Some(local) = resolve_local(schedule.tz, firing) else {
                continue;
            };
            let Some(number) = self.number.checked_add(1) else {
                self.cursor = None;
                return None;
            };
            self.number = number;
            return Some(Slot {
                number,
                date,
                utc: local.with_timezone(&Utc),
                local,
            });
        }
    }
}

/// Maps a wall-clock time to an instant in `tz`: a repeated time resolves to
/// its first occurrence, a skipped time to the first instant after the gap.
fn resolve_local(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Tz>> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(a, b) => Some(if a <= b { a } else { b }),
        LocalResult::None => gap_end(tz, wall),
    }
}

/// The first instant whose local time is at or after `wall`, for a `wall`
/// inside a spring-forward gap: that is the instant the gap ends.
fn gap_end(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Tz>> {
    // UTC offsets lie within -12h..+14h, so the instant the gap ends is
    // within 27 hours of `wall` read as if it were UTC.
    const WINDOW_SECS: i64 = 27 * 3600;
    let local_at =
        |secs: i64| DateTime::from_timestamp(secs, 0).map(|u| u.with_timezone(&tz).naive_local());
    let target = wall.and_utc().timestamp();
    let mut lo = target.checked_sub(WINDOW_SECS)?;
    let mut hi = target.checked_add(WINDOW_SECS)?;
    if local_at(lo)? >= wall || local_at(hi)? < wall {
        return None;
    }
    // Invariant: local_at(lo) < wall <= local_at(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_at(mid)? >= wall {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).map(|u| u.with_timezone(&tz))
}

/// Midnight at the start of `date`.
fn start_of(date: NaiveDate) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN)
}

/// Weeks (starting Monday) since the week of 0001-01-01, which was a Monday.
fn week_index(date: NaiveDate) -> i64 {
    (i64::from(date.num_days_from_ce()) - 1).div_euclid(7)
}

/// The Monday of the week with the given [`week_index`].
fn monday_of_week(week: i64) -> Option<NaiveDate> {
    let days = week.checked_mul(7)?.checked_add(1)?;
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(days).ok()?)
}

/// Parses a strict `YYYY-MM-DD` anchor date.
fn parse_anchor(s: &str) -> Result<NaiveDate, ScheduleError> {
    let t = s.trim();
    let shape_ok = t.len() == 10
        && t.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let date = if shape_ok {
        NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()
    } else {
        None
    };
    let date = date.ok_or_else(|| ScheduleError::AnchorFormat(s.to_string()))?;
    if !(MIN_ANCHOR_YEAR..=MAX_ANCHOR_YEAR).contains(&date.year()) {
        return Err(ScheduleError::AnchorRange(s.to_string()));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn sched(cron: &str, tz: &str, every: u32, anchor: &str) -> Schedule {
        Schedule::new(cron, tz, every, anchor, "6h").unwrap()
    }

    #[test]
    fn week_index_starts_on_monday() {
        // 0001-01-01 was a Monday, so week boundaries fall on Mondays.
        assert_eq!(date("0001-01-01").weekday(), chrono::Weekday::Mon);
        let cases = [
            ("2026-11-30", "2026-12-06", true),  // Mon and Sun: same week
            ("2026-12-06", "2026-12-07", false), // Sun and next Mon
            ("1969-12-29", "1970-01-04", true),
        ];
        for (a, b, same) in cases {
            assert_eq!(week_index(date(a)) == week_index(date(b)), same, "{a} {b}");
        }
        let w = week_index(date("2026-12-03"));
        assert_eq!(monday_of_week(w), Some(date("2026-11-30")));
    }

    #[test]
    fn translate_crontab_ok() {
        let cases = [
            ("0 9 * * 2", "0 0 9 * * TUE"),
            ("0 9 * * 0", "0 0 9 * * SUN"),
            ("0 9 * * 7", "0 0 9 * * SUN"),
            ("0 9 * * TUE", "0 0 9 * * TUE"),
            ("0 9 * * tue", "0 0 9 * * TUE"),
            ("0 9 * * Sun,Tue", "0 0 9 * * SUN,TUE"),
            ("0 9 * * 2,0", "0 0 9 * * SUN,TUE"),
            ("0 9 * * 1-5", "0 0 9 * * MON,TUE,WED,THU,FRI"),
            ("0 9 * * MON-FRI", "0 0 9 * * MON,TUE,WED,THU,FRI"),
            ("0 9 * * 5-7", "0 0 9 * * SUN,FRI,SAT"),
            ("0 9 * * FRI-SUN", "0 0 9 * * SUN,FRI,SAT"),
            ("0 9 * * SUN-SUN", "0 0 9 * * SUN"),
            ("0 9 * * SUN-TUE", "0 0 9 * * SUN,MON,TUE"),
            ("0 9 * * MON-SUN", "0 0 9 * * *"),
            ("0 9 * * */2", "0 0 9 * * SUN,TUE,THU,SAT"),
            ("0 9 * * 1-5/2", "0 0 9 * * MON,WED,FRI"),
            ("0 9 * * MON-FRI/2", "0 0 9 * * MON,WED,FRI"),
            ("0 9 * * 1,3-4", "0 0 9 * * MON,WED,THU"),
            ("0 9 * * 0-7", "0 0 9 * * *"),
            ("0 9 * * *", "0 0 9 * * *"),
            ("30 7 1 * *", "0 30 7 1 * *"),
            ("0 9 */2 * MON", "0 0 9 */2 * MON"),
            ("0 9 * JAN-MAR TUE", "0 0 9 * JAN-MAR TUE"),
            ("0 9 * 1,7 2", "0 0 9 * 1,7 TUE"),
            ("  0   9 *\t* TUE ", "0 0 9 * * TUE"),
            ("@weekly", "0 0 0 * * SUN"),
            ("@daily", "0 0 0 * * *"),
            ("@monthly", "0 0 0 1 * *"),
        ];
        for (input, want) in cases {
            match translate_crontab(input) {
                Ok(got) => assert_eq!(got, want, "input {input:?}"),
                Err(e) => panic!("input {input:?}: {e}"),
            }
        }
    }

    #[test]
    fn translated_weekdays_fire_on_the_right_day() {
        // Evaluate with the cron crate itself: the week of Mon 2026-11-30.
        let cases = [
            ("0 9 * * 2", vec!["2026-12-01"]),
            ("0 9 * * 0", vec!["2026-12-06"]),
            ("0 9 * * 7", vec!["2026-12-06"]),
            (
                "0 9 * * 5-7",
                vec!["2026-12-04", "2026-12-05", "2026-12-06"],
            ),
            (
                "0 9 * * 1-5/2",
                vec!["2026-11-30", "2026-12-02", "2026-12-04"],
            ),
        ];
        for (input, want) in cases {
            let expr = translate_crontab(input).unwrap();
            let cron = cron::Schedule::from_str(&expr).unwrap();
            let got: Vec<String> = cron
                .after(&utc(2026, 11, 29, 23, 59, 59))
                .take_while(|t| *t < utc(2026, 12, 7, 0, 0, 0))
                .map(|t| t.date_naive().to_string())
                .collect();
            assert_eq!(got, want, "input {input:?}");
        }
    }

    #[test]
    fn translate_crontab_errors() {
        let cases = [
            ("0 9 * *", "has 4 fields; expected 5"),
            ("0 0 9 * * TUE", "has 6 fields; expected 5"),
            ("0 0 9 * * TUE", "seconds field is not accepted"),
            ("", "has 0 fields"),
            (
                "0 9 * * 8",
                "day-of-week value `8` is out of range; use 0-7",
            ),
            (
                "60 9 * * TUE",
                "minute value `60` is out of range; use 0-59",
            ),
            ("0 24 * * TUE", "hour value `24` is out of range"),
            ("0 9 32 * *", "day-of-month value `32` is out of range"),
            ("0 9 * 13 *", "month value `13` is out of range"),
            (
                "0 9 * * 99999999999",
                "day-of-week value `99999999999` is out of range",
            ),
            ("0 9 * * FOO", "unknown day-of-week name `FOO`"),
            ("0 9 * * ?", "`?` is not a valid day-of-week value"),
            ("0 9 * * TUE/2", "needs `*` or a range before the `/`"),
            (
                "0 9 * * */0",
                "step in `*/0` must be a whole number from 1 to 7",
            ),
            ("0 9 * * 5-1", "range `5-1` runs backwards"),
            ("0 9 * * 5-0", "range `5-0` runs backwards"),
            ("0 9 * * SAT-MON", "range `SAT-MON` runs backwards"),
            ("0 9 * * 1,,2", "has an empty list entry"),
            (
                "0 9 1 * TUE",
                "restricts both day-of-month (`1`) and day-of-week (`TUE`)",
            ),
            ("0 9 1-31 * 0-7", "restricts both day-of-month"),
            (
                "*/10 * * * *",
                "fires more than once a day (minute `*/10` matches 6 values and hour `*` matches 24 values)",
            ),
            (
                "0 9,17 * * *",
                "fires more than once a day (hour `9,17` matches 2 values)",
            ),
            (
                "0,30 9 * * TUE",
                "fires more than once a day (minute `0,30` matches 2 values)",
            ),
            ("@hourly", "fires more than once a day"),
            ("@reboot", "unsupported shorthand"),
        ];
        for (input, want) in cases {
            match translate_crontab(input) {
                Ok(got) => panic!("input {input:?} translated to {got:?}, wanted an error"),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(
                        msg.starts_with(&format!("cron expression `{input}` ")),
                        "{msg}"
                    );
                    assert!(msg.contains(want), "input {input:?}: {msg}");
                }
            }
        }
    }

    #[test]
    fn slots_across_2027_dst_changes() {
        // "0 9 * * TUE" every 2 weeks from 2026-12-01: slot n is 14(n-1) days later.
        // (timezone, slot date, slot number, UTC hour)
        let cases = [
            ("America/New_York", "2026-12-01", 1, 14),
            ("America/New_York", "2027-03-09", 8, 14), // EST, before 2027-03-14
            ("America/New_York", "2027-03-23", 9, 13), // EDT
            ("America/New_York", "2027-11-02", 25, 13), // EDT, before 2027-11-07
            ("America/New_York", "2027-11-16", 26, 14), // EST
            ("Europe/London", "2026-12-01", 1, 9),
            ("Europe/London", "2027-03-23", 9, 9), // GMT, before 2027-03-28
            ("Europe/London", "2027-04-06", 10, 8), // BST
            ("Europe/London", "2027-10-19", 24, 8), // BST, before 2027-10-31
            ("Europe/London", "2027-11-02", 25, 9), // GMT
        ];
        for (tz, day, number, hour) in cases {
            let s = sched("0 9 * * TUE", tz, 2, "2026-12-01");
            let d = date(day);
            let slot = s
                .slot_on(d)
                .unwrap_or_else(|| panic!("{tz} {day}: no slot"));
            let want_utc = utc(d.year(), d.month(), d.day(), hour, 0, 0);
            assert_eq!(slot.number, number, "{tz} {day}");
            assert_eq!(slot.date, d, "{tz} {day}");
            assert_eq!(slot.utc, want_utc, "{tz} {day}");
            assert_eq!(
                slot.local,
                want_utc.with_timezone(&s.timezone()),
                "{tz} {day}"
            );
            assert_eq!(slot.local.naive_local(), d.and_hms_opt(9, 0, 0).unwrap());
        }
    }

    #[test]
    fn slots_from_across_us_spring_forward() {
        let s = sched("0 9 * * TUE", "America/New_York", 2, "2026-12-01");
        let got: Vec<(u32, DateTime<Utc>)> = s
            .slots_from(utc(2027, 3, 1, 0, 0, 0))
            .take(3)
            .map(|slot| (slot.number, slot.utc))
            .collect();
        let want = vec![
            (8, utc(2027, 3, 9, 14, 0, 0)),
            (9, utc(2027, 3, 23, 13, 0, 0)),
            (10, utc(2027, 4, 6, 13, 0, 0)),
        ];
        assert_eq!(got, want);
        // `from` equal to a slot includes it.
        let first = s.slots_from(utc(2027, 3, 9, 14, 0, 0)).next().unwrap();
        assert_eq!(first.number, 8);
        // `from` before the anchor starts at the anchor.
        let first = s.slots_from(utc(2000, 1, 1, 0, 0, 0)).next().unwrap();
        assert_eq!((first.number, first.date), (1, date("2026-12-01")));
    }

    #[test]
    fn every_weeks_cadence() {
        let cases = [
            (
                1,
                [
                    "2026-12-01",
                    "2026-12-08",
                    "2026-12-15",
                    "2026-12-22",
                    "2026-12-29",
                ],
            ),
            (
                2,
                [
                    "2026-12-01",
                    "2026-12-15",
                    "2026-12-29",
                    "2027-01-12",
                    "2027-01-26",
                ],
            ),
            (
                4,
                [
                    "2026-12-01",
                    "2026-12-29",
                    "2027-01-26",
                    "2027-02-23",
                    "2027-03-23",
                ],
            ),
        ];
        for (every, want) in cases {
            let s = sched("0 9 * * TUE", "UTC", every, "2026-12-01");
            let got: Vec<(u32, NaiveDate)> = s
                .slots_from(utc(2026, 1, 1, 0, 0, 0))
                .take(5)
                .map(|slot| (slot.number, slot.date))
                .collect();
            let want: Vec<(u32, NaiveDate)> = (1..).zip(want.iter().map(|d| date(d))).collect();
            assert_eq!(got, want, "every_weeks {every}");
        }
    }

    #[test]
    fn weeks_start_on_monday() {
        // Sunday 2026-12-06 is in the same (Monday-based) week as the anchor.
        let s = sched("0 9 * * SUN,TUE", "UTC", 2, "2026-12-01");
        let got: Vec<NaiveDate> = s
            .slots_from(utc(2026, 1, 1, 0, 0, 0))
            .take(4)
            .map(|slot| slot.date)
            .collect();
        let want = ["2026-12-01", "2026-12-06", "2026-12-15", "2026-12-20"].map(date);
        assert_eq!(got, want);
    }

    #[test]
    fn anchor_must_be_a_slot() {
        let cases = [
            (
                "0 9 * * TUE",
                "2026-12-02",
                "schedule.anchor `2026-12-02` is not a slot: `0 9 * * TUE` fires on 2026-12-01 and 2026-12-08 near it; pick one of those",
            ),
            (
                "0 9 * * 2",
                "2026-11-30",
                "schedule.anchor `2026-11-30` is not a slot: `0 9 * * 2` fires on 2026-11-24 and 2026-12-01 near it; pick one of those",
            ),
            (
                "0 9 30 2 *",
                "2026-12-01",
                "schedule.anchor `2026-12-01` is not a slot: `0 9 30 2 *` never fires between 1970 and 2100; check its day-of-month and month fields",
            ),
        ];
        for (cron, anchor, want) in cases {
            match Schedule::new(cron, "America/New_York", 2, anchor, "6h") {
                Ok(_) => panic!("{cron} {anchor}: accepted"),
                Err(e) => assert_eq!(e.to_string(), want),
            }
        }
    }

    #[test]
    fn new_rejects_bad_config() {
        let cases = [
            (
                ("0 9 * * TUE", "Mars/Base", 2, "2026-12-01", "6h"),
                "schedule.timezone `Mars/Base`",
            ),
            (
                ("0 9 * * TUE", "UTC", 0, "2026-12-01", "6h"),
                "schedule.every_weeks `0` is out of range",
            ),
            (
                ("0 9 * * TUE", "UTC", 53, "2026-12-01", "6h"),
                "schedule.every_weeks `53` is out of range",
            ),
            (
                ("0 9 * * TUE", "UTC", 2, "2026-13-01", "6h"),
                "schedule.anchor `2026-13-01` is not a valid date; write it as `YYYY-MM-DD`",
            ),
            (
                ("0 9 * * TUE", "UTC", 2, "12/01/2026", "6h"),
                "schedule.anchor `12/01/2026` is not a valid date",
            ),
            (
                ("0 9 * * TUE", "UTC", 2, "2026-1-1", "6h"),
                "schedule.anchor `2026-1-1` is not a valid date",
            ),
            (
                ("0 9 * * TUE", "UTC", 2, "1960-01-05", "6h"),
                "schedule.anchor `1960-01-05` is out of range",
            ),
            (
                ("0 9 * * TUE", "UTC", 2, "2026-12-01", "0s"),
                "schedule.grace `0s` is invalid: it must be longer than zero",
            ),
            (
                ("0 9 * * TUE", "UTC", 2, "2026-12-01", "6"),
                "schedule.grace `6` is invalid: the number `6` has no unit",
            ),
            (
                ("0 9 * * 8", "UTC", 2, "2026-12-01", "6h"),
                "cron expression `0 9 * * 8` is invalid",
            ),
        ];
        for ((cron, tz, every, anchor, grace), want) in cases {
            match Schedule::new(cron, tz, every, anchor, grace) {
                Ok(_) => panic!("accepted {cron:?} {tz:?} {every} {anchor:?} {grace:?}"),
                Err(e) => assert!(e.to_string().starts_with(want), "{e}"),
            }
        }
    }

    #[test]
    fn accessors() {
        let s = Schedule::new("0 9 * * 2", "America/New_York", 2, "2026-12-01", "2h30m").unwrap();
        assert_eq!(s.timezone(), chrono_tz::America::New_York);
        assert_eq!(s.grace(), Duration::minutes(150));
        assert_eq!(s.anchor(), date("2026-12-01"));
        assert_eq!(s.every_weeks(), 2);
        assert_eq!(s.crontab(), "0 9 * * 2");
        assert_eq!(s.cron_expression(), "0 0 9 * * TUE");
    }

    #[test]
    fn us_fall_back_gives_one_slot() {
        // 01:30 happens twice on 2027-11-07 in New York; the first (EDT) wins.
        let cases = [
            (
                "30 1 * * SUN",
                "2027-10-31",
                [
                    ("2027-10-31", utc(2027, 10, 31, 5, 30, 0)),
                    ("2027-11-07", utc(2027, 11, 7, 5, 30, 0)),
                    ("2027-11-14", utc(2027, 11, 14, 6, 30, 0)),
                ],
            ),
            (
                "30 1 * * *",
                "2027-11-06",
                [
                    ("2027-11-06", utc(2027, 11, 6, 5, 30, 0)),
                    ("2027-11-07", utc(2027, 11, 7, 5, 30, 0)),
                    ("2027-11-08", utc(2027, 11, 8, 6, 30, 0)),
                ],
            ),
        ];
        for (cron, anchor, want) in cases {
            let s = sched(cron, "America/New_York", 1, anchor);
            let got: Vec<(NaiveDate, DateTime<Utc>)> = s
                .slots_from(utc(2027, 1, 1, 0, 0, 0))
                .take(3)
                .map(|slot| (slot.date, slot.utc))
                .collect();
            let want: Vec<_> = want.iter().map(|&(d, u)| (date(d), u)).collect();
            assert_eq!(got, want, "{cron}");
        }
        // The raw cron crate would fire twice here; this is what we guard against.
        let raw = cron::Schedule::from_str("0 30 1 7 11 *").unwrap();
        let start = chrono_tz::America::New_York
            .with_ymd_and_hms(2027, 11, 6, 12, 0, 0)
            .unwrap();
        let firings: Vec<_> = raw.after(&start).take(2).collect();
        assert_eq!(firings[0].date_naive(), firings[1].date_naive());
    }

    #[test]
    fn us_spring_forward_gives_one_slot() {
        // 02:30 does not exist on 2027-03-14 in New York: the slot moves to 03:00 EDT.
        let s = sched("30 2 * * *", "America/New_York", 1, "2027-03-13");
        let got: Vec<(NaiveDate, DateTime<Utc>)> = s
            .slots_from(utc(2027, 1, 1, 0, 0, 0))
            .take(3)
            .map(|slot| (slot.date, slot.utc))
            .collect();
        let want = vec![
            (date("2027-03-13"), utc(2027, 3, 13, 7, 30, 0)),
            (date("2027-03-14"), utc(2027, 3, 14, 7, 0, 0)),
            (date("2027-03-15"), utc(2027, 3, 15, 6, 30, 0)),
        ];
        assert_eq!(got, want);
        let slot = s.slot_on(date("2027-03-14")).unwrap();
        assert_eq!(slot.number, 2);
        assert_eq!(
            slot.local.naive_local(),
            date("2027-03-14").and_hms_opt(3, 0, 0).unwrap()
        );

        // Weekly on the spring-forward Sunday itself.
        let s = sched("30 2 * * SUN", "America/New_York", 1, "2027-03-07");
        let dates: Vec<(NaiveDate, DateTime<Utc>)> = s
            .slots_from(utc(2027, 1, 1, 0, 0, 0))
            .take(3)
            .map(|slot| (slot.date, slot.utc))
            .collect();
        assert_eq!(
            dates,
            vec![
                (date("2027-03-07"), utc(2027, 3, 7, 7, 30, 0)),
                (date("2027-03-14"), utc(2027, 3, 14, 7, 0, 0)),
                (date("2027-03-21"), utc(2027, 3, 21, 6, 30, 0)),
            ]
        );
    }

    #[test]
    fn slot_on_and_numbering() {
        let s = sched("0 9 * * TUE", "America/New_York", 2, "2026-12-01");
        let cases = [
            ("2026-12-01", Some(1)), // anchor
            ("2026-12-15", Some(2)), // two weeks later
            ("2026-12-29", Some(3)),
            ("2026-12-08", None),     // off week
            ("2026-12-02", None),     // cron does not fire
            ("2026-11-17", None),     // on-cycle but before the anchor
            ("2029-11-20", None),     // off week
            ("2029-11-27", Some(79)), // 78 cycles = 1092 days later
            ("9999-12-28", None),     // beyond the search horizon
        ];
        for (day, want) in cases {
            let got = s.slot_on(date(day)).map(|slot| slot.number);
            assert_eq!(got, want, "{day}");
        }
        assert_eq!(
            date("2026-12-01") + Duration::days(1092),
            date("2029-11-27")
        );
    }

    #[test]
    fn due_window() {
        // Slot #1 is 2026-12-01 14:00 UTC, grace 6h.
        let s = sched("0 9 * * TUE", "America/New_York", 2, "2026-12-01");
        let cases = [
            (utc(2026, 11, 1, 0, 0, 0), None),
            (utc(2026, 12, 1, 13, 59, 0), None),
            (utc(2026, 12, 1, 14, 0, 0), Some(1)),
            (utc(2026, 12, 1, 19, 59, 59), Some(1)),
            (utc(2026, 12, 1, 20, 0, 0), None),
            (utc(2026, 12, 8, 14, 0, 0), None), // off week
            (utc(2026, 12, 15, 14, 0, 0), Some(2)),
            (utc(2027, 3, 23, 13, 0, 0), Some(9)), // EDT
            (utc(2027, 3, 23, 12, 59, 59), None),
        ];
        for (now, want) in cases {
            assert_eq!(s.due(now).map(|slot| slot.number), want, "{now}");
        }
    }

    #[test]
    fn due_picks_latest_when_grace_overlaps() {
        let s = Schedule::new("0 9 * * *", "UTC", 1, "2026-12-01", "2d").unwrap();
        let got = s.due(utc(2026, 12, 2, 10, 0, 0)).map(|slot| slot.number);
        assert_eq!(got, Some(2));
    }

    #[test]
    fn slots_before_table() {
        let s = sched("0 9 * * TUE", "America/New_York", 2, "2026-12-01");
        let third = utc(2026, 12, 29, 14, 0, 0);
        let cases = [
            (third, 5, vec![1, 2]),
            (third, 1, vec![2]),
            (third + Duration::seconds(1), 2, vec![2, 3]),
            (third, 0, vec![]),
            (utc(2026, 12, 1, 14, 0, 0), 3, vec![]), // strictly before the anchor slot
            (utc(2020, 1, 1, 0, 0, 0), 3, vec![]),
        ];
        for (before, n, want) in cases {
            let got: Vec<u32> = s
                .slots_before(before, n)
                .iter()
                .map(|slot| slot.number)
                .collect();
            assert_eq!(got, want, "{before} n={n}");
        }
    }

    #[test]
    fn far_dates_do_not_panic() {
        let s = sched("0 9 * * TUE", "America/New_York", 2, "2026-12-01");
        assert_eq!(s.slots_from(DateTime::<Utc>::MAX_UTC).next(), None);
        assert_eq!(s.due(DateTime::<Utc>::MIN_UTC), None);
        assert_eq!(s.slot_on(NaiveDate::MAX), None);
        assert_eq!(s.slot_on(NaiveDate::MIN), None);
        let last = s.slots_before(DateTime::<Utc>::MAX_UTC, 1);
        assert_eq!(last.len(), 1);
        assert!(last[0].date <= date("2100-12-31"));
        assert!(s.due(DateTime::<Utc>::MAX_UTC).is_none());
        // Anchor near the end of the cron crate's range: Thu 2099-12-31 to Sun
        // 2100-01-03, then Mon 2100-12-27 to Fri 2100-12-31 (52 weeks later).
        let s = sched("0 9 * * *", "UTC", 52, "2099-12-31");
        let dates: Vec<NaiveDate> = s
            .slots_from(utc(2000, 1, 1, 0, 0, 0))
            .map(|x| x.date)
            .collect();
        assert_eq!(dates.len(), 9);
        assert_eq!(dates[3], date("2100-01-03"));
        assert_eq!(dates[4], date("2100-12-27"));
        assert_eq!(dates[8], date("2100-12-31"));
    }

    #[test]
    fn parse_duration_ok() {
        let cases = [
            ("6h", Duration::hours(6)),
            ("90m", Duration::minutes(90)),
            ("1d", Duration::days(1)),
            ("30s", Duration::seconds(30)),
            ("45s", Duration::seconds(45)),
            ("2h30m", Duration::minutes(150)),
            ("1d6h", Duration::hours(30)),
            ("1h0m5s", Duration::seconds(3605)),
            ("0s", Duration::zero()),
            (" 6h ", Duration::hours(6)),
            ("365d", Duration::days(365)),
        ];
        for (input, want) in cases {
            match parse_duration(input) {
                Ok(got) => assert_eq!(got, want, "{input:?}"),
                Err(e) => panic!("{input:?}: {e}"),
            }
        }
    }

    #[test]
    fn parse_duration_errors() {
        let cases = [
            ("", "it is empty"),
            ("   ", "it is empty"),
            (
                "6",
                "the number `6` has no unit; add d, h, m or s, e.g. `6h`",
            ),
            ("h", "unit `h` has no number before it"),
            ("-1h", "negative durations are not allowed"),
            ("99999999999h", "longer than the maximum of 365 days"),
            (
                "18446744073709551616s",
                "longer than the maximum of 365 days",
            ),
            ("366d", "longer than the maximum of 365 days"),
            ("6x", "unknown unit `x`"),
            ("6min", "unknown unit `min`"),
            ("6H", "unknown unit `H`"),
            ("30m2h", "largest first"),
            ("6h6h", "largest first"),
            ("2h 30m", "spaces are not allowed"),
            ("1.5h", "unexpected character `.`"),
            ("6h 30m", "spaces are not allowed"),
            ("6 h", "spaces are not allowed"),
        ];
        for (input, want) in cases {
            match parse_duration(input) {
                Ok(got) => panic!("{input:?} parsed as {got}"),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(
                        msg.starts_with(&format!("duration `{input}` is invalid: ")),
                        "{msg}"
                    );
                    assert!(msg.contains(want), "{input:?}: {msg}");
                }
            }
        }
    }
}
