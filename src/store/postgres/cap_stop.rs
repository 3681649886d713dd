//! Continue times of sends stopped at a cap on PostgreSQL, seen by every
//! host (`issues.continue_at`, migration 15). The same semantics as the
//! SQLite engine's `cap_stop.rs`.

use chrono::{DateTime, NaiveDate, Utc};

use super::pool::PgStore;
use super::rows::slot_key;
use crate::store::columns::{read_stamp, stamp};
use crate::store::error::StoreError;

impl PgStore {
    /// Keeps (or clears) when the send of `slot` may continue.
    pub(super) async fn put_continue_at(
        &self,
        slot: NaiveDate,
        at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let slot = slot_key(slot);
        let at = at.map(stamp);
        self.execute(
            "UPDATE issues SET continue_at = $2 WHERE slot = $1",
            &[&slot, &at],
        )
        .await
        .map(drop)
    }

    /// The issues being sent that wait for a cap, oldest first.
    pub(super) async fn read_capped(&self) -> Result<Vec<(NaiveDate, DateTime<Utc>)>, StoreError> {
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT slot, continue_at FROM issues
                     WHERE status = 'sending' AND continue_at IS NOT NULL ORDER BY slot",
                    &[],
                )
                .await
                .map_err(|e| self.err(e))?;
            // Only tipsheet writes these columns, in these formats.
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let slot: String = r.get(0);
                    let at: String = r.get(1);
                    Some((slot.parse().ok()?, read_stamp(&at)?))
                })
                .collect())
        })
        .await
    }
}
