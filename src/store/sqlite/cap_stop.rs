//! The embedded engine's continue times of sends stopped at a cap, in the
//! SQLite ledger (`issues.continue_at`, migration 15).
//!
//! Owns the SQL behind [`Ledger::set_continue_at`](crate::store::Ledger::set_continue_at)
//! and [`Ledger::capped`](crate::store::Ledger::capped); when a send stops
//! and who continues it is the delivery session's and the schedulers'. A
//! ledger from before migration 15, opened to read, has no issue waiting.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::params;

use super::SqliteStore;
use super::db::Db;
use crate::store::columns::{read_stamp, stamp};
use crate::store::error::StoreError;
use crate::store::records::LedgerError;

impl SqliteStore {
    /// Keeps (or clears) when the send of `slot` may continue.
    pub(super) fn put_continue_at(
        &self,
        slot: NaiveDate,
        at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.write(|db| {
            db.conn()
                .execute(
                    "UPDATE issues SET continue_at = ?2 WHERE slot = ?1",
                    params![slot.to_string(), at.map(stamp)],
                )
                .map(drop)
                .map_err(|e| db.err(e))
        })
    }

    /// The issues being sent that wait for a cap, oldest first.
    pub(super) fn read_capped(&self) -> Result<Vec<(NaiveDate, DateTime<Utc>)>, StoreError> {
        self.query(Vec::new(), |db| {
            if !has_continue_at(db)? {
                return Ok(Vec::new());
            }
            let mut stmt = db
                .conn()
                .prepare(
                    "SELECT slot, continue_at FROM issues
                     WHERE status = 'sending' AND continue_at IS NOT NULL ORDER BY slot",
                )
                .map_err(|e| db.err(e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(|e| db.err(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| db.err(e))?;
            // Only tipsheet writes these columns, in these formats.
            Ok(rows
                .iter()
                .filter_map(|(slot, at)| Some((slot.parse().ok()?, read_stamp(at)?)))
                .collect())
        })
    }
}

/// Whether `issues` has `continue_at` (an older ledger opened to read may not).
fn has_continue_at(db: &Db) -> Result<bool, LedgerError> {
    db.conn()
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('issues') WHERE name = 'continue_at'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| db.err(e))
}
