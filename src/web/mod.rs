//! `tipsheet serve`: the HTTP side of the newsletter. One-click unsubscribe
//! (RFC 8058) and resubscribe, double opt-in sign-up, the web archive of sent
//! issues, and the admin preview of the next issue.
//!
//! Owns routes, request parsing, who may see what, the signed confirmation
//! links and the pages (askama templates styled like the newsletter, usable
//! without JavaScript). The files stay the source of truth: every request
//! reads the suppression list and the list afresh and writes only through
//! the store (`crate::store::Roster`).
//! It must not write the ledger's issues or recipients (only relay webhooks,
//! in [`webhooks`], and the one-click unsubscribe record events, through
//! `inbound::policy`, and a reader's own erasure goes through
//! `crate::reader_data`), send issues, or
//! keep state that matters across restarts: the one thing held in memory is
//! when each address was last sent a confirmation mail.
//!
//! This file only declares the modules and re-exports the public interface:
//! the shared state is in `app`, the errors in `error`, the link checks in
//! `confirm` and `forms`, the pages in `pages`; no file here imports it.

mod app;
mod archive;
mod confirm;
mod error;
mod feed;
mod forms;
mod health;
mod metrics;
mod my_data;
mod pages;
mod preview;
mod router;
mod signup;
mod unsubscribe;
pub(crate) mod webhooks;
mod welcome;

pub(crate) use app::Events;
pub use confirm::{
    CONFIRM_EVERY_MINUTES, CONFIRM_VALID_HOURS, LinkProblem, confirm_url, verify_confirm,
};
pub(crate) use error::ServerError;
pub(crate) use router::{bind_metrics, run};
