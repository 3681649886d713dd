//! The editorial state on PostgreSQL, seen by every host (migration 10):
//! issues staged with their rendered copy, and the approvals of them. The
//! same semantics as the SQLite engine's `approvals.rs`.

use async_trait::async_trait;
use chrono::NaiveDate;

use super::ledger::insert_issue;
use super::pool::{PgStore, pg_error};
use super::rows::slot_key;
use crate::content::issue::Selection;
use crate::store::approvals::{Approval, Approvals, Staged};
use crate::store::error::StoreError;

#[async_trait]
impl Approvals for PgStore {
    async fn stage(
        &self,
        date: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: &[u8],
        replace: bool,
    ) -> Result<Staged, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let written = self
            .with_retry(|mut c| async move {
                let e = |e| pg_error(&self.url, e);
                let tx = c.transaction().await.map_err(e)?;
                if insert_issue(&tx, slot, number, selection, Some(rendered))
                    .await
                    .map_err(e)?
                    == 1
                {
                    tx.commit().await.map_err(e)?;
                    return Ok(true);
                }
                let row = tx
                    .query_one(
                        "SELECT status, rendered IS NOT NULL FROM issues WHERE slot = $1 FOR UPDATE",
                        &[&slot],
                    )
                    .await
                    .map_err(e)?;
                let (status, has_render): (String, bool) = (row.get(0), row.get(1));
                let written = if status != "assembled" {
                    false
                } else if replace {
                    tx.execute(
                        "UPDATE issues SET comparisons = $2, tip = $3, rendered = $4,
                            assembled_at = $5 WHERE slot = $1",
                        &[
                            &slot,
                            &selection.comparisons.join(","),
                            &selection.tip,
                            &rendered,
                            &crate::store::columns::now(),
                        ],
                    )
                    .await
                    .map_err(e)?;
                    true
                } else if !has_render {
                    tx.execute(
                        "UPDATE issues SET rendered = $2 WHERE slot = $1",
                        &[&slot, &rendered],
                    )
                    .await
                    .map_err(e)?;
                    true
                } else {
                    false
                };
                tx.commit().await.map_err(e)?;
                Ok(written)
            })
            .await?;
        let (record, rendered) = self.stored(date, "staged").await?;
        Ok(Staged {
            record,
            rendered,
            written,
        })
    }

    async fn rendered(&self, slot: NaiveDate) -> Result<Option<Vec<u8>>, StoreError> {
        PgStore::rendered(self, slot).await
    }

    async fn record_approval(&self, a: &Approval) -> Result<(), StoreError> {
        let slot = slot_key(a.slot);
        self.execute(
            "INSERT INTO approvals (slot, number, approved_by, approved_at, digest, reassembled)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &slot,
                &(a.number as i32),
                &a.by,
                &a.at,
                &a.digest,
                &a.reassembled,
            ],
        )
        .await
        .map(drop)
    }

    async fn approvals(&self, date: NaiveDate) -> Result<Vec<Approval>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT number, approved_by, approved_at, digest, reassembled
                     FROM approvals WHERE slot = $1 ORDER BY id",
                    &[&slot],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows
                .iter()
                .map(|r| Approval {
                    slot: date,
                    number: r.get::<_, i32>(0) as u32,
                    by: r.get(1),
                    at: r.get(2),
                    digest: r.get(3),
                    reassembled: r.get(4),
                })
                .collect())
        })
        .await
    }
}
