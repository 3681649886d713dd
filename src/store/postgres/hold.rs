//! Holds on PostgreSQL, seen by every host (migration 9). The same semantics
//! as the SQLite engine's `hold.rs`.

use chrono::NaiveDate;

use super::pool::PgStore;
use crate::store::error::StoreError;
use crate::store::ledger::Hold;

impl PgStore {
    /// Holds `slot`, replacing an earlier hold.
    pub(super) async fn put_hold(
        &self,
        slot: NaiveDate,
        reason: Option<&str>,
        at: &str,
    ) -> Result<(), StoreError> {
        let slot = slot.to_string();
        self.execute(
            "INSERT INTO holds (slot, reason, held_at) VALUES ($1, $2, $3)
             ON CONFLICT (slot) DO UPDATE SET reason = EXCLUDED.reason, held_at = EXCLUDED.held_at",
            &[&slot, &reason, &at],
        )
        .await
        .map(drop)
    }

    /// Lifts the hold on `slot`; whether there was one.
    pub(super) async fn lift_hold(&self, slot: NaiveDate) -> Result<bool, StoreError> {
        let slot = slot.to_string();
        self.execute("DELETE FROM holds WHERE slot = $1", &[&slot])
            .await
            .map(|n| n > 0)
    }

    /// The hold on `slot`, if any.
    pub(super) async fn read_hold(&self, slot: NaiveDate) -> Result<Option<Hold>, StoreError> {
        let slot = slot.to_string();
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let row = c
                .query_opt(
                    "SELECT reason, held_at FROM holds WHERE slot = $1",
                    &[&slot],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.map(|r| Hold {
                reason: r.get(0),
                at: r.get(1),
            }))
        })
        .await
    }
}
