//! The embedded ledger's `events` table: recording an event once by its
//! natural key (with the classified cause of a failure, migration 4) and
//! reading the events of an issue back.
//!
//! Owns the SQL of those two only; what an event changes is carried out by
//! the caller's `on_new` inside the records' transaction (see `feedback.rs`).

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};

use super::db::{Db, recipient_row, slot_key};
use crate::store::columns::now;
use crate::store::{Event, EventRecord, FailureDetail, LedgerError, RecipientRecord};

impl Db {
    /// Records each of `events` unless one with the same natural key
    /// exists, all in one transaction. For a new one `on_new(i)` runs (it may
    /// read and write this ledger and the list files) and says whether to
    /// keep it: `false` undoes that event alone (a savepoint). `before_commit`
    /// runs last, inside the transaction. If anything fails, no event is
    /// recorded, so a retry does it all again. Whether each was new and kept.
    pub fn record_events<E: From<LedgerError>>(
        &self,
        events: &[Event],
        mut on_new: impl FnMut(usize) -> Result<bool, E>,
        before_commit: impl FnOnce() -> Result<(), E>,
    ) -> Result<Vec<bool>, E> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let mut kept = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            tx.execute_batch("SAVEPOINT event")
                .map_err(|e| self.err(e))?;
            let f = e.failure.as_ref();
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO events
                        (natural_key, kind, email, slot, source, status, reason, at, recorded_at,
                         failure_reason, scope, provider)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    params![
                        e.key,
                        e.kind.as_str(),
                        e.email,
                        e.slot.map(slot_key),
                        e.source,
                        e.status,
                        e.reason,
                        e.at,
                        now(),
                        f.map(|f| &f.reason),
                        f.map(|f| &f.scope),
                        f.map(|f| &f.provider),
                    ],
                )
                .map_err(|e| self.err(e))?;
            // Dropping `tx` on a failure rolls every record back.
            let keep = n == 1 && on_new(i)?;
            if n == 1 && !keep {
                tx.execute_batch("ROLLBACK TO event")
                    .map_err(|e| self.err(e))?;
            }
            tx.execute_batch("RELEASE event").map_err(|e| self.err(e))?;
            kept.push(keep);
        }
        before_commit()?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(kept)
    }

    /// Recorded events, oldest first: of one issue, or all. A ledger from
    /// before events has none; one from before migration 4 has no causes.
    pub fn events(&self, slot: Option<NaiveDate>) -> Result<Vec<EventRecord>, LedgerError> {
        if !self.has_table("events")? {
            return Ok(Vec::new()); // A ledger from before events (read only).
        }
        let detail = self
            .conn
            .prepare("SELECT failure_reason, scope, provider FROM events LIMIT 0")
            .is_ok();
        let causes = if detail {
            "failure_reason, scope, provider"
        } else {
            "NULL, NULL, NULL"
        };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT natural_key, kind, email, slot, source, status, reason, at, recorded_at,
                        {causes}
                 FROM events WHERE ?1 IS NULL OR slot = ?1 ORDER BY at, id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([slot.map(slot_key)], |r| {
                let kind: String = r.get(1)?;
                let slot: Option<String> = r.get(3)?;
                let reason: Option<String> = r.get(9)?;
                let failure = match reason {
                    Some(reason) => Some(FailureDetail {
                        reason,
                        scope: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                        provider: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
                    }),
                    None => None,
                };
                let Ok(kind) = kind.parse() else {
                    return Ok(None); // A kind a newer tipsheet wrote.
                };
                Ok(Some(EventRecord {
                    event: Event {
                        key: r.get(0)?,
                        kind,
                        email: r.get(2)?,
                        slot: slot.and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()),
                        source: r.get(4)?,
                        status: r.get(5)?,
                        reason: r.get(6)?,
                        at: r.get(7)?,
                        failure,
                    },
                    recorded_at: r.get(8)?,
                }))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().flatten().collect())
    }

    /// The issue and recipient whose copy carried exactly `message_id`.
    pub fn recipient_by_message_id(
        &self,
        message_id: &str,
    ) -> Result<Option<(NaiveDate, RecipientRecord)>, LedgerError> {
        self.conn
            .query_row(
                "SELECT email, address, name, status, attempts, last_code, last_reply, message_id,
                        updated_at, slot
                 FROM recipients WHERE message_id = ?1 LIMIT 1",
                [message_id],
                |r| Ok((r.get::<_, String>(9)?, recipient_row(r)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
            .map(|found| {
                found.and_then(|(slot, r)| {
                    NaiveDate::parse_from_str(&slot, "%Y-%m-%d")
                        .ok()
                        .map(|d| (d, r))
                })
            })
    }

    /// Takes a webhook token once (see `Feedback::take_webhook_token`).
    pub fn take_webhook_token(
        &self,
        token: &str,
        seen_at: &str,
        prune_before: &str,
    ) -> Result<bool, LedgerError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "DELETE FROM webhook_tokens WHERE seen_at < ?1",
            [prune_before],
        )
        .map_err(|e| self.err(e))?;
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO webhook_tokens (token, seen_at) VALUES (?1, ?2)",
                [token, seen_at],
            )
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    /// Forgets a webhook token taken by a request that failed.
    pub fn give_back_webhook_token(&self, token: &str) -> Result<(), LedgerError> {
        self.conn
            .execute("DELETE FROM webhook_tokens WHERE token = ?1", [token])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}
