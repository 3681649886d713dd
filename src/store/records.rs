//! The records both engines keep and hand back: an issue's and a recipient's
//! lifecycle, what a delivery came to, counts, and one reader's rows.
//!
//! Owns these plain types; no SQL and no engine lives here.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::content::issue::Selection;

/// Ledger errors.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// SQLite failed.
    #[error("ledger `{path}`: {source}")]
    Sqlite {
        /// The ledger file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The state folder cannot be created.
    #[error("cannot create state folder `{path}`: {source} (check `state.dir` in config.toml)")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The ledger file cannot be created.
    #[error("cannot create ledger `{path}`: {source} (check `state.dir` in config.toml)")]
    Create {
        /// The ledger file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was written by a newer tipsheet.
    #[error(
        "ledger `{path}` has schema version {found}, newer than this tipsheet understands ({known}); upgrade tipsheet"
    )]
    TooNew {
        /// The ledger file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Newest version known here.
        known: i64,
    },
}

/// An issue's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueStatus {
    /// Content chosen and frozen; nobody mailed yet.
    Assembled,
    /// Recipients frozen; a send started and has not finished everyone.
    Sending,
    /// Every recipient reached a final state.
    Sent,
}

/// A recipient's lifecycle within one issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecipientStatus {
    /// Not tried yet.
    Pending,
    /// Handed to a worker; not yet confirmed.
    InFlight,
    /// The server answered 250.
    Sent,
    /// A transient failure; will be tried again in this run.
    Retrying,
    /// Transient failures used up this run's attempts; the next send retries.
    Failed,
    /// A permanent (5xx) failure; suppressed.
    Bounced,
    /// In flight when a run died: the server may or may not have it.
    Uncertain,
    /// Unsubscribed after the list was frozen.
    Skipped,
}

impl RecipientStatus {
    /// All statuses, in display order.
    pub const ALL: [RecipientStatus; 8] = [
        Self::Pending,
        Self::InFlight,
        Self::Sent,
        Self::Retrying,
        Self::Failed,
        Self::Bounced,
        Self::Uncertain,
        Self::Skipped,
    ];

    /// The stored name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Sent => "sent",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Bounced => "bounced",
            Self::Uncertain => "uncertain",
            Self::Skipped => "skipped",
        }
    }
}

impl fmt::Display for RecipientStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecipientStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown recipient status `{s}`"))
    }
}

impl IssueStatus {
    /// The stored name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Assembled => "assembled",
            Self::Sending => "sending",
            Self::Sent => "sent",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            _ => Self::Assembled,
        }
    }
}

impl fmt::Display for IssueStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An issue as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRecord {
    /// Slot date, `YYYY-MM-DD`.
    pub slot: chrono::NaiveDate,
    /// Issue number.
    pub number: u32,
    /// The frozen selection.
    pub selection: Selection,
    /// Lifecycle.
    pub status: IssueStatus,
    /// RFC 3339 times.
    pub assembled_at: String,
    /// When the first send started.
    pub started_at: Option<String>,
    /// When the last recipient reached a final state.
    pub finished_at: Option<String>,
}

/// A recipient as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRecord {
    /// Normalized address (the key).
    pub key: String,
    /// Address as written in the list.
    pub address: String,
    /// Name at freeze time.
    pub name: String,
    /// Lifecycle.
    pub status: RecipientStatus,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Last SMTP reply code.
    pub last_code: Option<u16>,
    /// Last SMTP reply text.
    pub last_reply: Option<String>,
    /// The Message-ID sent.
    pub message_id: Option<String>,
    /// RFC 3339.
    pub updated_at: String,
}

/// The result of one delivery, to record.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Normalized address.
    pub key: String,
    /// New status.
    pub status: RecipientStatus,
    /// Attempts made in this run (added to the stored count).
    pub attempts: u32,
    /// SMTP reply code.
    pub code: Option<u16>,
    /// SMTP reply text (or the error).
    pub reply: Option<String>,
    /// The Message-ID.
    pub message_id: Option<String>,
    /// The relay that carried (or refused) it; `None` for the outbox, or
    /// when no relay was reached.
    pub relay: Option<std::sync::Arc<str>>,
}

/// Counts by status for one issue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// (status, count), zero counts left out.
    pub by_status: Vec<(RecipientStatus, u64)>,
}

impl Counts {
    /// The count for one status.
    pub fn get(&self, s: RecipientStatus) -> u64 {
        self.by_status
            .iter()
            .find(|(k, _)| *k == s)
            .map_or(0, |(_, n)| *n)
    }
    /// Counts in-flight recipients as uncertain (when no run is active, they are).
    pub(crate) fn fold_in_flight(&mut self) {
        let n = self.get(RecipientStatus::InFlight);
        if n == 0 {
            return;
        }
        self.by_status
            .retain(|(s, _)| *s != RecipientStatus::InFlight);
        match self
            .by_status
            .iter_mut()
            .find(|(s, _)| *s == RecipientStatus::Uncertain)
        {
            Some((_, m)) => *m += n,
            None => self.by_status.push((RecipientStatus::Uncertain, n)),
        }
        self.by_status.sort();
    }

    /// All recipients.
    pub fn total(&self) -> u64 {
        self.by_status.iter().map(|(_, n)| n).sum()
    }
    /// Recipients not yet in a final state for this issue.
    pub(crate) fn open(&self) -> u64 {
        [
            RecipientStatus::Pending,
            RecipientStatus::InFlight,
            RecipientStatus::Retrying,
            RecipientStatus::Failed,
            RecipientStatus::Uncertain,
        ]
        .iter()
        .map(|s| self.get(*s))
        .sum()
    }
}

/// One reader's row in one issue (what `subscribers show` lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderRow {
    /// Slot date of the issue.
    pub slot: String,
    /// Its number.
    pub number: u32,
    /// The recipient row.
    pub recipient: RecipientRecord,
}

/// One inbound event (bounce, complaint, …) of a reader, as `subscribers
/// show` lists it. Read only where the ledger has an `events` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderEvent {
    /// Its kind as stored (`hard_bounce`, `complaint`, …).
    pub kind: String,
    /// The issue's slot date, when known.
    pub slot: Option<String>,
    /// Where it came from.
    pub source: String,
    /// Enhanced status code, when given.
    pub status: Option<String>,
    /// The provider's reason text.
    pub reason: String,
    /// When it happened, RFC 3339.
    pub at: String,
}

/// A subscriber as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubscriber {
    /// Normalized address (the key).
    pub key: String,
    /// Address as written.
    pub address: String,
    /// Display name; may be empty.
    pub name: String,
    /// RFC 3339, when known.
    pub subscribed_at: Option<String>,
}

/// A suppression as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSuppression {
    /// Normalized address (the key).
    pub key: String,
    /// Address as written.
    pub address: String,
    /// Why (`unsubscribed`, `bounced: …`, `imported`, …).
    pub reason: String,
    /// RFC 3339.
    pub at: String,
}

/// What [`Ledger::freeze_issue`](super::Ledger::freeze_issue) found or made.
#[derive(Debug)]
pub struct FrozenIssue {
    /// The issue as stored (its selection is the one every host sends).
    pub record: IssueRecord,
    /// The rendered issue every host sends.
    pub rendered: Option<Vec<u8>>,
    /// Recipients frozen by this call; `None` if it was frozen before.
    pub added: Option<u64>,
    /// Rows of the list skipped while freezing, as warnings.
    pub diags: Vec<crate::diagnostic::Diagnostic>,
}

/// Everything the shared store holds about one reader.
#[derive(Debug, Clone, Default)]
pub struct StoredReader {
    /// The list row, when the address is on the list.
    pub subscriber: Option<StoredSubscriber>,
    /// Suppression rows of the address or one of its pseudonyms, oldest first.
    pub suppressions: Vec<StoredSuppression>,
    /// Every recipient row, oldest issue first.
    pub issues: Vec<ReaderRow>,
    /// Inbound events, oldest first.
    pub events: Vec<ReaderEvent>,
}

/// What [`Roster::forget`](super::Roster::forget) is asked to do.
pub struct Erasure<'a> {
    /// The normalized address whose rows are erased.
    pub key: &'a str,
    /// What replaces it everywhere (the current pseudonym).
    pub pseudonym: &'a str,
    /// The time of the final `forgotten` suppression row (RFC 3339).
    pub at: &'a str,
    /// The same instant.
    pub now: chrono::DateTime<chrono::Utc>,
    /// The reason of that row.
    pub reason: &'a str,
    /// Every name the reader's rows hold (the list files' rows lose them too).
    pub names: &'a [String],
    /// Scrubs free text (SMTP replies, event reasons, natural keys), given the
    /// names the erased rows held (read inside the transaction).
    pub scrub: &'a (dyn Fn(&str, &[String]) -> String + Sync),
}

/// What an erasure did, or why it did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forgotten {
    /// Some recipient row is being sent right now (claimed under a live
    /// lease) or was left in flight: nothing was changed.
    Busy {
        /// Slots whose row a host holds under a live lease.
        sending: Vec<String>,
        /// Slots whose row is in flight with no live lease (a send died).
        in_flight: Vec<String>,
    },
    /// Erased.
    Done {
        /// Subscriber rows removed (0 or 1).
        list_rows: u64,
        /// Earlier suppression rows of the address replaced by the `forgotten` row.
        suppression_rows: u64,
        /// Recipient rows and events pseudonymized.
        ledger_rows: u64,
    },
}

/// Everything one engine holds about one reader, as `subscribers show` and
/// "Download my data" give it: list and suppression rows with their columns.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// The list rows of the address.
    pub list: Vec<crate::list::erase::Row>,
    /// Its suppression rows (and its pseudonyms'), oldest first.
    pub suppression: Vec<crate::list::erase::Row>,
    /// Every recipient row, oldest issue first.
    pub issues: Vec<ReaderRow>,
    /// Inbound events, oldest first.
    pub events: Vec<ReaderEvent>,
    /// The counters of its canonical mailbox (a confirmation or privacy
    /// link mailed to it), while the store keeps them (their window).
    pub counted: Vec<super::limits::Counted>,
}

/// Where one engine keeps a reader's rows, as `subscribers show|forget` name them.
#[derive(Debug, Clone)]
pub struct Places {
    /// The list: its file, or its table.
    pub list: String,
    /// The suppressions.
    pub suppressions: String,
    /// The ledger's recipient rows and events.
    pub ledger: String,
    /// What an erasure does to the earlier suppression rows.
    pub erased_suppressions: &'static str,
}
