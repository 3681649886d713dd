//! The sign-up limits on PostgreSQL: the counters (`rate_limits`) every host
//! shares, spent links, and the sweep of both. Must not touch the ledger.
//!
//! Owns that SQL only; the limits themselves come from `web/`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::pool::{PgStore, pg_error};
use crate::store::error::StoreError;
use crate::store::limits::{Counted, Hit, LimitScope, Limits};

/// Counts one hit unless its window is full; a window that ended starts
/// again at this hit. No row changes when the limit is reached; the row
/// lock makes a second host wait for the first's transaction.
const TAKE: &str = "INSERT INTO rate_limits (scope, key, since, until, hits)
     VALUES ($1, $2, $3, $4, 1)
     ON CONFLICT (scope, key) DO UPDATE SET
         hits = CASE WHEN rate_limits.until <= $3 THEN 1 ELSE rate_limits.hits + 1 END,
         since = CASE WHEN rate_limits.until <= $3 THEN $3 ELSE rate_limits.since END,
         until = CASE WHEN rate_limits.until <= $3 THEN $4 ELSE rate_limits.until END
     WHERE rate_limits.until <= $3 OR rate_limits.hits < $5";

#[async_trait]
impl Limits for PgStore {
    async fn take(&self, hits: &[Hit], now: DateTime<Utc>) -> Result<Option<usize>, StoreError> {
        let at = now.timestamp();
        self.with_retry(|mut c| async move {
            let e = |e| pg_error(&self.url, e);
            let tx = c.transaction().await.map_err(e)?;
            for (i, h) in hits.iter().enumerate() {
                let until = at + h.window.num_seconds();
                let max = i32::try_from(h.max).unwrap_or(i32::MAX);
                let n = tx
                    .execute(TAKE, &[&h.scope.as_str(), &h.key, &at, &until, &max])
                    .await
                    .map_err(e)?;
                if n == 0 {
                    tx.rollback().await.map_err(e)?;
                    return Ok(Some(i));
                }
            }
            tx.commit().await.map_err(e)?;
            Ok(None)
        })
        .await
    }

    async fn give_back(&self, hits: &[Hit], now: DateTime<Utc>) -> Result<(), StoreError> {
        let at = now.timestamp();
        self.with_retry(|mut c| async move {
            let e = |e| pg_error(&self.url, e);
            let tx = c.transaction().await.map_err(e)?;
            for h in hits {
                tx.execute(
                    "UPDATE rate_limits SET hits = hits - 1
                     WHERE scope = $1 AND key = $2 AND until > $3 AND hits > 0",
                    &[&h.scope.as_str(), &h.key, &at],
                )
                .await
                .map_err(e)?;
            }
            tx.execute("DELETE FROM rate_limits WHERE hits <= 0", &[])
                .await
                .map_err(e)?;
            tx.commit().await.map_err(e)
        })
        .await
    }

    async fn is_spent(&self, digest: &str) -> Result<bool, StoreError> {
        self.with_retry(|c| async move {
            c.query_opt(
                "SELECT 1 FROM spent_confirmations WHERE digest = $1",
                &[&digest],
            )
            .await
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
        })
        .await
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let at = now.timestamp();
        let limits = self
            .execute("DELETE FROM rate_limits WHERE until <= $1", &[&at])
            .await?;
        let spent = self
            .execute(
                "DELETE FROM spent_confirmations WHERE expires_at < $1",
                &[&at],
            )
            .await?;
        Ok(limits + spent)
    }
}

impl PgStore {
    /// The mailbox counters under `keys` (see `mailbox_keys`), while they are kept.
    pub(super) async fn counted(&self, keys: &[String]) -> Result<Vec<Counted>, StoreError> {
        let rows = self
            .with_retry(|c| async move {
                c.query(
                    "SELECT scope, since, until FROM rate_limits
                     WHERE key = ANY($1) AND scope IN ($2, $3) ORDER BY since",
                    &[
                        &keys,
                        &LimitScope::Confirm.as_str(),
                        &LimitScope::Privacy.as_str(),
                    ],
                )
                .await
                .map_err(|e| self.err(e))
            })
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let scope = LimitScope::MAILBOX
                    .into_iter()
                    .find(|s| s.as_str() == r.get::<_, &str>(0))?;
                Some(Counted {
                    scope,
                    since: DateTime::from_timestamp(r.get(1), 0).unwrap_or_default(),
                    until: DateTime::from_timestamp(r.get(2), 0).unwrap_or_default(),
                })
            })
            .collect())
    }
}
