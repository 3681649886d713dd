//! What can go wrong in the store, on either engine.
//!
//! Owns [`StoreError`] and its messages. It must not decide anything about
//! retrying or exit codes: `StoreError::is_unreachable` says what happened,
//! the callers decide.

use std::path::PathBuf;

use super::records::LedgerError;

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
    Erase(#[from] crate::list::erase::EraseError),
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
    #[error(
        "the unsubscribe secret is not set: erased readers cannot be recognised without it; set the variable `unsubscribe.secret_env` names (the secret `send` uses) and run the command again"
    )]
    NoKeyer,
    /// A backup or restore that cannot be made as asked (the message says
    /// why and what to do instead).
    #[error("{0}")]
    Backup(String),
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
