//! Planning an action: which slot it targets, which content the issue of that
//! slot features, who would receive it, and which secret signs its links.
//!
//! Owns the rules that tie the schedule, the ledger, the content and the list
//! together for one command (`preview`, `send`, `serve`, …). It reads; it never
//! sends and never writes the ledger.
//!
//! By what each command needs: `content` (load the library), `secrets` (the
//! signer and the keyer), `store` (open it to read, walk the list), `slot`
//! (which slot and issue), `check` (what `tipsheet check` reports), `dns`
//! (what `check --dns` looks up: the one file that asks DNS anything),
//! `preview` and `resume` (sends a cap stopped, and what `send --if-due`
//! sends now); `error` holds [`PlanError`]. This file only re-exports.

mod check;
mod content;
mod dns;
mod error;
mod preview;
mod resume;
mod secrets;
mod slot;
mod store;

pub(crate) use check::check;
pub(crate) use content::load_content;
pub(crate) use dns::{Verdict, check_dns};
pub use error::PlanError;
pub(crate) use preview::preview;
pub(crate) use resume::{capped, if_due};
pub use secrets::{
    MIN_SECRET_BYTES, Signing, check_secret, keyer, keyer_of, signer, signer_for, with_previous_key,
};
pub(crate) use slot::{choose, current_slot, is_sent, next_slot, rotate, slot_for, slot_state};
pub(crate) use store::{read_store, snapshot, store_settings, walk_list};
