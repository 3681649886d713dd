//! `tipsheet send` over SMTP to a real server in this process. The delivery
//! and exactly-once scenarios run on both store engines (`NAME::file` and
//! `NAME::postgres`); the TLS handshakes, which no store touches, and a
//! server answering out of step, on the file engine only.

use tipsheet::delivery::failures_by_reason;
use tipsheet::store::RecipientStatus;

use crate::common::{Site, parse, to_run};
use crate::engine::{Bench, Engine, SLOT, on_both_engines};
use crate::send::check_message;
use crate::smtp_server::{FaultServer, Faults, RecorderMails, SmtpServer, Wire};
use mailin_embedded::response::Response;

on_both_engines!(
    each_active_subscriber_receives_exactly_one_message,
    test_copy_goes_to_one_address_with_a_test_subject_and_is_not_recorded,
    transient_failures_are_retried_and_permanent_ones_bounce_and_suppress,
    a_relay_that_refuses_everything_stops_early,
    connection_refused_stops_early_with_a_clear_error,
    credentials_for_a_relay_without_auth_stop_the_run_early,
    pipelined_and_lock_step_sends_end_the_same_way_for_every_reply,
    a_retry_is_in_the_ledger_while_it_waits,
    only_a_refusal_of_the_address_bounces_and_suppresses,
    a_provider_refusing_the_sender_is_paused_and_its_readers_wait_for_the_next_run,
    refusals_from_every_domain_pause_the_relay,
    status_shows_refusals_by_reason_and_provider_and_warns_of_a_sender_problem,
);

/// A site sending to `port` with `concurrency` connections, on `engine`.
fn smtp_bench(engine: Engine, test: &str, port: u16, concurrency: usize) -> Option<Bench> {
    let site = Site::new();
    site.use_smtp(port, concurrency);
    Bench::on(engine, test, site)
}

fn each_active_subscriber_receives_exactly_one_message(engine: Engine, test: &str) {
    let server = SmtpServer::start();
    let Some(site) = smtp_bench(engine, test, server.port, 2) else {
        return;
    };
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let got = server.received_by();
    let mut keys: Vec<&String> = got.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "ana@example.com",
            "bob@example.com",
            "carol@example.com",
            "erin@example.com"
        ]
    );
    assert!(got.values().all(|n| *n == 1), "{got:?}");
    for mail in server.mails() {
        assert_eq!(mail.from, "tips@example.com");
        let m = check_message(&mail.data);
        assert_eq!(m.to.to_lowercase(), mail.to[0].to_lowercase());
    }
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(s.stdout.contains("4 sent"), "{s:?}");
    // Rerun: nothing more.
    assert_eq!(site.run(&["send"]).code, 0);
    assert_eq!(server.mails().len(), 4);
}

fn test_copy_goes_to_one_address_with_a_test_subject_and_is_not_recorded(
    engine: Engine,
    test: &str,
) {
    let server = SmtpServer::start();
    let Some(site) = smtp_bench(engine, test, server.port, 1) else {
        return;
    };
    let r = site.run(&["send", "--to", "editor@example.com"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    let m = parse(&mails[0].data);
    assert!(
        m.subject.starts_with("[TEST] Career Tips #1: "),
        "{}",
        m.subject
    );
    assert!(site.recorded_nothing());
}

fn faulty_rcpt(to: &str, attempt: u32) -> Option<Response> {
    if to.starts_with("gone") {
        return Some(Response::custom(550, "5.1.1 no such user".into()));
    }
    if to.starts_with("slow") && attempt <= 2 {
        return Some(Response::custom(451, "4.3.0 try again later".into()));
    }
    None
}

fn faulty_data(to: &str, attempt: u32) -> Option<Response> {
    (to.starts_with("grey") && attempt == 1)
        .then(|| Response::custom(451, "4.7.1 greylisted".into()))
}

fn faulty_drop(to: &str, attempt: u32) -> Option<Response> {
    (to.starts_with("flaky") && attempt == 1).then(|| Response::custom(421, String::new()))
}

fn transient_failures_are_retried_and_permanent_ones_bounce_and_suppress(
    engine: Engine,
    test: &str,
) {
    let server = FaultServer::start(Wire {
        rcpt: Some(faulty_rcpt),
        data: Some(faulty_data),
        drop: Some(faulty_drop),
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 3);
    let mut list = String::from("email,name\n");
    for i in 0..20 {
        for kind in ["ok", "slow", "grey", "flaky"] {
            list.push_str(&format!("{kind}{i}@example.com,Reader {i}\n"));
        }
    }
    for i in 0..5 {
        list.push_str(&format!("gone{i}@example.com,Gone {i}\n"));
    }
    site.write("subscribers/subscribers.csv", &list);
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "bounces alone are not a failure: {r:?}");
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(
        r.stdout.contains("80 delivered, 0 failed, 5 bounced"),
        "{r:?}\n{s:?}"
    );
    let got = server.received_by();
    assert_eq!(got.len(), 80, "{got:?}");
    assert!(got.values().all(|n| *n == 1), "duplicates: {got:?}");
    assert!(!got.keys().any(|k| k.starts_with("gone")));
    // On the file engine in suppressed.csv; on PostgreSQL in `suppressions`.
    let suppressed = site.suppressed();
    for i in 0..5 {
        let key = format!("gone{i}@example.com");
        assert!(
            suppressed
                .iter()
                .any(|(e, why)| *e == key && why.contains("no such user")),
            "{suppressed:?}"
        );
    }
    if engine == Engine::Postgres {
        assert!(
            !site.path("subscribers/suppressed.csv").exists(),
            "a bounce on PostgreSQL wrote the file engine's suppression file"
        );
    }
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(s.stdout.contains("80 sent, 5 bounced"), "{s:?}");
    assert!(
        s.stdout
            .contains("bounced   gone0@example.com  attempts 1  550 "),
        "{s:?}"
    );
    // The next issue skips the bounced addresses.
    let r = site.run(&["send", "--date", "2026-12-15"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("80 delivered"), "{r:?}");
}

fn a_relay_that_refuses_everything_stops_early(engine: Engine, test: &str) {
    fn refuse(_: &str, _: u32) -> Option<Response> {
        Some(Response::custom(
            530,
            "5.7.0 authentication required".into(),
        ))
    }
    let server = SmtpServer::with_faults(Faults {
        rcpt: Some(refuse),
        ..Faults::default()
    });
    let Some(site) = smtp_bench(engine, test, server.port, 2) else {
        return;
    };
    let r = site.run(&["send"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("the SMTP relay refuses to take mail"),
        "{r:?}"
    );
    assert!(server.mails().is_empty());
    // Nobody was marked sent or bounced: they are all still to do.
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(s.stdout.contains("4 pending"), "{s:?}");
    let suppressed = site.suppressed();
    assert!(
        !suppressed
            .iter()
            .any(|(_, why)| why.contains("authentication")),
        "{suppressed:?}"
    );
}

fn connection_refused_stops_early_with_a_clear_error(engine: Engine, test: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Some(site) = smtp_bench(engine, test, port, 2) else {
        return;
    };
    site.config("max_attempts = 5", "max_attempts = 2");
    let r = site.run(&["send"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("cannot connect to `127.0.0.1:"), "{r:?}");
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(s.stdout.contains("4 pending"), "{s:?}");
}

#[test]
fn starttls_is_required_and_used_when_configured() {
    use crate::common::repo;
    use mailin_embedded::{Server, SslConfig};
    // mailin-embedded's rustls has both crypto providers enabled in test
    // builds; pick one for this process (tipsheet's own client picks ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A real STARTTLS server with a certificate from a throwaway test CA.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = repo().join("tests/fixtures/tls");
    let recorder = SmtpServer::recorder();
    let mails = recorder.mails_handle();
    let mut server = Server::new(recorder);
    server
        .with_name("localhost")
        .with_ssl(SslConfig::SelfSigned {
            cert_path: tls.join("server.pem").display().to_string(),
            key_path: tls.join("server.key").display().to_string(),
        })
        .unwrap()
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    let site = Site::new();
    site.use_smtp(port, 2);
    site.config("host = \"127.0.0.1\"", "host = \"localhost\"");
    site.config("tls = \"none\"", "tls = \"starttls\"");
    // Without trusting the test CA, the certificate is refused and nothing is sent.
    let r = site.run(&["send"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("STARTTLS with `localhost` failed"),
        "{r:?}"
    );
    assert!(mails.lock().unwrap().is_empty());
    std::fs::copy(tls.join("ca.pem"), site.path("ca.pem")).unwrap();
    site.config(
        "allow_plaintext = false",
        "allow_plaintext = false\nca_file = \"ca.pem\"",
    );
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(mails.lock().unwrap().len(), 4);
}

fn credentials_for_a_relay_without_auth_stop_the_run_early(engine: Engine, test: &str) {
    let server = SmtpServer::start(); // offers no AUTH
    let Some(site) = smtp_bench(engine, test, server.port, 2) else {
        return;
    };
    let r = crate::common::to_run(
        site.command(&["send"])
            .env("TIPSHEET_SMTP_USERNAME", "newsletter")
            .env("TIPSHEET_SMTP_PASSWORD", "hunter2")
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("authentication with `127.0.0.1` failed"),
        "{r:?}"
    );
    assert!(
        !r.stderr.contains("hunter2") && !r.stdout.contains("hunter2"),
        "{r:?}"
    );
    assert!(server.mails().is_empty());
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(s.stdout.contains("4 pending"), "{s:?}");
}

fn mixed_list() -> String {
    let mut list = String::from("email,name\n");
    for i in 0..12 {
        for kind in ["ok", "slow", "gone", "spam", "shut", "cut", "grey", "flaky"] {
            list.push_str(&format!("{kind}{i}@example.com,Reader {i}\n"));
        }
    }
    list
}

/// 451 on RCPT twice, 550 on RCPT, 554 to DATA itself, 554 after the dot,
/// the connection dropped at RCPT (mid-pipeline) and mid-DATA, 451 after the dot.
fn mixed_wire(pipelining: bool) -> Wire {
    fn rcpt(to: &str, attempt: u32) -> Option<Response> {
        if to.starts_with("gone") {
            return Some(Response::custom(550, "5.1.1 no such user".into()));
        }
        (to.starts_with("slow") && attempt <= 2)
            .then(|| Response::custom(451, "4.3.0 try again later".into()))
    }
    fn data_cmd(to: &str, _: u32) -> Option<Response> {
        to.starts_with("shut")
            .then(|| Response::custom(554, "5.7.1 transaction refused".into()))
    }
    fn data(to: &str, attempt: u32) -> Option<Response> {
        if to.starts_with("spam") {
            return Some(Response::custom(554, "5.7.1 message refused".into()));
        }
        (to.starts_with("grey") && attempt == 1)
            .then(|| Response::custom(451, "4.7.1 greylisted".into()))
    }
    fn cut(to: &str, attempt: u32) -> Option<Response> {
        (to.starts_with("cut") && attempt == 1).then(|| Response::custom(421, String::new()))
    }
    fn flaky(to: &str, attempt: u32) -> Option<Response> {
        (to.starts_with("flaky") && attempt == 1).then(|| Response::custom(421, String::new()))
    }
    Wire {
        rcpt: Some(rcpt),
        data_cmd: Some(data_cmd),
        data: Some(data),
        drop_at_rcpt: Some(cut),
        drop: Some(flaky),
        pipelining,
        ..Wire::default()
    }
}

/// What a send of the mixed list left: the ledger's outcome by key, who got
/// how many copies, and how many pipelined batches the server saw.
type Mixed = (
    std::collections::BTreeMap<String, String>,
    std::collections::HashMap<String, usize>,
    usize,
);

/// Sends the mixed list through `wire` on `engine`; `None` when the engine is
/// not configured.
fn send_mixed(wire: Wire, engine: Engine, test: &str) -> Option<Mixed> {
    let server = FaultServer::start(wire);
    let site = Site::new();
    site.use_smtp(server.port, 3);
    site.write("subscribers/subscribers.csv", &mixed_list());
    let site = Bench::on(engine, test, site)?;
    let r = site.run(&["send"]);
    // Only "no such user" bounces; the 5.7.1 refusals of the sender or the
    // message end `failed`, to be retried (exit 1).
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("60 delivered, 24 failed, 12 bounced"),
        "{r:?}"
    );
    Some((site.outcome(), server.received_by(), server.pipelined()))
}

fn pipelined_and_lock_step_sends_end_the_same_way_for_every_reply(engine: Engine, test: &str) {
    let Some((lock_step, got_lock_step, batches)) = send_mixed(mixed_wire(false), engine, test)
    else {
        return;
    };
    assert_eq!(
        batches, 0,
        "a server without PIPELINING got pipelined commands"
    );
    let (pipelined, got, batches) = send_mixed(mixed_wire(true), engine, test).unwrap();
    assert!(batches > 50, "PIPELINING was not used: {batches}");
    assert_eq!(pipelined, lock_step);
    assert_eq!(got, got_lock_step);
    assert_eq!(got.len(), 60, "{got:?}");
    assert!(got.values().all(|n| *n == 1), "duplicates: {got:?}");
    for kind in ["gone", "spam", "shut"] {
        assert!(!got.keys().any(|k| k.starts_with(kind)), "{got:?}");
    }
    assert_eq!(pipelined["gone3@example.com"], "bounced 550");
    assert_eq!(pipelined["spam3@example.com"], "failed 554");
    assert_eq!(pipelined["shut3@example.com"], "failed 554");
    assert_eq!(pipelined["slow3@example.com"], "sent 250");
    assert_eq!(pipelined["cut3@example.com"], "sent 250");
}

/// The wire, not the store: on the file engine only (the pipelined test
/// above shows both engines record the same outcomes).
#[test]
fn a_server_that_advertises_pipelining_and_answers_out_of_step_gets_one_copy_each() {
    let (lock_step, _, _) = send_mixed(mixed_wire(false), Engine::File, "").unwrap();
    // One loses whatever follows the command it answers; one opens DATA
    // after refusing every recipient (the client must send no body).
    for broken in [
        Wire {
            discard_pipelined: true,
            ..mixed_wire(true)
        },
        Wire {
            open_data_anyway: true,
            ..mixed_wire(true)
        },
    ] {
        let server = FaultServer::start(broken);
        let site = Site::new();
        site.use_smtp(server.port, 3);
        site.config("timeout_seconds = 5", "timeout_seconds = 1");
        site.write("subscribers/subscribers.csv", &mixed_list());
        let site = Bench::file(site);
        let r = site.run(&["send"]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stdout.contains("60 delivered, 24 failed, 12 bounced"),
            "{r:?}"
        );
        assert_eq!(site.outcome(), lock_step);
        let got = server.received_by();
        assert_eq!(got.len(), 60, "{got:?}");
        assert!(got.values().all(|n| *n == 1), "duplicates: {got:?}");
        assert_eq!(server.orphan_bodies(), 0, "a body went into a refused DATA");
        assert!(server.pipelined() > 0, "the client never tried pipelining");
        assert!(
            server.mails().iter().all(|m| !m.data.is_empty()),
            "an empty message went out"
        );
    }
}

#[test]
fn implicit_tls_uses_its_own_connection_and_the_configured_ca() {
    use crate::smtp_server::test_tls_config;
    let server = FaultServer::start(Wire {
        tls: Some(test_tls_config()),
        pipelining: true,
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 2);
    site.config("host = \"127.0.0.1\"", "host = \"localhost\"");
    site.config("tls = \"none\"", "tls = \"tls\"");
    // Without trusting the test CA, the certificate is refused and nothing is sent.
    let r = site.run(&["send"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("TLS with `localhost` failed"), "{r:?}");
    assert_eq!(server.count(), 0);
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(s.stdout.contains("4 pending"), "{s:?}");
    std::fs::copy(
        crate::common::repo().join("tests/fixtures/tls/ca.pem"),
        site.path("ca.pem"),
    )
    .unwrap();
    site.config(
        "allow_plaintext = false",
        "allow_plaintext = false\nca_file = \"ca.pem\"",
    );
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let got = server.received_by();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got.values().all(|n| *n == 1), "{got:?}");
    assert!(server.pipelined() > 0, "pipelined inside TLS too");
}

fn a_retry_is_in_the_ledger_while_it_waits(engine: Engine, test: &str) {
    use std::time::{Duration, Instant};
    fn once(to: &str, attempt: u32) -> Option<Response> {
        (to.starts_with("ana") && attempt == 1)
            .then(|| Response::custom(451, "4.3.0 try again later".into()))
    }
    let server = FaultServer::start(Wire {
        rcpt: Some(once),
        pipelining: true,
        ..Wire::default()
    });
    let Some(site) = smtp_bench(engine, test, server.port, 2) else {
        return;
    };
    // About 3 s (±25%) before the second attempt: long enough to look.
    site.config("retry_base_ms = 20", "retry_base_ms = 3000");
    let mut child = site
        .command(&["send"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let row = loop {
        assert!(child.try_wait().unwrap().is_none(), "the send ended first");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no retrying row"
        );
        if let Some(row) = site
            .recipients(SLOT, &[RecipientStatus::Retrying])
            .into_iter()
            .next()
        {
            break row;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(row.key, "ana@example.com");
    assert_eq!(row.attempts, 1);
    assert_eq!(row.last_code, Some(451));
    assert!(
        row.last_reply
            .as_deref()
            .unwrap_or("")
            .contains("try again later"),
        "{:?}",
        row.last_reply
    );
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(s.stdout.contains("1 retrying"), "{s:?}");
    assert_eq!(server.received_by().get("ana@example.com"), None);
    let r = to_run(child.wait_with_output().unwrap());
    assert_eq!(r.code, 0, "{r:?}");
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(s.stdout.contains("4 sent"), "{s:?}");
    let ana = site
        .recipients(SLOT, &[RecipientStatus::Sent])
        .into_iter()
        .find(|r| r.key == "ana@example.com")
        .unwrap();
    assert_eq!(ana.attempts, 2);
    assert_eq!(server.received_by().get("ana@example.com"), Some(&1));
}

const BLOCKLISTED: &str =
    "5.7.1 Service unavailable; client host [203.0.113.5] blocked using zen.spamhaus.org";

/// Refuses RCPT by the local part: a user unknown, a blocklisting, a full
/// mailbox and a DMARC failure, each given with a 5xx.
fn refuse_by_kind(to: &str, _: u32) -> Option<Response> {
    let (code, text) = match to.split('@').next()? {
        "unknown" => (550, "5.1.1 user unknown"),
        "spamhaus" => (554, BLOCKLISTED),
        "full" => (552, "5.2.2 mailbox full"),
        "dmarc" => (550, "5.7.26 DMARC policy"),
        _ => return None,
    };
    Some(Response::custom(code, text.into()))
}

fn only_a_refusal_of_the_address_bounces_and_suppresses(engine: Engine, test: &str) {
    let server = FaultServer::start(Wire {
        rcpt: Some(refuse_by_kind),
        pipelining: true,
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 2);
    site.write(
        "subscribers/subscribers.csv",
        "email,name\nok@example.com,Ok\nunknown@example.com,Unknown\nspamhaus@example.com,Listed\nfull@example.com,Full\ndmarc@example.com,Dmarc\n",
    );
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let r = site.run(&["send"]);
    assert_eq!(r.code, 1, "failed recipients are to be retried: {r:?}");
    assert!(
        r.stdout.contains("1 delivered, 3 failed, 1 bounced"),
        "{r:?}"
    );
    let outcome = site.outcome();
    assert_eq!(outcome["ok@example.com"], "sent 250");
    assert_eq!(outcome["unknown@example.com"], "bounced 550");
    assert_eq!(outcome["spamhaus@example.com"], "failed 554");
    assert_eq!(outcome["full@example.com"], "failed 552");
    assert_eq!(outcome["dmarc@example.com"], "failed 550");
    let suppressed: Vec<String> = site.suppressed().into_iter().map(|(e, _)| e).collect();
    assert!(
        suppressed.contains(&"unknown@example.com".to_string()),
        "{suppressed:?}"
    );
    for kept in ["spamhaus", "full", "dmarc"] {
        let key = format!("{kept}@example.com");
        assert!(
            !suppressed.contains(&key),
            "{key} suppressed: {suppressed:?}"
        );
    }
    // The stored replies give each failure its reason again.
    let rows = site.recipients(SLOT, &RecipientStatus::ALL);
    let reasons: Vec<(String, String, u64)> = failures_by_reason(&rows)
        .into_iter()
        .map(|f| (f.reason.as_str().into(), f.provider, f.count))
        .collect();
    let line = |r: &str| (r.to_string(), "example.com".to_string(), 1);
    assert_eq!(
        reasons,
        [
            line("user_unknown"),
            line("mailbox_full"),
            line("blocked"),
            line("auth_failure")
        ]
    );
    // Once the provider takes mail again, the next run delivers the failed
    // ones (and nobody twice); the unknown address stays suppressed.
    server.heal();
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("3 delivered, 0 failed"), "{r:?}");
    let got = server.received_by();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got.values().all(|n| *n == 1), "duplicates: {got:?}");
    assert!(!got.contains_key("unknown@example.com"), "{got:?}");
}

/// Refuses every reader at `blocked.example` with a blocklisting.
fn refuse_blocked_example(to: &str, _: u32) -> Option<Response> {
    to.ends_with("@blocked.example")
        .then(|| Response::custom(554, BLOCKLISTED.into()))
}

fn a_provider_refusing_the_sender_is_paused_and_its_readers_wait_for_the_next_run(
    engine: Engine,
    test: &str,
) {
    let server = FaultServer::start(Wire {
        rcpt: Some(refuse_blocked_example),
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 2);
    // The readers of both domains interleave by key: the other domain's
    // deliveries do not end blocked.example's streak.
    let mut list = String::from("email,name\n");
    for i in 0..30 {
        list.push_str(&format!("r{i:02}@blocked.example,Reader {i}\n"));
    }
    for i in 0..15 {
        list.push_str(&format!("r{i:02}@fine.example,Fine {i}\n"));
    }
    site.write("subscribers/subscribers.csv", &list);
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let r = site.run(&["send"]);
    assert_eq!(
        r.code, 1,
        "a paused provider leaves readers undelivered: {r:?}"
    );
    assert!(
        r.stderr
            .contains("PAUSED: `blocked.example` refused 20 messages in a row"),
        "{r:?}"
    );
    assert!(r.stderr.contains("zen.spamhaus.org"), "{r:?}");
    let outcome = site.outcome();
    let of = |domain: &str, status: &str| {
        outcome
            .iter()
            .filter(|(k, v)| k.ends_with(domain) && v.starts_with(status))
            .count()
    };
    assert_eq!(of("@fine.example", "sent"), 15, "{outcome:?}");
    let failed = of("@blocked.example", "failed");
    let pending = of("@blocked.example", "pending");
    // When the pause came, each connection had at most one message on its
    // way and one refusal not yet counted: 20 + 2 × 2 - 1 at most.
    assert!((20..=23).contains(&failed), "{failed} failed: {outcome:?}");
    assert_eq!(failed + pending, 30, "{outcome:?}");
    assert!(
        r.stderr.contains(&format!(
            "left its {pending} remaining recipient(s) pending"
        )),
        "{r:?}"
    );
    assert!(
        server
            .received_by()
            .keys()
            .all(|k| k.ends_with("@fine.example"))
    );
    // The blocklisting is lifted: the next run delivers the failed and the
    // pending ones, nobody twice, nobody suppressed.
    server.heal();
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("30 delivered, 0 failed, 0 bounced"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("PAUSED"), "{r:?}");
    let got = server.received_by();
    assert_eq!(got.len(), 45, "{got:?}");
    assert!(got.values().all(|n| *n == 1), "duplicates: {got:?}");
    let suppressed = site.suppressed();
    assert!(
        !suppressed.iter().any(|(e, _)| e.ends_with(".example")),
        "{suppressed:?}"
    );
}

fn refusals_from_every_domain_pause_the_relay(engine: Engine, test: &str) {
    fn refuse_all(_: &str, _: u32) -> Option<Response> {
        Some(Response::custom(554, BLOCKLISTED.into()))
    }
    let server = FaultServer::start(Wire {
        rcpt: Some(refuse_all),
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 1);
    site.config("provider_pause_after = 20", "provider_pause_after = 5");
    let mut list = String::from("email,name\n");
    for i in 0..20 {
        list.push_str(&format!("reader@d{i:02}.example,Reader {i}\n"));
    }
    site.write("subscribers/subscribers.csv", &list);
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let r = site.run(&["send"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("PAUSED: the relay refused"), "{r:?}");
    let outcome = site.outcome();
    let failed = outcome.values().filter(|v| v.starts_with("failed")).count();
    let pending = outcome
        .values()
        .filter(|v| v.starts_with("pending"))
        .count();
    assert!((5..=6).contains(&failed), "{outcome:?}");
    assert_eq!(failed + pending, 20, "{outcome:?}");
    assert!(
        site.suppressed()
            .iter()
            .all(|(e, _)| !e.ends_with(".example"))
    );
}

/// Refuses `blocked.example` with a blocklisting and `unknown@example.com`
/// as a user unknown.
fn refuse_blocked_and_unknown(to: &str, attempt: u32) -> Option<Response> {
    if to == "unknown@example.com" {
        return Some(Response::custom(550, "5.1.1 user unknown".into()));
    }
    refuse_blocked_example(to, attempt)
}

fn status_shows_refusals_by_reason_and_provider_and_warns_of_a_sender_problem(
    engine: Engine,
    test: &str,
) {
    let server = FaultServer::start(Wire {
        rcpt: Some(refuse_blocked_and_unknown),
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 2);
    let mut list = String::from("email,name\nunknown@example.com,Unknown\n");
    for i in 0..30 {
        list.push_str(&format!("r{i:02}@blocked.example,Reader {i}\n"));
    }
    for i in 0..5 {
        list.push_str(&format!("r{i:02}@example.com,Fine {i}\n"));
    }
    site.write("subscribers/subscribers.csv", &list);
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let r = site.run(&["send"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("PAUSED: `blocked.example`"), "{r:?}");
    let outcome = site.outcome();
    assert_eq!(outcome["unknown@example.com"], "bounced 550");
    let failed = outcome
        .iter()
        .filter(|(k, v)| k.ends_with("@blocked.example") && v.starts_with("failed"))
        .count() as u64;
    let pending = outcome
        .values()
        .filter(|v| v.starts_with("pending"))
        .count();
    assert!((20..=23).contains(&failed), "{outcome:?}");
    assert!(pending > 0, "{outcome:?}");

    let s = site.run(&["status", "--date", SLOT, "--json"]);
    assert_eq!(s.code, 0, "{s:?}");
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(
        v[0]["failures"],
        serde_json::json!([
            {"reason": "blocked", "scope": "sender", "provider": "blocked.example", "count": failed},
            {"reason": "user_unknown", "scope": "address", "provider": "example.com", "count": 1},
        ]),
        "{v}"
    );
    let warnings = v[0]["failure_warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{v}");
    assert!(
        warnings[0].as_str().unwrap().starts_with(&format!(
            "`blocked.example` ({failed} of {failed} failures; {pending} recipient(s) of this issue still pending) refused for sender-level reasons"
        )),
        "{v}"
    );

    let s = site.run(&["status"]);
    assert!(
        s.stdout.contains(&format!(
            "\n  failures: blocked (sender) at blocked.example {failed}, user_unknown (address) at example.com 1\n"
        )),
        "{s:?}"
    );
    assert!(
        s.stdout.contains(
            "refused for sender-level reasons: fix the sending side (blocklist, SPF/DKIM/DMARC, PTR) before the next run; nobody was suppressed"
        ),
        "{s:?}"
    );
    // The next run delivers the failed and pending readers: the sender-level
    // failures and the warning go, the address-level refusal stays.
    server.heal();
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let s = site.run(&["status"]);
    assert!(
        s.stdout
            .contains("\n  failures: user_unknown (address) at example.com 1"),
        "{s:?}"
    );
    assert!(!s.stdout.contains("sender-level"), "{s:?}");
}
