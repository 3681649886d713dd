//! `tipsheet backup` and `restore`: a backup taken while a 20,000-recipient
//! send writes the ledger holds every row committed before it began and
//! passes SQLite's integrity check once restored; a restore during a send is
//! refused with exit 3; PostgreSQL names pg_dump.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::common::{Site, list};

/// The keys of the recipients marked sent in the ledger at `path`.
fn sent(path: &std::path::Path) -> BTreeSet<String> {
    try_sent(path).unwrap()
}

/// [`sent`], or the error while the ledger is still being created.
fn try_sent(path: &std::path::Path) -> rusqlite::Result<BTreeSet<String>> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mut q = conn.prepare("SELECT email FROM recipients WHERE status = 'sent'")?;
    q.query_map([], |r| r.get(0))?.collect()
}

#[test]
fn a_backup_during_a_send_restores_every_row_committed_before_it_and_restore_waits_for_the_send() {
    let site = Site::new();
    site.write("subscribers/subscribers.csv", &list("r", 20_000));
    // Paced so that the send is still running while the test works.
    site.config("rate_per_second = 0", "rate_per_second = 500");
    let mut send = site
        .command(&["send"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ledger = site.path("state/tipsheet.sqlite3");
    let started = Instant::now();
    let before = loop {
        if let Ok(s) = try_sent(&ledger)
            && s.len() >= 1000
        {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the send never got going"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let r = site.run(&["backup", "--out", "bk"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.starts_with("backed up the ledger (schema "),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("20000 recipient row(s)) and 2 list file(s) to `bk`"),
        "{r:?}"
    );
    let r = site.run(&["restore", "bk"]);
    assert!(
        send.try_wait().unwrap().is_none(),
        "the send ended before the restore was tried; the test proves nothing"
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("another tipsheet run holds"), "{r:?}");
    // Stopped cleanly (exit 4) rather than waited for: the rest of the send
    // adds nothing to the test but time.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &send.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert_eq!(send.wait().unwrap().code(), Some(4));
    let after = sent(&ledger);
    assert!(after.is_superset(&before));

    let r = site.run(&["restore", "bk"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.starts_with("restored the ledger (schema "),
        "{r:?}"
    );
    let conn = Connection::open(&ledger).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM recipients", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 20_000);
    drop(conn);
    let restored = sent(&ledger);
    assert!(
        restored.is_superset(&before),
        "rows committed before the backup are missing"
    );
    assert!(
        restored.len() < 20_000,
        "the backup is not from the middle of the send"
    );
    assert_eq!(
        std::fs::read(site.path("bk/subscribers.csv")).unwrap(),
        std::fs::read(site.path("subscribers/subscribers.csv")).unwrap()
    );
}

#[test]
fn restore_refuses_a_copy_newer_than_this_tipsheet_and_backup_never_overwrites() {
    let site = Site::new();
    assert_eq!(site.run(&["send"]).code, 0);
    assert_eq!(site.run(&["backup", "--out", "bk"]).code, 0);
    let r = site.run(&["backup", "--out", "bk"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("the backup folder `bk` is not empty"),
        "{r:?}"
    );
    let conn = Connection::open(site.path("bk/tipsheet.sqlite3")).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let r = site.run(&["restore", "bk"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("has schema version 999, newer than this tipsheet understands"),
        "{r:?}"
    );
}

#[test]
fn on_postgresql_backup_and_restore_print_the_pg_dump_command() {
    let site = Site::new();
    let url = "postgres://tipsheet@db.invalid:5432/tipsheet";
    assert_eq!(site.run(&["backup", "--out", "bk"]).code, 0);
    for (args, command) in [
        (
            vec!["backup", "--out", "bk2"],
            format!("pg_dump --format=custom --file=tipsheet.dump '{url}'"),
        ),
        (
            vec!["restore", "bk"],
            format!("pg_restore --clean --if-exists --dbname='{url}' tipsheet.dump"),
        ),
    ] {
        let r = crate::common::to_run(
            site.command(&args)
                .env("TIPSHEET_DATABASE_URL", url)
                .output()
                .unwrap(),
        );
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains(&command), "{r:?}");
    }
    assert!(!site.path("bk2").exists());
}
