//! What came back on PostgreSQL: inbound events (bounces, complaints,
//! unsubscribes), each recorded once by its natural key, with the
//! consequences `inbound::policy` decides (a suppression, a ledger row moved
//! to `bounced`) in the same transaction. The same semantics as the SQLite
//! engine's `Ledger::record_event` and friends. Decides nothing itself.

use chrono::NaiveDate;
use tokio_postgres::Row;

use super::pool::{PgStore, pg_error};
use super::rows::{RECIPIENT_COLUMNS, recipient_row, slot_key};
use crate::store::columns::now;
use crate::store::error::StoreError;
use crate::store::event::{Consequence, Event, EventKind, EventRecord, FailureDetail, Recorded};
use crate::store::records::RecipientRecord;

const EVENT_COLUMNS: &str =
    "natural_key, kind, email, slot, source, status, reason, at, recorded_at,
     failure_reason, scope, provider";

fn event_row(r: &Row) -> Option<EventRecord> {
    let kind: String = r.get(1);
    let slot: Option<String> = r.get(3);
    let failure = r.get::<_, Option<String>>(9).map(|reason| FailureDetail {
        reason,
        scope: r.get::<_, Option<String>>(10).unwrap_or_default(),
        provider: r.get::<_, Option<String>>(11).unwrap_or_default(),
    });
    Some(EventRecord {
        event: Event {
            key: r.get(0),
            kind: kind.parse().ok()?,
            email: r.get(2),
            slot: slot.and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()),
            source: r.get(4),
            status: r.get(5),
            reason: r.get(6),
            at: r.get(7),
            failure,
        },
        recorded_at: r.get(8),
    })
}

impl PgStore {
    /// Records each of `events` unless an event with the same natural key
    /// exists, all in one transaction (one commit: a group commit), and for
    /// a new one carries out what `decide` says (given the soft-bounce count
    /// at or after `soft_since`, this event included, for a soft bounce): the
    /// suppression (`ON CONFLICT DO NOTHING`, so an existing one keeps its
    /// reason) and the ledger row. An event that must only be recorded if it
    /// suppresses, and does not, is undone alone (a savepoint). A failure
    /// records nothing, so a retry does it all again. `decide` may run more
    /// than once (a dropped connection is retried): it must only compute. A
    /// new suppression's time is `suppressed_at` (RFC 3339).
    pub(crate) async fn record_events(
        &self,
        events: &[Event],
        soft_since: &str,
        suppressed_at: &str,
        decide: &(dyn Fn(usize, Option<u64>) -> Consequence + Sync),
    ) -> Result<Vec<Recorded>, StoreError> {
        // A soft bounce's count must see only the events before it: one at a time.
        if events.len() > 1 && events.iter().all(|e| e.kind != EventKind::SoftBounce) {
            return self.record_together(events, suppressed_at, decide).await;
        }
        self.with_retry(|mut c| async move {
            let err = |x| pg_error(&self.url, x);
            let at = now();
            let mut tx = c.transaction().await.map_err(err)?;
            let mut all = Vec::with_capacity(events.len());
            for (i, e) in events.iter().enumerate() {
                let slot = e.slot.map(slot_key);
                let f = e.failure.as_ref();
                let cause = (
                    f.map(|f| f.reason.as_str()),
                    f.map(|f| f.scope.as_str()),
                    f.map(|f| f.provider.as_str()),
                );
                let sp = tx.savepoint("event").await.map_err(err)?;
                let n = sp
                    .execute(
                        "INSERT INTO events (natural_key, kind, email, slot, source, status, reason, at,
                            recorded_at, failure_reason, scope, provider)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                         ON CONFLICT (natural_key) DO NOTHING",
                        &[
                            &e.key,
                            &e.kind.as_str(),
                            &e.email,
                            &slot,
                            &e.source,
                            &e.status,
                            &e.reason,
                            &e.at,
                            &at,
                            &cause.0,
                            &cause.1,
                            &cause.2,
                        ],
                    )
                    .await
                    .map_err(err)?;
                let mut done = Recorded::default();
                if n == 0 {
                    sp.commit().await.map_err(err)?; // Nothing was written.
                    all.push(done);
                    continue;
                }
                if e.kind == EventKind::SoftBounce {
                    let r = sp
                        .query_one(SOFT_BOUNCES, &[&e.email, &soft_since])
                        .await
                        .map_err(err)?;
                    done.soft_count = Some(r.get::<_, i64>(0) as u64);
                }
                let then = decide(i, done.soft_count);
                if let (Some(reply), Some(slot)) = (&then.bounce_row, &slot) {
                    done.row_bounced = sp
                        .execute(
                            "UPDATE recipients SET status = 'bounced', last_reply = $3, updated_at = $4
                             WHERE slot = $1 AND email = $2 AND status <> 'bounced'",
                            &[slot, &e.email, reply, &at],
                        )
                        .await
                        .map_err(err)?
                        == 1;
                }
                if let Some(reason) = &then.suppress {
                    done.suppressed = sp
                        .execute(
                            "INSERT INTO suppressions (email, address, reason, at) VALUES ($1, $1, $2, $3)
                             ON CONFLICT (email) DO NOTHING",
                            &[&e.email, reason, &suppressed_at],
                        )
                        .await
                        .map_err(err)?
                        == 1;
                }
                if then.only_if_suppressing && !done.suppressed {
                    // Already suppressed: this event is no new one.
                    sp.rollback().await.map_err(err)?;
                    all.push(Recorded::default());
                    continue;
                }
                sp.commit().await.map_err(err)?;
                done.new = true;
                all.push(done);
            }
            tx.commit().await.map_err(err)?;
            Ok(all)
        })
        .await
    }

    /// [`PgStore::record_events`] for a batch without soft bounces, in a
    /// few statements whatever its size: every event inserted at once, the
    /// suppressions at once (the first event of an address that suppresses
    /// takes it, as one at a time would), and the events that were to be
    /// recorded only if they suppressed, and did not, deleted again.
    async fn record_together(
        &self,
        events: &[Event],
        suppressed_at: &str,
        decide: &(dyn Fn(usize, Option<u64>) -> Consequence + Sync),
    ) -> Result<Vec<Recorded>, StoreError> {
        let column = |f: fn(&Event) -> Option<String>| events.iter().map(f).collect::<Vec<_>>();
        let keys = column(|e| Some(e.key.clone()));
        let kinds = column(|e| Some(e.kind.as_str().to_string()));
        let emails = column(|e| Some(e.email.clone()));
        let slots = column(|e| e.slot.map(slot_key));
        let sources = column(|e| Some(e.source.clone()));
        let statuses = column(|e| e.status.clone());
        let reasons = column(|e| Some(e.reason.clone()));
        let ats = column(|e| Some(e.at.clone()));
        let causes = column(|e| e.failure.as_ref().map(|f| f.reason.clone()));
        let scopes = column(|e| e.failure.as_ref().map(|f| f.scope.clone()));
        let providers = column(|e| e.failure.as_ref().map(|f| f.provider.clone()));
        let columns = (
            &keys, &kinds, &emails, &slots, &sources, &statuses, &reasons, &ats, &causes, &scopes,
            &providers,
        );
        self.with_retry(|mut c| async move {
            let err = |x| pg_error(&self.url, x);
            let at = now();
            let tx = c.transaction().await.map_err(err)?;
            let (k, kind, email, slot, source, status, reason, when, cause, scope, provider) =
                columns;
            let inserted = tx
                .query(
                    "INSERT INTO events (natural_key, kind, email, slot, source, status, reason, at,
                        recorded_at, failure_reason, scope, provider)
                     SELECT k, kind, email, slot, source, status, reason, at, $9, cause, scope, provider
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::text[], $7::text[], $8::text[], $10::text[], $11::text[],
                                 $12::text[])
                          AS e(k, kind, email, slot, source, status, reason, at, cause, scope, provider)
                     ON CONFLICT (natural_key) DO NOTHING
                     RETURNING natural_key",
                    &[k, kind, email, slot, source, status, reason, when, &at, cause, scope, provider],
                )
                .await
                .map_err(err)?;
            let mut fresh: std::collections::HashSet<String> =
                inserted.iter().map(|r| r.get(0)).collect();
            let mut all = vec![Recorded::default(); events.len()];
            let mut wanted: Vec<(usize, String)> = Vec::new();
            let mut claimed = std::collections::HashSet::new();
            for (i, e) in events.iter().enumerate() {
                // A key twice in the batch: the first is the new one.
                if !fresh.remove(&e.key) {
                    continue;
                }
                all[i].new = true;
                let then = decide(i, None);
                if let (Some(reply), Some(slot)) = (&then.bounce_row, e.slot.map(slot_key)) {
                    all[i].row_bounced = tx
                        .execute(
                            "UPDATE recipients SET status = 'bounced', last_reply = $3, updated_at = $4
                             WHERE slot = $1 AND email = $2 AND status <> 'bounced'",
                            &[&slot, &e.email, reply, &at],
                        )
                        .await
                        .map_err(err)?
                        == 1;
                }
                if let Some(why) = then.suppress
                    && claimed.insert(e.email.clone())
                {
                    wanted.push((i, why));
                }
            }
            let (who, why): (Vec<String>, Vec<String>) = wanted
                .iter()
                .map(|(i, why)| (events[*i].email.clone(), why.clone()))
                .unzip();
            let suppressed: std::collections::HashSet<String> = tx
                .query(
                    "INSERT INTO suppressions (email, address, reason, at)
                     SELECT email, email, reason, $3 FROM unnest($1::text[], $2::text[]) AS s(email, reason)
                     ON CONFLICT (email) DO NOTHING
                     RETURNING email",
                    &[&who, &why, &suppressed_at],
                )
                .await
                .map_err(err)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for (i, _) in &wanted {
                all[*i].suppressed = suppressed.contains(&events[*i].email);
            }
            let mut undo = Vec::new();
            for (i, e) in events.iter().enumerate() {
                if all[i].new && !all[i].suppressed && decide(i, None).only_if_suppressing {
                    undo.push(e.key.clone());
                    all[i] = Recorded::default();
                }
            }
            if !undo.is_empty() {
                tx.execute("DELETE FROM events WHERE natural_key = ANY($1)", &[&undo])
                    .await
                    .map_err(err)?;
            }
            tx.commit().await.map_err(err)?;
            Ok(all)
        })
        .await
    }

    /// Recorded events, oldest first: of one issue, or all.
    pub(crate) async fn events(
        &self,
        date: Option<NaiveDate>,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let slot = date.map(slot_key);
        let slot = &slot;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE $1::text IS NULL OR slot = $1
             ORDER BY at, id"
        );
        let sql = &sql;
        self.with_retry(|c| async move {
            let rows = c
                .query(sql.as_str(), &[slot])
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().filter_map(event_row).collect())
        })
        .await
    }

    /// Whether `email` ever complained (a later sign-up needs the double opt-in).
    pub(crate) async fn complained(&self, email: &str) -> Result<bool, StoreError> {
        self.count(
            "SELECT COUNT(*) FROM events WHERE email = $1 AND kind = 'complaint'",
            &[&email],
        )
        .await
        .map(|n| n > 0)
    }

    /// The recipient of issue `date` whose Message-ID hash starts with `rid`
    /// (what a VERP token or a quoted Message-ID names).
    pub(crate) async fn recipient_by_rid(
        &self,
        date: NaiveDate,
        rid: &str,
    ) -> Result<Option<RecipientRecord>, StoreError> {
        let slot = slot_key(date);
        let prefix = format!("<{slot}.{rid}");
        let (slot, prefix) = (&slot, &prefix);
        let sql = format!(
            "SELECT {RECIPIENT_COLUMNS} FROM recipients
             WHERE slot = $1 AND starts_with(message_id, $2) LIMIT 1"
        );
        let sql = &sql;
        self.with_retry(|c| async move {
            let row = c
                .query_opt(sql.as_str(), &[slot, prefix])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.as_ref().map(recipient_row))
        })
        .await
    }

    /// Takes a webhook token once (see `Feedback::take_webhook_token`).
    pub async fn take_webhook_token(
        &self,
        token: &str,
        seen_at: &str,
        prune_before: &str,
    ) -> Result<bool, StoreError> {
        self.with_retry(|mut c| async move {
            let err = |x| pg_error(&self.url, x);
            let tx = c.transaction().await.map_err(err)?;
            tx.execute(
                "DELETE FROM webhook_tokens WHERE seen_at < $1",
                &[&prune_before],
            )
            .await
            .map_err(err)?;
            let n = tx
                .execute(
                    "INSERT INTO webhook_tokens (token, seen_at) VALUES ($1, $2)
                     ON CONFLICT (token) DO NOTHING",
                    &[&token, &seen_at],
                )
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
            Ok(n == 1)
        })
        .await
    }

    /// Forgets a webhook token taken by a request that failed.
    pub async fn give_back_webhook_token(&self, token: &str) -> Result<(), StoreError> {
        self.with_retry(|c| async move {
            c.execute("DELETE FROM webhook_tokens WHERE token = $1", &[&token])
                .await
                .map(|_| ())
                .map_err(|e| self.err(e))
        })
        .await
    }

    /// The issue and recipient whose copy carried exactly `message_id`.
    pub async fn recipient_by_message_id(
        &self,
        message_id: &str,
    ) -> Result<Option<(NaiveDate, RecipientRecord)>, StoreError> {
        let sql = format!(
            "SELECT {RECIPIENT_COLUMNS}, slot FROM recipients WHERE message_id = $1 LIMIT 1"
        );
        let sql = &sql;
        self.with_retry(|c| async move {
            let row = c
                .query_opt(sql.as_str(), &[&message_id])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.and_then(|r| {
                let slot: String = r.get(RECIPIENT_COLUMNS.split(',').count());
                NaiveDate::parse_from_str(&slot, "%Y-%m-%d")
                    .ok()
                    .map(|d| (d, recipient_row(&r)))
            }))
        })
        .await
    }

    /// The latest issue whose copy went out to `email` (sent, bounced later,
    /// or uncertain): what an event without our Message-ID is most likely about.
    pub(crate) async fn latest_issue_of(
        &self,
        email: &str,
    ) -> Result<Option<NaiveDate>, StoreError> {
        self.with_retry(|c| async move {
            let row = c
                .query_opt(LATEST_ISSUE, &[&email])
                .await
                .map_err(|e| self.err(e))?;
            Ok(
                row.and_then(|r| {
                    NaiveDate::parse_from_str(&r.get::<_, String>(0), "%Y-%m-%d").ok()
                }),
            )
        })
        .await
    }

    /// Which of `pseudonyms` (an address's keyed hashes) the suppressions hold:
    /// only `subscribers forget` writes them, so the address was erased.
    pub(crate) async fn erased_as(
        &self,
        pseudonyms: &[String],
    ) -> Result<Option<String>, StoreError> {
        if pseudonyms.is_empty() {
            return Ok(None);
        }
        self.with_retry(|c| async move {
            let row = c
                .query_opt(
                    "SELECT email FROM suppressions WHERE email = ANY($1) ORDER BY at DESC LIMIT 1",
                    &[&pseudonyms],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.map(|r| r.get(0)))
        })
        .await
    }
}

/// Soft bounces of $1 at or after $2, one per issue (the SQLite engine's query).
const SOFT_BOUNCES: &str = "SELECT COUNT(DISTINCT COALESCE(slot, natural_key)) FROM events
     WHERE email = $1 AND kind = 'soft_bounce' AND at >= $2";

/// The latest issue whose copy went out to $1: newest issue first, each
/// probed by the primary key (slot, email), never a scan of the recipients.
const LATEST_ISSUE: &str = "SELECT i.slot FROM issues i
     WHERE EXISTS (SELECT 1 FROM recipients r
         WHERE r.slot = i.slot AND r.email = $1
           AND r.status IN ('sent', 'bounced', 'uncertain'))
     ORDER BY i.slot DESC LIMIT 1";
