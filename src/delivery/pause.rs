//! Provider pauses: a receiving domain that keeps refusing us for
//! sender-level reasons (a blocklist, SPF/DKIM/DMARC, policy, a rate limit)
//! is not handed new messages for the rest of the run, so one incident on
//! the sender's side neither burns through its readers nor counts against
//! them; they stay pending for the next run.
//!
//! Owns the streaks of consecutive sender-level refusals per domain and
//! across domains (the relay), the [`Pause`]s they led to, and the shared
//! [`Paused`] set the workers read. Must not touch the store or the wire:
//! the run loop tells it every end and leaves the paused recipients alone.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::refusal::{classify_reply, provider};
use crate::inbound::reason::{Reason, Scope};
use crate::list::erase::scrub;

/// One pause, as a run's summary tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// The receiving domain; `None` for the relay itself (everything paused).
    pub provider: Option<String>,
    /// The consecutive sender-level refusals that led to it.
    pub refusals: u32,
    /// The last of those replies, the refused reader's address in it written
    /// `<address>` (a pause is about the sender, and it is kept in the store).
    pub last_reply: String,
    /// Recipients this run left pending because of it: for a domain, those
    /// met after the pause; for the relay, every recipient still pending.
    pub left: u64,
}

/// What the workers read before sending: which providers are paused.
#[derive(Debug, Default)]
pub(super) struct Paused {
    domains: Mutex<HashSet<String>>,
    all: AtomicBool,
}

impl Paused {
    /// True when `address`'s provider (or the relay) is paused.
    pub(super) fn holds(&self, address: &str) -> bool {
        self.all.load(Ordering::SeqCst)
            || self
                .domains
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&provider(address))
    }
}

/// The run loop's count of refusals, and the pauses so far.
#[derive(Debug)]
pub(super) struct Pauses {
    /// Refusals in a row that pause; 0 never pauses.
    after: u32,
    shared: Arc<Paused>,
    /// Consecutive sender-level refusals per domain since its last success.
    streaks: HashMap<String, u32>,
    /// Consecutive sender-level refusals across every domain since the
    /// last success anywhere, and the domains they came from.
    relay: u32,
    relay_domains: HashSet<String>,
    pauses: Vec<Pause>,
}

impl Pauses {
    pub(super) fn new(after: u32) -> Self {
        Self {
            after,
            shared: Arc::default(),
            streaks: HashMap::new(),
            relay: 0,
            relay_domains: HashSet::new(),
            pauses: Vec::new(),
        }
    }

    /// The set the workers read.
    pub(super) fn shared(&self) -> Arc<Paused> {
        self.shared.clone()
    }

    /// True when the relay itself is paused: the run takes nothing more.
    pub(super) fn relay_paused(&self) -> bool {
        self.shared.all.load(Ordering::SeqCst)
    }

    /// True when anything was paused.
    pub(super) fn any(&self) -> bool {
        !self.pauses.is_empty()
    }

    /// True when `address`'s provider (or the relay) is paused.
    pub(super) fn holds(&self, address: &str) -> bool {
        self.shared.holds(address)
    }

    /// `key` was delivered: its domain's streak, and the relay's, end.
    pub(super) fn delivered(&mut self, key: &str) {
        self.streaks.remove(&provider(key));
        self.relay = 0;
        self.relay_domains.clear();
    }

    /// `key` was refused with `code` and `reply`: a sender-level refusal
    /// extends its domain's streak and the relay's, and may pause either.
    /// A refusal of any other scope changes nothing.
    pub(super) fn refused(&mut self, key: &str, code: Option<u16>, reply: &str) {
        if self.after == 0 || self.relay_paused() {
            return;
        }
        let failure = classify_reply(code, reply);
        if failure.scope != Scope::Sender {
            return;
        }
        let domain = provider(key);
        self.relay += 1;
        self.relay_domains.insert(domain.clone());
        // The same refusal from several domains, or one that says the relay
        // will not take our mail, is the relay's: it pauses everything.
        if self.relay >= self.after
            && (self.relay_domains.len() > 1 || failure.reason == Reason::RelayDenied)
        {
            self.shared.all.store(true, Ordering::SeqCst);
            self.pauses.push(Pause {
                provider: None,
                refusals: self.relay,
                last_reply: scrub(reply, &[key], "<address>"),
                left: 0,
            });
            return;
        }
        if self.shared.holds(key) {
            return;
        }
        let streak = self.streaks.entry(domain.clone()).or_default();
        *streak += 1;
        if *streak >= self.after {
            let refusals = *streak;
            self.shared
                .domains
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(domain.clone());
            self.pauses.push(Pause {
                provider: Some(domain),
                refusals,
                last_reply: scrub(reply, &[key], "<address>"),
                left: 0,
            });
        }
    }

    /// `key` was left pending because its provider is paused.
    pub(super) fn left(&mut self, key: &str) {
        let domain = provider(key);
        if let Some(p) = self
            .pauses
            .iter_mut()
            .find(|p| p.provider.as_deref() == Some(domain.as_str()))
        {
            p.left += 1;
        }
    }

    /// The pauses, the relay's told how many recipients are still pending.
    pub(super) fn into_pauses(mut self, pending: u64) -> Vec<Pause> {
        for p in &mut self.pauses {
            if p.provider.is_none() {
                p.left = pending;
            }
        }
        self.pauses
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCKED: &str = "5.7.1 client host [203.0.113.5] blocked using zen.spamhaus.org";

    #[test]
    fn a_domain_pauses_after_its_streak_and_a_success_resets_it() {
        let mut p = Pauses::new(3);
        p.refused("a@x.example", Some(554), BLOCKED);
        p.refused("b@x.example", Some(554), BLOCKED);
        p.delivered("c@x.example");
        p.refused("d@x.example", Some(554), BLOCKED);
        p.refused("e@x.example", Some(554), BLOCKED);
        assert!(!p.any());
        // Other scopes neither count nor break the streak.
        p.refused("f@x.example", Some(550), "5.1.1 user unknown");
        p.refused("g@x.example", Some(552), "5.2.2 mailbox full");
        assert!(!p.any());
        p.refused("h@x.example", Some(554), BLOCKED);
        assert!(p.holds("new@X.example"));
        assert!(!p.holds("ana@y.example"));
        assert!(!p.relay_paused());
        p.left("i@x.example");
        p.left("j@y.example");
        let pauses = p.into_pauses(7);
        assert_eq!(
            pauses,
            [Pause {
                provider: Some("x.example".into()),
                refusals: 3,
                last_reply: BLOCKED.into(),
                left: 1,
            }]
        );
    }

    #[test]
    fn refusals_across_domains_pause_the_relay() {
        let mut p = Pauses::new(3);
        p.refused("a@x.example", Some(554), BLOCKED);
        p.refused("b@y.example", Some(554), BLOCKED);
        assert!(!p.any());
        p.refused("c@z.example", Some(554), BLOCKED);
        assert!(p.relay_paused());
        assert!(p.holds("anyone@w.example"));
        assert_eq!(p.into_pauses(9)[0].left, 9);
        // "Relaying denied" is the relay's own refusal, from one domain too.
        let mut p = Pauses::new(2);
        p.refused("a@x.example", Some(554), "5.7.1 relay access denied");
        p.refused("b@x.example", Some(554), "5.7.1 relay access denied");
        assert!(p.relay_paused());
    }

    #[test]
    fn the_refused_address_is_not_kept_in_the_reply() {
        let mut p = Pauses::new(1);
        p.refused(
            "ana@x.example",
            Some(550),
            "5.7.1 <Ana@X.example>: Recipient address rejected: blocked using zen.spamhaus.org",
        );
        let pauses = p.into_pauses(0);
        assert_eq!(
            pauses[0].last_reply,
            "5.7.1 <<address>>: Recipient address rejected: blocked using zen.spamhaus.org"
        );
    }

    #[test]
    fn zero_never_pauses() {
        let mut p = Pauses::new(0);
        for i in 0..100 {
            p.refused(&format!("r{i}@x.example"), Some(554), BLOCKED);
        }
        assert!(!p.any());
        assert!(!p.holds("r0@x.example"));
    }
}
