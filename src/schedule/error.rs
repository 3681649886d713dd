//! The errors of the `[schedule]` config: each message names its key and value.
//!
//! Owns the messages only; parsing and checking are in `crontab.rs` and `mod.rs`.

use chrono::NaiveDate;

/// Errors from parsing the `[schedule]` config.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression is malformed or unsupported.
    #[error("cron expression `{expr}` {problem}")]
    Cron {
        /// The expression as written.
        expr: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The timezone is not an IANA name.
    #[error(
        "schedule.timezone `{0}` is not a known IANA timezone; use a name like `America/New_York`, `Europe/London` or `UTC`"
    )]
    Timezone(String),
    /// `every_weeks` is outside 1..=52.
    #[error("schedule.every_weeks `{0}` is out of range; use a whole number from 1 to 52")]
    EveryWeeks(u32),
    /// The anchor is not a `YYYY-MM-DD` date.
    #[error(
        "schedule.anchor `{0}` is not a valid date; write it as `YYYY-MM-DD`, e.g. `2026-12-01`"
    )]
    AnchorFormat(String),
    /// The anchor is outside the supported years.
    #[error("schedule.anchor `{0}` is out of range; pick a date from 1970-01-01 to 2099-12-31")]
    AnchorRange(String),
    /// The cron expression does not fire on the anchor date.
    #[error("schedule.anchor `{anchor}` is not a slot: {hint}")]
    AnchorNotSlot {
        /// The anchor date.
        anchor: NaiveDate,
        /// Where the expression does fire, and what to do.
        hint: String,
    },
    /// A duration string is malformed.
    #[error("duration `{value}` is invalid: {problem}")]
    Duration {
        /// The string as written.
        value: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The grace period is malformed or zero.
    #[error("schedule.grace `{value}` is invalid: {problem}")]
    Grace {
        /// The string as written.
        value: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}
