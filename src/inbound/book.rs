//! Where the inbound loop reads and writes: [`Book`], over the embedded
//! engine (the SQLite ledger, with `suppressed.csv` as the suppression list)
//! or the shared store (PostgreSQL: events, suppressions and ledger rows in
//! one database).
//!
//! Owns carrying out what [`super::policy`] decides, on either engine, in one
//! transaction with the event's record: a failure records nothing, so the same
//! message or webhook retry does it all again. It decides nothing: the rules
//! are the policy's, passed in as a function. Calls to the shared store block
//! on the runtime handle given (the CLI's, or `serve`'s from a blocking thread).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use super::policy::PolicyError;
use crate::list::privacy::Keyer;
use crate::list::{self, Suppression};
use crate::store::{
    Consequence, Counts, Event, EventKind, EventRecord, IssueRecord, Ledger, PgStore,
    RecipientRecord, RecipientStatus, Recorded,
};

/// The store the inbound loop works on.
pub enum Book<'a> {
    /// The embedded default: the ledger file, and the suppression list file.
    Embedded {
        /// The SQLite ledger.
        ledger: &'a Ledger,
        /// `subscribers.suppressed_path`.
        suppressed: &'a Path,
    },
    /// PostgreSQL, shared by every host.
    Shared {
        /// The store.
        store: &'a PgStore,
        /// The runtime its calls block on (never from an async task).
        rt: tokio::runtime::Handle,
    },
}

/// Why the embedded engine's record rolls back: a failure, or a conditional
/// event that must not be recorded (turned into "not new" before returning).
enum Undo {
    Failed(PolicyError),
    NotRecorded,
}

impl From<crate::store::LedgerError> for Undo {
    fn from(e: crate::store::LedgerError) -> Self {
        Self::Failed(e.into())
    }
}

impl From<PolicyError> for Undo {
    fn from(e: PolicyError) -> Self {
        Self::Failed(e)
    }
}

impl Book<'_> {
    fn wait<F: std::future::Future>(rt: &tokio::runtime::Handle, f: F) -> F::Output {
        rt.block_on(f)
    }

    /// One issue by number.
    pub fn issue_by_number(&self, number: u32) -> Result<Option<IssueRecord>, PolicyError> {
        Ok(match self {
            Self::Embedded { ledger, .. } => ledger.issue_by_number(number)?,
            Self::Shared { store, rt } => Self::wait(rt, store.issue_by_number(number))?,
        })
    }

    /// The recipient of issue `slot` whose Message-ID hash starts with `rid`.
    pub fn recipient_by_rid(
        &self,
        slot: NaiveDate,
        rid: &str,
    ) -> Result<Option<RecipientRecord>, PolicyError> {
        Ok(match self {
            Self::Embedded { ledger, .. } => ledger.recipient_by_rid(slot, rid)?,
            Self::Shared { store, rt } => Self::wait(rt, store.recipient_by_rid(slot, rid))?,
        })
    }

    /// The latest issue whose copy went out to `email`.
    pub fn latest_issue_of(&self, email: &str) -> Result<Option<NaiveDate>, PolicyError> {
        Ok(match self {
            Self::Embedded { ledger, .. } => ledger.latest_issue_of(email)?,
            Self::Shared { store, rt } => Self::wait(rt, store.latest_issue_of(email))?,
        })
    }

    /// Recorded events of one issue (or all), oldest first.
    pub fn events(&self, slot: Option<NaiveDate>) -> Result<Vec<EventRecord>, PolicyError> {
        Ok(match self {
            Self::Embedded { ledger, .. } => ledger.events(slot)?,
            Self::Shared { store, rt } => Self::wait(rt, store.events(slot))?,
        })
    }

    /// Counts by status for one issue.
    pub fn counts(&self, slot: NaiveDate) -> Result<Counts, PolicyError> {
        Ok(match self {
            Self::Embedded { ledger, .. } => ledger.counts(slot)?,
            Self::Shared { store, rt } => Self::wait(rt, store.counts(slot))?,
        })
    }

    /// The issue's recipients with one of `statuses`, by key.
    pub fn recipients(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
    ) -> Result<Vec<RecipientRecord>, PolicyError> {
        Ok(match self {
            Self::Embedded { ledger, .. } => ledger.recipients(slot, statuses)?,
            Self::Shared { store, rt } => {
                Self::wait(rt, store.due(slot, statuses, "", i64::MAX as usize))?
            }
        })
    }

    /// Whether `email` complained about any issue.
    pub fn complained(&self, email: &str) -> Result<bool, PolicyError> {
        Ok(match self {
            Self::Embedded { ledger, .. } => ledger.complained(email)?,
            Self::Shared { store, rt } => Self::wait(rt, store.complained(email))?,
        })
    }

    /// The pseudonym `email` was erased under (`subscribers forget`), if it was.
    pub fn erased_as(&self, keyer: &Keyer, email: &str) -> Result<Option<String>, PolicyError> {
        match self {
            Self::Embedded { suppressed, .. } => {
                let set = load(suppressed)?.keyed(keyer.clone());
                if !set.is_forgotten(email) {
                    return Ok(None);
                }
                Ok(keyer
                    .pseudonyms(email)
                    .find(|p| set.is_forgotten(p))
                    .or_else(|| Some(keyer.pseudonym(email))))
            }
            Self::Shared { store, rt } => {
                let all: Vec<String> = keyer.pseudonyms(email).collect();
                Ok(Self::wait(rt, store.erased_as(&all))?)
            }
        }
    }

    /// Records `event` once and, when it is new, carries out `decide`'s
    /// [`Consequence`] in the same transaction. `decide` gets the soft-bounce
    /// count at or after `soft_since` (this one included) for a soft bounce;
    /// it must only compute (it may run again on a retried connection).
    pub fn record(
        &self,
        event: &Event,
        keyer: &Keyer,
        now: DateTime<Utc>,
        soft_since: &str,
        decide: &(dyn Fn(Option<u64>) -> Consequence + Sync),
    ) -> Result<Recorded, PolicyError> {
        match self {
            Self::Shared { store, rt } => Ok(Self::wait(
                rt,
                store.record_event(
                    event,
                    soft_since,
                    &now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    decide,
                ),
            )?),
            Self::Embedded { ledger, suppressed } => {
                let mut done = Recorded::default();
                let result = ledger.record_event(event, || -> Result<(), Undo> {
                    if event.kind == EventKind::SoftBounce {
                        done.soft_count =
                            Some(ledger.soft_bounces_since(&event.email, soft_since)?);
                    }
                    let then = decide(done.soft_count);
                    if let (Some(reply), Some(slot)) = (&then.bounce_row, event.slot) {
                        done.row_bounced = ledger.mark_bounced(slot, &event.email, reply)?;
                    }
                    if let Some(reason) = &then.suppress {
                        done.suppressed = suppress(suppressed, keyer, &event.email, reason, now)?;
                    }
                    if then.only_if_suppressing && !done.suppressed {
                        return Err(Undo::NotRecorded);
                    }
                    Ok(())
                });
                match result {
                    Ok(new) => {
                        done.new = new;
                        Ok(done)
                    }
                    Err(Undo::NotRecorded) => Ok(Recorded::default()),
                    Err(Undo::Failed(e)) => Err(e),
                }
            }
        }
    }
}

fn suppression_error(path: &Path, message: String) -> PolicyError {
    PolicyError::Suppression {
        path: PathBuf::from(path),
        message,
    }
}

/// The suppression list file (a missing file is an empty list).
fn load(path: &Path) -> Result<Suppression, PolicyError> {
    Suppression::load(path)
        .map(|(set, _)| set)
        .map_err(|e| suppression_error(path, e.to_string()))
}

/// Appends a suppression unless the address already is suppressed (erased
/// readers' pseudonyms recognised through `keyer`); true when written.
fn suppress(
    path: &Path,
    keyer: &Keyer,
    email: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, PolicyError> {
    if load(path)?.keyed(keyer.clone()).contains(email) {
        return Ok(false);
    }
    list::append_suppression(path, email, reason, now)
        .map_err(|e| suppression_error(path, e.to_string()))?;
    Ok(true)
}
