//! The embedded engine's memory for `fetch`: feed validators and the article
//! addresses already imported, in the SQLite ledger (migration 4), and each
//! feed's last outcome (migration 14).
//!
//! Owns carrying out [`Feeds`] on the ledger. A ledger from before these
//! migrations, opened to read, lacks their tables: it reads as remembering
//! nothing.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::db::Db;
use crate::store::columns::now;
use crate::store::error::StoreError;
use crate::store::feeds::{FeedOutcome, Feeds, Validators};
use crate::store::records::LedgerError;

/// Whether the ledger has `table` (an older ledger opened to read may not).
pub(super) fn has_table(db: &Db, table: &str) -> Result<bool, LedgerError> {
    db.conn()
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
        .map_err(|e| db.err(e))
}

#[async_trait]
impl Feeds for SqliteStore {
    async fn feed_validators(&self, feed: &str) -> Result<Validators, StoreError> {
        self.query(Validators::default(), |db| {
            if !has_table(db, "feeds")? {
                return Ok(Validators::default());
            }
            db.conn()
                .query_row(
                    "SELECT etag, last_modified FROM feeds WHERE url = ?1",
                    [feed],
                    |r| {
                        Ok(Validators {
                            etag: r.get(0)?,
                            last_modified: r.get(1)?,
                        })
                    },
                )
                .optional()
                .map(Option::unwrap_or_default)
                .map_err(|e| db.err(e))
        })
    }

    async fn save_feed_validators(
        &self,
        feed: &str,
        validators: &Validators,
    ) -> Result<(), StoreError> {
        self.write(|db| {
            db.conn()
                .execute(
                    "INSERT INTO feeds (url, etag, last_modified, checked_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,
                        last_modified = excluded.last_modified, checked_at = excluded.checked_at",
                    params![feed, validators.etag, validators.last_modified, now()],
                )
                .map(drop)
                .map_err(|e| db.err(e))
        })
    }

    async fn record_feed_outcome(&self, feed: &str, error: Option<&str>) -> Result<(), StoreError> {
        self.write(|db| {
            db.conn()
                .execute(
                    "INSERT INTO feed_outcomes (url, attempted_at, succeeded_at, error)
                     VALUES (?1, ?2, CASE WHEN ?3 IS NULL THEN ?2 END, ?3)
                     ON CONFLICT (url) DO UPDATE SET attempted_at = excluded.attempted_at,
                        succeeded_at = COALESCE(excluded.succeeded_at, feed_outcomes.succeeded_at),
                        error = excluded.error",
                    params![feed, now(), error],
                )
                .map(drop)
                .map_err(|e| db.err(e))
        })
    }

    async fn feed_outcomes(&self) -> Result<Vec<FeedOutcome>, StoreError> {
        self.query(Vec::new(), |db| {
            if !has_table(db, "feed_outcomes")? {
                return Ok(Vec::new());
            }
            let mut stmt = db
                .conn()
                .prepare(
                    "SELECT url, attempted_at, succeeded_at, error FROM feed_outcomes ORDER BY url",
                )
                .map_err(|e| db.err(e))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(FeedOutcome {
                        url: r.get(0)?,
                        attempted_at: r.get(1)?,
                        succeeded_at: r.get(2)?,
                        error: r.get(3)?,
                    })
                })
                .map_err(|e| db.err(e))?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|e| db.err(e))
        })
    }

    async fn fetched_urls(&self) -> Result<Vec<String>, StoreError> {
        self.query(Vec::new(), |db| {
            if !has_table(db, "fetched_articles")? {
                return Ok(Vec::new());
            }
            let mut stmt = db
                .conn()
                .prepare("SELECT url FROM fetched_articles ORDER BY url")
                .map_err(|e| db.err(e))?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| db.err(e))?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|e| db.err(e))
        })
    }

    async fn record_fetched(&self, urls: &[String], slug: &str) -> Result<(), StoreError> {
        self.write(|db| {
            let tx = db.conn().unchecked_transaction().map_err(|e| db.err(e))?;
            let at = now();
            for url in urls {
                tx.execute(
                    "INSERT INTO fetched_articles (url, slug, fetched_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (url) DO NOTHING",
                    params![url, slug, at],
                )
                .map_err(|e| db.err(e))?;
            }
            tx.commit().map_err(|e| db.err(e))
        })
    }
}
