//! `tipsheet preview`: the admin's dry run.

use crate::common::{Site, parse};

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn preview_writes_three_files_and_changes_nothing_else() {
    let site = Site::new();
    let before = files_under(site.dir.path());
    let r = site.run(&["preview"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mut after = files_under(site.dir.path());
    after.retain(|f| !before.contains(f));
    assert_eq!(
        after,
        [
            "state/preview/issue-1.eml",
            "state/preview/issue-1.html",
            "state/preview/issue-1.txt"
        ]
    );
    let out = &r.stdout;
    assert!(out.contains("Issue #1 for 2026-12-01"), "{r:?}");
    assert!(
        out.contains("Sends at:  Tue 2026-12-01 09:00 America/New_York (2026-12-01 14:00 UTC)"),
        "{r:?}"
    );
    assert!(
        out.contains("Subject:   Career Tips #1: Associate Producer vs. Assistant Producer, and 2 more comparisons"),
        "{r:?}"
    );
    assert!(
        out.contains("Recipients: 4 active, 1 suppressed, 2 invalid rows skipped, 1 duplicates"),
        "{r:?}"
    );
    assert!(out.contains("Rendered for: ana@example.com"), "{r:?}");
    assert!(out.contains("Nothing was sent."));
    let eml = parse(&std::fs::read(site.path("state/preview/issue-1.eml")).unwrap());
    assert_eq!(eml.to, "ana@example.com");
    assert!(eml.text.contains("Hi Ana Lima,"));
    let txt = site.read("state/preview/issue-1.txt");
    assert_eq!(txt.trim_end(), eml.text.trim_end().replace("\r\n", "\n"));
}

#[test]
fn preview_for_one_reader_escapes_their_name() {
    let site = Site::new();
    let r = site.run(&["preview", "--to", "bob@example.com", "--out", "out"]);
    eprintln!(
        "{}",
        String::from_utf8_lossy(&std::fs::read(site.path("out/issue-1.eml")).unwrap())
            .lines()
            .filter(|l| l.contains("Hi ") || l.contains("unsubscribe"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(r.code, 0, "{r:?}");
    let html = site.read("out/issue-1.html");
    assert!(
        html.contains("Hi Bob &lt;script&gt;alert(1)&lt;/script&gt;,"),
        "{html}"
    );
    assert!(!html.contains("<script>"));
    let eml = parse(&std::fs::read(site.path("out/issue-1.eml")).unwrap());
    assert!(
        eml.html
            .contains("Hi Bob &lt;script&gt;alert(1)&lt;/script&gt;,")
    );
    assert!(eml.text.contains("Hi Bob <script>alert(1)</script>,"));
}

#[test]
fn preview_of_a_date_that_is_not_a_slot_says_which_are() {
    let site = Site::new();
    let r = site.run(&["preview", "--date", "2026-12-08"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr.trim(),
        "error: `2026-12-08` is not an issue date of this schedule; the next ones are 2026-12-15 and 2026-12-29"
    );
    let r = site.run(&["preview", "--date", "2026-12-15"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Issue #2 for 2026-12-15"), "{r:?}");
}

#[test]
fn preview_matches_the_later_send_and_rotation_moves_on() {
    let site = Site::new();
    let p1 = site.run(&["preview"]);
    let featured = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with("  - "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(site.run(&["send"]).code, 0);
    let status = site.run(&["status", "--json"]);
    for line in featured(&p1.stdout) {
        let slug = line.rsplit('[').next().unwrap().trim_end_matches(']');
        assert!(status.stdout.contains(slug), "{status:?}");
    }
    // The next preview is issue #2 and features none of issue #1's comparisons.
    let p2 = site.run(&["preview"]);
    assert!(p2.stdout.contains("Issue #2 for 2026-12-15"), "{p2:?}");
    for line in featured(&p2.stdout) {
        assert!(!featured(&p1.stdout).contains(&line), "{line} repeated");
    }
}
