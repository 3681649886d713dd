//! What an event does to the list: the bounce and complaint policy.
//!
//! Owns the rules: a hard bounce suppresses at once (`bounced`) and moves its
//! ledger row to `bounced`; `soft_limit` soft bounces on distinct issues within
//! `soft_window_days` suppress, older ones no longer count; a complaint
//! suppresses (`complaint`); a mailed unsubscribe suppresses (`unsubscribed`),
//! as the one-click POST does (which records its event here too); a delay
//! changes nothing. Every event is recorded once: a repeat changes nothing. An
//! address erased by `subscribers forget` is never written back: its event is
//! recorded under its pseudonym, and its pseudonym already suppresses it. The
//! rules are the same on both engines: the store's [`Feedback`] side carries
//! them out.

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::config::Bounces;
use crate::list::SuppressionReason;
use crate::list::erase::scrub;
use crate::list::keyer::Keyer;
use crate::store::{Consequence, Event, EventKind, Feedback, LedgerError, StoreError};

/// Errors applying an event.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The policy's settings, from `[bounces]`, and the keyer that recognises
/// erased readers.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Soft bounces that suppress.
    pub soft_limit: u32,
    /// Days soft bounces count for.
    pub soft_window_days: u32,
    /// Pseudonyms of erased readers (under the unsubscribe secret).
    pub keyer: Keyer,
}

/// What applying one event did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// False when the event was recorded before (nothing changed).
    pub new: bool,
    /// The suppression reason written, if the address was suppressed now.
    pub suppressed: Option<String>,
    /// True when the issue's ledger row moved to `bounced`.
    pub row_bounced: bool,
    /// For a soft bounce: how many count now (distinct issues in the window).
    pub soft_count: Option<u64>,
    /// The pseudonym it was recorded under, when the address had been erased.
    pub erased_as: Option<String>,
}

/// An event ready to be recorded (see [`Policy::prepare_unsubscribe`]):
/// under the reader's pseudonym if it was erased, linked to an issue.
#[derive(Debug, Clone)]
pub struct Prepared {
    event: Event,
    erased_as: Option<String>,
    only_if_suppressing: bool,
}

impl Prepared {
    /// The address (or pseudonym) the event is about.
    pub fn email(&self) -> &str {
        &self.event.email
    }
}

/// RFC 3339 as the ledger stores times (so they compare as strings).
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Policy {
    /// The policy of `[bounces]`, recognising erased readers through `keyer`.
    pub fn new(b: &Bounces, keyer: Keyer) -> Self {
        Self {
            soft_limit: b.soft_limit,
            soft_window_days: b.soft_window_days,
            keyer,
        }
    }

    /// Records `event` and applies its consequences. An event that names no
    /// issue is linked to the latest issue sent to its address.
    pub async fn apply(
        &self,
        store: &dyn Feedback,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<Applied, PolicyError> {
        let prepared = self.prepare(store, event, false).await?;
        self.apply_one(store, prepared, now).await
    }

    /// A one-click (web) unsubscribe of `email`: suppresses it and records an
    /// `unsubscribe` event (source `web`), linked to the latest issue sent to
    /// the address (the link names no issue), so that `status` counts it. Nothing is recorded when the
    /// address already is suppressed (a second click is no new event).
    pub async fn unsubscribe(
        &self,
        store: &dyn Feedback,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Applied, PolicyError> {
        let prepared = self.prepare_unsubscribe(store, email, now).await?;
        self.apply_one(store, prepared, now).await
    }

    /// The reads [`Policy::unsubscribe`] makes before it records (whether
    /// the address was erased, the issue it is linked to), so that many can
    /// then be recorded at once by [`Policy::apply_all`].
    pub async fn prepare_unsubscribe(
        &self,
        store: &dyn Feedback,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Prepared, PolicyError> {
        let at = timestamp(now);
        let digest = Sha256::digest(format!("{email}\0{at}").as_bytes());
        let event = Event {
            key: format!("web:{}:unsubscribe", &hex::encode(digest)[..32]),
            kind: EventKind::Unsubscribe,
            email: email.to_string(),
            slot: None,
            source: "web".into(),
            status: None,
            reason: "one-click unsubscribe".into(),
            at,
            failure: None,
        };
        self.prepare(store, &event, true).await
    }

    async fn prepare(
        &self,
        store: &dyn Feedback,
        event: &Event,
        only_if_suppressing: bool,
    ) -> Result<Prepared, PolicyError> {
        let erased_as = store.erased_as(&event.email).await?;
        let mut event = match &erased_as {
            Some(p) => pseudonymous(event, p),
            None => event.clone(),
        };
        if event.slot.is_none() {
            // By the stored address: an erased reader's rows carry the pseudonym.
            event.slot = store.latest_issue_of(&event.email).await?;
        }
        Ok(Prepared {
            event,
            erased_as,
            only_if_suppressing,
        })
    }

    async fn apply_one(
        &self,
        store: &dyn Feedback,
        prepared: Prepared,
        now: DateTime<Utc>,
    ) -> Result<Applied, PolicyError> {
        let mut all = self.apply_all(store, &[prepared], now).await?;
        Ok(all.pop().unwrap_or_default())
    }

    /// Records prepared events in one transaction of the store (a group
    /// commit: one flush for all of them), in order, each with the
    /// consequences it calls for; one [`Applied`] per event. A failure
    /// records none of them.
    pub async fn apply_all(
        &self,
        store: &dyn Feedback,
        prepared: &[Prepared],
        now: DateTime<Utc>,
    ) -> Result<Vec<Applied>, PolicyError> {
        let since = timestamp(now - TimeDelta::days(i64::from(self.soft_window_days)));
        let events: Vec<Event> = prepared.iter().map(|p| p.event.clone()).collect();
        let decide = |i: usize, soft: Option<u64>| match prepared.get(i) {
            Some(p) => self.consequence(p, soft),
            None => Consequence::default(),
        };
        let done = store.record_all(&events, now, &since, &decide).await?;
        Ok(prepared
            .iter()
            .zip(done)
            .map(|(p, done)| Applied {
                new: done.new,
                suppressed: self
                    .consequence(p, done.soft_count)
                    .suppress
                    .filter(|_| done.suppressed),
                row_bounced: done.row_bounced,
                soft_count: done.soft_count,
                erased_as: p.erased_as.clone().filter(|_| done.new),
            })
            .collect())
    }

    /// What recording `p` must also change, given the soft-bounce count.
    fn consequence(&self, p: &Prepared, soft: Option<u64>) -> Consequence {
        let reason = self.reason(&p.event, soft);
        Consequence {
            bounce_row: reason
                .clone()
                .filter(|_| p.event.kind == EventKind::HardBounce),
            // An erased reader's pseudonym already suppresses the address.
            suppress: reason.filter(|_| p.erased_as.is_none()),
            only_if_suppressing: p.only_if_suppressing,
        }
    }

    /// The suppression reason `event` calls for, given the soft-bounce count.
    fn reason(&self, event: &Event, soft: Option<u64>) -> Option<String> {
        match event.kind {
            EventKind::HardBounce => Some(bounce_reason(event)),
            EventKind::SoftBounce => {
                let n = soft.unwrap_or(0);
                (n >= u64::from(self.soft_limit)).then(|| {
                    SuppressionReason::bounced(format!(
                        "{n} soft bounces in {} days, the last: {}",
                        self.soft_window_days,
                        short(event)
                    ))
                    .to_string()
                })
            }
            // Never counts against the reader: recorded only.
            EventKind::Delayed | EventKind::Failure | EventKind::SenderReport => None,
            EventKind::Complaint => Some(SuppressionReason::Complaint.to_string()),
            EventKind::Unsubscribe => Some(SuppressionReason::Unsubscribed.to_string()),
        }
    }
}

/// `event` as an erased reader's: the address replaced by its pseudonym,
/// everywhere it could be quoted.
fn pseudonymous(event: &Event, pseudonym: &str) -> Event {
    let needles = [event.email.as_str()];
    Event {
        key: scrub(&event.key, &needles, pseudonym),
        email: pseudonym.to_string(),
        reason: scrub(&event.reason, &needles, pseudonym),
        ..event.clone()
    }
}

fn short(event: &Event) -> String {
    match (&event.status, event.reason.is_empty()) {
        (Some(s), false) if !event.reason.contains(s.as_str()) => format!("{s} {}", event.reason),
        (Some(s), true) => s.clone(),
        _ => event.reason.clone(),
    }
}

fn bounce_reason(event: &Event) -> String {
    SuppressionReason::bounced(short(event)).to_string()
}

/// True when `key` complained about any issue: a later sign-up must go
/// through the full double opt-in (the one-click resubscribe is refused).
/// A store that cannot be read counts as a complaint (refuse rather than guess).
pub async fn complained(store: &dyn Feedback, key: &str) -> bool {
    store.complained(key).await.unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::Suppression;
    use crate::store::{Store, embedded_for_test};

    async fn store(dir: &std::path::Path, suppressed: &std::path::Path) -> Store {
        embedded_for_test(dir, suppressed, policy().keyer).await
    }

    fn policy() -> Policy {
        Policy {
            soft_limit: 3,
            soft_window_days: 30,
            keyer: crate::plan::keyer_of(crate::mail::token::Signer::new(b"s")),
        }
    }

    fn event(key: &str, kind: EventKind, slot: &str, at: DateTime<Utc>) -> Event {
        Event {
            key: key.into(),
            kind,
            email: "ana@example.com".into(),
            slot: Some(slot.parse().unwrap()),
            source: "dsn".into(),
            status: Some("4.2.2".into()),
            reason: "mailbox full".into(),
            at: timestamp(at),
            failure: None,
        }
    }

    #[tokio::test]
    async fn soft_bounces_suppress_at_the_limit_within_the_window_only() {
        let dir = tempfile::tempdir().unwrap();
        let supp = dir.path().join("suppressed.csv");
        let book = store(dir.path(), &supp).await;
        let p = policy();
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let old = now - TimeDelta::days(40);
        // Two old ones, then two recent ones: below the limit.
        for (k, slot, at) in [
            ("a", "2026-10-01", old),
            ("b", "2026-10-15", old),
            ("c", "2026-11-17", now),
            ("d", "2026-12-01", now),
        ] {
            let a = p
                .apply(&*book, &event(k, EventKind::SoftBounce, slot, at), now)
                .await
                .unwrap();
            assert_eq!(a.suppressed, None, "{k}");
        }
        // The same issue twice counts once; a repeat of an event changes nothing.
        let a = p
            .apply(
                &*book,
                &event("e", EventKind::SoftBounce, "2026-12-01", now),
                now,
            )
            .await
            .unwrap();
        assert_eq!(
            (a.new, a.soft_count, a.suppressed.as_deref()),
            (true, Some(2), None)
        );
        let a = p
            .apply(
                &*book,
                &event("d", EventKind::SoftBounce, "2026-12-01", now),
                now,
            )
            .await
            .unwrap();
        assert!(!a.new);
        assert!(!supp.exists());
        let a = p
            .apply(
                &*book,
                &event("f", EventKind::SoftBounce, "2026-12-15", now),
                now,
            )
            .await
            .unwrap();
        assert_eq!(a.soft_count, Some(3));
        assert!(a.suppressed.unwrap().starts_with("bounced: 3 soft bounces"));
        let (set, _) = Suppression::load(&supp).unwrap();
        assert!(set.contains("ana@example.com"));
        // Already suppressed: a complaint records its event, writes no second row.
        let a = p
            .apply(
                &*book,
                &event("g", EventKind::Complaint, "2026-12-15", now),
                now,
            )
            .await
            .unwrap();
        assert_eq!((a.new, a.suppressed), (true, None));
    }

    #[tokio::test]
    async fn an_erased_address_is_recorded_under_its_pseudonym_and_not_written_back() {
        let dir = tempfile::tempdir().unwrap();
        let supp = dir.path().join("suppressed.csv");
        let p = policy();
        let pseudonym = p.keyer.pseudonym("ana@example.com");
        std::fs::write(
            &supp,
            format!(
                "email,reason,at\nbob@example.com,unsubscribed,2026-11-01T00:00:00Z\n{pseudonym},forgotten,2026-11-02T00:00:00Z\n"
            ),
        )
        .unwrap();
        let before = std::fs::read_to_string(&supp).unwrap();
        let book = store(dir.path(), &supp).await;
        let ledger = &book;
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let mut e = event("c", EventKind::Complaint, "2026-12-01", now);
        e.reason = "complaint from ana@example.com".into();
        let a = p.apply(&*book, &e, now).await.unwrap();
        assert_eq!(
            (a.new, a.suppressed, a.erased_as.as_deref()),
            (true, None, Some(pseudonym.as_str()))
        );
        assert_eq!(std::fs::read_to_string(&supp).unwrap(), before);
        let ev = ledger.events(None).await.unwrap();
        assert_eq!(ev[0].event.email, pseudonym);
        assert!(!ev[0].event.reason.contains("ana@"), "{ev:?}");
        // Someone else, with erased rows in the file, is still suppressed.
        let mut e = event("d", EventKind::HardBounce, "2026-12-01", now);
        e.email = "carol@example.com".into();
        let a = p.apply(&*book, &e, now).await.unwrap();
        assert!(a.suppressed.is_some(), "{a:?}");
    }

    #[tokio::test]
    async fn a_failed_suppression_records_nothing_so_a_retry_does_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let p = policy();
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let e = event("h", EventKind::HardBounce, "2026-12-01", now);
        // A folder where the file should be: the append fails.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir_all(blocked.join("suppressed.csv")).unwrap();
        let blocked = blocked.join("suppressed.csv");
        let book = store(dir.path(), &blocked).await;
        let ledger = book.clone();
        let err = p.apply(&*book, &e, now).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot update the suppression list"),
            "{err}"
        );
        assert!(ledger.events(None).await.unwrap().is_empty());
        let supp = dir.path().join("suppressed.csv");
        drop(book);
        drop(ledger);
        let book = store(dir.path(), &supp).await;
        let ledger = book.clone();
        let a = p.apply(&*book, &e, now).await.unwrap();
        assert!(a.new && a.suppressed.is_some(), "{a:?}");
        assert_eq!(ledger.events(None).await.unwrap().len(), 1);
    }
}
