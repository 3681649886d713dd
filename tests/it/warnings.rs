//! The console's warnings of what the store keeps for it: a provider paused
//! by a real send over SMTP (the row kept, the dashboard and the issue page
//! naming it, the warning changed once a later run mails everyone), and a
//! feed whose last fetch over HTTP failed (a 500, then an answer that is no
//! feed), warned about until a fetch reads it again; on both engines, and the
//! store's side of both on its own.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use mailin_embedded::response::Response as Reply;
use tipsheet::store::{FeedOutcome, PauseRecord, Store, StoreSettings, StoreUrl};

use crate::common::{Site, block_on, embedded_store};
use crate::console::{Browser, PASSWORD, add};
use crate::engine::{Bench, Engine, SLOT, on_both_engines};
use crate::server::Serve;
use crate::smtp_server::{FaultServer, Wire};

on_both_engines!(
    a_paused_provider_is_kept_and_the_dashboard_and_issue_page_name_it,
    a_feed_that_failed_is_warned_about_until_a_fetch_reads_it_again,
);

const BLOCKED: &str = "5.7.1 client host [203.0.113.5] blocked using zen.spamhaus.org";

/// Refuses every reader at `blocked.example` with a blocklisting.
fn refuse_blocked_example(to: &str, _: u32) -> Option<Reply> {
    to.ends_with("@blocked.example")
        .then(|| Reply::custom(554, BLOCKED.into()))
}

/// The `/metrics` page, read with the admin token and checked by promtool:
/// each sample's value by its name and labels.
fn metrics(serve: &Serve) -> std::collections::BTreeMap<String, f64> {
    let page = crate::server::reply(
        crate::server::agent()
            .get(&serve.url("/metrics"))
            .header(
                "Authorization",
                &format!("Bearer {}", crate::server::ADMIN_TOKEN),
            )
            .call(),
    );
    assert_eq!(page.status, 200, "{page:?}");
    crate::metrics::promtool_accepts(&page.body);
    crate::metrics::samples(&page.body)
}

/// The dashboard's warnings, as text.
fn warnings(b: &Browser) -> Vec<String> {
    let page = b.get("/admin");
    assert_eq!(page.status, 200, "{page:?}");
    let Some(start) = page.body.find("<section class=\"warnings\"") else {
        return Vec::new();
    };
    let section = &page.body[start..];
    let section = &section[..section.find("</section>").unwrap()];
    section
        .split("<li>")
        .skip(1)
        .map(|li| {
            li.split("</li>")
                .next()
                .unwrap()
                .replace("&#x27;", "'")
                .replace("&#39;", "'")
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

/// The pauses kept for the first issue: (provider, refusals, left pending).
fn pauses(site: &Bench) -> Vec<(Option<String>, u64, u64)> {
    match &site.db {
        None => block_on(embedded_store(&site.path("")).pauses(SLOT.parse().unwrap()))
            .unwrap()
            .into_iter()
            .map(|p| (p.provider, u64::from(p.refusals), p.left))
            .collect(),
        Some(db) => db
            .query(&format!(
                "SELECT provider, refusals, left_pending FROM pauses WHERE slot = '{SLOT}' ORDER BY id"
            ))
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get::<_, i64>(1) as u64,
                    r.get::<_, i64>(2) as u64,
                )
            })
            .collect(),
    }
}

fn a_paused_provider_is_kept_and_the_dashboard_and_issue_page_name_it(engine: Engine, test: &str) {
    let server = FaultServer::start(Wire {
        rcpt: Some(refuse_blocked_example),
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 2);
    let mut list = String::from("email,name\n");
    for i in 0..30 {
        list.push_str(&format!("r{i:02}@blocked.example,Reader {i}\n"));
    }
    for i in 0..15 {
        list.push_str(&format!("r{i:02}@fine.example,Fine {i}\n"));
    }
    site.write("subscribers/subscribers.csv", &list);
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    add(&site, "vic", "viewer");
    let serve = Serve::start(&site);
    let mut b = Browser::new(&serve);
    assert_eq!(b.sign_in("vic", PASSWORD).status, 303);
    let before = warnings(&b);
    assert!(!before.iter().any(|w| w.contains("paused")), "{before:?}");
    let r = site.run(&["send"]);
    assert_eq!(r.code, 1, "a paused provider leaves readers waiting: {r:?}");
    let pending = site
        .outcome()
        .values()
        .filter(|v| v.starts_with("pending"))
        .count() as u64;
    assert!(pending > 0, "{:?}", site.outcome());
    // The pause is kept, as the run's summary told it.
    assert_eq!(
        pauses(&site),
        [(Some("blocked.example".to_string()), 20, pending)]
    );
    // The dashboard names the provider, the refusals, the reply and who waits,
    // instead of guessing why the send stopped.
    let after = warnings(&b);
    let paused: Vec<&String> = after.iter().filter(|w| w.contains("paused")).collect();
    assert_eq!(paused.len(), 1, "{after:?}");
    let w = paused[0];
    assert!(
        w.starts_with(&format!(
            "Issue #1 of {SLOT}: `blocked.example` paused after 20 refusals in a row at 2026-11-26 "
        )),
        "{w}"
    );
    assert!(w.contains("zen.spamhaus.org"), "{w}");
    assert!(
        w.ends_with(&format!(
            "; {pending} readers wait; `tipsheet send --date {SLOT}` resumes it once the cause is fixed."
        )),
        "{w}"
    );
    assert!(
        !after.iter().any(|w| w.contains("stopped with")),
        "{after:?}"
    );
    // So does `/metrics`, for an alert.
    assert_eq!(
        metrics(&serve).get("tipsheet_issue_paused_readers{provider=\"blocked.example\"}"),
        Some(&(pending as f64))
    );
    // The issue page lists the pause.
    let issue = b.get(&format!("/admin/issues/{SLOT}"));
    assert_eq!(issue.status, 200, "{issue:?}");
    assert!(
        issue.body.contains(&format!(
            "<td>blocked.example</td><td class=\"num\">20</td><td class=\"num\">{pending}</td>"
        )),
        "{issue:?}"
    );
    // The blocklisting is lifted: the next run mails everyone, and the
    // warning says the pause is behind us.
    server.heal();
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        pauses(&site).len(),
        1,
        "the run that did not pause kept none"
    );
    assert!(
        !metrics(&serve)
            .keys()
            .any(|k| k.starts_with("tipsheet_issue_paused_readers")),
        "sent: nobody waits"
    );
    let healed = warnings(&b);
    let paused: Vec<&String> = healed.iter().filter(|w| w.contains("paused")).collect();
    assert_eq!(paused.len(), 1, "{healed:?}");
    assert!(
        paused[0].ends_with("; a later run mailed the readers it left."),
        "{healed:?}"
    );
    assert!(
        !healed.iter().any(|w| w.contains("readers wait")),
        "{healed:?}"
    );
}

/// How the flaky feed answers.
type Mode = Arc<Mutex<&'static str>>;

/// An HTTP server with a feed that always reads (`/good.xml`) and one that
/// answers as `mode` says (`/flaky.xml`): `500`, `garbage` or `ok`.
struct FeedServer {
    base: String,
    mode: Mode,
}

impl FeedServer {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mode: Mode = Arc::new(Mutex::new("500"));
        let state = (base.clone(), mode.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(answer).with_state(state);
                axum::serve(listener, app).await.unwrap();
            });
        });
        FeedServer { base, mode }
    }

    fn set(&self, mode: &'static str) {
        *self.mode.lock().unwrap() = mode;
    }
}

async fn answer(State((base, mode)): State<(String, Mode)>, req: Request) -> Response {
    let respond = |status: StatusCode, kind: &str, body: String| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, kind)
            .body(Body::from(body))
            .unwrap()
    };
    let rss = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>T</title><link>{base}/</link><description>d</description>
<item><title>We moved offices</title><link>{base}/news/offices</link></item>
</channel></rss>"#
    );
    let flaky = *mode.lock().unwrap();
    match (req.uri().path(), flaky) {
        ("/good.xml", _) | ("/flaky.xml", "ok") => {
            respond(StatusCode::OK, "application/rss+xml", rss)
        }
        ("/flaky.xml", "garbage") => respond(
            StatusCode::OK,
            "application/rss+xml",
            "this is not a feed at all".into(),
        ),
        ("/flaky.xml", _) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            "boom".into(),
        ),
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "no".into()),
    }
}

/// The feed outcomes kept: (url, ever read, last error).
fn outcomes(site: &Bench) -> Vec<(String, bool, Option<String>)> {
    match &site.db {
        None => block_on(embedded_store(&site.path("")).feed_outcomes())
            .unwrap()
            .into_iter()
            .map(|o| (o.url, o.succeeded_at.is_some(), o.error))
            .collect(),
        Some(db) => db
            .query("SELECT url, succeeded_at IS NOT NULL, error FROM feed_outcomes ORDER BY url")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect(),
    }
}

fn a_feed_that_failed_is_warned_about_until_a_fetch_reads_it_again(engine: Engine, test: &str) {
    let http = FeedServer::start();
    let base = http.base.clone();
    let (good, flaky) = (format!("{base}/good.xml"), format!("{base}/flaky.xml"));
    let site = Site::new();
    site.config(
        "excerpt_section = \"duties\"\n",
        &format!(
            "excerpt_section = \"duties\"\n[[content.feeds]]\nurl = \"{good}\"\n[[content.feeds]]\nurl = \"{flaky}\"\n"
        ),
    );
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    add(&site, "vic", "viewer");
    let serve = Serve::start(&site);
    let mut b = Browser::new(&serve);
    assert_eq!(b.sign_in("vic", PASSWORD).status, 303);
    let feed_warnings = |b: &Browser| -> Vec<String> {
        warnings(b)
            .into_iter()
            .filter(|w| w.starts_with("Feed "))
            .collect()
    };
    assert_eq!(feed_warnings(&b), Vec::<String>::new());
    assert_eq!(metrics(&serve).get("tipsheet_feeds_failing"), Some(&0.0));

    // A 500: the failure is kept and warned about; the good feed is not.
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(metrics(&serve).get("tipsheet_feeds_failing"), Some(&1.0));
    let error_500 = "the server answered `500 Internal Server Error`";
    assert_eq!(
        outcomes(&site),
        [
            (flaky.clone(), false, Some(error_500.to_string())),
            (good.clone(), true, None),
        ]
    );
    let w = feed_warnings(&b);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(&format!("Feed {flaky} failed at 20")),
        "{w:?}"
    );
    assert!(
        w[0].ends_with(&format!(": {error_500}; last fetched never.")),
        "{w:?}"
    );

    // An answer that is no feed: the new error replaces the old one.
    http.set("garbage");
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 1, "{r:?}");
    let w = feed_warnings(&b);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(!w[0].contains("500"), "{w:?}");
    assert!(w[0].ends_with("; last fetched never."), "{w:?}");
    let kept = outcomes(&site);
    let why = kept[0].2.clone().unwrap();
    assert!(w[0].contains(&why), "{w:?} {kept:?}");
    assert!(
        r.stderr.contains(&format!("feed `{flaky}` failed: {why}")),
        "the store keeps what fetch said: {r:?}"
    );

    // Read again: the warning is gone, the error cleared.
    http.set("ok");
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(feed_warnings(&b), Vec::<String>::new());
    assert_eq!(metrics(&serve).get("tipsheet_feeds_failing"), Some(&0.0));
    assert_eq!(
        outcomes(&site),
        [(flaky.clone(), true, None), (good.clone(), true, None)]
    );

    // Failing again, it says when it was last read; a dry run keeps nothing.
    http.set("500");
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 1, "{r:?}");
    let w = feed_warnings(&b);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains(&format!(": {error_500}; last fetched 20")),
        "{w:?}"
    );
    assert!(w[0].ends_with(" UTC."), "{w:?}");
    http.set("ok");
    let r = site.run(&["fetch", "--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(feed_warnings(&b), w, "a dry run records nothing");
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(feed_warnings(&b), Vec::<String>::new());
    // A feed no longer configured is not warned about.
    http.set("500");
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(feed_warnings(&b).len(), 1);
    site.config(&format!("[[content.feeds]]\nurl = \"{flaky}\"\n"), "");
    let serve = Serve::start(&site);
    let mut b = Browser::new(&serve);
    assert_eq!(b.sign_in("vic", PASSWORD).status, 303);
    assert_eq!(feed_warnings(&b), Vec::<String>::new());
}

#[test]
fn both_engines_keep_pauses_and_feed_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let settings = |url| StoreSettings {
        url,
        password: None,
        lease: Duration::from_secs(60),
        synchronous_commit: false,
        subscribers_path: dir.path().join("subscribers.csv"),
        suppressed_path: dir.path().join("suppressed.csv"),
        state_dir: dir.path().join("state"),
        keyer: None,
    };
    let mut engines = vec![(
        "sqlite",
        settings(StoreUrl::Sqlite(dir.path().join("state/l.sqlite3"))),
        None,
    )];
    if let Some(db) = crate::pg::fresh("warnings::both_engines_keep") {
        let url = StoreUrl::parse(&db.url, Path::new("/"), Path::new("/unused")).unwrap();
        engines.push(("postgres", settings(url), Some(db)));
    }
    for (engine, s, _db) in engines {
        block_on(async {
            let st = Store::open(&s).await.unwrap();
            let slot = |d: &str| d.parse().unwrap();
            let pause = |day: &str, provider: Option<&str>, at: &str| PauseRecord {
                slot: slot(day),
                provider: provider.map(str::to_string),
                refusals: 20,
                last_reply: "554 5.7.1 blocked".into(),
                left: 7,
                at: at.into(),
            };
            assert_eq!(st.pauses(slot("2026-12-01")).await.unwrap(), []);
            st.record_pauses(&[]).await.unwrap();
            let first = [
                pause("2026-12-01", Some("x.example"), "2026-12-01T14:00:05Z"),
                pause("2026-12-01", None, "2026-12-01T14:00:05Z"),
            ];
            let later = [pause(
                "2026-12-08",
                Some("y.example"),
                "2026-12-08T14:00:09Z",
            )];
            st.record_pauses(&first).await.unwrap();
            st.record_pauses(&later).await.unwrap();
            assert_eq!(
                st.pauses(slot("2026-12-01")).await.unwrap(),
                first,
                "{engine}"
            );
            assert_eq!(
                st.pauses_since("2026-12-02T00:00:00Z").await.unwrap(),
                later,
                "{engine}"
            );
            assert_eq!(
                st.pauses_since("2026-11-01T00:00:00Z").await.unwrap().len(),
                3,
                "{engine}"
            );

            let feed = "https://www.example.com/feed.xml";
            assert_eq!(st.feed_outcomes().await.unwrap(), [], "{engine}");
            st.record_feed_outcome(feed, Some("the server answered `503`"))
                .await
                .unwrap();
            let failed = st.feed_outcomes().await.unwrap();
            assert_eq!(failed.len(), 1, "{engine}");
            assert_eq!(failed[0].succeeded_at, None, "{engine}");
            assert_eq!(
                failed[0].error.as_deref(),
                Some("the server answered `503`")
            );
            st.record_feed_outcome(feed, None).await.unwrap();
            let read = st.feed_outcomes().await.unwrap();
            assert_eq!(read[0].error, None, "{engine}");
            assert_eq!(
                read[0].succeeded_at.as_deref(),
                Some(read[0].attempted_at.as_str())
            );
            std::thread::sleep(Duration::from_millis(5));
            st.record_feed_outcome(feed, Some("timed out"))
                .await
                .unwrap();
            let again = st.feed_outcomes().await.unwrap();
            assert_eq!(
                again,
                [FeedOutcome {
                    url: feed.into(),
                    attempted_at: again[0].attempted_at.clone(),
                    succeeded_at: read[0].succeeded_at.clone(),
                    error: Some("timed out".into()),
                }],
                "{engine}: a failure keeps the last success"
            );
            assert!(again[0].attempted_at > read[0].attempted_at, "{engine}");
        });
    }
}
