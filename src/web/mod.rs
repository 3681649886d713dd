//! `tipsheet serve`: the HTTP side of the newsletter. One-click unsubscribe
//! (RFC 8058) and resubscribe, double opt-in sign-up, the web archive of sent
//! issues, and the admin preview of the next issue.
//!
//! Owns routes, request parsing, who may see what, the signed confirmation
//! links and the pages (askama templates styled like the newsletter, usable
//! without JavaScript). The files stay the source of truth: the store keeps
//! the suppression list in memory only while the file is unchanged, and
//! every write goes through the store (`crate::store::Roster`, and `Limits`
//! for the sign-up limits); one-click unsubscribes are group-committed
//! (`crate::inbound::unsubscribes`), and archive pages are made once and
//! kept (`archive`).
//! It must not write the ledger's issues or recipients (only relay webhooks,
//! in [`webhooks`], and the one-click unsubscribe record events, through
//! `inbound::policy`, and a reader's own erasure goes through
//! `crate::reader_data`), send issues, or
//! keep state that matters across restarts in memory: the sign-up limits and
//! spent links are in the store; this process keeps only the per-client POST
//! rate, the queue of link mails, and copies (the archive's pages, the
//! content library) that are made again when their source changes.
//!
//! This file only declares the modules and re-exports the public interface:
//! the shared state is in `app`, the errors in `error`, the link checks in
//! `confirm` and `forms`, the pages in `pages`; no file here imports it.

mod app;
mod archive;
mod client;
mod confirm;
mod error;
mod feed;
mod forms;
mod limits;
mod mailer;
mod my_data;
mod pages;
mod preview;
mod privacy_link;
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
pub use privacy_link::{PRIVACY_VALID_MINUTES, privacy_url, verify_privacy};
pub(crate) use router::run;
