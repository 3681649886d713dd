//! Mail that comes back: bounces (DSNs and plain-text ones), ARF complaints,
//! mailed unsubscribes and automatic replies, read from raw messages.
//!
//! Owns turning one raw message into at most one [`Event`] for one ledger row:
//! [`classify`] reads it, [`Processor`] checks its VERP or mailto token (a
//! bounce without a valid token changes nothing) and finds the row, and
//! [`policy`] applies the event, through the store's [`Feedback`] side. It
//! reads no Maildir (the CLI does), sends nothing, and never prints.

pub mod classify;
mod feedback;
mod plain;
pub mod policy;
pub mod reason;
pub mod report;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::mail::token::Signer;
use crate::mail::verp::{self, Check, Purpose};
use crate::store::{Event, EventKind, LedgerError, Store};
use classify::{Action, Classified, Kind};
use policy::{Applied, Policy, PolicyError};
use reason::Treatment;

/// Why a message could not be read. None of these changes anything.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// Over the size cap.
    #[error(
        "{size} bytes, more than the {limit} read; a bounce or report is far smaller, so this is not one"
    )]
    TooLarge {
        /// Its size.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// Not a message at all.
    #[error("not an email message: {0}")]
    Malformed(String),
    /// Nested or split beyond the caps.
    #[error("too complex to read: {0}")]
    TooComplex(String),
    /// A report missing what it must carry.
    #[error("truncated or incomplete: {0}")]
    Truncated(String),
    /// Undecodable content.
    #[error("wrong charset or encoding: {0}")]
    Encoding(String),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Applying the event failed.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// What processing one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// An event for one row was recorded (or had been before).
    Event {
        /// The event.
        event: Event,
        /// What it changed.
        applied: Applied,
    },
    /// Recognised, and deliberately ignored (an automatic reply, a success DSN).
    Ignored(String),
    /// Recognised as a bounce, complaint or unsubscribe, but not trusted or not
    /// ours (a forged or missing token, no such row): changed nothing.
    Refused(String),
    /// Not recognised.
    Unknown(String),
}

/// The row a message is about.
struct Row {
    slot: chrono::NaiveDate,
    email: String,
}

/// Processes raw messages against one store.
pub struct Processor<'a> {
    config: &'a Config,
    signer: &'a Signer,
    store: &'a Store,
    policy: Policy,
    now: DateTime<Utc>,
}

impl<'a> Processor<'a> {
    /// A processor for `config`'s list and policy, checking tokens with
    /// `signer` (whose secret also keys erased readers' pseudonyms).
    pub fn new(
        config: &'a Config,
        signer: &'a Signer,
        store: &'a Store,
        now: DateTime<Utc>,
    ) -> Self {
        let keyer = crate::plan::with_previous_key(config, crate::plan::keyer_of(signer.clone()));
        Self {
            config,
            signer,
            store,
            policy: Policy::new(&config.bounce_settings(), keyer),
            now,
        }
    }

    /// Reads, classifies and applies one raw message.
    pub async fn process(&self, raw: &[u8]) -> Result<Handled, InboundError> {
        let c = classify::classify(raw, &self.config.unsubscribe.mailto)?;
        let (kind, source, status, reason) = match &c.kind {
            Kind::Dsn(all) | Kind::TextBounce(all) => {
                let source = if matches!(c.kind, Kind::Dsn(_)) {
                    "dsn"
                } else {
                    "bounce-text"
                };
                // Each of our messages has one recipient: the first one named.
                let Some(r) = all.first() else {
                    return Ok(Handled::Unknown("a bounce naming no recipient".into()));
                };
                let kind = match (r.action, r.failure.treatment()) {
                    (Action::Delivered, _) => {
                        return Ok(Handled::Ignored(
                            "a DSN reporting delivery, not a failure".into(),
                        ));
                    }
                    (Action::Delayed, _) => EventKind::Delayed,
                    (Action::Failed, Treatment::Suppress) => EventKind::HardBounce,
                    (Action::Failed, Treatment::CountSoft) => EventKind::SoftBounce,
                    (Action::Failed, Treatment::Record | Treatment::Ignore) => {
                        return Ok(Handled::Ignored(format!(
                            "a failure of scope {} ({}), which never counts against the reader",
                            r.failure.scope, r.failure.reason
                        )));
                    }
                };
                let reason = r.diagnostic.clone().unwrap_or_default();
                (kind, source, r.status.clone(), reason)
            }
            Kind::Complaint(t) => (
                EventKind::Complaint,
                "arf",
                None,
                format!("feedback type {t}"),
            ),
            Kind::FeedbackReport(t) => {
                return Ok(Handled::Ignored(format!(
                    "a feedback report of type `{t}`, about the sender, not a complaint"
                )));
            }
            Kind::Unsubscribe => (
                EventKind::Unsubscribe,
                "mailto",
                None,
                "mailed unsubscribe".into(),
            ),
            Kind::AutoReply(why) => {
                return Ok(Handled::Ignored(format!("an automatic reply ({why})")));
            }
            Kind::Unknown(why) => return Ok(Handled::Unknown(why.clone())),
        };
        let row = match kind {
            EventKind::Unsubscribe => self.row(&c, Purpose::Unsubscribe, false).await?,
            // Feedback loops often write to another address and redact the
            // recipient: our own Message-ID, known to the ledger, names the row.
            EventKind::Complaint => self.row(&c, Purpose::Bounce, true).await?,
            _ => self.row(&c, Purpose::Bounce, false).await?,
        };
        let row = match row {
            Ok(r) => r,
            Err(why) => return Ok(Handled::Refused(format!("{kind}: {why}"))),
        };
        let event = Event {
            key: format!("msg:{}:{kind}", &c.hash[..32]),
            kind,
            email: row.email,
            slot: Some(row.slot),
            source: source.into(),
            status,
            reason,
            at: policy::timestamp(self.now),
        };
        let applied = self.policy.apply(&**self.store, &event, self.now).await?;
        Ok(Handled::Event { event, applied })
    }

    /// The ledger row `c` is about, through its token for `purpose` (checked),
    /// cross-checked against the quoted Message-ID; or, when `by_message_id`,
    /// through the quoted Message-ID alone. `Err` says why it is not trusted.
    async fn row(
        &self,
        c: &Classified,
        purpose: Purpose,
        by_message_id: bool,
    ) -> Result<Result<Row, String>, InboundError> {
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
                    let Some(issue) = self
                        .store
                        .issue_by_number(t.number)
                        .await
                        .map_err(PolicyError::from)?
                    else {
                        return Ok(Err(format!(
                            "the token names issue #{}, which the ledger does not have",
                            t.number
                        )));
                    };
                    if !quoted.is_empty()
                        && !quoted.iter().any(|(s, r)| *s == issue.slot && *r == t.rid)
                    {
                        return Ok(Err(format!(
                            "the token names issue #{} but the quoted Message-ID `{}` is another message: forged or misrouted",
                            t.number, c.quoted_ids[0]
                        )));
                    }
                    return Ok(
                        match self
                            .store
                            .recipient_by_rid(issue.slot, &t.rid)
                            .await
                            .map_err(PolicyError::from)?
                        {
                            Some(r) => Ok(Row {
                                slot: issue.slot,
                                email: r.key,
                            }),
                            None => Err(format!(
                                "the token names no recipient of issue #{} (a test send?)",
                                t.number
                            )),
                        },
                    );
                }
                Check::Forged(t) => forged = Some(t),
                Check::Malformed(_) => {}
            }
        }
        if let Some(t) = forged {
            return Ok(Err(format!(
                "the token `{t}` does not verify: forged, altered, or made under another secret"
            )));
        }
        if by_message_id {
            for (slot, rid) in &quoted {
                if let Some(r) = self
                    .store
                    .recipient_by_rid(*slot, rid)
                    .await
                    .map_err(PolicyError::from)?
                {
                    return Ok(Ok(Row {
                        slot: *slot,
                        email: r.key,
                    }));
                }
            }
        }
        Ok(Err(match (purpose, base) {
            (Purpose::Bounce, None) => {
                "VERP is off (no `[bounces]` in config.toml), so a bounce cannot be tied to a recipient".into()
            }
            (Purpose::Bounce, Some(b)) => format!("no valid `{}` token in its addresses", verp::address(b, "…")),
            (Purpose::Unsubscribe, Some(b)) => format!(
                "sent to `{b}` without a token; the reader must use the address in the List-Unsubscribe header or the link"
            ),
            (Purpose::Unsubscribe, None) => "no unsubscribe address".into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Outcome, RecipientStatus, embedded_for_test};
    use sha2::{Digest, Sha256};
    use std::path::Path;

    const SLOT: &str = "2026-12-01";

    fn slot() -> chrono::NaiveDate {
        SLOT.parse().unwrap()
    }
    const PEOPLE: [&str; 5] = [
        "ana@example.com",
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
        "erin@example.com",
    ];

    /// The Message-ID `Prepared::message_id` gives `key` in issue #1.
    fn message_id(key: &str) -> String {
        let h = hex::encode(Sha256::digest(format!("{SLOT}\0{key}").as_bytes()));
        format!("<{SLOT}.{}@example.com>", &h[..20])
    }

    fn rid(key: &str) -> String {
        verp::rid_of_message_id(&message_id(key)).unwrap().1
    }

    /// Replaces `{{BOUNCE a}}`, `{{UNSUB a}}`, `{{MSGID a}}` and `{{FORGED a}}`.
    pub(crate) fn fill(raw: &[u8], signer: &Signer) -> Vec<u8> {
        let mut out = Vec::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(i) = rest.windows(2).position(|w| w == b"{{") {
            out.extend_from_slice(&rest[..i]);
            let after = &rest[i + 2..];
            let j = after.windows(2).position(|w| w == b"}}").unwrap();
            let inner = std::str::from_utf8(&after[..j]).unwrap();
            let (what, key) = inner.split_once(' ').unwrap();
            let value = match what {
                "BOUNCE" => verp::address(
                    "bounces@example.com",
                    &verp::make(signer, Purpose::Bounce, 1, &rid(key)),
                ),
                "UNSUB" => verp::address(
                    "unsubscribe@example.com",
                    &verp::make(signer, Purpose::Unsubscribe, 1, &rid(key)),
                ),
                "FORGED" => format!("bounces+1-{}-{}@example.com", rid(key), "0".repeat(32)),
                "MSGID" => message_id(key),
                other => panic!("unknown placeholder {other}"),
            };
            out.extend_from_slice(value.as_bytes());
            rest = &after[j + 2..];
        }
        out.extend_from_slice(rest);
        out
    }

    fn config(dir: &Path) -> Config {
        let text = r#"
[newsletter]
name = "Career Tips"
from = "Career Tips <tips@example.com>"
base_url = "https://news.example.com"
list_id = "career-tips.example.com"

[schedule]
cron = "0 9 * * TUE"
timezone = "UTC"
anchor = "2026-12-01"

[unsubscribe]
secret_env = "TIPSHEET_SECRET"
mailto = "unsubscribe@example.com"

[bounces]
address = "bounces@example.com"
"#;
        std::fs::create_dir_all(dir.join("subscribers")).unwrap();
        Config::from_str(text, &dir.join("config.toml")).unwrap()
    }

    async fn ledger(dir: &Path, config: &Config, signer: &Signer) -> Store {
        let keyer = crate::plan::keyer_of(signer.clone());
        let l = embedded_for_test(dir, &config.subscribers.suppressed_path, keyer).await;
        let sel = crate::content::issue::Selection {
            comparisons: vec!["a".into()],
            tip: "t".into(),
        };
        l.assemble(slot(), 1, &sel).await.unwrap();
        l.freeze(
            slot(),
            &mut PEOPLE
                .iter()
                .map(|k| Ok((k.to_string(), k.to_string(), String::new()))),
        )
        .await
        .unwrap();
        let sent: Vec<Outcome> = PEOPLE
            .iter()
            .map(|k| Outcome {
                key: k.to_string(),
                status: RecipientStatus::Sent,
                attempts: 1,
                code: Some(250),
                reply: None,
                message_id: Some(message_id(k)),
            })
            .collect();
        l.commit(slot(), &[], &sent).await.unwrap();
        l
    }

    fn label(r: &Result<Handled, InboundError>) -> String {
        match r {
            Ok(Handled::Event { event, .. }) => format!("{} {}", event.kind, event.email),
            Ok(Handled::Ignored(_)) => "ignored".into(),
            Ok(Handled::Refused(why)) => format!("refused: {why}"),
            Ok(Handled::Unknown(_)) => "unknown".into(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[tokio::test]
    async fn the_corpus_classifies_as_expected() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let signer = Signer::new(b"test-secret");
        let ledger = ledger(dir.path(), &config, &signer).await;
        let now = "2026-12-01T16:00:00Z".parse().unwrap();
        let p = Processor::new(&config, &signer, &ledger, now);
        let table: &[(&str, &str)] = &[
            ("postfix-hard", "hard_bounce ana@example.com"),
            ("exim-hard", "hard_bounce bob@example.com"),
            ("m365-hard", "hard_bounce carol@example.com"),
            ("gmail-soft", "soft_bounce dave@example.com"),
            ("yahoo-text", "hard_bounce erin@example.com"),
            ("postfix-delayed", "delayed ana@example.com"),
            // 5.2.1 "mailbox disabled" is about the mailbox, not the address: soft.
            ("postfix-text-undelivered", "soft_bounce carol@example.com"),
            ("arf-abuse", "complaint bob@example.com"),
            ("arf-redacted", "complaint carol@example.com"),
            ("vacation", "ignored"),
            ("m365-out-of-office", "ignored"),
            ("unsubscribe-mailto", "unsubscribe dave@example.com"),
            (
                "unsubscribe-no-token",
                "refused: unsubscribe: sent to `unsubscribe@example.com` without a token",
            ),
            ("unknown-reply", "unknown"),
            ("forged-token", "refused: hard_bounce: the token `1-"),
            (
                "missing-token",
                "refused: hard_bounce: no valid `bounces+…@example.com` token",
            ),
            (
                "mismatched-message-id",
                "refused: hard_bounce: the token names issue #1 but the quoted Message-ID",
            ),
            (
                "truncated",
                "error: truncated or incomplete: the message ends before its closing MIME boundary `--1796133931-eximdsn-1804289383--`",
            ),
            (
                "wrong-charset",
                "error: wrong charset or encoding: part 3 (message/delivery-status) is not UTF-8",
            ),
            ("not-a-message", "error: not an email message"),
        ];
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inbound");
        let mut failures = Vec::new();
        for (name, want) in table {
            let raw = std::fs::read(fixtures.join(format!("{name}.eml"))).unwrap();
            let got = label(&p.process(&fill(&raw, &signer)).await);
            if !got.starts_with(want) {
                failures.push(format!("{name}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // Every fixture is in the table.
        let files = std::fs::read_dir(&fixtures)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_file())
            .count();
        assert_eq!(
            files,
            table.len() + 1,
            "a fixture without an expectation (README.md aside)"
        );
        // The hard bounce moved its row and suppressed the address, with the reason.
        let bounced = ledger
            .recipients(slot(), &[RecipientStatus::Bounced])
            .await
            .unwrap();
        let keys: Vec<&str> = bounced.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "ana@example.com",
                "bob@example.com",
                "carol@example.com",
                "erin@example.com"
            ]
        );
        let supp = std::fs::read_to_string(&config.subscribers.suppressed_path).unwrap();
        assert!(
            supp.contains(
                "ana@example.com,bounced: 550 5.1.1 <ana@example.com>: Recipient address rejected"
            ),
            "{supp}"
        );
        assert!(supp.contains("dave@example.com,unsubscribed"), "{supp}");
        assert!(!supp.contains("dave@example.com,bounced"), "{supp}");
        // The same message again changes nothing.
        let raw = std::fs::read(fixtures.join("postfix-hard.eml")).unwrap();
        match p.process(&fill(&raw, &signer)).await.unwrap() {
            Handled::Event { applied, .. } => assert!(!applied.new),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn hostile_input_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let signer = Signer::new(b"test-secret");
        let ledger = ledger(dir.path(), &config, &signer).await;
        let p = Processor::new(&config, &signer, &ledger, chrono::Utc::now());
        let huge = vec![b'a'; classify::MAX_BYTES + 1];
        assert!(label(&p.process(&huge).await).starts_with("error: 10485761 bytes, more than"));
        let mut deep = String::from("From: x@example.org\nSubject: deep\n");
        for i in 0..40 {
            deep.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\n"
            ));
        }
        deep.push_str("Content-Type: text/plain\n\nhi\n");
        assert!(
            label(&p.process(deep.as_bytes()).await)
                .starts_with("error: too complex to read: MIME parts nested"),
            "{}",
            label(&p.process(deep.as_bytes()).await)
        );
        let mut nested = String::from("From: x@example.org\nSubject: nested\n");
        for _ in 0..200_000 {
            nested.push_str("Content-Type: message/rfc822\n\n");
        }
        assert!(
            label(&p.process(nested.as_bytes()).await)
                .starts_with("error: too complex to read: 200000 Content-Type headers"),
            "{}",
            label(&p.process(nested.as_bytes()).await)
        );
        for junk in [&b""[..], b"\n\n\n", b"::::\n\n", b"From:\n", &[0xff; 64]] {
            let _ = p.process(junk).await; // No panic; an error or unknown.
        }
        assert!(!config.subscribers.suppressed_path.exists());
    }
}
