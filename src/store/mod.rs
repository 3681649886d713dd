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
//! (the list's users: planning, the web, privacy, `subscribers`) and
//! [`Feedback`] (mail that came back). Two engines implement all three, and
//! one is chosen once, here, by the `[store] url`'s scheme ([`StoreUrl`]):
//! absent or `sqlite:` is the embedded engine (`sqlite/`: the ledger file
//! under `state.dir`, the list in CSV files, one host); `postgres://` is the
//! shared engine (`postgres/`), used by every host naming the same URL.
//! Nothing outside this folder names an engine.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::content::issue::Selection;
use crate::list::privacy::Keyer;

mod event;
mod feedback;
mod ledger;
mod postgres;
mod records;
mod roster;
mod sqlite;
mod url;
pub use event::{Consequence, Event, EventKind, EventRecord, FailureDetail, Recorded};
pub use feedback::Feedback;
pub use ledger::{Claimed, DETAIL_STATUSES, Exclusive, Frozen, Ledger, Snapshot};
pub use records::*;
pub use roster::Roster;
pub use url::{PostgresUrl, StoreUrl, URL_ENV, UrlError, redact};

/// Now, as the ledger writes times (RFC 3339, milliseconds, UTC).
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A selection read back from the `comparisons` (joined by `,`) and `tip`
/// columns, as both engines store it.
fn stored_selection(comparisons: &str, tip: String) -> Selection {
    Selection {
        comparisons: comparisons
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        tip,
    }
}

/// Errors of the store and its engines.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded engine failed.
    #[error(transparent)]
    Ledger(Box<LedgerError>),
    /// The URL cannot be used.
    #[error("store `{store}`: {detail} (check `[store] url` or `TIPSHEET_DATABASE_URL`)")]
    Url {
        /// The URL, password redacted.
        store: String,
        /// What is wrong.
        detail: String,
    },
    /// The database cannot be reached, or the connection dropped and retries ran out.
    #[error(
        "store `{store}` cannot be reached: {detail} (is the server up? check `[store] url` and the password variable)"
    )]
    Unreachable {
        /// The URL, password redacted.
        store: String,
        /// The driver's words.
        detail: String,
    },
    /// The database refused a statement.
    #[error("store `{store}`: {detail}")]
    Database {
        /// The URL, password redacted.
        store: String,
        /// The driver's words.
        detail: String,
    },
    /// The database was migrated by a newer tipsheet.
    #[error(
        "store `{store}` has schema version {found}, newer than this tipsheet understands ({known}); upgrade tipsheet"
    )]
    TooNew {
        /// The URL, password redacted.
        store: String,
        /// Version in the database.
        found: i64,
        /// Newest version known here.
        known: i64,
    },
    /// A send holds the run lock (the embedded engine, one send at a time).
    #[error("another tipsheet run holds `{}`; wait for it to finish", .0.display())]
    Locked(PathBuf),
    /// The state folder or its lock file cannot be used.
    #[error("{what} `{}`: {source}", path.display())]
    State {
        /// What was being done.
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The list cannot be read whole.
    #[error(transparent)]
    List(#[from] crate::list::ListError),
    /// A list file cannot be rewritten (an erasure).
    #[error(transparent)]
    Erase(#[from] crate::list::privacy::EraseError),
    /// A list file cannot be appended to.
    #[error("cannot update {what} `{}`: {source} (check `subscribers.path`, `subscribers.suppressed_path` and the folder's permissions)", path.display())]
    Write {
        /// Which list.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Erased readers' pseudonyms need the unsubscribe secret.
    #[error("the unsubscribe secret is not set: erased readers cannot be recognised without it")]
    NoKeyer,
    /// A list operation on the file engine, whose list is the CSV file.
    #[error(
        "the list is the file `{path}` (the store is the embedded SQLite ledger): edit that file; set `[store] url` to a `postgres://` URL to keep the list in PostgreSQL"
    )]
    ListIsFile {
        /// `subscribers.path`.
        path: PathBuf,
    },
}

impl From<LedgerError> for StoreError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(Box::new(e))
    }
}

impl StoreError {
    /// Whether the database is out of reach (as opposed to answering with an error).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

/// What a config says about its store, secrets resolved from the environment.
#[derive(Clone)]
pub struct StoreSettings {
    /// The engine and where it is.
    pub url: StoreUrl,
    /// The password from `[store] password_env`, when set.
    pub password: Option<String>,
    /// How long a claim on recipients holds without renewal.
    pub lease: Duration,
    /// `[store] synchronous_commit`: whether the send loop's group commits
    /// wait for the disk (SQLite `synchronous = FULL`, PostgreSQL's WAL flush).
    pub synchronous_commit: bool,
    /// The list file (the embedded engine's list).
    pub subscribers_path: PathBuf,
    /// The suppression file (the embedded engine's suppressions).
    pub suppressed_path: PathBuf,
    /// `state.dir` (the embedded engine's run lock).
    pub state_dir: PathBuf,
    /// Recognises erased readers' keyed hashes (`None` without a secret).
    pub keyer: Option<Keyer>,
}

impl fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSettings")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("lease", &self.lease)
            .field("synchronous_commit", &self.synchronous_commit)
            .finish()
    }
}

impl StoreSettings {
    /// Reads `[store]`, with `TIPSHEET_DATABASE_URL` overriding `url` whole and
    /// the password from the variable `password_env` names.
    /// Erased readers are recognised through `keyer`.
    pub fn from_config(config: &crate::config::Config) -> Result<Self, StoreError> {
        let env_url = std::env::var(URL_ENV).ok().filter(|u| !u.trim().is_empty());
        let raw = env_url.or_else(|| config.store.url.clone());
        let url =
            match raw {
                None => StoreUrl::Sqlite(config.ledger_path()),
                Some(raw) => StoreUrl::parse(&raw, &config.base_dir(), &config.ledger_path())
                    .map_err(|e| StoreError::Url {
                        store: redact(&raw),
                        detail: e.to_string(),
                    })?,
            };
        Ok(Self {
            url,
            password: std::env::var(&config.store.password_env)
                .ok()
                .filter(|p| !p.is_empty()),
            lease: Duration::from_secs(config.store.lease_seconds),
            synchronous_commit: config.store.synchronous_commit,
            subscribers_path: config.subscribers.path.clone(),
            suppressed_path: config.subscribers.suppressed_path.clone(),
            state_dir: config.state.dir.clone(),
            keyer: None,
        })
    }
}

/// Everything a store does: the three sides, on one engine.
pub trait Engine: Ledger + Roster + Feedback {}
impl<T: Ledger + Roster + Feedback> Engine for T {}

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
    url: &url::PostgresUrl,
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

/// An embedded store over the files under `dir` (`l.sqlite3`, `subscribers.csv`,
/// `state/`) with the suppression list at `suppressed`, for unit tests.
#[cfg(test)]
pub(crate) async fn embedded_for_test(
    dir: &std::path::Path,
    suppressed: &std::path::Path,
    keyer: Keyer,
) -> Store {
    let settings = StoreSettings {
        url: StoreUrl::Sqlite(dir.join("l.sqlite3")),
        password: None,
        lease: Duration::from_secs(60),
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
