//! `[delivery]`'s caps, counted in the store: two senders on one PostgreSQL
//! store share one hourly cap, a rerun within the hour sends nothing more, a
//! restart of the embedded store keeps the count, and a warm-up is followed
//! day by day on the `--now` clock. A send a cap stopped keeps its continue
//! time in the store, on both engines: `send --if-due` continues it then,
//! past its grace, day after day until everyone has it (never while held),
//! and so does a `run` started after the stop.

use tipsheet::store::RecipientStatus;

use crate::common::{Run, Site, block_on, embedded_store, list};
use crate::engine::{Bench, Engine, on_both_engines};
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

on_both_engines!(
    send_if_due_continues_a_send_a_cap_stopped_day_after_day_past_grace,
    a_capped_issue_that_is_held_is_continued_only_once_released,
    run_started_after_a_cap_stop_past_grace_continues_it,
    a_continuation_cut_short_is_continued_again_at_the_next_tick,
    the_console_says_when_a_capped_issue_continues,
);

/// Six readers, two a day, on SMTP, on `engine`; `None` when PostgreSQL is
/// not available.
fn capped_site(engine: Engine, test: &str, server: &FaultServer) -> Option<Bench> {
    let site = Site::new();
    site.use_smtp(server.port, 2);
    site.write("subscribers/subscribers.csv", &list("c", 6));
    site.config("max_per_day = 0", "max_per_day = 2");
    Bench::on(engine, test, site)
}

/// The continue time the ledger keeps for the first issue (RFC 3339).
fn continue_at(site: &Bench) -> Option<String> {
    match &site.db {
        None => {
            let store = embedded_store(&site.path(""));
            block_on(store.capped())
                .unwrap()
                .into_iter()
                .find(|(d, _)| d.to_string() == SLOT)
                .map(|(_, at)| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        }
        Some(db) => db
            .query(&format!(
                "SELECT continue_at FROM issues WHERE slot = '{SLOT}'"
            ))
            .first()
            .and_then(|r| r.get::<_, Option<String>>(0)),
    }
}

/// `send --if-due` at `now`.
fn if_due(site: &Bench, now: &str) -> Run {
    site.run(&["send", "--if-due", "--now", now])
}

/// Sends `send --if-due` at the slot: two delivered, stopped until the
/// next day's same minute.
fn capped_at_the_slot(site: &Bench, server: &FaultServer) {
    let first = if_due(site, "2026-12-01T14:05:00Z");
    assert_capped(&first, "`delivery.max_per_day` = 2", "2026-12-02 14:06 UTC");
    assert!(
        first.stderr.contains("`send --if-due` continues it then"),
        "{first:?}"
    );
    assert_eq!(server.count(), 2, "{first:?}");
    assert_eq!(continue_at(site).as_deref(), Some("2026-12-02T14:06:00Z"));
}

fn send_if_due_continues_a_send_a_cap_stopped_day_after_day_past_grace(engine: Engine, test: &str) {
    let server = FaultServer::start(Wire::default());
    let Some(site) = capped_site(engine, test, &server) else {
        return;
    };
    capped_at_the_slot(&site, &server);
    let status = site.run(&["status", "--date", SLOT, "--now", "2026-12-01T15:00:00Z"]);
    assert!(
        status
            .stdout
            .contains("stopped at a cap; continues at 2026-12-02 14:06 UTC"),
        "{status:?}"
    );
    let json = site.run(&["status", "--json", "--now", "2026-12-01T15:00:00Z"]);
    let rows: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["slot"] == SLOT)
        .unwrap_or_else(|| panic!("{json:?}"));
    assert_eq!(row["continue_at"], "2026-12-02T14:06:00Z", "{json:?}");

    // Before the continue time, within grace and past it: nothing, quietly.
    for now in [
        "2026-12-01T15:00:00Z",
        "2026-12-01T21:00:00Z",
        "2026-12-02T14:05:00Z",
    ] {
        let r = if_due(&site, now);
        assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{now}: {r:?}");
        assert!(r.stderr.is_empty(), "{now}: {r:?}");
    }
    assert_eq!(server.count(), 2);

    // The next day, far past the slot's grace: two more, stopped again.
    let day2 = if_due(&site, "2026-12-02T14:10:00Z");
    assert_capped(&day2, "`delivery.max_per_day` = 2", "2026-12-03 14:11 UTC");
    assert_eq!(delivered(&day2), 2, "{day2:?}");
    assert_eq!(server.count(), 4);
    assert_eq!(continue_at(&site).as_deref(), Some("2026-12-03T14:11:00Z"));
    let again = if_due(&site, "2026-12-02T14:30:00Z");
    assert_eq!((again.code, again.stdout.as_str()), (0, ""), "{again:?}");

    // The third day finishes it; nothing is left to continue.
    let day3 = if_due(&site, "2026-12-03T14:20:00Z");
    assert_eq!(day3.code, 0, "{day3:?}");
    assert_eq!(delivered(&day3), 2, "{day3:?}");
    assert!(day3.stdout.contains("issue is sent"), "{day3:?}");
    assert_eq!(continue_at(&site), None);
    let after = if_due(&site, "2026-12-04T14:20:00Z");
    assert_eq!((after.code, after.stdout.as_str()), (0, ""), "{after:?}");

    let got = server.received_by();
    assert_eq!(got.len(), 6, "{got:?}");
    assert!(got.values().all(|n| *n == 1), "nobody twice: {got:?}");
    assert_eq!(site.keys_with(RecipientStatus::Sent).len(), 6);
    assert_eq!(site.keys_with(RecipientStatus::Pending).len(), 0);
    let json = site.run(&["status", "--json", "--now", "2026-12-04T14:20:00Z"]);
    assert!(!json.stdout.contains("continue_at"), "{json:?}");
}

fn a_capped_issue_that_is_held_is_continued_only_once_released(engine: Engine, test: &str) {
    let server = FaultServer::start(Wire::default());
    let Some(site) = capped_site(engine, test, &server) else {
        return;
    };
    capped_at_the_slot(&site, &server);
    let h = site.run(&["hold", "--date", SLOT, "--reason", "typo"]);
    assert_eq!(h.code, 0, "{h:?}");
    // Its time has come, but it is held: nothing, quietly (status shows it).
    let held = if_due(&site, "2026-12-02T14:10:00Z");
    assert_eq!((held.code, held.stdout.as_str()), (0, ""), "{held:?}");
    assert!(held.stderr.is_empty(), "{held:?}");
    assert_eq!(server.count(), 2);
    assert_eq!(continue_at(&site).as_deref(), Some("2026-12-02T14:06:00Z"));
    let status = site.run(&["status", "--date", SLOT, "--now", "2026-12-02T14:10:00Z"]);
    assert!(status.stdout.contains("ON HOLD since"), "{status:?}");
    assert!(
        status.stdout.contains("continues at 2026-12-02 14:06 UTC"),
        "{status:?}"
    );

    let r = site.run(&["release", "--date", SLOT]);
    assert_eq!(r.code, 0, "{r:?}");
    let released = if_due(&site, "2026-12-02T14:20:00Z");
    assert_capped(
        &released,
        "`delivery.max_per_day` = 2",
        "2026-12-03 14:21 UTC",
    );
    assert_eq!(server.count(), 4, "{released:?}");
    let got = server.received_by();
    assert!(got.values().all(|n| *n == 1), "nobody twice: {got:?}");
}

fn run_started_after_a_cap_stop_past_grace_continues_it(engine: Engine, test: &str) {
    let server = FaultServer::start(Wire::default());
    let Some(site) = capped_site(engine, test, &server) else {
        return;
    };
    capped_at_the_slot(&site, &server);
    // A `run` that never saw the stop, started the next day (far past the
    // slot's grace) three seconds before the cap has room again.
    let (child, log, _lines) = site.spawn_until(
        &["run", "--now", "2026-12-02T14:05:57Z"],
        "continuing it at",
    );
    let code = crate::common::terminate(child);
    assert!(
        log.iter()
            .any(|l| l.contains("sending issue #1 (2026-12-01)")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("issue #1 (2026-12-01): 2 delivered")),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l.contains(
            "stopped at a cap with recipients pending; continuing it at 2026-12-03 14:07 UTC"
        )),
        "{log:?}"
    );
    assert_eq!(code, Some(0), "{log:?}");
    assert_eq!(server.count(), 4, "{log:?}");
    let got = server.received_by();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got.values().all(|n| *n == 1), "nobody twice: {got:?}");
    assert_eq!(continue_at(&site).as_deref(), Some("2026-12-03T14:07:00Z"));
}

/// A continuation past grace that is cut short (here the relay is down)
/// keeps the issue's continue time: the next tick of `send --if-due`
/// continues it again, so no reader is left behind past the grace. The
/// sends it had reserved never reached the relay, so they are given back:
/// the next tick still has the day's two.
fn a_continuation_cut_short_is_continued_again_at_the_next_tick(engine: Engine, test: &str) {
    let server = FaultServer::start(Wire::default());
    let Some(site) = capped_site(engine, test, &server) else {
        return;
    };
    capped_at_the_slot(&site, &server);
    let config = site.read("config.toml");
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    site.write(
        "config.toml",
        &config.replace(
            &format!("port = {}", server.port),
            &format!("port = {dead}"),
        ),
    );
    let cut = if_due(&site, "2026-12-02T14:10:00Z");
    assert!(cut.code != 0 && cut.code != 7, "{cut:?}");
    assert_eq!(server.count(), 2);
    assert_eq!(continue_at(&site).as_deref(), Some("2026-12-02T14:06:00Z"));
    // The relay is back: the next tick continues, up to the day's cap.
    site.write("config.toml", &config);
    let next = if_due(&site, "2026-12-02T14:20:00Z");
    assert_capped(&next, "`delivery.max_per_day` = 2", "2026-12-03 14:21 UTC");
    assert_eq!(delivered(&next), 2, "{next:?}");
    assert_eq!(server.count(), 4);
    let got = server.received_by();
    assert!(got.values().all(|n| *n == 1), "nobody twice: {got:?}");
}

/// The console's dashboard tells a stop at a cap from a stop that needs a
/// hand: when the issue goes on by itself.
fn the_console_says_when_a_capped_issue_continues(engine: Engine, test: &str) {
    let server = FaultServer::start(Wire::default());
    let Some(site) = capped_site(engine, test, &server) else {
        return;
    };
    capped_at_the_slot(&site, &server);
    crate::console::add(&site, "vic", "viewer");
    let serve = crate::server::Serve::start(&site);
    let mut b = crate::console::Browser::new(&serve);
    assert_eq!(b.sign_in("vic", crate::console::PASSWORD).status, 303);
    let page = b.get("/admin");
    assert!(
        page.body.contains(&format!(
            "Issue #1 of {SLOT} stopped at a sending cap with 4 readers not mailed yet; it continues at 2026-12-02 14:06 UTC"
        )),
        "{page:?}"
    );
    assert!(!page.body.contains("stopped with"), "{page:?}");
}
