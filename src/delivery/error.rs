//! What goes wrong in delivery: [`Failure`], one attempt's failure told apart
//! by what to do next, and [`SendError`], what stops a run.
//!
//! Owns the error types shared by the wire ([`smtp`](super::smtp)), the
//! transports, the workers and the run loop. Must not depend on any of them:
//! they all depend on this file.

use std::path::PathBuf;

use crate::store::{LedgerError, StoreError};

/// Delivery errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The store failed or went out of reach (retries used up): this host
    /// stopped claiming, finished what it had in flight and recorded what it could.
    #[error(
        "{0}; this host stopped sending and recorded what it could (rerun to resume: nothing is lost, the unrecorded in-flight messages are resent as uncertain)"
    )]
    Store(#[source] StoreError),
    /// The relay refuses every attempt: wrong host, credentials or policy.
    #[error(
        "the SMTP relay refuses to take mail: {0}; nothing more was sent (fix `[smtp]` or the credentials, then rerun to resume)"
    )]
    Relay(String),
    /// The outbox cannot be written: nothing more can go out this run.
    #[error(
        "delivery stopped: {0}; nothing more was written (fix the outbox folder, then rerun to resume)"
    )]
    Stopped(String),
    /// The outbox folder cannot be created.
    #[error("cannot create outbox folder `{path}`: {source}")]
    Outbox {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing to a folder failed.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One delivery attempt's failure, told apart by what to do next.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Worth another try (4xx, reset, timeout).
    Transient {
        /// Reply code, if the server gave one.
        code: Option<u16>,
        /// What happened.
        text: String,
    },
    /// Never worth another try for this address (5xx).
    Permanent {
        /// Reply code.
        code: Option<u16>,
        /// What happened.
        text: String,
    },
    /// The relay cannot be reached at all (connection refused, no route):
    /// retried like a transient failure, but fatal to the run once every
    /// attempt failed, since it refuses every recipient alike.
    Unreachable(String),
    /// The relay refuses us as a whole (authentication, TLS, policy).
    Fatal(String),
}
