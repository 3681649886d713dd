//! Mail that comes back: bounces (DSNs and plain-text ones), ARF complaints,
//! mailed unsubscribes and automatic replies, read from raw messages.
//!
//! Owns turning one raw message into at most one [`Event`] for one ledger row:
//! [`classify`] reads it, [`Processor`] checks its VERP or mailto token (a
//! bounce without a valid token changes nothing) and finds the row, and
//! [`policy`] applies the event, through the store's [`Feedback`] side. It
//! reads no Maildir (the CLI does), sends nothing, and never prints.

pub mod classify;
mod error;
mod feedback;
mod plain;
pub mod plan;
pub mod policy;
mod processor;
pub mod reason;
pub mod report;
pub(crate) mod unsubscribes;

use crate::store::{Event, EventKind};
use plan::MessageKind;

pub use error::InboundError;
use policy::Applied;
pub use processor::Processor;

/// One event a message gave, and what it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The event.
    pub event: Event,
    /// What it changed.
    pub applied: Applied,
}

/// What processing one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Events for one row (one per recipient the report names) were
    /// recorded (or had been before). Never empty.
    Events(Vec<Done>),
    /// Recognised, and deliberately ignored (an automatic reply, a success DSN).
    Ignored(String),
    /// Recognised as a bounce, complaint or unsubscribe, but not trusted or not
    /// ours (a forged or missing token, no such row): changed nothing.
    Refused(String),
    /// Not recognised.
    Unknown(String),
}

impl Processor<'_> {
    /// Reads, classifies and applies one raw message: every recipient a
    /// trusted report names gets its event, for the row its token (or, for
    /// a report, its quoted Message-ID) names.
    pub async fn process(&self, raw: &[u8]) -> Result<Handled, InboundError> {
        let plan = self.plan(raw).await?;
        let row = match plan.row {
            None if plan.kind == MessageKind::Unknown => return Ok(Handled::Unknown(plan.note)),
            None => return Ok(Handled::Ignored(plan.note)),
            Some(Err(why)) => {
                let kind = plan
                    .steps
                    .iter()
                    .find_map(|s| s.event)
                    .map_or("message", EventKind::as_str);
                return Ok(Handled::Refused(format!("{kind}: {why}")));
            }
            Some(Ok(row)) => row,
        };
        let mut done = Vec::new();
        for (i, step) in plan.steps.iter().enumerate() {
            let Some(kind) = step.event else { continue };
            // The first recipient keeps the key a message always had, so a
            // message processed before is still recognised.
            let key = match i {
                0 => format!("msg:{}:{kind}", &plan.hash[..32]),
                i => format!("msg:{}:{kind}:{i}", &plan.hash[..32]),
            };
            let event = Event {
                key,
                kind,
                email: row.email.clone(),
                slot: Some(row.slot),
                source: plan.source.into(),
                status: step.status.clone(),
                reason: step.diagnostic.clone(),
                at: policy::timestamp(self.now),
                failure: Some(step.detail(&row.email))
                    .filter(|_| !matches!(kind, EventKind::Unsubscribe | EventKind::Complaint)),
            };
            let applied = self.policy.apply(&**self.store, &event, self.now).await?;
            done.push(Done { event, applied });
        }
        Ok(Handled::Events(done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::mail::token::Signer;
    use crate::mail::verp::{self, Purpose};
    use crate::store::Store;
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
                relay: None,
            })
            .collect();
        l.commit(slot(), &[], &sent).await.unwrap();
        l
    }

    fn label(r: &Result<Handled, InboundError>) -> String {
        match r {
            Ok(Handled::Events(done)) => done
                .iter()
                .map(|d| format!("{} {}", d.event.kind, d.event.email))
                .collect::<Vec<_>>()
                .join(", "),
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
            Handled::Events(done) => assert!(done.iter().all(|d| !d.applied.new)),
            other => panic!("{other:?}"),
        }
    }

    /// A Postfix-shaped DSN to `{{BOUNCE who}}` quoting `{{MSGID who}}`, with
    /// `blocks` as its per-recipient fields.
    fn dsn(who: &str, blocks: &str) -> Vec<u8> {
        format!(
            "From: MAILER-DAEMON@mail.example.com\nTo: {{{{BOUNCE {who}}}}}\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nfailed\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example.com\n\n{blocks}\n--b\nContent-Type: text/rfc822-headers\n\nMessage-ID: {{{{MSGID {who}}}}}\n\n--b--\n"
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn every_recipient_is_handled_and_sender_side_failures_never_count() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let signer = Signer::new(b"test-secret");
        let ledger = ledger(dir.path(), &config, &signer).await;
        let now = "2026-12-01T16:00:00Z".parse().unwrap();
        let p = Processor::new(&config, &signer, &ledger, now);
        let raw = dsn(
            "ana@example.com",
            "Final-Recipient: rfc822; ana@example.com\nAction: failed\nStatus: 5.7.1\nDiagnostic-Code: smtp; 554 5.7.1 Service unavailable; Client host [203.0.113.25] blocked using zen.spamhaus.org\n\nFinal-Recipient: rfc822; ana@Example.NET\nAction: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 mailbox full\n\nFinal-Recipient: rfc822; ana@example.org\nAction: failed\nStatus: 5.7.26\nDiagnostic-Code: smtp; 550 5.7.26 unauthenticated email from example.com is not accepted due to DMARC policy\n",
        );
        let got = label(&p.process(&fill(&raw, &signer)).await);
        assert_eq!(
            got,
            "failure ana@example.com, soft_bounce ana@example.com, failure ana@example.com"
        );
        // Nobody suppressed, the row still `sent`, the causes kept by provider.
        assert!(!config.subscribers.suppressed_path.exists());
        let sent = ledger
            .recipients(slot(), &[RecipientStatus::Sent])
            .await
            .unwrap();
        assert!(sent.iter().any(|r| r.key == "ana@example.com"));
        let fb = report::issue(&*ledger, slot()).await.unwrap();
        let counts: Vec<(String, String, String, u64)> = fb
            .failures
            .iter()
            .map(|f| {
                (
                    f.reason.clone(),
                    f.scope.clone(),
                    f.provider.clone(),
                    f.count,
                )
            })
            .collect();
        let mut want = vec![
            (
                "auth_failure".into(),
                "sender".into(),
                "example.org".into(),
                1,
            ),
            ("blocked".into(), "sender".into(), "example.com".into(), 1),
        ];
        want.sort();
        let mut counts = counts;
        counts.sort();
        assert_eq!(counts, want);
        assert_eq!(fb.soft_bounces, 1);
        assert!(
            fb.failures_line()
                .unwrap()
                .contains("blocked (sender) at example.com 1"),
            "{:?}",
            fb.failures_line()
        );
        // Again: recorded once, by its natural key.
        match p.process(&fill(&raw, &signer)).await.unwrap() {
            Handled::Events(done) => {
                assert_eq!(done.len(), 3);
                assert!(done.iter().all(|d| !d.applied.new));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ledger.events(Some(slot())).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn reports_about_the_sender_are_recorded_never_complaints() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let signer = Signer::new(b"test-secret");
        let ledger = ledger(dir.path(), &config, &signer).await;
        let p = Processor::new(&config, &signer, &ledger, chrono::Utc::now());
        for t in ["auth-failure", "dkim", "not-spam"] {
            let raw = format!(
                "From: reports@fbl.example.net\nTo: abuse@example.com\nSubject: report\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nreport\n\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: {t}\nUser-Agent: x/1\nVersion: 1\n\n--b\nContent-Type: text/rfc822-headers\n\nMessage-ID: {{{{MSGID bob@example.com}}}}\n\n--b--\n"
            );
            let got = label(&p.process(&fill(raw.as_bytes(), &signer)).await);
            assert_eq!(got, "sender_report bob@example.com", "{t}");
        }
        assert!(!config.subscribers.suppressed_path.exists());
        assert!(!ledger.complained("bob@example.com").await.unwrap());
        let fb = report::issue(&*ledger, slot()).await.unwrap();
        assert_eq!((fb.sender_reports, fb.complaints), (3, 0));
    }

    /// An ARF complaint with no token whose quoted headers carry `ids`.
    fn complaint_quoting(ids: &[String]) -> Vec<u8> {
        let mut quoted = String::new();
        for id in ids {
            quoted.push_str(&format!("Message-ID: {id}\n"));
        }
        format!(
            "From: reports@fbl.example.net\nTo: abuse@example.com\nSubject: report\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nspam\n\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: x/1\nVersion: 1\n\n--b\nContent-Type: text/rfc822-headers\n\n{quoted}\n--b--\n"
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn only_the_first_quoted_message_ids_are_looked_up() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let signer = Signer::new(b"test-secret");
        let ledger = ledger(dir.path(), &config, &signer).await;
        let p = Processor::new(&config, &signer, &ledger, chrono::Utc::now());
        let foreign = |i: usize| format!("<{SLOT}.{i:020x}@example.com>");
        // 100,000 IDs, ours after the first few: none of it is looked up.
        let mut ids: Vec<String> = (0..classify::MAX_QUOTED_IDS).map(foreign).collect();
        ids.push(message_id("bob@example.com"));
        ids.extend((0..100_000).map(|i| foreign(i + 100)));
        let got = label(&p.process(&complaint_quoting(&ids)).await);
        assert!(got.starts_with("refused: complaint:"), "{got}");
        // Ours among the first ones: her complaint.
        let mut ids: Vec<String> = (0..classify::MAX_QUOTED_IDS - 1).map(foreign).collect();
        ids.push(message_id("bob@example.com"));
        let got = label(&p.process(&complaint_quoting(&ids)).await);
        assert_eq!(got, "complaint bob@example.com");
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
