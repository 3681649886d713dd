//! Sends a cap stopped, as the schedulers see them: which issues wait for
//! a cap (and whether they are held), and what `send --if-due` sends now.
//!
//! Reads only: the session keeps the continue times, the schedulers act on
//! them. An issue started in time and stopped by a cap is continued at the
//! time the store keeps for it, past its grace, whichever scheduler runs.

use chrono::{DateTime, Utc};

use super::error::PlanError;
use crate::schedule::{Schedule, Slot};
use crate::store::{IssueStatus, Store};

/// A send a cap stopped with readers pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Capped {
    /// The issue's slot.
    pub(crate) slot: Slot,
    /// When the cap has room again.
    pub(crate) at: DateTime<Utc>,
    /// Whether the issue is on hold (then nothing continues it).
    pub(crate) held: bool,
}

/// The issues a cap stopped, oldest first, each with whether it is held
/// (an issue whose date the schedule no longer has cannot be sent by slot,
/// and is left out).
pub(crate) async fn capped(store: &Store, schedule: &Schedule) -> Result<Vec<Capped>, PlanError> {
    let mut out = Vec::new();
    for (date, at) in store.capped().await? {
        let Some(slot) = schedule.slot_on(date) else {
            continue;
        };
        let held = store.hold_of(date).await?.is_some();
        out.push(Capped { slot, at, held });
    }
    Ok(out)
}

/// What `send --if-due` sends at `now`, from the store (if there is one
/// yet): see [`pick`]; a slot the ledger has sent is nothing to do. Reads
/// no counts, so that a tick with nothing to do stays cheap.
pub(crate) async fn if_due(
    store: Option<&Store>,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Result<Option<Slot>, PlanError> {
    let Some(store) = store else {
        return Ok(schedule.due(now));
    };
    let Some(slot) = pick(schedule, &capped(store, schedule).await?, now) else {
        return Ok(None);
    };
    let sent = store
        .issue(slot.date)
        .await?
        .is_some_and(|i| i.status == IssueStatus::Sent);
    Ok((!sent).then_some(slot))
}

/// The oldest issue a cap stopped whose time has come and that is not held
/// (readers get issues in order, as `run` sends them), else the slot due
/// now unless it waits for a cap; `None`: nothing to do.
fn pick(schedule: &Schedule, capped: &[Capped], now: DateTime<Utc>) -> Option<Slot> {
    if let Some(c) = capped.iter().find(|c| !c.held && c.at <= now) {
        return Some(c.slot.clone());
    }
    schedule
        .due(now)
        .filter(|slot| !capped.iter().any(|c| c.slot.date == slot.date))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn schedule() -> Schedule {
        // Tuesdays 09:00 UTC from 2026-12-01, grace 6h.
        Schedule::new("0 9 * * TUE", "UTC", 1, "2026-12-01", "6h").unwrap()
    }

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap()
    }

    fn stopped(s: &Schedule, day: u32, until: DateTime<Utc>, held: bool) -> Capped {
        Capped {
            slot: s.slots_from(at(day, 0)).next().unwrap(),
            at: until,
            held,
        }
    }

    #[test]
    fn a_capped_issue_goes_first_once_its_time_has_come_and_never_while_held() {
        let s = schedule();
        let due = |capped: &[Capped], now| pick(&s, capped, now).map(|slot| slot.date.to_string());
        // No cap stop: the slot in its window, nothing outside it.
        assert_eq!(due(&[], at(1, 9)).as_deref(), Some("2026-12-01"));
        assert_eq!(due(&[], at(1, 16)), None);
        // Stopped at the slot until tomorrow: nothing before then, within
        // grace or past it; then it is continued, far past its grace.
        let one = [stopped(&s, 1, at(2, 9), false)];
        assert_eq!(due(&one, at(1, 10)), None);
        assert_eq!(due(&one, at(1, 20)), None);
        assert_eq!(due(&one, at(2, 9)).as_deref(), Some("2026-12-01"));
        assert_eq!(due(&one, at(5, 0)).as_deref(), Some("2026-12-01"));
        // Held: not continued, and its own slot is not sent either.
        let held = [stopped(&s, 1, at(2, 9), true)];
        assert_eq!(due(&held, at(1, 10)), None);
        assert_eq!(due(&held, at(3, 9)), None);
        // The older of two goes first; a held older one lets the next go.
        let two = [
            stopped(&s, 1, at(8, 9), false),
            stopped(&s, 8, at(8, 10), false),
        ];
        assert_eq!(due(&two, at(8, 11)).as_deref(), Some("2026-12-01"));
        let two = [
            stopped(&s, 1, at(8, 9), true),
            stopped(&s, 8, at(8, 10), false),
        ];
        assert_eq!(due(&two, at(8, 11)).as_deref(), Some("2026-12-08"));
        // A capped issue still waiting does not keep a newer slot waiting.
        let one = [stopped(&s, 1, at(9, 9), false)];
        assert_eq!(due(&one, at(8, 9)).as_deref(), Some("2026-12-08"));
    }
}
