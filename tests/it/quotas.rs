//! `[delivery]`'s caps, counted in the store: two senders on one PostgreSQL
//! store share one hourly cap, a rerun within the hour sends nothing more, a
//! restart of the embedded store keeps the count, and a warm-up is followed
//! day by day on the `--now` clock.

use crate::common::{Run, Site, list};
use crate::hosts::{SLOT, delivered, hosts, spawn, wait};
use crate::pg;
use crate::smtp_server::{FaultServer, Wire};

/// Exit 7: stopped at a cap with recipients pending.
const QUOTA: i32 = 7;

fn assert_capped(r: &Run, cap: &str, until: &str) {
    assert_eq!(r.code, QUOTA, "{r:?}");
    assert!(
        r.stderr.contains(&format!("QUOTA: {cap} was reached"))
            && r.stderr.contains(&format!("it can continue at {until}")),
        "{r:?}"
    );
}

#[test]
fn two_senders_on_one_store_share_one_hourly_cap_and_a_rerun_sends_nothing_more() {
    let Some(db) = pg::fresh("quotas::two_senders") else {
        return;
    };
    let server = FaultServer::start(Wire {
        pipelining: true,
        ..Wire::default()
    });
    let sites = hosts(&db, 2, 300, server.port, 4);
    for s in &sites {
        s.config("max_per_hour = 0", "max_per_hour = 100");
    }
    let runs: Vec<Run> = sites
        .iter()
        .map(|s| spawn(s, &["send", "--date", SLOT]))
        .collect::<Vec<_>>()
        .into_iter()
        .map(wait)
        .collect();
    let per_host: Vec<usize> = runs.iter().map(delivered).collect();
    assert_eq!(per_host.iter().sum::<usize>(), 100, "{per_host:?} {runs:?}");
    assert_eq!(server.count(), 100, "the relay got 100, not 200");
    // Both started at `--now` 12:00: the hour has room again at 13:01.
    for r in &runs {
        assert_capped(r, "`delivery.max_per_hour` = 100", "2026-11-26 13:01 UTC");
    }
    assert_eq!(
        db.count("SELECT COUNT(*) FROM recipients WHERE status = 'pending'"),
        200
    );
    assert_eq!(db.count("SELECT SUM(sent)::int8 FROM quota_minutes"), 100);
    // A rerun within the hour, from either host: nothing more.
    let again = sites[1].run(&["send", "--date", SLOT, "--now", "2026-11-26T12:40:00Z"]);
    assert_capped(
        &again,
        "`delivery.max_per_hour` = 100",
        "2026-11-26 13:01 UTC",
    );
    assert_eq!(delivered(&again), 0);
    assert_eq!(server.count(), 100);
    // Once the first sends have left the hour, the next hundred go.
    let later = sites[0].run(&["send", "--date", SLOT, "--now", "2026-11-26T13:01:00Z"]);
    assert_eq!(delivered(&later), 100, "{later:?}");
    assert_eq!(later.code, QUOTA, "{later:?}");
    assert_eq!(server.count(), 200);
    let each: std::collections::HashMap<String, usize> = server.received_by();
    assert!(each.values().all(|n| *n == 1), "a reader got two");
}

#[test]
fn a_restart_of_the_embedded_store_keeps_the_cap() {
    let site = Site::new();
    site.write("subscribers/subscribers.csv", &list("r", 30));
    site.config("max_per_hour = 0", "max_per_hour = 10");
    let first = site.run(&["send", "--date", SLOT]);
    assert_capped(
        &first,
        "`delivery.max_per_hour` = 10",
        "2026-11-26 13:01 UTC",
    );
    assert!(first.stderr.contains("left 20 pending"), "{first:?}");
    assert_eq!(site.emls("state/outbox").len(), 10);
    // A new process (the ledger reopened), half an hour on: still capped.
    let second = site.run(&["send", "--date", SLOT, "--now", "2026-11-26T12:30:00Z"]);
    assert_capped(
        &second,
        "`delivery.max_per_hour` = 10",
        "2026-11-26 13:01 UTC",
    );
    assert_eq!(site.emls("state/outbox").len(), 10);
    let status = site.run(&["status", "--date", SLOT]);
    assert!(
        status.stdout.contains("10 sent") && status.stdout.contains("20 pending"),
        "{status:?}"
    );
}

#[test]
fn a_warmup_raises_the_daily_cap_day_by_day() {
    let site = Site::new();
    site.write("subscribers/subscribers.csv", &list("w", 50));
    site.config(
        "# warmup = [[1, 50], [3, 200], [7, 1000], [14, 5000]]\n# warmup_start = \"2026-12-01\"",
        "warmup = [[1, 5], [2, 10], [3, 20]]\nwarmup_start = \"2026-11-26\"",
    );
    let sent = || site.emls("state/outbox").len();
    // Day 1 (New York's 26 November): 5, then the day is full until the
    // same minute tomorrow has passed.
    let day1 = site.run(&["send", "--date", SLOT, "--now", "2026-11-26T14:00:00Z"]);
    assert_capped(
        &day1,
        "the warm-up's cap on day 1 (`delivery.warmup`) = 5 a day",
        "2026-11-27 14:01 UTC",
    );
    assert_eq!(sent(), 5);
    // Day 2, before day 1's sends have left the last 24 hours: 5 more.
    let early = site.run(&["send", "--date", SLOT, "--now", "2026-11-27T13:00:00Z"]);
    assert_capped(
        &early,
        "the warm-up's cap on day 2 (`delivery.warmup`) = 10 a day",
        "2026-11-27 14:01 UTC",
    );
    assert_eq!(sent(), 10);
    // Day 3: 20 in any 24 hours (the 5 of day 2 still count, until they
    // leave the window at 13:01).
    let day3 = site.run(&["send", "--date", SLOT, "--now", "2026-11-28T12:30:00Z"]);
    assert_capped(
        &day3,
        "the warm-up's cap on day 3 (`delivery.warmup`) = 20 a day",
        "2026-11-28 13:01 UTC",
    );
    assert_eq!(sent(), 25);
    // Day 5: the last step holds; the remaining 25 need two days.
    let day5 = site.run(&["send", "--date", SLOT, "--now", "2026-11-30T12:00:00Z"]);
    assert_eq!(day5.code, QUOTA, "{day5:?}");
    assert_eq!(sent(), 45);
    let day6 = site.run(&["send", "--date", SLOT, "--now", "2026-12-01T12:05:00Z"]);
    assert_eq!(day6.code, 0, "{day6:?}");
    assert_eq!(sent(), 50);
    assert!(day6.stdout.contains("issue is sent"), "{day6:?}");
}
