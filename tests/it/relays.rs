//! Several relays (`[[smtp.relays]]`): messages shared by weight, a relay
//! that goes down mid-send leaving its messages to the other (each reader
//! still gets exactly one), and the ledger naming the relay of each message
//! on both engines. Real SMTP servers in this process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::common::{Site, list};
use crate::engine::{Bench, Engine, SLOT, on_both_engines};
use crate::hosts::{spawn, wait};
use crate::smtp_server::{FaultServer, Wire};

on_both_engines!(a_relay_that_goes_down_mid_send_leaves_its_messages_to_the_other);

/// Sends through `relays` (name, port, weight) instead of `[smtp]`'s own relay.
fn use_relays(site: &Site, relays: &[(&str, u16, u32)], concurrency: usize) {
    site.use_smtp(0, concurrency);
    // `[smtp]` keeps only what the relays share.
    for line in [
        "host = \"127.0.0.1\"\n",
        "port = 0\n",
        "tls = \"none\"\n",
        "username_env = \"TIPSHEET_SMTP_USERNAME\"\n",
        "password_env = \"TIPSHEET_SMTP_PASSWORD\"\n",
    ] {
        site.config(line, "");
    }
    site.config("relay_backoff_seconds = 30", "relay_backoff_seconds = 60");
    let mut text = site.read("config.toml");
    for (name, port, weight) in relays {
        text.push_str(&format!(
            "\n[[smtp.relays]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nweight = {weight}\n"
        ));
    }
    site.write("config.toml", &text);
}

fn server() -> FaultServer {
    FaultServer::start(Wire {
        pipelining: true,
        ..Wire::default()
    })
}

/// The relay the ledger names for each recipient of the first issue.
fn ledger_relays(bench: &Bench) -> BTreeMap<String, String> {
    let sql = format!("SELECT email, relay FROM recipients WHERE slot = '{SLOT}' ORDER BY email");
    match &bench.db {
        Some(db) => db
            .query(&sql)
            .iter()
            .map(|r| (r.get(0), r.get::<_, Option<String>>(1).unwrap_or_default()))
            .collect(),
        None => {
            let c = rusqlite::Connection::open(bench.path("state/tipsheet.sqlite3")).unwrap();
            let mut stmt = c.prepare(&sql).unwrap();
            stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        }
    }
}

fn keys(s: &FaultServer) -> HashSet<String> {
    s.received_by().into_keys().collect()
}

#[test]
fn two_relays_weighted_three_to_one_carry_three_quarters_and_one_quarter() {
    let (a, b) = (server(), server());
    let site = Site::new();
    site.write("subscribers/subscribers.csv", &list("r", 400));
    site.write("subscribers/suppressed.csv", "email,reason,at\n");
    use_relays(&site, &[("main", a.port, 3), ("spare", b.port, 1)], 4);
    let r = site.run(&["send", "--date", SLOT]);
    assert_eq!(r.code, 0, "{r:?}");
    let (na, nb) = (a.count(), b.count());
    assert_eq!(na + nb, 400, "{r:?}");
    let share = na as f64 / 400.0;
    assert!(
        (0.70..=0.80).contains(&share),
        "main carried {na}, spare {nb}"
    );
    assert!(keys(&a).is_disjoint(&keys(&b)), "a reader got two");
    assert!(
        r.stdout
            .contains(&format!("relays this run: main {na}, spare {nb}")),
        "{r:?}"
    );
    // The ledger names each message's relay, and `status` adds them up.
    let bench = Bench::file(site);
    let named = ledger_relays(&bench);
    for k in keys(&a) {
        assert_eq!(named[&k], "main", "{k}");
    }
    for k in keys(&b) {
        assert_eq!(named[&k], "spare", "{k}");
    }
    let st = bench.run(&["status", "--date", SLOT]);
    assert!(
        st.stdout
            .contains(&format!("sent through: main {na}, spare {nb}")),
        "{st:?}"
    );
}

fn a_relay_that_goes_down_mid_send_leaves_its_messages_to_the_other(engine: Engine, test: &str) {
    let slow = Wire {
        pipelining: true,
        delay_ms: 10,
        ..Wire::default()
    };
    let (a, b) = (FaultServer::start(slow.clone()), FaultServer::start(slow));
    let site = Site::new();
    site.write("subscribers/subscribers.csv", &list("d", 400));
    site.write("subscribers/suppressed.csv", "email,reason,at\n");
    use_relays(&site, &[("first", a.port, 1), ("second", b.port, 1)], 4);
    let Some(bench) = Bench::on(engine, test, site) else {
        return;
    };
    let child = spawn(&bench, &["send", "--date", SLOT]);
    let started = Instant::now();
    while a.count() < 40 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "first got nothing"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    a.stop();
    let r = wait(child);
    assert_eq!(r.code, 0, "{r:?}");
    let (got_a, got_b) = (a.received_by(), b.received_by());
    // Everyone exactly once, through one relay or the other.
    let mut all: HashMap<String, usize> = got_a.clone();
    for (k, n) in &got_b {
        *all.entry(k.clone()).or_default() += n;
    }
    assert_eq!(all.len(), 400, "{r:?}");
    assert!(all.values().all(|n| *n == 1), "a reader got two");
    assert!(
        got_a.len() < 250,
        "the first relay went on: {}",
        got_a.len()
    );
    assert!(
        r.stdout.contains("first ") && r.stdout.contains("(out of rotation"),
        "{r:?}"
    );
    let named = ledger_relays(&bench);
    assert_eq!(named.len(), 400);
    for (k, relay) in &named {
        let want = if got_a.contains_key(k) {
            "first"
        } else {
            "second"
        };
        assert_eq!(relay, want, "{k}");
    }
    let st = bench.run(&["status", "--date", SLOT]);
    assert!(st.stdout.contains("400 sent"), "{st:?}");
}

#[test]
fn smtp_and_relays_together_are_refused_with_the_fix() {
    let site = Site::new();
    site.config("transport = \"outbox\"", "transport = \"smtp\"");
    let mut text = site.read("config.toml");
    text.push_str("\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = 2526\ntls = \"none\"\n");
    site.write("config.toml", &text);
    let r = site.run(&["send", "--date", SLOT]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("`smtp.host`: is set in `[smtp]` and `[[smtp.relays]]` is given too; move `host` into a `[[smtp.relays]]` entry"),
        "{r:?}"
    );
}
