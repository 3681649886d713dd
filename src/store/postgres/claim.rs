//! Leases on PostgreSQL: claiming due recipients in pages with `FOR UPDATE
//! SKIP LOCKED`, renewing and releasing this host's claims, and recovering
//! rows whose host's lease expired. Must not record outcomes (that is `ledger.rs`).

use chrono::NaiveDate;

use super::pool::{PgStore, pg_error};
use super::rows::{RECIPIENT_COLUMNS, names, recipient_row, slot_key};
use crate::store::columns::now;
use crate::store::error::StoreError;
use crate::store::records::{RecipientRecord, RecipientStatus};

impl PgStore {
    /// Recipients whose host's lease expired while they were in flight
    /// become `uncertain`; claims that expired before a row was handed out
    /// are simply released. Returns how many became uncertain.
    pub(crate) async fn recover(&self, date: NaiveDate) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let e = |e| pg_error(&self.url, e);
            let n = c
                .execute(
                    "UPDATE recipients SET status = 'uncertain', claimed_by = NULL,
                        lease_until = NULL, updated_at = $2
                     WHERE slot = $1 AND status = 'in_flight'
                       AND (lease_until IS NULL OR lease_until < now())",
                    &[&slot, &now()],
                )
                .await
                .map_err(e)?;
            c.execute(
                "UPDATE recipients SET claimed_by = NULL, lease_until = NULL
                 WHERE slot = $1 AND status <> 'in_flight' AND lease_until < now()",
                &[&slot],
            )
            .await
            .map_err(e)?;
            Ok(n)
        })
        .await
    }

    /// The next recipients with one of `statuses`, by key after `after`, at
    /// most `limit`: read only, claims ignored.
    pub(crate) async fn due(
        &self,
        date: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let statuses = names(statuses);
        let limit = limit.min(i64::MAX as usize) as i64;
        let sql = format!(
            "SELECT {RECIPIENT_COLUMNS} FROM recipients
             WHERE slot = $1 AND status = ANY($2) AND email > $3 ORDER BY email LIMIT $4"
        );
        let sql = &sql;
        let statuses = &statuses;
        self.with_retry(|c| async move {
            let rows = c
                .query(sql.as_str(), &[&slot, statuses, &after, &limit])
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().map(recipient_row).collect())
        })
        .await
    }

    /// Claims the next page of recipients with one of `statuses` (by key after
    /// `after`) that no other host holds a live lease on, under this host's
    /// lease. Rows locked by another host's claim in progress are skipped.
    pub(crate) async fn claim(
        &self,
        date: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let statuses = names(statuses);
        let limit = limit.min(i64::MAX as usize) as i64;
        let lease = self.lease_interval();
        let sql = format!(
            "WITH page AS (
                SELECT email FROM recipients
                WHERE slot = $1 AND status = ANY($2) AND email > $3
                  AND (lease_until IS NULL OR lease_until < now() OR claimed_by = $5)
                ORDER BY email LIMIT $4
                FOR UPDATE SKIP LOCKED
             )
             UPDATE recipients r SET claimed_by = $5, lease_until = now() + make_interval(secs => $6)
             FROM page WHERE r.slot = $1 AND r.email = page.email
             RETURNING {}",
            RECIPIENT_COLUMNS
                .split(", ")
                .map(|c| format!("r.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let sql = &sql;
        let statuses = &statuses;
        self.with_retry(|c| async move {
            let stmt = c.prepare_cached(sql).await.map_err(|e| self.err(e))?;
            let rows = c
                .query(
                    &stmt,
                    &[&slot, statuses, &after, &limit, &self.host, &lease],
                )
                .await
                .map_err(|e| self.err(e))?;
            let mut out: Vec<RecipientRecord> = rows.iter().map(recipient_row).collect();
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
        .await
    }

    /// Extends this host's leases on `slot`; returns how many rows it holds.
    pub(crate) async fn renew(&self, date: NaiveDate) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let lease = self.lease_interval();
        self.execute(
            "UPDATE recipients SET lease_until = now() + make_interval(secs => $3)
             WHERE slot = $1 AND claimed_by = $2 AND lease_until IS NOT NULL",
            &[&slot, &self.host, &lease],
        )
        .await
    }

    /// Gives back this host's claims on rows not in flight (a clean stop).
    pub(crate) async fn release(&self, date: NaiveDate) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.execute(
            "UPDATE recipients SET claimed_by = NULL, lease_until = NULL
             WHERE slot = $1 AND claimed_by = $2 AND status <> 'in_flight'",
            &[&slot, &self.host],
        )
        .await
    }

    /// Open recipients (pending, uncertain or in flight) that another host
    /// holds a live lease on: work that may still come back to us.
    pub(crate) async fn held_by_others(&self, date: NaiveDate) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.count(
            "SELECT COUNT(*) FROM recipients WHERE slot = $1
               AND status IN ('pending', 'uncertain', 'in_flight', 'retrying')
               AND claimed_by <> $2 AND lease_until >= now()",
            &[&slot, &self.host],
        )
        .await
    }

    /// Recipients of `slot` some host holds a live lease on (a send is running).
    pub(crate) async fn live_leases(&self, date: NaiveDate) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.count(
            "SELECT COUNT(*) FROM recipients WHERE slot = $1 AND lease_until >= now()",
            &[&slot],
        )
        .await
    }
}
