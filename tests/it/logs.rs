//! `--log-format json`: every line on standard error is one JSON object,
//! the send's events carry the issue, the relay and the counts as fields,
//! and no reader's address appears unless `--log-personal` is given.

use crate::common::{Run, SAMPLE_LIST, Site};

/// Every line of `stderr` as a JSON object (fails naming the first that is not).
fn events(r: &Run) -> Vec<serde_json::Map<String, serde_json::Value>> {
    r.stderr
        .lines()
        .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(serde_json::Value::Object(o)) => o,
            _ => panic!("not a JSON object: {l:?}\n{r:?}"),
        })
        .collect()
}

/// The local parts of the sample list's addresses, any case.
fn locals() -> Vec<String> {
    SAMPLE_LIST
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.split('@').next())
        .map(|l| format!("{}@", l.to_lowercase()))
        .collect()
}

#[test]
fn json_logs_parse_line_by_line_carry_fields_and_hold_no_address() {
    let site = Site::new();
    let r = site.run(&["--log-format", "json", "send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let all = events(&r);
    assert!(all.len() >= 4, "{r:?}");
    let lower = r.stderr.to_lowercase();
    for l in locals() {
        assert!(!lower.contains(&l), "`{l}` in the log: {}", r.stderr);
    }
    // The list's row warnings are there, masked.
    assert!(
        r.stderr
            .contains("`<address>` duplicates line 3; row skipped"),
        "{}",
        r.stderr
    );
    let frozen = all
        .iter()
        .find(|e| e.contains_key("recipients"))
        .unwrap_or_else(|| panic!("no frozen event: {}", r.stderr));
    assert_eq!(frozen["issue"], 1);
    assert_eq!(frozen["relay"], "outbox");
    assert_eq!(frozen["recipients"], 4);
    assert_eq!(frozen["level"], "INFO");
    let done = all
        .iter()
        .find(|e| e.contains_key("delivered"))
        .unwrap_or_else(|| panic!("no summary event: {}", r.stderr));
    assert_eq!(
        (
            &done["issue"],
            &done["relay"],
            &done["delivered"],
            &done["failed"]
        ),
        (&1.into(), &"outbox".into(), &4.into(), &0.into()),
        "{done:?}"
    );
    // The environment variable does the same; warnings keep their level.
    let r = crate::common::to_run(
        site.command(&["check"])
            .env("TIPSHEET_LOG_FORMAT", "json")
            .output()
            .unwrap(),
    );
    assert!(events(&r).iter().any(|e| e["level"] == "WARN"), "{r:?}");
    assert!(!r.stderr.contains("bob@example.com"), "{r:?}");
}

#[test]
fn log_personal_writes_the_addresses() {
    let site = Site::new();
    let r = site.run(&["--log-format", "json", "--log-personal", "check"]);
    let _ = events(&r);
    assert!(
        r.stderr.contains("`bob@example.com` duplicates line 3"),
        "{}",
        r.stderr
    );
}
