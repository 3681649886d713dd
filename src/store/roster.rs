//! What the list's users ask of the store: who is on the list, who is
//! suppressed, sign-ups and their spent links, and one reader's data (gathered and
//! erased). Declared for `plan` (preview, dry run, check), `web` (one-click
//! unsubscribe, sign-up, my data), `reader_data` and the `subscribers` commands;
//! implemented by both engines (the list files, or the stored list).
//!
//! Owns the [`Roster`] trait only; no SQL and no file format lives here.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::records::{Erasure, Forgotten, Held, Places, StoredSubscriber, StoredSuppression};
use crate::diagnostic::Diagnostic;
use crate::list::{Subscriber, Walked};

/// The list side of the store.
#[async_trait]
pub trait Roster: Send + Sync {
    /// Where this engine keeps a reader's rows.
    fn places(&self) -> Places;

    /// Streams the active list (deduplicated, not suppressed) to `visit`;
    /// skipped rows come back as warnings. A list that stops early is an error.
    async fn walk_list(
        &self,
        visit: &mut (dyn FnMut(Subscriber) + Send),
    ) -> Result<Walked, StoreError>;

    /// Every problem of the list as `check` reports it (each row's, and
    /// whether anyone would be mailed); nothing where the store validated
    /// every row as it was written.
    async fn check_list(&self) -> Vec<Diagnostic>;

    /// Whether `key` (or its pseudonym, once erased) is suppressed now.
    async fn is_suppressed(&self, key: &str) -> Result<bool, StoreError>;

    /// Suppresses `key` for `reason` unless it already is; true when written.
    async fn suppress(
        &self,
        key: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Lifts a suppression of `key`; true when there was one.
    async fn resubscribe(&self, key: &str, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Adds a confirmed reader unless the address is on the list; true when added.
    async fn subscribe(&self, reader: &StoredSubscriber) -> Result<bool, StoreError>;

    /// Spends the single-use link (a confirmation or a privacy link) whose token has SHA-256 `digest` (hex)
    /// and which works until `expires` (unix seconds): false, changing
    /// nothing, when it was spent before. Rows of links expired by `now`
    /// (unix seconds) are deleted on the way.
    async fn spend_confirmation(
        &self,
        digest: &str,
        expires: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Which of the normalized `keys` were erased: an import or a sign-up of
    /// them must not write them back in clear.
    async fn forgotten_among(&self, keys: &[&str]) -> Result<HashSet<String>, StoreError>;

    /// Everything held about the normalized `key` (and its pseudonyms).
    async fn held(&self, key: &str) -> Result<Held, StoreError>;

    /// Erases one reader (see [`Erasure`]); refuses, changing nothing, while
    /// a send is mailing the address or left it in flight.
    async fn forget(&self, erasure: &Erasure<'_>) -> Result<Forgotten, StoreError>;

    /// Subscribers, and how many of them are suppressed, where the store
    /// holds the list ([`StoreError::ListIsFile`] where the list is a file).
    async fn list_counts(&self) -> Result<(u64, u64), StoreError>;

    /// Adds subscribers (existing keys kept as they are); how many were new.
    async fn import_subscribers(&self, rows: &[StoredSubscriber]) -> Result<u64, StoreError>;

    /// Adds suppressions (existing keys kept); how many were new.
    async fn import_suppressions(&self, rows: &[StoredSuppression]) -> Result<u64, StoreError>;

    /// The whole stored list, by key.
    async fn subscribers(&self) -> Result<Vec<StoredSubscriber>, StoreError>;

    /// Every stored suppression, by key.
    async fn suppressions(&self) -> Result<Vec<StoredSuppression>, StoreError>;
}
