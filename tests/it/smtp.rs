//! `tipsheet send` over SMTP to a real server in this process.

use crate::common::{Site, parse};
use crate::send::check_message;
use crate::smtp_server::{FaultServer, Faults, RecorderMails, SmtpServer, Wire};
use mailin_embedded::response::Response;

#[test]
fn each_active_subscriber_receives_exactly_one_message() {
    let server = SmtpServer::start();
    let site = Site::new();
    site.use_smtp(server.port, 2);
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

#[test]
fn test_copy_goes_to_one_address_with_a_test_subject_and_is_not_recorded() {
    let server = SmtpServer::start();
    let site = Site::new();
    site.use_smtp(server.port, 1);
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
    assert!(!site.path("state/tipsheet.sqlite3").exists());
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

#[test]
fn transient_failures_are_retried_and_permanent_ones_bounce_and_suppress() {
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
    let suppressed = site.read("subscribers/suppressed.csv");
    for i in 0..5 {
        assert!(
            suppressed.contains(&format!("gone{i}@example.com,")),
            "{suppressed}"
        );
    }
    assert!(suppressed.contains("no such user"), "{suppressed}");
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

#[test]
fn a_relay_that_refuses_everything_stops_early() {
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
    let site = Site::new();
    site.use_smtp(server.port, 2);
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
    assert!(
        !site
            .read("subscribers/suppressed.csv")
            .contains("authentication")
    );
}

#[test]
fn connection_refused_stops_early_with_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = Site::new();
    site.use_smtp(port, 2);
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

#[test]
fn credentials_for_a_relay_without_auth_stop_the_run_early() {
    let server = SmtpServer::start(); // offers no AUTH
    let site = Site::new();
    site.use_smtp(server.port, 2);
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
