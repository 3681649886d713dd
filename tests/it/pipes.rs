//! A reader that goes away (`tipsheet status | head -1`) stops the printing,
//! not the command: no "failed printing to stdout: Broken pipe" panic (101).

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::common::{Site, to_run};

/// A pipe whose reading end is already closed: every write fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

#[test]
fn head_reading_one_line_of_a_long_schedule_is_not_a_panic() {
    let site = Site::new();
    let mut child = site
        .command(&["schedule", "--count", "5000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone now; the rest of the ~150 KB cannot fit in the pipe.
    let r = to_run(child.wait_with_output().unwrap());
    assert!(first.starts_with("schedule: `0 9 * * TUE`"), "{first}");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("panicked"), "{r:?}");
}

#[test]
fn every_printing_command_exits_normally_into_a_closed_pipe() {
    let site = Site::new();
    let cases: &[&[&str]] = &[
        &["send"],
        &["status"],
        &["status", "--date", "2026-12-01"],
        &["status", "--json"],
        &["schedule", "--count", "50"],
        &["check"],
        &["preview"],
        &["send", "--dry-run"],
    ];
    for args in cases {
        let out = site
            .command(args)
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let r = to_run(out);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert!(!r.stderr.contains("panicked"), "{args:?}: {r:?}");
    }
    // The send went through although nobody read what it printed.
    assert_eq!(site.emls("state/outbox").len(), 4);
    let s = site.run(&["status"]);
    assert!(s.stdout.contains("4 sent"), "{s:?}");
}

#[test]
fn a_closed_stderr_is_not_a_panic_either() {
    let site = Site::new();
    // Many warnings on standard error.
    let mut list = String::from("email,name\n");
    for i in 0..5000 {
        list.push_str(&format!("bad{i}@@example.com,Broken\n"));
    }
    site.write("subscribers/subscribers.csv", &list);
    for args in [&["check"][..], &["send", "--dry-run"]] {
        let out = site
            .command(args)
            .stdout(Stdio::piped())
            .stderr(closed_pipe())
            .output()
            .unwrap();
        let r = to_run(out);
        assert_ne!(r.code, 101, "{args:?}: {r:?}");
        assert!(
            r.stdout.contains("check: ") || r.stdout.contains("built 0 messages"),
            "{args:?}: {r:?}"
        );
    }
}

#[test]
fn a_full_disk_behind_stdout_is_an_error() {
    let site = Site::new();
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // not Linux
    };
    let r = to_run(site.command(&["schedule"]).stdout(full).output().unwrap());
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error: cannot write to standard output: No space left on device"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("panicked"), "{r:?}");
}
