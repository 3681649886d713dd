//! `tipsheet hold` and `release`: a held issue is sent by no command (exit 6,
//! nothing on the wire), a release lets it go, and a hold set from another
//! process while a send runs stops it (exit 4) with what was in flight
//! recorded, so that the rerun after `release` mails nobody twice and
//! nobody is lost. On both store engines.

use std::time::{Duration, Instant};

use crate::common::{Site, list, to_run};
use crate::engine::{Bench, Engine, SLOT, on_both_engines};
use crate::smtp_server::{FaultServer, Wire};

on_both_engines!(
    a_held_issue_is_sent_by_no_command_until_released,
    a_hold_during_a_send_stops_it_and_the_rerun_mails_nobody_twice,
);

fn a_held_issue_is_sent_by_no_command_until_released(engine: Engine, test: &str) {
    let server = FaultServer::start(Wire::default());
    let site = Site::new();
    site.use_smtp(server.port, 2);
    site.write("subscribers/subscribers.csv", &list("r", 8));
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let h = site.run(&["hold", "--reason", "legal review"]);
    assert_eq!(h.code, 0, "{h:?}");
    assert!(
        h.stdout.contains(&format!("issue of {SLOT} is on hold")),
        "{h:?}"
    );

    let s = site.run(&["status", "--json"]);
    assert_eq!(s.code, 0, "{s:?}");
    let rows: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["slot"] == SLOT)
        .unwrap_or_else(|| panic!("{s:?}"));
    assert_eq!(row["hold"]["reason"], "legal review", "{s:?}");
    assert!(
        row["hold"]["at"].as_str().is_some_and(|a| a.len() >= 20),
        "{s:?}"
    );
    let t = site.run(&["status", "--date", SLOT]);
    assert!(t.stdout.contains("ON HOLD since"), "{t:?}");
    assert!(t.stdout.contains("legal review"), "{t:?}");

    for args in [
        &["send"][..],
        &["send", "--if-due", "--now", "2026-12-01T14:05:00Z"],
    ] {
        let r = site.run(args);
        assert_eq!(r.code, 6, "{args:?}: {r:?}");
        assert!(r.stderr.contains("on hold: nothing was sent"), "{r:?}");
        assert!(r.stderr.contains("legal review"), "{r:?}");
    }
    assert_eq!(server.count(), 0);

    let r = site.run(&["release"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("released"), "{r:?}");
    let s = site.run(&["status", "--date", SLOT]);
    assert!(!s.stdout.contains("ON HOLD"), "{s:?}");
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let got = server.received_by();
    assert_eq!(got.len(), 8, "{got:?}");
    assert!(got.values().all(|n| *n == 1), "{got:?}");
}

fn a_hold_during_a_send_stops_it_and_the_rerun_mails_nobody_twice(engine: Engine, test: &str) {
    const READERS: usize = 120;
    let server = FaultServer::start(Wire {
        delay_ms: 150,
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 2);
    site.write("subscribers/subscribers.csv", &list("r", READERS));
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let send = site
        .command(&["send"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.count() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the send never began"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // From another process, as another host would.
    let h = site.run(&["hold", "--date", SLOT, "--reason", "wrong price"]);
    assert_eq!(h.code, 0, "{h:?}");
    let held_at = server.count();
    let r = to_run(send.wait_with_output().unwrap());
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("on hold"), "{r:?}");
    let stopped_at = server.count();
    // It stopped within a few seconds: far short of the whole list.
    assert!(stopped_at < READERS, "{held_at} then {stopped_at}: {r:?}");
    // Every message that left is recorded sent.
    let s = site.run(&["status", "--date", SLOT]);
    assert!(s.stdout.contains(&format!("{stopped_at} sent")), "{s:?}");

    // Held, a rerun sends nothing.
    let again = site.run(&["send"]);
    assert_eq!(again.code, 6, "{again:?}");
    assert_eq!(server.count(), stopped_at);

    let r = site.run(&["release", "--date", SLOT]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let got = server.received_by();
    assert_eq!(got.len(), READERS, "nobody lost: {got:?}");
    assert!(got.values().all(|n| *n == 1), "nobody twice: {got:?}");
}

#[test]
fn run_sends_no_held_issue_and_keeps_running() {
    let site = Site::new();
    let h = site.run(&["hold", "--date", SLOT]);
    assert_eq!(h.code, 0, "{h:?}");
    let (mut child, log, _lines) =
        site.spawn_until(&["run", "--now", "2026-12-01T13:59:57Z"], "on hold");
    assert!(
        log.iter().any(|l| l.contains("on hold: nothing was sent")),
        "{log:?}"
    );
    assert!(!site.path("state/outbox").exists() || site.emls("state/outbox").is_empty());
    // Still up: a release within grace lets a later try send it.
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "{log:?}");
    assert_eq!(crate::common::terminate(child), Some(0));
    assert!(!site.path("state/outbox").exists() || site.emls("state/outbox").is_empty());
}

/// On the shared store a hold set on one host stops the sends of the others:
/// each stops taking recipients (exit 4, or 6 if it had not begun), and after
/// a release from that host a rerun on it mails everyone left, nobody twice.
#[test]
fn a_hold_from_another_host_stops_every_host_and_nobody_is_mailed_twice() {
    let Some(db) = crate::pg::fresh("hold::from_another_host") else {
        return;
    };
    const READERS: usize = 300;
    let server = FaultServer::start(Wire {
        delay_ms: 100,
        ..Wire::default()
    });
    let sites = crate::hosts::hosts(&db, 3, READERS, server.port, 2);
    let a = crate::hosts::spawn(&sites[0], &["send"]);
    let started = Instant::now();
    while server.count() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "host A never began"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let b = crate::hosts::spawn(&sites[1], &["send"]);
    let before_b = server.count();
    while server.count() < before_b + 4 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Host C, which sends nothing itself, holds the issue.
    let h = sites[2].run(&["hold", "--date", SLOT, "--reason", "from host C"]);
    assert_eq!(h.code, 0, "{h:?}");
    let (ra, rb) = (crate::hosts::wait(a), crate::hosts::wait(b));
    assert_eq!(ra.code, 4, "{ra:?}");
    assert!(matches!(rb.code, 4 | 6), "{rb:?}");
    assert!(ra.stderr.contains("on hold"), "{ra:?}");
    let stopped_at = server.count();
    assert!(
        stopped_at < READERS,
        "the hold stopped nothing: {stopped_at}"
    );
    // Every host sees the hold.
    for site in &sites {
        let r = site.run(&["send"]);
        assert_eq!(r.code, 6, "{r:?}");
        assert!(r.stderr.contains("from host C"), "{r:?}");
    }
    assert_eq!(server.count(), stopped_at);

    let r = sites[2].run(&["release", "--date", SLOT]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = sites[2].run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let got = server.received_by();
    assert_eq!(got.len(), READERS, "nobody lost: {}", got.len());
    assert!(got.values().all(|n| *n == 1), "nobody twice");
}
