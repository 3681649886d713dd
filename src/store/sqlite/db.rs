//! The embedded engine: the ledger in one SQLite file under `state.dir` (WAL).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::content::issue::Selection;
use crate::store::columns::{now, stored_selection};
use crate::store::records::{
    Counts, IssueRecord, IssueStatus, LedgerError, Outcome, ReaderEvent, ReaderRow,
    RecipientRecord, RecipientStatus,
};

/// The migrations, in order: migration N is `MIGRATIONS[N - 1]`, recorded in
/// `PRAGMA user_version` (the schema-version row of a SQLite file).
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_issues_and_recipients.sql"),
    include_str!("../migrations/sqlite/0002_events.sql"),
    include_str!("../migrations/sqlite/0003_recipients_by_key.sql"),
    include_str!("../migrations/sqlite/0004_failure_detail.sql"),
    include_str!("../migrations/sqlite/0005_recipients_by_message_id.sql"),
    include_str!("../migrations/sqlite/0006_webhook_tokens.sql"),
    include_str!("../migrations/sqlite/0007_feeds.sql"),
    include_str!("../migrations/sqlite/0008_spent_confirmations.sql"),
    include_str!("../migrations/sqlite/0009_holds.sql"),
    include_str!("../migrations/sqlite/0010_approvals.sql"),
    include_str!("../migrations/sqlite/0011_rate_limits.sql"),
    include_str!("../migrations/sqlite/0012_quotas_and_relays.sql"),
    include_str!("../migrations/sqlite/0013_console.sql"),
    include_str!("../migrations/sqlite/0014_pauses_and_feed_outcomes.sql"),
    include_str!("../migrations/sqlite/0015_continue_at.sql"),
];

/// The newest schema version this tipsheet knows.
pub(crate) fn known_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// The schema version of the file at `path` (0 when missing); opens it read-only.
pub(crate) fn version_of(path: &Path) -> Result<i64, LedgerError> {
    if !path.exists() {
        return Ok(0);
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sql(path, e))?;
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| sql(path, e))
}

/// An open ledger.
pub struct Db {
    pub(super) conn: Connection,
    path: PathBuf,
}

impl Db {
    /// Opens (creating if needed) the ledger at `path`, migrating it to the current schema.
    pub(crate) fn open(path: &Path) -> Result<Self, LedgerError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            crate::fsperm::create_private_dir(dir).map_err(|source| LedgerError::Folder {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        // Owner-only before SQLite opens it: its `-wal` and `-shm` get its mode.
        crate::fsperm::touch_private(path).map_err(|source| LedgerError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        let conn = Connection::open(path).map_err(|e| sql(path, e))?;
        let mut ledger = Self {
            conn,
            path: path.to_path_buf(),
        };
        ledger.setup()?;
        Ok(ledger)
    }

    /// Opens an existing ledger without writing to it; `None` if there is none yet.
    pub(crate) fn open_read_only(path: &Path) -> Result<Option<Self>, LedgerError> {
        if !path.exists() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| sql(path, e))?;
        let ledger = Self {
            conn,
            path: path.to_path_buf(),
        };
        let version: i64 = ledger
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| ledger.err(e))?;
        if version > MIGRATIONS.len() as i64 {
            return Err(LedgerError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: MIGRATIONS.len() as i64,
            });
        }
        if version == 0 {
            return Ok(None); // An empty file: nothing to read yet.
        }
        // An older file reads as it is; what it lacks (events) reads as empty.
        Ok(Some(ledger))
    }

    /// The connection, for the engine's other files (`feeds.rs`).
    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(super) fn err(&self, e: rusqlite::Error) -> LedgerError {
        sql(&self.path, e)
    }

    /// The connection for a transaction, and how to name its errors.
    pub(super) fn transact(
        &mut self,
    ) -> (
        &mut Connection,
        impl Fn(rusqlite::Error) -> LedgerError + use<>,
    ) {
        let path = self.path.clone();
        (&mut self.conn, move |e| sql(&path, e))
    }

    fn setup(&mut self) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let c = &mut self.conn;
        c.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| sql(&path, e))?;
        c.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| sql(&path, e))?;
        // NORMAL in WAL mode: a commit survives a killed process (it is in the
        // WAL via write()); only a power cut can lose the last commits.
        c.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| sql(&path, e))?;
        c.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| sql(&path, e))?;
        let version: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| sql(&path, e))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(LedgerError::TooNew {
                path,
                found: version,
                known,
            });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = c.transaction().map_err(|e| sql(&path, e))?;
            tx.execute_batch(m).map_err(|e| sql(&path, e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| sql(&path, e))?;
            tx.commit().map_err(|e| sql(&path, e))?;
        }
        Ok(())
    }

    /// Every commit waits for the disk (`synchronous = FULL`): a crash of
    /// the machine loses no commit either (`[store] synchronous_commit = true`).
    pub(crate) fn flush_every_commit(&self) -> Result<(), LedgerError> {
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(|e| self.err(e))
    }

    /// Whether every commit waits for the disk (`synchronous` is `FULL` or `EXTRA`).
    pub(crate) fn flushes_every_commit(&self) -> Result<bool, LedgerError> {
        let level: i64 = self
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(level >= 2)
    }

    /// All issues, oldest first.
    pub(crate) fn issues(&self) -> Result<Vec<IssueRecord>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT slot, number, comparisons, tip, status, assembled_at, started_at, finished_at
                 FROM issues ORDER BY slot",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], issue_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// One issue by slot date.
    pub(crate) fn issue(&self, date: NaiveDate) -> Result<Option<IssueRecord>, LedgerError> {
        self.one_issue("slot", &slot_key(date))
    }

    /// One issue by number.
    pub(crate) fn issue_by_number(&self, number: u32) -> Result<Option<IssueRecord>, LedgerError> {
        self.one_issue("number", &number)
    }

    /// The issue whose `column` (a fixed name, never input) equals `value`.
    fn one_issue(
        &self,
        column: &'static str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Option<IssueRecord>, LedgerError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT slot, number, comparisons, tip, status, assembled_at, started_at, finished_at
                     FROM issues WHERE {column} = ?1"
                ),
                [value],
                issue_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records an issue's frozen selection and, when given, its rendered
    /// copy (no-op if the slot already has an issue).
    pub(crate) fn assemble(
        &self,
        date: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: Option<&[u8]>,
    ) -> Result<(), LedgerError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.conn
            .execute(
                "INSERT OR IGNORE INTO issues (slot, number, comparisons, tip, status, assembled_at, rendered)
                 VALUES (?1, ?2, ?3, ?4, 'assembled', ?5, ?6)",
                params![
                    slot,
                    number,
                    selection.comparisons.join(","),
                    selection.tip,
                    now(),
                    rendered
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The rendered issue recorded with `date`, if any (none on a ledger
    /// from before migration 10, opened to read).
    pub(crate) fn rendered(&self, date: NaiveDate) -> Result<Option<Vec<u8>>, LedgerError> {
        if !self.has_table("approvals")? {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT rendered FROM issues WHERE slot = ?1",
                [slot_key(date)],
                |r| r.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    /// Freezes the recipient set and marks the issue `sending`, in one
    /// transaction; does nothing if the issue already left `assembled`.
    /// `recipients` yields (normalized key, address, name). Returns how many rows
    /// were added (duplicates by key are ignored).
    pub(crate) fn freeze<I, E>(
        &mut self,
        date: NaiveDate,
        recipients: I,
    ) -> Result<Result<u64, E>, LedgerError>
    where
        I: IntoIterator<Item = Result<(String, String, String), E>>,
    {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| sql(&path, e))?;
        let status: Option<String> = tx
            .query_row("SELECT status FROM issues WHERE slot = ?1", [slot], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| sql(&path, e))?;
        if status.as_deref() != Some("assembled") {
            return Ok(Ok(0));
        }
        let mut added = 0;
        {
            let at = now();
            let mut stmt = tx
                .prepare(
                    "INSERT OR IGNORE INTO recipients (slot, email, address, name, status, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
                )
                .map_err(|e| sql(&path, e))?;
            for recipient in recipients {
                // A list that stops early freezes nobody: the transaction
                // is dropped, so rolled back.
                let (key, address, name) = match recipient {
                    Ok(r) => r,
                    Err(e) => return Ok(Err(e)),
                };
                added += stmt
                    .execute(params![slot, key, address, name, at])
                    .map_err(|e| sql(&path, e))? as u64;
            }
        }
        tx.execute(
            "UPDATE issues SET status = 'sending', started_at = ?2 WHERE slot = ?1",
            params![slot, now()],
        )
        .map_err(|e| sql(&path, e))?;
        tx.commit().map_err(|e| sql(&path, e))?;
        Ok(Ok(added))
    }

    /// After a crash: recipients left in flight become `uncertain`. Returns how many.
    pub(crate) fn recover(&self, date: NaiveDate) -> Result<u64, LedgerError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let n = self
            .conn
            .execute(
                "UPDATE recipients SET status = 'uncertain', updated_at = ?2
                 WHERE slot = ?1 AND status = 'in_flight'",
                params![slot, now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(n as u64)
    }

    /// The next recipients to try, by key after `after`, at most `limit`.
    pub(crate) fn due(
        &self,
        date: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, LedgerError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let list = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(",");
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT email, address, name, status, attempts, last_code, last_reply, message_id, updated_at
                 FROM recipients WHERE slot = ?1 AND status IN ({list}) AND email > ?2
                 ORDER BY email LIMIT ?3"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![slot, after, limit as i64], recipient_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Marks `keys` in flight, and records `outcomes`, in one transaction.
    pub(crate) fn commit(
        &mut self,
        date: NaiveDate,
        in_flight: &[&str],
        outcomes: &[Outcome],
    ) -> Result<(), LedgerError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        if in_flight.is_empty() && outcomes.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let at = now();
        let tx = self.conn.transaction().map_err(|e| sql(&path, e))?;
        {
            let mut mark = tx
                .prepare_cached(
                    "UPDATE recipients SET status = 'in_flight', updated_at = ?3
                     WHERE slot = ?1 AND email = ?2",
                )
                .map_err(|e| sql(&path, e))?;
            for key in in_flight {
                mark.execute(params![slot, key, at])
                    .map_err(|e| sql(&path, e))?;
            }
            let mut record = tx
                .prepare_cached(
                    "UPDATE recipients SET status = ?3, attempts = attempts + ?4,
                        last_code = COALESCE(?5, last_code), last_reply = COALESCE(?6, last_reply),
                        message_id = COALESCE(?7, message_id), updated_at = ?8,
                        relay = COALESCE(?9, relay)
                     WHERE slot = ?1 AND email = ?2",
                )
                .map_err(|e| sql(&path, e))?;
            for o in outcomes {
                record
                    .execute(params![
                        slot,
                        o.key,
                        o.status.as_str(),
                        o.attempts,
                        o.code,
                        o.reply,
                        o.message_id,
                        at,
                        o.relay.as_deref()
                    ])
                    .map_err(|e| sql(&path, e))?;
            }
        }
        tx.commit().map_err(|e| sql(&path, e))
    }

    /// Counts by status for one issue: a sent issue's kept tally while it
    /// is current (see `tallies.rs`), else counted.
    pub(crate) fn counts(&self, date: NaiveDate) -> Result<Counts, LedgerError> {
        match self.kept_tally(date)? {
            Some(kept) => Ok(kept),
            None => self.count_rows(date),
        }
    }

    /// Counts by status for one issue, counted over its recipients.
    pub(crate) fn count_rows(&self, date: NaiveDate) -> Result<Counts, LedgerError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT status, COUNT(*) FROM recipients WHERE slot = ?1 GROUP BY status",
            )
            .map_err(|e| self.err(e))?;
        let mut by_status: Vec<(RecipientStatus, u64)> = stmt
            .query_map([slot], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| self.err(e))?
            .filter_map(Result::ok)
            .filter_map(|(s, n)| s.parse().ok().map(|s| (s, n as u64)))
            .collect();
        by_status.sort();
        Ok(Counts { by_status })
    }

    /// How many of the issue's recipients each relay carried, by name.
    pub(crate) fn sent_by_relay(&self, date: NaiveDate) -> Result<Vec<(String, u64)>, LedgerError> {
        let has: bool = self
            .conn
            .query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('recipients') WHERE name = 'relay'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        if !has {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT relay, COUNT(*) FROM recipients
                 WHERE slot = ?1 AND status = 'sent' AND relay IS NOT NULL
                 GROUP BY relay ORDER BY relay",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([slot_key(date)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })
        .map_err(|e| self.err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.err(e))
    }

    /// Marks the issue `sent` when nobody is left open, and keeps its
    /// tally for the console (the counts are in hand; see `tallies.rs`);
    /// returns its status.
    pub(crate) fn finish(&self, date: NaiveDate) -> Result<IssueStatus, LedgerError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        // The events first: a bounce recorded between the two reads then
        // makes the kept tally look stale (counted again), never current.
        let events = self.event_count(slot)?;
        let counts = self.count_rows(date)?;
        if counts.open() == 0 {
            let marked = self
                .conn
                .execute(
                    "UPDATE issues SET status = 'sent', finished_at = COALESCE(finished_at, ?2),
                        continue_at = NULL
                     WHERE slot = ?1 AND status = 'sending'",
                    params![slot, now()],
                )
                .map_err(|e| self.err(e))?;
            if marked > 0 {
                self.keep_tally(slot, events, &counts)?;
            }
        }
        Ok(self
            .issue(date)?
            .map_or(IssueStatus::Assembled, |i| i.status))
    }

    /// Soft bounces of `email` at or after `since` (RFC 3339), counting one per
    /// issue (a relay that reports one message twice counts once).
    pub(crate) fn soft_bounces_since(&self, email: &str, since: &str) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                "SELECT COUNT(DISTINCT COALESCE(slot, natural_key)) FROM events
                 WHERE email = ?1 AND kind = 'soft_bounce' AND at >= ?2",
                params![email, since],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Moves a recipient row to `bounced` (a bounce that came back after the
    /// session); false when there is no such row or it already was.
    pub(crate) fn mark_bounced(
        &self,
        slot: NaiveDate,
        email: &str,
        reason: &str,
    ) -> Result<bool, LedgerError> {
        let n = self
            .conn
            .execute(
                "UPDATE recipients SET status = 'bounced', last_reply = ?3, updated_at = ?4
                 WHERE slot = ?1 AND email = ?2 AND status <> 'bounced'",
                params![slot_key(slot), email, reason, now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    /// The latest issue whose copy went out to `email` (sent, bounced later,
    /// or uncertain): what an event without our Message-ID is most likely about.
    pub(crate) fn latest_issue_of(&self, email: &str) -> Result<Option<NaiveDate>, LedgerError> {
        let slot: Option<String> = self
            .conn
            .query_row(
                // Newest issue first, each probed by the primary key (slot,
                // email): a few lookups, never a scan of the recipients.
                "SELECT i.slot FROM issues i
                 WHERE EXISTS (SELECT 1 FROM recipients r
                     WHERE r.slot = i.slot AND r.email = ?1
                       AND r.status IN ('sent', 'bounced', 'uncertain'))
                 ORDER BY i.slot DESC LIMIT 1",
                [email],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(slot.and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()))
    }

    /// Whether `email` ever complained (a later sign-up needs the double
    /// opt-in); false where the ledger has no `events` table.
    pub(crate) fn complained(&self, email: &str) -> Result<bool, LedgerError> {
        if !self.has_table("events")? {
            return Ok(false);
        }
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM events WHERE email = ?1 AND kind = 'complaint'",
                [email],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// The recipient of issue `slot` whose Message-ID hash starts with `rid`
    /// (what a VERP token or a quoted Message-ID names).
    pub(crate) fn recipient_by_rid(
        &self,
        slot: NaiveDate,
        rid: &str,
    ) -> Result<Option<RecipientRecord>, LedgerError> {
        let slot = slot_key(slot);
        let prefix = format!("<{slot}.{rid}");
        self.conn
            .query_row(
                "SELECT email, address, name, status, attempts, last_code, last_reply, message_id, updated_at
                 FROM recipients WHERE slot = ?1 AND substr(message_id, 1, ?3) = ?2",
                params![slot, prefix, prefix.len() as i64],
                recipient_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub(super) fn has_table(&self, name: &str) -> Result<bool, LedgerError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// Every inbound event whose address is one of `keys`, oldest first;
    /// none where the ledger has no `events` table.
    pub(crate) fn events_of(&self, keys: &[String]) -> Result<Vec<ReaderEvent>, LedgerError> {
        if !self.has_table("events")? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT kind, slot, source, status, reason, at FROM events
                 WHERE email = ?1 ORDER BY at, id",
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for key in keys {
            let rows = stmt
                .query_map([key], |r| {
                    Ok(ReaderEvent {
                        kind: r.get(0)?,
                        slot: r.get(1)?,
                        source: r.get(2)?,
                        status: r.get(3)?,
                        reason: r.get(4)?,
                        at: r.get(5)?,
                    })
                })
                .map_err(|e| self.err(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?;
            out.extend(rows);
        }
        out.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(out)
    }

    /// Every recipient row whose key is one of `keys` (an address and its
    /// pseudonyms), oldest issue first.
    pub(crate) fn rows_of(&self, keys: &[String]) -> Result<Vec<ReaderRow>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.email, r.address, r.name, r.status, r.attempts, r.last_code, r.last_reply,
                        r.message_id, r.updated_at, r.slot, i.number
                 FROM recipients r JOIN issues i ON i.slot = r.slot
                 WHERE r.email = ?1 ORDER BY r.slot",
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for key in keys {
            let rows = stmt
                .query_map([key], |r| {
                    Ok(ReaderRow {
                        recipient: recipient_row(r)?,
                        slot: r.get(9)?,
                        number: r.get(10)?,
                    })
                })
                .map_err(|e| self.err(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?;
            out.extend(rows);
        }
        out.sort_by(|a, b| a.slot.cmp(&b.slot));
        Ok(out)
    }

    /// Replaces `key` by `pseudonym` in every recipient row: the address too,
    /// the name emptied, the reply text passed through `scrub`, the Message-ID
    /// (an unkeyed hash of the address) dropped; inbound events, where the
    /// ledger has them, get the pseudonym too, their natural key and reason
    /// scrubbed. Statuses, attempts, codes and kinds stay, so counts, rates
    /// and exactly-once records are unchanged. Erased bytes are
    /// zeroed (`secure_delete`), the file rebuilt (`VACUUM`) and the WAL
    /// truncated, so no old page keeps the address. Returns the rows changed.
    pub(crate) fn pseudonymize(
        &mut self,
        key: &str,
        pseudonym: &str,
        scrub: &dyn Fn(&str) -> String,
    ) -> Result<u64, LedgerError> {
        let path = self.path.clone();
        self.conn
            .pragma_update(None, "secure_delete", "ON")
            .map_err(|e| sql(&path, e))?;
        let tx = self.conn.transaction().map_err(|e| sql(&path, e))?;
        let rows: Vec<(String, Option<String>)> = {
            let mut stmt = tx
                .prepare("SELECT slot, last_reply FROM recipients WHERE email = ?1")
                .map_err(|e| sql(&path, e))?;
            stmt.query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| sql(&path, e))?
                .collect::<Result<_, _>>()
                .map_err(|e| sql(&path, e))?
        };
        for (slot, reply) in &rows {
            tx.execute(
                "UPDATE recipients SET email = ?3, address = ?3, name = '', last_reply = ?4,
                    message_id = NULL
                 WHERE slot = ?1 AND email = ?2",
                params![slot, key, pseudonym, reply.as_deref().map(scrub)],
            )
            .map_err(|e| sql(&path, e))?;
        }
        // Inbound events (where the ledger has them): address, natural key and
        // reason text; kind, status and times stay, so rates stay true.
        let events: Vec<(i64, String, String)> = if has_events(&tx, &path)? {
            let mut stmt = tx
                .prepare("SELECT id, natural_key, reason FROM events WHERE email = ?1")
                .map_err(|e| sql(&path, e))?;
            stmt.query_map([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(|e| sql(&path, e))?
                .collect::<Result<_, _>>()
                .map_err(|e| sql(&path, e))?
        } else {
            Vec::new()
        };
        for (id, natural_key, reason) in &events {
            tx.execute(
                "UPDATE events SET email = ?2, natural_key = ?3, reason = ?4 WHERE id = ?1",
                params![id, pseudonym, scrub(natural_key), scrub(reason)],
            )
            .map_err(|e| sql(&path, e))?;
        }
        tx.commit().map_err(|e| sql(&path, e))?;
        let changed = rows.len() + events.len();
        if changed > 0 {
            self.conn
                .execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(|e| sql(&path, e))?;
        }
        Ok(changed as u64)
    }
}

fn has_events(tx: &rusqlite::Transaction<'_>, path: &Path) -> Result<bool, LedgerError> {
    tx.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| sql(path, e))
}

fn sql(path: &Path, source: rusqlite::Error) -> LedgerError {
    LedgerError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// A slot date as the ledger stores it: TEXT, `YYYY-MM-DD`.
pub(super) fn slot_key(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn issue_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IssueRecord> {
    let comparisons: String = r.get(2)?;
    let slot: String = r.get(0)?;
    let slot = NaiveDate::parse_from_str(&slot, "%Y-%m-%d").map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(IssueRecord {
        slot,
        number: r.get(1)?,
        selection: stored_selection(&comparisons, r.get(3)?),
        status: IssueStatus::parse(&r.get::<_, String>(4)?),
        assembled_at: r.get(5)?,
        started_at: r.get(6)?,
        finished_at: r.get(7)?,
    })
}

pub(super) fn recipient_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecipientRecord> {
    let status: String = r.get(3)?;
    Ok(RecipientRecord {
        key: r.get(0)?,
        address: r.get(1)?,
        name: r.get(2)?,
        status: status.parse().unwrap_or(RecipientStatus::Pending),
        attempts: r.get(4)?,
        last_code: r.get(5)?,
        last_reply: r.get(6)?,
        message_id: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::Db;
    use crate::content::issue::Selection;
    use crate::store::records::{IssueStatus, Outcome, RecipientStatus};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn sel() -> Selection {
        Selection {
            comparisons: vec!["a".into(), "b".into()],
            tip: "t".into(),
        }
    }

    #[test]
    fn a_list_that_stops_early_freezes_nobody() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Db::open(&dir.path().join("l.sqlite3")).unwrap();
        l.assemble(d("2026-12-01"), 1, &sel(), None).unwrap();
        let rows = [
            Ok(("a@x.com".to_string(), "a@x.com".to_string(), String::new())),
            Err("cut off"),
        ];
        assert_eq!(l.freeze(d("2026-12-01"), rows).unwrap(), Err("cut off"));
        assert_eq!(l.counts(d("2026-12-01")).unwrap().total(), 0);
        assert_eq!(
            l.issue(d("2026-12-01")).unwrap().unwrap().status,
            IssueStatus::Assembled,
            "still assembled: the next run freezes again"
        );
    }

    #[test]
    fn lifecycle_freeze_recover_commit_finish() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Db::open(&dir.path().join("state/l.sqlite3")).unwrap();
        l.assemble(d("2026-12-01"), 1, &sel(), None).unwrap();
        l.assemble(
            d("2026-12-01"),
            1,
            &Selection {
                comparisons: vec![],
                tip: "x".into(),
            },
            None,
        )
        .unwrap();
        assert_eq!(l.issue(d("2026-12-01")).unwrap().unwrap().selection, sel());
        let people = ["a@x.com", "b@x.com", "c@x.com", "a@x.com"]
            .map(|k| (k.to_string(), k.to_string(), String::new()));
        assert_eq!(
            l.freeze(d("2026-12-01"), people.clone().map(Ok::<_, ()>))
                .unwrap(),
            Ok(3)
        );
        // Frozen: a second freeze adds nobody.
        assert_eq!(
            l.freeze(
                d("2026-12-01"),
                [Ok::<_, ()>((
                    "d@x.com".into(),
                    "d@x.com".into(),
                    String::new()
                ))]
            )
            .unwrap(),
            Ok(0)
        );
        l.commit(d("2026-12-01"), &["a@x.com", "b@x.com"], &[])
            .unwrap();
        l.commit(
            d("2026-12-01"),
            &[],
            &[Outcome {
                key: "a@x.com".into(),
                status: RecipientStatus::Sent,
                attempts: 1,
                code: Some(250),
                reply: Some("ok".into()),
                message_id: Some("<m@x>".into()),
                relay: None,
            }],
        )
        .unwrap();
        assert_eq!(l.recover(d("2026-12-01")).unwrap(), 1);
        let c = l.counts(d("2026-12-01")).unwrap();
        assert_eq!(
            (
                c.get(RecipientStatus::Sent),
                c.get(RecipientStatus::Uncertain),
                c.get(RecipientStatus::Pending)
            ),
            (1, 1, 1)
        );
        assert_eq!(l.finish(d("2026-12-01")).unwrap(), IssueStatus::Sending);
        let due = l
            .due(
                d("2026-12-01"),
                &[RecipientStatus::Pending, RecipientStatus::Uncertain],
                "",
                10,
            )
            .unwrap();
        assert_eq!(
            due.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["b@x.com", "c@x.com"]
        );
        let done: Vec<Outcome> = due
            .iter()
            .map(|r| Outcome {
                key: r.key.clone(),
                status: RecipientStatus::Sent,
                attempts: 1,
                code: Some(250),
                reply: None,
                message_id: None,
                relay: None,
            })
            .collect();
        l.commit(d("2026-12-01"), &[], &done).unwrap();
        assert_eq!(l.finish(d("2026-12-01")).unwrap(), IssueStatus::Sent);
        let a = l
            .due(d("2026-12-01"), &[RecipientStatus::Sent], "", usize::MAX)
            .unwrap();
        assert_eq!(a[0].attempts, 1);
        assert_eq!(a[0].last_reply.as_deref(), Some("ok"));
    }

    #[test]
    fn pseudonymize_keeps_statuses_and_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite3");
        let mut l = Db::open(&path).unwrap();
        for (slot, n) in [("2026-12-01", 1), ("2026-12-15", 2)] {
            l.assemble(d(slot), n, &sel(), None).unwrap();
            let people = [("ann@x.com", "Ann Other"), ("bob@x.com", "Bob")]
                .map(|(k, n)| (k.to_string(), k.to_string(), n.to_string()));
            l.freeze(d(slot), people.map(Ok::<_, ()>)).unwrap().unwrap();
            let bounce = Outcome {
                key: "ann@x.com".into(),
                status: RecipientStatus::Bounced,
                attempts: 1,
                code: Some(550),
                reply: Some("<ANN@x.com> unknown; Ann Other left".into()),
                message_id: Some("<m@x>".into()),
                relay: None,
            };
            l.commit(d(slot), &[], &[bounce]).unwrap();
        }
        let before = (
            l.counts(d("2026-12-01")).unwrap(),
            l.counts(d("2026-12-15")).unwrap(),
        );
        let scrub = |t: &str| t.replace("<ANN@x.com>", "<h>").replace("Ann Other", "h");
        assert_eq!(l.pseudonymize("ann@x.com", "hmac:h", &scrub).unwrap(), 2);
        assert_eq!(l.pseudonymize("ann@x.com", "hmac:h", &scrub).unwrap(), 0);
        let after = (
            l.counts(d("2026-12-01")).unwrap(),
            l.counts(d("2026-12-15")).unwrap(),
        );
        assert_eq!(before, after);
        let rows = l.rows_of(&["hmac:h".into()]).unwrap();
        assert_eq!(rows.len(), 2);
        let r = &rows[0].recipient;
        assert_eq!((r.address.as_str(), r.name.as_str()), ("hmac:h", ""));
        assert_eq!(r.last_reply.as_deref(), Some("<h> unknown; h left"));
        assert_eq!(
            (r.status, r.message_id.as_deref()),
            (RecipientStatus::Bounced, None)
        );
        assert_eq!(l.rows_of(&["bob@x.com".into()]).unwrap()[1].number, 2);
        // Inbound events (the `events` table of migration 2).
        l.conn
            .execute_batch(
                "INSERT INTO events (natural_key, kind, email, slot, source, status, reason, at,
                    recorded_at) VALUES ('dsn:hard_bounce:ann@x.com', 'hard_bounce', 'ann@x.com',
                    '2026-12-15', 'dsn', '5.1.1', '<ann@x.com>: Ann Other unknown',
                    '2026-12-16T00:00:00Z', '2026-12-16T00:00:01Z');
                 INSERT INTO events (natural_key, kind, email, slot, source, status, reason, at,
                    recorded_at) VALUES ('dsn:complaint:bob@x.com', 'complaint', 'bob@x.com',
                    NULL, 'arf', NULL, 'spam', '2026-12-16T00:00:00Z', '2026-12-16T00:00:01Z');",
            )
            .unwrap();
        assert_eq!(l.events_of(&["ann@x.com".into()]).unwrap().len(), 1);
        let scrub2 = |t: &str| t.replace("ann@x.com", "h").replace("Ann Other", "h");
        assert_eq!(l.pseudonymize("ann@x.com", "hmac:h", &scrub2).unwrap(), 1);
        let e = l.events_of(&["hmac:h".into()]).unwrap();
        assert_eq!(
            (
                e[0].kind.as_str(),
                e[0].reason.as_str(),
                e[0].status.as_deref()
            ),
            ("hard_bounce", "<h>: h unknown", Some("5.1.1"))
        );
        assert_eq!(
            l.events_of(&["bob@x.com".into()]).unwrap()[0].reason,
            "spam"
        );
        drop(l);
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let bytes = std::fs::read(f.path()).unwrap();
            let text = String::from_utf8_lossy(&bytes).to_lowercase();
            assert!(
                !text.contains("ann@x.com") && !text.contains("ann other"),
                "{:?}",
                f.path()
            );
        }
    }

    #[test]
    fn read_only_open_of_a_missing_ledger_is_none_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.sqlite3");
        assert!(Db::open_read_only(&p).unwrap().is_none());
        assert!(!p.exists());
        drop(Db::open(&p).unwrap());
        assert!(Db::open_read_only(&p).unwrap().is_some());
    }

    #[cfg(unix)]
    #[test]
    fn the_ledger_and_its_wal_are_created_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/tipsheet.sqlite3");
        let db = Db::open(&path).unwrap();
        db.conn
            .execute_batch("CREATE TABLE probe (x); INSERT INTO probe VALUES (1);")
            .unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("state")), 0o700);
        for suffix in ["-wal", "-shm"] {
            let side = dir.path().join(format!("state/tipsheet.sqlite3{suffix}"));
            assert_eq!(mode(&side), 0o600, "{}", side.display());
        }
    }
}
