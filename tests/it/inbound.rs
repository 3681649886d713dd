//! Mail that comes back, through the binary: VERP envelopes on a real SMTP
//! session, DSNs through `inbound -`, a Maildir processed twice, soft bounces
//! over several issues, the tokenized mailto, and relay webhooks over HTTP;
//! on both store engines (the file engine, and PostgreSQL when
//! `TIPSHEET_TEST_POSTGRES` is set: each scenario runs as `…::file` and
//! `…::postgres`).

use std::collections::HashMap;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tipsheet::store::EventKind;

use crate::common::{Run, Site, parse, repo, to_run};
use crate::engine::{Bench, Engine, on_both_engines};
use crate::server::{Serve, one_click};
use crate::smtp_server::SmtpServer;

on_both_engines!(
    verp_envelopes_then_a_dsn_on_stdin_suppresses_and_status_shows_it,
    a_maildir_processed_twice_records_each_event_once_and_leaves_the_rest,
    three_soft_bounces_over_three_issues_suppress_two_do_not,
    a_mailed_unsubscribe_counts_only_through_its_tokenized_address,
    webhooks_take_only_authenticated_events_and_each_once,
    a_bounce_for_an_erased_address_does_not_write_it_back,
    a_one_click_unsubscribe_is_counted_once_in_status,
    a_blocklisted_sender_suppresses_nobody_and_status_counts_it_by_provider,
    a_forged_complaint_quoting_a_computed_message_id_suppresses_nobody,
    stale_and_replayed_mailgun_signatures_change_nothing,
    a_dry_run_writes_nothing_and_says_what_the_real_run_then_does,
);

/// A site with VERP on, sending to `port`, on `engine`. `None` when
/// PostgreSQL is not configured.
fn bench(port: u16, engine: Engine, test: &str) -> Option<Bench> {
    Bench::on(engine, test, bounce_site(port))
}

/// [`bench`] on a fresh SMTP server, with the first issue sent.
pub(crate) fn sent(engine: Engine, test: &str) -> Option<(SmtpServer, Bench)> {
    let server = SmtpServer::start();
    let site = bench(server.port, engine, test)?;
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    Some((server, site))
}

/// One recorded event: kind, address, issue, source.
type Recorded = (EventKind, String, Option<String>, String);

impl Bench {
    /// Every suppression, as one text (to compare before and after).
    fn suppressions_text(&self) -> String {
        format!("{:?}", self.suppressed())
    }

    /// Every recorded event, oldest first.
    fn events(&self) -> Vec<Recorded> {
        match &self.db {
            None => match Some(crate::common::embedded_store(&self.site.path(""))) {
                None => Vec::new(),
                Some(l) => crate::common::block_on(l.events(None))
                    .unwrap()
                    .into_iter()
                    .map(|e| {
                        let e = e.event;
                        (e.kind, e.email, e.slot.map(|d| d.to_string()), e.source)
                    })
                    .collect(),
            },
            Some(db) => db
                .query("SELECT kind, email, slot, source FROM events ORDER BY at, id")
                .iter()
                .map(|r| {
                    let kind: String = r.get(0);
                    (kind.parse().unwrap(), r.get(1), r.get(2), r.get(3))
                })
                .collect(),
        }
    }

    /// (kind, address) of every recorded event.
    fn kinds(&self) -> Vec<(EventKind, String)> {
        self.events().into_iter().map(|e| (e.0, e.1)).collect()
    }
}

const WEBHOOK_TOKEN: &str = "test-webhook-token";
const POSTMARK_TOKEN: &str = "test-postmark-token";
const MAILGUN_KEY: &str = "test-mailgun-signing-key";

/// What one recipient's copy carried: envelope sender, Message-ID, mailto.
#[derive(Debug, Clone)]
pub(crate) struct Copy {
    envelope: String,
    message_id: String,
    mailto: String,
}

fn bounce_site(port: u16) -> Site {
    let site = Site::new();
    site.use_smtp(port, 2);
    let c = site.read("config.toml");
    site.write(
        "config.toml",
        &format!("{c}\n[bounces]\naddress = \"bounces@example.com\"\n"),
    );
    site
}

/// The copies received since `skip`, by recipient.
pub(crate) fn copies(server: &SmtpServer, skip: usize) -> HashMap<String, Copy> {
    server
        .mails()
        .into_iter()
        .skip(skip)
        .map(|m| {
            let p = parse(&m.data);
            let lu = p.header("List-Unsubscribe").unwrap();
            let mailto = lu
                .split("<mailto:")
                .nth(1)
                .and_then(|s| s.split('?').next())
                .unwrap()
                .to_string();
            (
                m.to[0].to_lowercase(),
                Copy {
                    envelope: m.from.clone(),
                    message_id: p.header("Message-ID").unwrap(),
                    mailto,
                },
            )
        })
        .collect()
}

/// A corpus message with its placeholders filled from real copies; `as_whom`
/// maps the fixture's own address to the recipient it is made for.
pub(crate) fn fixture(
    name: &str,
    got: &HashMap<String, Copy>,
    fixture_addr: &str,
    whom: &str,
) -> String {
    let raw = std::fs::read_to_string(repo().join("tests/fixtures/inbound").join(name)).unwrap();
    let c = &got[whom];
    raw.replace(&format!("{{{{BOUNCE {fixture_addr}}}}}"), &c.envelope)
        .replace(&format!("{{{{UNSUB {fixture_addr}}}}}"), &c.mailto)
        .replace(&format!("{{{{MSGID {fixture_addr}}}}}"), &c.message_id)
        .replace(fixture_addr, whom)
}

pub(crate) fn inbound_stdin(site: &Site, message: &str) -> Run {
    pipe_to(site.command(&["inbound", "-"]), message)
}

/// Runs `command` with `message` on its standard input.
fn pipe_to(mut command: std::process::Command, message: &str) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    to_run(child.wait_with_output().unwrap())
}

fn verp_envelopes_then_a_dsn_on_stdin_suppresses_and_status_shows_it(engine: Engine, test: &str) {
    let Some((server, site)) = sent(engine, test) else {
        return;
    };
    let got = copies(&server, 0);
    assert_eq!(got.len(), 4, "{got:?}");
    let mut senders: Vec<&str> = got.values().map(|c| c.envelope.as_str()).collect();
    senders.sort();
    senders.dedup();
    assert_eq!(
        senders.len(),
        4,
        "one envelope sender per recipient: {senders:?}"
    );
    for c in got.values() {
        assert!(c.envelope.starts_with("bounces+1-"), "{c:?}");
        assert!(c.envelope.ends_with("@example.com"), "{c:?}");
        assert!(c.envelope.split('@').next().unwrap().len() <= 64, "{c:?}");
        assert!(c.mailto.starts_with("unsubscribe+1-"), "{c:?}");
    }
    let dsn = fixture(
        "postfix-hard.eml",
        &got,
        "ana@example.com",
        "ana@example.com",
    );
    let r = inbound_stdin(&site, &dsn);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(
            "standard input: hard_bounce for ana@example.com (issue 2026-12-01) [5.1.1]: suppressed (bounced: 550 5.1.1"
        ),
        "{r:?}"
    );
    assert!(r.stdout.contains("ledger row now bounced"), "{r:?}");
    assert!(
        site.suppressed()
            .iter()
            .any(|(e, why)| e == "ana@example.com" && why.starts_with("bounced: 550 5.1.1")),
        "{:?}",
        site.suppressed()
    );
    let s = site.run(&["status"]);
    assert!(s.stdout.contains("3 sent, 1 bounced"), "{s:?}");
    assert!(
        s.stdout.contains(
            "  feedback: 3 delivered, bounced 0 in session + 1 after (25.00%), 0 soft bounced, 0 complaints (0.00%), 0 unsubscribed"
        ),
        "{s:?}"
    );
    assert!(
        s.stdout
            .contains("  warning: bounce rate 25.00% is above 2%"),
        "{s:?}"
    );
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(
        s.stdout.contains("  hard_bounce ana@example.com  dsn  5.1.1 550 5.1.1 <ana@example.com>: Recipient address rejected"),
        "{s:?}"
    );
    let s = site.run(&["status", "--date", "2026-12-01", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    let fb = &v[0]["feedback"];
    assert_eq!(
        (fb["delivered"].as_u64(), fb["bounced_after"].as_u64()),
        (Some(3), Some(1)),
        "{fb}"
    );
    assert_eq!(fb["bounce_rate"].as_f64(), Some(0.25));
    assert_eq!(fb["events"][0]["email"], "ana@example.com");
    assert_eq!(fb["events"][0]["type"], "hard_bounce");
    // The next issue skips her.
    let r = site.run(&["send", "--date", "2026-12-15"]);
    assert_eq!(r.code, 0, "{r:?}");
    let next = copies(&server, 4);
    assert_eq!(next.len(), 3);
    assert!(!next.contains_key("ana@example.com"));
    // A forged token on the same DSN changes nothing and says why.
    let forged = dsn.replace(
        &got["ana@example.com"].envelope,
        "bounces+1-aaaaaaaaaaaa-00000000000000000000000000000000@example.com",
    );
    let r = inbound_stdin(&site, &forged);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("refused, nothing changed"), "{r:?}");
}

fn a_maildir_processed_twice_records_each_event_once_and_leaves_the_rest(
    engine: Engine,
    test: &str,
) {
    let Some((server, site)) = sent(engine, test) else {
        return;
    };
    let got = copies(&server, 0);
    let dir = site.path("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let handled = [
        (
            "1796133912.M1P1.mx",
            fixture("exim-hard.eml", &got, "bob@example.com", "bob@example.com"),
        ),
        (
            "1796133913.M2P1.mx",
            fixture(
                "arf-abuse.eml",
                &got,
                "bob@example.com",
                "carol@example.com",
            ),
        ),
        (
            "1796133914.M3P1.mx",
            fixture("vacation.eml", &got, "erin@example.com", "erin@example.com"),
        ),
    ];
    let left = [
        (
            "1796133915.M4P1.mx",
            fixture(
                "unknown-reply.eml",
                &got,
                "ana@example.com",
                "ana@example.com",
            ),
        ),
        (
            "1796133916.M5P1.mx",
            "\u{1}\u{2} not mail at all".to_string(),
        ),
    ];
    let put = |name: &str, text: &str| std::fs::write(dir.join("new").join(name), text).unwrap();
    for (n, t) in handled.iter().chain(left.iter()) {
        put(n, t);
    }
    let r = site.run(&["inbound", "--maildir", "Maildir"]);
    assert_eq!(r.code, 1, "one message is unreadable: {r:?}");
    assert!(
        r.stdout.contains("hard_bounce for bob@example.com"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("complaint for carol@example.com"),
        "{r:?}"
    );
    assert!(r.stdout.contains("ignored: an automatic reply"), "{r:?}");
    assert!(
        r.stderr.contains("1796133915.M4P1.mx: not recognised"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("1796133916.M5P1.mx: not an email message"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("inbound: 2 recorded, 0 already recorded, 1 ignored, 0 refused, 1 not recognised, 1 unreadable"),
        "{r:?}"
    );
    let names = |sub: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names("cur"),
        [
            "1796133912.M1P1.mx:2,S",
            "1796133913.M2P1.mx:2,S",
            "1796133914.M3P1.mx:2,S"
        ]
    );
    assert_eq!(names("new"), ["1796133915.M4P1.mx", "1796133916.M5P1.mx"]);
    // Delivered again (a relay retry, a restored backup): nothing changes.
    for (n, t) in &handled {
        put(&format!("{n}.again"), t);
    }
    let before = site.suppressions_text();
    let r = site.run(&["inbound", "--maildir", "Maildir"]);
    assert!(
        r.stdout
            .contains("inbound: 0 recorded, 2 already recorded, 1 ignored"),
        "{r:?}"
    );
    assert_eq!(site.suppressions_text(), before);
    assert_eq!(
        site.kinds(),
        [
            (EventKind::HardBounce, "bob@example.com".to_string()),
            (EventKind::Complaint, "carol@example.com".to_string())
        ]
    );
    assert_eq!(names("cur").len(), 6);
    let st = site.run(&["status"]);
    assert!(
        st.stdout.contains(
            "bounced 0 in session + 1 after (25.00%), 0 soft bounced, 1 complaints (25.00%)"
        ),
        "{st:?}"
    );
    assert!(
        st.stdout
            .contains("  warning: complaint rate 25.00% is above 0.1%"),
        "{st:?}"
    );
    let s = site.suppressed();
    assert!(
        s.iter()
            .any(|(e, w)| e == "carol@example.com" && w.starts_with("complaint,")),
        "{s:?}"
    );
}

fn three_soft_bounces_over_three_issues_suppress_two_do_not(engine: Engine, test: &str) {
    let server = SmtpServer::start();
    let Some(site) = bench(server.port, engine, test) else {
        return;
    };
    let mut seen = 0;
    for (i, date) in ["2026-12-01", "2026-12-15", "2026-12-29"]
        .iter()
        .enumerate()
    {
        let r = site.run(&["send", "--date", date]);
        assert_eq!(r.code, 0, "{r:?}");
        let got = copies(&server, seen);
        seen = server.mails().len();
        let dsn = fixture(
            "gmail-soft.eml",
            &got,
            "dave@example.com",
            "carol@example.com",
        );
        let r = inbound_stdin(&site, &dsn);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout.contains(&format!(
                "soft_bounce for carol@example.com (issue {date}) [4.2.2]"
            )),
            "{r:?}"
        );
        let carol_suppressed = site
            .suppressed()
            .iter()
            .any(|(e, _)| e == "carol@example.com");
        if i < 2 {
            assert!(
                r.stdout
                    .contains(&format!("{} soft bounce(s) in the window", i + 1)),
                "{r:?}"
            );
            assert!(!carol_suppressed, "after {} soft bounces", i + 1);
            // The same DSN again counts nothing.
            let again = inbound_stdin(&site, &dsn);
            assert!(again.stdout.contains("already recorded"), "{again:?}");
        } else {
            assert!(
                r.stdout
                    .contains("suppressed (bounced: 3 soft bounces in 30 days"),
                "{r:?}"
            );
            assert!(carol_suppressed);
        }
    }
}

fn a_mailed_unsubscribe_counts_only_through_its_tokenized_address(engine: Engine, test: &str) {
    let Some((server, site)) = sent(engine, test) else {
        return;
    };
    let got = copies(&server, 0);
    let plain = fixture(
        "unsubscribe-no-token.eml",
        &got,
        "dave@example.com",
        "erin@example.com",
    );
    std::fs::write(site.path("plain.eml"), plain).unwrap();
    let mailed = fixture(
        "unsubscribe-mailto.eml",
        &got,
        "dave@example.com",
        "erin@example.com",
    );
    std::fs::write(site.path("mailed.eml"), mailed).unwrap();
    let r = site.run(&["inbound", "plain.eml", "mailed.eml"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("plain.eml: refused, nothing changed: unsubscribe: sent to `unsubscribe@example.com` without a token"), "{r:?}");
    assert!(
        r.stdout
            .contains("mailed.eml: unsubscribe for erin@example.com (issue 2026-12-01)"),
        "{r:?}"
    );
    let s = site.suppressed();
    assert!(
        s.iter()
            .any(|(e, w)| e == "erin@example.com" && w.starts_with("unsubscribed,")),
        "{s:?}"
    );
    // Files that are not there are errors, and the rest still runs.
    let r = site.run(&["inbound", "missing.eml", "mailed.eml"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error: missing.eml: cannot read it"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(
            "mailed.eml: unsubscribe for erin@example.com (issue 2026-12-01) already recorded"
        ),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------
// Webhooks over HTTP.

/// `serve` with the webhook secrets set.
fn serve_with_webhooks(site: &Site) -> Serve {
    Serve::spawn(
        site.command(&["serve", "--listen", "127.0.0.1:0"])
            .env("TIPSHEET_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
            .env("TIPSHEET_POSTMARK_TOKEN", POSTMARK_TOKEN)
            .env("TIPSHEET_MAILGUN_SIGNING_KEY", MAILGUN_KEY),
    )
}

fn post(url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut req = agent.post(url).header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut r = req.send(body).unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

/// A Mailgun event signed now, with a signature token of its own.
fn mailgun_body(
    key: &str,
    event: &str,
    severity: &str,
    recipient: &str,
    message_id: &str,
) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let token = format!(
        "{:x}{:08x}",
        now.as_nanos(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    mailgun_signed(
        key,
        &now.as_secs().to_string(),
        &token,
        event,
        severity,
        recipient,
        message_id,
    )
}

/// A Mailgun event signed with timestamp `ts` and token `token`.
fn mailgun_signed(
    key: &str,
    ts: &str,
    token: &str,
    event: &str,
    severity: &str,
    recipient: &str,
    message_id: &str,
) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(token.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    serde_json::json!({
        "signature": {"timestamp": ts, "token": token, "signature": sig},
        "event-data": {
            "event": event, "severity": severity, "id": "G9Bn5sl1TC6bTsNzsI6O1A",
            "timestamp": 1796133912.25, "recipient": recipient,
            "reason": "bounce",
            "delivery-status": {"code": 550, "message": "5.1.1 The email account that you tried to reach does not exist", "description": ""},
            "message": {"headers": {"message-id": message_id.trim_matches(|c| c == '<' || c == '>')}}
        }
    })
    .to_string()
}

fn webhooks_take_only_authenticated_events_and_each_once(engine: Engine, test: &str) {
    let Some((server, site)) = sent(engine, test) else {
        return;
    };
    let got = copies(&server, 0);
    let serve = serve_with_webhooks(&site);
    let url = |p: &str| serve.url(&format!("/webhooks/{p}"));
    let bearer = format!("Bearer {WEBHOOK_TOKEN}");
    let before = site.suppressions_text();
    let generic = r#"[{"type": "complaint", "email": "Ana@Example.com", "reason": "abuse report"},
                      {"type": "hard_bounce", "email": "bob@example.com", "at": "2026-12-01T15:00:00Z"}]"#;
    // Unauthenticated, wrong token, not JSON: nothing changes.
    for (headers, body, want) in [
        (vec![], generic, 401),
        (vec![("Authorization", "Bearer wrong")], generic, 401),
        (vec![("Authorization", bearer.as_str())], "{not json", 400),
        (
            vec![("Authorization", bearer.as_str())],
            r#"{"type": "spam", "email": "a@example.com"}"#,
            400,
        ),
    ] {
        let (status, text) = post(&url("generic"), &headers, body);
        assert_eq!(status, want, "{text}");
        assert!(text.contains("nothing changed"), "{text}");
    }
    assert_eq!(site.suppressions_text(), before);
    let (status, text) = post(&url("generic"), &[("Authorization", &bearer)], generic);
    assert_eq!(
        (status, text.trim()),
        (200, "2 recorded, 0 already recorded, 0 ignored")
    );
    let (status, text) = post(&url("generic"), &[("Authorization", &bearer)], generic);
    assert_eq!(
        (status, text.trim()),
        (200, "0 recorded, 2 already recorded, 0 ignored")
    );
    // Mailgun: a bad signature is refused; a good one is taken once and linked to its issue.
    let carol = &got["carol@example.com"].message_id;
    let (status, _) = post(
        &url("mailgun"),
        &[],
        &mailgun_body(
            "not-the-key",
            "failed",
            "permanent",
            "carol@example.com",
            carol,
        ),
    );
    assert_eq!(status, 401);
    let (status, _) = post(&url("mailgun"), &[], "garbage");
    assert_eq!(status, 401);
    let body = mailgun_body(
        MAILGUN_KEY,
        "failed",
        "permanent",
        "carol@example.com",
        carol,
    );
    let (status, text) = post(&url("mailgun"), &[], &body);
    assert_eq!(
        (status, text.trim()),
        (200, "1 recorded, 0 already recorded, 0 ignored")
    );
    // The same signed request again is a replay: refused, nothing changes.
    let (status, text) = post(&url("mailgun"), &[], &body);
    assert_eq!(status, 406, "{text}");
    assert!(text.contains("was taken before: a replay"), "{text}");
    // The same event freshly signed (Mailgun's own retry) is recorded once.
    let again = mailgun_body(
        MAILGUN_KEY,
        "failed",
        "permanent",
        "carol@example.com",
        carol,
    );
    let (_, text) = post(&url("mailgun"), &[], &again);
    assert_eq!(text.trim(), "0 recorded, 1 already recorded, 0 ignored");
    // Postmark: Basic credentials with the Postmark token as password; the
    // generic token does not open it.
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("postmark:{POSTMARK_TOKEN}"))
    );
    let generic_token = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("postmark:{WEBHOOK_TOKEN}"))
    );
    let pm = r#"{"RecordType": "SpamComplaint", "ID": 42, "Type": "SpamComplaint", "Email": "erin@example.com", "Description": "The subscriber explicitly marked this message as spam.", "BouncedAt": "2026-12-01T15:10:00Z"}"#;
    let wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("postmark:nope")
    );
    for auth in [&wrong, &generic_token, &bearer] {
        let (status, text) = post(&url("postmark"), &[("Authorization", auth)], pm);
        assert_eq!(status, 401, "{auth}: {text}");
    }
    // Nor does the Postmark token open the generic endpoint.
    let (status, _) = post(
        &url("generic"),
        &[("Authorization", &format!("Bearer {POSTMARK_TOKEN}"))],
        generic,
    );
    assert_eq!(status, 401);
    let (status, text) = post(&url("postmark"), &[("Authorization", &basic)], pm);
    assert_eq!(
        (status, text.trim()),
        (200, "1 recorded, 0 already recorded, 0 ignored"),
        "{}",
        serve.stderr()
    );
    let s = site.suppressed();
    for (email, reason) in [
        ("ana@example.com", "complaint"),
        ("bob@example.com", "bounced"),
        ("carol@example.com", "bounced: 550 5.1.1"),
        ("erin@example.com", "complaint"),
    ] {
        assert!(
            s.iter().any(|(e, w)| e == email && w.starts_with(reason)),
            "{email}: {s:?}"
        );
    }
    // After her complaint, the one-click resubscribe is refused: only the double opt-in.
    let t = tipsheet::mail::token::Signer::new(crate::common::SECRET.as_bytes())
        .unsubscribe_token("ana@example.com");
    let before = site.suppressions_text();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(&serve.url("/resubscribe"))
        .send_form([("e", "ana@example.com"), ("t", t.as_str())])
        .unwrap();
    let page = r.body_mut().read_to_string().unwrap();
    assert!(page.contains("Please sign up again"), "{page}");
    assert_eq!(site.suppressions_text(), before);
    let ev = site.events();
    assert_eq!(ev.len(), 4, "{ev:?}");
    let carol_event = ev.iter().find(|e| e.1 == "carol@example.com").unwrap();
    assert_eq!(
        (carol_event.2.as_deref(), carol_event.3.as_str()),
        (Some("2026-12-01"), "mailgun")
    );
    // Without our Message-ID, each is linked to the latest issue sent to it.
    assert!(
        ev.iter().all(|e| e.2.as_deref() == Some("2026-12-01")),
        "{ev:?}"
    );
    let st = site.run(&["status"]);
    assert!(
        st.stdout.contains(
            "bounced 0 in session + 2 after (50.00%), 0 soft bounced, 2 complaints (50.00%)"
        ),
        "{st:?}"
    );
    drop(serve);
}

/// The pseudonym `subscribers forget` writes for `key` under the test secret.
fn pseudonym(key: &str) -> String {
    tipsheet::plan::keyer_of(tipsheet::mail::token::Signer::new(
        crate::common::SECRET.as_bytes(),
    ))
    .pseudonym(key)
}

fn a_bounce_for_an_erased_address_does_not_write_it_back(engine: Engine, test: &str) {
    let Some((server, site)) = sent(engine, test) else {
        return;
    };
    let hmac = pseudonym("ana@example.com");
    // The real erasure, on either engine.
    let r = site.run(&["subscribers", "forget", "ana@example.com", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let serve = serve_with_webhooks(&site);
    let bearer = format!("Bearer {WEBHOOK_TOKEN}");
    let body = r#"[{"type": "complaint", "email": "ana@example.com", "reason": "abuse report about ana@example.com"},
                   {"type": "hard_bounce", "email": "Ana@Example.com", "at": "2026-12-01T15:00:00Z"}]"#;
    let (status, text) = post(
        &serve.url("/webhooks/generic"),
        &[("Authorization", &bearer)],
        body,
    );
    assert_eq!(
        (status, text.trim()),
        (200, "2 recorded, 0 already recorded, 0 ignored"),
        "{}",
        serve.stderr()
    );
    drop(serve);
    // The address is written nowhere; the pseudonym has both events.
    let s = site.suppressed();
    assert!(!format!("{s:?}").contains("ana@"), "{s:?}");
    assert!(s.iter().any(|(e, _)| *e == hmac), "{s:?}");
    // Oldest first: the bounce says when; the complaint is from now.
    let ev = site.events();
    assert_eq!(
        ev,
        [
            (
                EventKind::HardBounce,
                hmac.clone(),
                Some("2026-12-01".to_string()),
                "generic".to_string()
            ),
            (
                EventKind::Complaint,
                hmac.clone(),
                Some("2026-12-01".to_string()),
                "generic".to_string()
            ),
        ]
    );
    match &site.db {
        None => {
            let csv = site.read("subscribers/suppressed.csv").to_lowercase();
            assert!(!csv.contains("ana@example.com"), "{csv}");
        }
        Some(db) => assert_eq!(
            db.count(
                "SELECT COUNT(*) FROM events WHERE email ILIKE '%ana@%' OR reason ILIKE '%ana@%'
                    OR natural_key ILIKE '%ana@%'"
            ),
            0
        ),
    }
    // Still counted for the issue, and still never mailed.
    let st = site.run(&["status"]);
    assert!(
        st.stdout.contains("+ 1 after") && st.stdout.contains("1 complaints"),
        "{st:?}"
    );
    assert_eq!(site.run(&["send", "--date", "2026-12-15"]).code, 0);
    let next = copies(&server, 4);
    assert_eq!(next.len(), 3, "{next:?}");
    assert!(!next.contains_key("ana@example.com"));
}

fn a_one_click_unsubscribe_is_counted_once_in_status(engine: Engine, test: &str) {
    let Some((_server, site)) = sent(engine, test) else {
        return;
    };
    let serve = serve_with_webhooks(&site);
    let t = tipsheet::mail::token::Signer::new(crate::common::SECRET.as_bytes())
        .unsubscribe_token("erin@example.com");
    let url = serve.url(&format!("/unsubscribe?e=erin%40example.com&t={t}"));
    for _ in 0..2 {
        let r = one_click(&url);
        assert_eq!(r.status, 200, "{r:?}");
    }
    drop(serve);
    // `/metrics` counts the events recorded, by kind: one unsubscribe.
    let metrics = Serve::spawn(
        site.command(&["serve", "--listen", "127.0.0.1:0"])
            .env("TIPSHEET_ADMIN_TOKEN", crate::server::ADMIN_TOKEN),
    );
    let page = crate::server::reply(
        crate::server::agent()
            .get(&metrics.url("/metrics"))
            .header(
                "Authorization",
                &format!("Bearer {}", crate::server::ADMIN_TOKEN),
            )
            .call(),
    );
    assert_eq!(page.status, 200, "{page:?}");
    let m = crate::metrics::samples(&page.body);
    assert_eq!(
        m.get("tipsheet_inbound_events{kind=\"unsubscribe\"}"),
        Some(&1.0)
    );
    assert_eq!(
        m.get("tipsheet_inbound_events{kind=\"complaint\"}"),
        Some(&0.0)
    );
    drop(metrics);
    assert_eq!(
        site.events(),
        [(
            EventKind::Unsubscribe,
            "erin@example.com".to_string(),
            Some("2026-12-01".to_string()),
            "web".to_string()
        )]
    );
    let s = site.suppressed();
    assert!(
        s.iter()
            .any(|(e, w)| e == "erin@example.com" && w.starts_with("unsubscribed")),
        "{s:?}"
    );
    let st = site.run(&["status"]);
    assert!(
        st.stdout.contains("0 complaints (0.00%), 1 unsubscribed"),
        "{st:?}"
    );
}

/// postfix-hard.eml for `whom`, refused for a sender-level reason (a blocklist).
fn blocklisted(got: &HashMap<String, Copy>, whom: &str) -> String {
    fixture("postfix-hard.eml", got, "ana@example.com", whom)
        .replace("Status: 5.1.1", "Status: 5.7.1")
        .replace(
            "550 5.1.1 <ana@example.com>: Recipient address rejected:\n    User unknown in virtual mailbox table",
            "554 5.7.1 Service unavailable; Client host [203.0.113.25] blocked using\n    zen.spamhaus.org",
        )
        .replace(
            &format!("550 5.1.1 <{whom}>: Recipient address rejected:\n    User unknown in virtual mailbox table"),
            "554 5.7.1 Service unavailable; Client host [203.0.113.25] blocked using\n    zen.spamhaus.org",
        )
}

fn a_blocklisted_sender_suppresses_nobody_and_status_counts_it_by_provider(
    engine: Engine,
    test: &str,
) {
    let Some((server, site)) = sent(engine, test) else {
        return;
    };
    let got = copies(&server, 0);
    let before = site.suppressions_text();
    for whom in ["ana@example.com", "bob@example.com"] {
        let r = inbound_stdin(&site, &blocklisted(&got, whom));
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout.contains(&format!(
                "standard input: failure for {whom} (issue 2026-12-01) [5.7.1]: recorded (blocked at `example.com`, scope sender"
            )),
            "{r:?}"
        );
    }
    assert_eq!(site.suppressions_text(), before);
    let s = site.run(&["status"]);
    assert!(s.stdout.contains("4 sent"), "{s:?}");
    assert!(
        s.stdout
            .contains("  failures not counted against readers: blocked (sender) at example.com 2"),
        "{s:?}"
    );
    let s = site.run(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    let f = &v[0]["feedback"]["failures"];
    assert_eq!(
        f,
        &serde_json::json!([{"reason": "blocked", "scope": "sender", "provider": "example.com", "count": 2}]),
        "{v}"
    );
    // The issue's failures from both sources hold the inbound ones too.
    assert_eq!(&v[0]["failures"], f, "{v}");
    assert_eq!(v[0]["feedback"]["bounced_after"], 0);
}

/// The Message-ID tipsheet gave `key` before its IDs were keyed: an unkeyed
/// hash of the public slot date and the address, which anyone can compute.
fn old_style_message_id(slot: &str, key: &str, domain: &str) -> String {
    use sha2::Digest;
    let h = hex::encode(Sha256::digest(format!("{slot}\0{key}").as_bytes()));
    format!("<{slot}.{}@{domain}>", &h[..20])
}

fn a_forged_complaint_quoting_a_computed_message_id_suppresses_nobody(engine: Engine, test: &str) {
    let Some((server, site)) = sent(engine, test) else {
        return;
    };
    let got = copies(&server, 0);
    let real = &got["carol@example.com"].message_id;
    let domain = real.trim_end_matches('>').rsplit_once('@').unwrap().1;
    let forged_id = old_style_message_id("2026-12-01", "carol@example.com", domain);
    assert_ne!(real, &forged_id, "the Message-ID is keyed, not computable");
    assert!(real.starts_with("<2026-12-01."), "{real}");
    let before = (site.suppressions_text(), site.kinds());
    let arf = fixture(
        "arf-redacted.eml",
        &got,
        "carol@example.com",
        "carol@example.com",
    );
    let forged = arf.replace(real.as_str(), &forged_id);
    assert!(forged.contains(&forged_id));
    site.write("forged.eml", &forged);
    let r = site.run(&["inbound", "forged.eml"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("forged.eml: refused, nothing changed: complaint:"),
        "{r:?}"
    );
    assert_eq!((site.suppressions_text(), site.kinds()), before);
    // The same report quoting the ID carol's copy really carried is hers.
    site.write("real.eml", &arf);
    let r = site.run(&["inbound", "real.eml"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        site.suppressed()
            .iter()
            .any(|(e, why)| e == "carol@example.com" && why.starts_with("complaint")),
        "{:?}",
        site.suppressed()
    );
    assert_eq!(
        site.kinds(),
        [(EventKind::Complaint, "carol@example.com".to_string())]
    );
}

fn stale_and_replayed_mailgun_signatures_change_nothing(engine: Engine, test: &str) {
    let Some((server, site)) = sent(engine, test) else {
        return;
    };
    let got = copies(&server, 0);
    let bob = &got["bob@example.com"].message_id;
    let serve = serve_with_webhooks(&site);
    let url = serve.url("/webhooks/mailgun");
    let before = (site.suppressions_text(), site.kinds());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Validly signed, but six minutes old or ahead: stale.
    for (ts, token) in [
        (now - 360, "stale-past-token"),
        (now + 360, "stale-future-token"),
    ] {
        let body = mailgun_signed(
            MAILGUN_KEY,
            &ts.to_string(),
            token,
            "complained",
            "",
            "bob@example.com",
            bob,
        );
        let (status, text) = post(&url, &[], &body);
        assert_eq!(status, 406, "{text}");
        assert!(text.contains("stale or replayed"), "{text}");
    }
    assert_eq!((site.suppressions_text(), site.kinds()), before);
    // A captured signature reused for another event (its token taken): refused.
    let token = format!("captured-{now}");
    let first = mailgun_signed(
        MAILGUN_KEY,
        &now.to_string(),
        &token,
        "delivered",
        "",
        "bob@example.com",
        bob,
    );
    let (status, text) = post(&url, &[], &first);
    assert_eq!(
        (status, text.trim()),
        (200, "0 recorded, 0 already recorded, 1 ignored")
    );
    let forged = mailgun_signed(
        MAILGUN_KEY,
        &now.to_string(),
        &token,
        "complained",
        "",
        "bob@example.com",
        bob,
    );
    let (status, text) = post(&url, &[], &forged);
    assert_eq!(status, 406, "{text}");
    assert!(text.contains("a replay"), "{text}");
    assert_eq!((site.suppressions_text(), site.kinds()), before);
    // A fresh signature for the same complaint is taken.
    let fresh = mailgun_body(MAILGUN_KEY, "complained", "", "bob@example.com", bob);
    let (status, text) = post(&url, &[], &fresh);
    assert_eq!(
        (status, text.trim()),
        (200, "1 recorded, 0 already recorded, 0 ignored")
    );
    // A permanent failure for a sender-level reason (a blocklist) is
    // recorded as a failure and suppresses nobody, as in a DSN.
    let blocked = mailgun_body(MAILGUN_KEY, "failed", "permanent", "erin@example.com", bob)
        .replace(
            "5.1.1 The email account that you tried to reach does not exist",
            "5.7.1 Service unavailable; client host blocked using zen.spamhaus.org",
        );
    let (status, text) = post(&url, &[], &blocked);
    assert_eq!(
        (status, text.trim()),
        (200, "1 recorded, 0 already recorded, 0 ignored")
    );
    assert!(!site.suppressions_text().contains("erin@"));
    assert!(
        site.kinds()
            .contains(&(EventKind::Failure, "erin@example.com".to_string()))
    );
    drop(serve);
}

/// A dry run's line: file name, kind, token, each recipient's (reason, scope, action).
type DryRunLine = (String, String, String, Vec<(String, String, String)>);

/// Every file under `dir` with its bytes.
fn tree(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn a_dry_run_writes_nothing_and_says_what_the_real_run_then_does(engine: Engine, test: &str) {
    let Some((server, site)) = sent(engine, test) else {
        return;
    };
    let got = copies(&server, 0);
    let real = &got["erin@example.com"].message_id;
    let domain = real.trim_end_matches('>').rsplit_once('@').unwrap().1;
    let forged_id = old_style_message_id("2026-12-01", "erin@example.com", domain);
    let messages = [
        (
            "1-hard",
            fixture(
                "postfix-hard.eml",
                &got,
                "ana@example.com",
                "ana@example.com",
            ),
        ),
        ("2-blocked", blocklisted(&got, "bob@example.com")),
        (
            "3-complaint",
            fixture(
                "arf-redacted.eml",
                &got,
                "carol@example.com",
                "carol@example.com",
            ),
        ),
        (
            "4-forged",
            fixture(
                "arf-redacted.eml",
                &got,
                "carol@example.com",
                "erin@example.com",
            )
            .replace(real.as_str(), &forged_id),
        ),
        (
            "5-reply",
            fixture(
                "unknown-reply.eml",
                &got,
                "ana@example.com",
                "ana@example.com",
            ),
        ),
        ("6-junk", "\u{0}\u{1} not a message".to_string()),
    ];
    for (name, text) in &messages {
        site.write(&format!("Maildir/new/{name}"), text);
    }
    std::fs::create_dir_all(site.path("Maildir/cur")).unwrap();
    let before = (tree(&site.path("")), site.suppressions_text(), site.kinds());
    let r = site.run(&["inbound", "--dry-run", "--json", "--maildir", "Maildir"]);
    assert_eq!(r.code, 1, "one message is unreadable: {r:?}");
    let after = (tree(&site.path("")), site.suppressions_text(), site.kinds());
    // Every file byte for byte, the ledger and the Maildir included. A
    // SQLite reader of a WAL-mode file may create the shared-memory index
    // and an empty log beside it (SQLite's own, holding no data): those
    // two are left out, the log checked empty.
    let (mut was, mut now) = (before.0.clone(), after.0.clone());
    for t in [&mut was, &mut now] {
        t.retain(|p, _| !p.to_string_lossy().ends_with("-shm"));
    }
    let wal = site.path("state/tipsheet.sqlite3-wal");
    if !was.contains_key(&wal) && now.remove(&wal).is_some_and(|b| !b.is_empty()) {
        panic!("the dry run wrote to the ledger's log");
    }
    let changed: Vec<_> = was
        .iter()
        .filter(|(p, b)| now.get(*p) != Some(*b))
        .map(|(p, _)| p.clone())
        .chain(now.keys().filter(|p| !was.contains_key(*p)).cloned())
        .collect();
    assert!(changed.is_empty(), "the dry run wrote {changed:?}");
    assert!(
        site.path("state/tipsheet.sqlite3").exists() || engine != Engine::File,
        "the ledger is there to compare"
    );
    assert_eq!((&before.1, &before.2), (&after.1, &after.2));
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{}", r.stdout);
    let summary: Vec<DryRunLine> = lines
        .iter()
        .map(|v| {
            let source = v["source"].as_str().unwrap();
            (
                source.rsplit('/').next().unwrap().to_string(),
                v["kind"].as_str().unwrap().to_string(),
                v["token"].as_str().unwrap().to_string(),
                v["recipients"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        (
                            r["reason"].as_str().unwrap().to_string(),
                            r["scope"].as_str().unwrap().to_string(),
                            r["action"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let rc = |a: &str, b: &str, c: &str| vec![(a.to_string(), b.to_string(), c.to_string())];
    assert_eq!(
        summary,
        [
            (
                "1-hard".into(),
                "bounce".into(),
                "valid".into(),
                rc("user_unknown", "address", "suppress")
            ),
            (
                "2-blocked".into(),
                "bounce".into(),
                "valid".into(),
                rc("blocked", "sender", "record")
            ),
            (
                "3-complaint".into(),
                "complaint".into(),
                "absent".into(),
                rc("complaint", "address", "suppress")
            ),
            (
                "4-forged".into(),
                "complaint".into(),
                "absent".into(),
                rc("complaint", "address", "suppress")
            ),
            ("5-reply".into(), "unknown".into(), "absent".into(), vec![]),
            (
                "6-junk".into(),
                "unreadable".into(),
                "absent".into(),
                vec![]
            ),
        ]
    );
    assert_eq!(lines[0]["recipients"][0]["status"], "5.1.1");
    assert_eq!(lines[2]["feedback_type"], "abuse");
    assert!(
        lines[5]["error"]
            .as_str()
            .unwrap()
            .contains("not an email message")
    );
    assert!(lines[0]["error"].is_null());
    // The text form says which would be acted on.
    let t = site.run(&[
        "inbound",
        "--dry-run",
        "Maildir/new/4-forged",
        "Maildir/new/1-hard",
    ]);
    assert!(
        t.stdout
            .contains("4-forged: complaint (abuse), token absent: would refuse it"),
        "{t:?}"
    );
    assert!(t.stdout.contains("1-hard: bounce, token valid: would act for ana@example.com\n  ana@example.com 5.1.1 user_unknown (address): suppress"), "{t:?}");
    // The real run does what the dry run said for the trusted messages
    // (1, 2, 3), and nothing for the others.
    let r = site.run(&["inbound", "--maildir", "Maildir"]);
    assert_eq!(r.code, 1, "{r:?}");
    let s = site.suppressed();
    let reason = |who: &str| s.iter().find(|(e, _)| e == who).map(|(_, w)| w.clone());
    assert!(
        reason("ana@example.com")
            .unwrap()
            .starts_with("bounced: 550 5.1.1")
    );
    assert_eq!(reason("bob@example.com"), None);
    assert!(
        reason("carol@example.com")
            .unwrap()
            .starts_with("complaint")
    );
    assert_eq!(reason("erin@example.com"), None);
    let mut kinds = site.kinds();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            (EventKind::HardBounce, "ana@example.com".to_string()),
            (EventKind::Complaint, "carol@example.com".to_string()),
            (EventKind::Failure, "bob@example.com".to_string()),
        ]
    );
}

#[test]
fn a_piped_message_with_the_store_out_of_reach_exits_75_for_the_mail_system_to_retry() {
    let site = bounce_site(1);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dsn =
        std::fs::read_to_string(repo().join("tests/fixtures/inbound/postfix-hard.eml")).unwrap();
    let mut c = site.command(&["inbound", "-"]);
    c.env(
        "TIPSHEET_DATABASE_URL",
        format!("postgres://postgres@127.0.0.1:{port}/tipsheet"),
    );
    let r = pipe_to(c, &dsn);
    assert_eq!(r.code, 75, "{r:?}");
    assert!(r.stderr.contains("cannot be reached"), "{r:?}");
    assert!(
        r.stderr
            .contains("exit 75 asks the mail system to retry it later"),
        "{r:?}"
    );
    assert!(!site.path("state/inbound/unrecognised").exists());
}

#[test]
fn a_piped_message_not_recognised_exits_0_and_is_kept_for_a_person() {
    let site = bounce_site(1);
    let reply = "From: Ana <ana@example.net>\nTo: tips@example.com\nSubject: Re: Career Tips #1\n\nThanks!\n";
    let junk = "\u{1}\u{2} not mail at all";
    for (message, why) in [(reply, "not recognised"), (junk, "not an email message")] {
        let r = inbound_stdin(&site, message);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.stderr.contains(why), "{r:?}");
        assert!(r.stderr.contains("for a person to read"), "{r:?}");
    }
    let dir = site.path("state/inbound/unrecognised");
    let mut kept: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    kept.sort();
    let mut want = vec![reply.to_string(), junk.to_string()];
    want.sort();
    assert_eq!(kept, want);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for e in std::fs::read_dir(&dir).unwrap() {
            let mode = e.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
    // A message it handles is not kept.
    let r = inbound_stdin(
        &site,
        "From: a@example.net\nAuto-Submitted: auto-replied\nSubject: Out of office\n\naway\n",
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
}
