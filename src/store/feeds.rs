//! What `tipsheet fetch` asks of the store: the validators each feed last
//! answered with (for a conditional request), and the article addresses
//! already turned into comparisons (so that none is fetched twice).
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

    /// Every article address already imported (as listed and canonical).
    async fn fetched_urls(&self) -> Result<Vec<String>, StoreError>;

    /// Remembers that the articles at `urls` became the comparison `slug`
    /// (an address already remembered keeps its first slug).
    async fn record_fetched(&self, urls: &[String], slug: &str) -> Result<(), StoreError>;
}
