//! Planning an action: which slot it targets, which content the issue of that
//! slot features, who would receive it, and which secret signs its links.
//!
//! Owns the rules that tie the schedule, the ledger, the content and the list
//! together for one command (`preview`, `send`, `serve`, …). It reads; it never
//! sends and never writes the ledger.
//!
//! By what each command needs: `content` (load the library), `secrets` (the
//! signer and the keyer), `store` (open it to read, walk the list), `slot`
//! (which slot and issue), `check` (what `tipsheet check` reports) and
//! `preview`. This file holds [`PlanError`] and re-exports; it uses nothing of
//! its children.

use chrono::NaiveDate;

use crate::content::issue::IssueError;
use crate::list::{ListError, SubscribersError};
use crate::store::{LedgerError, StoreError};

mod check;
mod content;
mod preview;
mod secrets;
mod slot;
mod store;

pub(crate) use check::check;
pub(crate) use content::load_content;
pub(crate) use preview::preview;
pub use secrets::{keyer, keyer_of, signer, with_previous_key};
pub(crate) use slot::{choose, current_slot, is_sent, next_slot, slot_for, slot_state};
pub(crate) use store::{read_store, snapshot, store_settings, walk_list};

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
