//! The embedded engine: the ledger in one SQLite file under `state.dir`
//! (WAL), the list and the suppressions in the CSV files `subscribers/`
//! names, and one send at a time on one host (the run lock).
//!
//! Owns carrying out the store traits on those files: `db.rs` the SQLite
//! ledger, `files.rs` the list side ([`Roster`]), `feedback.rs` the inbound
//! events, `lock.rs` the run lock and the suppression file watched during a
//! run. Decides nothing: the rules come in from `inbound::policy`,
//! `privacy` and the run loop.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;

use super::ledger::{Claimed, Exclusive, Frozen};
use super::{
    Counts, FrozenIssue, IssueRecord, IssueStatus, Ledger, LedgerError, Outcome, RecipientRecord,
    RecipientStatus, StoreError, StoreSettings,
};
use crate::content::issue::Selection;
use crate::list::privacy::Keyer;

mod db;
mod events;
mod feedback;
mod files;
mod lock;

pub(crate) use db::Db;
pub(super) use db::{known_version, version_of};
use files::Confirmations;
use lock::Watched;

/// How many recipients one claim takes on this engine (one host: a claim
/// only reads the next rows in key order).
const PAGE: usize = 512;

/// The embedded engine (see the module doc).
pub(crate) struct SqliteStore {
    path: PathBuf,
    /// The ledger; `None` until one exists (a read-only store of a new site).
    db: Mutex<Option<Db>>,
    /// Whether `db` was opened for writing (a store opened to read opens
    /// it again for writing at its first write).
    writable: std::sync::atomic::AtomicBool,
    synchronous_commit: bool,
    state_dir: PathBuf,
    subscribers: PathBuf,
    suppressed: PathBuf,
    keyer: Option<Keyer>,
    /// Serializes this process's read-then-append on the list files, so that
    /// two simultaneous requests for one address write one row.
    files: Mutex<()>,
    /// The suppression file as a run last read it.
    watched: Mutex<Option<Watched>>,
    /// One confirmation mail per address per hour (this process's memory).
    confirmations: Confirmations,
}

impl SqliteStore {
    /// Opens (creating and migrating) the ledger at `path`.
    pub(super) fn open(path: &Path, settings: &StoreSettings) -> Result<Self, StoreError> {
        let db = Db::open(path)?;
        if settings.synchronous_commit {
            db.flush_every_commit()?;
        }
        let store = Self::with(path, Some(db), settings);
        store.writable.store(true, Ordering::SeqCst);
        Ok(store)
    }

    /// Opens the ledger at `path` to read, creating nothing; a ledger that
    /// does not exist yet reads as empty (the list files are read all the same).
    pub(super) fn open_read_only(
        path: &Path,
        settings: &StoreSettings,
    ) -> Result<Self, StoreError> {
        let db = Db::open_read_only(path)?;
        Ok(Self::with(path, db, settings))
    }

    fn with(path: &Path, db: Option<Db>, settings: &StoreSettings) -> Self {
        Self {
            path: path.to_path_buf(),
            db: Mutex::new(db),
            writable: std::sync::atomic::AtomicBool::new(false),
            synchronous_commit: settings.synchronous_commit,
            state_dir: settings.state_dir.clone(),
            subscribers: settings.subscribers_path.clone(),
            suppressed: settings.suppressed_path.clone(),
            keyer: settings.keyer.clone(),
            files: Mutex::new(()),
            watched: Mutex::new(None),
            confirmations: Confirmations::default(),
        }
    }

    /// The ledger, for a read: `None` when there is none yet.
    fn read(&self) -> MutexGuard<'_, Option<Db>> {
        lock(&self.db)
    }

    /// Runs `f` on the ledger, opening (creating) it first if needed.
    fn write<T>(&self, f: impl FnOnce(&mut Db) -> Result<T, LedgerError>) -> Result<T, StoreError> {
        let mut db = lock(&self.db);
        if !self.writable.load(Ordering::SeqCst) {
            let fresh = Db::open(&self.path)?;
            if self.synchronous_commit {
                fresh.flush_every_commit()?;
            }
            *db = Some(fresh);
            self.writable.store(true, Ordering::SeqCst);
        }
        match db.as_mut() {
            Some(db) => Ok(f(db)?),
            // Just opened above.
            None => Err(StoreError::Database {
                store: self.describe(),
                detail: "the ledger could not be opened".into(),
            }),
        }
    }

    /// Runs `f` on the ledger if there is one, else gives `empty`. A ledger
    /// that another process created since this store was opened is read too.
    fn query<T>(
        &self,
        empty: T,
        f: impl FnOnce(&Db) -> Result<T, LedgerError>,
    ) -> Result<T, StoreError> {
        let mut db = self.read();
        if db.is_none() {
            *db = Db::open_read_only(&self.path)?;
        }
        match db.as_ref() {
            Some(db) => Ok(f(db)?),
            None => Ok(empty),
        }
    }

    /// Whether a ledger exists (or was opened) yet.
    pub(super) fn has_ledger(&self) -> bool {
        self.read().is_some() || self.path.exists()
    }
}

/// A poisoned lock is still usable: SQLite's transactions roll back on a
/// panic, and the other guarded values are plain data.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

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
        self.write(|db| db.assemble(slot, number, selection))
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
        _rendered: Option<&[u8]>,
    ) -> Result<FrozenIssue, StoreError> {
        self.write(|db| db.assemble(slot, number, selection))?;
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
        Ok(FrozenIssue {
            record,
            rendered: None,
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
        let mut watched = lock(&self.watched);
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

    async fn finish(&self, slot: NaiveDate) -> Result<IssueStatus, StoreError> {
        self.write(|db| db.finish(slot))
    }
}
