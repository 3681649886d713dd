//! What the delivery session, the run loop and the read-only commands ask of
//! the ledger: issues and their recipients, claims on them, their outcomes.
//!
//! Owns the [`Ledger`] trait, declared by those consumers and implemented by
//! both engines, and [`Snapshot`], the read-once view of it. It holds no SQL:
//! `sqlite/` and `postgres/` do.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::error::StoreError;
use super::records::{
    Counts, FrozenIssue, IssueRecord, IssueStatus, Outcome, RecipientRecord, RecipientStatus,
};
use crate::content::issue::{PastIssue, Selection};

/// A recipient to freeze: (normalized key, address, name).
pub type Frozen = (String, String, String);

/// One page of recipients claimed for this process.
#[derive(Debug, Default)]
pub struct Claimed {
    /// The recipients, by key.
    pub rows: Vec<RecipientRecord>,
    /// Keys among them that were suppressed when the page was claimed.
    pub suppressed: HashSet<String>,
}

/// An issue on hold: why, and when the hold was set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hold {
    /// What `hold --reason` said.
    pub reason: Option<String>,
    /// When the hold was set (RFC 3339).
    pub at: String,
}

/// A provider a run paused, as the ledger keeps it: a receiving domain (or
/// the relay itself) that refused the sender in a row until the run stopped
/// handing it messages (what `delivery`'s summary calls a pause).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PauseRecord {
    /// The issue's slot.
    pub slot: NaiveDate,
    /// The receiving domain; `None` for the relay itself (everything paused).
    pub provider: Option<String>,
    /// The consecutive sender-level refusals that led to it.
    pub refusals: u32,
    /// The last of those replies.
    pub last_reply: String,
    /// Recipients the run left pending because of it.
    pub left: u64,
    /// When the run that paused ended (RFC 3339): the same for all the
    /// pauses of one run.
    pub at: String,
}

impl PauseRecord {
    /// Of one issue's `pauses`, those of the last run that paused.
    pub(crate) fn last_run(pauses: &[PauseRecord]) -> impl Iterator<Item = &PauseRecord> {
        let last = pauses.iter().map(|p| p.at.as_str()).max();
        pauses.iter().filter(move |p| Some(p.at.as_str()) == last)
    }
}

/// Keeps other sends out while alive (what [`Ledger::exclusive`] returns).
pub struct Exclusive(#[allow(dead_code)] pub(crate) Option<std::fs::File>);

/// The ledger: issues (assembled → sending → sent) and recipients (pending →
/// in flight → sent | failed | bounced | uncertain | skipped).
#[async_trait]
pub trait Ledger: Send + Sync {
    /// The store, password redacted.
    fn describe(&self) -> String;

    /// The schema version in use.
    async fn schema_version(&self) -> Result<i64, StoreError>;

    /// Keeps every other send of this engine out while the guard lives: the
    /// embedded engine is one host and one send at a time (the run lock;
    /// [`StoreError::Locked`] when a send holds it); on the shared store
    /// several senders on one issue are the design, and this holds nothing.
    fn exclusive(&self) -> Result<Exclusive, StoreError>;

    /// Whether a send is running now (on any host of the shared store: on
    /// the issue of `slot`, when given).
    async fn sending(&self, slot: Option<NaiveDate>) -> Result<bool, StoreError>;

    /// All issues, oldest first.
    async fn issues(&self) -> Result<Vec<IssueRecord>, StoreError>;

    /// One issue by slot date.
    async fn issue(&self, slot: NaiveDate) -> Result<Option<IssueRecord>, StoreError> {
        Ok(self.issues().await?.into_iter().find(|i| i.slot == slot))
    }

    /// One issue by number.
    async fn issue_by_number(&self, number: u32) -> Result<Option<IssueRecord>, StoreError> {
        Ok(self
            .issues()
            .await?
            .into_iter()
            .find(|i| i.number == number))
    }

    /// Every recorded issue's selection, for rotation.
    async fn history(&self) -> Result<Vec<PastIssue>, StoreError> {
        Ok(self.issues().await?.iter().map(past).collect())
    }

    /// Records an issue's selection (nothing if the slot already has one).
    async fn assemble(
        &self,
        slot: NaiveDate,
        number: u32,
        selection: &Selection,
    ) -> Result<(), StoreError>;

    /// Freezes the given recipient set and marks the issue `sending`, in one
    /// transaction; nothing if it left `assembled`. A list that ends in an
    /// error freezes nobody: the error comes back, and the issue stays
    /// `assembled` for the next run.
    async fn freeze(
        &self,
        slot: NaiveDate,
        recipients: &mut (dyn Iterator<Item = Result<Frozen, StoreError>> + Send),
    ) -> Result<u64, StoreError>;

    /// Assembles the issue of `slot` on first use and freezes its recipients
    /// from the engine's list of record (the list files, or the stored list)
    /// in the same step, keeping `rendered` where the engine keeps renders;
    /// every later call (and every host) gets back what was frozen then.
    async fn freeze_issue(
        &self,
        slot: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: Option<&[u8]>,
    ) -> Result<FrozenIssue, StoreError>;

    /// Recipients left in flight by a run that died become `uncertain` (on
    /// the shared store: only those whose host's lease expired).
    async fn recover(&self, slot: NaiveDate) -> Result<u64, StoreError>;

    /// The next recipients with one of `statuses`, by key after `after`: read only.
    async fn due(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError>;

    /// Recipients of an issue with one of `statuses`, by key.
    async fn recipients(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        self.due(slot, statuses, "", i64::MAX as usize).await
    }

    /// How many recipients one claim takes, for a run handing `window` jobs
    /// out at once (small where several hosts share the work evenly).
    fn page_size(&self, window: usize) -> usize;

    /// How often a run renews its claims (never, where claims do not expire).
    fn renew_every(&self) -> Duration;

    /// The next page to send, claimed for this process, with the suppressed
    /// among it.
    async fn claim(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        size: usize,
    ) -> Result<Claimed, StoreError>;

    /// Whether `key` was suppressed since its page was claimed, as far as the
    /// engine can tell without a round trip (a cheap check before each send).
    fn suppressed_since_claim(&self, key: &str) -> bool;

    /// Renews this process's claims.
    async fn renew(&self, slot: NaiveDate) -> Result<u64, StoreError>;

    /// Gives back this process's claims on rows not in flight (a clean stop).
    async fn release(&self, slot: NaiveDate) -> Result<u64, StoreError>;

    /// After this process's pass: whether any recipient with one of
    /// `statuses` may still need it (rows freed by an expired lease of a
    /// host that died, or rows a live host still holds).
    async fn left_by_others(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
    ) -> Result<bool, StoreError>;

    /// Marks `in_flight` keys in flight and records `outcomes`, in one transaction.
    async fn commit(
        &self,
        slot: NaiveDate,
        in_flight: &[&str],
        outcomes: &[Outcome],
    ) -> Result<(), StoreError>;

    /// Whether the run's group commits wait for the disk, as the engine
    /// itself reports it (`[store] synchronous_commit`).
    async fn group_commits_wait_for_disk(&self) -> Result<bool, StoreError>;

    /// Counts by status for one issue.
    async fn counts(&self, slot: NaiveDate) -> Result<Counts, StoreError>;

    /// How many of the issue's recipients each relay carried (`sent`), by
    /// relay name (none on a ledger from before relays were recorded).
    async fn sent_by_relay(&self, slot: NaiveDate) -> Result<Vec<(String, u64)>, StoreError>;

    /// Puts the issue of `slot` on hold (replacing an earlier hold's reason
    /// and time): no command on any host sends it until [`Ledger::unhold`].
    async fn hold(&self, slot: NaiveDate, reason: Option<&str>, at: &str)
    -> Result<(), StoreError>;

    /// Lifts the hold on the issue of `slot`; whether there was one.
    async fn unhold(&self, slot: NaiveDate) -> Result<bool, StoreError>;

    /// The hold on the issue of `slot`, if any (none on a ledger from before
    /// holds, opened to read).
    async fn hold_of(&self, slot: NaiveDate) -> Result<Option<Hold>, StoreError>;

    /// Keeps the pauses a run ended with (each names its issue and time).
    async fn record_pauses(&self, pauses: &[PauseRecord]) -> Result<(), StoreError>;

    /// The pauses kept for the issue of `slot`, oldest first (none on a
    /// ledger from before pauses were kept, opened to read).
    async fn pauses(&self, slot: NaiveDate) -> Result<Vec<PauseRecord>, StoreError>;

    /// The pauses of every issue kept at `since` (RFC 3339) or later, oldest
    /// first.
    async fn pauses_since(&self, since: &str) -> Result<Vec<PauseRecord>, StoreError>;

    /// Keeps when the send of `slot`, stopped at a cap with readers pending,
    /// may continue (`Some`), or that it no longer waits for one (`None`).
    /// Marking the issue sent clears it.
    async fn set_continue_at(
        &self,
        slot: NaiveDate,
        at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// The issues still being sent that a cap stopped, with when each may
    /// continue, oldest first (none on a ledger from before continue times
    /// were kept, opened to read).
    async fn capped(&self) -> Result<Vec<(NaiveDate, DateTime<Utc>)>, StoreError>;

    /// Marks the issue `sent` when nobody is left open; returns its status.
    async fn finish(&self, slot: NaiveDate) -> Result<IssueStatus, StoreError>;

    /// Reads a [`Snapshot`], with the open recipients of `detail` if given.
    async fn snapshot(&self, detail: Option<NaiveDate>) -> Result<Snapshot, StoreError> {
        let issues = self.issues().await?;
        let mut counts = HashMap::new();
        for i in &issues {
            counts.insert(i.slot, self.counts(i.slot).await?);
        }
        let sending = self.sending(detail).await?;
        let detail = match detail {
            Some(slot) => Some((slot, self.recipients(slot, &DETAIL_STATUSES).await?)),
            None => None,
        };
        Ok(Snapshot {
            issues,
            counts,
            detail,
            sending,
        })
    }
}

fn past(i: &IssueRecord) -> PastIssue {
    PastIssue {
        number: i.number,
        selection: i.selection.clone(),
    }
}

/// What planning and the read-only commands need from the ledger, read at once:
/// every issue, the counts of each, and the open recipients of one issue.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    issues: Vec<IssueRecord>,
    counts: HashMap<NaiveDate, Counts>,
    detail: Option<(NaiveDate, Vec<RecipientRecord>)>,
    /// A send is running (on the shared store: some host holds live leases
    /// on the detail issue).
    sending: bool,
}

/// The statuses [`Snapshot::recipients`] holds for its detail issue.
pub const DETAIL_STATUSES: [RecipientStatus; 4] = [
    RecipientStatus::Failed,
    RecipientStatus::Bounced,
    RecipientStatus::Uncertain,
    RecipientStatus::InFlight,
];

impl Snapshot {
    /// A snapshot of `issues` alone (no counts, no detail, nobody sending):
    /// what choosing the next issue needs, without counting anyone.
    pub(crate) fn of_issues(issues: Vec<IssueRecord>) -> Self {
        Self {
            issues,
            ..Self::default()
        }
    }

    /// All issues, oldest first.
    pub(crate) fn issues(&self) -> Result<Vec<IssueRecord>, StoreError> {
        Ok(self.issues.clone())
    }
    /// One issue by slot date.
    pub(crate) fn issue(&self, slot: NaiveDate) -> Result<Option<IssueRecord>, StoreError> {
        Ok(self.issues.iter().find(|i| i.slot == slot).cloned())
    }
    /// Every recorded issue's selection, for rotation.
    pub(crate) fn history(&self) -> Result<Vec<PastIssue>, StoreError> {
        Ok(self.issues.iter().map(past).collect())
    }
    /// Counts by status for one issue.
    pub(crate) fn counts(&self, slot: NaiveDate) -> Result<Counts, StoreError> {
        Ok(self.counts.get(&slot).cloned().unwrap_or_default())
    }
    /// Whether a send is running right now, so that in-flight recipients
    /// are really in flight.
    pub(crate) fn sending(&self) -> bool {
        self.sending
    }
    /// The detail issue's recipients with one of `statuses` (a subset of
    /// [`DETAIL_STATUSES`]); empty for any other issue.
    pub(crate) fn recipients(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        Ok(match &self.detail {
            Some((s, rows)) if *s == slot => rows
                .iter()
                .filter(|r| statuses.contains(&r.status))
                .cloned()
                .collect(),
            _ => Vec::new(),
        })
    }
}
