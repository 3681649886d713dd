//! `fetch`'s memory on PostgreSQL: feed validators and the article addresses
//! already imported, shared by every host (migration 4). The same semantics
//! as the SQLite engine's `feeds.rs`.

use super::pool::PgStore;
use crate::store::columns::now;
use crate::store::error::StoreError;
use crate::store::feeds::Validators;

impl PgStore {
    /// The validators remembered for `feed`.
    pub async fn feed_validators(&self, feed: &str) -> Result<Validators, StoreError> {
        self.with_retry(|c| async move {
            let row = c
                .query_opt(
                    "SELECT etag, last_modified FROM feeds WHERE url = $1",
                    &[&feed],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(row
                .map(|r| Validators {
                    etag: r.get(0),
                    last_modified: r.get(1),
                })
                .unwrap_or_default())
        })
        .await
    }

    /// Remembers `v` for `feed`.
    pub async fn save_feed_validators(&self, feed: &str, v: &Validators) -> Result<(), StoreError> {
        let at = now();
        self.execute(
            "INSERT INTO feeds (url, etag, last_modified, checked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (url) DO UPDATE SET etag = EXCLUDED.etag,
                last_modified = EXCLUDED.last_modified, checked_at = EXCLUDED.checked_at",
            &[&feed, &v.etag, &v.last_modified, &at],
        )
        .await
        .map(drop)
    }

    /// Every article address already imported.
    pub async fn fetched_urls(&self) -> Result<Vec<String>, StoreError> {
        self.with_retry(|c| async move {
            let rows = c
                .query("SELECT url FROM fetched_articles ORDER BY url", &[])
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    /// Remembers that `urls` became `slug`, in one statement.
    pub async fn record_fetched(&self, urls: &[String], slug: &str) -> Result<(), StoreError> {
        let at = now();
        self.execute(
            "INSERT INTO fetched_articles (url, slug, fetched_at)
             SELECT u, $2, $3 FROM unnest($1::text[]) AS u
             ON CONFLICT (url) DO NOTHING",
            &[&urls, &slug, &at],
        )
        .await
        .map(drop)
    }
}
