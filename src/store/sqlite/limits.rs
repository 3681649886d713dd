//! The embedded engine's limits: the counters and the spent links are
//! tables of the ledger (`rate_limits`, `spent_confirmations`), so a restart
//! of `serve` forgets none of them.
//!
//! Owns carrying out [`Limits`] on the ledger; it decides no limit.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::db::Db;
use super::store::SqliteStore;
use crate::store::error::StoreError;
use crate::store::limits::{Counted, Hit, LimitScope, Limits};
use crate::store::records::LedgerError;

/// Counts one hit unless its window is full; a window that ended starts
/// again at this hit. No row changes when the limit is reached.
const TAKE: &str = "INSERT INTO rate_limits (scope, key, since, until, hits)
     VALUES (?1, ?2, ?3, ?4, 1)
     ON CONFLICT (scope, key) DO UPDATE SET
         hits = CASE WHEN rate_limits.until <= ?3 THEN 1 ELSE rate_limits.hits + 1 END,
         since = CASE WHEN rate_limits.until <= ?3 THEN ?3 ELSE rate_limits.since END,
         until = CASE WHEN rate_limits.until <= ?3 THEN ?4 ELSE rate_limits.until END
     WHERE rate_limits.until <= ?3 OR rate_limits.hits < ?5";

#[async_trait]
impl Limits for SqliteStore {
    async fn take(&self, hits: &[Hit], now: DateTime<Utc>) -> Result<Option<usize>, StoreError> {
        let at = now.timestamp();
        self.write(|db| {
            let tx = db.conn().unchecked_transaction().map_err(|e| db.err(e))?;
            for (i, h) in hits.iter().enumerate() {
                let until = at + h.window.num_seconds();
                let n = tx
                    .execute(TAKE, params![h.scope.as_str(), h.key, at, until, h.max])
                    .map_err(|e| db.err(e))?;
                if n == 0 {
                    return Ok(Some(i)); // Dropping `tx` rolls the others back.
                }
            }
            tx.commit().map_err(|e| db.err(e))?;
            Ok(None)
        })
    }

    async fn give_back(&self, hits: &[Hit], now: DateTime<Utc>) -> Result<(), StoreError> {
        let at = now.timestamp();
        self.write(|db| {
            let tx = db.conn().unchecked_transaction().map_err(|e| db.err(e))?;
            for h in hits {
                tx.execute(
                    "UPDATE rate_limits SET hits = hits - 1
                     WHERE scope = ?1 AND key = ?2 AND until > ?3 AND hits > 0",
                    params![h.scope.as_str(), h.key, at],
                )
                .map_err(|e| db.err(e))?;
            }
            tx.execute("DELETE FROM rate_limits WHERE hits <= 0", [])
                .map_err(|e| db.err(e))?;
            tx.commit().map_err(|e| db.err(e))
        })
    }

    async fn is_spent(&self, digest: &str) -> Result<bool, StoreError> {
        self.query(false, |db| {
            if !db.has_table("spent_confirmations")? {
                return Ok(false);
            }
            db.conn()
                .query_row(
                    "SELECT 1 FROM spent_confirmations WHERE digest = ?1",
                    [digest],
                    |_| Ok(()),
                )
                .optional()
                .map(|r| r.is_some())
                .map_err(|e| db.err(e))
        })
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        // Sweeping creates no ledger: without one there is nothing to delete.
        if !self.has_ledger() {
            return Ok(0);
        }
        let at = now.timestamp();
        self.write(|db| {
            let c = db.conn();
            let limits = c
                .execute("DELETE FROM rate_limits WHERE until <= ?1", [at])
                .map_err(|e| db.err(e))?;
            let spent = c
                .execute(
                    "DELETE FROM spent_confirmations WHERE expires_at < ?1",
                    [at],
                )
                .map_err(|e| db.err(e))?;
            Ok((limits + spent) as u64)
        })
    }
}

impl Db {
    /// The mailbox counters under `keys` (see `mailbox_keys`), while they are kept.
    pub(super) fn counted(&self, keys: &[String]) -> Result<Vec<Counted>, LedgerError> {
        let mut out = Vec::new();
        // A ledger older than the table reads as holding no counter.
        if !self.has_table("rate_limits")? {
            return Ok(out);
        }
        for (scope, mailbox) in LimitScope::MAILBOX
            .into_iter()
            .flat_map(|s| keys.iter().map(move |k| (s, k)))
        {
            let row = self
                .conn()
                .query_row(
                    "SELECT since, until FROM rate_limits WHERE scope = ?1 AND key = ?2",
                    params![scope.as_str(), mailbox],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            if let Some((since, until)) = row {
                out.push(Counted {
                    scope,
                    since: DateTime::from_timestamp(since, 0).unwrap_or_default(),
                    until: DateTime::from_timestamp(until, 0).unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }

    /// Deletes the mailbox counters under `keys` (an erasure).
    pub(super) fn forget_counted(&self, keys: &[String]) -> Result<u64, LedgerError> {
        if !self.has_table("rate_limits")? {
            return Ok(0);
        }
        let mut n = 0;
        for key in keys {
            n += self
                .conn()
                .execute(
                    "DELETE FROM rate_limits WHERE key = ?1 AND scope IN (?2, ?3)",
                    params![
                        key,
                        LimitScope::Confirm.as_str(),
                        LimitScope::Privacy.as_str()
                    ],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(n as u64)
    }
}
