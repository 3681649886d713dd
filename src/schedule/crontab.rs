//! Crontab(5) expressions translated for the `cron` crate (day names, no
//! double firings, crontab's OR of the two day fields refused) and the grace
//! durations (`6h`, `2h30m`). Owns the syntax only; slots are in `mod.rs`.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::Duration;
use cron::TimeUnitSpec;

use super::error::ScheduleError;

/// The longest duration [`parse_duration`] accepts: 365 days, in seconds.
const MAX_DURATION_SECS: u64 = 365 * 86_400;

pub(super) const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
pub(super) const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// One crontab(5) field's rules.
pub(super) struct FieldKind {
    label: &'static str,
    min: u32,
    max: u32,
    /// The largest value `*` stands for (day-of-week: 6, as 7 repeats Sunday).
    star_max: u32,
    /// Three-letter names; `names[i]` is the value `min + i` (day-of-week: `0 + i`).
    names: &'static [&'static str],
    hint: &'static str,
}

pub(super) const MINUTE: FieldKind = FieldKind {
    label: "minute",
    min: 0,
    max: 59,
    star_max: 59,
    names: &[],
    hint: "0-59",
};
pub(super) const HOUR: FieldKind = FieldKind {
    label: "hour",
    min: 0,
    max: 23,
    star_max: 23,
    names: &[],
    hint: "0-23",
};
pub(super) const DAY_OF_MONTH: FieldKind = FieldKind {
    label: "day-of-month",
    min: 1,
    max: 31,
    star_max: 31,
    names: &[],
    hint: "1-31",
};
pub(super) const MONTH: FieldKind = FieldKind {
    label: "month",
    min: 1,
    max: 12,
    star_max: 12,
    names: &MONTH_NAMES,
    hint: "1-12 or JAN-DEC",
};
pub(super) const DAY_OF_WEEK: FieldKind = FieldKind {
    label: "day-of-week",
    min: 0,
    max: 7,
    star_max: 6,
    names: &DAY_NAMES,
    hint: "0-7 (0 and 7 are Sunday) or SUN-SAT",
};

impl FieldKind {
    /// Parses one value (number or name).
    pub(super) fn value(&self, s: &str) -> Result<u32, String> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<u32>() {
                Ok(v) if (self.min..=self.max).contains(&v) => Ok(v),
                _ => Err(format!(
                    "{} value `{s}` is out of range; use {}",
                    self.label, self.hint
                )),
            };
        }
        let position = self.names.iter().position(|n| n.eq_ignore_ascii_case(s));
        match position.and_then(|p| u32::try_from(p).ok()) {
            Some(p) => Ok(self.min + p),
            None if s.bytes().all(|b| b.is_ascii_alphabetic()) && !s.is_empty() => Err(format!(
                "unknown {} name `{s}`; use {}",
                self.label, self.hint
            )),
            None => Err(format!(
                "`{s}` is not a valid {} value; use {}",
                self.label, self.hint
            )),
        }
    }

    /// Expands a field (lists, ranges, steps) to its set of values.
    /// Day-of-week 7 is folded into 0 (Sunday).
    pub(super) fn parse(&self, text: &str) -> Result<BTreeSet<u32>, String> {
        let mut set = BTreeSet::new();
        for item in text.split(',') {
            if item.is_empty() {
                return Err(format!(
                    "{} field `{text}` has an empty list entry; separate values with single commas, e.g. `1,15`",
                    self.label
                ));
            }
            let (base, step) = match item.split_once('/') {
                Some((base, step)) => (base, Some(self.step(item, step)?)),
                None => (item, None),
            };
            let (lo, hi) = if base == "*" {
                (self.min, self.star_max)
            } else if let Some((a, b)) = base.split_once('-') {
                let lo = self.value(a)?;
                let mut hi = self.value(b)?;
                // A day-of-week range may end on the name `SUN` (= 7), e.g. `MON-SUN`.
                if self.label == DAY_OF_WEEK.label && hi == 0 && lo > 0 && !b.starts_with('0') {
                    hi = 7;
                }
                if lo > hi {
                    return Err(format!(
                        "{} range `{base}` runs backwards; write the smaller value first, e.g. `1-5`",
                        self.label
                    ));
                }
                (lo, hi)
            } else {
                if step.is_some() {
                    return Err(format!(
                        "{} step `{item}` needs `*` or a range before the `/`, e.g. `*/2` or `1-5/2`",
                        self.label
                    ));
                }
                let v = self.value(base)?;
                (v, v)
            };
            let step = step.unwrap_or(1);
            let mut v = lo;
            while v <= hi {
                set.insert(if self.label == DAY_OF_WEEK.label && v == 7 {
                    0
                } else {
                    v
                });
                match v.checked_add(step) {
                    Some(next) => v = next,
                    None => break,
                }
            }
        }
        Ok(set)
    }

    pub(super) fn step(&self, item: &str, step: &str) -> Result<u32, String> {
        let valid = !step.is_empty() && step.bytes().all(|b| b.is_ascii_digit());
        match step.parse::<u32>() {
            Ok(s) if valid && (1..=self.max).contains(&s) => Ok(s),
            _ => Err(format!(
                "{} step in `{item}` must be a whole number from 1 to {}",
                self.label, self.max
            )),
        }
    }
}

/// Translate a 5-field crontab(5) expression to the cron crate's 6-field form (seconds = 0).
///
/// Day-of-week is emitted as explicit names (`SUN,TUE`) or `*`, so the cron
/// crate's 1 = Sunday numbering can never misread it. Expressions that fire
/// more than once a day, or that restrict both day-of-month and day-of-week
/// (which crontab ORs but the cron crate ANDs), are rejected. `@daily`,
/// `@midnight`, `@weekly`, `@monthly`, `@yearly` and `@annually` are accepted.
pub fn translate_crontab(expr: &str) -> Result<String, ScheduleError> {
    translate(expr).map(|(expression, _)| expression)
}

/// [`translate_crontab`], also returning the parsed cron schedule.
pub(super) fn translate(expr: &str) -> Result<(String, cron::Schedule), ScheduleError> {
    let err = |problem: String| ScheduleError::Cron {
        expr: expr.to_string(),
        problem,
    };
    let trimmed = expr.trim();
    let body = if trimmed.starts_with('@') {
        match trimmed.to_ascii_lowercase().as_str() {
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@hourly" => {
                return Err(err(
                    "fires more than once a day; an issue is identified by its date, so give a single minute and a single hour, e.g. `0 9 * * TUE`".to_string(),
                ));
            }
            _ => {
                return Err(err(
                    "uses an unsupported shorthand; use `@daily`, `@weekly`, `@monthly`, `@yearly` or 5 fields like `0 9 * * TUE`".to_string(),
                ));
            }
        }
    } else {
        trimmed
    };

    let fields: Vec<&str> = body.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields[..] else {
        return Err(err(format!(
            "has {} fields; expected 5 (minute hour day-of-month month day-of-week), e.g. `0 9 * * TUE`; a seconds field is not accepted",
            fields.len()
        )));
    };
    let invalid = |problem: String| err(format!("is invalid: {problem}"));
    let minutes = MINUTE.parse(minute).map_err(invalid)?;
    let hours = HOUR.parse(hour).map_err(invalid)?;
    let days_of_month = DAY_OF_MONTH.parse(dom).map_err(invalid)?;
    let months = MONTH.parse(month).map_err(invalid)?;
    let days_of_week = DAY_OF_WEEK.parse(dow).map_err(invalid)?;

    if minutes.len() > 1 || hours.len() > 1 {
        let mut parts = Vec::new();
        if minutes.len() > 1 {
            parts.push(format!(
                "minute `{minute}` matches {} values",
                minutes.len()
            ));
        }
        if hours.len() > 1 {
            parts.push(format!("hour `{hour}` matches {} values", hours.len()));
        }
        return Err(err(format!(
            "fires more than once a day ({}); an issue is identified by its date, so give a single minute and a single hour, e.g. `0 9 * * TUE`",
            parts.join(" and ")
        )));
    }
    // crontab(5): a field is "restricted" unless it starts with `*`; when both
    // are restricted a day matching EITHER fires, but the cron crate requires BOTH.
    if !dom.starts_with('*') && !dow.starts_with('*') {
        return Err(err(format!(
            "restricts both day-of-month (`{dom}`) and day-of-week (`{dow}`); crontab fires when either matches, which this scheduler cannot express, so set one of them to `*`"
        )));
    }

    let dow_out = if days_of_week.len() == 7 {
        "*".to_string()
    } else {
        days_of_week
            .iter()
            .filter_map(|&d| DAY_NAMES.get(d as usize).copied())
            .collect::<Vec<_>>()
            .join(",")
    };
    let expression = format!("0 {minute} {hour} {dom} {month} {dow_out}");
    let schedule = cron::Schedule::from_str(&expression).map_err(|e| {
        err(format!(
            "was rejected by the scheduler ({e}); use plain crontab syntax such as `0 9 * * TUE`"
        ))
    })?;

    // Guard against any construct the cron crate reads differently.
    let faithful = schedule.seconds().iter().eq([0])
        && schedule.minutes().iter().eq(minutes.iter().copied())
        && schedule.hours().iter().eq(hours.iter().copied())
        && schedule
            .days_of_month()
            .iter()
            .eq(days_of_month.iter().copied())
        && schedule.months().iter().eq(months.iter().copied())
        && schedule
            .days_of_week()
            .iter()
            .eq(days_of_week.iter().map(|d| d + 1))
        && schedule.years().is_all();
    if !faithful {
        return Err(err(format!(
            "could not be translated faithfully (to `{expression}`); simplify it to numbers, names, `*`, ranges and lists"
        )));
    }
    Ok((expression, schedule))
}

// ---------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------

/// Parse a grace/duration string like "6h", "90m", "2h30m", "1d", "45s".
///
/// Units are `d`, `h`, `m`, `s`, each at most once and from largest to
/// smallest. Durations longer than 365 days are rejected.
pub fn parse_duration(s: &str) -> Result<Duration, ScheduleError> {
    parse_duration_inner(s).map_err(|problem| ScheduleError::Duration {
        value: s.to_string(),
        problem,
    })
}

pub(super) fn parse_duration_inner(s: &str) -> Result<Duration, String> {
    const EXAMPLES: &str = "e.g. `6h`, `90m`, `2h30m`, `1d` or `45s`";
    let too_long =
        || "it is longer than the maximum of 365 days; use a shorter duration".to_string();
    let t = s.trim();
    if t.is_empty() {
        return Err(format!(
            "it is empty; write a number and a unit, {EXAMPLES}"
        ));
    }
    if t.starts_with('-') {
        return Err("negative durations are not allowed; remove the `-`".to_string());
    }
    let mut total: u64 = 0;
    let mut last_rank: Option<u8> = None;
    let mut rest = t;
    while !rest.is_empty() {
        let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (digits, after) = rest.split_at(digits_len);
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        if digits.is_empty() {
            return Err(match after.chars().next() {
                _ if !unit.is_empty() => {
                    format!("unit `{unit}` has no number before it; write e.g. `6{unit}`")
                }
                Some(c) if c.is_whitespace() => {
                    format!("spaces are not allowed; write the parts together, {EXAMPLES}")
                }
                Some(c) => format!("unexpected character `{c}`; {EXAMPLES}"),
                None => format!("it is empty; write a number and a unit, {EXAMPLES}"),
            });
        }
        if unit.is_empty() {
            return Err(match after.chars().next() {
                None => {
                    format!("the number `{digits}` has no unit; add d, h, m or s, e.g. `{digits}h`")
                }
                Some(c) if c.is_whitespace() => {
                    format!("spaces are not allowed; write the parts together, {EXAMPLES}")
                }
                Some(c) => format!("unexpected character `{c}`; {EXAMPLES}"),
            });
        }
        let (rank, secs_per_unit) = match unit {
            "d" => (3, 86_400),
            "h" => (2, 3_600),
            "m" => (1, 60),
            "s" => (0, 1),
            _ => {
                return Err(format!(
                    "unknown unit `{unit}`; use d (days), h (hours), m (minutes) or s (seconds)"
                ));
            }
        };
        if last_rank.is_some_and(|last| rank >= last) {
            return Err(format!(
                "units must appear once each, largest first, e.g. `1d6h` or `2h30m`; `{unit}` is out of place"
            ));
        }
        last_rank = Some(rank);
        let amount: u64 = digits.parse().map_err(|_| too_long())?;
        total = amount
            .checked_mul(secs_per_unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(too_long)?;
        rest = after;
    }
    if total > MAX_DURATION_SECS {
        return Err(too_long());
    }
    i64::try_from(total)
        .ok()
        .and_then(Duration::try_seconds)
        .ok_or_else(too_long)
}
