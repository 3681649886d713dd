//! The embedded engine's tallies (the console's migration): a sent issue's
//! counts kept with the number of its events, counted again when that
//! number moved; every read of an issue's counts takes the kept tally while
//! it is current; events counted by kind with `events_by_slot`.
//!
//! Owns carrying out [`Tallies`] on the ledger.

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::db::{Db, slot_key};
use crate::store::LedgerError;
use crate::store::error::StoreError;
use crate::store::event::EventKind;
use crate::store::records::Counts;
use crate::store::tallies::{Tallies, tally_of, tally_text};

impl Db {
    /// How many events the issue at `slot` has (what a kept tally is
    /// checked against).
    pub(super) fn event_count(&self, slot: &str) -> Result<i64, LedgerError> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM events WHERE slot = ?1", [slot], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// The kept tally of the issue of `date` when it is sent and the tally
    /// is current (taken at its finish, with as many events as it has now);
    /// `None` otherwise, or on a ledger from before tallies were kept.
    pub(super) fn kept_tally(&self, date: NaiveDate) -> Result<Option<Counts>, LedgerError> {
        if !self.has_table("tallies")? {
            return Ok(None);
        }
        let slot = slot_key(date);
        let kept: Option<(i64, String)> = self
            .conn()
            .prepare_cached(
                "SELECT t.events, t.counts FROM issues i JOIN tallies t ON t.slot = i.slot
                 WHERE i.slot = ?1 AND i.status = 'sent' AND t.finished_at IS i.finished_at",
            )
            .and_then(|mut st| {
                st.query_row([&slot], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        match kept {
            Some((events, text)) if events == self.event_count(&slot)? => Ok(Some(tally_of(&text))),
            _ => Ok(None),
        }
    }

    /// Keeps `counts` as the tally of the issue at `slot`, taken when it
    /// had `events` events (with its `finished_at`, read here); nothing
    /// when the issue is not sent.
    pub(super) fn keep_tally(
        &self,
        slot: &str,
        events: i64,
        counts: &Counts,
    ) -> Result<(), LedgerError> {
        self.conn()
            .execute(
                "INSERT INTO tallies (slot, finished_at, events, counts)
                 SELECT slot, finished_at, ?2, ?3 FROM issues WHERE slot = ?1 AND status = 'sent'
                 ON CONFLICT (slot) DO UPDATE SET finished_at = excluded.finished_at,
                    events = excluded.events, counts = excluded.counts",
                params![slot, events, tally_text(counts)],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }
}

#[async_trait]
impl Tallies for SqliteStore {
    async fn tallies(&self, slots: &[NaiveDate]) -> Result<Vec<Counts>, StoreError> {
        if !self.has_ledger() {
            return Ok(vec![Counts::default(); slots.len()]);
        }
        self.write(|db| {
            let mut out = Vec::with_capacity(slots.len());
            for &date in slots {
                let slot = slot_key(date);
                // The events first, as at the send's finish.
                let events = db.event_count(&slot)?;
                match db.kept_tally(date)? {
                    Some(kept) => out.push(kept),
                    None => {
                        let counts = db.count_rows(date)?;
                        // Kept only for a sent issue (the statement checks).
                        db.keep_tally(&slot, events, &counts)?;
                        out.push(counts);
                    }
                }
            }
            Ok(out)
        })
    }

    async fn event_tallies(
        &self,
        slots: &[NaiveDate],
    ) -> Result<Vec<Vec<(EventKind, u64)>>, StoreError> {
        self.query(vec![Vec::new(); slots.len()], |db| {
            let mut stmt = db
                .conn()
                .prepare_cached(
                    "SELECT kind, COUNT(DISTINCT email) FROM events WHERE slot = ?1 GROUP BY kind",
                )
                .map_err(|e| db.err(e))?;
            let mut out = Vec::with_capacity(slots.len());
            for &date in slots {
                let rows = stmt
                    .query_map([slot_key(date)], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })
                    .map_err(|e| db.err(e))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| db.err(e))?;
                out.push(
                    rows.into_iter()
                        .filter_map(|(k, n)| Some((k.parse().ok()?, n as u64)))
                        .collect(),
                );
            }
            Ok(out)
        })
    }

    async fn event_totals(&self) -> Result<Vec<(EventKind, u64)>, StoreError> {
        self.query(Vec::new(), |db| {
            let mut stmt = db
                .conn()
                .prepare_cached("SELECT kind, COUNT(*) FROM events GROUP BY kind")
                .map_err(|e| db.err(e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(|e| db.err(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| db.err(e))?;
            Ok(rows
                .into_iter()
                .filter_map(|(k, n)| Some((k.parse().ok()?, n as u64)))
                .collect())
        })
    }
}
