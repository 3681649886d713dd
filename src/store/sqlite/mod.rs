//! The embedded engine: the ledger in one SQLite file under `state.dir`
//! (WAL), the list and the suppressions in the CSV files `subscribers/`
//! names, and one send at a time on one host (the run lock).
//!
//! Owns carrying out the store traits on those files: `db.rs` the SQLite
//! ledger, `files.rs` the list side ([`Roster`]), `feedback.rs` the inbound
//! events, `lock.rs` the run lock and the suppression file watched during a
//! run, `index.rs` the suppression file kept for lookups and appended in batches, `quota.rs` the send counts of the caps ([`Quotas`](crate::store::Quotas)), `cap_stop.rs` when a send a cap stopped may continue, `store.rs` [`SqliteStore`] itself and reaching its ledger. This
//! file carries out [`Ledger`]; no file here imports it. Decides nothing: the rules come in from `inbound::policy`,
//! `reader_data` and the run loop.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::content::issue::Selection;
use crate::store::error::StoreError;
use crate::store::ledger::{Claimed, Exclusive, Frozen, Hold, Ledger, PauseRecord};
use crate::store::records::{
    Counts, FrozenIssue, IssueRecord, IssueStatus, Outcome, RecipientRecord, RecipientStatus,
};

mod accounts;
mod approvals;
pub(crate) mod backup;
mod cap_stop;
mod db;
mod events;
mod feedback;
mod feeds;
mod files;
mod hold;
mod index;
mod limits;
mod lock;
mod pause;
mod quota;
mod store;
mod tallies;

pub(crate) use db::Db;
pub(super) use db::{known_version, version_of};
use lock::Watched;
pub(super) use store::SqliteStore;
use store::guard;

/// How many recipients one claim takes on this engine (one host: a claim
/// only reads the next rows in key order).
const PAGE: usize = 512;

#[async_trait]
impl Ledger for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(version_of(&self.path)?)
    }

    fn exclusive(&self) -> Result<Exclusive, StoreError> {
        lock::take(&self.state_dir).map(|f| Exclusive(Some(f)))
    }

    async fn sending(&self, _slot: Option<NaiveDate>) -> Result<bool, StoreError> {
        Ok(lock::held(&self.state_dir))
    }

    async fn issues(&self) -> Result<Vec<IssueRecord>, StoreError> {
        self.query(Vec::new(), Db::issues)
    }

    async fn issue(&self, slot: NaiveDate) -> Result<Option<IssueRecord>, StoreError> {
        self.query(None, |db| db.issue(slot))
    }

    async fn issue_by_number(&self, number: u32) -> Result<Option<IssueRecord>, StoreError> {
        self.query(None, |db| db.issue_by_number(number))
    }

    async fn assemble(
        &self,
        slot: NaiveDate,
        number: u32,
        selection: &Selection,
    ) -> Result<(), StoreError> {
        self.write(|db| db.assemble(slot, number, selection, None))
    }

    async fn freeze(
        &self,
        slot: NaiveDate,
        recipients: &mut (dyn Iterator<Item = Result<Frozen, StoreError>> + Send),
    ) -> Result<u64, StoreError> {
        self.write(|db| db.freeze(slot, recipients))?
    }

    async fn freeze_issue(
        &self,
        slot: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: Option<&[u8]>,
    ) -> Result<FrozenIssue, StoreError> {
        self.write(|db| db.assemble(slot, number, selection, rendered))?;
        let assembled = self
            .query(None, |db| db.issue(slot))?
            .is_some_and(|i| i.status == IssueStatus::Assembled);
        let (mut added, mut diags) = (None, Vec::new());
        if assembled {
            // The recipient set is the list file as it stands, streamed: a
            // list that stops early ends in an error and freezes nobody.
            let mut list =
                crate::list::active(&self.subscribers, &self.suppressed, self.keyer.clone())?;
            let mut rows = list.by_ref().map(|r| {
                r.map(|s| (s.key, s.email.to_string(), s.name))
                    .map_err(StoreError::from)
            });
            added = Some(self.write(|db| db.freeze(slot, &mut rows))??);
            diags = list.diags;
        }
        let record =
            self.query(None, |db| db.issue(slot))?
                .ok_or_else(|| StoreError::Database {
                    store: self.describe(),
                    detail: format!("issue `{slot}` vanished right after it was assembled"),
                })?;
        let rendered = self.query(None, |db| db.rendered(slot))?;
        Ok(FrozenIssue {
            record,
            rendered,
            added,
            diags,
        })
    }

    async fn recover(&self, slot: NaiveDate) -> Result<u64, StoreError> {
        self.query(0, |db| db.recover(slot))
    }

    async fn due(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        self.query(Vec::new(), |db| db.due(slot, statuses, after, limit))
    }

    fn page_size(&self, _window: usize) -> usize {
        PAGE
    }

    fn renew_every(&self) -> Duration {
        Duration::MAX
    }

    async fn claim(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        size: usize,
    ) -> Result<Claimed, StoreError> {
        // The run lock already makes every row this process's.
        Ok(Claimed {
            rows: self.due(slot, statuses, after, size).await?,
            suppressed: Default::default(),
        })
    }

    fn suppressed_since_claim(&self, key: &str) -> bool {
        let mut watched = guard(&self.watched);
        let w = watched.get_or_insert_with(|| Watched::new(&self.suppressed, self.keyer.clone()));
        w.refresh();
        w.contains(key)
    }

    async fn renew(&self, _slot: NaiveDate) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn release(&self, _slot: NaiveDate) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn left_by_others(
        &self,
        _slot: NaiveDate,
        _statuses: &[RecipientStatus],
    ) -> Result<bool, StoreError> {
        // One host, one send (the run lock): nobody else leaves work.
        Ok(false)
    }

    async fn commit(
        &self,
        slot: NaiveDate,
        in_flight: &[&str],
        outcomes: &[Outcome],
    ) -> Result<(), StoreError> {
        self.write(|db| db.commit(slot, in_flight, outcomes))
    }

    async fn group_commits_wait_for_disk(&self) -> Result<bool, StoreError> {
        self.query(false, Db::flushes_every_commit)
    }

    async fn counts(&self, slot: NaiveDate) -> Result<Counts, StoreError> {
        self.query(Counts::default(), |db| db.counts(slot))
    }

    async fn sent_by_relay(&self, slot: NaiveDate) -> Result<Vec<(String, u64)>, StoreError> {
        self.query(Vec::new(), |db| db.sent_by_relay(slot))
    }

    async fn hold(
        &self,
        slot: NaiveDate,
        reason: Option<&str>,
        at: &str,
    ) -> Result<(), StoreError> {
        self.put_hold(slot, reason, at)
    }

    async fn unhold(&self, slot: NaiveDate) -> Result<bool, StoreError> {
        self.lift_hold(slot)
    }

    async fn hold_of(&self, slot: NaiveDate) -> Result<Option<Hold>, StoreError> {
        self.read_hold(slot)
    }

    async fn record_pauses(&self, pauses: &[PauseRecord]) -> Result<(), StoreError> {
        self.put_pauses(pauses)
    }

    async fn pauses(&self, slot: NaiveDate) -> Result<Vec<PauseRecord>, StoreError> {
        self.read_pauses(slot)
    }

    async fn pauses_since(&self, since: &str) -> Result<Vec<PauseRecord>, StoreError> {
        self.read_pauses_since(since)
    }

    async fn set_continue_at(
        &self,
        slot: NaiveDate,
        at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.put_continue_at(slot, at)
    }

    async fn capped(&self) -> Result<Vec<(NaiveDate, DateTime<Utc>)>, StoreError> {
        self.read_capped()
    }

    async fn finish(&self, slot: NaiveDate) -> Result<IssueStatus, StoreError> {
        self.write(|db| db.finish(slot))
    }
}
