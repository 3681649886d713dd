//! [`SqliteStore`]: the embedded engine's state (the ledger connection,
//! the list files' paths, the run's watched suppressions) and the three ways to reach its ledger: [`SqliteStore::read`],
//! [`SqliteStore::write`] (opening it for writing at the first write) and
//! [`SqliteStore::query`].
//!
//! Owns opening the store. It must not carry out the store traits: the
//! other files of this folder do, on what it holds.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::db::Db;
use super::index::SuppressionIndex;
use super::lock::Watched;
use crate::list::keyer::Keyer;
use crate::store::error::StoreError;
use crate::store::ledger::Ledger;
use crate::store::records::LedgerError;
use crate::store::settings::StoreSettings;

/// The embedded engine (see the module doc).
pub(crate) struct SqliteStore {
    pub(super) path: PathBuf,
    /// The ledger; `None` until one exists (a read-only store of a new site).
    pub(super) db: Mutex<Option<Db>>,
    /// Whether `db` was opened for writing (a store opened to read opens
    /// it again for writing at its first write).
    pub(super) writable: AtomicBool,
    pub(super) synchronous_commit: bool,
    pub(super) state_dir: PathBuf,
    pub(super) subscribers: PathBuf,
    pub(super) suppressed: PathBuf,
    pub(super) keyer: Option<Keyer>,
    /// Serializes this process's read-then-append on the list files, so that
    /// two simultaneous requests for one address write one row.
    pub(super) files: Mutex<()>,
    /// The suppression file as a run last read it.
    pub(super) watched: Mutex<Option<Watched>>,
    /// The suppression file as lookups last read it (again when it changes).
    pub(super) index: SuppressionIndex,
}

impl SqliteStore {
    /// Opens (creating and migrating) the ledger at `path`.
    pub(in crate::store) fn open(
        path: &Path,
        settings: &StoreSettings,
    ) -> Result<Self, StoreError> {
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
    pub(in crate::store) fn open_read_only(
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
            writable: AtomicBool::new(false),
            synchronous_commit: settings.synchronous_commit,
            state_dir: settings.state_dir.clone(),
            subscribers: settings.subscribers_path.clone(),
            suppressed: settings.suppressed_path.clone(),
            keyer: settings.keyer.clone(),
            index: SuppressionIndex::new(&settings.suppressed_path, settings.keyer.clone()),
            files: Mutex::new(()),
            watched: Mutex::new(None),
        }
    }

    /// The ledger, for a read: `None` when there is none yet.
    pub(super) fn read(&self) -> MutexGuard<'_, Option<Db>> {
        guard(&self.db)
    }

    /// Runs `f` on the ledger, opening (creating) it first if needed.
    pub(super) fn write<T>(
        &self,
        f: impl FnOnce(&mut Db) -> Result<T, LedgerError>,
    ) -> Result<T, StoreError> {
        let mut db = guard(&self.db);
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
    pub(super) fn query<T>(
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
pub(super) fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
