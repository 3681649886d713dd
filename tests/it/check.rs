//! `tipsheet check`: exit codes and exact diagnostics.

use crate::common::Site;

fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn shipped_site_is_clean_with_row_warnings() {
    let site = Site::new();
    let r = site.run(&["check"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        lines_with(&r.stderr, "subscribers.csv"),
        [
            "subscribers/subscribers.csv:4: warning: `bob@example.com` duplicates line 3; row skipped",
            "subscribers/subscribers.csv:7: warning: `bad@@example.com` is not a valid email address (it has more than one `@`); row skipped",
            "subscribers/subscribers.csv:8: warning: `not-a-date` in `subscribed_at` is not a date (use RFC 3339 like 2026-09-14T10:22:00Z, or YYYY-MM-DD); row skipped",
        ],
        "{r:?}"
    );
    assert!(r.stderr.contains(
        "content/comparisons/marketing-manager-vs-brand-manager.md:1: warning: no `url`"
    ));
    assert!(r.stderr.contains(
        "content/comparisons/executive-assistant-vs-administrative-assistant.md:11: warning: role `Administrative Assistant` has no salary"
    ), "{r:?}");
    assert!(r.stdout.starts_with("check: 0 errors, "), "{r:?}");
    assert!(r.stdout.contains("(9 comparisons, 7 tips)"), "{r:?}");
}

#[test]
fn broken_content_is_an_error_with_file_line_and_fix() {
    let site = Site::new();
    site.write(
        "content/comparisons/broken.md",
        "title = \"No front matter\"\n",
    );
    site.write(
        "content/comparisons/dup.md",
        &site
            .read("content/comparisons/paralegal-vs-legal-assistant.md")
            .replace(
                "title = \"Paralegal vs. Legal Assistant\"",
                "title = \"Copy\"",
            ),
    );
    site.write(
        "content/tips/bad-toml.md",
        "+++\ntitle = \"Unclosed\npublished = \"2026-01-01\"\n+++\nBody.\n",
    );
    let r = site.run(&["check"]);
    assert_eq!(r.code, 1, "{r:?}");
    let errors = lines_with(&r.stderr, ": error: ");
    assert!(errors.contains(&"content/comparisons/broken.md:1: error: missing front matter: the file must start with a line `+++`, then TOML, then `+++` (did you forget `+++`?)"), "{r:?}");
    assert!(
        errors.iter().any(|l| l.starts_with("content/comparisons/paralegal-vs-legal-assistant.md:3: error: slug `paralegal-vs-legal-assistant` is already used by `content/comparisons/dup.md`")),
        "{r:?}"
    );
    assert!(
        errors
            .iter()
            .any(|l| l.starts_with("content/tips/bad-toml.md:2: error: front matter:")),
        "{r:?}"
    );
    assert!(r.stdout.starts_with("check: 3 errors,"), "{r:?}");
}

#[test]
fn bad_config_names_file_line_and_key() {
    let site = Site::new();
    site.config("every_weeks = 2", "every_weeks = 2\ncolour = \"blue\"");
    let r = site.run(&["check"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .starts_with("error: config.toml:40: unknown field `colour`"),
        "{r:?}"
    );
    // Every other command refuses a bad config with the usage exit code.
    let r = site.run(&["send"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("unknown field `colour`"), "{r:?}");
    assert!(!site.path("state/tipsheet.sqlite3").exists());
}

#[test]
fn a_title_with_a_line_break_is_refused() {
    let site = Site::new();
    let p = "content/comparisons/ux-designer-vs-ui-designer.md";
    site.write(
        p,
        &site.read(p).replace(
            "title = \"UX Designer vs. UI Designer\"",
            "title = \"UX Designer\\r\\nBcc: victim@example.com\"",
        ),
    );
    let r = site.run(&["check"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("{p}:2: error: `title` must be one non-empty line")),
        "{r:?}"
    );
}
