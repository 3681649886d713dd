//! Provider pauses on PostgreSQL, seen by every host (migration 14). The
//! same semantics as the SQLite engine's `pause.rs`.

use chrono::NaiveDate;
use tokio_postgres::Row;

use super::pool::PgStore;
use crate::store::error::StoreError;
use crate::store::ledger::PauseRecord;

const COLUMNS: &str = "slot, provider, refusals, last_reply, left_pending, paused_at";

impl PgStore {
    /// Keeps `pauses`, in one statement.
    pub(super) async fn put_pauses(&self, pauses: &[PauseRecord]) -> Result<(), StoreError> {
        if pauses.is_empty() {
            return Ok(());
        }
        let slots: Vec<String> = pauses.iter().map(|p| p.slot.to_string()).collect();
        let providers: Vec<Option<&str>> = pauses.iter().map(|p| p.provider.as_deref()).collect();
        let refusals: Vec<i64> = pauses.iter().map(|p| i64::from(p.refusals)).collect();
        let replies: Vec<&str> = pauses.iter().map(|p| p.last_reply.as_str()).collect();
        let left: Vec<i64> = pauses
            .iter()
            .map(|p| i64::try_from(p.left).unwrap_or(i64::MAX))
            .collect();
        let at: Vec<&str> = pauses.iter().map(|p| p.at.as_str()).collect();
        self.execute(
            &format!(
                "INSERT INTO pauses ({COLUMNS})
                 SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::int8[], $6::text[])"
            ),
            &[&slots, &providers, &refusals, &replies, &left, &at],
        )
        .await
        .map(drop)
    }

    /// The pauses of `slot`, oldest first.
    pub(super) async fn read_pauses(
        &self,
        slot: NaiveDate,
    ) -> Result<Vec<PauseRecord>, StoreError> {
        self.select_pauses("WHERE slot = $1", &slot.to_string())
            .await
    }

    /// The pauses kept at `since` or later, oldest first.
    pub(super) async fn read_pauses_since(
        &self,
        since: &str,
    ) -> Result<Vec<PauseRecord>, StoreError> {
        self.select_pauses("WHERE paused_at >= $1", since).await
    }

    async fn select_pauses(
        &self,
        filter: &str,
        value: &str,
    ) -> Result<Vec<PauseRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM pauses {filter} ORDER BY paused_at, id");
        let sql = sql.as_str();
        self.with_retry(|c| async move {
            let rows = c.query(sql, &[&value]).await.map_err(|e| self.err(e))?;
            Ok(rows.iter().map(record).collect())
        })
        .await
    }
}

fn record(r: &Row) -> PauseRecord {
    let slot: String = r.get(0);
    PauseRecord {
        slot: NaiveDate::parse_from_str(&slot, "%Y-%m-%d").unwrap_or_default(),
        provider: r.get(1),
        refusals: u32::try_from(r.get::<_, i64>(2)).unwrap_or(u32::MAX),
        last_reply: r.get(3),
        left: u64::try_from(r.get::<_, i64>(4)).unwrap_or(0),
        at: r.get(5),
    }
}
