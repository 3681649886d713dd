//! What the web's public forms ask of the store to hold their limits across
//! restarts and hosts: counted hits per (scope, key) in a window, links
//! already spent, and the sweep that deletes both once they serve nothing.
//! Declared for `web` (sign-up and privacy requests); implemented by both
//! engines (a table of the ledger, or of the shared database).
//!
//! Owns the [`Limits`] trait and its plain types only; no SQL lives here, and
//! it decides no limit: the caller says what to count and up to how many.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::error::StoreError;
use crate::list::address::canonical_mailbox;
use crate::list::keyer::Keyer;

/// What a counter counts. Closed: the store hands back the mailbox-keyed
/// ones in a reader's export and erases them with the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitScope {
    /// Sign-up confirmation mails to one canonical mailbox.
    Confirm,
    /// Privacy-link mails to one canonical mailbox.
    Privacy,
    /// Link mails (either kind) one client address asked for.
    Client,
    /// Every link mail, whoever asked (key: empty).
    All,
}

impl LimitScope {
    /// The `scope` column's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Privacy => "privacy",
            Self::Client => "client",
            Self::All => "all",
        }
    }

    /// The scopes whose key is a reader's canonical mailbox.
    pub const MAILBOX: [LimitScope; 2] = [LimitScope::Confirm, LimitScope::Privacy];
}

/// The key a mailbox counter of `address` is kept under: the keyed
/// pseudonym of its canonical mailbox, so every spelling of one mailbox
/// counts once and the store never holds a typed address in clear (not
/// even one typed by a stranger, or one whose reader was erased).
pub(crate) fn mailbox_key(keyer: &Keyer, address: &str) -> String {
    keyer.pseudonym(&canonical_mailbox(address))
}

/// Every key a mailbox counter of `address` may be under (after a secret
/// rotation, the previous secret's too).
pub(crate) fn mailbox_keys(keyer: &Keyer, address: &str) -> Vec<String> {
    keyer.pseudonyms(&canonical_mailbox(address)).collect()
}

/// One count against a limit: at most `max` hits of (`scope`, `key`) per
/// `window`, the window starting at the first hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// What is counted.
    pub scope: LimitScope,
    /// Whose count: a [`mailbox_key`], a client address, or empty.
    pub key: String,
    /// Hits allowed per window (at least 1).
    pub max: u32,
    /// How long a window lasts.
    pub window: TimeDelta,
}

/// When a mailbox was last sent a link, while its counter is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// What was counted.
    pub scope: LimitScope,
    /// The first hit of the window.
    pub since: DateTime<Utc>,
    /// When the row goes.
    pub until: DateTime<Utc>,
}

/// The limits side of the store.
#[async_trait]
pub trait Limits: Send + Sync {
    /// Counts every hit at `now`, all or none, in one transaction (so two
    /// hosts cannot both take the last one): `None` when all were counted,
    /// else the index of the first hit whose limit is reached (nothing counted).
    async fn take(&self, hits: &[Hit], now: DateTime<Utc>) -> Result<Option<usize>, StoreError>;

    /// Gives back hits that [`Limits::take`] counted (a mail that was not
    /// sent); a window that ended meanwhile is left alone.
    async fn give_back(&self, hits: &[Hit], now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Whether the single-use link whose token has SHA-256 `digest` (hex)
    /// was spent (see `Roster::spend_confirmation`, which spends any kind).
    async fn is_spent(&self, digest: &str) -> Result<bool, StoreError>;

    /// Deletes the counters whose window ended and the spent links past
    /// their expiry by `now`; how many rows went. Creates nothing.
    async fn sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}
