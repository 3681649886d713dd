//! Exactly once as close as SMTP allows: a killed send resumes without losing
//! anyone, a stopped one without duplicating anyone (both on both store
//! engines: `NAME::file` and `NAME::postgres`); the rate limit holds.

use std::time::{Duration, Instant};

use crate::common::{Site, list, to_run};
use crate::engine::{Bench, Engine, on_both_engines};
use crate::smtp_server::{FaultServer, Wire};

on_both_engines!(
    a_killed_send_resumes_without_losing_anyone,
    sigterm_finishes_in_flight_messages_and_a_rerun_resumes_exactly_once,
);

/// How long a PostgreSQL claim outlives a killed sender here (the least allowed).
const LEASE_SECONDS: u64 = 5;

fn a_killed_send_resumes_without_losing_anyone(engine: Engine, test: &str) {
    let server = FaultServer::start(Wire {
        delay_ms: 8,
        ..Wire::default()
    });
    let site = Site::new();
    let concurrency = 4;
    site.use_smtp(server.port, concurrency);
    site.config(
        "lease_seconds = 60",
        &format!("lease_seconds = {LEASE_SECONDS}"),
    );
    site.write("subscribers/subscribers.csv", &list("reader", 300));
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let mut child = site
        .command(&["send"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.mails().len() < 60 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "send never got going"
        );
        assert!(child.try_wait().unwrap().is_none(), "the send ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let before = server.mails().len();
    assert!(before < 300, "the send finished before the kill");
    if engine == Engine::Postgres {
        // The dead sender's claims hold until its lease runs out.
        std::thread::sleep(Duration::from_millis(LEASE_SECONDS * 1000 + 500));
    }
    // A killed run leaves recipients in flight; status calls them uncertain.
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert_eq!(s.code, 0, "{s:?}");
    let uncertain = s
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("uncertain"))
        .count();
    assert!(uncertain >= 1 && uncertain <= 2 * concurrency, "{s:?}");
    // Resume, leaving the uncertain ones alone.
    let r = site.run(&["send", "--no-resend-uncertain"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("were in flight when an earlier run stopped"),
        "{r:?}"
    );
    assert!(r.stdout.contains("left uncertain"), "{r:?}");
    // Then send them too (at least once).
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let got = server.received_by();
    assert_eq!(got.len(), 300, "every recipient got at least one copy");
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    assert!(duplicates <= concurrency, "{duplicates} duplicates");
    let s = site.run(&["status", "--date", "2026-12-01"]);
    assert!(s.stdout.contains("300 sent"), "{s:?}");
}

#[test]
fn the_rate_limit_holds() {
    let server = FaultServer::start(Wire::default());
    let site = Site::new();
    site.use_smtp(server.port, 4);
    site.config("rate_per_second = 0", "rate_per_second = 20");
    site.write("subscribers/subscribers.csv", &list("reader", 30));
    let r = to_run(site.command(&["send"]).output().unwrap());
    assert_eq!(r.code, 0, "{r:?}");
    let mut at: Vec<Instant> = server.mails().iter().map(|m| m.at).collect();
    at.sort();
    assert_eq!(at.len(), 30);
    let span = at[29] - at[0];
    // 29 gaps at 20/s is 1.45 s; allow generous slack either way.
    assert!(span >= Duration::from_millis(1100), "{span:?}");
    assert!(span <= Duration::from_secs(10), "{span:?}");
}

fn sigterm_finishes_in_flight_messages_and_a_rerun_resumes_exactly_once(
    engine: Engine,
    test: &str,
) {
    let server = FaultServer::start(Wire {
        delay_ms: 15,
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 2);
    site.write("subscribers/subscribers.csv", &list("reader", 200));
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let child = site
        .command(&["send"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.mails().len() < 20 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "send never got going"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let r = to_run(child.wait_with_output().unwrap());
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains(
            "interrupted: in-flight messages finished and were recorded; rerun to resume"
        ),
        "{r:?}"
    );
    let delivered = server.mails().len();
    assert!(delivered < 200, "finished before the signal");
    // Everything handed to the server was recorded: nothing is uncertain.
    let s = site.run(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    let counts = &v[0]["counts"];
    assert_eq!(counts["sent"].as_u64(), Some(delivered as u64), "{s:?}");
    assert!(
        counts.get("uncertain").is_none() && counts.get("in_flight").is_none(),
        "{s:?}"
    );
    if let Some(db) = &site.db {
        // A clean stop gives back every claim, the page claimed ahead too:
        // no other host (nor this one's next run) waits for a lease.
        assert_eq!(
            db.count("SELECT COUNT(*) FROM recipients WHERE claimed_by IS NOT NULL"),
            0
        );
    }
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let got = server.received_by();
    assert_eq!(got.len(), 200);
    assert!(
        got.values().all(|n| *n == 1),
        "a graceful stop must not duplicate anyone"
    );
}
