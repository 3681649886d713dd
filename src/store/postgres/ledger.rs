//! The ledger on PostgreSQL: issues, their frozen selection and rendered body,
//! recorded outcomes (`commit`), counts and finishing an issue. Must not claim
//! or lease recipients (that is `claim.rs`) nor touch the list.

use chrono::NaiveDate;
use deadpool_postgres::GenericClient;

use super::pool::{PgStore, pg_error};
use super::rows::{ISSUE_COLUMNS, issue_row, slot_key};
use crate::content::issue::Selection;
use crate::store::columns::now;
use crate::store::error::StoreError;
use crate::store::records::{
    Counts, FrozenIssue, IssueRecord, IssueStatus, Outcome, RecipientStatus,
};
use crate::store::tallies::tally_of;

impl PgStore {
    // -- The ledger ---------------------------------------------------------

    /// All issues, oldest first.
    pub(crate) async fn issues(&self) -> Result<Vec<IssueRecord>, StoreError> {
        let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues ORDER BY slot");
        let sql = &sql;
        self.with_retry(|c| async move {
            let rows = c.query(sql.as_str(), &[]).await.map_err(|e| self.err(e))?;
            Ok(rows.iter().map(issue_row).collect())
        })
        .await
    }

    /// One issue by slot date.
    pub(crate) async fn issue(&self, date: NaiveDate) -> Result<Option<IssueRecord>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE slot = $1");
        let sql = &sql;
        self.with_retry(|c| async move {
            let row = c
                .query_opt(sql.as_str(), &[&slot])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.as_ref().map(issue_row))
        })
        .await
    }

    /// One issue by number.
    pub(crate) async fn issue_by_number(
        &self,
        number: u32,
    ) -> Result<Option<IssueRecord>, StoreError> {
        let sql =
            format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE number = $1 ORDER BY slot LIMIT 1");
        let n = number as i32;
        let sql = &sql;
        self.with_retry(|c| async move {
            let row = c
                .query_opt(sql.as_str(), &[&n])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.as_ref().map(issue_row))
        })
        .await
    }

    /// The rendered issue frozen with `slot`, if any.
    pub(crate) async fn rendered(&self, date: NaiveDate) -> Result<Option<Vec<u8>>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let row = c
                .query_opt("SELECT rendered FROM issues WHERE slot = $1", &[&slot])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
        })
        .await
    }

    /// The issue of `date` and its rendered copy, right after it was
    /// `done` ("frozen", "staged"): an error if it is not there.
    pub(super) async fn stored(
        &self,
        date: NaiveDate,
        done: &str,
    ) -> Result<(IssueRecord, Option<Vec<u8>>), StoreError> {
        let record = self
            .issue(date)
            .await?
            .ok_or_else(|| StoreError::Database {
                store: self.url.to_string(),
                detail: format!("issue `{date}` vanished right after it was {done}"),
            })?;
        Ok((record, self.rendered(date).await?))
    }

    /// Records an issue's selection (and rendered issue); no-op if the slot has one.
    pub(crate) async fn assemble(
        &self,
        date: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            insert_issue(&c, slot, number, selection, rendered)
                .await
                .map_err(|e| self.err(e))?;
            Ok(())
        })
        .await
    }

    /// Freezes the given recipient set and marks the issue `sending`, in one
    /// transaction; does nothing if the issue already left `assembled`.
    pub(crate) async fn freeze(
        &self,
        date: NaiveDate,
        recipients: &[(String, String, String)],
    ) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|mut c| async move {
            let e = |e| pg_error(&self.url, e);
            let tx = c.transaction().await.map_err(e)?;
            if !lock_assembled(&tx, slot).await.map_err(e)? {
                return Ok(0);
            }
            let at = now();
            let stmt = tx
                .prepare(
                    "INSERT INTO recipients (slot, email, address, name, status, updated_at)
                     VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING",
                )
                .await
                .map_err(e)?;
            let mut added = 0;
            for (key, address, name) in recipients {
                added += tx
                    .execute(&stmt, &[&slot, key, address, name, &at])
                    .await
                    .map_err(e)?;
            }
            mark_sending(&tx, slot).await.map_err(e)?;
            tx.commit().await.map_err(e)?;
            analyze_recipients(&c, added).await.map_err(e)?;
            Ok(added)
        })
        .await
    }

    /// The first host to reach a slot freezes it: in one transaction the
    /// selection, the rendered issue, and every subscriber not suppressed.
    /// Every host, first or not, gets back what was frozen; `added` is `None`
    /// when another host (or an earlier run) froze it.
    pub(crate) async fn freeze_issue(
        &self,
        date: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: Option<&[u8]>,
    ) -> Result<FrozenIssue, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let added = self
            .with_retry(|mut c| async move {
                let e = |e| pg_error(&self.url, e);
                let tx = c.transaction().await.map_err(e)?;
                insert_issue(&tx, slot, number, selection, rendered)
                    .await
                    .map_err(e)?;
                if !lock_assembled(&tx, slot).await.map_err(e)? {
                    return Ok(None);
                }
                let added = tx
                    .execute(
                        "INSERT INTO recipients (slot, email, address, name, status, updated_at)
                         SELECT $1, s.email, s.address, s.name, 'pending', $2 FROM subscribers s
                         WHERE NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.email = s.email)
                         ON CONFLICT DO NOTHING",
                        &[&slot, &now()],
                    )
                    .await
                    .map_err(e)?;
                mark_sending(&tx, slot).await.map_err(e)?;
                tx.commit().await.map_err(e)?;
                analyze_recipients(&c, added).await.map_err(e)?;
                Ok(Some(added))
            })
            .await?;
        let (record, rendered) = self.stored(date, "frozen").await?;
        Ok(FrozenIssue {
            record,
            rendered,
            added,
            diags: Vec::new(),
        })
    }

    /// Which of `keys` are suppressed now.
    pub(crate) async fn suppressed_among(
        &self,
        keys: &[&str],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        if keys.is_empty() {
            return Ok(Default::default());
        }
        self.with_retry(|c| async move {
            let stmt = c
                .prepare_cached("SELECT email FROM suppressions WHERE email = ANY($1)")
                .await
                .map_err(|e| self.err(e))?;
            let rows = c.query(&stmt, &[&keys]).await.map_err(|e| self.err(e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    /// Marks `in_flight` keys in flight (under this host's lease) and records
    /// `outcomes`, atomically. A recorded outcome ends the claim.
    ///
    /// One statement, prepared once on the group commits' own connection,
    /// in one round trip: the group commit's latency is what a worker waits
    /// for before each body, so it bounds a host's rate on a fast relay.
    ///
    /// With `[store] synchronous_commit = false` (the default) that
    /// connection runs with `synchronous_commit = off`: a commit returns
    /// before its WAL record is flushed. A kill -9 of tipsheet loses nothing
    /// (the server has the commit), nor does a clean restart of the server;
    /// a crash of the database server itself (power, kernel, `pg_ctl stop
    /// -m immediate`) may lose the last commits, up to three times
    /// `wal_writer_delay` (600 ms by default), of marks and outcomes whose
    /// messages already left. After such a crash those recipients read
    /// `pending` (their mark lost: sent again) or `in_flight` → `uncertain`
    /// (their outcome lost: resent by default): at least once for that
    /// window, nobody lost. That is the embedded ledger's class (SQLite WAL
    /// with `synchronous = NORMAL` loses its last commits to a crash of the
    /// machine), and Postfix's: it flushes a message to disk when it takes
    /// responsibility for it, not each delivery's record. Everything else on
    /// the store (imports, sign-ups, unsubscribes, suppressions, erasure, the
    /// freeze, claims) always waits for the flush. `true` makes these commits
    /// wait too, so exactly once survives a crash of the server as well.
    pub(crate) async fn commit(
        &self,
        date: NaiveDate,
        in_flight: &[&str],
        outcomes: &[Outcome],
    ) -> Result<(), StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        if in_flight.is_empty() && outcomes.is_empty() {
            return Ok(());
        }
        let lease = self.lease_interval();
        let rows = &CommitRows::new(in_flight, outcomes);
        self.with_writer(|c| async move {
            let e = |e| pg_error(&self.url, e);
            let stmt = c.prepare_cached(COMMIT).await.map_err(e)?;
            let at = now();
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 12] = [
                &slot,
                &rows.keys,
                &rows.statuses,
                &rows.attempts,
                &rows.codes,
                &rows.replies,
                &rows.ids,
                &at,
                &self.host,
                &lease,
                &rows.hold,
                &rows.relays,
            ];
            c.execute(&stmt, &params).await.map_err(e)?;
            Ok(())
        })
        .await
    }

    /// Whether the group commits' connection waits for the WAL flush.
    pub(crate) async fn group_commits_wait_for_disk(&self) -> Result<bool, StoreError> {
        self.with_writer(|c| async move {
            let row = c
                .query_one("SHOW synchronous_commit", &[])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.get::<_, String>(0) != "off")
        })
        .await
    }

    /// Counts by status for one issue: a sent issue's kept tally while it
    /// is current (see `tallies.rs`), else counted; one statement either way.
    pub(crate) async fn counts(&self, date: NaiveDate) -> Result<Counts, StoreError> {
        Ok(self.counts_or_kept(date).await?.0)
    }

    /// [`PgStore::counts`]; when they were counted just now rather than
    /// kept, also the issue's events as they were then (what keeping them
    /// is checked against).
    pub(super) async fn counts_or_kept(
        &self,
        date: NaiveDate,
    ) -> Result<(Counts, Option<i64>), StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            // Prepared once per connection: planning the statement costs
            // more than running it on a kept tally.
            let stmt = c.prepare_cached(COUNTS).await.map_err(|e| self.err(e))?;
            let rows = c.query(&stmt, &[&slot]).await.map_err(|e| self.err(e))?;
            if let Some(kept) = rows.first().and_then(|r| r.get::<_, Option<String>>(2)) {
                return Ok((tally_of(&kept), None));
            }
            let events = rows.first().map(|r| r.get::<_, i64>(3));
            Ok((by_status(&rows), events))
        })
        .await
    }

    /// Counts by status for one issue, counted over its recipients.
    pub(crate) async fn count_rows(&self, date: NaiveDate) -> Result<Counts, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT status, COUNT(*) FROM recipients WHERE slot = $1 GROUP BY status",
                    &[&slot],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(by_status(&rows))
        })
        .await
    }

    /// How many of the issue's recipients each relay carried, by name.
    pub(crate) async fn sent_by_relay(
        &self,
        date: NaiveDate,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT relay, COUNT(*) FROM recipients
                     WHERE slot = $1 AND status = 'sent' AND relay IS NOT NULL
                     GROUP BY relay ORDER BY relay",
                    &[&slot],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
                .collect())
        })
        .await
    }

    /// Marks the issue `sent` when nobody is left open, and keeps its
    /// tally for the console (the counts are in hand; see `tallies.rs`);
    /// returns its status.
    pub(crate) async fn finish(&self, date: NaiveDate) -> Result<IssueStatus, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        // The events first: a bounce recorded between the two reads then
        // makes the kept tally look stale (counted again), never current.
        let events = self.event_count(slot).await?;
        let counts = self.count_rows(date).await?;
        if counts.open() == 0 {
            let marked = self
                .with_retry(|c| async move {
                    c.execute(
                        "UPDATE issues SET status = 'sent', finished_at = COALESCE(finished_at, $2),
                            continue_at = NULL
                         WHERE slot = $1 AND status = 'sending'",
                        &[&slot, &now()],
                    )
                    .await
                    .map_err(|e| self.err(e))
                })
                .await?;
            if marked > 0 {
                self.keep_tally(slot, events, &counts).await?;
            }
        }
        Ok(self
            .issue(date)
            .await?
            .map_or(IssueStatus::Assembled, |i| i.status))
    }
}

/// An issue's counts: the kept tally when the issue is sent and the tally
/// current (its finish, and as many events as it has now), as one row
/// `(NULL, NULL, counts, events)`; otherwise `(status, count, NULL, events)`
/// rows, and the recipients are scanned only then. One statement, so the
/// events and the counts are of one snapshot.
const COUNTS: &str = "WITH ev AS (SELECT COUNT(*) AS n FROM events WHERE slot = $1),
    kept AS (
        SELECT t.counts FROM issues i JOIN tallies t ON t.slot = i.slot, ev
        WHERE i.slot = $1 AND i.status = 'sent'
          AND t.finished_at IS NOT DISTINCT FROM i.finished_at AND t.events = ev.n)
    SELECT NULL::text, NULL::bigint, counts, (SELECT n FROM ev) FROM kept
    UNION ALL
    SELECT status, COUNT(*), NULL::text, (SELECT n FROM ev) FROM recipients
    WHERE slot = $1 AND NOT EXISTS (SELECT 1 FROM kept) GROUP BY status";

/// `(status, count)` rows as counts (an unknown status is left out).
fn by_status(rows: &[tokio_postgres::Row]) -> Counts {
    let mut by_status: Vec<(RecipientStatus, u64)> = rows
        .iter()
        .filter_map(|r| {
            let s: String = r.get(0);
            let n: i64 = r.get(1);
            s.parse().ok().map(|s| (s, n as u64))
        })
        .collect();
    by_status.sort();
    Counts { by_status }
}

/// Refreshes the planner's statistics once a freeze has added recipients.
/// Until autovacuum gets to it, the table looks as small as it was before the
/// freeze, and the group commit's cached plan then scans every row of the
/// slot for each commit (a hash join instead of primary-key look-ups): about
/// 3 ms of server CPU per commit at 5,000 recipients, growing with the list.
/// `ANALYZE` samples a bounded number of rows, so this costs at most a few
/// hundred milliseconds once per issue, and it invalidates the cached plans.
async fn analyze_recipients(
    c: &tokio_postgres::Client,
    added: u64,
) -> Result<(), tokio_postgres::Error> {
    if added > 0 {
        c.batch_execute("ANALYZE recipients").await?;
    }
    Ok(())
}

/// The group commit in one statement: marks (`hold`: claimed, leased, in
/// flight) and outcomes (the claim ends) together, one row per key.
const COMMIT: &str = "UPDATE recipients r SET status = o.status,
        attempts = r.attempts + o.attempts,
        last_code = COALESCE(o.code, r.last_code),
        last_reply = COALESCE(o.reply, r.last_reply),
        message_id = COALESCE(o.mid, r.message_id), updated_at = $8,
        relay = COALESCE(o.relay, r.relay),
        claimed_by = CASE WHEN o.hold THEN $9::text END,
        lease_until = CASE WHEN o.hold THEN now() + make_interval(secs => $10::float8) END
     FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $11::bool[],
            $12::text[])
        AS o(email, status, attempts, code, reply, mid, hold, relay)
     WHERE r.slot = $1 AND r.email = o.email";

/// The columns of [`COMMIT`], one entry per key: `UPDATE … FROM` applies
/// only one source row to each target row, so a key's outcomes and mark in
/// one group are folded first, in the order they happened.
#[derive(Default)]
struct CommitRows<'a> {
    keys: Vec<&'a str>,
    statuses: Vec<&'static str>,
    attempts: Vec<i32>,
    codes: Vec<Option<i32>>,
    replies: Vec<Option<&'a str>>,
    ids: Vec<Option<&'a str>>,
    hold: Vec<bool>,
    relays: Vec<Option<&'a str>>,
}

impl<'a> CommitRows<'a> {
    fn new(in_flight: &[&'a str], outcomes: &'a [Outcome]) -> Self {
        let mut rows = Self::default();
        let mut at: std::collections::HashMap<&str, usize> = Default::default();
        for o in outcomes {
            let code = o.code.map(i32::from);
            match at.get(o.key.as_str()) {
                Some(&i) => {
                    rows.statuses[i] = o.status.as_str();
                    rows.attempts[i] += o.attempts as i32;
                    rows.codes[i] = code.or(rows.codes[i]);
                    rows.replies[i] = o.reply.as_deref().or(rows.replies[i]);
                    rows.ids[i] = o.message_id.as_deref().or(rows.ids[i]);
                    rows.relays[i] = o.relay.as_deref().or(rows.relays[i]);
                }
                None => {
                    at.insert(&o.key, rows.keys.len());
                    rows.keys.push(&o.key);
                    rows.statuses.push(o.status.as_str());
                    rows.attempts.push(o.attempts as i32);
                    rows.codes.push(code);
                    rows.replies.push(o.reply.as_deref());
                    rows.ids.push(o.message_id.as_deref());
                    rows.hold.push(false);
                    rows.relays.push(o.relay.as_deref());
                }
            }
        }
        // A mark comes after any outcome of its key in the same group (a
        // `retrying` wait, then the next attempt): a worker's own job is
        // marked only once its previous end is reported, and it ends only
        // after the mark's commit.
        for &key in in_flight {
            let i = match at.get(key) {
                Some(&i) => i,
                None => {
                    at.insert(key, rows.keys.len());
                    rows.keys.push(key);
                    rows.attempts.push(0);
                    rows.codes.push(None);
                    rows.replies.push(None);
                    rows.ids.push(None);
                    rows.statuses.push("");
                    rows.hold.push(false);
                    rows.relays.push(None);
                    rows.keys.len() - 1
                }
            };
            rows.statuses[i] = RecipientStatus::InFlight.as_str();
            rows.hold[i] = true;
        }
        rows
    }
}

pub(super) async fn insert_issue<C: GenericClient>(
    c: &C,
    slot: &str,
    number: u32,
    selection: &Selection,
    rendered: Option<&[u8]>,
) -> Result<u64, tokio_postgres::Error> {
    c.execute(
        "INSERT INTO issues (slot, number, comparisons, tip, status, assembled_at, rendered)
         VALUES ($1, $2, $3, $4, 'assembled', $5, $6) ON CONFLICT (slot) DO NOTHING",
        &[
            &slot,
            &(number as i32),
            &selection.comparisons.join(","),
            &selection.tip,
            &now(),
            &rendered,
        ],
    )
    .await
}

/// Locks the issue row; whether it is still `assembled` (not yet frozen).
async fn lock_assembled<C: GenericClient>(
    c: &C,
    slot: &str,
) -> Result<bool, tokio_postgres::Error> {
    let row = c
        .query_opt(
            "SELECT status FROM issues WHERE slot = $1 FOR UPDATE",
            &[&slot],
        )
        .await?;
    Ok(row.is_some_and(|r| r.get::<_, String>(0) == "assembled"))
}

async fn mark_sending<C: GenericClient>(c: &C, slot: &str) -> Result<u64, tokio_postgres::Error> {
    c.execute(
        "UPDATE issues SET status = 'sending', started_at = $2 WHERE slot = $1",
        &[&slot, &now()],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::CommitRows;
    use crate::store::records::{Outcome, RecipientStatus};

    fn outcome(key: &str, status: RecipientStatus, code: Option<u16>) -> Outcome {
        Outcome {
            key: key.into(),
            status,
            attempts: 1,
            code,
            reply: code.map(|c| format!("{c} reply")),
            message_id: None,
            relay: None,
        }
    }

    #[test]
    fn commit_rows_fold_a_retry_and_its_next_mark_into_one_row() {
        let outcomes = [
            outcome("a@x", RecipientStatus::Retrying, Some(451)),
            outcome("b@x", RecipientStatus::Sent, Some(250)),
        ];
        let rows = CommitRows::new(&["a@x", "c@x"], &outcomes);
        assert_eq!(rows.keys, ["a@x", "b@x", "c@x"]);
        assert_eq!(rows.statuses, ["in_flight", "sent", "in_flight"]);
        assert_eq!(rows.hold, [true, false, true]);
        assert_eq!(rows.attempts, [1, 1, 0]);
        assert_eq!(rows.codes, [Some(451), Some(250), None]);
        assert_eq!(rows.replies, [Some("451 reply"), Some("250 reply"), None]);
    }

    #[test]
    fn commit_rows_fold_two_outcomes_of_one_key() {
        let outcomes = [
            outcome("a@x", RecipientStatus::Retrying, Some(451)),
            outcome("a@x", RecipientStatus::Failed, None),
        ];
        let rows = CommitRows::new(&[], &outcomes);
        assert_eq!(rows.keys, ["a@x"]);
        assert_eq!(rows.statuses, ["failed"]);
        assert_eq!(rows.attempts, [2]);
        assert_eq!(rows.codes, [Some(451)]);
        assert_eq!(rows.hold, [false]);
    }
}
