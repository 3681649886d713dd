//! A subscriber list that cannot be read whole (a `"` left open, a row over
//! the size cap) stops `check` with exit 1 and `send`, `send --if-due` and
//! `run` before anything is frozen or sent; a valid multi-line name is fine.

use crate::common::{Run, Site};

const LIST_PATH: &str = "subscribers/subscribers.csv";

/// Ten good rows, with `torn` put in place of row `at` (1-based, after the header).
fn list_with(at: usize, torn: &str) -> String {
    let mut out = String::from("email,name,subscribed_at\n");
    for i in 1..=10 {
        if i == at {
            out.push_str(torn);
        } else {
            out.push_str(&format!("reader{i}@example.com,Reader {i},2026-10-01\n"));
        }
    }
    out
}

fn outbox_is_empty(site: &Site, what: &str, r: &Run) {
    assert!(
        site.emls("state/outbox").is_empty(),
        "{what} sent mail: {r:?}"
    );
}

/// No recipient was frozen: the ledger (if any) has no recipient rows.
fn nobody_frozen(site: &Site) {
    let path = site.path("state/tipsheet.sqlite3");
    if !path.exists() {
        return;
    }
    let ledger = crate::common::embedded_store(&site.path(""));
    assert_eq!(
        crate::common::block_on(
            ledger.counts(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
        )
        .unwrap()
        .total(),
        0
    );
}

fn assert_refused(site: &Site, first: usize, last: usize) {
    let check = site.run(&["check"]);
    assert_eq!(check.code, 1, "{check:?}");
    let want = format!(
        "{LIST_PATH}:{first}: error: this row runs from line {first} to line {last} and is not one valid row"
    );
    assert!(check.stderr.contains(&want), "wanted {want:?}: {check:?}");
    assert!(
        check
            .stderr
            .contains("is a `\"` quote left open? close or remove it"),
        "{check:?}"
    );
    let send = site.run(&["send"]);
    assert_eq!(send.code, 2, "{send:?}");
    assert!(send.stderr.starts_with("error: "), "{send:?}");
    assert!(
        send.stderr
            .contains(&format!("{LIST_PATH}:{first}: this row runs")),
        "{send:?}"
    );
    outbox_is_empty(site, "send", &send);
    nobody_frozen(site);
    let due = site.run(&["send", "--if-due", "--now", "2026-12-01T14:30:00Z"]);
    assert_eq!(due.code, 2, "{due:?}");
    outbox_is_empty(site, "send --if-due", &due);
    nobody_frozen(site);
}

#[test]
fn an_open_quote_near_the_start_is_an_error_and_nothing_is_sent() {
    let site = Site::new();
    site.write(
        LIST_PATH,
        &list_with(1, "jo@example.com,\"Jo Smith,2026-10-01\n"),
    );
    // Row 1 is line 2; the quote runs to the end of the file (line 11).
    assert_refused(&site, 2, 11);
}

#[test]
fn an_open_quote_in_the_middle_is_an_error_and_nothing_is_sent() {
    let site = Site::new();
    // The quote closes at a later quoted name: the swallowed rows sit in one field.
    let mut list = list_with(4, "jo@example.com,\"Jo Smith,2026-10-01\n");
    list = list.replace(
        "reader8@example.com,Reader 8,",
        "reader8@example.com,\"Reader 8\",",
    );
    site.write(LIST_PATH, &list);
    assert_refused(&site, 5, 9);
}

#[test]
fn an_open_quote_near_the_end_is_an_error_and_nothing_is_sent() {
    let site = Site::new();
    site.write(
        LIST_PATH,
        &list_with(9, "jo@example.com,\"Jo Smith,2026-10-01\n"),
    );
    assert_refused(&site, 10, 11);
}

#[test]
fn run_refuses_to_freeze_a_torn_list_and_sends_nothing() {
    let site = Site::new();
    site.write(
        LIST_PATH,
        &list_with(1, "jo@example.com,\"Jo Smith,2026-10-01\n"),
    );
    let (mut child, log, _) = site.spawn_until(
        &["run", "--now", "2026-12-01T14:00:00Z"],
        "retrying while within grace",
    );
    let failed = log.last().unwrap();
    assert!(
        failed.contains("issue #1 failed: ")
            && failed.contains("this row runs from line 2 to line 11"),
        "{log:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(site.emls("state/outbox").is_empty(), "{log:?}");
    nobody_frozen(&site);
}

#[test]
fn a_list_cut_off_by_a_row_over_the_cap_is_fatal_for_check_and_send() {
    let site = Site::new();
    let huge = format!("big@example.com,\"{}\",\n", "N".repeat(17 * 1024 * 1024));
    site.write(LIST_PATH, &list_with(3, &huge));
    let check = site.run(&["check"]);
    assert_eq!(check.code, 1, "{}", check.stdout);
    assert!(
        check.stderr.contains(&format!(
            "{LIST_PATH}: error: `{LIST_PATH}`:4: row is longer than"
        )),
        "{}",
        &check.stderr[..check.stderr.len().min(2000)]
    );
    let send = site.run(&["send"]);
    assert_eq!(send.code, 2, "{}", send.stdout);
    assert!(
        send.stderr.contains("row is longer than"),
        "{}",
        send.stderr.len()
    );
    assert!(site.emls("state/outbox").is_empty());
    nobody_frozen(&site);
}

#[test]
fn a_valid_multi_line_quoted_name_is_fine() {
    let site = Site::new();
    site.write(
        LIST_PATH,
        &list_with(5, "jo@example.com,\"Jo\nSmith\",2026-10-01\n"),
    );
    let check = site.run(&["check"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(!check.stderr.contains(LIST_PATH), "{check:?}");
    let send = site.run(&["send"]);
    assert_eq!(send.code, 0, "{send:?}");
    assert!(send.stdout.contains(": 10 delivered, 0 failed"), "{send:?}");
    let jo = site
        .emls("state/outbox")
        .into_iter()
        .map(|raw| crate::common::parse(&raw))
        .find(|m| m.to == "jo@example.com")
        .expect("jo got the issue");
    assert!(jo.text.contains("Jo Smith"), "{}", jo.text);
}
