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

/// The rules SpamAssassin (local tests only, `spamassassin -L -t`) fires on
/// `eml`, with their scores; `None` when `spamassassin` is not installed.
pub fn spamassassin_rules(eml: &[u8]) -> Option<Vec<(f64, String)>> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    // Its user preferences go to a throwaway home, not the tester's.
    let home = tempfile::tempdir().unwrap();
    let mut child = match Command::new("spamassassin")
        .args(["-L", "-t"])
        .env("HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot run spamassassin: {e}"),
    };
    child.stdin.take().unwrap().write_all(eml).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let (_, table) = report
        .split_once("Content analysis details:")
        .unwrap_or_else(|| {
            panic!(
                "spamassassin wrote no report (exit {:?}):\n{report}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
    // Rows look like ` 0.7 HTML_FONT_LOW_CONTRAST BODY: ...`; wrapped
    // descriptions continue on lines that start with spaces and no score.
    let rules = table
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let score = words.next()?.parse::<f64>().ok()?;
            let rule = words.next()?;
            rule.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                .then(|| (score, rule.to_string()))
        })
        .collect();
    Some(rules)
}

/// Fails naming every rule with a positive score; prints a skip line when
/// SpamAssassin is not installed (`.ci/run` installs it).
pub fn assert_no_spam_rule(what: &str, eml: &[u8]) {
    let Some(rules) = spamassassin_rules(eml) else {
        eprintln!(
            "SKIPPED spam check of {what}: `spamassassin` is not installed (apt-get install spamassassin)"
        );
        return;
    };
    // Every tipsheet mail has an HTML part: a report without this rule was misread.
    assert!(
        rules.iter().any(|(_, r)| r == "HTML_MESSAGE"),
        "spamassassin's report lists no HTML_MESSAGE: {rules:?}"
    );
    let positive: Vec<String> = rules
        .iter()
        .filter(|(s, _)| *s > 0.0)
        .map(|(s, r)| format!("{r} ({s})"))
        .collect();
    assert!(
        positive.is_empty(),
        "spamassassin scores {what} with {}",
        positive.join(", ")
    );
}

#[test]
fn the_shipped_issue_scores_no_spamassassin_rule() {
    let site = Site::new();
    site.write(
        "subscribers/subscribers.csv",
        &std::fs::read_to_string(crate::common::repo().join("subscribers/subscribers.csv"))
            .unwrap(),
    );
    let r = site.run(&["preview"]);
    assert_eq!(r.code, 0, "{r:?}");
    let eml = std::fs::read(site.path("state/preview/issue-1.eml")).unwrap();
    assert_no_spam_rule("the shipped issue #1", &eml);
}
