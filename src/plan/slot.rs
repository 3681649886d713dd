//! Which slot a command targets and which issue it features: a date's slot,
//! the next one not sent, the current one, the frozen selection or the
//! rotation, and a slot's state for `schedule` and `status`.
//!
//! Pure given a [`Snapshot`]: must not open the store itself.

use chrono::{DateTime, NaiveDate, Utc};

use super::error::PlanError;
use crate::config::Config;
use crate::content::Library;
use crate::content::issue::{self, Issue, PastIssue};
use crate::schedule::{Schedule, Slot};
use crate::store::{IssueStatus, Snapshot, StoreError};

/// The slot of `date`, or an error naming the next slots.
pub(crate) fn slot_for(schedule: &Schedule, date: NaiveDate) -> Result<Slot, PlanError> {
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
pub(crate) fn next_slot(
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
pub(crate) fn current_slot(schedule: &Schedule, now: DateTime<Utc>) -> Result<Slot, PlanError> {
    schedule
        .slots_from(now - schedule.grace())
        .next()
        .ok_or(PlanError::NoSlot)
}

/// The issue for `slot`: its frozen selection if the ledger has one (`true`),
/// else the rotation given the ledger's history (`false`).
pub(crate) fn choose<'a>(
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
    Ok((rotate(config, library, &history, slot)?, false))
}

/// The issue the rotation picks for `slot` given `history` (what `choose`
/// does for a slot the ledger has not recorded, and what `approve
/// --reassemble` does again, leaving the slot's own record out).
pub(crate) fn rotate<'a>(
    config: &Config,
    library: &'a Library,
    history: &[PastIssue],
    slot: Slot,
) -> Result<Issue<'a>, PlanError> {
    let selection = issue::select(
        library,
        history,
        slot.number,
        config.content.comparisons_per_issue,
    )?;
    Ok(issue::assemble(library, slot, selection)?)
}

/// True when the ledger records the issue of `date` as sent to everyone.
pub(crate) fn is_sent(ledger: Option<&Snapshot>, date: NaiveDate) -> Result<bool, StoreError> {
    Ok(match ledger {
        Some(l) => l
            .issue(date)?
            .is_some_and(|i| i.status == IssueStatus::Sent),
        None => false,
    })
}

/// A slot's state for `status` and `schedule`: sent / partial / due / missed / upcoming.
pub(crate) fn slot_state(
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::Duration;

    use super::*;
    use crate::plan::{load_content, store_settings};
    use crate::store::Store;

    /// The shipped config in a temp folder (its content read from the
    /// repository), with `list` as the subscriber list.
    fn site(list: &str) -> (tempfile::TempDir, Config) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        let source = std::fs::read_to_string(repo.join("config.toml")).unwrap();
        let mut config = Config::from_str(&source, &dir.path().join("config.toml")).unwrap();
        config.content.dir = repo.join("content");
        write_list(&config, list);
        (dir, config)
    }

    fn write_list(config: &Config, list: &str) {
        let path = &config.subscribers.path;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, list).unwrap();
    }

    #[test]
    fn the_ledger_decides_which_slot_comes_next_and_which_issue_it_features() {
        let (_dir, config) = site("email,name\n");
        let schedule = config.schedule().unwrap();
        let (library, _) = load_content(&config).unwrap();
        let s1 = schedule.slot_on(schedule.anchor()).unwrap();
        let mut after = schedule.slots_from(s1.utc).skip(1);
        let (s2, s3) = (after.next().unwrap(), after.next().unwrap());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let store = Store::open(&store_settings(&config).unwrap())
                    .await
                    .unwrap();
                let _lock = store.exclusive().unwrap();
                // Slot 1 frozen for nobody: sent once finished.
                let (i1, frozen) = choose(&config, &library, None, s1.clone()).unwrap();
                assert!(!frozen);
                store
                    .freeze_issue(s1.date, i1.number(), &i1.selection, None)
                    .await
                    .unwrap();
                assert_eq!(store.finish(s1.date).await.unwrap(), IssueStatus::Sent);
                // Slot 2 frozen for one reader, not sent yet.
                write_list(&config, "email,name\nana@example.com,Ana\n");
                let before = store.snapshot(None).await.unwrap();
                let (i2, frozen) = choose(&config, &library, Some(&before), s2.clone()).unwrap();
                assert!(!frozen);
                let added = store
                    .freeze_issue(s2.date, i2.number(), &i2.selection, None)
                    .await
                    .unwrap()
                    .added;
                assert_eq!(added, Some(1));
                let snapshot = store.snapshot(None).await.unwrap();

                assert!(is_sent(Some(&snapshot), s1.date).unwrap());
                assert!(!is_sent(Some(&snapshot), s2.date).unwrap());
                assert!(!is_sent(Some(&snapshot), s3.date).unwrap());
                assert!(!is_sent(None, s1.date).unwrap());

                // The next issue skips what was sent; with no ledger it is slot 1.
                assert_eq!(next_slot(&schedule, Some(&snapshot), s1.utc).unwrap(), s2);
                assert_eq!(next_slot(&schedule, None, s1.utc).unwrap(), s1);
                // The current slot never runs ahead, sent or not, until its grace is over.
                let grace = schedule.grace();
                let within = s1.utc + grace - Duration::seconds(1);
                assert_eq!(current_slot(&schedule, within).unwrap(), s1);
                let past = s1.utc + grace + Duration::seconds(1);
                assert_eq!(current_slot(&schedule, past).unwrap(), s2);

                // A frozen slot keeps its selection; a later one is chosen by rotation.
                let (again, frozen) =
                    choose(&config, &library, Some(&snapshot), s2.clone()).unwrap();
                assert!(frozen);
                assert_eq!(again.selection, i2.selection);
                assert_eq!(again.number(), s2.number);
                let (_, frozen) = choose(&config, &library, Some(&snapshot), s3.clone()).unwrap();
                assert!(!frozen);
            });
    }

    #[test]
    fn a_date_off_the_schedule_names_the_next_two_slots() {
        let (_dir, config) = site("email,name\n");
        let schedule = config.schedule().unwrap();
        let s1 = schedule.slot_on(schedule.anchor()).unwrap();
        assert_eq!(slot_for(&schedule, s1.date).unwrap(), s1);
        let off = s1.date + Duration::days(1);
        let mut next = schedule.slots_from(s1.utc).skip(1);
        let (s2, s3) = (next.next().unwrap(), next.next().unwrap());
        match slot_for(&schedule, off) {
            Err(PlanError::NotASlot { date, next }) => {
                assert_eq!(date, off);
                assert_eq!(next, format!("{} and {}", s2.date, s3.date));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_slot_state_reads_the_ledger_first_then_the_clock() {
        let (_dir, config) = site("email,name\n");
        let schedule = config.schedule().unwrap();
        let slot = schedule.slot_on(schedule.anchor()).unwrap();
        let grace = schedule.grace();
        let before = slot.utc - Duration::seconds(1);
        let within = slot.utc + grace - Duration::seconds(1);
        let past = slot.utc + grace + Duration::seconds(1);
        for (status, now, state) in [
            (Some(IssueStatus::Sent), before, "sent"),
            (Some(IssueStatus::Sent), past, "sent"),
            (Some(IssueStatus::Sending), before, "partial"),
            (Some(IssueStatus::Sending), past, "partial"),
            (None, before, "upcoming"),
            (None, slot.utc, "due"),
            (None, within, "due"),
            (None, past, "missed"),
            (Some(IssueStatus::Assembled), within, "due"),
            (Some(IssueStatus::Assembled), past, "missed"),
        ] {
            assert_eq!(
                slot_state(&schedule, &slot, status, now),
                state,
                "{status:?} at {now}"
            );
        }
    }
}
