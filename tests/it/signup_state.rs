//! Sign-up state is kept only as long as promised, and given to the reader:
//! the time a confirmation mail went out is in `subscribers show --json` and
//! the web download while the store keeps it, and on PostgreSQL an expired
//! row is deleted by the next sign-up.

use tipsheet::mail::token::{Signer, encode_query};

use crate::common::{SECRET, Site};
use crate::engine::{Bench, Engine, on_both_engines};
use crate::server::{Serve, get, post_form, wait_for};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The reader's own download, through their unsubscribe token.
fn download(serve: &Serve, email: &str) -> serde_json::Value {
    let token = Signer::new(SECRET.as_bytes()).unsubscribe_token(email);
    let url = format!(
        "/privacy/data?e={}&t={}",
        encode_query(email),
        encode_query(&token)
    );
    let r = get(&serve.url(&url));
    assert_eq!(r.status, 200, "{r:?}");
    json(&r.body)
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

fn the_confirmation_time_is_exported_and_forgotten_after_the_hour(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    let serve = Serve::start(&site);
    sign_up(&serve, &site, "nia@example.com", 1);
    // Served from a clock that starts at `NOW` (2026-11-26T12:00:00Z).
    let v = download(&serve, "nia@example.com");
    let at = v["confirmation_sent_at"].as_str().unwrap_or_default();
    assert!(at.starts_with("2026-11-26T12:0"), "{v}");
    assert!(v["list"].as_array().unwrap().is_empty(), "{v}");
    assert!(download(&serve, "ana@example.com")["confirmation_sent_at"].is_null());
    drop(serve);

    let Some(db) = &site.db else {
        return; // The embedded engine keeps it in `serve`'s memory only.
    };
    let shown = site.run(&["subscribers", "show", "nia@example.com", "--json"]);
    assert_eq!(shown.code, 0, "{shown:?}");
    assert_eq!(json(&shown.stdout)["confirmation_sent_at"], at, "{shown:?}");
    let text = site.run(&["subscribers", "show", "nia@example.com"]);
    assert!(
        text.stdout
            .contains(&format!("sign-up: a confirmation mail was sent at {at}")),
        "{text:?}"
    );

    // Two hours later another sign-up deletes nia's expired row.
    let later = Serve::spawn(&mut site.command(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--now",
        "2026-11-26T14:00:00Z",
    ]));
    sign_up(&later, &site, "zed@example.com", 2);
    let rows = |email: &str| {
        db.count(&format!(
            "SELECT count(*) FROM confirmations WHERE email = '{email}'"
        ))
    };
    assert_eq!(rows("nia@example.com"), 0);
    assert_eq!(rows("zed@example.com"), 1);
    assert!(download(&later, "nia@example.com")["confirmation_sent_at"].is_null());
}

on_both_engines!(the_confirmation_time_is_exported_and_forgotten_after_the_hour);
