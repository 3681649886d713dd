//! The embedded engine's list side: the list and the suppressions are the
//! CSV files `subscribers.path` and `subscribers.suppressed_path` (read and
//! appended through `crate::list`), erasures rewrite them with the ledger,
//! and the sign-up limits and spent links are tables of the ledger
//! (`limits.rs`).
//!
//! Owns carrying out [`Roster`] on those files; it decides nothing.

use std::collections::HashSet;
use std::io;
use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::index::Pending;
use super::store::{SqliteStore, guard};
use crate::diagnostic::Diagnostic;
use crate::list::erase as files;
use crate::list::{
    self, ListError, Subscriber, SubscriberReader, SubscribersError, Suppression,
    SuppressionReason, Walked,
};
use crate::store::error::StoreError;
use crate::store::ledger::Ledger;
use crate::store::limits::mailbox_keys;
use crate::store::records::{
    Erasure, Forgotten, Held, Places, RecipientStatus, StoredSubscriber, StoredSuppression,
};
use crate::store::roster::Roster;

const SUPPRESSION_LIST: &str = "the suppression list";

fn write_error(what: &'static str, path: &Path, source: io::Error) -> StoreError {
    StoreError::Write {
        what,
        path: path.to_path_buf(),
        source,
    }
}

impl SqliteStore {
    /// Runs `f` on the suppression list as it stands, erased readers
    /// recognised (read again only when the file changed).
    pub(super) fn with_suppression<T>(
        &self,
        f: impl FnOnce(&Suppression) -> T,
    ) -> Result<T, StoreError> {
        self.index.with(f)
    }

    /// Like [`SqliteStore::with_suppression`], before an update: a list that
    /// cannot be read is one that cannot be updated.
    pub(super) fn with_suppression_to_update<T>(
        &self,
        f: impl FnOnce(&Suppression) -> T,
    ) -> Result<T, StoreError> {
        self.with_suppression(f).map_err(|e| {
            write_error(
                SUPPRESSION_LIST,
                &self.suppressed,
                io::Error::other(e.to_string()),
            )
        })
    }

    /// Appends a suppression of `key` unless it already is suppressed; true when written.
    pub(super) fn append_suppression(
        &self,
        key: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut batch = Pending::new(&self.index);
        let new = batch.add(key, reason, at)?;
        batch.commit()?;
        Ok(new)
    }

    fn list_is_file(&self) -> StoreError {
        StoreError::ListIsFile {
            path: self.subscribers.clone(),
        }
    }
}

#[async_trait]
impl Roster for SqliteStore {
    fn places(&self) -> Places {
        Places {
            list: self.subscribers.display().to_string(),
            suppressions: self.suppressed.display().to_string(),
            ledger: self.path.display().to_string(),
            erased_suppressions: "rewritten to the hash, `forgotten` row appended",
        }
    }

    async fn walk_list(
        &self,
        visit: &mut (dyn FnMut(Subscriber) + Send),
    ) -> Result<Walked, StoreError> {
        let mut list = list::active(&self.subscribers, &self.suppressed, self.keyer.clone())?;
        for s in list.by_ref() {
            visit(s?);
        }
        Ok(Walked {
            counts: list.counts,
            diags: list.diags,
        })
    }

    async fn check_list(&self) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        match list::active(&self.subscribers, &self.suppressed, self.keyer.clone()) {
            Ok(mut list) => {
                // In file order: the warnings before a problem, then the problem.
                while let Some(row) = list.next() {
                    diags.append(&mut list.diags);
                    if let Err(e) = row {
                        diags.push(self.list_error(e));
                    }
                }
                diags.append(&mut list.diags);
                if list.counts.active == 0 {
                    diags.push(Diagnostic::warning(
                        &self.subscribers,
                        0,
                        "no active subscriber: a send would mail nobody",
                    ));
                }
            }
            Err(e) => diags.push(self.list_error(e)),
        }
        diags
    }

    async fn is_suppressed(&self, key: &str) -> Result<bool, StoreError> {
        self.with_suppression(|s| s.contains(key))
    }

    async fn suppress(
        &self,
        key: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _files = guard(&self.files);
        self.append_suppression(key, reason, at)
    }

    async fn resubscribe(&self, key: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let _files = guard(&self.files);
        if !self.with_suppression(|s| s.contains(key))? {
            return Ok(false);
        }
        list::append_suppression(
            &self.suppressed,
            key,
            &SuppressionReason::Resubscribed.as_str(),
            at,
        )
        .map_err(|e| write_error(SUPPRESSION_LIST, &self.suppressed, e))?;
        Ok(true)
    }

    async fn subscribe(&self, reader: &StoredSubscriber) -> Result<bool, StoreError> {
        let _files = guard(&self.files);
        let path = &self.subscribers;
        let listed = match SubscriberReader::open(path) {
            Ok(mut rows) => {
                let found = rows
                    .by_ref()
                    .any(|row| row.is_ok_and(|s| s.key == reader.key));
                if !found {
                    // Appending after a list that could not be read to the end could duplicate.
                    rows.finish().map_err(ListError::from)?;
                }
                found
            }
            Err(SubscribersError::Open { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                false
            }
            Err(e) => return Err(ListError::from(e).into()),
        };
        if listed {
            return Ok(false);
        }
        let at = reader
            .subscribed_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        list::append_subscriber(path, &reader.address, &reader.name, at)
            .map_err(|e| write_error("the subscriber list", path, e))?;
        Ok(true)
    }

    async fn spend_confirmation(
        &self,
        digest: &str,
        expires: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.write(|db| {
            let tx = db.conn().unchecked_transaction().map_err(|e| db.err(e))?;
            tx.execute(
                "DELETE FROM spent_confirmations WHERE expires_at < ?1 AND digest <> ?2",
                rusqlite::params![now, digest],
            )
            .map_err(|e| db.err(e))?;
            let spent = tx
                .execute(
                    "INSERT INTO spent_confirmations (digest, expires_at) VALUES (?1, ?2)
                     ON CONFLICT (digest) DO NOTHING",
                    rusqlite::params![digest, expires],
                )
                .map_err(|e| db.err(e))?;
            tx.commit().map_err(|e| db.err(e))?;
            Ok(spent > 0)
        })
    }

    async fn forgotten_among(&self, keys: &[&str]) -> Result<HashSet<String>, StoreError> {
        self.with_suppression(|set| {
            keys.iter()
                .filter(|k| set.is_forgotten(k))
                .map(|k| (*k).to_string())
                .collect()
        })
    }

    async fn held(&self, key: &str) -> Result<Held, StoreError> {
        let Some(keyer) = &self.keyer else {
            return Err(StoreError::NoKeyer);
        };
        let mut keys = vec![key.to_string()];
        keys.extend(keyer.pseudonyms(key));
        let mailbox = mailbox_keys(keyer, key);
        let (issues, events, counted) = self.query((Vec::new(), Vec::new(), Vec::new()), |db| {
            Ok((
                db.rows_of(&keys)?,
                db.events_of(&keys)?,
                db.counted(&mailbox)?,
            ))
        })?;
        Ok(Held {
            list: files::list_rows(&self.subscribers, key)?,
            suppression: files::suppression_rows(&self.suppressed, key, keyer)?,
            issues,
            events,
            counted,
        })
    }

    async fn forget(&self, erasure: &Erasure<'_>) -> Result<Forgotten, StoreError> {
        let Some(keyer) = &self.keyer else {
            return Err(StoreError::NoKeyer);
        };
        // One host: the run lock keeps sends out for the whole erasure.
        let _lock = self.exclusive()?;
        let _files = guard(&self.files);
        let key = erasure.key;
        let rows = self.query(Vec::new(), |db| db.rows_of(&[key.to_string()]))?;
        let in_flight: Vec<String> = rows
            .iter()
            .filter(|r| r.recipient.status == RecipientStatus::InFlight)
            .map(|r| r.slot.clone())
            .collect();
        if !in_flight.is_empty() {
            return Ok(Forgotten::Busy {
                sending: Vec::new(),
                in_flight,
            });
        }
        // Suppress first: a crash after this still never mails the reader again.
        let suppression_rows =
            files::forget_in_suppression(&self.suppressed, key, erasure.names, keyer, erasure.now)?;
        let removed = files::remove_from_list(&self.subscribers, key)?;
        let scrub = |t: &str| (erasure.scrub)(t, &[]);
        // A ledger is rewritten only where one exists (erasing creates none).
        let has_ledger = self.has_ledger();
        let ledger_rows = match has_ledger {
            true => self.write(|db| {
                db.forget_counted(&mailbox_keys(keyer, key))?;
                db.pseudonymize(key, erasure.pseudonym, &scrub)
            })?,
            false => 0,
        };
        Ok(Forgotten::Done {
            list_rows: removed.rows as u64,
            suppression_rows: suppression_rows as u64,
            ledger_rows,
        })
    }

    async fn list_counts(&self) -> Result<(u64, u64), StoreError> {
        Err(self.list_is_file())
    }

    async fn import_subscribers(&self, _rows: &[StoredSubscriber]) -> Result<u64, StoreError> {
        Err(self.list_is_file())
    }

    async fn import_suppressions(&self, _rows: &[StoredSuppression]) -> Result<u64, StoreError> {
        Err(self.list_is_file())
    }

    async fn subscribers(&self) -> Result<Vec<StoredSubscriber>, StoreError> {
        Err(self.list_is_file())
    }

    async fn suppressions(&self) -> Result<Vec<StoredSuppression>, StoreError> {
        Err(self.list_is_file())
    }
}

impl SqliteStore {
    /// A list that cannot be used, as `check` reports it.
    fn list_error(&self, e: ListError) -> Diagnostic {
        match &e {
            ListError::TornRow(p) => {
                // The message names the file and line itself.
                let text = e.to_string();
                let prefix = format!("{}:{}: ", p.path.display(), p.line);
                let text = text.strip_prefix(&prefix).unwrap_or(&text).to_string();
                Diagnostic::error(&p.path, p.line as usize, text)
            }
            _ => Diagnostic::error(&self.subscribers, 0, e.to_string()),
        }
    }
}
