//! The editorial loop around a send: an issue approved before it goes out,
//! and an issue held so that nobody sends it.
//!
//! Owns the rules, as library calls that take the store, so that the command
//! line and the web console carry out the same ones: `approval.rs`
//! ([`approve`], [`approval_state`], [`approvals`], [`may_send`]: what an
//! approval freezes, when it still holds, what it stops) and `hold.rs`
//! ([`hold`], [`release`], [`hold_of`]); `error.rs` holds
//! [`EditorialError`]. The store keeps the state (its `Approvals` and
//! `Ledger` sides); sending is `delivery`'s. Must not print, send, or write
//! anything but the staged copy, its approvals and its hold.

mod approval;
mod error;
mod hold;

pub use approval::{ApprovalState, approval_state, approvals, approve, digest, may_send};
pub use error::EditorialError;
pub use hold::{hold, hold_of, release};
