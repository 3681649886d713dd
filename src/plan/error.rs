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
    /// A secret too short to send or serve with.
    #[error(
        "`{name}` is {len} bytes long; `send`, `run` and `serve` need at least 32: set it to a long random secret, e.g. the output of `openssl rand -hex 32` or `head -c 32 /dev/urandom | base64` (keep the old one in `unsubscribe.previous_secret_env` so links already sent keep working)"
    )]
    ShortSecret {
        /// The variable (`unsubscribe.secret_env`).
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// `serve` beyond loopback with the development secret.
    #[error(
        "`{name}` is not set and `serve` would listen on `{listen}`, beyond loopback: anyone can forge links signed with the development secret; set `{name}` to a long random secret (`openssl rand -hex 32`), or listen on 127.0.0.1"
    )]
    PublicDevelopmentSecret {
        /// The variable (`unsubscribe.secret_env`).
        name: String,
        /// The address `serve` would listen on.
        listen: String,
    },
}
