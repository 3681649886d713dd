//! Which slot a command targets and which issue it features: a date's slot,
//! the next one not sent, the current one, the frozen selection or the
//! rotation, and a slot's state for `schedule` and `status`.
//!
//! Pure given a [`Snapshot`]: must not open the store itself.

use chrono::{DateTime, NaiveDate, Utc};

use super::PlanError;
use crate::config::Config;
use crate::content::Library;
use crate::content::issue::{self, Issue};
use crate::schedule::{Schedule, Slot};
use crate::store::{IssueStatus, Snapshot, StoreError};

/// The slot of `date`, or an error naming the next slots.
pub fn slot_for(schedule: &Schedule, date: NaiveDate) -> Result<Slot, PlanError> {
    schedule.slot_on(date).ok_or_else(|| {
        let from = date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or_else(Utc::now);
        let next: Vec<String> = schedule
            .slots_from(from)
            .take(2)
            .map(|s| s.date.to_string())
            .collect();
        PlanError::NotASlot {
            date,
            next: next.join(" and "),
        }
    })
}

/// The next issue: the earliest slot not fully sent whose time is at most
/// `grace` ago (so a slot being sent, or still due, comes first). What
/// `preview` shows.
pub fn next_slot(
    schedule: &Schedule,
    ledger: Option<&Snapshot>,
    now: DateTime<Utc>,
) -> Result<Slot, PlanError> {
    for slot in schedule.slots_from(now - schedule.grace()).take(1000) {
        if !is_sent(ledger, slot.date)? {
            return Ok(slot);
        }
    }
    Err(PlanError::NoSlot)
}

/// The current slot: the earliest whose time is at most `grace` ago, sent or
/// not. What `send` without `--date` delivers, so that repeating `send` never
/// runs ahead to later issues.
pub fn current_slot(schedule: &Schedule, now: DateTime<Utc>) -> Result<Slot, PlanError> {
    schedule
        .slots_from(now - schedule.grace())
        .next()
        .ok_or(PlanError::NoSlot)
}

/// The issue for `slot`: its frozen selection if the ledger has one (`true`),
/// else the rotation given the ledger's history (`false`).
pub fn choose<'a>(
    config: &Config,
    library: &'a Library,
    ledger: Option<&Snapshot>,
    slot: Slot,
) -> Result<(Issue<'a>, bool), PlanError> {
    if let Some(l) = ledger
        && let Some(record) = l.issue(slot.date)?
    {
        return Ok((issue::assemble(library, slot, record.selection)?, true));
    }
    let history = match ledger {
        Some(l) => l.history()?,
        None => Vec::new(),
    };
    let selection = issue::select(
        library,
        &history,
        slot.number,
        config.content.comparisons_per_issue,
    )?;
    Ok((issue::assemble(library, slot, selection)?, false))
}

/// True when the ledger records the issue of `date` as sent to everyone.
pub fn is_sent(ledger: Option<&Snapshot>, date: NaiveDate) -> Result<bool, StoreError> {
    Ok(match ledger {
        Some(l) => l
            .issue(date)?
            .is_some_and(|i| i.status == IssueStatus::Sent),
        None => false,
    })
}

/// A slot's state for `status` and `schedule`: sent / partial / due / missed / upcoming.
pub fn slot_state(
    schedule: &Schedule,
    slot: &Slot,
    status: Option<IssueStatus>,
    now: DateTime<Utc>,
) -> &'static str {
    match status {
        Some(IssueStatus::Sent) => "sent",
        Some(IssueStatus::Sending) => "partial",
        _ if slot.utc > now => "upcoming",
        _ if now < slot.utc + schedule.grace() => "due",
        _ => "missed",
    }
}
