//! The store: the send ledger recording every issue and every recipient of
//! it, the list and its suppressions, the sign-up state, and the events that
//! came back.
//!
//! Owns all SQL and every write to the list files. An issue moves assembled
//! → sending → sent; a recipient pending → in_flight → sent | retrying |
//! failed | bounced | uncertain (in flight when a run died) | skipped
//! (suppressed after the list was frozen). It decides nothing about sending.
//!
//! The interface is declared by its consumers, one trait each: [`Ledger`]
//! (the delivery session, the run loop, the read-only commands), [`Roster`]
//! (the list's users: planning, the web, `reader_data`, `subscribers`),
//! [`Feedback`] (mail that came back), [`Feeds`] (`fetch`'s memory),
//! [`Approvals`] (the editorial loop), [`Limits`] (the public forms'
//! limits), [`Quotas`] (the run loop's send counts for `[delivery]`'s
//! caps), [`Accounts`] (the console: accounts, sessions, the audit log)
//! and [`Tallies`] (the dashboard's counts). Two engines implement all
//! nine, and
//! one is chosen once, here, by the `[store] url`'s scheme ([`StoreUrl`]):
//! absent or `sqlite:` is the embedded engine (`sqlite/`: the ledger file
//! under `state.dir`, the list in CSV files, one host); `postgres://` is the
//! shared engine (`postgres/`), used by every host naming the same URL.
//! Nothing outside this folder names an engine.
//!
//! This file is the front only: [`Store`], [`Engine`], opening and
//! [`Store::report`], and the re-exports. The errors are in `error.rs`, the
//! settings in `settings.rs`, the records in `records.rs` and `event.rs`, the
//! shared column formats in `columns.rs`; the files of this folder import
//! from those, never from here.

use std::sync::Arc;

mod accounts;
mod approvals;
mod columns;
mod error;
mod event;
mod feedback;
mod feeds;
mod ledger;
mod limits;
mod postgres;
mod quota;
mod records;
mod roster;
mod settings;
mod sqlite;
mod tallies;
mod url;

pub use accounts::{Account, Accounts, AuditEntry, Removal, Role, RoleChange, SessionRecord};
pub use approvals::{Approval, Approvals, Staged};
pub use error::StoreError;
pub use event::{Consequence, Event, EventKind, EventRecord, FailureDetail, Recorded};
pub use feedback::Feedback;
pub use feeds::{FeedOutcome, Feeds, Validators};
pub use ledger::{
    Claimed, DETAIL_STATUSES, Exclusive, Frozen, Hold, Ledger, PauseRecord, Snapshot,
};
pub(crate) use limits::mailbox_key;
pub use limits::{Counted, Hit, LimitScope, Limits};
pub use quota::{Quotas, Reserved, Window};
pub use records::{
    Counts, Erasure, Forgotten, FrozenIssue, Held, IssueRecord, IssueStatus, LedgerError, Outcome,
    Places, ReaderEvent, ReaderRow, RecipientRecord, RecipientStatus, StoredReader,
    StoredSubscriber, StoredSuppression,
};
pub(crate) use roster::Roster;
pub use settings::StoreSettings;
pub use sqlite::backup::Copied;
pub use tallies::Tallies;
pub use url::{PostgresUrl, StoreUrl, URL_ENV, UrlError};

/// Everything a store does: the nine sides, on one engine.
pub trait Engine:
    Ledger + Roster + Feedback + Feeds + Approvals + Limits + Quotas + Accounts + Tallies
{
}
impl<T> Engine for T where
    T: Ledger + Roster + Feedback + Feeds + Approvals + Limits + Quotas + Accounts + Tallies
{
}

/// The configured store: one engine, chosen once when it is opened; a clone
/// shares it.
#[derive(Clone)]
pub struct Store(Arc<dyn Engine>);

impl std::ops::Deref for Store {
    type Target = dyn Engine;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// What `check` reports about the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreReport {
    /// The store, password redacted.
    pub shown: String,
    /// What `check` says of the engine before the version, e.g.
    /// "(SQLite, this host only): ".
    pub engine: &'static str,
    /// What a version of 0 means for it.
    pub empty: &'static str,
    /// The schema version found (0: none yet).
    pub version: i64,
    /// The newest version this tipsheet knows.
    pub known: i64,
}

/// The shared store named by `url`, with `settings`' password, lease, flush and keyer.
fn shared_store(
    url: &PostgresUrl,
    settings: &StoreSettings,
) -> Result<postgres::PgStore, StoreError> {
    postgres::PgStore::new(
        url,
        settings.password.as_deref(),
        settings.lease,
        settings.synchronous_commit,
        settings.keyer.clone(),
    )
}

impl Store {
    /// Opens the store for writing, creating and migrating its schema.
    pub async fn open(settings: &StoreSettings) -> Result<Self, StoreError> {
        Ok(Self(match &settings.url {
            StoreUrl::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path, settings)?),
            StoreUrl::Postgres(url) => {
                let pg = shared_store(url, settings)?;
                pg.migrate().await?;
                Arc::new(pg)
            }
        }))
    }

    /// Opens the store to read, creating nothing; `None` when nothing was
    /// ever recorded there (no ledger, or no schema yet).
    pub async fn open_read_only(settings: &StoreSettings) -> Result<Option<Self>, StoreError> {
        if let StoreUrl::Sqlite(path) = &settings.url
            && sqlite::version_of(path)? == 0
        {
            return Ok(None);
        }
        Self::open_to_read(settings).await
    }

    /// Opens the store to read, creating nothing. `None` when the store can
    /// hold nothing yet (a shared store with no schema); the embedded
    /// engine's list files are its list whether or not a ledger exists, so it
    /// always opens, its ledger reading as empty until one is written.
    pub async fn open_to_read(settings: &StoreSettings) -> Result<Option<Self>, StoreError> {
        Ok(Some(Self(match &settings.url {
            StoreUrl::Sqlite(path) => {
                Arc::new(sqlite::SqliteStore::open_read_only(path, settings)?)
            }
            StoreUrl::Postgres(url) => {
                let pg = shared_store(url, settings)?;
                let found = postgres::PgStore::schema_version(&pg).await?;
                let known = postgres::PgStore::known_version();
                if found > known {
                    return Err(StoreError::TooNew {
                        store: url.to_string(),
                        found,
                        known,
                    });
                }
                if found < known {
                    return Ok(None);
                }
                Arc::new(pg)
            }
        })))
    }

    /// Where the store is, its reachability and schema version; creates nothing.
    pub async fn report(settings: &StoreSettings) -> Result<StoreReport, StoreError> {
        match &settings.url {
            StoreUrl::Sqlite(path) => Ok(StoreReport {
                shown: settings.url.to_string(),
                engine: "(SQLite, this host only): ",
                empty: "no ledger yet (the first `send` creates it)",
                version: sqlite::version_of(path)?,
                known: sqlite::known_version(),
            }),
            StoreUrl::Postgres(url) => {
                let pg = shared_store(url, settings)?;
                Ok(StoreReport {
                    shown: url.to_string(),
                    engine: "(PostgreSQL, shared): reachable, ",
                    empty: "no tipsheet schema yet (`tipsheet subscribers import FILE` or the first `send` creates it)",
                    version: postgres::PgStore::schema_version(&pg).await?,
                    known: postgres::PgStore::known_version(),
                })
            }
        }
    }
}

/// `tipsheet backup`: the embedded engine's ledger (SQLite's online backup,
/// while a send may run) and list files into the new folder `out`; on
/// PostgreSQL, [`StoreError::Backup`] with the `pg_dump` command to run.
pub fn backup(settings: &StoreSettings, out: &std::path::Path) -> Result<Copied, StoreError> {
    match &settings.url {
        StoreUrl::Sqlite(path) => sqlite::backup::backup(&live(settings, path), out),
        StoreUrl::Postgres(url) => Err(StoreError::Backup(format!(
            "the store is PostgreSQL, which `tipsheet backup` does not copy; take a consistent dump (hosts may keep running) with (the password in PGPASSWORD, from the variable `[store] password_env` names):\n  pg_dump --format=custom --file=tipsheet.dump '{url}'"
        ))),
    }
}

/// `tipsheet restore`: a backup folder written back, under the run lock
/// ([`StoreError::Locked`] while a send runs), refused when its schema is
/// newer than this tipsheet's; on PostgreSQL, the `pg_restore` command.
pub fn restore(settings: &StoreSettings, from: &std::path::Path) -> Result<Copied, StoreError> {
    match &settings.url {
        StoreUrl::Sqlite(path) => sqlite::backup::restore(&live(settings, path), from),
        StoreUrl::Postgres(url) => Err(StoreError::Backup(format!(
            "the store is PostgreSQL, which `tipsheet restore` does not write; stop every tipsheet host, then (the password in PGPASSWORD):\n  pg_restore --clean --if-exists --dbname='{url}' tipsheet.dump"
        ))),
    }
}

fn live<'a>(settings: &'a StoreSettings, ledger: &'a std::path::Path) -> sqlite::backup::Live<'a> {
    sqlite::backup::Live {
        ledger,
        state_dir: &settings.state_dir,
        list: &settings.subscribers_path,
        suppressed: &settings.suppressed_path,
    }
}

/// An embedded store over the files under `dir` (`l.sqlite3`, `subscribers.csv`,
/// `state/`) with the suppression list at `suppressed`, for unit tests.
#[cfg(test)]
pub(crate) async fn embedded_for_test(
    dir: &std::path::Path,
    suppressed: &std::path::Path,
    keyer: crate::list::keyer::Keyer,
) -> Store {
    let settings = StoreSettings {
        url: StoreUrl::Sqlite(dir.join("l.sqlite3")),
        password: None,
        lease: std::time::Duration::from_secs(60),
        synchronous_commit: false,
        subscribers_path: dir.join("subscribers.csv"),
        suppressed_path: suppressed.to_path_buf(),
        state_dir: dir.join("state"),
        keyer: Some(keyer),
    };
    match Store::open(&settings).await {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}
