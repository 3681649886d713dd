//! Every way a command can fail, and the one place that maps each to its exit
//! code (the README's table), as just's `Error::code()` does.
//!
//! Owns the exit codes. Adding a kind means adding a variant here and its
//! line in [`Error::code`]; nothing else decides a code. It must not print:
//! the command line shows the message and its `source()` chain.

use crate::config::ConfigError;
use crate::delivery::SessionError;
use crate::editorial::EditorialError;
use crate::mail::PrepareError;
use crate::plan::PlanError;
use crate::reader_data::PrivacyError;
use crate::schedule::ScheduleError;
use crate::store::{LedgerError, StoreError};
use crate::web::ServerError;

/// Exit codes (documented in the README).
pub(crate) mod exit {
    /// All delivered, or nothing to do.
    pub(crate) const OK: u8 = 0;
    /// Some recipients ended `failed` (or `check` found errors).
    pub(crate) const FAILED: u8 = 1;
    /// Usage or config error.
    pub(crate) const USAGE: u8 = 2;
    /// Another run holds the lock.
    pub(crate) const LOCKED: u8 = 3;
    /// Interrupted by a signal; rerun to resume.
    pub(crate) const INTERRUPTED: u8 = 4;
    /// The shared store (PostgreSQL) was lost: what could be recorded was; rerun to resume.
    pub(crate) const STORE: u8 = 5;
    /// The issue awaits approval or is on hold: nothing was sent.
    pub(crate) const HELD: u8 = 6;
    /// A cap (`[delivery] max_per_hour`, `max_per_day`, the warm-up) was
    /// reached: the rest is pending; rerun at the time printed (`run` does).
    pub(crate) const QUOTA: u8 = 7;
    /// A message piped to `inbound -` could not be taken now (the store out
    /// of reach or busy): `EX_TEMPFAIL` (sysexits.h), so the mail system
    /// keeps it and retries.
    pub(crate) const TEMPFAIL: u8 = 75;
}

/// How a command that ran to its end came out (its exit code). Not
/// `store::Outcome`, which is one delivery's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Everything done, or nothing to do.
    Done,
    /// Some recipients ended `failed`, or `check` found errors.
    Failures,
    /// Stopped by SIGINT/SIGTERM; rerun to resume.
    Interrupted,
    /// Stopped at a cap with recipients pending; there is room again `until`.
    Quota {
        /// When to continue.
        until: chrono::DateTime<chrono::Utc>,
    },
}

impl Ending {
    /// The exit code.
    pub fn code(self) -> u8 {
        match self {
            Ending::Done => exit::OK,
            Ending::Failures => exit::FAILED,
            Ending::Interrupted => exit::INTERRUPTED,
            Ending::Quota { .. } => exit::QUOTA,
        }
    }
}

/// `From` for the errors that [`SessionError`] already holds, so that they
/// have one variant, one message and one exit code, in a session or not.
macro_rules! via_session {
    ($($kind:ty),*) => {$(
        impl From<$kind> for Error {
            fn from(e: $kind) -> Self {
                Error::Session(SessionError::from(e))
            }
        }
    )*};
}
via_session!(PlanError, LedgerError, PrepareError, EditorialError);

/// What came back could not be applied: the ledger and the store as
/// themselves, a suppression list file as a write that failed.
impl From<crate::inbound::policy::PolicyError> for Error {
    fn from(e: crate::inbound::policy::PolicyError) -> Self {
        use crate::inbound::policy::PolicyError;
        match e {
            PolicyError::Ledger(e) => e.into(),
            PolicyError::Store(e) => Error::Store(e),
        }
    }
}

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// config.toml cannot be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The `[schedule]` does not work.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The store cannot be used (or was lost).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A delivery session stopped; also the slot, the issue, the list or the
    /// secret that cannot be planned, the ledger that cannot be read and the
    /// issue that cannot be rendered or signed, wherever they arise (see the
    /// `From` impls below): those are [`SessionError`]'s own variants.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The web server cannot start or stopped.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A file the command writes (preview output) cannot be written.
    #[error("{what} `{}`", path.display())]
    Write {
        /// What failed, e.g. "cannot write".
        what: &'static str,
        /// The file or folder.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The async runtime cannot start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// `subscribers show|forget` cannot gather or erase.
    #[error(transparent)]
    Privacy(#[from] PrivacyError),
    /// `subscribers import` cannot read a file whole.
    #[error(transparent)]
    Import(#[from] crate::list::import::ImportError),
    /// `subscribers export` cannot write its files.
    #[error(transparent)]
    Export(#[from] crate::list::export::ExportError),
    /// The command line asks for something that cannot be done as written.
    #[error("{0}")]
    Usage(String),
    /// `fetch` cannot set up its HTTP client.
    #[error(transparent)]
    Fetch(crate::feeds::HttpError),
    /// `admin` cannot add, change or remove an account as asked.
    #[error(transparent)]
    Account(crate::accounts::AccountError),
    /// Mail piped in could not be taken now (the store out of reach or busy,
    /// the state folder not writable): the mail system should keep it and retry.
    #[error("{0}; the message is not lost: exit 75 asks the mail system to retry it later")]
    Temporary(Box<Error>),
}

impl From<crate::accounts::AccountError> for Error {
    fn from(e: crate::accounts::AccountError) -> Self {
        match e {
            crate::accounts::AccountError::Store(e) => Error::Store(e),
            e => Error::Account(e),
        }
    }
}

impl From<crate::feeds::FetchError> for Error {
    fn from(e: crate::feeds::FetchError) -> Self {
        match e {
            crate::feeds::FetchError::Store(e) => Error::Store(e),
            crate::feeds::FetchError::Http(e) => Error::Fetch(e),
        }
    }
}

impl Error {
    /// The exit code for this error: the only mapping there is.
    pub fn code(&self) -> u8 {
        match self {
            Error::Temporary(_) => exit::TEMPFAIL,
            Error::Session(SessionError::Locked(_))
            | Error::Store(StoreError::Locked(_))
            | Error::Session(SessionError::Store(StoreError::Locked(_))) => exit::LOCKED,
            e if e.store_lost() => exit::STORE,
            Error::Session(SessionError::Editorial(e)) if e.stops_send() => exit::HELD,
            Error::Session(SessionError::Delivery { .. } | SessionError::TestSend { .. }) => {
                exit::FAILED
            }
            Error::Privacy(
                PrivacyError::Busy(_)
                | PrivacyError::InFlight { .. }
                | PrivacyError::Sending { .. },
            ) => exit::LOCKED,
            Error::Privacy(
                PrivacyError::Ledger(_)
                | PrivacyError::Erase(_)
                | PrivacyError::Store(_)
                | PrivacyError::Io { .. },
            ) => exit::FAILED,
            Error::Privacy(_) => exit::USAGE,
            Error::Fetch(_) => exit::FAILED,
            Error::Config(_)
            | Error::Schedule(_)
            | Error::Store(_)
            | Error::Session(_)
            | Error::Server(_)
            | Error::Write { .. }
            | Error::Runtime(_)
            | Error::Import(_)
            | Error::Export(_)
            | Error::Account(_)
            | Error::Usage(_) => exit::USAGE,
        }
    }
}

impl Error {
    /// Whether the shared store went out of reach (exit 5: rerun to resume).
    fn store_lost(&self) -> bool {
        use crate::delivery::SendError;
        match self {
            Error::Store(e)
            | Error::Privacy(PrivacyError::Store(e))
            | Error::Session(SessionError::Store(e))
            | Error::Session(SessionError::Plan(PlanError::Store(e)))
            | Error::Session(SessionError::Editorial(EditorialError::Store(e)))
            | Error::Session(SessionError::Editorial(EditorialError::Plan(PlanError::Store(e))))
            | Error::Session(SessionError::Delivery {
                source: SendError::Store(e),
                ..
            }) => e.is_unreachable(),
            _ => false,
        }
    }
}
