//! What came back for one issue, for `tipsheet status`: delivered, bounced
//! (during the session and afterwards), complaints and unsubscribes, their
//! rates, and the warnings relays and mailbox providers act on.
//!
//! Owns the arithmetic and the thresholds. It reads the store (either engine,
//! through the store) and prints nothing: the CLI formats it.

use std::collections::BTreeSet;

use super::policy::PolicyError;
use crate::store::{Engine, EventKind, EventRecord, RecipientStatus};

/// Above this complaint rate an issue is flagged (Gmail blocks senders near 0.3%).
pub const COMPLAINT_WARN: f64 = 0.001;
/// Above this bounce rate an issue is flagged (relays suspend senders past a few percent).
pub const BOUNCE_WARN: f64 = 0.02;

/// One issue's feedback.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueFeedback {
    /// Recipients whose copy the relay accepted and that did not bounce later.
    pub delivered: u64,
    /// Refused during the SMTP session (5xx).
    pub bounced_in_session: u64,
    /// Bounced afterwards (a DSN or a relay's webhook, hard).
    pub bounced_after: u64,
    /// Addresses with a soft bounce for this issue.
    pub soft_bounces: u64,
    /// Addresses that complained about this issue.
    pub complaints: u64,
    /// Addresses that unsubscribed by mail or relay for this issue.
    pub unsubscribes: u64,
    /// Bounced (both kinds) over delivered plus bounced.
    pub bounce_rate: f64,
    /// Complaints over delivered plus bounced afterwards.
    pub complaint_rate: f64,
    /// Failures that never count against a reader (scope message, sender,
    /// transport or unknown), by reason and provider, most first.
    pub failures: Vec<FailureCount>,
    /// Reports about the sender (ARF `auth-failure`, `dkim`, `not-spam`, …).
    pub sender_reports: u64,
    /// Thresholds passed, as sentences.
    pub warnings: Vec<String>,
    /// The events themselves, oldest first.
    pub events: Vec<EventRecord>,
}

/// How many failures of one reason one provider gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCount {
    /// The reason's name (`blocked`).
    pub reason: String,
    /// Its scope's name (`sender`).
    pub scope: String,
    /// The receiving domain.
    pub provider: String,
    /// How many recipients.
    pub count: u64,
}

/// The `failure` events grouped by (reason, provider), most first.
fn failures(events: &[EventRecord]) -> Vec<FailureCount> {
    let mut by: std::collections::BTreeMap<(&str, &str, &str), u64> = Default::default();
    for e in events.iter().filter(|e| e.event.kind == EventKind::Failure) {
        if let Some(f) = &e.event.failure {
            *by.entry((&f.reason, &f.scope, &f.provider)).or_default() += 1;
        }
    }
    let mut out: Vec<FailureCount> = by
        .into_iter()
        .map(|((reason, scope, provider), count)| FailureCount {
            reason: reason.into(),
            scope: scope.into(),
            provider: provider.into(),
            count,
        })
        .collect();
    out.sort_by_key(|f| std::cmp::Reverse(f.count));
    out
}

fn distinct(events: &[EventRecord], kind: EventKind) -> BTreeSet<&str> {
    events
        .iter()
        .filter(|e| e.event.kind == kind)
        .map(|e| e.event.email.as_str())
        .collect()
}

fn rate(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

/// An issue's rates from the store's tallies (its counts by status, and
/// how many addresses each kind of event came from): what the console's
/// dashboard charts for many issues at once, with [`issue`]'s arithmetic
/// (a bounce found later has moved its row to `bounced`, so bounced rows
/// are the session's and the later ones together).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rates {
    /// Bounced over delivered plus bounced.
    pub bounce: f64,
    /// Complaints over delivered plus bounced afterwards.
    pub complaint: f64,
    /// Unsubscribes over delivered.
    pub unsubscribe: f64,
}

/// [`Rates`] from `counts` and `kinds` (distinct addresses per event kind).
pub fn rates(counts: &crate::store::Counts, kinds: &[(EventKind, u64)]) -> Rates {
    let kind = |k: EventKind| kinds.iter().find(|(x, _)| *x == k).map_or(0, |(_, n)| *n);
    let delivered = counts.get(RecipientStatus::Sent);
    let bounced = counts.get(RecipientStatus::Bounced);
    let after = kind(EventKind::HardBounce).min(bounced);
    Rates {
        bounce: rate(bounced, delivered + bounced),
        complaint: rate(kind(EventKind::Complaint), delivered + after),
        unsubscribe: rate(kind(EventKind::Unsubscribe), delivered),
    }
}

/// The feedback of issue `slot`.
pub async fn issue(
    store: &dyn Engine,
    slot: chrono::NaiveDate,
) -> Result<IssueFeedback, PolicyError> {
    let events = store.events(Some(slot)).await?;
    let counts = store.counts(slot).await?;
    let hard = distinct(&events, EventKind::HardBounce);
    let bounced_rows = store.recipients(slot, &[RecipientStatus::Bounced]).await?;
    let bounced_in_session = bounced_rows
        .iter()
        .filter(|r| !hard.contains(r.key.as_str()))
        .count() as u64;
    let bounced_after = hard.len() as u64;
    let delivered = counts.get(RecipientStatus::Sent);
    let complaints = distinct(&events, EventKind::Complaint).len() as u64;
    let attempted = delivered + bounced_in_session + bounced_after;
    let bounce_rate = rate(bounced_in_session + bounced_after, attempted);
    let complaint_rate = rate(complaints, delivered + bounced_after);
    let mut warnings = Vec::new();
    if complaint_rate > COMPLAINT_WARN {
        warnings.push(format!(
            "complaint rate {:.2}% is above 0.1%: Gmail and Yahoo block bulk senders near 0.3%; check how these readers signed up",
            complaint_rate * 100.0
        ));
    }
    if bounce_rate > BOUNCE_WARN {
        warnings.push(format!(
            "bounce rate {:.2}% is above 2%: relays suspend senders whose bounces climb; clean the list before the next issue",
            bounce_rate * 100.0
        ));
    }
    Ok(IssueFeedback {
        delivered,
        bounced_in_session,
        bounced_after,
        soft_bounces: distinct(&events, EventKind::SoftBounce).len() as u64,
        complaints,
        unsubscribes: distinct(&events, EventKind::Unsubscribe).len() as u64,
        bounce_rate,
        complaint_rate,
        failures: failures(&events),
        sender_reports: events
            .iter()
            .filter(|e| e.event.kind == EventKind::SenderReport)
            .count() as u64,
        warnings,
        events,
    })
}

impl IssueFeedback {
    /// The JSON form (`status --json`); `with_events` adds the addresses.
    pub fn json(&self, with_events: bool) -> serde_json::Value {
        let mut v = serde_json::json!({
            "delivered": self.delivered,
            "bounced_in_session": self.bounced_in_session,
            "bounced_after": self.bounced_after,
            "soft_bounces": self.soft_bounces,
            "complaints": self.complaints,
            "unsubscribes": self.unsubscribes,
            "bounce_rate": self.bounce_rate,
            "complaint_rate": self.complaint_rate,
            "failures": self.failures.iter().map(|f| serde_json::json!({
                "reason": f.reason, "scope": f.scope, "provider": f.provider, "count": f.count,
            })).collect::<Vec<_>>(),
            "sender_reports": self.sender_reports,
            "warnings": self.warnings,
        });
        if with_events {
            v["events"] = self
                .events
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "type": e.event.kind.as_str(), "email": e.event.email,
                        "source": e.event.source, "status": e.event.status,
                        "reason": e.event.reason, "at": e.event.at,
                        "failure": e.event.failure.as_ref().map(|f| serde_json::json!({
                            "reason": f.reason, "scope": f.scope, "provider": f.provider,
                        })),
                    })
                })
                .collect();
        }
        v
    }

    /// The failures that never count against a reader, one line, or `None`
    /// when there were none: `failures not counted against readers: blocked
    /// (sender) at example.net 3, …`.
    pub fn failures_line(&self) -> Option<String> {
        if self.failures.is_empty() && self.sender_reports == 0 {
            return None;
        }
        let mut parts: Vec<String> = self
            .failures
            .iter()
            .map(|f| {
                let at = if f.provider.is_empty() {
                    "?"
                } else {
                    &f.provider
                };
                format!("{} ({}) at {at} {}", f.reason, f.scope, f.count)
            })
            .collect();
        if self.sender_reports > 0 {
            parts.push(format!(
                "{} report(s) about the sender",
                self.sender_reports
            ));
        }
        Some(format!(
            "failures not counted against readers: {}",
            parts.join(", ")
        ))
    }

    /// One line: `feedback: 3 delivered, bounced 0 in session + 1 after (25.00%), …`.
    pub fn line(&self) -> String {
        format!(
            "feedback: {} delivered, bounced {} in session + {} after ({:.2}%), {} soft bounced, {} complaints ({:.2}%), {} unsubscribed",
            self.delivered,
            self.bounced_in_session,
            self.bounced_after,
            self.bounce_rate * 100.0,
            self.soft_bounces,
            self.complaints,
            self.complaint_rate * 100.0,
            self.unsubscribes
        )
    }
}
