//! The store: the send ledger recording every issue and every recipient of it,
//! and, on the shared engine, the list, the suppressions and the sign-up state.
//!
//! Owns all SQL (schema, numbered migrations under `migrations/`, queries). An
//! issue moves assembled → sending → sent; a recipient pending → in_flight →
//! sent | retrying | failed | bounced | uncertain (in flight when a run died) |
//! skipped (suppressed after the list was frozen). It decides nothing about
//! sending: `send` drives it.
//!
//! Two engines behind one front, [`Store`], chosen by the `[store] url`'s
//! scheme ([`StoreUrl`]): absent or `sqlite:` is the embedded default (the
//! [`Ledger`] file under `state.dir`, the list in CSV files, one host);
//! `postgres://` is [`PgStore`], shared by every host naming the same URL.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDate;

use crate::content::issue::{PastIssue, Selection};

mod event;
mod postgres;
mod sqlite;
mod url;
pub use event::{Consequence, Event, EventKind, EventRecord, Recorded};
pub use postgres::{
    Erasure, Forgotten, FrozenIssue, PgStore, StoredReader, StoredSubscriber, StoredSuppression,
};
pub use sqlite::Ledger;
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

/// Errors of the store front and the shared engine.
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
    /// The list file (what the file engine's list commands point at).
    pub subscribers_path: PathBuf,
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
        })
    }
}

/// The store front: one interface over the two engines.
pub enum Store {
    /// The embedded default: one SQLite ledger file, one host.
    Sqlite {
        /// The ledger (a blocking connection; its calls are short).
        ledger: std::sync::Mutex<Ledger>,
        /// The list file, for messages.
        subscribers_path: PathBuf,
    },
    /// PostgreSQL, shared by several hosts.
    Postgres(PgStore),
}

/// What `check` reports about the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreReport {
    /// The store, password redacted.
    pub shown: String,
    /// Whether it is the shared engine.
    pub shared: bool,
    /// The schema version found (0: none yet).
    pub version: i64,
    /// The newest version this tipsheet knows.
    pub known: i64,
}

/// The shared store named by `url`, with `settings`' password, lease and flush.
fn shared_store(url: &url::PostgresUrl, settings: &StoreSettings) -> Result<PgStore, StoreError> {
    PgStore::new(
        url,
        settings.password.as_deref(),
        settings.lease,
        settings.synchronous_commit,
    )
}

impl Store {
    /// Opens the store for writing, creating and migrating its schema.
    pub async fn open(settings: &StoreSettings) -> Result<Self, StoreError> {
        match &settings.url {
            StoreUrl::Sqlite(path) => {
                let ledger = Ledger::open(path)?;
                if settings.synchronous_commit {
                    ledger.flush_every_commit()?;
                }
                Ok(Self::Sqlite {
                    ledger: std::sync::Mutex::new(ledger),
                    subscribers_path: settings.subscribers_path.clone(),
                })
            }
            StoreUrl::Postgres(url) => {
                let pg = shared_store(url, settings)?;
                pg.migrate().await?;
                Ok(Self::Postgres(pg))
            }
        }
    }

    /// Opens the store to read, creating nothing; `None` if it has no schema yet.
    pub async fn open_read_only(settings: &StoreSettings) -> Result<Option<Self>, StoreError> {
        match &settings.url {
            StoreUrl::Sqlite(path) => Ok(Ledger::open_read_only(path)?.map(|l| Self::Sqlite {
                ledger: std::sync::Mutex::new(l),
                subscribers_path: settings.subscribers_path.clone(),
            })),
            StoreUrl::Postgres(url) => {
                let pg = shared_store(url, settings)?;
                let found = pg.schema_version().await?;
                let known = PgStore::known_version();
                if found > known {
                    return Err(StoreError::TooNew {
                        store: url.to_string(),
                        found,
                        known,
                    });
                }
                Ok((found == known).then_some(Self::Postgres(pg)))
            }
        }
    }

    /// Where the store is, its reachability and schema version; creates nothing.
    pub async fn report(settings: &StoreSettings) -> Result<StoreReport, StoreError> {
        match &settings.url {
            StoreUrl::Sqlite(path) => Ok(StoreReport {
                shown: settings.url.to_string(),
                shared: false,
                version: sqlite::version_of(path)?,
                known: sqlite::known_version(),
            }),
            StoreUrl::Postgres(url) => {
                let pg = shared_store(url, settings)?;
                Ok(StoreReport {
                    shown: url.to_string(),
                    shared: true,
                    version: pg.schema_version().await?,
                    known: PgStore::known_version(),
                })
            }
        }
    }

    /// Whether several hosts share this store.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// The store, password redacted.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite { ledger, .. } => format!("sqlite:{}", lock(ledger).path().display()),
            Self::Postgres(pg) => pg.url().to_string(),
        }
    }

    /// The shared engine, for its list and lease operations; the file
    /// engine's answer is that the list is the file.
    pub fn shared(&self) -> Result<&PgStore, StoreError> {
        match self {
            Self::Postgres(pg) => Ok(pg),
            Self::Sqlite {
                subscribers_path, ..
            } => Err(StoreError::ListIsFile {
                path: subscribers_path.clone(),
            }),
        }
    }

    /// Every recorded issue's selection, for rotation.
    pub async fn history(&self) -> Result<Vec<PastIssue>, StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).history()?),
            Self::Postgres(pg) => pg.history().await,
        }
    }

    /// All issues, oldest first.
    pub async fn issues(&self) -> Result<Vec<IssueRecord>, StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).issues()?),
            Self::Postgres(pg) => pg.issues().await,
        }
    }

    /// One issue by slot date.
    pub async fn issue(&self, slot: NaiveDate) -> Result<Option<IssueRecord>, StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).issue(slot)?),
            Self::Postgres(pg) => pg.issue(slot).await,
        }
    }

    /// One issue by number.
    pub async fn issue_by_number(&self, number: u32) -> Result<Option<IssueRecord>, StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).issue_by_number(number)?),
            Self::Postgres(pg) => pg.issue_by_number(number).await,
        }
    }

    /// Records an issue's frozen selection (no-op if the slot already has one).
    pub async fn assemble(
        &self,
        slot: NaiveDate,
        number: u32,
        selection: &Selection,
    ) -> Result<(), StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).assemble(slot, number, selection)?),
            Self::Postgres(pg) => pg.assemble(slot, number, selection, None).await,
        }
    }

    /// Freezes the given recipient set (key, address, name) and marks the
    /// issue `sending`, in one transaction; nothing if it left `assembled`.
    /// A list that ends in an error freezes nobody: the error comes back
    /// inside `Ok`, and the issue stays `assembled` for the next run.
    pub async fn freeze<I, E>(
        &self,
        slot: NaiveDate,
        recipients: I,
    ) -> Result<Result<u64, E>, StoreError>
    where
        I: IntoIterator<Item = Result<(String, String, String), E>>,
    {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).freeze(slot, recipients)?),
            Self::Postgres(pg) => {
                let mut rows = Vec::new();
                for r in recipients {
                    match r {
                        Ok(r) => rows.push(r),
                        Err(e) => return Ok(Err(e)),
                    }
                }
                pg.freeze(slot, &rows).await.map(Ok)
            }
        }
    }

    /// Assembles the issue of `slot` on first use. On the shared engine, the
    /// first host also freezes the rendered issue and the recipient set (from
    /// the stored list) in the same transaction, and every host gets back what
    /// was frozen. On the file engine the caller freezes the list from the file
    /// while the record says `assembled`; `rendered` is not kept.
    pub async fn freeze_issue(
        &self,
        slot: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: Option<&[u8]>,
    ) -> Result<FrozenIssue, StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => {
                let l = lock(ledger);
                l.assemble(slot, number, selection)?;
                let record = l.issue(slot)?.ok_or_else(|| StoreError::Database {
                    store: l.path().display().to_string(),
                    detail: format!("issue `{slot}` vanished right after it was assembled"),
                })?;
                Ok(FrozenIssue {
                    record,
                    rendered: None,
                    added: None,
                })
            }
            Self::Postgres(pg) => pg.freeze_issue(slot, number, selection, rendered).await,
        }
    }

    /// Recipients left in flight by a run that died become `uncertain`
    /// (on the shared engine: only those whose host's lease expired).
    pub async fn recover(&self, slot: NaiveDate) -> Result<u64, StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).recover(slot)?),
            Self::Postgres(pg) => pg.recover(slot).await,
        }
    }

    /// The next recipients with one of `statuses`, by key after `after`: read only.
    pub async fn due(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).due(slot, statuses, after, limit)?),
            Self::Postgres(pg) => pg.due(slot, statuses, after, limit).await,
        }
    }

    /// The next page to send, claimed for this host: on the file engine the
    /// run lock already makes it ours, so this is [`Store::due`]; on the
    /// shared engine rows another host holds are skipped and ours are leased.
    pub async fn claim(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        match self {
            Self::Sqlite { .. } => self.due(slot, statuses, after, limit).await,
            Self::Postgres(pg) => pg.claim(slot, statuses, after, limit).await,
        }
    }

    /// Renews this host's leases (nothing to do on the file engine).
    pub async fn renew(&self, slot: NaiveDate) -> Result<u64, StoreError> {
        match self {
            Self::Sqlite { .. } => Ok(0),
            Self::Postgres(pg) => pg.renew(slot).await,
        }
    }

    /// Gives back this host's claims on rows not in flight (a clean stop).
    pub async fn release(&self, slot: NaiveDate) -> Result<u64, StoreError> {
        match self {
            Self::Sqlite { .. } => Ok(0),
            Self::Postgres(pg) => pg.release(slot).await,
        }
    }

    /// Recipients of an issue with one of `statuses`, by key.
    pub async fn recipients(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        self.due(slot, statuses, "", i64::MAX as usize).await
    }

    /// Marks `in_flight` keys in flight and records `outcomes`, in one transaction.
    pub async fn commit(
        &self,
        slot: NaiveDate,
        in_flight: &[&str],
        outcomes: &[Outcome],
    ) -> Result<(), StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).commit(slot, in_flight, outcomes)?),
            Self::Postgres(pg) => pg.commit(slot, in_flight, outcomes).await,
        }
    }

    /// Whether the send loop's group commits wait for the disk, as the engine
    /// itself reports it (`[store] synchronous_commit`).
    pub async fn group_commits_wait_for_disk(&self) -> Result<bool, StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).flushes_every_commit()?),
            Self::Postgres(pg) => pg.group_commits_wait_for_disk().await,
        }
    }

    /// Counts by status for one issue.
    pub async fn counts(&self, slot: NaiveDate) -> Result<Counts, StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).counts(slot)?),
            Self::Postgres(pg) => pg.counts(slot).await,
        }
    }

    /// Marks the issue `sent` when nobody is left open; returns its status.
    pub async fn finish(&self, slot: NaiveDate) -> Result<IssueStatus, StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(lock(ledger).finish(slot)?),
            Self::Postgres(pg) => pg.finish(slot).await,
        }
    }

    /// The schema version in use.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        match self {
            Self::Sqlite { ledger, .. } => Ok(sqlite::version_of(lock(ledger).path())?),
            Self::Postgres(pg) => pg.schema_version().await,
        }
    }
}

/// What planning and the read-only commands need from the ledger, read at once:
/// every issue, the counts of each, and the open recipients of one issue.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    issues: Vec<IssueRecord>,
    counts: std::collections::HashMap<NaiveDate, Counts>,
    detail: Option<(NaiveDate, Vec<RecipientRecord>)>,
    /// On the shared store: some host holds live leases on the detail issue.
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
    /// All issues, oldest first.
    pub fn issues(&self) -> Result<Vec<IssueRecord>, StoreError> {
        Ok(self.issues.clone())
    }
    /// One issue by slot date.
    pub fn issue(&self, slot: NaiveDate) -> Result<Option<IssueRecord>, StoreError> {
        Ok(self.issues.iter().find(|i| i.slot == slot).cloned())
    }
    /// One issue by number.
    pub fn issue_by_number(&self, number: u32) -> Result<Option<IssueRecord>, StoreError> {
        Ok(self.issues.iter().find(|i| i.number == number).cloned())
    }
    /// Every recorded issue's selection, for rotation.
    pub fn history(&self) -> Result<Vec<PastIssue>, StoreError> {
        Ok(self
            .issues
            .iter()
            .map(|i| PastIssue {
                number: i.number,
                selection: i.selection.clone(),
            })
            .collect())
    }
    /// Counts by status for one issue.
    pub fn counts(&self, slot: NaiveDate) -> Result<Counts, StoreError> {
        Ok(self.counts.get(&slot).cloned().unwrap_or_default())
    }
    /// Whether a host (any host, on the shared store) is sending the detail
    /// issue right now, so that its in-flight recipients are really in flight.
    pub fn sending(&self) -> bool {
        self.sending
    }
    /// The detail issue's recipients with one of `statuses` (a subset of
    /// [`DETAIL_STATUSES`]); empty for any other issue.
    pub fn recipients(
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

impl Store {
    /// Reads a [`Snapshot`], with the open recipients of `detail` if given.
    pub async fn snapshot(&self, detail: Option<NaiveDate>) -> Result<Snapshot, StoreError> {
        let issues = self.issues().await?;
        let mut counts = std::collections::HashMap::new();
        for i in &issues {
            counts.insert(i.slot, self.counts(i.slot).await?);
        }
        let mut sending = false;
        let detail = match detail {
            Some(slot) => {
                if let Self::Postgres(pg) = self {
                    sending = pg.live_leases(slot).await? > 0;
                }
                Some((slot, self.recipients(slot, &DETAIL_STATUSES).await?))
            }
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

/// Reads a [`Snapshot`] of the store `config` names, creating nothing; `None`
/// when there is no ledger (or schema) yet. Blocking; callable from anywhere,
/// inside an async runtime too (it then runs on a thread of its own).
pub fn snapshot(
    config: &crate::config::Config,
    detail: Option<NaiveDate>,
) -> Result<Option<Snapshot>, StoreError> {
    let settings = StoreSettings::from_config(config)?;
    blocking(&settings, async |store| match store {
        Some(store) => store.snapshot(detail).await.map(Some),
        None => Ok(None),
    })
}

/// Streams the shared store's list to `visit`, each subscriber with whether
/// it is suppressed, creating nothing; `false` when the store has no schema
/// yet (nothing imported). Blocking, like [`snapshot`].
pub fn walk_shared_list(
    settings: &StoreSettings,
    visit: impl FnMut(StoredSubscriber, bool) + Send,
) -> Result<bool, StoreError> {
    blocking(settings, async |store| match store {
        Some(store) => store.shared()?.walk_subscribers(visit).await.map(|_| true),
        None => Ok(false),
    })
}

/// Runs `op` on the store opened read-only (`None`: no ledger or schema yet)
/// on a runtime of its own: on this thread, or, inside an async runtime, on a
/// thread of its own.
fn blocking<T: Send>(
    settings: &StoreSettings,
    op: impl AsyncFnOnce(Option<&Store>) -> Result<T, StoreError> + Send,
) -> Result<T, StoreError> {
    let read = move || -> Result<T, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database {
                store: settings.url.to_string(),
                detail: format!("cannot start the async runtime: {e}"),
            })?;
        rt.block_on(async {
            let store = Store::open_read_only(settings).await?;
            op(store.as_ref()).await
        })
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(read).join().unwrap_or_else(|_| {
                Err(StoreError::Database {
                    store: String::new(),
                    detail: "the store reader thread panicked".into(),
                })
            })
        })
    } else {
        read()
    }
}

/// The ledger's lock; a panic while holding it cannot leave SQLite half-written
/// (its transactions roll back), so a poisoned lock is still usable.
fn lock(m: &std::sync::Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Ledger errors.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// SQLite failed.
    #[error("ledger `{path}`: {source}")]
    Sqlite {
        /// The ledger file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The state folder cannot be created.
    #[error("cannot create state folder `{path}`: {source} (check `state.dir` in config.toml)")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was written by a newer tipsheet.
    #[error(
        "ledger `{path}` has schema version {found}, newer than this tipsheet understands ({known}); upgrade tipsheet"
    )]
    TooNew {
        /// The ledger file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Newest version known here.
        known: i64,
    },
}

/// An issue's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueStatus {
    /// Content chosen and frozen; nobody mailed yet.
    Assembled,
    /// Recipients frozen; a send started and has not finished everyone.
    Sending,
    /// Every recipient reached a final state.
    Sent,
}

/// A recipient's lifecycle within one issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecipientStatus {
    /// Not tried yet.
    Pending,
    /// Handed to a worker; not yet confirmed.
    InFlight,
    /// The server answered 250.
    Sent,
    /// A transient failure; will be tried again in this run.
    Retrying,
    /// Transient failures used up this run's attempts; the next send retries.
    Failed,
    /// A permanent (5xx) failure; suppressed.
    Bounced,
    /// In flight when a run died: the server may or may not have it.
    Uncertain,
    /// Unsubscribed after the list was frozen.
    Skipped,
}

impl RecipientStatus {
    /// All statuses, in display order.
    pub const ALL: [RecipientStatus; 8] = [
        Self::Pending,
        Self::InFlight,
        Self::Sent,
        Self::Retrying,
        Self::Failed,
        Self::Bounced,
        Self::Uncertain,
        Self::Skipped,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Sent => "sent",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Bounced => "bounced",
            Self::Uncertain => "uncertain",
            Self::Skipped => "skipped",
        }
    }
}

impl fmt::Display for RecipientStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecipientStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown recipient status `{s}`"))
    }
}

impl IssueStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assembled => "assembled",
            Self::Sending => "sending",
            Self::Sent => "sent",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            _ => Self::Assembled,
        }
    }
}

impl fmt::Display for IssueStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An issue as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRecord {
    /// Slot date, `YYYY-MM-DD`.
    pub slot: chrono::NaiveDate,
    /// Issue number.
    pub number: u32,
    /// The frozen selection.
    pub selection: Selection,
    /// Lifecycle.
    pub status: IssueStatus,
    /// RFC 3339 times.
    pub assembled_at: String,
    /// When the first send started.
    pub started_at: Option<String>,
    /// When the last recipient reached a final state.
    pub finished_at: Option<String>,
}

/// A recipient as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRecord {
    /// Normalized address (the key).
    pub key: String,
    /// Address as written in the list.
    pub address: String,
    /// Name at freeze time.
    pub name: String,
    /// Lifecycle.
    pub status: RecipientStatus,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Last SMTP reply code.
    pub last_code: Option<u16>,
    /// Last SMTP reply text.
    pub last_reply: Option<String>,
    /// The Message-ID sent.
    pub message_id: Option<String>,
    /// RFC 3339.
    pub updated_at: String,
}

/// The result of one delivery, to record.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Normalized address.
    pub key: String,
    /// New status.
    pub status: RecipientStatus,
    /// Attempts made in this run (added to the stored count).
    pub attempts: u32,
    /// SMTP reply code.
    pub code: Option<u16>,
    /// SMTP reply text (or the error).
    pub reply: Option<String>,
    /// The Message-ID.
    pub message_id: Option<String>,
}

/// Counts by status for one issue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// (status, count), zero counts left out.
    pub by_status: Vec<(RecipientStatus, u64)>,
}

impl Counts {
    /// The count for one status.
    pub fn get(&self, s: RecipientStatus) -> u64 {
        self.by_status
            .iter()
            .find(|(k, _)| *k == s)
            .map_or(0, |(_, n)| *n)
    }
    /// Counts in-flight recipients as uncertain (when no run is active, they are).
    pub fn fold_in_flight(&mut self) {
        let n = self.get(RecipientStatus::InFlight);
        if n == 0 {
            return;
        }
        self.by_status
            .retain(|(s, _)| *s != RecipientStatus::InFlight);
        match self
            .by_status
            .iter_mut()
            .find(|(s, _)| *s == RecipientStatus::Uncertain)
        {
            Some((_, m)) => *m += n,
            None => self.by_status.push((RecipientStatus::Uncertain, n)),
        }
        self.by_status.sort();
    }

    /// All recipients.
    pub fn total(&self) -> u64 {
        self.by_status.iter().map(|(_, n)| n).sum()
    }
    /// Recipients not yet in a final state for this issue.
    pub fn open(&self) -> u64 {
        [
            RecipientStatus::Pending,
            RecipientStatus::InFlight,
            RecipientStatus::Retrying,
            RecipientStatus::Failed,
            RecipientStatus::Uncertain,
        ]
        .iter()
        .map(|s| self.get(*s))
        .sum()
    }
}

/// One reader's row in one issue (what `subscribers show` lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderRow {
    /// Slot date of the issue.
    pub slot: String,
    /// Its number.
    pub number: u32,
    /// The recipient row.
    pub recipient: RecipientRecord,
}

/// One inbound event (bounce, complaint, …) of a reader, as `subscribers
/// show` lists it. Read only where the ledger has an `events` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderEvent {
    /// Its kind as stored (`hard_bounce`, `complaint`, …).
    pub kind: String,
    /// The issue's slot date, when known.
    pub slot: Option<String>,
    /// Where it came from.
    pub source: String,
    /// Enhanced status code, when given.
    pub status: Option<String>,
    /// The provider's reason text.
    pub reason: String,
    /// When it happened, RFC 3339.
    pub at: String,
}
