//! Every other Tuesday, on time, exactly once: `schedule`, `send --if-due`, `run`.

use std::time::Duration;

use crate::common::Site;

#[test]
fn schedule_lists_slots_across_dst() {
    let site = Site::new();
    let r = site.run(&[
        "schedule",
        "--count",
        "4",
        "--now",
        "2027-02-20T00:00:00Z",
        "--past",
        "2",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "schedule: `0 9 * * TUE` in America/New_York, every 2 week(s) from 2026-12-01, grace 6h (cron crate form `0 0 9 * * TUE`)",
            "#5    2027-01-26  Tue 09:00 EST  2027-01-26 14:00 UTC  missed",
            "#6    2027-02-09  Tue 09:00 EST  2027-02-09 14:00 UTC  missed",
            "#7    2027-02-23  Tue 09:00 EST  2027-02-23 14:00 UTC  upcoming",
            "#8    2027-03-09  Tue 09:00 EST  2027-03-09 14:00 UTC  upcoming",
            "#9    2027-03-23  Tue 09:00 EDT  2027-03-23 13:00 UTC  upcoming",
            "#10   2027-04-06  Tue 09:00 EDT  2027-04-06 13:00 UTC  upcoming",
        ]
    );
    let j = site.run(&["schedule", "--json", "--count", "1", "--past", "0"]);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v[0]["utc"], "2026-12-01T14:00:00Z");
    assert_eq!(v[0]["status"], "upcoming");
}

#[test]
fn send_if_due_sends_only_in_its_window_and_only_once() {
    let site = Site::new();
    let at = |now: &str| {
        let r = site.run(&["send", "--if-due", "--now", now]);
        assert_eq!(r.code, 0, "{now}: {r:?}");
        (r.stdout, site.emls("state/outbox").len())
    };
    // One minute early: nothing, quietly.
    assert_eq!(at("2026-12-01T13:59:00Z"), (String::new(), 0));
    // At the slot: sends.
    let (out, n) = at("2026-12-01T14:00:00Z");
    assert_eq!(n, 4, "{out}");
    assert!(
        out.starts_with("issue #1 (2026-12-01): 4 delivered"),
        "{out}"
    );
    // Ten minutes later: nothing more, quietly.
    assert_eq!(at("2026-12-01T14:10:00Z"), (String::new(), 4));
    // One week later is an off week: nothing.
    assert_eq!(at("2026-12-08T14:00:00Z"), (String::new(), 4));
    // Issue #2's slot + grace + 1 minute, never sent: nothing, and it shows as missed.
    assert_eq!(at("2026-12-15T20:01:00Z"), (String::new(), 4));
    let s = site.run(&["status", "--now", "2026-12-15T20:01:00Z"]);
    assert!(s.stdout.contains("#2    2026-12-15  missed"), "{s:?}");
    let s = site.run(&["schedule", "--now", "2026-12-15T20:01:00Z"]);
    assert!(
        s.stdout
            .contains("#1    2026-12-01  Tue 09:00 EST  2026-12-01 14:00 UTC  sent"),
        "{s:?}"
    );
    assert!(
        s.stdout
            .contains("#2    2026-12-15  Tue 09:00 EST  2026-12-15 14:00 UTC  missed"),
        "{s:?}"
    );
    // Sending a missed slot on purpose still works.
    let r = site.run(&["send", "--date", "2026-12-15"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(site.emls("state/outbox").len(), 8);
}

#[test]
fn run_sends_a_slot_once_then_stops_on_sigterm() {
    let site = Site::new();
    let (mut child, log, lines) = site.spawn_until(
        &["run", "--now", "2026-12-01T13:59:57Z"],
        "finished issue #1",
    );
    assert!(
        log.iter()
            .any(|l| l.contains("sending issue #1 (2026-12-01)")),
        "{log:?}"
    );
    // Stay up a little: it must not send again.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(site.emls("state/outbox").len(), 4);
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("tipsheet run: stopping")),
        "{rest:?}"
    );
    assert_eq!(site.emls("state/outbox").len(), 4);
}
