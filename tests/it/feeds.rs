//! `tipsheet fetch`: feeds in, comparisons out, against a real HTTP server
//! on loopback serving an RSS feed, an Atom feed and a sitemap.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use crate::common::{Site, repo};

/// Every request the server saw: path and headers.
type Seen = Arc<Mutex<Vec<(String, HeaderMap)>>>;

struct Server {
    base: String,
    seen: Seen,
}

const RSS_ETAG: &str = "\"rss-1\"";
const ATOM_MODIFIED: &str = "Tue, 01 Dec 2026 08:00:00 GMT";
const SITEMAP_ETAG: &str = "W/\"sitemap-1\"";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/import").join(name)).unwrap()
}

impl Server {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Seen = Arc::default();
        let state = (base.clone(), seen.clone());
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
        Server { base, seen }
    }

    /// Requests per path.
    fn counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (path, _) in self.seen.lock().unwrap().iter() {
            *counts.entry(path.clone()).or_default() += 1;
        }
        counts
    }

    /// The headers of every request for `path`, oldest first.
    fn requests(&self, path: &str) -> Vec<HeaderMap> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, h)| h.clone())
            .collect()
    }
}

fn respond(status: StatusCode, kind: &str, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, kind)
        .body(Body::from(body))
        .unwrap()
}

async fn answer(State((base, seen)): State<(String, Seen)>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    seen.lock().unwrap().push((path.clone(), headers.clone()));
    let has = |name: header::HeaderName, value: &str| {
        headers
            .get(name)
            .is_some_and(|v| v.to_str().unwrap_or_default() == value)
    };
    let not_modified = || {
        Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap()
    };
    let html = "text/html; charset=utf-8";
    match path.as_str() {
        "/rss.xml" => {
            if has(header::IF_NONE_MATCH, RSS_ETAG) {
                return not_modified();
            }
            let body = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Trades Today</title><link>{base}/</link><description>d</description>
<item><title>Electrician versus Plumber – Key Differences</title><link>{base}/go/electrician</link>
  <pubDate>Thu, 10 Dec 2026 09:00:00 GMT</pubDate></item>
<item><title>How to Negotiate Your First Salary</title><link>{base}/articles/negotiate</link>
  <pubDate>Wed, 09 Dec 2026 09:00:00 GMT</pubDate></item>
<item><title>Solicitor versus Barrister</title><link>{base}/articles/solicitor-versus-barrister</link>
  <pubDate>Fri, 20 Nov 2026 09:00:00 GMT</pubDate></item>
<item><title>Barista vs. Bartender</title><link>{base}/articles/barista-vs-bartender</link>
  <pubDate>Thu, 19 Nov 2026 09:00:00 GMT</pubDate></item>
<item><title>Associate Producer vs. Assistant Producer</title>
  <link>https://www.example.com/career-advice/associate-producer-vs-assistant-producer</link></item>
</channel></rss>"#
            );
            let mut r = respond(StatusCode::OK, "application/rss+xml", body);
            r.headers_mut()
                .insert(header::ETAG, RSS_ETAG.parse().unwrap());
            r
        }
        "/atom.xml" => {
            if has(header::IF_MODIFIED_SINCE, ATOM_MODIFIED) {
                return not_modified();
            }
            let body = format!(
                r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Example Careers</title><id>urn:example</id>
<updated>2026-12-01T08:00:00Z</updated>
<entry><title>Sous Chef vs. Line Cook: What Are the Differences?</title><id>urn:1</id>
  <link rel="alternate" href="{base}/articles/sous-chef-vs-line-cook"/>
  <published>2026-12-01T08:00:00Z</published><updated>2026-12-01T08:00:00Z</updated></entry>
<entry><title>We moved offices</title><id>urn:2</id><link href="/news/offices"/>
  <updated>2026-11-30T08:00:00Z</updated></entry>
</feed>"#
            );
            let mut r = respond(StatusCode::OK, "application/atom+xml", body);
            r.headers_mut()
                .insert(header::LAST_MODIFIED, ATOM_MODIFIED.parse().unwrap());
            r
        }
        "/sitemap.xml" => {
            if has(header::IF_NONE_MATCH, SITEMAP_ETAG) {
                return not_modified();
            }
            let body = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/articles/pharmacist-vs-pharmacy-technician</loc><lastmod>2026-12-05</lastmod></url>
<url><loc>{base}/about</loc></url>
<url><loc>{base}/articles/electrician-vs-plumber</loc><lastmod>2026-12-10</lastmod></url>
</urlset>"#
            );
            let mut r = respond(StatusCode::OK, "application/xml", body);
            r.headers_mut()
                .insert(header::ETAG, SITEMAP_ETAG.parse().unwrap());
            r
        }
        "/go/electrician" => Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, "/articles/electrician-vs-plumber")
            .body(Body::empty())
            .unwrap(),
        "/articles/electrician-vs-plumber" => {
            respond(StatusCode::OK, html, fixture("electrician-vs-plumber.html"))
        }
        "/articles/solicitor-versus-barrister" => respond(
            StatusCode::OK,
            html,
            fixture("solicitor-versus-barrister.html"),
        ),
        "/articles/sous-chef-vs-line-cook" => {
            let page = fixture("sous-chef-vs-line-cook.html").replacen(
                "<head>",
                "<head><link rel=\"canonical\" href=\"/career-advice/sous-chef-vs-line-cook\">",
                1,
            );
            respond(StatusCode::OK, html, page)
        }
        "/articles/pharmacist-vs-pharmacy-technician" => respond(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            fixture("sites/worktrail-pharmacist.txt"),
        ),
        "/articles/barista-vs-bartender" => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            "boom".into(),
        ),
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "no".into()),
    }
}

/// A site whose config lists the server's three feeds.
fn site_with_feeds(server: &Server) -> Site {
    let site = Site::new();
    let base = &server.base;
    site.config(
        "excerpt_section = \"duties\"\n",
        &format!(
            "excerpt_section = \"duties\"\n[[content.feeds]]\nurl = \"{base}/rss.xml\"\n[[content.feeds]]\nurl = \"{base}/atom.xml\"\n[[content.feeds]]\nurl = \"{base}/sitemap.xml\"\n"
        ),
    );
    site
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The table line of `url`.
fn line_of<'a>(out: &'a str, url: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().any(|w| w == url))
        .unwrap_or_else(|| panic!("no line for {url} in\n{out}"))
}

#[test]
fn fetch_imports_new_comparisons_once_then_asks_conditionally() {
    let server = Server::start();
    let site = site_with_feeds(&server);
    let base = server.base.clone();
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 1, "one article failed: {r:?}");
    let out = &r.stdout;
    for (url, status) in [
        (format!("{base}/go/electrician"), "imported"),
        (
            format!("{base}/articles/solicitor-versus-barrister"),
            "imported",
        ),
        (
            format!("{base}/articles/sous-chef-vs-line-cook"),
            "imported",
        ),
        (
            format!("{base}/articles/pharmacist-vs-pharmacy-technician"),
            "imported",
        ),
        (format!("{base}/articles/negotiate"), "not a comparison"),
        (format!("{base}/news/offices"), "not a comparison"),
        (format!("{base}/about"), "not a comparison"),
        (format!("{base}/articles/barista-vs-bartender"), "failed"),
        (
            "https://www.example.com/career-advice/associate-producer-vs-assistant-producer".into(),
            "already had",
        ),
        (
            format!("{base}/articles/electrician-vs-plumber"),
            "already had",
        ),
    ] {
        assert!(
            line_of(out, &url).trim_start().starts_with(status),
            "{url} should be {status}: {r:?}"
        );
    }
    assert!(
        line_of(out, &format!("{base}/articles/barista-vs-bartender"))
            .contains("the server answered `500 Internal Server Error`"),
        "{r:?}"
    );
    assert!(
        out.contains("fetch: 4 imported, 2 already had, 3 not a comparison, 1 failed"),
        "{r:?}"
    );
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "fetch: `{base}/articles/barista-vs-bartender` failed: the server answered `500 Internal Server Error`"
        ),
        "{r:?}"
    );
    // The files, with the canonical address and the feed's date.
    let electrician = site.read("content/comparisons/electrician-vs-plumber.md");
    assert!(
        electrician.contains(&format!(
            "url = \"{base}/articles/electrician-vs-plumber\"\npublished = \"2026-12-10\"\n"
        )),
        "{electrician}"
    );
    let chef = site.read("content/comparisons/sous-chef-vs-line-cook.md");
    assert!(
        chef.contains(&format!(
            "url = \"{base}/career-advice/sous-chef-vs-line-cook\"\npublished = \"2026-12-01\"\n"
        )),
        "{chef}"
    );
    let pharmacist = site.read("content/comparisons/pharmacist-vs-pharmacy-technician.md");
    assert!(
        pharmacist.contains("published = \"2026-12-05\""),
        "{pharmacist}"
    );
    assert!(
        site.path("content/comparisons/solicitor-vs-barrister.md")
            .exists()
    );
    // Each article was fetched once; nothing outside the server was asked for.
    let first = server.counts();
    for path in [
        "/rss.xml",
        "/atom.xml",
        "/sitemap.xml",
        "/go/electrician",
        "/articles/electrician-vs-plumber",
        "/articles/solicitor-versus-barrister",
        "/articles/sous-chef-vs-line-cook",
        "/articles/pharmacist-vs-pharmacy-technician",
        "/articles/barista-vs-bartender",
    ] {
        assert_eq!(first.get(path), Some(&1), "{path}: {first:?}");
    }
    assert_eq!(first.len(), 9, "{first:?}");
    let ua = server.requests("/rss.xml")[0]
        .get(header::USER_AGENT)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        ua.starts_with("tipsheet/") && ua.contains("https://news.example.com"),
        "{ua}"
    );
    // The comparisons load, and `check` is content with them.
    let check = site.run(&["check"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(check.stdout.contains("check: 0 errors"), "{check:?}");

    // The second fetch asks conditionally, hears 304 and fetches no article.
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("unchanged since the last fetch (304)"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("fetch: 0 imported, 0 already had, 0 not a comparison, 0 failed"),
        "{r:?}"
    );
    let rss = server.requests("/rss.xml");
    assert_eq!(rss[1].get(header::IF_NONE_MATCH).unwrap(), RSS_ETAG);
    let atom = server.requests("/atom.xml");
    assert_eq!(
        atom[1].get(header::IF_MODIFIED_SINCE).unwrap(),
        ATOM_MODIFIED
    );
    assert!(atom[0].get(header::IF_MODIFIED_SINCE).is_none());
    let sitemap = server.requests("/sitemap.xml");
    assert_eq!(sitemap[1].get(header::IF_NONE_MATCH).unwrap(), SITEMAP_ETAG);
    let second = server.counts();
    for (path, n) in &second {
        let want = if path.ends_with(".xml") { 2 } else { 1 };
        assert_eq!(*n, want, "{path}: {second:?}");
    }

    // The next issue features the fetched comparisons first, and says why.
    let p = site.run(&["preview"]);
    assert_eq!(p.code, 0, "{p:?}");
    let featured: Vec<&str> = p
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Featured:"))
        .skip(1)
        .take(6)
        .collect();
    assert_eq!(
        featured,
        [
            "  - Electrician vs. Plumber [electrician-vs-plumber]",
            "    why: new, published 2026-12-10",
            "  - Pharmacist vs. Pharmacy Technician [pharmacist-vs-pharmacy-technician]",
            "    why: new, published 2026-12-05",
            "  - Sous Chef vs. Line Cook [sous-chef-vs-line-cook]",
            "    why: new, published 2026-12-01",
        ],
        "{p:?}"
    );
}

#[test]
fn a_dry_run_writes_nothing_and_a_real_fetch_after_it_still_imports() {
    let server = Server::start();
    let site = site_with_feeds(&server);
    let before = snapshot(site.dir.path());
    let r = site.run(&["fetch", "--dry-run"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        line_of(
            &r.stdout,
            &format!("{}/articles/solicitor-versus-barrister", server.base)
        )
        .trim_start()
        .starts_with("would import"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("fetch: 4 to import, 2 already had, 3 not a comparison, 1 failed (dry run: nothing was written)"),
        "{r:?}"
    );
    assert_eq!(
        snapshot(site.dir.path()),
        before,
        "a dry run wrote something"
    );
    // No validators were kept: the real fetch reads every feed in full.
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("fetch: 4 imported"), "{r:?}");
    for feed in ["/rss.xml", "/atom.xml", "/sitemap.xml"] {
        let seen = server.requests(feed);
        assert!(seen[1].get(header::IF_NONE_MATCH).is_none(), "{feed}");
        assert!(seen[1].get(header::IF_MODIFIED_SINCE).is_none(), "{feed}");
    }
}

#[test]
fn at_most_fetch_max_new_articles_a_run_and_the_rest_next_time() {
    let server = Server::start();
    let site = site_with_feeds(&server);
    site.config(
        "excerpt_section = \"duties\"\n",
        "excerpt_section = \"duties\"\nfetch_max_new = 2\n",
    );
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("fetch: 2 imported"), "{r:?}");
    assert!(r.stdout.contains("left for the next run"), "{r:?}");
    // The capped feeds are read in full again (not answered 304): the RSS
    // feed's failing article and the Atom feed's one get their turn...
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("fetch: 1 imported, 4 already had, 3 not a comparison, 1 failed, 1 left for the next run"), "{r:?}");
    // ...and then the sitemap's, while the two feeds read in full now answer 304.
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("fetch: 1 imported, 1 already had, 1 not a comparison, 0 failed"),
        "{r:?}"
    );
    assert_eq!(r.stdout.matches("(304)").count(), 2, "{r:?}");
    let counts = server.counts();
    for path in [
        "/articles/electrician-vs-plumber",
        "/articles/solicitor-versus-barrister",
        "/articles/sous-chef-vs-line-cook",
        "/articles/pharmacist-vs-pharmacy-technician",
    ] {
        assert_eq!(counts.get(path), Some(&1), "{path}: {counts:?}");
    }
}

#[test]
fn fetch_without_feeds_says_how_to_add_one() {
    let site = Site::new();
    let r = site.run(&["fetch"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("add a `[[content.feeds]]` table"),
        "{r:?}"
    );
}

#[test]
fn run_fetches_before_it_assembles_and_a_failed_fetch_does_not_stop_the_send() {
    let server = Server::start();
    let site = site_with_feeds(&server);
    // A fourth feed nobody answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/feed.xml", closed.local_addr().unwrap());
    drop(closed);
    site.config(
        "[[content.feeds]]\n",
        &format!("[[content.feeds]]\nurl = \"{dead}\"\n[[content.feeds]]\n"),
    );
    let (mut child, log, _) = site.spawn_until(
        &["run", "--now", "2026-12-01T13:59:57Z"],
        "finished issue #1",
    );
    let fetched = log
        .iter()
        .position(|l| l.contains("fetched before issue #1: 4 imported, 2 already had, 3 not a comparison, 1 failed, 1 feed(s) unreadable"))
        .unwrap_or_else(|| panic!("{log:?}"));
    let sending = log
        .iter()
        .position(|l| l.contains("sending issue #1 (2026-12-01)"))
        .unwrap_or_else(|| panic!("{log:?}"));
    assert!(fetched < sending, "{log:?}");
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("fetch: feed `{dead}` failed:"))),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l.contains("/articles/barista-vs-bartender` failed: the server answered `500 Internal Server Error`")),
        "{log:?}"
    );
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // The fetch `run` made is kept as `fetch`'s is: the dead feed's error,
    // which the console warns about.
    let kept =
        crate::common::block_on(crate::common::embedded_store(&site.path("")).feed_outcomes())
            .unwrap();
    let dead_kept = kept.iter().find(|o| o.url == dead).expect("the dead feed");
    assert!(dead_kept.error.is_some(), "{kept:?}");
    assert_eq!(dead_kept.succeeded_at, None, "{kept:?}");
    assert_eq!(
        kept.iter().filter(|o| o.error.is_none()).count(),
        3,
        "{kept:?}"
    );
    // The issue that went out leads with the newest fetched comparison.
    let emls = site.emls("state/outbox");
    assert_eq!(emls.len(), 4);
    let mail = crate::common::parse(&emls[0]);
    assert!(
        mail.subject
            .starts_with("Career Tips #1: Electrician vs. Plumber, and 2 more comparisons"),
        "{}",
        mail.subject
    );
}

#[test]
fn both_engines_remember_validators_and_imported_addresses() {
    use std::time::Duration;
    use tipsheet::store::{Store, StoreSettings, StoreUrl, Validators};
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
    if let Some(db) = crate::pg::fresh("feeds::both_engines_remember") {
        let url = StoreUrl::parse(&db.url, Path::new("/"), Path::new("/unused")).unwrap();
        engines.push(("postgres", settings(url), Some(db)));
    }
    for (engine, s, _db) in engines {
        crate::common::block_on(async {
            let st = Store::open(&s).await.unwrap();
            let feed = "https://www.example.com/feed.xml";
            assert_eq!(
                st.feed_validators(feed).await.unwrap(),
                Validators::default()
            );
            let v = Validators {
                etag: Some("W/\"1\"".into()),
                last_modified: Some("Tue, 01 Dec 2026 08:00:00 GMT".into()),
            };
            st.save_feed_validators(feed, &v).await.unwrap();
            let newer = Validators {
                etag: Some("\"2\"".into()),
                last_modified: None,
            };
            st.save_feed_validators(feed, &newer).await.unwrap();
            assert_eq!(st.feed_validators(feed).await.unwrap(), newer, "{engine}");
            assert_eq!(
                st.feed_validators("https://other.example/").await.unwrap(),
                Validators::default()
            );
            let urls = vec![
                "https://a.example/x".to_string(),
                "https://a.example/y".to_string(),
            ];
            st.record_fetched(&urls, "x-vs-y").await.unwrap();
            st.record_fetched(&urls[1..], "again").await.unwrap();
            assert_eq!(st.fetched_urls().await.unwrap(), urls, "{engine}");
        });
    }
}
