//! A reader's rights over what tipsheet holds about them: see it
//! (`subscribers show`, the web's "Download my data") and erase it
//! (`subscribers forget`, "Delete my data").
//!
//! Owns gathering one address's rows from every store (the list, the
//! suppression history, the ledger) into one [`Record`], and the order and
//! safety rules of an erasure: never while a send runs, the suppression
//! written first so that a crash part-way still never mails the reader again,
//! the address and the names replaced by one pseudonym and scrubbed from free
//! text. The rules are the same on both engines, which carry them out
//! through the store's [`Roster`] side: each refuses while a send is mailing
//! the address (the embedded engine under its run lock, the shared one in
//! the erasure's transaction, which sees every host's leases).
//! This is a folder of its own because it spans stages (`list`, `store`, the
//! outbox) that must not reach into each other. It must not print, and it
//! leaves the operator's copies of sent mail alone unless asked.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::list::erase::{self as files, EraseError, Row};
use crate::list::keyer::Keyer;
use crate::list::{SuppressionReason, normalize};
use crate::mail::token::{Signer, encode_query};
use crate::store::{
    Counted, Erasure, Forgotten, LedgerError, LimitScope, ReaderEvent, ReaderRow, Roster,
    StoreError,
};

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
pub(crate) fn configured_keyer(config: &Config) -> Option<Keyer> {
    std::env::var(&config.unsubscribe.secret_env)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            crate::plan::with_previous_key(config, crate::plan::keyer_of(Signer::new(v.as_bytes())))
        })
}

/// Everything tipsheet holds about one address.
#[derive(Debug, Clone)]
pub(crate) struct Record {
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
    /// When the sign-up form last sent its mailbox a confirmation mail,
    /// while the store keeps that (the limit's hour).
    pub confirmation: Option<DateTime<Utc>>,
    /// When `/privacy` last mailed its mailbox a link, while the store keeps
    /// that (the limit's hour).
    pub privacy_link: Option<DateTime<Utc>>,
}

impl Record {
    /// The JSON given to the reader and printed by `show --json`: the
    /// reader's own data only (no server paths).
    pub(crate) fn to_json(&self) -> Value {
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
            "confirmation_sent_at": self
                .confirmation
                .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true)),
            "privacy_link_sent_at": self
                .privacy_link
                .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true)),
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

/// Gathers the record of `address` (normalized here) from `store`.
pub(crate) async fn gather(
    store: &dyn Roster,
    keyer: &Keyer,
    address: &str,
) -> Result<Record, PrivacyError> {
    let key = key_of(address)?;
    let held = store.held(&key).await?;
    let forgotten = held
        .suppression
        .last()
        .is_some_and(|r| SuppressionReason::Forgotten.is(r.get("reason")));
    Ok(Record {
        list: held.list,
        suppression: held.suppression,
        issues: held.issues,
        events: held.events,
        confirmation: since(&held.counted, LimitScope::Confirm),
        privacy_link: since(&held.counted, LimitScope::Privacy),
        forgotten,
        pseudonym: keyer.pseudonym(&key),
        key,
    })
}

/// When the counter of `scope` among `counted` started.
fn since(counted: &[Counted], scope: LimitScope) -> Option<DateTime<Utc>> {
    counted.iter().find(|c| c.scope == scope).map(|c| c.since)
}

/// What an erasure did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Erased {
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
pub(crate) enum Copies {
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

/// Erases `address` (see the module doc).
pub(crate) async fn forget(
    config: &Config,
    store: &dyn Roster,
    keyer: &Keyer,
    address: &str,
    handle: Copies,
    now: DateTime<Utc>,
) -> Result<Erased, PrivacyError> {
    let record = gather(store, keyer, address).await?;
    let key = record.key.clone();
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
    let at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let forgotten = SuppressionReason::Forgotten.as_str();
    let erasure = Erasure {
        key: &key,
        pseudonym: &pseudonym,
        at: &at,
        now,
        reason: &forgotten,
        names: &names,
        scrub: &scrub,
    };
    // Erased before: nothing is left in clear, so nothing is written and no
    // lock is taken (a repeated erasure must not collide with a send).
    let (list_rows, suppression_rows, ledger_rows) = if is_forgotten(store, &key).await? {
        (0, 0, 0)
    } else {
        erase(store, &erasure, &key).await?
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

/// Carries out `erasure` in the store: (list, suppression, ledger) rows changed.
async fn erase(
    store: &dyn Roster,
    erasure: &Erasure<'_>,
    key: &str,
) -> Result<(usize, usize, u64), PrivacyError> {
    Ok(match store.forget(erasure).await {
        Err(StoreError::Locked(path)) => return Err(PrivacyError::Busy(path)),
        Err(e) => return Err(e.into()),
        Ok(Forgotten::Busy { sending, in_flight }) => {
            let live = !sending.is_empty();
            let slots: Vec<&str> = if live { &sending } else { &in_flight }
                .iter()
                .map(String::as_str)
                .collect();
            return Err(busy(key, &slots, live));
        }
        Ok(Forgotten::Done {
            list_rows,
            suppression_rows,
            ledger_rows,
        }) => (list_rows as usize, suppression_rows as usize, ledger_rows),
    })
}

/// Whether an address must not be signed up again: its reader asked to be forgotten.
pub(crate) async fn is_forgotten(store: &dyn Roster, key: &str) -> Result<bool, PrivacyError> {
    Ok(!store.forgotten_among(&[key]).await?.is_empty())
}

/// Outbox and preview files holding the normalized address (as written, or
/// percent-encoded in a link), sorted. Reads every file there.
pub(crate) fn copies(config: &Config, key: &str) -> Vec<PathBuf> {
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
