//! The embedded engine's provider pauses, in the SQLite ledger (migration 14).
//!
//! Owns the SQL behind [`Ledger::record_pauses`](crate::store::Ledger::record_pauses)
//! and its readers; what a pause is and when a run pauses is the run loop's.
//! A ledger from before migration 14, opened to read, holds no pause.

use chrono::NaiveDate;
use rusqlite::{Row, params};

use super::SqliteStore;
use super::db::Db;
use super::feeds::has_table;
use crate::store::error::StoreError;
use crate::store::ledger::PauseRecord;
use crate::store::records::LedgerError;

const COLUMNS: &str = "slot, provider, refusals, last_reply, left_pending, paused_at";

impl SqliteStore {
    /// Keeps `pauses`, in one transaction.
    pub(super) fn put_pauses(&self, pauses: &[PauseRecord]) -> Result<(), StoreError> {
        if pauses.is_empty() {
            return Ok(());
        }
        self.write(|db| {
            let tx = db.conn().unchecked_transaction().map_err(|e| db.err(e))?;
            for p in pauses {
                tx.execute(
                    &format!("INSERT INTO pauses ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                    params![
                        p.slot.to_string(),
                        p.provider,
                        i64::from(p.refusals),
                        p.last_reply,
                        i64::try_from(p.left).unwrap_or(i64::MAX),
                        p.at
                    ],
                )
                .map_err(|e| db.err(e))?;
            }
            tx.commit().map_err(|e| db.err(e))
        })
    }

    /// The pauses of `slot`, oldest first.
    pub(super) fn read_pauses(&self, slot: NaiveDate) -> Result<Vec<PauseRecord>, StoreError> {
        self.query(Vec::new(), |db| {
            select(
                db,
                "WHERE slot = ?1 ORDER BY paused_at, id",
                &slot.to_string(),
            )
        })
    }

    /// The pauses kept at `since` or later, oldest first.
    pub(super) fn read_pauses_since(&self, since: &str) -> Result<Vec<PauseRecord>, StoreError> {
        self.query(Vec::new(), |db| {
            select(db, "WHERE paused_at >= ?1 ORDER BY paused_at, id", since)
        })
    }
}

/// The pauses `filter` (one parameter, `value`) picks.
fn select(db: &Db, filter: &str, value: &str) -> Result<Vec<PauseRecord>, LedgerError> {
    if !has_table(db, "pauses")? {
        return Ok(Vec::new());
    }
    let mut stmt = db
        .conn()
        .prepare(&format!("SELECT {COLUMNS} FROM pauses {filter}"))
        .map_err(|e| db.err(e))?;
    let rows = stmt.query_map([value], record).map_err(|e| db.err(e))?;
    rows.collect::<Result<Vec<_>, _>>().map_err(|e| db.err(e))
}

fn record(r: &Row<'_>) -> rusqlite::Result<PauseRecord> {
    let slot: String = r.get(0)?;
    Ok(PauseRecord {
        slot: slot.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })?,
        provider: r.get(1)?,
        refusals: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(u32::MAX),
        last_reply: r.get(3)?,
        left: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
        at: r.get(5)?,
    })
}
