//! What came back after a send: bounces, complaints and unsubscribes, as the
//! ledger's `events` table records them (each once, by a natural key).
//!
//! Owns the event types shared by every store engine. It decides nothing:
//! `inbound::policy` says what an event does to the list.

use std::fmt;
use std::str::FromStr;

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A permanent failure (5.x.x): suppress at once.
    HardBounce,
    /// A transient failure (4.x.x): counted.
    SoftBounce,
    /// Still trying (DSN `Action: delayed`): a warning only.
    Delayed,
    /// "This is spam", by feedback loop or relay.
    Complaint,
    /// A mailed (or relayed) unsubscribe request.
    Unsubscribe,
    /// A failure that never counts against the reader (its scope is the
    /// message, the sender, the transport, or unknown): recorded per issue
    /// with its reason and provider, changing nothing else.
    Failure,
    /// An ARF report about the sender (`auth-failure`, `dkim`, `not-spam`, or
    /// a type not known here), never a complaint: recorded only.
    SenderReport,
}

impl EventKind {
    /// All kinds.
    pub const ALL: [EventKind; 7] = [
        Self::HardBounce,
        Self::SoftBounce,
        Self::Delayed,
        Self::Complaint,
        Self::Unsubscribe,
        Self::Failure,
        Self::SenderReport,
    ];

    /// The stored name (also the generic webhook's `type`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::HardBounce => "hard_bounce",
            Self::SoftBounce => "soft_bounce",
            Self::Delayed => "delayed",
            Self::Complaint => "complaint",
            Self::Unsubscribe => "unsubscribe",
            Self::Failure => "failure",
            Self::SenderReport => "sender_report",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown event type `{s}`"))
    }
}

/// One event, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unique natural key: the provider's event id, or a hash of the message,
    /// with the kind and address; a repeat with the same key is ignored.
    pub key: String,
    /// What happened.
    pub kind: EventKind,
    /// Normalized address.
    pub email: String,
    /// The slot date, when known.
    pub slot: Option<chrono::NaiveDate>,
    /// Where it came from: `dsn`, `arf`, `mailto`, `bounce-text`, `generic`,
    /// `mailgun`, `postmark`.
    pub source: String,
    /// Enhanced status code (`5.1.1`), when given.
    pub status: Option<String>,
    /// The provider's reason text.
    pub reason: String,
    /// When it happened, RFC 3339.
    pub at: String,
    /// Why it failed, whose problem that is and where, when a mail system
    /// said so (bounces, failures and reports about the sender).
    pub failure: Option<FailureDetail>,
}

/// The classified cause of a failure, as the `events` table keeps it
/// (`failure_reason`, `scope`, `provider`): the names `inbound::reason`
/// gives its reasons and scopes (the store keeps them, it does not judge them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureDetail {
    /// The reason's stable name (`user_unknown`, `blocked`; for a report
    /// about the sender, its feedback type).
    pub reason: String,
    /// The scope's name (`address`, `mailbox`, `message`, `sender`, `transport`, `unknown`).
    pub scope: String,
    /// The receiving domain (the failed recipient's), lowercase; empty when unknown.
    pub provider: String,
}

/// An event as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// The event.
    pub event: Event,
    /// When it was recorded, RFC 3339.
    pub recorded_at: String,
}

/// What recording a new event must also change, in the same transaction as
/// the record: `inbound::policy` decides it, each engine carries it out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consequence {
    /// Suppress the address with this reason; an existing suppression keeps
    /// its own reason and time (nothing is lifted or overwritten).
    pub suppress: Option<String>,
    /// Move the event's ledger row (its issue, its address) to `bounced`,
    /// with this text as the last reply.
    pub bounce_row: Option<String>,
    /// Record the event only if it suppresses the address now: an
    /// unsubscribe of an address already suppressed is no new event.
    pub only_if_suppressing: bool,
}

/// What recording one event did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// False when it was recorded before (or not at all): nothing changed.
    pub new: bool,
    /// For a soft bounce: how many count, this one included (distinct issues
    /// in the window).
    pub soft_count: Option<u64>,
    /// True when the suppression was written now.
    pub suppressed: bool,
    /// True when the ledger row moved to `bounced` now.
    pub row_bounced: bool,
}
