//! Sign-up state is kept only as long as promised, and given to the reader:
//! the time a confirmation mail went out is in `subscribers show --json` and
//! the web download (through a mailed privacy link) while the store keeps
//! it, and once its hour is over the next `serve` deletes it, with the
//! counters and the spent links past their expiry, on both engines.

use crate::common::Site;
use crate::engine::{Bench, Engine, on_both_engines};
use crate::reader_links::{act, request_link, shown};
use crate::server::{Serve, post_form, wait_for};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn sign_up(serve: &Serve, site: &Site, email: &str, mails: usize) {
    let r = post_form(
        &serve.url("/subscribe"),
        &[("email", email), ("name", "Nia")],
    );
    assert_eq!(r.status, 200, "{r:?}");
    wait_for("the confirmation in the outbox", || {
        (site.emls("state/outbox/confirmations").len() == mails).then_some(())
    });
}

/// Rows of the sign-up state tables (`rate_limits`, `spent_confirmations`)
/// matching `filter`, on either engine.
fn rows(site: &Bench, table: &str, filter: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table} WHERE {filter}");
    match &site.db {
        Some(db) => db.count(&sql),
        None => {
            let ledger = rusqlite::Connection::open(site.path("state/tipsheet.sqlite3")).unwrap();
            ledger.query_row(&sql, [], |r| r.get(0)).unwrap()
        }
    }
}

fn the_confirmation_time_is_exported_and_forgotten_after_the_hour(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    let serve = Serve::start(&site);
    sign_up(&serve, &site, "n.i.a+news@gmail.com", 1);
    // Served from a clock that starts at `NOW` (2026-11-26T12:00:00Z). Nia is
    // not on the list, but the store holds her confirmation: she is mailed
    // a link, and the download shows it.
    let link = request_link(&serve, &site, "n.i.a+news@gmail.com");
    let v = json(&act(&serve, &link, "download").body);
    let at = v["confirmation_sent_at"].as_str().unwrap_or_default();
    assert!(at.starts_with("2026-11-26T12:0"), "{v}");
    assert!(v["list"].as_array().unwrap().is_empty(), "{v}");
    // The limit is kept by canonical mailbox: every spelling reads it.
    assert_eq!(
        shown(&site, "nia@googlemail.com")["confirmation_sent_at"],
        at
    );
    assert!(shown(&site, "ana@example.com")["confirmation_sent_at"].is_null());
    // Spent by a deletion: the link's row stays until the link expires.
    assert!(act(&serve, &link, "delete").body.contains("deleted"));
    drop(serve);
    // The erasure took the mailbox's rows with it (kept under its keyed
    // hash, never in clear); the client's and the total's count on, and so
    // does the spent link.
    assert_eq!(
        rows(&site, "rate_limits", "scope IN ('confirm', 'privacy')"),
        0
    );
    assert!(rows(&site, "rate_limits", "scope = 'client'") > 0);
    assert_eq!(rows(&site, "spent_confirmations", "true"), 1);
    let text = site.run(&["subscribers", "show", "zed@example.com"]);
    assert!(!text.stdout.contains("sign-up:"), "{text:?}");

    let later = Serve::start(&site);
    sign_up(&later, &site, "zed@example.com", 3);
    let shown_zed = site.run(&["subscribers", "show", "zed@example.com"]);
    assert!(
        shown_zed
            .stdout
            .contains("sign-up: a confirmation mail was sent at 2026-11-26T12:0"),
        "{shown_zed:?}"
    );
    drop(later);
    // Two hours later, `serve` deletes every row whose hour is over (and
    // the spent link, whose own hour is over) before its first request.
    let later = Serve::at(&site, "2026-11-26T14:00:00Z");
    assert_eq!(rows(&site, "rate_limits", "true"), 0);
    assert_eq!(rows(&site, "spent_confirmations", "true"), 0);
    assert!(shown(&site, "zed@example.com")["confirmation_sent_at"].is_null());
    drop(later);
}

on_both_engines!(the_confirmation_time_is_exported_and_forgotten_after_the_hour);
