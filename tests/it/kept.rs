//! What `serve` keeps between requests, over real sockets: the suppression
//! list (read again only when its file changes, so an unsubscribe is seen by
//! the next request and the next send, and a file changed by another process
//! is picked up), one-click unsubscribes committed in groups (concurrent
//! clicks all land, each address once), and the archive's pages (validators
//! and 304, an issue sent later appears at once, an edited content file is
//! picked up).

use tipsheet::mail::token::Signer;

use crate::common::{SECRET, Site, parse};
use crate::engine::{Bench, Engine, on_both_engines};
use crate::server::{Serve, get, one_click, unsubscribe_path, wait_for};

const READERS: [&str; 4] = [
    "ana@example.com",
    "bob@example.com",
    "carol@example.com",
    "erin@example.com",
];

fn link(serve: &Serve, email: &str) -> String {
    let token = Signer::new(SECRET.as_bytes()).unsubscribe_token(email);
    serve.url(&unsubscribe_path(email, &token))
}

/// Whether the unsubscribe page for `email` says it already is unsubscribed.
fn shows_unsubscribed(serve: &Serve, email: &str) -> bool {
    let page = get(&link(serve, email));
    assert_eq!(page.status, 200, "{page:?}");
    page.body.contains("already unsubscribed")
}

fn recipients_of(site: &Site, slot: &str) -> Vec<String> {
    let mut to: Vec<String> = site
        .emls(&format!("state/outbox/{slot}"))
        .iter()
        .map(|m| parse(m).to.to_lowercase())
        .collect();
    to.sort();
    to
}

fn an_unsubscribe_is_seen_by_the_next_request_and_the_next_send(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    let serve = Serve::start(&site);
    // Looked up once: the list is now held by the server.
    assert!(!shows_unsubscribed(&serve, "ana@example.com"));
    let r = one_click(&link(&serve, "ana@example.com"));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(shows_unsubscribed(&serve, "ana@example.com"));
    assert!(!shows_unsubscribed(&serve, "bob@example.com"));
    assert_eq!(site.run(&["send"]).code, 0);
    assert_eq!(
        recipients_of(&site, "2026-12-01"),
        ["bob@example.com", "carol@example.com", "erin@example.com"]
    );
}

fn concurrent_one_click_unsubscribes_all_land_once(engine: Engine, test: &str) {
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    assert_eq!(site.run(&["send"]).code, 0);
    let serve = Serve::start(&site);
    // Eight clicks for each reader, all at once.
    let clicks: Vec<_> = (0..8)
        .flat_map(|_| READERS.map(|e| link(&serve, e)))
        .map(|url| std::thread::spawn(move || one_click(&url).status))
        .collect();
    for c in clicks {
        assert_eq!(c.join().unwrap(), 200);
    }
    let rows = site.suppressed();
    for email in READERS {
        let of = rows.iter().filter(|(e, _)| e.to_lowercase() == email);
        assert_eq!(of.count(), 1, "{email}: {rows:?}");
    }
    let st = site.run(&["status"]);
    assert!(st.stdout.contains("4 unsubscribed"), "{st:?}");
    assert_eq!(
        serve.stderr().matches("unsubscribed `").count(),
        4,
        "{}",
        serve.stderr()
    );
}

on_both_engines!(
    an_unsubscribe_is_seen_by_the_next_request_and_the_next_send,
    concurrent_one_click_unsubscribes_all_land_once,
);

#[test]
fn the_suppression_file_changed_by_another_process_is_picked_up() {
    let site = Site::new();
    let serve = Serve::start(&site);
    assert!(!shows_unsubscribed(&serve, "bob@example.com"));
    // Another process appends (as `tipsheet inbound` would).
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(site.path("subscribers/suppressed.csv"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"bob@example.com,complaint,2026-11-30T10:00:00Z\n").unwrap();
    drop(f);
    assert!(shows_unsubscribed(&serve, "bob@example.com"));
    let text = site.read("subscribers/suppressed.csv");
    // A rewrite (a new file in its place, as an erasure or an editor makes).
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("bob@"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(site.path("subscribers/suppressed.csv.new"), kept).unwrap();
    std::fs::rename(
        site.path("subscribers/suppressed.csv.new"),
        site.path("subscribers/suppressed.csv"),
    )
    .unwrap();
    assert!(!shows_unsubscribed(&serve, "bob@example.com"));
    let r = one_click(&link(&serve, "bob@example.com"));
    assert_eq!(r.status, 200, "{r:?}");
    let text = site.read("subscribers/suppressed.csv");
    assert_eq!(text.matches("bob@example.com").count(), 1, "{text}");
    assert!(text.contains("SAM@example.com"), "{text}");
}

fn get_with(url: &str, headers: &[(&str, &str)]) -> (u16, Option<String>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut r = req.call().unwrap();
    let etag = r
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    (
        r.status().as_u16(),
        etag,
        r.body_mut().read_to_string().unwrap(),
    )
}

#[test]
fn archive_pages_are_kept_with_validators_and_follow_the_ledger() {
    let site = Site::new();
    let serve = Serve::start(&site);
    assert_eq!(get(&serve.url("/issues/1")).status, 404);
    assert_eq!(site.run(&["send"]).code, 0);

    // Sent since the server started: there at the first request.
    let first = get(&serve.url("/issues/1"));
    assert_eq!(first.status, 200, "{first:?}");
    let etag = first.headers["etag"].clone();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    assert!(first.headers["cache-control"].starts_with("public"));
    let modified = first.headers["last-modified"].clone();
    assert!(modified.ends_with(" GMT"), "{modified}");

    // The client's copy is current: 304, no body, the same validators.
    let (status, again, body) = get_with(&serve.url("/issues/1"), &[("If-None-Match", &etag)]);
    assert_eq!(
        (status, again.as_deref(), body.as_str()),
        (304, Some(etag.as_str()), "")
    );
    let (status, _, _) = get_with(
        &serve.url("/issues/1"),
        &[("If-None-Match", "W/\"other\", \"more\"")],
    );
    assert_eq!(status, 200);
    let (status, _, _) = get_with(&serve.url("/issues/1"), &[("If-Modified-Since", &modified)]);
    assert_eq!(status, 304);
    let (status, _, _) = get_with(
        &serve.url("/issues/1"),
        &[("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")],
    );
    assert_eq!(status, 200);
    assert_eq!(get(&serve.url("/issues/1")).body, first.body);

    // The archive and its feed validate the same way.
    for path in ["/issues/", "/issues/feed.xml"] {
        let r = get(&serve.url(path));
        let (status, _, _) = get_with(&serve.url(path), &[("If-None-Match", &r.headers["etag"])]);
        assert_eq!(status, 304, "{path}");
    }

    // A later issue is there at once, in the archive too.
    assert_eq!(site.run(&["send", "--date", "2026-12-15"]).code, 0);
    let second = get(&serve.url("/issues/2"));
    assert_eq!(second.status, 200, "{second:?}");
    assert!(second.body.contains("Issue #2"), "{second:?}");
    assert!(get(&serve.url("/issues/")).body.contains("<a href=\"2\">"));

    // An edited content file is picked up (checked once a second).
    let dir = site.path("content/tips");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("the", "the edited")).unwrap();
    }
    let edited = wait_for("the edited page", || {
        let r = get(&serve.url("/issues/1"));
        (r.headers["etag"] != etag).then_some(r)
    });
    assert!(edited.body.contains("the edited"), "{edited:?}");
}
