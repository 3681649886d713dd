//! One reader's rows on PostgreSQL, for `subscribers show|forget` and the
//! web's "Download my data" / "Delete my data": gathering them (the list
//! row, the suppressions, every recipient row with its issue, the inbound
//! events, by the address and its pseudonyms) and erasing them in one
//! transaction that refuses while a host is sending to the address.
//!
//! Owns that SQL only. What is matched, what replaces the address and how
//! free text is scrubbed are `crate::reader_data`'s rules, handed in as an
//! [`Erasure`]; this file computes no pseudonym and knows no secret.

use super::pool::{PgStore, pg_error};
use super::rows::{RECIPIENT_COLUMNS, recipient_row, subscriber_row, suppression_row};
use crate::store::error::StoreError;
use crate::store::limits::LimitScope;
use crate::store::records::{
    Erasure, Forgotten, ReaderEvent, ReaderRow, RecipientStatus, StoredReader,
};

impl PgStore {
    /// Every row of the reader held under one of `keys` (the normalized
    /// address and its pseudonyms), read in one snapshot.
    pub(crate) async fn reader(&self, keys: &[String]) -> Result<StoredReader, StoreError> {
        let key = keys.first().map_or("", String::as_str);
        self.with_retry(|mut c| async move {
            let e = |e| pg_error(&self.url, e);
            let tx = c
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(e)?;
            let subscriber = tx
                .query_opt(
                    "SELECT email, address, name, subscribed_at FROM subscribers WHERE email = $1",
                    &[&key],
                )
                .await
                .map_err(e)?
                .as_ref()
                .map(subscriber_row);
            let suppressions = tx
                .query(
                    "SELECT email, address, reason, at FROM suppressions
                     WHERE email = ANY($1) ORDER BY at, email",
                    &[&keys],
                )
                .await
                .map_err(e)?
                .iter()
                .map(suppression_row)
                .collect();
            let sql = format!(
                "SELECT {}, r.slot, i.number FROM recipients r JOIN issues i ON i.slot = r.slot
                 WHERE r.email = ANY($1) ORDER BY r.slot, r.email",
                RECIPIENT_COLUMNS
                    .split(", ")
                    .map(|c| format!("r.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let issues = tx
                .query(sql.as_str(), &[&keys])
                .await
                .map_err(e)?
                .iter()
                .map(|r| ReaderRow {
                    recipient: recipient_row(r),
                    slot: r.get(9),
                    number: r.get::<_, i32>(10) as u32,
                })
                .collect();
            let events = tx
                .query(
                    "SELECT kind, slot, source, status, reason, at FROM events
                     WHERE email = ANY($1) ORDER BY at, id",
                    &[&keys],
                )
                .await
                .map_err(e)?
                .iter()
                .map(|r| ReaderEvent {
                    kind: r.get(0),
                    slot: r.get(1),
                    source: r.get(2),
                    status: r.get(3),
                    reason: r.get(4),
                    at: r.get(5),
                })
                .collect();
            tx.commit().await.map_err(e)?;
            Ok(StoredReader {
                subscriber,
                suppressions,
                issues,
                events,
            })
        })
        .await
    }

    /// Whether any of `keys` (an address, its pseudonyms) has a suppression row.
    pub(crate) async fn suppressed_as(&self, keys: &[String]) -> Result<bool, StoreError> {
        Ok(self
            .count(
                "SELECT COUNT(*) FROM suppressions WHERE email = ANY($1)",
                &[&keys],
            )
            .await?
            > 0)
    }

    /// Which of `pseudonyms` have a suppression row whose reason is `reason`
    /// (the `forgotten` rows of erased readers).
    pub(crate) async fn suppressed_for(
        &self,
        pseudonyms: &[String],
        reason: &str,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        if pseudonyms.is_empty() {
            return Ok(Default::default());
        }
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT email FROM suppressions WHERE email = ANY($1) AND reason = $2",
                    &[&pseudonyms, &reason],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    /// Erases one reader in one transaction: refuses (changing nothing) while
    /// any of its recipient rows is in flight or claimed under a live lease;
    /// otherwise removes the list row and the sign-up state, replaces the
    /// address and the name by the pseudonym in the recipient rows (statuses,
    /// attempts and codes kept; the Message-ID, an unkeyed hash of the
    /// address, dropped) and in the events (kind, status and times kept), and
    /// replaces the address's suppression by a final row holding only the
    /// pseudonym. The recipient rows are locked first, so a host claiming
    /// them waits or skips them, and after the commit only sees the pseudonym.
    pub(crate) async fn forget_reader(
        &self,
        erasure: &Erasure<'_>,
        mailboxes: &[String],
    ) -> Result<Forgotten, StoreError> {
        let Erasure {
            key,
            pseudonym,
            at,
            reason,
            scrub,
            ..
        } = *erasure;
        self.with_retry(|mut c| async move {
            let e = |e| pg_error(&self.url, e);
            let tx = c.transaction().await.map_err(e)?;
            let rows = tx
                .query(
                    "SELECT slot, status, claimed_by IS NOT NULL AND lease_until > now(), name,
                        last_reply
                     FROM recipients WHERE email = $1 ORDER BY slot FOR UPDATE",
                    &[&key],
                )
                .await
                .map_err(e)?;
            let (mut sending, mut in_flight) = (Vec::new(), Vec::new());
            for r in &rows {
                let slot: String = r.get(0);
                if r.get::<_, bool>(2) {
                    sending.push(slot);
                } else if r.get::<_, String>(1) == RecipientStatus::InFlight.as_str() {
                    in_flight.push(slot);
                }
            }
            if !sending.is_empty() || !in_flight.is_empty() {
                tx.rollback().await.map_err(e)?;
                return Ok(Forgotten::Busy { sending, in_flight });
            }
            let mut names: Vec<String> = tx
                .query(
                    "DELETE FROM subscribers WHERE email = $1 RETURNING name",
                    &[&key],
                )
                .await
                .map_err(e)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let list_rows = names.len() as u64;
            names.extend(rows.iter().map(|r| r.get::<_, String>(3)));
            names.retain(|n| !n.trim().is_empty());
            names.sort();
            names.dedup();
            // Suppress first (within the transaction the order is moot, but it
            // is the order the rules give): one row, the pseudonym only.
            let suppression_rows = tx
                .execute("DELETE FROM suppressions WHERE email = $1", &[&key])
                .await
                .map_err(e)?;
            tx.execute(
                "INSERT INTO suppressions (email, address, reason, at) VALUES ($1, $1, $2, $3)
                 ON CONFLICT (email) DO UPDATE SET address = EXCLUDED.address,
                    reason = EXCLUDED.reason, at = EXCLUDED.at",
                &[&pseudonym, &reason, &at],
            )
            .await
            .map_err(e)?;
            tx.execute(
                "DELETE FROM rate_limits WHERE key = ANY($1) AND scope IN ($2, $3)",
                &[
                    &mailboxes,
                    &LimitScope::Confirm.as_str(),
                    &LimitScope::Privacy.as_str(),
                ],
            )
            .await
            .map_err(e)?;
            let update = tx
                .prepare(
                    "UPDATE recipients SET email = $3, address = $3, name = '', last_reply = $4,
                        message_id = NULL, claimed_by = NULL, lease_until = NULL
                     WHERE slot = $1 AND email = $2",
                )
                .await
                .map_err(e)?;
            let mut ledger_rows = 0;
            for r in &rows {
                let slot: String = r.get(0);
                let reply = r
                    .get::<_, Option<String>>(4)
                    .map(|t| scrub(t.as_str(), &names));
                ledger_rows += tx
                    .execute(&update, &[&slot, &key, &pseudonym, &reply])
                    .await
                    .map_err(e)?;
            }
            let events = tx
                .query(
                    "SELECT id, natural_key, reason FROM events WHERE email = $1 FOR UPDATE",
                    &[&key],
                )
                .await
                .map_err(e)?;
            for r in &events {
                let (id, natural, why): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
                ledger_rows += tx
                    .execute(
                        "UPDATE events SET email = $2, natural_key = $3, reason = $4 WHERE id = $1",
                        &[
                            &id,
                            &pseudonym,
                            &scrub(&natural, &names),
                            &scrub(&why, &names),
                        ],
                    )
                    .await
                    .map_err(e)?;
            }
            tx.commit().await.map_err(e)?;
            Ok(Forgotten::Done {
                list_rows,
                suppression_rows,
                ledger_rows,
            })
        })
        .await
    }
}
