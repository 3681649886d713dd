//! `/metrics` and `/healthz?deep=1`: Prometheus' own `promtool check metrics`
//! accepts the page (Debian's `prometheus`; `.ci/run` installs it, the test
//! prints a SKIP line without it), its numbers are `status --json`'s after a
//! send, it is closed without the credential, and `run` serves it too.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use crate::common::Site;
use crate::server::{ADMIN_TOKEN, Serve, get, get_with};

const METRICS_TOKEN: &str = "the-metrics-token";

/// `name{labels}` → value, every sample of the page.
pub(crate) fn samples(page: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// Runs `promtool check metrics` on `page`; `false` (after a SKIP line)
/// when promtool is not installed.
pub(crate) fn promtool_accepts(page: &str) -> bool {
    use std::io::Write as _;
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "promtool check SKIPPED: promtool is not installed (`apt-get install prometheus`; .ci/run does it)"
            );
            return false;
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics refused the page:\n{}{}\n{page}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[test]
fn metrics_match_status_after_a_send_parse_with_promtool_and_need_the_credential() {
    let site = Site::new();
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let status = site.run(&["status", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let latest = rows.as_array().unwrap().last().unwrap().clone();

    let server = Serve::spawn(
        site.command(&["serve", "--listen", "127.0.0.1:0"])
            .env("TIPSHEET_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("TIPSHEET_METRICS_TOKEN", METRICS_TOKEN),
    );
    let url = server.url("/metrics");
    let open = get(&url);
    assert_eq!(open.status, 401, "{open:?}");
    assert_eq!(
        open.headers.get("www-authenticate").map(String::as_str),
        Some("Bearer realm=\"tipsheet metrics\"")
    );
    assert_eq!(
        get_with(&url, &[("Authorization", "Bearer wrong")]).status,
        401
    );
    let admin = get_with(&url, &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))]);
    assert_eq!(admin.status, 200, "{admin:?}");
    let page = get_with(
        &url,
        &[("Authorization", &format!("Bearer {METRICS_TOKEN}"))],
    );
    assert_eq!(page.status, 200, "{page:?}");
    promtool_accepts(&page.body);

    let m = samples(&page.body);
    let counts = latest["counts"].as_object().unwrap();
    assert!(!counts.is_empty(), "{latest}");
    for (status, n) in counts {
        let n = n.as_f64().unwrap();
        assert_eq!(
            m.get(&format!("tipsheet_issue_recipients{{status=\"{status}\"}}")),
            Some(&n),
            "{status}: {}",
            page.body
        );
        assert_eq!(
            m.get(&format!("tipsheet_messages{{status=\"{status}\"}}")),
            Some(&n),
            "{status}"
        );
    }
    let number = latest["number"].as_f64().unwrap();
    let slot = latest["slot"].as_str().unwrap();
    assert_eq!(
        m.get(&format!("tipsheet_issue_number{{slot=\"{slot}\"}}")),
        Some(&number)
    );
    assert_eq!(m.get("tipsheet_issue_pending"), Some(&0.0));
    assert_eq!(m.get("tipsheet_store_up"), Some(&1.0));
    assert_eq!(m.get("tipsheet_slot_missed"), Some(&0.0));
    assert_eq!(
        m.get("tipsheet_inbound_events{kind=\"complaint\"}"),
        Some(&0.0)
    );
    assert!(
        m.get("tipsheet_issue_send_duration_seconds")
            .is_some_and(|s| *s >= 0.0)
    );
    // 2026-12-01T14:00Z (09:00 New York): the next slot after `--now`,
    // whose issue went out early.
    assert_eq!(
        m.get("tipsheet_next_slot_timestamp_seconds"),
        Some(&1_796_133_600.0)
    );
    assert_eq!(get(&server.url("/healthz?deep=1")).body, "ok");
}

#[test]
fn deep_health_fails_while_the_latest_slot_is_missed_and_recovers_once_it_is_sent() {
    let site = Site::new();
    // Issue #1 (2026-12-01 14:00 UTC, 6 h of grace) not sent by the next morning.
    let now = "2026-12-02T08:00:00Z";
    let server =
        Serve::spawn(&mut site.command(&["--now", now, "serve", "--listen", "127.0.0.1:0"]));
    assert_eq!(get(&server.url("/healthz")).body, "ok");
    let deep = get(&server.url("/healthz?deep=1"));
    assert_eq!(deep.status, 503, "{deep:?}");
    assert_eq!(
        deep.body,
        "slot 2026-12-01 was missed: its grace period passed and its issue is not sent (`tipsheet send --date 2026-12-01` sends it)\n"
    );
    let r = site.run(&["--now", now, "send", "--date", "2026-12-01"]);
    assert_eq!(r.code, 0, "{r:?}");
    let deep = get(&server.url("/healthz?deep=1"));
    assert_eq!((deep.status, deep.body.as_str()), (200, "ok"));
}

#[test]
fn run_serves_metrics_on_its_own_listener_behind_the_credential() {
    let site = Site::new();
    site.config(
        "metrics_token_env = \"TIPSHEET_METRICS_TOKEN\"",
        "metrics_token_env = \"TIPSHEET_METRICS_TOKEN\"\nmetrics_listen = \"127.0.0.1:0\"",
    );
    let (mut child, log, _rest) = site.spawn_until_with(
        &["run"],
        "metrics on ",
        &[("TIPSHEET_METRICS_TOKEN", METRICS_TOKEN)],
    );
    let line = log.last().unwrap();
    let url = line.split("metrics on ").nth(1).unwrap().trim().to_string();
    assert_eq!(get(&url).status, 401);
    let page = get_with(
        &url,
        &[("Authorization", &format!("Bearer {METRICS_TOKEN}"))],
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.contains("\ntipsheet_store_up 1\n"),
        "{}",
        page.body
    );
    promtool_accepts(&page.body);
}

#[test]
fn metrics_show_each_relay_and_what_is_left_of_the_caps() {
    let (a, b) = (crate::relays::server(), crate::relays::server());
    let site = Site::new();
    site.write("subscribers/subscribers.csv", &crate::common::list("m", 30));
    site.write("subscribers/suppressed.csv", "email,reason,at\n");
    crate::relays::use_relays(&site, &[("main", a.port, 1), ("spare", b.port, 1)], 2);
    site.config("max_per_hour = 0", "max_per_hour = 10");
    site.config("max_per_day = 0", "max_per_day = 25");
    let r = site.run(&["send", "--date", "2026-12-01"]);
    assert_eq!(r.code, 7, "{r:?}");
    assert_eq!((a.count(), b.count()), (5, 5));
    let server = Serve::spawn(
        site.command(&["serve", "--listen", "127.0.0.1:0"])
            .env("TIPSHEET_METRICS_TOKEN", METRICS_TOKEN),
    );
    let page = get_with(
        &server.url("/metrics"),
        &[("Authorization", &format!("Bearer {METRICS_TOKEN}"))],
    );
    assert_eq!(page.status, 200, "{page:?}");
    promtool_accepts(&page.body);
    let m = samples(&page.body);
    for (name, want) in [
        ("tipsheet_quota_cap{window=\"hour\"}", 10.0),
        ("tipsheet_quota_remaining{window=\"hour\"}", 0.0),
        ("tipsheet_quota_cap{window=\"day\"}", 25.0),
        ("tipsheet_quota_remaining{window=\"day\"}", 15.0),
        ("tipsheet_relay_messages{relay=\"main\"}", 5.0),
        ("tipsheet_relay_messages{relay=\"spare\"}", 5.0),
        // `serve`'s own relays (for its one-off mails), none backing off.
        ("tipsheet_relay_up{relay=\"main\"}", 1.0),
        ("tipsheet_relay_up{relay=\"spare\"}", 1.0),
    ] {
        assert_eq!(m.get(name), Some(&want), "{name}: {}", page.body);
    }
}

/// The alert rules docs/metrics.md offers pass `promtool check rules`.
#[test]
fn the_documented_alert_rules_pass_promtool() {
    let doc = std::fs::read_to_string(crate::common::repo().join("docs/metrics.md")).unwrap();
    let rules = doc
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("groups:"))
        .expect("a yaml block of rules in docs/metrics.md");
    assert!(rules.contains("alert: TipsheetSlotMissed"), "{rules}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tipsheet.yml");
    std::fs::write(&path, rules).unwrap();
    let out = match Command::new("promtool")
        .args(["check", "rules"])
        .arg(&path)
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "promtool check SKIPPED: promtool is not installed (`apt-get install prometheus`; .ci/run does it)"
            );
            return;
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "promtool check rules refused docs/metrics.md's rules:\n{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("SUCCESS: 6 rules found"), "{said}");
}
