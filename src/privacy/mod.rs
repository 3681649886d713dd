//! A reader's rights over what tipsheet holds about them: see it
//! (`subscribers show`, the web's "Download my data") and erase it
//! (`subscribers forget`, "Delete my data").
//!
//! Owns gathering one address's rows from every store (the list, the
//! suppression history, the ledger) into one [`Record`], and the order and
//! safety rules of an erasure: never while a send runs, the suppression
//! written first so that a crash part-way still never mails the reader again,
//! the address and the names replaced by one pseudonym and scrubbed from free
//! text. The rules are the same on both engines ([`Engine`]): the embedded one
//! rewrites the list files and the SQLite ledger (`list::privacy`,
//! `store::Ledger`), the shared one erases in one PostgreSQL transaction
//! (`store::PgStore::forget_reader`), which is also what refuses a send
//! running on another host (the run lock is per host).
//! This is a folder of its own because it spans stages (`list`, `store`, the
//! outbox) that must not reach into each other. It must not print, and it
//! leaves the operator's copies of sent mail alone unless asked.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::delivery::session::{self, RunLock, SessionError};
use crate::list::privacy::{self as files, EraseError, Keyer, Row};
use crate::list::{Suppression, normalize};
use crate::mail::token::{Signer, encode_query};
use crate::store::{
    Erasure, Forgotten, Ledger, LedgerError, PgStore, ReaderEvent, ReaderRow, RecipientStatus,
    StoreError,
};

/// Where a reader's data is: the engine of the configured store.
#[derive(Clone, Copy)]
pub enum Engine<'a> {
    /// The embedded default: `subscribers.csv`, `suppressed.csv` and the
    /// SQLite ledger under `state.dir`.
    Files,
    /// The shared PostgreSQL store.
    Shared(&'a PgStore),
}

impl<'a> Engine<'a> {
    /// The shared store when there is one, else the files.
    pub fn of(store: Option<&'a PgStore>) -> Self {
        store.map_or(Self::Files, Self::Shared)
    }
}

/// Why a record cannot be gathered or erased.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// A send holds the run lock.
    #[error(
        "a send is running (it holds `{0}`); nothing was erased: wait until it finishes (`tipsheet status`), then run forget again"
    )]
    Busy(PathBuf),
    /// A host is sending to the address right now (shared store: its
    /// recipient row is claimed under a live lease).
    #[error(
        "`{key}` is being sent issue {slots} by a send on some host right now; nothing was erased: wait until that send finishes (`tipsheet status --date {first}`), then run forget again"
    )]
    Sending {
        /// The address.
        key: String,
        /// The slots, joined.
        slots: String,
        /// The first slot.
        first: String,
    },
    /// The address has rows in flight in the ledger.
    #[error(
        "`{key}` is in flight in issue {slots} (a send stopped while mailing it); nothing was erased: finish that issue with `tipsheet send --date {first}`, then run forget again"
    )]
    InFlight {
        /// The address.
        key: String,
        /// The slots, joined.
        slots: String,
        /// The first slot.
        first: String,
    },
    /// Erasing needs the real secret: the pseudonym is keyed by it.
    #[error(
        "`{0}` is not set: forget keys the hash that keeps an erased address suppressed with the unsubscribe secret; set `{0}` (the secret `send` uses) and run forget again"
    )]
    NoSecret(String),
    /// Not an address.
    #[error("`{0}` is not a valid email address")]
    Address(String),
    /// No terminal to ask on, and no `--yes`.
    #[error(
        "refusing to forget `{0}` without confirmation: standard input is not a terminal; pass `--yes` to erase it"
    )]
    Unconfirmed(String),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A list file failed.
    #[error(transparent)]
    Erase(#[from] EraseError),
    /// The shared store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The state folder or its lock file cannot be used.
    #[error(transparent)]
    State(Box<SessionError>),
    /// A copy (or standard input) could not be handled.
    #[error("`{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The keyer of the configured unsubscribe secret; `None` when it is unset.
pub fn configured_keyer(config: &Config) -> Option<Keyer> {
    std::env::var(&config.unsubscribe.secret_env)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            crate::plan::with_previous_key(config, crate::plan::keyer_of(Signer::new(v.as_bytes())))
        })
}

/// Holds the run lock (`<state>/tipsheet.lock`) so no send starts meanwhile;
/// on the shared store it holds nothing (sends there take no lock file: the
/// erasure's transaction refuses while a host sends to the address).
#[derive(Debug)]
pub struct StateLock(#[allow(dead_code)] Option<RunLock>);

/// Takes the run lock, or says a send is running.
pub fn lock_state(config: &Config, engine: Engine<'_>) -> Result<StateLock, PrivacyError> {
    if let Engine::Shared(_) = engine {
        return Ok(StateLock(None));
    }
    match session::lock(&config.state.dir) {
        Ok(l) => Ok(StateLock(Some(l))),
        Err(SessionError::Locked(path)) => Err(PrivacyError::Busy(path)),
        Err(e) => Err(PrivacyError::State(Box::new(e))),
    }
}

/// Everything tipsheet holds about one address.
#[derive(Debug, Clone)]
pub struct Record {
    /// The normalized address.
    pub key: String,
    /// Its pseudonym under the current secret.
    pub pseudonym: String,
    /// Whether it was erased before (its last suppression row is `forgotten`).
    pub forgotten: bool,
    /// Rows of `subscribers.csv`.
    pub list: Vec<Row>,
    /// Rows of `suppressed.csv`, in clear or as its pseudonym.
    pub suppression: Vec<Row>,
    /// Every issue sent (or being sent) to it.
    pub issues: Vec<ReaderRow>,
    /// Inbound events about it (bounces, complaints), where the ledger has them.
    pub events: Vec<ReaderEvent>,
}

impl Record {
    /// The JSON given to the reader and printed by `show --json`: the
    /// reader's own data only (no server paths).
    pub fn to_json(&self) -> Value {
        let rows = |rows: &[Row]| -> Value {
            rows.iter()
                .map(|r| {
                    let mut m = Map::new();
                    // Rows of the shared store have no line.
                    if r.line > 0 {
                        m.insert("line".into(), r.line.into());
                    }
                    for (c, v) in &r.fields {
                        m.insert(c.clone(), v.clone().into());
                    }
                    Value::Object(m)
                })
                .collect()
        };
        let issues: Vec<Value> = self
            .issues
            .iter()
            .map(|i| {
                let r = &i.recipient;
                json!({
                    "number": i.number, "slot": i.slot, "email": r.key, "address": r.address,
                    "name": r.name, "status": r.status.as_str(), "attempts": r.attempts,
                    "code": r.last_code, "reply": r.last_reply, "message_id": r.message_id,
                    "updated_at": r.updated_at,
                })
            })
            .collect();
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| {
                json!({
                    "kind": e.kind, "slot": e.slot, "source": e.source, "status": e.status,
                    "reason": e.reason, "at": e.at,
                })
            })
            .collect();
        json!({
            "email": self.key,
            "forgotten": self.forgotten,
            "list": rows(&self.list),
            "suppression": rows(&self.suppression),
            "issues": issues,
            "events": events,
        })
    }
}

/// The normalized address, or an error when it is not one.
fn key_of(address: &str) -> Result<String, PrivacyError> {
    let key = normalize(address);
    if key.parse::<lettre::Address>().is_err() {
        return Err(PrivacyError::Address(address.trim().to_string()));
    }
    Ok(key)
}

/// Gathers the record of `address` (normalized here) from `engine`.
pub async fn gather(
    config: &Config,
    engine: Engine<'_>,
    keyer: &Keyer,
    address: &str,
) -> Result<Record, PrivacyError> {
    let key = key_of(address)?;
    let mut keys = vec![key.clone()];
    keys.extend(keyer.pseudonyms(&key));
    let (list, suppression, issues, events) = match engine {
        Engine::Files => {
            let (issues, events) = match Ledger::open_read_only(&config.ledger_path())? {
                Some(l) => (l.rows_of(&keys)?, l.events_of(&keys)?),
                None => (Vec::new(), Vec::new()),
            };
            (
                files::list_rows(&config.subscribers.path, &key)?,
                files::suppression_rows(&config.subscribers.suppressed_path, &key, keyer)?,
                issues,
                events,
            )
        }
        Engine::Shared(pg) => {
            let held = pg.reader(&keys).await?;
            let row = |values: [&str; 3], header: &[&str]| Row {
                line: 0,
                fields: header
                    .iter()
                    .zip(values)
                    .map(|(c, v)| ((*c).to_string(), v.to_string()))
                    .collect(),
            };
            let list = held
                .subscriber
                .iter()
                .map(|s| {
                    let at = s.subscribed_at.as_deref().unwrap_or("");
                    row([&s.address, &s.name, at], crate::list::SUBSCRIBERS_HEADER)
                })
                .collect();
            let suppression = held
                .suppressions
                .iter()
                .map(|s| {
                    row(
                        [&s.address, &s.reason, &s.at],
                        crate::list::SUPPRESSION_HEADER,
                    )
                })
                .collect();
            (list, suppression, held.issues, held.events)
        }
    };
    let forgotten = suppression
        .last()
        .is_some_and(|r| r.get("reason").trim() == files::FORGOTTEN);
    Ok(Record {
        list,
        suppression,
        issues,
        events,
        forgotten,
        pseudonym: keyer.pseudonym(&key),
        key,
    })
}

/// What an erasure did.
#[derive(Debug, Clone, Default)]
pub struct Erased {
    /// The normalized address.
    pub key: String,
    /// What replaced it.
    pub pseudonym: String,
    /// Rows removed from the list.
    pub list_rows: usize,
    /// Earlier suppression rows rewritten to the pseudonym (the files), or
    /// replaced by the `forgotten` row (the shared store).
    pub suppression_rows: usize,
    /// Ledger rows pseudonymized.
    pub ledger_rows: u64,
    /// Copies still holding the address (the operator's).
    pub copies: Vec<PathBuf>,
    /// Outbox copies deleted (`--outbox`).
    pub deleted: Vec<PathBuf>,
}

/// What an erasure does with the operator's copies (outbox, previews).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copies {
    /// Leave them unread (the web: a scan of a large outbox per request is
    /// not for anyone holding a link to trigger).
    Skip,
    /// List the files holding the address.
    List,
    /// List them, and delete the outbox's `.eml` files among them.
    DeleteOutbox,
}

/// The refusal of an erasure while rows of `key` in `slots` are being sent
/// (`sending`: under a live lease) or were left in flight.
fn busy(key: &str, slots: &[&str], sending: bool) -> PrivacyError {
    let (key, slots, first) = (
        key.to_string(),
        slots.join(", "),
        slots.first().map_or(String::new(), |s| (*s).to_string()),
    );
    if sending {
        PrivacyError::Sending { key, slots, first }
    } else {
        PrivacyError::InFlight { key, slots, first }
    }
}

/// The names to scrub: every non-empty name the reader's rows hold.
fn names_of<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<String> = names
        .into_iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Erases `address` (see the module doc) while `_lock` keeps sends out.
pub async fn forget(
    config: &Config,
    engine: Engine<'_>,
    _lock: &StateLock,
    keyer: &Keyer,
    address: &str,
    handle: Copies,
    now: DateTime<Utc>,
) -> Result<Erased, PrivacyError> {
    let record = gather(config, engine, keyer, address).await?;
    let key = record.key.clone();
    // On the shared store the erasure's transaction checks this (and the
    // leases) itself, under the row locks.
    let in_flight: Vec<&str> = record
        .issues
        .iter()
        .filter(|r| r.recipient.status == RecipientStatus::InFlight)
        .map(|r| r.slot.as_str())
        .collect();
    if matches!(engine, Engine::Files) && !in_flight.is_empty() {
        return Err(busy(&key, &in_flight, false));
    }
    let names = names_of(
        record
            .list
            .iter()
            .map(|r| r.get("name"))
            .chain(record.issues.iter().map(|r| r.recipient.name.as_str())),
    );
    let pseudonym = record.pseudonym.clone();
    // Free text loses the address and every name, also names read later (in
    // the shared store's transaction).
    let scrub = |text: &str, more: &[String]| {
        let all = names_of(names.iter().chain(more).map(String::as_str));
        let mut needles: Vec<&str> = vec![&key];
        needles.extend(all.iter().map(String::as_str));
        files::scrub(text, &needles, &pseudonym)
    };
    let (list_rows, suppression_rows, ledger_rows) = match engine {
        Engine::Files => {
            // Suppress first: a crash after this still never mails the reader again.
            let suppression_rows = files::forget_in_suppression(
                &config.subscribers.suppressed_path,
                &key,
                &names,
                keyer,
                now,
            )?;
            let removed = files::remove_from_list(&config.subscribers.path, &key)?;
            let mut ledger_rows = 0;
            if Ledger::open_read_only(&config.ledger_path())?.is_some() {
                ledger_rows =
                    Ledger::open(&config.ledger_path())?
                        .pseudonymize(&key, &pseudonym, &|t| scrub(t, &[]))?;
            }
            (removed.rows, suppression_rows, ledger_rows)
        }
        Engine::Shared(pg) => {
            let at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
            let erasure = Erasure {
                key: &key,
                pseudonym: &pseudonym,
                at: &at,
                reason: files::FORGOTTEN,
                scrub: &scrub,
            };
            match pg.forget_reader(&erasure).await? {
                Forgotten::Busy { sending, in_flight } => {
                    let live = !sending.is_empty();
                    let slots: Vec<&str> = if live { &sending } else { &in_flight }
                        .iter()
                        .map(String::as_str)
                        .collect();
                    return Err(busy(&key, &slots, live));
                }
                Forgotten::Done {
                    list_rows,
                    suppression_rows,
                    ledger_rows,
                } => (list_rows as usize, suppression_rows as usize, ledger_rows),
            }
        }
    };
    let mut copies = match handle {
        Copies::Skip => Vec::new(),
        Copies::List | Copies::DeleteOutbox => copies(config, &key),
    };
    let mut deleted = Vec::new();
    if handle == Copies::DeleteOutbox {
        let outbox = &config.delivery.outbox_dir;
        for p in copies
            .iter()
            .filter(|p| p.starts_with(outbox) && p.extension().is_some_and(|x| x == "eml"))
        {
            std::fs::remove_file(p).map_err(|source| PrivacyError::Io {
                path: p.clone(),
                source,
            })?;
            deleted.push(p.clone());
        }
        copies.retain(|p| !deleted.contains(p));
    }
    Ok(Erased {
        key,
        pseudonym,
        list_rows,
        suppression_rows,
        ledger_rows,
        copies,
        deleted,
    })
}

/// Whether an address must not be signed up again: its reader asked to be forgotten.
pub async fn is_forgotten(
    config: &Config,
    engine: Engine<'_>,
    keyer: &Keyer,
    key: &str,
) -> Result<bool, PrivacyError> {
    match engine {
        Engine::Files => {
            let (set, _) = Suppression::load(&config.subscribers.suppressed_path)
                .map_err(|e| PrivacyError::Erase(e.into()))?;
            Ok(set.keyed(keyer.clone()).is_forgotten(key))
        }
        Engine::Shared(pg) => Ok(!forgotten_among(pg, keyer, &[key]).await?.is_empty()),
    }
}

/// Which of the normalized `keys` were erased (their pseudonym has the
/// shared store's `forgotten` suppression row): an import or a sign-up of
/// them must not write them back in clear.
pub async fn forgotten_among(
    pg: &PgStore,
    keyer: &Keyer,
    keys: &[&str],
) -> Result<HashSet<String>, StoreError> {
    let mut of = std::collections::HashMap::new();
    for key in keys {
        for p in keyer.pseudonyms(key) {
            of.insert(p, (*key).to_string());
        }
    }
    let pseudonyms: Vec<String> = of.keys().cloned().collect();
    let found = pg.suppressed_for(&pseudonyms, files::FORGOTTEN).await?;
    Ok(found.iter().filter_map(|p| of.get(p).cloned()).collect())
}

/// Outbox and preview files holding the normalized address (as written, or
/// percent-encoded in a link), sorted. Reads every file there.
pub fn copies(config: &Config, key: &str) -> Vec<PathBuf> {
    let needles = [key.to_lowercase(), encode_query(key).to_lowercase()];
    let mut found = Vec::new();
    let preview = config.state.dir.join("preview");
    let mut stack: Vec<PathBuf> = vec![config.delivery.outbox_dir.clone(), preview];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else if holds(&p, &needles) {
                found.push(p);
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn holds(path: &Path, needles: &[String]) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes).to_lowercase();
    needles.iter().any(|n| text.contains(n.as_str()))
}
