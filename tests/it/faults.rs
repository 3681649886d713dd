//! The fault suite: sends killed at random moments and resumed, an SMTP
//! server that stalls mid-DATA, a server that never greets, and a state folder
//! that is unusable or fills up. What must hold: nobody is lost, a kill costs
//! at most `concurrency` duplicates, timeouts fire and the send finishes, and
//! nothing is marked sent that was not. What concerns delivery and the ledger
//! runs on both store engines (`NAME::file` and `NAME::postgres`); a state
//! folder that is unusable or fills up is the SQLite ledger's, and the random
//! kills of one sender on PostgreSQL are in `hosts.rs`.
//!
//! The slow ones are `#[ignore]`d so that `cargo test` stays fast; `.ci/run`
//! runs them with `cargo test --locked --test it -- --ignored faults::`. Set
//! `TIPSHEET_FAULT_SEED` to replay a run's random kill moments, and
//! `TIPSHEET_FAULT_CYCLES` for more than ten kills.

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use mailin_embedded::response::Response;
use tipsheet::store::RecipientStatus;

use crate::common::{Run, Site, list, parse, to_run};
use crate::engine::{Bench, Engine, SLOT, on_both_engines};
use crate::smtp_server::{FaultServer, Wire};

on_both_engines!(
    #[ignore = "slow: part of the fault suite (.ci/run)"]
    a_server_stalling_mid_data_times_out_and_the_send_finishes,
    #[ignore = "slow: part of the fault suite (.ci/run)"]
    a_server_that_never_greets_times_out_and_nothing_is_marked_sent,
    an_outbox_that_cannot_be_created_marks_nobody_sent,
);

/// xorshift64*, seeded from the clock or `TIPSHEET_FAULT_SEED`.
struct Dice(u64);

impl Dice {
    fn new() -> Self {
        let seed = std::env::var("TIPSHEET_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            })
            | 1;
        eprintln!("fault seed: TIPSHEET_FAULT_SEED={seed}");
        Dice(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

fn wait(child: Child) -> Run {
    to_run(child.wait_with_output().unwrap())
}

fn no_panic(r: &Run, what: &str) {
    assert_ne!(r.code, 101, "{what}: {r:?}");
    assert!(!r.stderr.contains("panicked"), "{what}: {r:?}");
}

#[test]
#[ignore = "slow: part of the fault suite (.ci/run)"]
fn sends_killed_at_random_moments_resume_without_losing_anyone() {
    const N: usize = 2000;
    // `TIPSHEET_FAULT_CYCLES` for a longer run.
    let cycles: usize = std::env::var("TIPSHEET_FAULT_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let concurrency = 4;
    // Odd cycles pipeline (RFC 2920): the next envelope rides behind each
    // body, and the bound must hold all the same.
    let servers = [
        FaultServer::start(Wire::default()),
        FaultServer::start(Wire {
            pipelining: true,
            ..Wire::default()
        }),
    ];
    let mut dice = Dice::new();
    let mut report = Vec::new();
    for cycle in 0..cycles {
        let server = &servers[cycle % 2];
        server.clear();
        let site = Site::new();
        site.use_smtp(server.port, concurrency);
        site.write("subscribers/subscribers.csv", &list("reader", N));
        let mut child = site
            .command(&["send"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        // Every fourth kill lands at a random time from the start (loading,
        // freezing the list, the first connections); the others once a random
        // number of messages has been accepted.
        let moment = if cycle % 4 == 0 {
            let ms = dice.below(150);
            std::thread::sleep(Duration::from_millis(ms));
            format!("{ms} ms after start")
        } else {
            let target = 1 + dice.below(N as u64 - 50) as usize;
            while server.count() < target && child.try_wait().unwrap().is_none() {
                assert!(started.elapsed() < Duration::from_secs(120), "stuck");
                std::thread::sleep(Duration::from_millis(1));
            }
            format!("after {target} messages")
        };
        let _ = child.kill(); // SIGKILL: no chance to clean up
        let killed = wait(child);
        let before = server.count();
        // Resume (resending whoever was in flight) until done.
        let r = site.run(&["send"]);
        no_panic(&r, "resume");
        assert_eq!(
            r.code, 0,
            "cycle {cycle} ({moment}): {r:?}\nkilled run: {killed:?}"
        );
        let got = server.received_by();
        let missing: Vec<String> = (0..N)
            .map(|i| format!("reader{i:04}@example.com"))
            .filter(|k| !got.contains_key(k))
            .collect();
        assert!(
            missing.is_empty(),
            "cycle {cycle} ({moment}): lost {missing:?}"
        );
        assert_eq!(got.len(), N, "cycle {cycle}: strangers {got:?}");
        let duplicates: usize = got.values().map(|n| n - 1).sum();
        assert!(
            duplicates <= concurrency,
            "cycle {cycle} ({moment}): {duplicates} duplicates for one kill: {:?}",
            got.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
        );
        let s = site.run(&["status", "--date", SLOT]);
        assert!(s.stdout.contains(&format!("{N} sent")), "{s:?}");
        if cycle % 2 == 1 {
            assert!(server.pipelined() > 0, "cycle {cycle}: never pipelined");
        }
        report.push(format!(
            "cycle {cycle} ({}): killed {moment} ({before} delivered by then), {duplicates} duplicate(s)",
            if cycle % 2 == 1 { "pipelined" } else { "lock-step" }
        ));
    }
    eprintln!("{}", report.join("\n"));
}

fn stall_once(to: &str, attempt: u32) -> Option<Response> {
    ((to.starts_with("stall-once") && attempt == 1) || to.starts_with("stall-always"))
        .then(|| Response::custom(451, String::new()))
}

fn a_server_stalling_mid_data_times_out_and_the_send_finishes(engine: Engine, test: &str) {
    let server = FaultServer::start(Wire {
        stall: Some(stall_once),
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 3);
    site.config("timeout_seconds = 5", "timeout_seconds = 1");
    site.config("max_attempts = 5", "max_attempts = 3");
    let mut csv = list("ok", 30);
    csv.push_str("stall-once@example.com,Stalls Once\nstall-always@example.com,Stalls Always\n");
    site.write("subscribers/subscribers.csv", &csv);
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let started = Instant::now();
    let r = to_run(site.command(&["send"]).output().unwrap());
    let took = started.elapsed();
    no_panic(&r, "send");
    // Three attempts of two seconds each (the DATA timeout is twice the
    // command timeout) plus backoff: well under the stall's minute.
    assert!(took < Duration::from_secs(30), "{took:?}: {r:?}");
    assert_eq!(r.code, 1, "a recipient failed: {r:?}");
    assert!(
        r.stdout.contains("31 delivered, 1 failed, 0 bounced"),
        "{r:?}"
    );
    let got = server.received_by();
    assert_eq!(got.get("stall-once@example.com"), Some(&1), "{got:?}");
    assert_eq!(got.get("stall-always@example.com"), None, "{got:?}");
    assert!(got.values().all(|n| *n == 1), "{got:?}");
    let s = site.run(&["status", "--date", SLOT]);
    assert!(s.stdout.contains("31 sent, 1 failed"), "{s:?}");
    assert!(
        s.stdout
            .contains("failed    stall-always@example.com  attempts 3  timed out after 2s"),
        "{s:?}"
    );
    // A rerun retries only the failed one, and it fails again the same way.
    let r = site.run(&["send"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("0 delivered, 1 failed"), "{r:?}");
    assert_eq!(server.received_by().len(), 31);
}

fn a_server_that_never_greets_times_out_and_nothing_is_marked_sent(engine: Engine, test: &str) {
    // Accepts connections and says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let site = Site::new();
    site.use_smtp(port, 2);
    site.config("timeout_seconds = 5", "timeout_seconds = 1");
    site.config("max_attempts = 5", "max_attempts = 2");
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    let started = Instant::now();
    let r = site.run(&["send"]);
    no_panic(&r, "send");
    assert!(started.elapsed() < Duration::from_secs(30), "{r:?}");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("0 delivered, 4 failed"), "{r:?}");
    let s = site.run(&["status", "--date", SLOT]);
    assert!(s.stdout.contains("4 failed"), "{s:?}");
    assert!(
        s.stdout.contains("no SMTP greeting from `127.0.0.1:"),
        "{s:?}"
    );
    assert!(site.keys_with(RecipientStatus::Sent).is_empty());
}

/// A site that sends to `server`.
fn smtp_site(server: &FaultServer) -> Site {
    let site = Site::new();
    site.use_smtp(server.port, 2);
    site
}

#[test]
fn a_ledger_whose_log_is_on_a_full_disk_is_a_clear_error_and_nothing_goes_out() {
    let server = FaultServer::start(Wire::default());
    let site = smtp_site(&server);
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(server.count(), 4);
    // Every write to the ledger's write-ahead log would fail with ENOSPC.
    std::os::unix::fs::symlink("/dev/full", site.path("state/tipsheet.sqlite3-wal")).unwrap();
    let r = site.run(&["send", "--date", "2026-12-15"]);
    no_panic(&r, "send");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("error: ledger `state/tipsheet.sqlite3`: "),
        "the error names the ledger: {r:?}"
    );
    assert_eq!(server.count(), 4, "nothing may go out unrecorded");
}

#[test]
fn a_state_folder_that_is_a_file_is_a_clear_error_and_nothing_goes_out() {
    let server = FaultServer::start(Wire::default());
    let site = smtp_site(&server);
    site.write("state", "not a folder\n");
    for args in [&["send"][..], &["preview"], &["status"], &["check"]] {
        let r = site.run(args);
        no_panic(&r, &format!("{args:?}"));
        if args == ["send"] {
            assert_eq!(r.code, 2, "{r:?}");
            assert!(
                r.stderr.contains("error: cannot create state folder `")
                    && r.stderr.contains("state`"),
                "{r:?}"
            );
        }
    }
    assert_eq!(server.count(), 0);
}

fn an_outbox_that_cannot_be_created_marks_nobody_sent(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    site.write("state/outbox", "a file where the outbox folder goes\n");
    let r = site.run(&["send"]);
    no_panic(&r, "send");
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("cannot create outbox folder `") && r.stderr.contains("2026-12-01`"),
        "{r:?}"
    );
    assert!(site.keys_with(RecipientStatus::Sent).is_empty());
    // Fixed, a rerun sends everyone once.
    std::fs::remove_file(site.path("state/outbox")).unwrap();
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(site.emls("state/outbox").len(), 4);
}

/// A tmpfs of `kb` kilobytes mounted over `dir` while alive.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, kb: u32) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kb}k"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn remount(&self, options: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount,{options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
#[ignore = "mounts a tmpfs (root): part of the fault suite (.ci/run)"]
fn a_disk_filling_up_mid_send_marks_nothing_sent_that_was_not() {
    const N: usize = 600;
    for transport in ["smtp", "outbox"] {
        let server = FaultServer::start(Wire::default());
        let site = Bench::file(Site::new());
        if transport == "smtp" {
            site.use_smtp(server.port, 4);
        }
        site.write("subscribers/subscribers.csv", &list("reader", N));
        // Room for the ledger and a part of the outbox, then ENOSPC.
        let Some(disk) = Tmpfs::mount(&site.path("state"), 640) else {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return;
        };
        let r = site.run(&["send"]);
        no_panic(&r, transport);
        assert_ne!(r.code, 0, "{transport}: the disk should have filled: {r:?}");
        let last = r.stderr.lines().last().unwrap_or_default().to_string();
        assert!(
            r.stderr.contains("No space left on device") || r.stderr.contains("full"),
            "{transport}: {r:?}"
        );
        // Whatever the ledger says was sent, was sent.
        let delivered: HashMap<String, usize> = if transport == "smtp" {
            server.received_by()
        } else {
            let mut m = HashMap::new();
            for raw in site.emls("state/outbox") {
                if raw.ends_with(b"--\r\n") {
                    *m.entry(parse(&raw).to.to_lowercase()).or_default() += 1;
                }
            }
            m
        };
        let sent = site.keys_with(RecipientStatus::Sent);
        eprintln!(
            "{transport}: the disk filled after {} of {N} were sent: {last}",
            sent.len()
        );
        let phantom: Vec<&String> = sent
            .iter()
            .filter(|k| !delivered.contains_key(*k))
            .collect();
        assert!(
            phantom.is_empty(),
            "{transport}: marked sent, never delivered: {phantom:?}"
        );
        // With room again, a rerun finishes and loses nobody.
        disk.remount("size=65536k");
        let r = site.run(&["send"]);
        no_panic(&r, transport);
        assert_eq!(r.code, 0, "{transport}: {r:?}");
        let s = site.run(&["status", "--date", SLOT]);
        assert!(
            s.stdout.contains(&format!("{N} sent")),
            "{transport}: {s:?}\n(first run: {last})"
        );
        if transport == "smtp" {
            assert_eq!(server.received_by().len(), N);
        }
        // Read-only (root included): the next issue is refused, nothing goes out.
        disk.remount("ro");
        let (mails, files) = (server.count(), site.emls("state/outbox").len());
        let r = site.run(&["send", "--date", "2026-12-15"]);
        no_panic(&r, transport);
        assert!([1, 2].contains(&r.code), "{transport}: {r:?}");
        assert!(r.stderr.contains("error: "), "{transport}: {r:?}");
        assert!(
            r.stderr.contains("Read-only file system") || r.stderr.contains("readonly"),
            "{transport}: {r:?}"
        );
        assert_eq!(
            (server.count(), site.emls("state/outbox").len()),
            (mails, files)
        );
    }
}
