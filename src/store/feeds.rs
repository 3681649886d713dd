//! What `tipsheet fetch` asks of the store: the validators each feed last
//! answered with (for a conditional request), the article addresses
//! already turned into comparisons (so that none is fetched twice), and how
//! each feed's last fetch went (which the console reads to warn).
//!
//! Owns the [`Feeds`] trait and its record type only. Which entries are
//! comparisons, and what a fetch does, is `feeds`' business.

use async_trait::async_trait;

use super::StoreError;

/// What a feed's last full answer carried, sent back on the next request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` header, as sent (quotes and `W/` included).
    pub etag: Option<String>,
    /// The `Last-Modified` header, as sent.
    pub last_modified: Option<String>,
}

/// How a feed's last fetch went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeedOutcome {
    /// The feed's address.
    pub url: String,
    /// When it was last tried (RFC 3339).
    pub attempted_at: String,
    /// When it was last read (or answered `304`), if ever.
    pub succeeded_at: Option<String>,
    /// Why the last try failed; `None` when it succeeded.
    pub error: Option<String>,
}

/// The fetch side of the store.
#[async_trait]
pub trait Feeds: Send + Sync {
    /// The validators remembered for the feed at `feed` (empty when none).
    async fn feed_validators(&self, feed: &str) -> Result<Validators, StoreError>;

    /// Remembers `validators` for the feed at `feed`, replacing what was there.
    async fn save_feed_validators(
        &self,
        feed: &str,
        validators: &Validators,
    ) -> Result<(), StoreError>;

    /// Records a try of the feed at `feed`, now: `error` is why it failed,
    /// `None` a success (which clears the last error).
    async fn record_feed_outcome(&self, feed: &str, error: Option<&str>) -> Result<(), StoreError>;

    /// How each feed's last fetch went, by address (none on a ledger from
    /// before these were kept, opened to read).
    async fn feed_outcomes(&self) -> Result<Vec<FeedOutcome>, StoreError>;

    /// Every article address already imported (as listed and canonical).
    async fn fetched_urls(&self) -> Result<Vec<String>, StoreError>;

    /// Remembers that the articles at `urls` became the comparison `slug`
    /// (an address already remembered keeps its first slug).
    async fn record_fetched(&self, urls: &[String], slug: &str) -> Result<(), StoreError>;
}
