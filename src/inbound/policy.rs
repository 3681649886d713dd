//! What an event does to the list: the bounce and complaint policy.
//!
//! Owns the rules: a hard bounce suppresses at once (`bounced`) and moves its
//! ledger row to `bounced`; `soft_limit` soft bounces on distinct issues within
//! `soft_window_days` suppress, older ones no longer count; a complaint
//! suppresses (`complaint`); a mailed unsubscribe suppresses (`unsubscribed`),
//! as the one-click POST does; a delay changes nothing. Every event is recorded
//! once: a repeat changes nothing. Suppression goes through
//! [`list::append_suppression`]; this module never edits the list files itself.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::Bounces;
use crate::list::{self, Suppression};
use crate::store::{Event, EventKind, Ledger, LedgerError};

/// The suppression reason of a complaint (a later sign-up needs double opt-in).
pub const COMPLAINT: &str = "complaint";
/// The suppression reason of an unsubscribe.
pub const UNSUBSCRIBED: &str = "unsubscribed";

/// Errors applying an event.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The suppression list could not be read or written.
    #[error(
        "cannot update the suppression list `{path}`: {message} (check `subscribers.suppressed_path`)"
    )]
    Suppression {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// The policy's settings, from `[bounces]`.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Soft bounces that suppress.
    pub soft_limit: u32,
    /// Days soft bounces count for.
    pub soft_window_days: u32,
}

impl From<&Bounces> for Policy {
    fn from(b: &Bounces) -> Self {
        Self {
            soft_limit: b.soft_limit,
            soft_window_days: b.soft_window_days,
        }
    }
}

/// What applying one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// False when the event was recorded before (nothing changed).
    pub new: bool,
    /// The suppression reason written, if the address was suppressed now.
    pub suppressed: Option<String>,
    /// True when the ledger row moved to `bounced`.
    pub row_bounced: bool,
    /// For a soft bounce: how many count now (distinct issues in the window).
    pub soft_count: Option<u64>,
}

/// RFC 3339 as the ledger stores times (so they compare as strings).
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Policy {
    /// Records `event` and applies its consequences.
    pub fn apply(
        &self,
        ledger: &Ledger,
        suppressed_path: &Path,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<Applied, PolicyError> {
        let mut applied = Applied {
            new: false,
            suppressed: None,
            row_bounced: false,
            soft_count: None,
        };
        // The side effects run inside the event's record: a failure (a full
        // disk, say) leaves no record, so the same message or retry redoes them.
        applied.new = ledger.record_event(event, || -> Result<(), PolicyError> {
            let reason = match event.kind {
                EventKind::HardBounce => Some(bounce_reason(event)),
                EventKind::SoftBounce => {
                    let since = timestamp(now - TimeDelta::days(i64::from(self.soft_window_days)));
                    let n = ledger.soft_bounces_since(&event.email, &since)?;
                    applied.soft_count = Some(n);
                    (n >= u64::from(self.soft_limit)).then(|| {
                        format!(
                            "bounced: {n} soft bounces in {} days, the last: {}",
                            self.soft_window_days,
                            short(event)
                        )
                    })
                }
                EventKind::Delayed => None,
                EventKind::Complaint => Some(COMPLAINT.to_string()),
                EventKind::Unsubscribe => Some(UNSUBSCRIBED.to_string()),
            };
            if let Some(reason) = reason {
                if event.kind == EventKind::HardBounce
                    && let Some(slot) = &event.slot
                {
                    applied.row_bounced = ledger.mark_bounced(*slot, &event.email, &reason)?;
                }
                if suppress(suppressed_path, &event.email, &reason, now)? {
                    applied.suppressed = Some(reason);
                }
            }
            Ok(())
        })?;
        Ok(applied)
    }
}

fn short(event: &Event) -> String {
    match (&event.status, event.reason.is_empty()) {
        (Some(s), false) if !event.reason.contains(s.as_str()) => format!("{s} {}", event.reason),
        (Some(s), true) => s.clone(),
        _ => event.reason.clone(),
    }
}

fn bounce_reason(event: &Event) -> String {
    let s = short(event);
    if s.is_empty() {
        "bounced".into()
    } else {
        format!("bounced: {s}")
    }
}

/// True when `key` complained about any issue: a later sign-up must go
/// through the full double opt-in (the one-click resubscribe is refused).
/// An unreadable ledger counts as a complaint (refuse rather than guess).
pub fn complained(config: &crate::config::Config, key: &str) -> bool {
    match Ledger::open_read_only(&config.ledger_path()) {
        Ok(None) => false,
        Ok(Some(l)) => l.events(None).map_or(true, |events| {
            events
                .iter()
                .any(|e| e.event.kind == EventKind::Complaint && e.event.email == key)
        }),
        Err(_) => true,
    }
}

/// Appends a suppression unless the address already is suppressed; true when written.
fn suppress(
    path: &Path,
    email: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, PolicyError> {
    let err = |message: String| PolicyError::Suppression {
        path: path.to_path_buf(),
        message,
    };
    let already = match Suppression::load(path) {
        Ok((set, _)) => set.contains(email),
        Err(list::SubscribersError::Open { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            false
        }
        Err(e) => return Err(err(e.to_string())),
    };
    if already {
        return Ok(false);
    }
    list::append_suppression(path, email, reason, now).map_err(|e| err(e.to_string()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: &str, kind: EventKind, slot: &str, at: DateTime<Utc>) -> Event {
        Event {
            key: key.into(),
            kind,
            email: "ana@example.com".into(),
            slot: Some(slot.parse().unwrap()),
            source: "dsn".into(),
            status: Some("4.2.2".into()),
            reason: "mailbox full".into(),
            at: timestamp(at),
        }
    }

    #[test]
    fn soft_bounces_suppress_at_the_limit_within_the_window_only() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let supp = dir.path().join("suppressed.csv");
        let p = Policy {
            soft_limit: 3,
            soft_window_days: 30,
        };
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let old = now - TimeDelta::days(40);
        // Two old ones, then two recent ones: below the limit.
        for (k, slot, at) in [
            ("a", "2026-10-01", old),
            ("b", "2026-10-15", old),
            ("c", "2026-11-17", now),
            ("d", "2026-12-01", now),
        ] {
            let a = p
                .apply(
                    &ledger,
                    &supp,
                    &event(k, EventKind::SoftBounce, slot, at),
                    now,
                )
                .unwrap();
            assert_eq!(a.suppressed, None, "{k}");
        }
        // The same issue twice counts once; a repeat of an event changes nothing.
        let a = p
            .apply(
                &ledger,
                &supp,
                &event("e", EventKind::SoftBounce, "2026-12-01", now),
                now,
            )
            .unwrap();
        assert_eq!(
            (a.new, a.soft_count, a.suppressed.as_deref()),
            (true, Some(2), None)
        );
        let a = p
            .apply(
                &ledger,
                &supp,
                &event("d", EventKind::SoftBounce, "2026-12-01", now),
                now,
            )
            .unwrap();
        assert!(!a.new);
        assert!(!supp.exists());
        let a = p
            .apply(
                &ledger,
                &supp,
                &event("f", EventKind::SoftBounce, "2026-12-15", now),
                now,
            )
            .unwrap();
        assert_eq!(a.soft_count, Some(3));
        assert!(a.suppressed.unwrap().starts_with("bounced: 3 soft bounces"));
        let (set, _) = Suppression::load(&supp).unwrap();
        assert!(set.contains("ana@example.com"));
        // Already suppressed: a complaint records its event, writes no second row.
        let a = p
            .apply(
                &ledger,
                &supp,
                &event("g", EventKind::Complaint, "2026-12-15", now),
                now,
            )
            .unwrap();
        assert_eq!((a.new, a.suppressed), (true, None));
    }

    #[test]
    fn a_failed_suppression_records_nothing_so_a_retry_does_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let p = Policy {
            soft_limit: 3,
            soft_window_days: 30,
        };
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let e = event("h", EventKind::HardBounce, "2026-12-01", now);
        // A folder where the file should be: the append fails.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir_all(blocked.join("suppressed.csv")).unwrap();
        let err = p
            .apply(&ledger, &blocked.join("suppressed.csv"), &e, now)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot update the suppression list"),
            "{err}"
        );
        assert!(ledger.events(None).unwrap().is_empty());
        let supp = dir.path().join("suppressed.csv");
        let a = p.apply(&ledger, &supp, &e, now).unwrap();
        assert!(a.new && a.suppressed.is_some(), "{a:?}");
        assert_eq!(ledger.events(None).unwrap().len(), 1);
    }
}
