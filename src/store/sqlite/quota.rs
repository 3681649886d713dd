//! The embedded engine's send counts for `[delivery]`'s caps, in the SQLite
//! ledger (migration 10).
//!
//! Owns the SQL behind [`Quotas`]. A reservation reads the counts and adds
//! its grant in one write transaction (`BEGIN IMMEDIATE`), so that two
//! processes on the ledger never grant the same room. A ledger from before
//! migration 10, opened to read, counts nothing.

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use super::feeds::has_table;
use crate::store::error::StoreError;
use crate::store::quota::{KEEP_MINUTES, Quotas, Reserved, Window, grant};

#[async_trait]
impl Quotas for SqliteStore {
    async fn reserve_sends(
        &self,
        minute: i64,
        want: u64,
        windows: &[Window],
    ) -> Result<Reserved, StoreError> {
        let widest = windows.iter().map(|w| w.minutes).max().unwrap_or(0);
        let first = minute - i64::from(widest);
        self.write(|db| {
            let (conn, e) = db.transact();
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(&e)?;
            let buckets = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT minute, sent FROM quota_minutes
                         WHERE minute >= ?1 AND minute <= ?2 ORDER BY minute",
                    )
                    .map_err(&e)?;
                stmt.query_map(params![first, minute], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
                })
                .map_err(&e)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(&e)?
            };
            let reserved = grant(minute, want, windows, &buckets);
            if reserved.granted > 0 {
                tx.execute(
                    "INSERT INTO quota_minutes (minute, sent) VALUES (?1, ?2)
                     ON CONFLICT (minute) DO UPDATE SET sent = sent + excluded.sent",
                    params![minute, reserved.granted as i64],
                )
                .map_err(&e)?;
            }
            tx.execute(
                "DELETE FROM quota_minutes WHERE minute < ?1",
                [minute - KEEP_MINUTES],
            )
            .map_err(&e)?;
            tx.commit().map_err(&e)?;
            Ok(reserved)
        })
    }

    async fn return_sends(&self, minute: i64, count: u64) -> Result<(), StoreError> {
        if count == 0 {
            return Ok(());
        }
        self.write(|db| {
            db.conn()
                .execute(
                    "UPDATE quota_minutes SET sent = max(sent - ?2, 0) WHERE minute = ?1",
                    params![minute, count as i64],
                )
                .map(drop)
                .map_err(|e| db.err(e))
        })
    }

    async fn sends_within(&self, minute: i64, window: Window) -> Result<u64, StoreError> {
        self.query(0, |db| {
            if !has_table(db, "quota_minutes")? {
                return Ok(0);
            }
            db.conn()
                .query_row(
                    "SELECT COALESCE(SUM(sent), 0) FROM quota_minutes
                     WHERE minute >= ?1 AND minute <= ?2",
                    params![window.first_minute(minute), minute],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n.max(0) as u64)
                .map_err(|e| db.err(e))
        })
    }
}
