//! Promises of SECURITY.md not tested elsewhere: the TLS policy fails closed,
//! and secrets never reach output, files or the ledger.

use crate::common::{Site, to_run};
use crate::smtp_server::{FaultServer, Wire};

const CANARIES: &[(&str, &str)] = &[
    ("TIPSHEET_SECRET", "canary-unsubscribe-secret-4f1d-9b2e7c"),
    ("TIPSHEET_SMTP_USERNAME", "canary-user-77a2"),
    ("TIPSHEET_SMTP_PASSWORD", "canary-password-9c3e"),
    ("TIPSHEET_ADMIN_TOKEN", "canary-admin-token-e81b"),
];

/// Every file under `dir`, as bytes.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p, bytes));
            }
        }
    }
    out
}

#[test]
fn starttls_is_required_never_opportunistic() {
    // This server does not offer STARTTLS.
    let server = FaultServer::start(Wire::default());
    let site = Site::new();
    site.use_smtp(server.port, 2);
    site.config("tls = \"none\"", "tls = \"starttls\"");
    let r = site.run(&["send"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("does not offer STARTTLS, and `smtp.tls = \"starttls\"` requires it"),
        "{r:?}"
    );
    assert_eq!(server.count(), 0, "nothing went out in clear text");
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(s.stdout.contains("4 pending"), "{s:?}");
}

#[test]
fn implicit_tls_to_a_plain_text_server_sends_nothing() {
    let server = FaultServer::start(Wire::default());
    let site = Site::new();
    site.use_smtp(server.port, 2);
    site.config("tls = \"none\"", "tls = \"tls\"");
    site.config("max_attempts = 5", "max_attempts = 2");
    let r = site.run(&["send"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.stderr.contains("panicked"), "{r:?}");
    assert_eq!(server.count(), 0);
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(!s.stdout.contains(" sent"), "{s:?}");
}

#[test]
fn secrets_never_reach_output_files_or_the_ledger() {
    // A relay without AUTH: the credentials are offered, and refused.
    let server = FaultServer::start(Wire::default());
    for transport in ["outbox", "smtp"] {
        let site = Site::new();
        if transport == "smtp" {
            site.use_smtp(server.port, 2);
        }
        let mut outputs = Vec::new();
        for args in [
            &["check"][..],
            &["preview"],
            &["send", "--dry-run"],
            &["send", "--to", "editor@example.com"],
            &["send"],
            &["status", "--date", "2026-12-01", "--json"],
            &["schedule"],
        ] {
            let mut c = site.command(args);
            for (name, value) in CANARIES {
                c.env(name, value);
            }
            let r = to_run(c.output().unwrap());
            assert!(!r.stderr.contains("panicked"), "{args:?}: {r:?}");
            outputs.push((format!("{args:?}"), format!("{}{}", r.stdout, r.stderr)));
        }
        for (path, bytes) in files(&site.path("state")) {
            outputs.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
        for mail in server.mails() {
            outputs.push(("a mail".into(), String::from_utf8_lossy(&mail.data).into()));
        }
        for (what, text) in &outputs {
            for (name, value) in CANARIES {
                assert!(
                    !text.contains(value),
                    "{transport}: the value of `{name}` appears in {what}"
                );
            }
        }
        if transport == "smtp" {
            // Refused: the run stops early as a relay error, and nobody is
            // marked (all still pending), without the credentials anywhere.
            let send = &outputs[4].1;
            assert!(
                send.contains(
                    "the SMTP relay refuses to take mail: authentication with `127.0.0.1` failed"
                ),
                "{send}"
            );
            let status = &outputs[5].1;
            assert!(status.contains("\"pending\":4"), "{status}");
        }
    }
}

#[test]
fn every_page_carries_the_security_headers() {
    use std::io::{BufRead, BufReader};
    let site = Site::new();
    let mut child = site
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .map(str::to_string);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(std::time::Duration::from_secs(20)))
        .build()
        .into();
    // Stopped however the test ends.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _serve = Killed(child);
    {
        let base = base.expect("serve started");
        for (path, status, cache) in [
            ("/", 200, "no-store"),
            ("/subscribe", 200, "no-store"),
            ("/unsubscribe", 200, "no-store"),
            ("/unsubscribe?e=ana%40example.com&t=00", 400, "no-store"),
            ("/confirm?e=a&x=1&t=00", 400, "no-store"),
            ("/healthz", 200, "no-store"),
            ("/nowhere", 404, "no-store"),
            ("/issues/", 200, "public, max-age=300"),
        ] {
            let r = agent.get(&format!("{base}{path}")).call().unwrap();
            assert_eq!(r.status().as_u16(), status, "{path}");
            let h = |name: &str| {
                r.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let csp = h("content-security-policy");
            for directive in [
                "default-src 'none'",
                "frame-ancestors 'none'",
                "form-action 'self'",
            ] {
                assert!(csp.contains(directive), "{path}: {csp}");
            }
            assert!(!csp.contains("script-src"), "{path}: {csp}");
            assert_eq!(h("x-frame-options"), "DENY", "{path}");
            assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
            assert!(!h("referrer-policy").is_empty(), "{path}");
            assert_eq!(h("cache-control"), cache, "{path}");
        }
    }
}

/// Half-open clients (headers begun, never finished) neither keep the server
/// from answering others nor stay connected past `server.header_timeout_seconds`.
#[test]
fn half_open_connections_neither_hold_the_server_nor_stay_open() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let site = Site::new();
    site.config(
        "admin_token_env = \"TIPSHEET_ADMIN_TOKEN\"",
        "admin_token_env = \"TIPSHEET_ADMIN_TOKEN\"\nheader_timeout_seconds = 2",
    );
    let serve = crate::server::Serve::start(&site);
    let base = serve.url("");
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut held = Vec::new();
    for _ in 0..500 {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        held.push(s);
    }
    let started = Instant::now();
    let r = crate::server::get(&serve.url("/healthz"));
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered after {:?} with 500 half-open connections",
        started.elapsed()
    );
    // After the header timeout the server has closed every one of them.
    std::thread::sleep(Duration::from_millis(3500));
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(0) => {}
            // hyper may answer 408 before closing; then the close follows.
            Ok(_) => assert!(matches!(s.read(&mut buf), Ok(0) | Err(_))),
            Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "still open"),
        }
    }
}
