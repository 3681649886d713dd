//! Why an action cannot be planned: the one error of every planning step.
//!
//! Owns [`PlanError`] and its messages. It must not import the other files of
//! `plan/` (they all import it).

use chrono::NaiveDate;

use crate::content::issue::IssueError;
use crate::list::{ListError, SubscribersError};
use crate::store::{LedgerError, StoreError};

/// Why an action cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The issue cannot be assembled.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The list cannot be read.
    #[error(transparent)]
    Subscribers(#[from] SubscribersError),
    /// Content has errors.
    #[error(
        "content has {count} error(s); fix them (run `tipsheet check`) before sending:\n{list}"
    )]
    Content {
        /// How many.
        count: usize,
        /// One per line.
        list: String,
    },
    /// A date that is not a slot.
    #[error("`{date}` is not an issue date of this schedule; the next ones are {next}")]
    NotASlot {
        /// The date asked for.
        date: NaiveDate,
        /// The next slot dates, joined.
        next: String,
    },
    /// The schedule has no slot left.
    #[error("the schedule has no upcoming slot")]
    NoSlot,
    /// The list cannot be used whole.
    #[error(transparent)]
    List(#[from] ListError),
    /// SMTP without a secret.
    #[error(
        "`{0}` is not set: refusing to send over SMTP with forgeable unsubscribe links; set `{0}` to a long random secret (named by `unsubscribe.secret_env`)"
    )]
    NoSecret(String),
}
