//! Send counts for `[delivery]`'s caps on PostgreSQL, shared by every host
//! (migration 10). The same semantics as the SQLite engine's `quota.rs`.
//!
//! A reservation runs under a transaction-scoped advisory lock: the hosts'
//! reservations queue for it, each reads the counts the one before it
//! committed and adds its own grant, so that between them they never grant
//! more than a window's cap.

use super::pool::PgStore;
use crate::store::error::StoreError;
use crate::store::quota::{KEEP_MINUTES, Reserved, Window, grant};

/// The advisory lock that serializes reservations ("tipquota").
const QUOTA_LOCK: i64 = 0x7469_7071_756f_7461;

impl PgStore {
    /// See [`Quotas::reserve_sends`](crate::store::quota::Quotas::reserve_sends).
    pub(super) async fn reserve_sends(
        &self,
        minute: i64,
        want: u64,
        windows: &[Window],
    ) -> Result<Reserved, StoreError> {
        let widest = windows.iter().map(|w| w.minutes).max().unwrap_or(0);
        let first = minute - i64::from(widest);
        self.with_retry(|mut c| async move {
            let e = |e| self.err(e);
            let tx = c.transaction().await.map_err(e)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&QUOTA_LOCK])
                .await
                .map_err(e)?;
            let buckets: Vec<(i64, u64)> = tx
                .query(
                    "SELECT minute, sent FROM quota_minutes
                     WHERE minute >= $1 AND minute <= $2 ORDER BY minute",
                    &[&first, &minute],
                )
                .await
                .map_err(e)?
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1).max(0) as u64))
                .collect();
            let reserved = grant(minute, want, windows, &buckets);
            if reserved.granted > 0 {
                tx.execute(
                    "INSERT INTO quota_minutes (minute, sent) VALUES ($1, $2)
                     ON CONFLICT (minute) DO UPDATE SET sent = quota_minutes.sent + EXCLUDED.sent",
                    &[&minute, &(reserved.granted as i64)],
                )
                .await
                .map_err(e)?;
            }
            tx.execute(
                "DELETE FROM quota_minutes WHERE minute < $1",
                &[&(minute - KEEP_MINUTES)],
            )
            .await
            .map_err(e)?;
            tx.commit().await.map_err(e)?;
            Ok(reserved)
        })
        .await
    }

    /// See [`Quotas::return_sends`](crate::store::quota::Quotas::return_sends).
    pub(super) async fn return_sends(&self, minute: i64, count: u64) -> Result<(), StoreError> {
        if count == 0 {
            return Ok(());
        }
        self.execute(
            "UPDATE quota_minutes SET sent = GREATEST(sent - $2, 0) WHERE minute = $1",
            &[&minute, &(count as i64)],
        )
        .await
        .map(drop)
    }

    /// See [`Quotas::sends_within`](crate::store::quota::Quotas::sends_within).
    pub(super) async fn sends_within(
        &self,
        minute: i64,
        window: Window,
    ) -> Result<u64, StoreError> {
        let first = window.first_minute(minute);
        self.with_retry(|c| async move {
            let row = c
                .query_one(
                    "SELECT COALESCE(SUM(sent), 0)::int8 FROM quota_minutes
                     WHERE minute >= $1 AND minute <= $2",
                    &[&first, &minute],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.get::<_, i64>(0).max(0) as u64)
        })
        .await
    }
}
