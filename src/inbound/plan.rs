//! What one message would do, worked out without writing anything: its
//! kind, each recipient's reason, scope and action, whether its token
//! verifies, and the ledger row it is about (read from the store).
//!
//! Owns the policy's first half: from a [`Classified`] message to the
//! [`Step`]s the real run carries out (`super::Processor::process`) and the
//! dry run shows (`tipsheet inbound --dry-run`), so the two cannot disagree.
//! It never writes to the store.

use super::classify::{Action, Classified, DsnRecipient, Kind, MAX_QUOTED_IDS};
use super::error::InboundError;
use super::policy::PolicyError;
use super::processor::{Processor, Row};
use super::reason::{Scope, Treatment};
use crate::mail::verp::{self, Check, Purpose};
use crate::store::{EventKind, FailureDetail, StoreError};

/// What kind of mail a message is, as `inbound --dry-run --json` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A DSN or plain-text bounce with a failed recipient.
    Bounce,
    /// A DSN whose recipients are only delayed.
    Delay,
    /// An ARF complaint.
    Complaint,
    /// A mailed unsubscribe.
    Unsubscribe,
    /// An ARF report about the sender (`auth-failure`, `dkim`, `not-spam`, …).
    AuthReport,
    /// An automatic reply.
    AutoReply,
    /// A DSN reporting delivery only.
    Delivered,
    /// Not recognised.
    Unknown,
}

impl MessageKind {
    /// The stable name (`auth_report`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bounce => "bounce",
            Self::Delay => "delay",
            Self::Complaint => "complaint",
            Self::Unsubscribe => "unsubscribe",
            Self::AuthReport => "auth_report",
            Self::AutoReply => "auto_reply",
            Self::Delivered => "delivered",
            Self::Unknown => "unknown",
        }
    }
}

/// Whether the message carried a token of ours for its purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// A token that verifies.
    Valid,
    /// A token-shaped address whose tag does not verify.
    Invalid,
    /// No token.
    Absent,
}

impl TokenState {
    /// The stable name (`valid`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Absent => "absent",
        }
    }
}

/// What the policy does for one recipient (or, for a report, the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The address the report names, when it names one.
    pub address: Option<String>,
    /// The enhanced status code, when given.
    pub status: Option<String>,
    /// The reason's stable name (`user_unknown`; `complaint`, `unsubscribe`,
    /// or the feedback type for ARF reports).
    pub reason: String,
    /// Whose problem it is.
    pub scope: Scope,
    /// What it does: suppress, count a soft bounce, record, or nothing.
    pub action: Treatment,
    /// The event recorded for it (`None`: nothing is recorded).
    pub(crate) event: Option<EventKind>,
    /// The mail system's words.
    pub(crate) diagnostic: String,
}

/// One message, planned: everything `process` needs, nothing written.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What it is.
    pub kind: MessageKind,
    /// The ARF `Feedback-Type`, for reports.
    pub feedback_type: Option<String>,
    /// Whether a token of ours verified.
    pub token: TokenState,
    /// Each recipient's step (empty for automatic replies and the unknown).
    pub steps: Vec<Step>,
    /// The row it is about, or why it is not trusted (`Err`); `None` when
    /// nothing would be recorded.
    pub(crate) row: Option<Result<Row, String>>,
    /// Why it is ignored or not recognised.
    pub(crate) note: String,
    /// Where the events come from (`dsn`, `bounce-text`, `arf`, `mailto`).
    pub(crate) source: &'static str,
    /// SHA-256 of the raw bytes (hex).
    pub(crate) hash: String,
}

impl Plan {
    /// True when the real run would act on it (a row of ours was found).
    pub fn trusted(&self) -> bool {
        matches!(self.row, Some(Ok(_)))
    }

    /// Why the real run would not act on it, when it would not.
    pub fn untrusted_because(&self) -> Option<&str> {
        match &self.row {
            Some(Err(why)) => Some(why),
            _ => None,
        }
    }

    /// The reader a trusted message is about.
    pub fn reader(&self) -> Option<&str> {
        match &self.row {
            Some(Ok(r)) => Some(&r.email),
            _ => None,
        }
    }

    /// Why it is ignored or not recognised (empty otherwise).
    pub fn note(&self) -> &str {
        &self.note
    }

    /// `inbound --dry-run --json`'s object for this message, read from `source`.
    pub fn json(&self, source: &str) -> serde_json::Value {
        let recipients: Vec<serde_json::Value> = self
            .steps
            .iter()
            .map(|s| {
                serde_json::json!({
                    "address": s.address, "status": s.status, "reason": s.reason,
                    "scope": s.scope.as_str(), "action": s.action.as_str(),
                })
            })
            .collect();
        serde_json::json!({
            "source": source, "kind": self.kind.as_str(),
            "feedback_type": self.feedback_type, "token": self.token.as_str(),
            "recipients": recipients, "error": null,
        })
    }
}

/// `inbound --dry-run --json`'s object for a message that could not be read.
pub fn unreadable_json(source: &str, error: &str) -> serde_json::Value {
    serde_json::json!({
        "source": source, "kind": "unreadable", "feedback_type": null,
        "token": TokenState::Absent.as_str(), "recipients": [], "error": error,
    })
}

/// The step of one DSN or plain-text bounce recipient.
fn step(r: &DsnRecipient) -> Step {
    let (action, event) = match (r.action, r.failure.treatment()) {
        (Action::Delivered, _) => (Treatment::Ignore, None),
        (Action::Delayed, _) => (Treatment::Record, Some(EventKind::Delayed)),
        (Action::Failed, Treatment::Suppress) => (Treatment::Suppress, Some(EventKind::HardBounce)),
        (Action::Failed, Treatment::CountSoft) => {
            (Treatment::CountSoft, Some(EventKind::SoftBounce))
        }
        (Action::Failed, Treatment::Record) => (Treatment::Record, Some(EventKind::Failure)),
        (Action::Failed, Treatment::Ignore) => (Treatment::Ignore, None),
    };
    Step {
        address: r.address.clone(),
        status: r.status.clone(),
        reason: r.failure.reason.as_str().to_string(),
        scope: r.failure.scope,
        action,
        event,
        diagnostic: r.diagnostic.clone().unwrap_or_default(),
    }
}

/// The one step of a complaint, an unsubscribe or a report about the sender.
fn whole(reason: &str, scope: Scope, action: Treatment, event: EventKind, text: String) -> Step {
    Step {
        address: None,
        status: None,
        reason: reason.to_string(),
        scope,
        action,
        event: Some(event),
        diagnostic: text,
    }
}

/// The receiving domain of `address` (lowercase), or `""`.
pub(crate) fn provider_of(address: &str) -> String {
    address
        .trim()
        .trim_end_matches('>')
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

impl Step {
    /// The cause an event of this step keeps, the provider being the failed
    /// recipient's domain, else the reader's.
    pub(crate) fn detail(&self, email: &str) -> FailureDetail {
        FailureDetail {
            reason: self.reason.clone(),
            scope: self.scope.as_str().to_string(),
            provider: provider_of(self.address.as_deref().unwrap_or(email)),
        }
    }
}

impl Processor<'_> {
    /// Reads and classifies `raw`, and finds (reading only) the row it is
    /// about: what [`Processor::process`] would then do.
    pub async fn plan(&self, raw: &[u8]) -> Result<Plan, InboundError> {
        let c = super::classify::classify(raw, &self.config.unsubscribe.mailto)?;
        let mut plan = Plan {
            kind: MessageKind::Unknown,
            feedback_type: None,
            token: TokenState::Absent,
            steps: Vec::new(),
            row: None,
            note: String::new(),
            source: "",
            hash: c.hash.clone(),
        };
        // The purpose of the token it should carry, and whether a quoted
        // Message-ID of ours may stand in for it.
        let (purpose, by_message_id) = match &c.kind {
            Kind::Dsn(all) | Kind::TextBounce(all) => {
                plan.source = if matches!(c.kind, Kind::Dsn(_)) {
                    "dsn"
                } else {
                    "bounce-text"
                };
                plan.steps = all.iter().map(step).collect();
                plan.kind = if all.iter().any(|r| r.action == Action::Failed) {
                    MessageKind::Bounce
                } else if all.iter().any(|r| r.action == Action::Delayed) {
                    MessageKind::Delay
                } else {
                    plan.note = "a DSN reporting delivery, not a failure".into();
                    MessageKind::Delivered
                };
                (Purpose::Bounce, false)
            }
            Kind::Complaint(t) => {
                plan.kind = MessageKind::Complaint;
                plan.source = "arf";
                plan.feedback_type = Some(t.to_string());
                plan.steps = vec![whole(
                    "complaint",
                    Scope::Address,
                    Treatment::Suppress,
                    EventKind::Complaint,
                    format!("feedback type {t}"),
                )];
                // Feedback loops often write to another address and redact
                // the recipient: our own Message-ID names the row.
                (Purpose::Bounce, true)
            }
            Kind::FeedbackReport(t) => {
                plan.kind = MessageKind::AuthReport;
                plan.source = "arf";
                plan.feedback_type = Some(t.to_string());
                plan.steps = vec![whole(
                    t.as_str(),
                    Scope::Sender,
                    Treatment::Record,
                    EventKind::SenderReport,
                    format!("a report about the sender, feedback type {t}"),
                )];
                (Purpose::Bounce, true)
            }
            Kind::Unsubscribe => {
                plan.kind = MessageKind::Unsubscribe;
                plan.source = "mailto";
                plan.steps = vec![whole(
                    "unsubscribe",
                    Scope::Address,
                    Treatment::Suppress,
                    EventKind::Unsubscribe,
                    "mailed unsubscribe".into(),
                )];
                (Purpose::Unsubscribe, false)
            }
            Kind::AutoReply(why) => {
                plan.kind = MessageKind::AutoReply;
                plan.note = format!("an automatic reply ({why})");
                return Ok(plan);
            }
            Kind::Unknown(why) => {
                plan.note = why.clone();
                return Ok(plan);
            }
        };
        if plan.steps.iter().all(|s| s.event.is_none()) {
            if plan.note.is_empty() {
                plan.note = "no recipient whose failure is recorded".into();
            }
            return Ok(plan);
        }
        let (token, row) = self.row(&c, purpose, by_message_id).await?;
        plan.token = token;
        plan.row = Some(row);
        Ok(plan)
    }

    /// The ledger row `c` is about, through its token for `purpose` (checked),
    /// cross-checked against the quoted Message-ID; or, when `by_message_id`,
    /// through the quoted Message-ID alone. `Err` says why it is not trusted.
    async fn row(
        &self,
        c: &Classified,
        purpose: Purpose,
        by_message_id: bool,
    ) -> Result<(TokenState, Result<Row, String>), InboundError> {
        let base = match purpose {
            Purpose::Bounce => self.config.bounces.as_ref().map(|b| b.address.as_str()),
            Purpose::Unsubscribe => Some(self.config.unsubscribe.mailto.as_str()),
        };
        let quoted: Vec<(chrono::NaiveDate, String)> = c
            .quoted_ids
            .iter()
            .filter_map(|id| verp::rid_of_message_id(id))
            .collect();
        let mut forged = None;
        for token in c
            .addresses
            .iter()
            .filter_map(|a| base.and_then(|b| verp::token_in(b, a)))
        {
            match verp::check(self.signer, purpose, token) {
                Check::Valid(t) => {
                    let Some(issue) = lookup(self.store.issue_by_number(t.number).await)? else {
                        return Ok((
                            TokenState::Valid,
                            Err(format!(
                                "the token names issue #{}, which the ledger does not have",
                                t.number
                            )),
                        ));
                    };
                    if !quoted.is_empty()
                        && !quoted.iter().any(|(s, r)| *s == issue.slot && *r == t.rid)
                    {
                        return Ok((
                            TokenState::Valid,
                            Err(format!(
                                "the token names issue #{} but the quoted Message-ID `{}` is another message: forged or misrouted",
                                t.number, c.quoted_ids[0]
                            )),
                        ));
                    }
                    let found = lookup(self.store.recipient_by_rid(issue.slot, &t.rid).await)?;
                    return Ok((
                        TokenState::Valid,
                        match found {
                            Some(r) => Ok(Row {
                                slot: issue.slot,
                                email: r.key,
                            }),
                            None => Err(format!(
                                "the token names no recipient of issue #{} (a test send?)",
                                t.number
                            )),
                        },
                    ));
                }
                Check::Forged(t) => forged = Some(t),
                Check::Malformed(_) => {}
            }
        }
        if let Some(t) = forged {
            return Ok((
                TokenState::Invalid,
                Err(format!(
                    "the token `{t}` does not verify: forged, altered, or made under another secret"
                )),
            ));
        }
        if by_message_id {
            // Exactly as sent, one indexed probe each, the first few only: a
            // Message-ID is ours when the ledger has it, never because its
            // shape or prefix could be ours.
            for id in c.quoted_ids.iter().take(MAX_QUOTED_IDS) {
                if let Some((slot, r)) = lookup(self.store.recipient_by_message_id(id).await)? {
                    return Ok((TokenState::Absent, Ok(Row { slot, email: r.key })));
                }
            }
        }
        Ok((TokenState::Absent, Err(match (purpose, base) {
            (Purpose::Bounce, None) => {
                "VERP is off (no `[bounces]` in config.toml), so a bounce cannot be tied to a recipient".into()
            }
            (Purpose::Bounce, Some(b)) => format!("no valid `{}` token in its addresses", verp::address(b, "…")),
            (Purpose::Unsubscribe, Some(b)) => format!(
                "sent to `{b}` without a token; the reader must use the address in the List-Unsubscribe header or the link"
            ),
            (Purpose::Unsubscribe, None) => "no unsubscribe address".into(),
        })))
    }
}

/// A store read, its failure as this module's error.
fn lookup<T>(r: Result<T, StoreError>) -> Result<T, InboundError> {
    r.map_err(|e| InboundError::Policy(PolicyError::from(e)))
}
