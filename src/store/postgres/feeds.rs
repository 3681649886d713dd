//! `fetch`'s memory on PostgreSQL: feed validators and the article addresses
//! already imported (migration 4) and each feed's last outcome (migration
//! 14), shared by every host. The same semantics as the SQLite engine's
//! `feeds.rs`.

use super::pool::PgStore;
use crate::store::columns::now;
use crate::store::error::StoreError;
use crate::store::feeds::{FeedOutcome, Validators};

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

    /// Records a try of `feed`, now: failed with `error`, or succeeded.
    pub async fn record_feed_outcome(
        &self,
        feed: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let at = now();
        self.execute(
            "INSERT INTO feed_outcomes (url, attempted_at, succeeded_at, error)
             VALUES ($1, $2, CASE WHEN $3::text IS NULL THEN $2 END, $3)
             ON CONFLICT (url) DO UPDATE SET attempted_at = EXCLUDED.attempted_at,
                succeeded_at = COALESCE(EXCLUDED.succeeded_at, feed_outcomes.succeeded_at),
                error = EXCLUDED.error",
            &[&feed, &at, &error],
        )
        .await
        .map(drop)
    }

    /// How each feed's last fetch went, by address.
    pub async fn feed_outcomes(&self) -> Result<Vec<FeedOutcome>, StoreError> {
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT url, attempted_at, succeeded_at, error FROM feed_outcomes ORDER BY url",
                    &[],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows
                .iter()
                .map(|r| FeedOutcome {
                    url: r.get(0),
                    attempted_at: r.get(1),
                    succeeded_at: r.get(2),
                    error: r.get(3),
                })
                .collect())
        })
        .await
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
