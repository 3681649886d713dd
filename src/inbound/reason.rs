//! Why a delivery failed, and whose problem it is: one classifier for every
//! failure, whether it came back in a DSN, a plain-text bounce, or an SMTP
//! reply during the session.
//!
//! Owns the fixed set of [`Reason`]s, their [`Scope`]s and the [`Treatment`]
//! each scope calls for, and the rules that derive a reason from an RFC 3463
//! enhanced status code, the basic SMTP reply code and the reply text
//! together. The rules are standard codes (RFC 3463, RFC 5321, RFC 7372,
//! RFC 7505, RFC 8601's registry of `X.7.2x` codes) and the phrases mail
//! systems commonly use, never one provider's exact sentence. It reads no
//! message and changes nothing: the policy decides what a treatment does.

use std::fmt;

/// Whose problem a failure is, which decides what it does to the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// The address does not exist (or no longer does): the reader is gone.
    Address,
    /// The mailbox exists but cannot take mail now (full, disabled, inactive).
    Mailbox,
    /// This message was refused (size, content, virus); the next may pass.
    Message,
    /// The sender was refused (blocklist, authentication, policy, rate): our
    /// problem, never the reader's.
    Sender,
    /// The path failed (retries timed out, network, a system error).
    Transport,
    /// Nothing recognisable: no evidence either way.
    Unknown,
}

/// What a failure of a scope does to the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Treatment {
    /// Suppress the address at once.
    Suppress,
    /// Count a soft bounce (enough of them within the window suppress).
    CountSoft,
    /// Record it; it never counts against the reader.
    Record,
    /// Nothing to do (a delivery report, an automatic reply).
    Ignore,
}

/// Why a delivery failed. The set is fixed; [`Reason::as_str`] names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// No such user at the domain (X.1.1; "user unknown", "no such user").
    UserUnknown,
    /// The domain has no mail host: NXDOMAIN, no MX, a null MX (RFC 7505;
    /// X.1.2, X.1.10, X.4.4).
    HostUnknown,
    /// The mailbox moved and there is no forwarding address (X.1.6).
    Moved,
    /// The mailbox is over its quota (X.2.2).
    MailboxFull,
    /// The mailbox or account is disabled or suspended (X.2.1, X.7.13).
    MailboxDisabled,
    /// The account is inactive or dormant.
    MailboxInactive,
    /// The message is larger than the receiver takes (X.2.3, X.3.4).
    TooBig,
    /// The content was refused or filtered as spam (X.6.x).
    ContentRejected,
    /// A virus or malware was found.
    Virus,
    /// The sending IP or domain is on a blocklist, or its reputation is poor.
    Blocked,
    /// SPF, DKIM, DMARC or ARC failed (X.7.20–X.7.24, X.7.26, X.7.27, X.7.29).
    AuthFailure,
    /// Refused by a local policy (X.7.0, X.7.1 without more said).
    Policy,
    /// The sending IP has no (matching) reverse DNS (X.7.25).
    PtrRequired,
    /// Too much mail, too fast (4.7.0, X.7.28, "rate limit", "too many").
    RateLimited,
    /// The receiver will not relay for us ("relay access denied").
    RelayDenied,
    /// Retries ran out (X.4.7, "could not be delivered within").
    Expired,
    /// The connection failed (X.4.0–X.4.3).
    Network,
    /// The receiving system failed or is misconfigured (X.3.x, X.5.x).
    System,
    /// Nothing recognisable in the code or the text.
    Unknown,
}

impl Reason {
    /// Every reason, grouped by scope.
    pub const ALL: [Reason; 19] = [
        Self::UserUnknown,
        Self::HostUnknown,
        Self::Moved,
        Self::MailboxFull,
        Self::MailboxDisabled,
        Self::MailboxInactive,
        Self::TooBig,
        Self::ContentRejected,
        Self::Virus,
        Self::Blocked,
        Self::AuthFailure,
        Self::Policy,
        Self::PtrRequired,
        Self::RateLimited,
        Self::RelayDenied,
        Self::Expired,
        Self::Network,
        Self::System,
        Self::Unknown,
    ];

    /// The stable snake_case name (`user_unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserUnknown => "user_unknown",
            Self::HostUnknown => "host_unknown",
            Self::Moved => "moved",
            Self::MailboxFull => "mailbox_full",
            Self::MailboxDisabled => "mailbox_disabled",
            Self::MailboxInactive => "mailbox_inactive",
            Self::TooBig => "too_big",
            Self::ContentRejected => "content_rejected",
            Self::Virus => "virus",
            Self::Blocked => "blocked",
            Self::AuthFailure => "auth_failure",
            Self::Policy => "policy",
            Self::PtrRequired => "ptr_required",
            Self::RateLimited => "rate_limited",
            Self::RelayDenied => "relay_denied",
            Self::Expired => "expired",
            Self::Network => "network",
            Self::System => "system",
            Self::Unknown => "unknown",
        }
    }

    /// Whose problem it is.
    pub fn scope(self) -> Scope {
        match self {
            Self::UserUnknown | Self::HostUnknown | Self::Moved => Scope::Address,
            Self::MailboxFull | Self::MailboxDisabled | Self::MailboxInactive => Scope::Mailbox,
            Self::TooBig | Self::ContentRejected | Self::Virus => Scope::Message,
            Self::Blocked
            | Self::AuthFailure
            | Self::Policy
            | Self::PtrRequired
            | Self::RateLimited
            | Self::RelayDenied => Scope::Sender,
            Self::Expired | Self::Network | Self::System => Scope::Transport,
            Self::Unknown => Scope::Unknown,
        }
    }
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 6] = [
        Self::Address,
        Self::Mailbox,
        Self::Message,
        Self::Sender,
        Self::Transport,
        Self::Unknown,
    ];

    /// The stable snake_case name (`address`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::Mailbox => "mailbox",
            Self::Message => "message",
            Self::Sender => "sender",
            Self::Transport => "transport",
            Self::Unknown => "unknown",
        }
    }

    /// What a failure of this scope does: only `address` suppresses, only
    /// `mailbox` counts as soft; the rest is recorded and counts for nothing.
    pub fn treatment(self) -> Treatment {
        match self {
            Self::Address => Treatment::Suppress,
            Self::Mailbox => Treatment::CountSoft,
            Self::Message | Self::Sender | Self::Transport | Self::Unknown => Treatment::Record,
        }
    }
}

impl Treatment {
    /// The stable snake_case name (`count_soft`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Suppress => "suppress",
            Self::CountSoft => "count_soft",
            Self::Record => "record",
            Self::Ignore => "ignore",
        }
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(Reason, Scope, Treatment);

/// One classified failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Failure {
    /// Why.
    pub reason: Reason,
    /// Whose problem (always `reason.scope()`).
    pub scope: Scope,
}

impl Failure {
    /// The failure of `reason`, in its scope.
    pub fn of(reason: Reason) -> Self {
        Self {
            reason,
            scope: reason.scope(),
        }
    }

    /// What it does to the reader.
    pub fn treatment(self) -> Treatment {
        self.scope.treatment()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.scope)
    }
}

/// Phrases that name a problem of the sender, the message or the path. They
/// win over a status code's generic meaning, in this order (a DMARC rejection
/// mentions "policy", a rate-limit notice mentions "spam").
const EVIDENCE: &[(Reason, &[&str])] = &[
    (
        Reason::AuthFailure,
        &[
            "spf",
            "dkim",
            "dmarc",
            "arc validation",
            "5.7.515",
            "unauthenticated",
            "not authenticated",
            "authentication level",
            "authentication requirements",
            "sender authentication",
            "sender policy framework",
            "domainkeys",
        ],
    ),
    (
        Reason::PtrRequired,
        &[
            "ptr",
            "reverse dns",
            "rdns",
            "reverse lookup",
            "reverse-dns",
            "reverse mapping",
            "reverse hostname",
        ],
    ),
    (
        Reason::RateLimited,
        &[
            "rate limit",
            "rate limited",
            "ratelimit",
            "rate-limited",
            "rate limiting",
            "too many",
            "throttled",
            "throttling",
            "unusual rate",
            "sending rate",
        ],
    ),
    (
        Reason::Blocked,
        &[
            "spamhaus",
            "spamcop",
            "blocklist",
            "blocklisted",
            "block list",
            "blacklist",
            "blacklisted",
            "black list",
            "denylist",
            "deny list",
            "dnsbl",
            "rbl",
            "listed",
            "reputation",
            "blocked using",
        ],
    ),
    (
        Reason::Virus,
        &["virus", "malware", "infected", "trojan", "worm"],
    ),
    (
        Reason::ContentRejected,
        &[
            "spam",
            "unsolicited",
            "junk",
            "content",
            "phishing",
            "bulk mail",
            "suspicious",
        ],
    ),
    (
        Reason::RelayDenied,
        &[
            "relay access denied",
            "relaying denied",
            "relay denied",
            "relay not permitted",
            "not permitted to relay",
            "unable to relay",
            "relaying not allowed",
            "relay not allowed",
            "we do not relay",
            "not allowed to relay",
        ],
    ),
    (
        Reason::System,
        &[
            "insufficient system storage",
            "system storage",
            "mail system full",
        ],
    ),
    (
        Reason::MailboxFull,
        &[
            "quota",
            "mailbox full",
            "mailbox is full",
            "inbox is full",
            "mailbox size",
            "insufficient storage",
            "out of storage",
            "storage space",
            "over the storage",
            "exceeded storage",
            "storage allocation",
            "full mailbox",
        ],
    ),
    (
        Reason::TooBig,
        &[
            "message size",
            "too big",
            "too large",
            "size limit",
            "message length",
            "maximum size",
            "message is larger",
        ],
    ),
    (
        Reason::MailboxInactive,
        &[
            "inactive",
            "dormant",
            "not active",
            "no longer active",
            "account expired",
            "account has expired",
            "deactivated",
        ],
    ),
    (
        Reason::Expired,
        &[
            "timeout",
            "timed out",
            "expired",
            "could not be delivered within",
            "retry time",
            "too long in the queue",
            "too long in queue",
            "maximum time",
        ],
    ),
];

/// Phrases that say the address, or its domain, does not exist, or that the
/// mailbox cannot take mail. They win over a generic code (X.0.0, X.5.0,
/// X.7.1, a bare 550) but not over the evidence above. Domains first: "domain
/// does not exist" is about the domain.
const ADDRESS: &[(Reason, &[&str])] = &[
    (
        Reason::HostUnknown,
        &[
            "host unknown",
            "unknown host",
            "host not found",
            "domain not found",
            "domain name not found",
            "unknown domain",
            "domain unknown",
            "no such domain",
            "domain does not exist",
            "domain doesn't exist",
            "nxdomain",
            "no mx",
            "null mx",
            "mx lookup",
            "unrouteable address",
            "unroutable address",
            "does not accept mail",
            "name or service not known",
        ],
    ),
    (
        Reason::Moved,
        &[
            "has moved",
            "mailbox moved",
            "address moved",
            "no forwarding address",
            "user not local",
            "owner has changed",
        ],
    ),
    (
        Reason::MailboxDisabled,
        &[
            "disabled",
            "suspended",
            "account locked",
            "mailbox locked",
            "is locked",
            "frozen",
        ],
    ),
    (
        Reason::UserUnknown,
        &[
            "user unknown",
            "unknown user",
            "does not exist",
            "doesn't exist",
            "no such user",
            "no such mailbox",
            "no such recipient",
            "no such account",
            "no such address",
            "doesn't have a yahoo.com account",
            "does not have an account",
            "doesn't have an account",
            "unknown recipient",
            "recipient unknown",
            "recipient not found",
            "recipientnotfound",
            "recipnotfound",
            "invalid recipient",
            "invalid mailbox",
            "invalid address",
            "user not found",
            "mailbox not found",
            "address not found",
            "unknown address",
            "not listed",
            "no longer in use",
            "no longer exists",
            "no longer valid",
            "no longer available",
            "not a valid mailbox",
            "user doesn't have",
            "address rejected",
            "mailbox unavailable: user",
            "bad destination mailbox",
        ],
    ),
];

/// Phrases too generic to beat a code: they name a reason only when the code
/// says nothing recognisable.
const WEAK: &[(Reason, &[&str])] = &[
    (
        Reason::Network,
        &[
            "connection refused",
            "connection reset",
            "no route to host",
            "network is unreachable",
            "host unreachable",
            "lost connection",
            "connection lost",
            "tls",
            "certificate",
        ],
    ),
    (
        Reason::System,
        &[
            "internal error",
            "server error",
            "local error",
            "system error",
            "configuration error",
            "out of memory",
            "mail loop",
            "routing loop",
        ],
    ),
    (
        Reason::Policy,
        &[
            "policy",
            "not allowed",
            "access denied",
            "prohibited",
            "administrative",
            "refused",
            "not authorized",
        ],
    ),
];

/// Classifies one failure from its enhanced status code (`5.1.1`; `None`
/// when the reply had none), its basic SMTP reply code, and the reply or
/// diagnostic text.
///
/// Text naming a problem of the sender, the message or the path wins over
/// the code's generic meaning (a `5.7.1` naming a blocklist is `blocked`, a
/// `5.1.1` saying "mailbox full" is `mailbox_full`); then text saying the
/// address does not exist (a `5.7.1` "recipient address rejected: user
/// unknown" is `user_unknown`); then the code; then generic phrases. A code
/// that says nothing specific with no recognisable text is `unknown`: no
/// evidence never suppresses.
pub fn classify_failure(status: Option<&str>, smtp_code: Option<u16>, text: &str) -> Failure {
    let text = text.to_ascii_lowercase();
    let status = status.and_then(Status::parse);
    let found = first_match(EVIDENCE, &text)
        .or_else(|| first_match(ADDRESS, &text))
        .or_else(|| status.and_then(Status::reason))
        .or_else(|| smtp_code.and_then(basic_reason))
        .or_else(|| first_match(WEAK, &text))
        .or_else(|| status.and_then(Status::generic_reason))
        .unwrap_or(Reason::Unknown);
    Failure::of(found)
}

fn first_match(table: &[(Reason, &[&str])], text: &str) -> Option<Reason> {
    table
        .iter()
        .find(|(reason, phrases)| {
            phrases
                .iter()
                .any(|p| has_phrase(text, p) && !negated(*reason, text, p))
        })
        .map(|(r, _)| *r)
}

/// "User not listed in the directory" is not a blocklist listing.
fn negated(reason: Reason, text: &str, phrase: &str) -> bool {
    reason == Reason::Blocked
        && phrase == "listed"
        && ![
            "listed in",
            "listed at",
            "listed on",
            "listed by",
            "is listed",
            "are listed",
            "been listed",
        ]
        .iter()
        .any(|p| has_phrase(text, p) && !has_phrase(text, &format!("not {p}")))
}

/// True when `phrase` occurs in `text` with no letter or digit touching it
/// on either side (so `ptr` is not found in `interrupted`).
fn has_phrase(text: &str, phrase: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find(phrase) {
        let start = from + i;
        let end = start + phrase.len();
        let before = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let after = end >= bytes.len() || !bytes[end].is_ascii_alphanumeric();
        if before && after {
            return true;
        }
        // `phrase` is ASCII, so `start + 1` may split a multi-byte char only
        // if `text` has one there; step by the char instead.
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// An RFC 3463 enhanced status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Status {
    class: u8,
    subject: u16,
    detail: u16,
}

impl Status {
    fn parse(s: &str) -> Option<Self> {
        let mut it = s.trim().split('.');
        let class = it.next()?.parse().ok()?;
        let subject = it.next()?.parse().ok()?;
        let detail = it.next()?.parse().ok()?;
        (it.next().is_none() && matches!(class, 2 | 4 | 5)).then_some(Self {
            class,
            subject,
            detail,
        })
    }

    /// The reason a specific code names (RFC 3463, RFC 7372, RFC 7505 and the
    /// IANA registry of enhanced status codes).
    fn reason(self) -> Option<Reason> {
        use Reason as R;
        Some(match (self.subject, self.detail) {
            (1, 1) | (1, 3) => R::UserUnknown,
            (1, 2) | (1, 10) | (4, 4) => R::HostUnknown,
            (1, 6) => R::Moved,
            (1, 7) | (1, 8) => R::Policy,
            (2, 1) => R::MailboxDisabled,
            (2, 2) => R::MailboxFull,
            (2, 3) | (3, 4) => R::TooBig,
            (2, 4) | (3, 1..=3) | (3, 5) | (4, 5) | (4, 6) | (5, 1 | 2 | 4 | 5) => R::System,
            (4, 1..=3) => R::Network,
            (4, 7) => R::Expired,
            (5, 3) | (7, 28) => R::RateLimited,
            (6, 0..=10) => R::ContentRejected,
            (7, 0) if self.class == 4 => R::RateLimited,
            (7, 13) => R::MailboxDisabled,
            (7, 17) | (7, 18) => R::Moved,
            (7, 8) | (7, 9) | (7, 20..=24) | (7, 26) | (7, 27) | (7, 29) | (7, 515) => {
                R::AuthFailure
            }
            (7, 25) => R::PtrRequired,
            // Microsoft's documented "banned sending IP" range.
            (7, 606..=649) => R::Blocked,
            _ => return None,
        })
    }

    /// What a generic code means when nothing more specific was said: the
    /// security subject is a policy refusal, a transport subject a system one;
    /// `X.0.0`, `X.1.0`, `X.2.0` and `X.5.0` say nothing.
    fn generic_reason(self) -> Option<Reason> {
        match self.subject {
            7 => Some(Reason::Policy),
            3 | 4 => Some(Reason::System),
            _ => None,
        }
    }
}

/// The reason a basic SMTP reply code names on its own (RFC 5321 §4.2.3):
/// only the codes that mean one thing.
fn basic_reason(code: u16) -> Option<Reason> {
    match code {
        551 => Some(Reason::Moved),
        552 => Some(Reason::MailboxFull),
        421 => Some(Reason::System),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_snake_case_and_unique() {
        let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), Reason::ALL.len());
        for r in Reason::ALL {
            assert_eq!(r.to_string(), r.as_str());
            assert!(
                r.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
        }
        assert_eq!(
            Failure::of(Reason::MailboxFull).to_string(),
            "mailbox_full (mailbox)"
        );
        assert_eq!(Treatment::CountSoft.to_string(), "count_soft");
    }

    #[test]
    fn only_the_address_scope_suppresses_and_only_the_mailbox_scope_counts() {
        for r in Reason::ALL {
            let t = Failure::of(r).treatment();
            let want = match r {
                Reason::UserUnknown | Reason::HostUnknown | Reason::Moved => Treatment::Suppress,
                Reason::MailboxFull | Reason::MailboxDisabled | Reason::MailboxInactive => {
                    Treatment::CountSoft
                }
                _ => Treatment::Record,
            };
            assert_eq!(t, want, "{r}");
        }
        assert_eq!(
            Scope::ALL.map(|s| s.as_str()),
            [
                "address",
                "mailbox",
                "message",
                "sender",
                "transport",
                "unknown"
            ]
        );
    }

    #[test]
    fn code_and_text_together_give_the_reason() {
        let table: &[(Option<&str>, Option<u16>, &str, Reason)] = &[
            // The code alone.
            (Some("5.1.1"), Some(550), "", Reason::UserUnknown),
            (Some("5.1.2"), None, "", Reason::HostUnknown),
            (Some("5.4.4"), None, "", Reason::HostUnknown),
            (Some("5.1.10"), Some(556), "", Reason::HostUnknown),
            (Some("5.1.6"), None, "", Reason::Moved),
            (Some("5.2.1"), None, "", Reason::MailboxDisabled),
            (Some("5.2.2"), None, "", Reason::MailboxFull),
            (Some("5.3.4"), None, "", Reason::TooBig),
            (Some("5.2.3"), None, "", Reason::TooBig),
            (Some("4.4.7"), None, "", Reason::Expired),
            (Some("5.4.7"), None, "", Reason::Expired),
            (Some("5.7.26"), None, "", Reason::AuthFailure),
            (Some("5.7.23"), None, "", Reason::AuthFailure),
            (Some("5.7.27"), None, "", Reason::AuthFailure),
            (Some("5.7.25"), None, "", Reason::PtrRequired),
            (Some("4.7.0"), Some(421), "", Reason::RateLimited),
            (Some("4.7.28"), None, "", Reason::RateLimited),
            (Some("5.7.1"), Some(550), "", Reason::Policy),
            (Some("5.4.1"), None, "", Reason::Network),
            (Some("5.3.0"), None, "", Reason::System),
            // No evidence: never suppress.
            (Some("5.0.0"), Some(550), "", Reason::Unknown),
            (Some("5.5.0"), Some(550), "", Reason::Unknown),
            (
                None,
                Some(554),
                "delivery error: requested mail action aborted",
                Reason::Unknown,
            ),
            (None, None, "", Reason::Unknown),
            // The text wins over a generic code.
            (
                Some("5.7.1"),
                Some(550),
                "<a@example.com>: Recipient address rejected: User unknown in local recipient table",
                Reason::UserUnknown,
            ),
            (
                Some("5.7.1"),
                Some(550),
                "No such user here",
                Reason::UserUnknown,
            ),
            (
                Some("5.5.0"),
                Some(550),
                "Requested action not taken: user unknown",
                Reason::UserUnknown,
            ),
            (None, Some(550), "unknown recipient", Reason::UserUnknown),
            (None, Some(550), "Recipient not found", Reason::UserUnknown),
            (None, Some(550), "invalid recipient", Reason::UserUnknown),
            (
                Some("5.0.0"),
                Some(550),
                "The email account that you tried to reach does not exist",
                Reason::UserUnknown,
            ),
            (
                Some("5.0.0"),
                Some(550),
                "Host or domain name not found",
                Reason::HostUnknown,
            ),
            (
                Some("5.0.0"),
                Some(550),
                "Unrouteable address",
                Reason::HostUnknown,
            ),
            (
                Some("5.1.10"),
                Some(550),
                "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
                Reason::UserUnknown,
            ),
            (
                Some("5.0.0"),
                None,
                "User frank (frank@example.org) not listed in Domino Directory",
                Reason::UserUnknown,
            ),
            (
                Some("5.0.0"),
                Some(550),
                "account is disabled",
                Reason::MailboxDisabled,
            ),
            (
                Some("5.0.0"),
                Some(550),
                "This account has been suspended",
                Reason::MailboxDisabled,
            ),
            (
                Some("5.0.0"),
                Some(550),
                "Mailbox is inactive",
                Reason::MailboxInactive,
            ),
            // Evidence of the sender's, the message's or the path's problem wins
            // over the code, even a specific one.
            (
                Some("5.7.1"),
                Some(554),
                "Service unavailable; Client host [203.0.113.25] blocked using zen.spamhaus.org",
                Reason::Blocked,
            ),
            (
                Some("5.7.1"),
                Some(550),
                "part of their network is on our block list",
                Reason::Blocked,
            ),
            (
                Some("5.7.1"),
                Some(550),
                "Your IP 203.0.113.25 is listed in a DNSBL",
                Reason::Blocked,
            ),
            (
                Some("5.7.1"),
                Some(550),
                "poor sender reputation",
                Reason::Blocked,
            ),
            (
                Some("5.1.1"),
                Some(550),
                "user unknown; sending host is blacklisted",
                Reason::Blocked,
            ),
            (
                Some("5.7.26"),
                Some(550),
                "Unauthenticated email from example.com is not accepted due to domain's DMARC policy",
                Reason::AuthFailure,
            ),
            (
                Some("5.7.1"),
                Some(550),
                "SPF check failed",
                Reason::AuthFailure,
            ),
            (
                Some("5.0.0"),
                Some(550),
                "5.7.515 Access denied, sending domain does not meet the required authentication level",
                Reason::AuthFailure,
            ),
            (Some("5.7.515"), Some(550), "", Reason::AuthFailure),
            (
                Some("5.7.1"),
                Some(550),
                "Client host rejected: cannot find your reverse DNS",
                Reason::PtrRequired,
            ),
            (
                Some("5.7.1"),
                Some(550),
                "no PTR record for 203.0.113.25",
                Reason::PtrRequired,
            ),
            (
                Some("4.7.0"),
                Some(421),
                "Too many connections from your IP",
                Reason::RateLimited,
            ),
            (
                Some("5.7.1"),
                Some(554),
                "Message rejected as spam by content filter",
                Reason::ContentRejected,
            ),
            (
                Some("5.7.1"),
                Some(550),
                "this message is likely unsolicited mail",
                Reason::ContentRejected,
            ),
            (
                Some("5.7.1"),
                Some(554),
                "Virus found in message",
                Reason::Virus,
            ),
            (
                Some("5.1.1"),
                Some(552),
                "Mailbox full",
                Reason::MailboxFull,
            ),
            (
                Some("5.0.0"),
                Some(552),
                "user is over quota",
                Reason::MailboxFull,
            ),
            (
                Some("4.3.1"),
                Some(452),
                "insufficient system storage",
                Reason::System,
            ),
            (
                Some("5.0.0"),
                Some(552),
                "message size exceeds fixed maximum message size",
                Reason::TooBig,
            ),
            (
                Some("5.7.1"),
                Some(554),
                "Relay access denied",
                Reason::RelayDenied,
            ),
            (
                Some("5.0.0"),
                None,
                "retry timeout exceeded",
                Reason::Expired,
            ),
            (
                Some("4.4.1"),
                None,
                "Message could not be delivered within 5 days",
                Reason::Expired,
            ),
            // Generic phrases only fill in for a code that says nothing.
            (Some("5.0.0"), Some(550), "Access denied", Reason::Policy),
            (
                Some("5.1.1"),
                Some(550),
                "Access denied",
                Reason::UserUnknown,
            ),
            (Some("4.0.0"), None, "connection refused", Reason::Network),
            // Whole words only: `ptr` is not in `interrupted`.
            (Some("5.0.0"), None, "delivery interrupted", Reason::Unknown),
            // A bare basic code that means one thing.
            (None, Some(552), "", Reason::MailboxFull),
            (None, Some(551), "", Reason::Moved),
        ];
        let mut wrong = Vec::new();
        for (status, code, text, want) in table {
            let got = classify_failure(*status, *code, text);
            assert_eq!(got.scope, got.reason.scope());
            if got.reason != *want {
                wrong.push(format!(
                    "{status:?} {code:?} {text:?}: got {}, want {want}",
                    got.reason
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_policy_table_names_every_reason_in_its_scope() {
        let readme = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/bounce-policy.md"
        ))
        .unwrap();
        for scope in Scope::ALL {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| `{scope}` |")))
                .unwrap_or_else(|| panic!("the policy table has no `{scope}` row"));
            for r in Reason::ALL.iter().filter(|r| r.scope() == scope) {
                assert!(
                    row.contains(&format!("`{r}`")),
                    "`{r}` in the `{scope}` row"
                );
            }
        }
    }
}
