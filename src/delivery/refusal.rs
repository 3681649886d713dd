//! What a server's refusal in the SMTP session means: its reason and scope,
//! read from the reply code, the enhanced status code in the reply text
//! (`550 5.1.1 …`) and the text together, by the one classifier every
//! failure goes through ([`classify_failure`]).
//!
//! Owns reading a stored or live reply, the receiving provider (the
//! recipient's domain), and [`failures_by_reason`], the ledger's failures
//! counted by reason and provider. Decides nothing and changes nothing: the
//! worker and the run loop act on what it says.

use std::collections::BTreeMap;

use crate::inbound::reason::{Failure, Reason, Scope, classify_failure};
use crate::store::{RecipientRecord, RecipientStatus};

/// Classifies one reply: `code` is the basic reply code, `text` the reply
/// text (it may start with the code, and carries the enhanced code if any).
pub(crate) fn classify_reply(code: Option<u16>, text: &str) -> Failure {
    classify_failure(enhanced_status(text), code, text)
}

/// Whether a refusal takes the address off the list for good (address
/// level: user unknown, host unknown, moved).
pub(crate) fn suppresses(code: Option<u16>, text: &str) -> bool {
    classify_reply(code, text).scope == Scope::Address
}

/// Whether a relay's reply refuses everyone, not this recipient: 421 (the
/// service is closing the channel), 454 (TLS or authentication not
/// available now, or throttled), an AUTH refusal (530, 534, 535, 538), or
/// "relaying denied". With several relays, such a relay leaves the rotation
/// and the message goes to another; it never counts against the reader.
pub(crate) fn relay_wide(code: Option<u16>, text: &str) -> bool {
    matches!(code, Some(421 | 454 | 530 | 534 | 535 | 538))
        || classify_reply(code, text).reason == Reason::RelayDenied
}

/// The first RFC 3463 enhanced status code in `text` (`5.1.1`), if any.
fn enhanced_status(text: &str) -> Option<&str> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ':' | ';' | ',' | '(' | ')' | '[' | ']'))
        .find(|word| {
            let mut parts = word.split('.');
            let class = parts.next();
            let rest: Vec<&str> = parts.collect();
            matches!(class, Some("2" | "4" | "5"))
                && rest.len() == 2
                && rest
                    .iter()
                    .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The receiving provider of an address: its domain, lowercased (the
/// address itself when it has no `@`).
pub(crate) fn provider(address: &str) -> String {
    address
        .rsplit_once('@')
        .map_or(address, |(_, domain)| domain)
        .to_ascii_lowercase()
}

/// One line of [`failures_by_reason`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCount {
    /// Why.
    pub reason: Reason,
    /// Whose problem it is.
    pub scope: Scope,
    /// The receiving domain.
    pub provider: String,
    /// How many recipients.
    pub count: u64,
}

/// The `failed` and `bounced` recipients among `recipients`, their stored
/// replies classified again, counted by reason and provider: by scope, then
/// reason, then the most refusals first, then the provider's name. A row
/// with no reply (an invalid address) counts as `unknown`.
pub fn failures_by_reason(recipients: &[RecipientRecord]) -> Vec<FailureCount> {
    let mut counts: BTreeMap<(Scope, Reason, String), u64> = BTreeMap::new();
    for r in recipients {
        if !matches!(r.status, RecipientStatus::Failed | RecipientStatus::Bounced) {
            continue;
        }
        let f = classify_reply(r.last_code, r.last_reply.as_deref().unwrap_or(""));
        *counts
            .entry((f.scope, f.reason, provider(&r.key)))
            .or_default() += 1;
    }
    let mut out: Vec<FailureCount> = counts
        .into_iter()
        .map(|((scope, reason, provider), count)| FailureCount {
            reason,
            scope,
            provider,
            count,
        })
        .collect();
    out.sort_by(|a, b| {
        (a.scope, a.reason, std::cmp::Reverse(a.count), &a.provider).cmp(&(
            b.scope,
            b.reason,
            std::cmp::Reverse(b.count),
            &b.provider,
        ))
    });
    out
}

/// One issue's failures from both sources, by (reason, scope, provider):
/// the inbound `failure` events and the SMTP session's refusals stored on
/// the `failed` and `bounced` rows, classified again. Most first, then by
/// reason and provider.
pub fn merged_failures(
    inbound: &[crate::inbound::report::FailureCount],
    refused: &[RecipientRecord],
) -> Vec<(String, String, String, u64)> {
    let mut by: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for f in inbound {
        *by.entry((f.reason.clone(), f.scope.clone(), f.provider.clone()))
            .or_default() += f.count;
    }
    for f in failures_by_reason(refused) {
        *by.entry((f.reason.to_string(), f.scope.to_string(), f.provider))
            .or_default() += f.count;
    }
    let mut out: Vec<_> = by.into_iter().map(|((r, s, p), n)| (r, s, p, n)).collect();
    out.sort_by_key(|f| std::cmp::Reverse(f.3));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, status: RecipientStatus, code: u16, reply: &str) -> RecipientRecord {
        RecipientRecord {
            key: key.into(),
            address: key.into(),
            name: String::new(),
            status,
            attempts: 1,
            last_code: Some(code),
            last_reply: Some(reply.into()),
            message_id: None,
            updated_at: String::new(),
        }
    }

    #[test]
    fn the_enhanced_code_is_found_in_the_reply_text() {
        for (text, want) in [
            ("permanent error (550): 5.1.1 no such user", Some("5.1.1")),
            ("550 5.7.26 DMARC policy", Some("5.7.26")),
            ("554 Service unavailable; [5.7.1] blocked", Some("5.7.1")),
            ("552 mailbox full (quota 1.5.30 GB)", None),
            ("451 try again at 10.0.0.1", None),
            ("250 2.0.0 queued", Some("2.0.0")),
        ] {
            assert_eq!(enhanced_status(text), want, "{text}");
        }
    }

    #[test]
    fn only_address_level_refusals_suppress() {
        let refusals = [
            (550, "5.1.1 user unknown", true),
            (550, "permanent error (550): 5.1.1 no such user", true),
            (
                554,
                "5.7.1 Service unavailable; client host [203.0.113.5] blocked using zen.spamhaus.org",
                false,
            ),
            (552, "5.2.2 mailbox full", false),
            (550, "5.7.26 DMARC policy", false),
            (554, "5.7.1 message refused", false),
            (550, "no explanation", false),
        ];
        for (code, text, want) in refusals {
            assert_eq!(suppresses(Some(code), text), want, "{code} {text}");
        }
        assert_eq!(
            classify_reply(
                Some(554),
                "5.7.1 client host blocked using zen.spamhaus.org"
            )
            .scope,
            Scope::Sender
        );
        assert_eq!(
            classify_reply(Some(552), "5.2.2 mailbox full").scope,
            Scope::Mailbox
        );
    }

    #[test]
    fn relay_wide_refusals_are_told_from_a_recipient_s() {
        for (code, text, want) in [
            (421, "4.3.2 service shutting down", true),
            (454, "4.7.0 temporary authentication failure", true),
            (535, "5.7.8 authentication credentials invalid", true),
            (554, "5.7.1 <a@x.example>: relay access denied", true),
            (550, "5.1.1 user unknown", false),
            (451, "4.7.1 greylisted, try again", false),
            (552, "5.2.2 mailbox full", false),
        ] {
            assert_eq!(relay_wide(Some(code), text), want, "{code} {text}");
        }
    }

    #[test]
    fn the_provider_is_the_lowercased_domain() {
        assert_eq!(provider("Ana@Mail.Example"), "mail.example");
        assert_eq!(provider("odd"), "odd");
    }

    #[test]
    fn failures_are_counted_by_reason_and_provider() {
        let blocked = "5.7.1 client host [203.0.113.5] blocked using zen.spamhaus.org";
        let rows = [
            row("a@x.example", RecipientStatus::Failed, 554, blocked),
            row("b@x.example", RecipientStatus::Failed, 554, blocked),
            row("c@y.example", RecipientStatus::Failed, 554, blocked),
            row(
                "d@x.example",
                RecipientStatus::Bounced,
                550,
                "5.1.1 user unknown",
            ),
            row("e@x.example", RecipientStatus::Sent, 250, "ok"),
            row("f@y.example", RecipientStatus::Pending, 554, blocked),
        ];
        let got = failures_by_reason(&rows);
        let line = |reason, scope, provider: &str, count| FailureCount {
            reason,
            scope,
            provider: provider.into(),
            count,
        };
        assert_eq!(
            got,
            [
                line(Reason::UserUnknown, Scope::Address, "x.example", 1),
                line(Reason::Blocked, Scope::Sender, "x.example", 2),
                line(Reason::Blocked, Scope::Sender, "y.example", 1),
            ]
        );
    }
}
