//! `tipsheet send` through the outbox: one message per active subscriber,
//! exactly once, on both store engines (`NAME::file` and `NAME::postgres`);
//! the run lock, which only the file engine has, on the file engine.

use tipsheet::mail::token::Signer;

use crate::common::{SECRET, Site, parse, unsubscribe_params};
use crate::engine::{Bench, Engine, on_both_engines};

on_both_engines!(
    outbox_gets_one_message_per_active_subscriber_once,
    greeting_falls_back_and_names_cannot_inject_headers,
    an_empty_list_sends_nothing_and_says_so,
    dry_run_builds_every_message_and_delivers_none,
    smtp_without_a_secret_refuses_to_start,
);

pub fn check_message(raw: &[u8]) -> crate::common::Parsed {
    let m = parse(raw);
    assert_eq!(m.content_type, "multipart/alternative", "{}", m.raw);
    let lu = m.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert!(
        lu.starts_with("<https://news.example.com/unsubscribe?e="),
        "{lu}"
    );
    assert!(
        lu.ends_with("<mailto:unsubscribe@example.com?subject=unsubscribe>"),
        "{lu}"
    );
    assert_eq!(
        m.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(
        m.header("List-Id").as_deref(),
        Some("Career Tips <career-tips.example.com>")
    );
    let mid = m.header("Message-ID").unwrap();
    assert!(mid.ends_with("@example.com>"), "{mid}");
    // The token verifies for this recipient, and the same link is in both parts.
    let url = lu[1..lu.find('>').unwrap()].to_string();
    let (e, t) = unsubscribe_params(&url);
    assert_eq!(e, m.to.to_lowercase());
    assert!(Signer::new(SECRET.as_bytes()).verify_unsubscribe(&e, &t));
    assert!(m.text.contains(&url), "{}", m.text);
    assert!(m.html.contains(&url.replace('&', "&amp;")), "{}", m.html);
    // Text first, then HTML.
    assert!(m.raw.find("text/plain").unwrap() < m.raw.find("text/html").unwrap());
    m
}

fn outbox_gets_one_message_per_active_subscriber_once(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .starts_with("issue #1 (2026-12-01): 4 delivered, 0 failed, 0 bounced, 0 skipped"),
        "{r:?}"
    );
    // On PostgreSQL the import already said so, and the store holds no bad row.
    assert_eq!(
        r.stderr
            .contains("subscribers/subscribers.csv:7: warning: `bad@@example.com`"),
        engine == Engine::File,
        "{r:?}"
    );
    let mut to: Vec<String> = site
        .emls("state/outbox")
        .iter()
        .map(|m| check_message(m).to)
        .collect();
    to.sort();
    assert_eq!(
        to,
        [
            "Bob@Example.com",
            "ana@example.com",
            "carol@example.com",
            "erin@example.com"
        ]
    );
    // A second run finds the issue sent and mails nobody.
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("issue #1 (2026-12-01) was already sent to everyone; nothing to do"),
        "{r:?}"
    );
    assert_eq!(site.emls("state/outbox").len(), 4);
    let s = site.run(&["status"]);
    assert!(
        s.stdout.contains("#1    2026-12-01  sent       4 sent"),
        "{s:?}"
    );
}

fn greeting_falls_back_and_names_cannot_inject_headers(engine: Engine, test: &str) {
    let site = Site::new();
    site.write(
        "subscribers/subscribers.csv",
        "email,name\r\ncarol@example.com,\r\neve@example.com,\"Eve\r\nBcc: victim@example.com\"\r\nzoe@example.com,\"Zoë Martínez\"\r\n",
    );
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let msgs: Vec<_> = site
        .emls("state/outbox")
        .iter()
        .map(|m| check_message(m))
        .collect();
    assert_eq!(msgs.len(), 3);
    for m in &msgs {
        assert!(
            !m.header_names.iter().any(|h| h.eq_ignore_ascii_case("bcc")),
            "{}",
            m.raw
        );
        assert!(!m.raw.contains("\nBcc:"), "{}", m.raw);
    }
    let carol = msgs.iter().find(|m| m.to == "carol@example.com").unwrap();
    assert!(carol.text.contains("Hi there,"));
    let eve = msgs.iter().find(|m| m.to == "eve@example.com").unwrap();
    assert!(
        eve.text.contains("Hi Eve Bcc: victim@example.com,"),
        "{}",
        eve.text
    );
    let zoe = msgs.iter().find(|m| m.to == "zoe@example.com").unwrap();
    assert!(zoe.text.contains("Hi Zoë Martínez,"));
    assert!(zoe.raw.contains("To: =?utf-8?"), "{}", zoe.raw);
}

fn an_empty_list_sends_nothing_and_says_so(engine: Engine, test: &str) {
    let site = Site::new();
    site.write("subscribers/subscribers.csv", "email,name,subscribed_at\n");
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("0 delivered"), "{r:?}");
    assert!(
        r.stdout
            .contains("the list has no active subscriber: nothing was sent"),
        "{r:?}"
    );
    assert!(site.emls("state/outbox").is_empty());
}

fn dry_run_builds_every_message_and_delivers_none(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    let r = site.run(&["send", "--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("built 4 messages"), "{r:?}");
    assert!(r.stdout.contains("nothing was delivered"), "{r:?}");
    assert!(site.emls("state").is_empty());
    assert!(site.recorded_nothing());
}

fn smtp_without_a_secret_refuses_to_start(engine: Engine, test: &str) {
    let site = Site::new();
    site.use_smtp(1, 1);
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let r = site.run_without_secret(&["send"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("error: `TIPSHEET_SECRET` is not set: refusing to send over SMTP"),
        "{r:?}"
    );
    assert!(site.recorded_nothing());
}

#[test]
fn outbox_without_a_secret_warns_loudly_and_uses_the_development_secret() {
    let site = Site::new();
    let r = site.run_without_secret(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("warning: `TIPSHEET_SECRET` is not set"),
        "{r:?}"
    );
    let m = parse(&site.emls("state/outbox")[0]);
    let lu = m.header("List-Unsubscribe").unwrap();
    let (e, t) = unsubscribe_params(&lu[1..lu.find('>').unwrap()]);
    assert!(
        Signer::new(tipsheet::mail::token::DEVELOPMENT_SECRET.as_bytes())
            .verify_unsubscribe(&e, &t)
    );
}

#[test]
fn a_held_lock_makes_send_exit_3_and_send_nothing() {
    let site = Site::new();
    std::fs::create_dir_all(site.path("state")).unwrap();
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(site.path("state/tipsheet.lock"))
        .unwrap();
    f.try_lock().unwrap();
    let r = site.run(&["send"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("another tipsheet run holds"), "{r:?}");
    assert!(site.emls("state/outbox").is_empty());
    drop(f);
    assert_eq!(site.run(&["send"]).code, 0);
}
