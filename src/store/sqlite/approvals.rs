//! The embedded engine's editorial state: issues staged with their rendered
//! copy, and the approvals of them, in the SQLite ledger (migration 10).
//!
//! Owns carrying out [`Approvals`] on the ledger. A ledger from before
//! migration 10, opened to read, has no approvals and no renders.

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::db::{Db, slot_key};
use crate::content::issue::Selection;
use crate::store::approvals::{Approval, Approvals, Staged};
use crate::store::columns::now;
use crate::store::error::StoreError;
use crate::store::records::LedgerError;

#[async_trait]
impl Approvals for SqliteStore {
    async fn stage(
        &self,
        slot: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: &[u8],
        replace: bool,
    ) -> Result<Staged, StoreError> {
        let written = self.write(|db| stage(db, slot, number, selection, rendered, replace))?;
        let record =
            self.query(None, |db| db.issue(slot))?
                .ok_or_else(|| StoreError::Database {
                    store: crate::store::Ledger::describe(self),
                    detail: format!("issue `{slot}` vanished right after it was staged"),
                })?;
        let rendered = self.query(None, |db| db.rendered(slot))?;
        Ok(Staged {
            record,
            rendered,
            written,
        })
    }

    async fn rendered(&self, slot: NaiveDate) -> Result<Option<Vec<u8>>, StoreError> {
        self.query(None, |db| db.rendered(slot))
    }

    async fn record_approval(&self, a: &Approval) -> Result<(), StoreError> {
        self.write(|db| {
            db.conn()
                .execute(
                    "INSERT INTO approvals (slot, number, approved_by, approved_at, digest, reassembled)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![slot_key(a.slot), a.number, a.by, a.at, a.digest, a.reassembled],
                )
                .map(drop)
                .map_err(|e| db.err(e))
        })
    }

    async fn approvals(&self, slot: NaiveDate) -> Result<Vec<Approval>, StoreError> {
        self.query(Vec::new(), |db| {
            if !db.has_table("approvals")? {
                return Ok(Vec::new());
            }
            let mut stmt = db
                .conn()
                .prepare(
                    "SELECT number, approved_by, approved_at, digest, reassembled
                     FROM approvals WHERE slot = ?1 ORDER BY id",
                )
                .map_err(|e| db.err(e))?;
            stmt.query_map([slot_key(slot)], |r| {
                Ok(Approval {
                    slot,
                    number: r.get(0)?,
                    by: r.get(1)?,
                    at: r.get(2)?,
                    digest: r.get(3)?,
                    reassembled: r.get(4)?,
                })
            })
            .map_err(|e| db.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| db.err(e))
        })
    }
}

/// In one transaction: the issue inserted, or replaced or given a render
/// while still `assembled`; whether anything was written.
fn stage(
    db: &mut Db,
    date: NaiveDate,
    number: u32,
    selection: &Selection,
    rendered: &[u8],
    replace: bool,
) -> Result<bool, LedgerError> {
    let slot = slot_key(date);
    let (conn, err) = db.transact();
    let tx = conn.transaction().map_err(&err)?;
    let found: Option<(String, bool)> = tx
        .query_row(
            "SELECT status, rendered IS NOT NULL FROM issues WHERE slot = ?1",
            [&slot],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(&err)?;
    let (comparisons, tip) = (selection.comparisons.join(","), selection.tip.clone());
    let written = match found {
        None => {
            tx.execute(
                "INSERT INTO issues (slot, number, comparisons, tip, status, assembled_at, rendered)
                 VALUES (?1, ?2, ?3, ?4, 'assembled', ?5, ?6)",
                params![slot, number, comparisons, tip, now(), rendered],
            )
            .map_err(&err)?;
            true
        }
        Some((status, _)) if status == "assembled" && replace => {
            tx.execute(
                "UPDATE issues SET comparisons = ?2, tip = ?3, rendered = ?4, assembled_at = ?5
                 WHERE slot = ?1",
                params![slot, comparisons, tip, rendered, now()],
            )
            .map_err(&err)?;
            true
        }
        Some((status, false)) if status == "assembled" => {
            tx.execute(
                "UPDATE issues SET rendered = ?2 WHERE slot = ?1",
                params![slot, rendered],
            )
            .map_err(&err)?;
            true
        }
        Some(_) => false,
    };
    tx.commit().map_err(&err)?;
    Ok(written)
}
