//! The embedded engine's holds, in the SQLite ledger (migration 9).
//!
//! Owns the SQL behind [`Ledger::hold`](crate::store::Ledger::hold) and its
//! siblings; which issue is held and what a hold stops is the caller's. A
//! ledger from before migration 9, opened to read, holds nothing.

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::error::StoreError;
use crate::store::ledger::Hold;

impl SqliteStore {
    /// Holds `slot`, replacing an earlier hold.
    pub(super) fn put_hold(
        &self,
        slot: NaiveDate,
        reason: Option<&str>,
        at: &str,
    ) -> Result<(), StoreError> {
        self.write(|db| {
            db.conn()
                .execute(
                    "INSERT INTO holds (slot, reason, held_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (slot) DO UPDATE SET reason = excluded.reason,
                        held_at = excluded.held_at",
                    params![slot.to_string(), reason, at],
                )
                .map(drop)
                .map_err(|e| db.err(e))
        })
    }

    /// Lifts the hold on `slot`; whether there was one.
    pub(super) fn lift_hold(&self, slot: NaiveDate) -> Result<bool, StoreError> {
        self.write(|db| {
            db.conn()
                .execute("DELETE FROM holds WHERE slot = ?1", [slot.to_string()])
                .map(|n| n > 0)
                .map_err(|e| db.err(e))
        })
    }

    /// The hold on `slot`, if any.
    pub(super) fn read_hold(&self, slot: NaiveDate) -> Result<Option<Hold>, StoreError> {
        self.query(None, |db| {
            let has = db
                .conn()
                .query_row(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'holds'",
                    [],
                    |_| Ok(()),
                )
                .optional()
                .map_err(|e| db.err(e))?;
            if has.is_none() {
                return Ok(None);
            }
            db.conn()
                .query_row(
                    "SELECT reason, held_at FROM holds WHERE slot = ?1",
                    [slot.to_string()],
                    |r| {
                        Ok(Hold {
                            reason: r.get(0)?,
                            at: r.get(1)?,
                        })
                    },
                )
                .optional()
                .map_err(|e| db.err(e))
        })
    }
}
