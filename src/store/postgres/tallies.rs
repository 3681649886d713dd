//! The dashboard's tallies on PostgreSQL (the console's migration), shared by every
//! host. The same semantics as the SQLite engine's `tallies.rs`.

use async_trait::async_trait;
use chrono::NaiveDate;

use super::pool::PgStore;
use super::rows::slot_key;
use crate::store::error::StoreError;
use crate::store::event::EventKind;
use crate::store::records::Counts;
use crate::store::tallies::{Tallies, tally_text};

impl PgStore {
    /// How many events the issue at `slot` has (what a kept tally is
    /// checked against).
    pub(super) async fn event_count(&self, slot: &str) -> Result<i64, StoreError> {
        self.with_retry(|c| async move {
            c.query_one("SELECT COUNT(*) FROM events WHERE slot = $1", &[&slot])
                .await
                .map(|r| r.get(0))
                .map_err(|e| self.err(e))
        })
        .await
    }

    /// Keeps `counts` as the tally of the issue at `slot`, taken when it
    /// had `events` events (with its `finished_at`, read here); nothing
    /// when the issue is not sent.
    pub(super) async fn keep_tally(
        &self,
        slot: &str,
        events: i64,
        counts: &Counts,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO tallies (slot, finished_at, events, counts)
             SELECT slot, finished_at, $2, $3 FROM issues WHERE slot = $1 AND status = 'sent'
             ON CONFLICT (slot) DO UPDATE SET finished_at = EXCLUDED.finished_at,
                events = EXCLUDED.events, counts = EXCLUDED.counts",
            &[&slot, &events, &tally_text(counts)],
        )
        .await
        .map(drop)
    }
}

#[async_trait]
impl Tallies for PgStore {
    async fn tallies(&self, slots: &[NaiveDate]) -> Result<Vec<Counts>, StoreError> {
        let mut out = Vec::with_capacity(slots.len());
        for &date in slots {
            let (counts, counted) = self.counts_or_kept(date).await?;
            if let Some(events) = counted {
                // Kept only for a sent issue (the statement checks).
                self.keep_tally(&slot_key(date), events, &counts).await?;
            }
            out.push(counts);
        }
        Ok(out)
    }

    async fn event_tallies(
        &self,
        slots: &[NaiveDate],
    ) -> Result<Vec<Vec<(EventKind, u64)>>, StoreError> {
        let keys: Vec<String> = slots.iter().map(|d| slot_key(*d)).collect();
        let keys = &keys;
        let rows = self
            .with_retry(|c| async move {
                c.query(
                    "SELECT slot, kind, COUNT(DISTINCT email) FROM events
                     WHERE slot = ANY($1) GROUP BY slot, kind",
                    &[keys],
                )
                .await
                .map_err(|e| self.err(e))
            })
            .await?;
        let mut out = vec![Vec::new(); slots.len()];
        for r in rows {
            let slot: String = r.get(0);
            let kind: String = r.get(1);
            let n: i64 = r.get(2);
            if let (Some(i), Ok(kind)) = (keys.iter().position(|k| *k == slot), kind.parse()) {
                out[i].push((kind, n as u64));
            }
        }
        Ok(out)
    }

    async fn event_totals(&self) -> Result<Vec<(EventKind, u64)>, StoreError> {
        let rows = self
            .with_retry(|c| async move {
                c.query("SELECT kind, COUNT(*) FROM events GROUP BY kind", &[])
                    .await
                    .map_err(|e| self.err(e))
            })
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let kind: String = r.get(0);
                Some((kind.parse().ok()?, r.get::<_, i64>(1) as u64))
            })
            .collect())
    }
}
