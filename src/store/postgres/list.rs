//! The list on PostgreSQL: subscribers, suppressions and the sign-up state
//! (spent links). Must not touch the ledger.

use super::pool::PgStore;
use super::rows::{subscriber_row, suppression_row};
use crate::store::error::StoreError;
use crate::store::records::{StoredSubscriber, StoredSuppression};

impl PgStore {
    // -- The list -----------------------------------------------------------

    /// Adds a subscriber, or refreshes the name and address of one already
    /// there (keeping the earliest known `subscribed_at`). Returns whether the
    /// row is new. Never touches suppressions.
    pub(crate) async fn add_subscriber(&self, s: &StoredSubscriber) -> Result<bool, StoreError> {
        self.with_retry(|c| async move {
            let row = c
                .query_one(
                    "INSERT INTO subscribers (email, address, name, subscribed_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (email) DO UPDATE SET address = EXCLUDED.address,
                        name = EXCLUDED.name,
                        subscribed_at = COALESCE(subscribers.subscribed_at, EXCLUDED.subscribed_at)
                     RETURNING (xmax = 0)",
                    &[&s.key, &s.address, &s.name, &s.subscribed_at],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.get(0))
        })
        .await
    }

    /// [`PgStore::add_subscriber`] for many rows in one statement (keys must
    /// be distinct). Returns how many rows are new.
    pub(crate) async fn add_subscribers(
        &self,
        rows: &[StoredSubscriber],
    ) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        let dates: Vec<Option<&str>> = rows.iter().map(|r| r.subscribed_at.as_deref()).collect();
        let (keys, addresses, names, dates) = (&keys, &addresses, &names, &dates);
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "INSERT INTO subscribers (email, address, name, subscribed_at)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                     ON CONFLICT (email) DO UPDATE SET address = EXCLUDED.address,
                        name = EXCLUDED.name,
                        subscribed_at = COALESCE(subscribers.subscribed_at, EXCLUDED.subscribed_at)
                     RETURNING (xmax = 0)",
                    &[keys, addresses, names, dates],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().filter(|r| r.get::<_, bool>(0)).count() as u64)
        })
        .await
    }

    /// [`PgStore::suppress`] for many rows; returns how many are new.
    pub(crate) async fn suppress_all(&self, rows: &[StoredSuppression]) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
        let reasons: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
        let ats: Vec<&str> = rows.iter().map(|r| r.at.as_str()).collect();
        let (keys, addresses, reasons, ats) = (&keys, &addresses, &reasons, &ats);
        self.execute(
            "INSERT INTO suppressions (email, address, reason, at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
             ON CONFLICT (email) DO NOTHING",
            &[keys, addresses, reasons, ats],
        )
        .await
    }

    /// Every subscriber (suppressed ones included), by key.
    pub(crate) async fn subscribers(&self) -> Result<Vec<StoredSubscriber>, StoreError> {
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT email, address, name, subscribed_at FROM subscribers ORDER BY email",
                    &[],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().map(subscriber_row).collect())
        })
        .await
    }

    /// Streams every subscriber, by key, to `visit` with whether it is
    /// suppressed: one query read row by row, so a million readers never sit
    /// in memory at once. Not retried (a retry would visit rows twice): a
    /// dropped connection is an error, and the caller's walk is incomplete.
    pub(crate) async fn walk_subscribers(
        &self,
        mut visit: impl FnMut(StoredSubscriber, bool),
    ) -> Result<(), StoreError> {
        use futures_util::TryStreamExt;
        let c = self.client().await?;
        let rows = c
            .query_raw(
                "SELECT s.email, s.address, s.name, s.subscribed_at,
                        EXISTS (SELECT 1 FROM suppressions p WHERE p.email = s.email)
                 FROM subscribers s ORDER BY s.email",
                std::iter::empty::<&str>(),
            )
            .await
            .map_err(|e| self.err(e))?;
        let mut rows = std::pin::pin!(rows);
        while let Some(r) = rows.try_next().await.map_err(|e| self.err(e))? {
            visit(subscriber_row(&r), r.get(4));
        }
        Ok(())
    }

    /// (subscribers, of whom suppressed).
    pub(crate) async fn list_counts(&self) -> Result<(u64, u64), StoreError> {
        self.with_retry(|c| async move {
            let r = c
                .query_one(
                    "SELECT (SELECT COUNT(*) FROM subscribers),
                            (SELECT COUNT(*) FROM subscribers s
                             WHERE EXISTS (SELECT 1 FROM suppressions p WHERE p.email = s.email))",
                    &[],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok((r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64))
        })
        .await
    }

    /// Suppresses an address; an existing suppression keeps its reason and
    /// time. Returns whether it is new.
    pub(crate) async fn suppress(&self, s: &StoredSuppression) -> Result<bool, StoreError> {
        self.execute(
            "INSERT INTO suppressions (email, address, reason, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (email) DO NOTHING",
            &[&s.key, &s.address, &s.reason, &s.at],
        )
        .await
        .map(|n| n > 0)
    }

    /// Lifts a suppression (the person asked to resubscribe). Returns whether there was one.
    pub(crate) async fn resubscribe(&self, key: &str) -> Result<bool, StoreError> {
        self.with_retry(|c| async move {
            c.execute("DELETE FROM suppressions WHERE email = $1", &[&key])
                .await
                .map(|n| n > 0)
                .map_err(|e| self.err(e))
        })
        .await
    }

    /// Whether a normalized address is suppressed.
    pub(crate) async fn is_suppressed(&self, key: &str) -> Result<bool, StoreError> {
        self.with_retry(|c| async move {
            c.query_opt("SELECT 1 FROM suppressions WHERE email = $1", &[&key])
                .await
                .map(|r| r.is_some())
                .map_err(|e| self.err(e))
        })
        .await
    }

    /// Every suppression, by key.
    pub(crate) async fn suppressions(&self) -> Result<Vec<StoredSuppression>, StoreError> {
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT email, address, reason, at FROM suppressions ORDER BY email",
                    &[],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().map(suppression_row).collect())
        })
        .await
    }

    // -- Sign-up state --------------------------------------------------------

    /// Spends a confirmation link (see `Roster::spend_confirmation`): one
    /// statement, so two hosts cannot both spend it. Expired rows go in the
    /// same statement (the spent link's own row is never expired: its link
    /// still works).
    pub async fn spend_confirmation(
        &self,
        digest: &str,
        expires: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.execute(
            "WITH expired AS (
                 DELETE FROM spent_confirmations WHERE expires_at < $3 AND digest <> $1
             )
             INSERT INTO spent_confirmations (digest, expires_at) VALUES ($1, $2)
             ON CONFLICT (digest) DO NOTHING",
            &[&digest, &expires, &now],
        )
        .await
        .map(|n| n > 0)
    }
}
