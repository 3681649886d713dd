//! `tipsheet serve` over real HTTP: the binary on 127.0.0.1:0, a real client
//! (ureq), real files, and the in-process SMTP server for confirmation mail.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tipsheet::mail::token::Signer;
use tipsheet::web::{LinkProblem, verify_confirm};

use crate::common::{SECRET, Site, parse, unsubscribe_params};
use crate::smtp_server::SmtpServer;

/// A running `tipsheet serve`, killed when dropped.
/// The admin token `Serve::start` gives the server.
pub const ADMIN_TOKEN: &str = "the-admin-token";

/// One raw HTTP/1.1 request with the given `Host`, the status code of the answer.
fn status_with_host(url: &str, path: &str, host: &str, headers: &[(&str, &str)]) -> u16 {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer:?}"))
}

pub struct Serve {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Serve {
    pub fn start(site: &Site) -> Self {
        Self::spawn(
            site.command(&["serve", "--listen", "127.0.0.1:0"])
                .env("TIPSHEET_ADMIN_TOKEN", ADMIN_TOKEN),
        )
    }

    /// `serve` with its clock starting at `now` (RFC 3339).
    pub fn at(site: &Site, now: &str) -> Self {
        Self::spawn(&mut site.command(&["serve", "--listen", "127.0.0.1:0", "--now", now]))
    }

    /// `serve` started by `cmd` (with its own env), once it says where it listens.
    pub fn spawn(cmd: &mut Command) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let Some(base) = first.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let status = child.wait().unwrap();
            std::thread::sleep(Duration::from_millis(50));
            panic!(
                "serve did not start ({status}): stdout {first:?}, stderr {:?}",
                stderr.lock().unwrap()
            );
        };
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        Serve {
            base: base.to_string(),
            child,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A link from a mail, pointed at this server.
    pub fn local(&self, link: &str) -> String {
        link.replacen("https://news.example.com", &self.base, 1)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit code.
    fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "serve ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}\n{}", self.status, self.body)
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut r = r.unwrap();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    Reply {
        status: r.status().as_u16(),
        headers,
        body: r.body_mut().read_to_string().unwrap(),
    }
}

pub fn get(url: &str) -> Reply {
    reply(agent().get(url).call())
}

/// A form POST with extra headers (`X-Forwarded-For` and the like).
pub fn post_form_with(url: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
    let mut req = agent().post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    reply(req.send_form(fields.iter().copied()))
}

fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    reply(req.call())
}

pub fn post_form(url: &str, fields: &[(&str, &str)]) -> Reply {
    reply(agent().post(url).send_form(fields.iter().copied()))
}

pub fn one_click(url: &str) -> Reply {
    reply(
        agent()
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send("List-Unsubscribe=One-Click"),
    )
}

fn signer() -> Signer {
    Signer::new(SECRET.as_bytes())
}

pub(crate) fn unsubscribe_path(email: &str, token: &str) -> String {
    format!(
        "/unsubscribe?e={}&t={}",
        tipsheet::mail::token::encode_query(email),
        tipsheet::mail::token::encode_query(token)
    )
}

/// (email, reason) rows of a CSV list, parsed strictly: every row has the header's width.
fn rows(site: &Site, rel: &str) -> Vec<(String, String)> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(site.path(rel))
        .unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.expect("a whole, well-formed row");
            (rec[0].to_string(), rec[1].to_string())
        })
        .collect()
}

pub(crate) fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn one_click_unsubscribe_suppresses_and_the_next_send_skips_the_address() {
    let site = Site::new();
    assert_eq!(site.run(&["send"]).code, 0);
    let issue1 = site.emls("state/outbox/2026-12-01");
    assert_eq!(issue1.len(), 4);
    let ana = issue1
        .iter()
        .map(|m| parse(m))
        .find(|m| m.to == "ana@example.com")
        .unwrap();
    let lu = ana.header("List-Unsubscribe").unwrap();
    let link = &lu[1..lu.find('>').unwrap()];
    let serve = Serve::start(&site);
    let url = serve.local(link);

    // A GET (what a mail scanner does) shows a button and changes nothing.
    let before = site.read("subscribers/suppressed.csv");
    let page = get(&url);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("<form method=\"post\""), "{page:?}");
    assert!(page.body.contains("ana@example.com"), "{page:?}");
    assert_eq!(site.read("subscribers/suppressed.csv"), before);

    // The one-click POST (RFC 8058) answers 200, no redirect.
    let r = one_click(&url);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(!r.headers.contains_key("location"));
    let suppressed = rows(&site, "subscribers/suppressed.csv");
    assert_eq!(
        suppressed.last().unwrap(),
        &("ana@example.com".to_string(), "unsubscribed".to_string())
    );
    // Repeating is harmless and writes nothing.
    assert_eq!(one_click(&url).status, 200);
    assert_eq!(rows(&site, "subscribers/suppressed.csv"), suppressed);

    // The next issue skips ana.
    let r = site.run(&["send", "--date", "2026-12-15"]);
    assert_eq!(r.code, 0, "{r:?}");
    let issue2: Vec<String> = site
        .emls("state/outbox/2026-12-15")
        .iter()
        .map(|m| parse(m).to.to_lowercase())
        .collect();
    assert_eq!(issue2.len(), 3, "{issue2:?}");
    assert!(!issue2.contains(&"ana@example.com".to_string()));

    // The button page's POST does the same and offers to resubscribe, which works.
    let (e, t) = unsubscribe_params(&url);
    let page = post_form(&serve.url(&unsubscribe_path(&e, &t)), &[]);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("already unsubscribed"), "{page:?}");
    assert!(page.body.contains("action=\"resubscribe\""), "{page:?}");
    let r = post_form(&serve.url("/resubscribe"), &[("e", &e), ("t", &t)]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        rows(&site, "subscribers/suppressed.csv").last().unwrap(),
        &("ana@example.com".to_string(), "resubscribed".to_string())
    );
    let r = site.run(&["send", "--dry-run", "--date", "2026-12-29"]);
    assert!(
        r.stdout.contains("recipients: 4 active, 1 suppressed"),
        "{r:?}"
    );
    assert!(serve.stderr().contains("unsubscribed `ana@example.com`"));
}

#[test]
fn forged_tokens_are_rejected_and_write_nothing() {
    // In process, 10,000 random forgeries against the library's checks.
    let s = signer();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
        .unwrap()
        .to_utc();
    let x = (now.timestamp() + 3600).to_string();
    for i in 0..10_000 {
        let token = match i % 4 {
            0 => format!("{:016x}{:016x}", next(), next()),
            1 => format!("{:x}", next()),
            2 => format!("{:016x}{:016x}{:016x}", next(), next(), next()),
            _ => format!("{:016x}{:015x}z", next(), next()),
        };
        assert!(!s.verify_unsubscribe("ana@example.com", &token), "{token}");
        assert_eq!(
            verify_confirm(&s, "ana@example.com", "Ana", &x, &token, now),
            Err(LinkProblem::Invalid),
            "{token}"
        );
    }

    // Over HTTP, a handful: each a 400 with an explanation, nothing written.
    let site = Site::new();
    let serve = Serve::start(&site);
    let before = site.read("subscribers/suppressed.csv");
    let ana = s.unsubscribe_token("ana@example.com");
    let bob = s.unsubscribe_token("bob@example.com");
    let other = Signer::new(b"another secret").unsubscribe_token("ana@example.com");
    let cases = [
        unsubscribe_path(
            "ana@example.com",
            &format!("{:016x}{:016x}", next(), next()),
        ),
        unsubscribe_path("ana@example.com", &bob),
        unsubscribe_path("bob@example.com", &ana),
        unsubscribe_path("ana@example.com", &other),
        unsubscribe_path("ana@example.com", &ana[..31]),
        unsubscribe_path("ana@example.com", ""),
        unsubscribe_path("ana@example.com%00", &ana),
        "/unsubscribe?e=ana%40example.com".to_string(),
        "/unsubscribe?t=00&e=%ff".to_string(),
        "/unsubscribe?e=a&e=b&t=c".to_string(),
    ];
    for path in &cases {
        for r in [one_click(&serve.url(path)), get(&serve.url(path))] {
            assert_eq!(r.status, 400, "{path}: {r:?}");
            assert!(r.body.contains("Nothing was changed"), "{path}: {r:?}");
        }
    }
    let r = post_form(
        &serve.url("/resubscribe"),
        &[("e", "ana@example.com"), ("t", &bob)],
    );
    assert_eq!(r.status, 400, "{r:?}");
    let r = get(&serve.url(&format!(
        "/confirm?e=ana%40example.com&n=&x=9999999999&t={}",
        &ana
    )));
    assert_eq!(r.status, 400, "{r:?}");
    let r = post_form(
        &serve.url("/confirm"),
        &[("e", "ana@example.com"), ("x", "9999999999"), ("t", &ana)],
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(site.read("subscribers/suppressed.csv"), before);
    // The genuine token still works afterwards.
    assert_eq!(
        one_click(&serve.url(&unsubscribe_path("ana@example.com", &ana))).status,
        200
    );
    // Oversized bodies are refused before anyone reads them.
    let big = "a".repeat(20 * 1024);
    let r = post_form(&serve.url("/subscribe"), &[("email", &big)]);
    assert_eq!(r.status, 413, "{r:?}");
    let r = reply(
        agent()
            .post(&serve.url(&unsubscribe_path("ana@example.com", &ana)))
            .send(&big),
    );
    assert_eq!(r.status, 413, "{r:?}");
    // The forms that post an unsubscribe link: too large, or not a form.
    for path in ["/resubscribe", "/privacy/link"] {
        let r = post_form(&serve.url(path), &[("e", "ana@example.com"), ("t", &big)]);
        assert_eq!(r.status, 413, "{path}: {r:?}");
        assert!(r.body.contains("Nothing was changed"), "{path}: {r:?}");
        let r = reply(agent().post(&serve.url(path)).send("e=ana%40example.com"));
        assert_eq!(r.status, 400, "{path}: {r:?}");
        assert!(
            r.body.contains("This form arrived garbled"),
            "{path}: {r:?}"
        );
    }
    assert_eq!(
        site.read("subscribers/suppressed.csv").lines().count(),
        before.lines().count() + 1
    );
}

#[test]
fn a_hundred_concurrent_unsubscribes_all_land_without_torn_lines() {
    let site = Site::new();
    // One client posting a hundred at once, above the default POST burst:
    // genuine one-click unsubscribes are not rate-limited.
    let serve = Serve::start(&site);
    let s = signer();
    let urls: Vec<String> = (0..100)
        .map(|i| {
            let e = format!("reader{i}@example.com");
            serve.url(&unsubscribe_path(&e, &s.unsubscribe_token(&e)))
        })
        .collect();
    let threads: Vec<_> = urls
        .into_iter()
        .map(|u| std::thread::spawn(move || one_click(&u).status))
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    let rows = rows(&site, "subscribers/suppressed.csv");
    assert_eq!(rows.len(), 101);
    let mut emails: Vec<&str> = rows.iter().map(|(e, _)| e.as_str()).collect();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), 101);
    for i in 0..100 {
        assert!(emails.contains(&format!("reader{i}@example.com").as_str()));
    }
}

/// The confirmation link in a mail's text part.
pub(crate) fn confirm_link(raw: &[u8]) -> String {
    let m = parse(raw);
    let at = m
        .text
        .find("https://news.example.com/confirm?")
        .expect("a link");
    m.text[at..].split_whitespace().next().unwrap().to_string()
}

/// The confirm link's query values, decoded.
pub fn query(url: &str) -> HashMap<String, String> {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn double_opt_in_adds_the_reader_once_and_never_tells_who_is_subscribed() {
    let smtp = SmtpServer::start();
    let site = Site::new();
    site.use_smtp(smtp.port, 1);
    let serve = Serve::start(&site);
    let form = get(&serve.url("/subscribe"));
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"email\""), "{form:?}");

    let new = post_form(
        &serve.url("/subscribe"),
        &[("email", "nia@example.com"), ("name", "Nia")],
    );
    assert_eq!(new.status, 200, "{new:?}");
    let mail = wait_for("the confirmation mail", || smtp.mails().into_iter().next());
    assert_eq!(mail.from, "tips@example.com");
    assert_eq!(mail.to, ["nia@example.com"]);
    let m = parse(&mail.data);
    assert_eq!(m.content_type, "multipart/alternative");
    assert_eq!(m.subject, "Confirm your subscription to Career Tips");
    // The typed name is not mailed (only carried in the link, for the welcome).
    assert!(m.text.contains("Hi there,"), "{}", m.text);
    let link = confirm_link(&mail.data);
    for part in [&m.text, &m.html] {
        let rest = part
            .replace(&link, "")
            .replace(&link.replace('&', "&#38;"), "");
        assert!(!rest.contains("Nia"), "{part}");
    }
    assert!(m.html.contains(&link.replace('&', "&#38;")), "{}", m.html);
    let q = query(&link);
    assert_eq!(q["e"], "nia@example.com");
    assert_eq!(q["n"], "Nia");

    // Opening the link shows a button; only the POST subscribes.
    let list_before = site.read("subscribers/subscribers.csv");
    let page = get(&serve.local(&link));
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("action=\"confirm\""), "{page:?}");
    assert_eq!(site.read("subscribers/subscribers.csv"), list_before);
    let fields: Vec<(&str, &str)> = ["e", "n", "x", "t"]
        .iter()
        .map(|k| (*k, q[*k].as_str()))
        .collect();
    let r = post_form(&serve.url("/confirm"), &fields);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("Welcome, Nia!"), "{r:?}");
    assert!(r.body.contains("Tuesday, December 1"), "{r:?}");
    // A second click: the link is spent, nothing changes.
    let r = post_form(&serve.url("/confirm"), &fields);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("used already"), "{r:?}");
    let listed = rows(&site, "subscribers/subscribers.csv");
    let nia: Vec<_> = listed
        .iter()
        .filter(|(e, _)| e == "nia@example.com")
        .collect();
    assert_eq!(nia, [&("nia@example.com".to_string(), "Nia".to_string())]);
    // A changed name breaks the signature.
    let mut forged = fields.clone();
    forged[1] = ("n", "Mallory");
    assert_eq!(post_form(&serve.url("/confirm"), &forged).status, 400);

    // Within the hour: "try later" (429), no second mail.
    let again = post_form(
        &serve.url("/subscribe"),
        &[("email", "nia@example.com"), ("name", "Nia")],
    );
    assert_eq!(again.status, 429, "{again:?}");
    assert!(again.body.contains("try again later"), "{again:?}");
    // An address already on the list gets the same page as a new one.
    let existing = post_form(&serve.url("/subscribe"), &[("email", "ana@example.com")]);
    let fresh = post_form(&serve.url("/subscribe"), &[("email", "zed@example.com")]);
    assert_eq!(existing.status, fresh.status);
    assert_eq!(
        existing.body.replace("ana@example.com", "ADDRESS"),
        fresh.body.replace("zed@example.com", "ADDRESS")
    );
    assert_eq!(
        fresh.body.replace("zed@example.com", "ADDRESS"),
        new.body.replace("nia@example.com", "ADDRESS")
    );
    // Three confirmation mails (nia, ana, zed) and nia's welcome mail.
    wait_for("two more mails", || (smtp.mails().len() == 4).then_some(()));
    std::thread::sleep(Duration::from_millis(200));
    let by = smtp.received_by();
    assert_eq!(by["nia@example.com"], 2, "{by:?}");
    let confirmations = smtp
        .mails()
        .iter()
        .filter(|m| m.to == ["nia@example.com"] && parse(&m.data).subject.starts_with("Confirm"))
        .count();
    assert_eq!(confirmations, 1);

    // After 48 hours the link is refused (a server whose clock starts two days later).
    drop(serve);
    let later = Serve::at(&site, "2026-11-28T13:00:00Z");
    let r = post_form(&later.url("/confirm"), &fields);
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("expired"), "{r:?}");
    assert_eq!(rows(&site, "subscribers/subscribers.csv"), listed);
}

#[test]
fn every_page_escapes_what_it_echoes() {
    let site = Site::new();
    let serve = Serve::start(&site);
    let evil = "<script>alert(1)</script>";
    let raw = |body: &str| body.contains(evil) || body.contains("<script");
    let check = |what: &str, r: &Reply| {
        assert!(!raw(&r.body), "{what}: {r:?}");
        // askama writes `&#60;`; the issue's HTML goes through css-inline, which writes `&lt;`.
        assert!(
            r.body.contains("&#60;script&#62;") || r.body.contains("&lt;script&gt;"),
            "{what}: {r:?}"
        );
    };
    // Not an address: the form comes back with the value escaped.
    let r = post_form(&serve.url("/subscribe"), &[("email", evil), ("name", evil)]);
    assert_eq!(r.status, 400);
    check("bad sign-up", &r);
    // A valid address holding markup, and a name holding markup.
    let address = "\"<script>alert(1)</script>\"@example.com";
    let r = post_form(
        &serve.url("/subscribe"),
        &[("email", address), ("name", evil)],
    );
    assert_eq!(r.status, 200, "{}", serve.stderr());
    check("sign-up", &r);
    let mail = wait_for("the confirmation mail", || {
        site.emls("state/outbox/confirmations").into_iter().next()
    });
    let m = parse(&mail);
    assert!(!raw(&m.html), "{}", m.html);
    let link = confirm_link(&mail);
    let q = query(&link);
    let page = get(&serve.local(&link));
    check("confirm page", &page);
    let fields: Vec<(&str, &str)> = ["e", "n", "x", "t"]
        .iter()
        .map(|k| (*k, q[*k].as_str()))
        .collect();
    let welcome = post_form(&serve.url("/confirm"), &fields);
    assert_eq!(welcome.status, 200, "{welcome:?}");
    check("welcome", &welcome);
    // Unsubscribe pages: forged and genuine.
    check(
        "forged unsubscribe",
        &get(&serve.url(&unsubscribe_path(address, "00"))),
    );
    let key = address.to_lowercase();
    let path = unsubscribe_path(&key, &signer().unsubscribe_token(&key));
    check("unsubscribe page", &get(&serve.url(&path)));
    check("unsubscribed", &post_form(&serve.url(&path), &[]));
    // The preview, rendered for Bob, whose name holds markup.
    let token = format!("Bearer {ADMIN_TOKEN}");
    let r = get_with(
        &serve.url("/preview?to=bob@example.com"),
        &[("Authorization", &token)],
    );
    assert_eq!(r.status, 200, "{r:?}");
    check("preview", &r);
}

#[test]
fn archive_preview_and_health() {
    let site = Site::new();
    let serve = Serve::spawn(
        site.command(&["serve", "--listen", "127.0.0.1:0"])
            .env("TIPSHEET_ADMIN_TOKEN", "let-me-in"),
    );
    let r = get(&serve.url("/healthz"));
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));

    // The archive lists only what the ledger holds.
    let r = get(&serve.url("/issues/"));
    assert_eq!(r.status, 200);
    assert!(r.body.contains("No issue has been sent yet"), "{r:?}");
    assert_eq!(get(&serve.url("/issues/1")).status, 404);

    // The preview needs the token, from loopback too; anyone else sees nothing there.
    assert_eq!(get(&serve.url("/preview")).status, 404);
    let token = [("Authorization", "Bearer let-me-in")];
    let r = get_with(&serve.url("/preview"), &token);
    assert_eq!(r.status, 200, "{r:?}");
    for want in [
        "Preview · not sent",
        "#1 for 2026-12-01 (not yet assembled",
        "Career Tips #1: ",
        "4 active, 1 suppressed, 2 invalid rows skipped, 1 duplicates",
        "Hi Ana Lima,",
    ] {
        assert!(r.body.contains(want), "{want}: {r:?}");
    }
    let proxied = [("X-Forwarded-For", "203.0.113.9")];
    assert_eq!(get_with(&serve.url("/preview"), &proxied).status, 404);
    let wrong = [proxied[0], ("Authorization", "Bearer let-me-out")];
    assert_eq!(get_with(&serve.url("/preview"), &wrong).status, 404);
    let right = [proxied[0], ("Authorization", "Bearer let-me-in")];
    assert_eq!(get_with(&serve.url("/preview"), &right).status, 200);
    // A rebound DNS name is not this server, token or not.
    let base = serve.url("");
    assert_eq!(
        status_with_host(&base, "/preview", "attacker.example:8080", &token),
        404
    );
    let own = base.trim_start_matches("http://").trim_end_matches('/');
    assert_eq!(status_with_host(&base, "/preview", own, &token), 200);
    // A preview renders a real unsubscribe link: only for a reader on the list.
    let stranger = get_with(&serve.url("/preview?to=mallory@example.org"), &token);
    assert_eq!(stranger.status, 404, "{stranger:?}");
    assert!(!stranger.body.contains("mallory"), "{stranger:?}");

    assert_eq!(site.run(&["send"]).code, 0);
    let r = get(&serve.url("/issues/"));
    assert!(r.body.contains("<a href=\"1\">Career Tips #1: "), "{r:?}");
    let r = get(&serve.url("/issues/1"));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("Issue #1 · December 1, 2026"), "{r:?}");
    assert!(r.body.contains("Hi there,"), "{r:?}");
    for private in [
        "ana@",
        "Ana Lima",
        "bob@",
        "carol@",
        "erin@",
        "unsubscribe?e=",
    ] {
        assert!(
            !r.body.to_lowercase().contains(&private.to_lowercase()),
            "{private}: {r:?}"
        );
    }
    for missing in [
        "/issues/2",
        "/issues/0",
        "/issues/x",
        "/issues/99999999999",
        "/nope",
    ] {
        let r = get(&serve.url(missing));
        assert_eq!(r.status, 404, "{missing}");
        assert!(r.body.contains("Page not found"), "{missing}: {r:?}");
    }
    assert_eq!(get(&serve.url("/issues")).status, 308);
    assert_eq!(serve.stop(), 0);
}

#[test]
fn secrets_follow_the_send_rules() {
    // SMTP without a secret: refuse to start.
    let site = Site::new();
    site.use_smtp(9, 1);
    let r = crate::common::to_run(
        site.command(&["serve", "--listen", "127.0.0.1:0"])
            .env_remove("TIPSHEET_SECRET")
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("`TIPSHEET_SECRET` is not set: refusing"),
        "{r:?}"
    );
    // The outbox without a secret: the development secret, with a warning.
    let site = Site::new();
    let serve = Serve::spawn(
        site.command(&["serve", "--listen", "127.0.0.1:0"])
            .env_remove("TIPSHEET_SECRET"),
    );
    assert_eq!(get(&serve.url("/healthz")).status, 200);
    assert!(
        serve.stderr().contains("development secret"),
        "{}",
        serve.stderr()
    );
}

// ---------------------------------------------------------------------------
// Secret rotation (`unsubscribe.previous_secret_env`).

const NEW_SECRET: &str = "the-new-secret-after-the-rotation";

/// `tipsheet serve` with the secret rotated: `TIPSHEET_SECRET` is new, and
/// the old one is accepted when `previous` is set.
fn rotated_serve(site: &Site, previous: bool) -> Serve {
    let mut cmd = site.command(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.env("TIPSHEET_SECRET", NEW_SECRET);
    if previous {
        cmd.env("TIPSHEET_PREVIOUS_SECRET", SECRET);
    } else {
        cmd.env_remove("TIPSHEET_PREVIOUS_SECRET");
    }
    Serve::spawn(&mut cmd)
}

#[test]
fn after_a_rotation_links_signed_with_the_old_secret_still_work() {
    let smtp = SmtpServer::start();
    let site = Site::new();
    // Issue #1 goes out under the old secret.
    assert_eq!(site.run(&["send"]).code, 0);
    let ana = site
        .emls("state/outbox/2026-12-01")
        .iter()
        .map(|m| parse(m))
        .find(|m| m.to == "ana@example.com")
        .unwrap();
    let lu = ana.header("List-Unsubscribe").unwrap();
    let old_link = lu[1..lu.find('>').unwrap()].to_string();
    let (e, old_token) = unsubscribe_params(&old_link);
    assert!(signer().verify_unsubscribe(&e, &old_token));
    // A confirmation link mailed before the rotation.
    let expires = chrono::DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
        .unwrap()
        .timestamp();
    let old_confirm = tipsheet::web::confirm_url(
        &signer(),
        "https://news.example.com",
        "rae@example.com",
        "Rae",
        expires,
    );
    let q = query(&old_confirm);
    let confirm_fields: Vec<(&str, &str)> = ["e", "n", "x", "t"]
        .iter()
        .map(|k| (*k, q[*k].as_str()))
        .collect();

    // Rotated without naming the old secret: the old links stop working.
    site.use_smtp(smtp.port, 1);
    site.config(
        "secret_env = \"TIPSHEET_SECRET\"",
        "secret_env = \"TIPSHEET_SECRET\"\nprevious_secret_env = \"TIPSHEET_PREVIOUS_SECRET\"",
    );
    let serve = rotated_serve(&site, false);
    let suppressed = site.read("subscribers/suppressed.csv");
    assert_eq!(one_click(&serve.local(&old_link)).status, 400);
    assert_eq!(
        post_form(&serve.url("/confirm"), &confirm_fields).status,
        400
    );
    assert_eq!(site.read("subscribers/suppressed.csv"), suppressed);
    drop(serve);

    // With `previous_secret_env` set, they work over HTTP.
    let serve = rotated_serve(&site, true);
    let page = get(&serve.local(&old_link));
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("action=\"unsubscribe?"), "{page:?}");
    let r = one_click(&serve.local(&old_link));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        rows(&site, "subscribers/suppressed.csv").last().unwrap(),
        &("ana@example.com".to_string(), "unsubscribed".to_string())
    );
    let r = post_form(&serve.url("/confirm"), &confirm_fields);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        rows(&site, "subscribers/subscribers.csv")
            .contains(&("rae@example.com".to_string(), "Rae".to_string()))
    );

    // A token signed with neither secret is refused, and writes nothing.
    let third = Signer::new(b"neither the old nor the new secret");
    let before = site.read("subscribers/suppressed.csv");
    let forged = serve.url(&unsubscribe_path(
        "bob@example.com",
        &third.unsubscribe_token("bob@example.com"),
    ));
    assert_eq!(one_click(&forged).status, 400);
    assert_eq!(get(&forged).status, 400);
    assert_eq!(site.read("subscribers/suppressed.csv"), before);

    // Nothing new is signed with the old secret: the confirmation mail...
    let r = post_form(&serve.url("/subscribe"), &[("email", "uma@example.com")]);
    assert_eq!(r.status, 200, "{r:?}");
    let mail = wait_for("the confirmation mail", || {
        smtp.mails()
            .into_iter()
            .find(|m| m.to == ["uma@example.com"])
    });
    let fresh = query(&confirm_link(&mail.data));
    let now = chrono::DateTime::parse_from_rfc3339(crate::common::NOW)
        .unwrap()
        .to_utc();
    let check =
        |s: &Signer| verify_confirm(s, &fresh["e"], &fresh["n"], &fresh["x"], &fresh["t"], now);
    assert_eq!(check(&Signer::new(NEW_SECRET.as_bytes())), Ok(()));
    assert_eq!(check(&signer()), Err(LinkProblem::Invalid));
    drop(serve);
    // ...and the next issue's unsubscribe links.
    site.config("transport = \"smtp\"", "transport = \"outbox\"");
    let r = to_run_rotated(&site, &["send", "--date", "2026-12-15"]);
    assert_eq!(r.code, 0, "{r:?}");
    let issue2 = site.emls("state/outbox/2026-12-15");
    assert!(!issue2.is_empty());
    for raw in &issue2 {
        let m = parse(raw);
        let lu = m.header("List-Unsubscribe").unwrap();
        let (e, t) = unsubscribe_params(&lu[1..lu.find('>').unwrap()]);
        assert!(
            Signer::new(NEW_SECRET.as_bytes()).verify_unsubscribe(&e, &t),
            "{e}"
        );
        assert!(
            !signer().verify_unsubscribe(&e, &t),
            "{e}: signed with the old secret"
        );
    }
}

fn to_run_rotated(site: &Site, args: &[&str]) -> crate::common::Run {
    crate::common::to_run(
        site.command(args)
            .env("TIPSHEET_SECRET", NEW_SECRET)
            .env("TIPSHEET_PREVIOUS_SECRET", SECRET)
            .output()
            .unwrap(),
    )
}

// ---------------------------------------------------------------------------
// The welcome mail.

#[test]
fn confirming_sends_one_signed_welcome_mail_with_the_next_and_latest_issue() {
    let (site, smtp) = crate::dkim::rsa_site();
    // Issue #1 goes out, so the archive has a latest issue and #2 is next.
    assert_eq!(site.run(&["send"]).code, 0);
    let issue_mails = smtp.mails().len();
    let serve = Serve::start(&site);
    let r = post_form(
        &serve.url("/subscribe"),
        &[("email", "nia@example.com"), ("name", "Nia")],
    );
    assert_eq!(r.status, 200, "{r:?}");
    let confirmation = wait_for("the confirmation mail", || {
        smtp.mails().into_iter().nth(issue_mails)
    });
    let q = query(&confirm_link(&confirmation.data));
    let fields: Vec<(&str, &str)> = ["e", "n", "x", "t"]
        .iter()
        .map(|k| (*k, q[*k].as_str()))
        .collect();
    let to_nia = || -> Vec<Vec<u8>> {
        smtp.mails()
            .into_iter()
            .filter(|m| m.to == ["nia@example.com"])
            .map(|m| m.data)
            .collect()
    };
    assert_eq!(to_nia().len(), 1);
    let r = post_form(&serve.url("/confirm"), &fields);
    assert_eq!(r.status, 200, "{r:?}");
    let raw = wait_for("the welcome mail", || to_nia().get(1).cloned());
    let m = parse(&raw);
    assert_eq!(m.subject, "Welcome to Career Tips");
    assert_eq!(m.to, "nia@example.com");
    assert_eq!(m.content_type, "multipart/alternative");
    for part in [&m.text, &m.html] {
        assert!(part.contains("Hi Nia,"), "{part}");
        assert!(part.contains("Each issue compares roles"), "{part}");
        assert!(part.contains("every other Tuesday"), "{part}");
        // The next issue not yet sent, from the schedule: #1 went out already.
        assert!(
            part.contains("Tuesday, December 15 at 9:00 AM EST"),
            "{part}"
        );
        assert!(
            part.contains(
                "Career Tips #1: Associate Producer vs. Assistant Producer, and 2 more comparisons"
            ),
            "{part}"
        );
    }
    assert!(
        m.text.contains("https://news.example.com/issues/1\n")
            || m.text.contains("https://news.example.com/issues/1\r\n"),
        "{}",
        m.text
    );
    assert!(
        m.html
            .contains("href=\"https://news.example.com/issues/1\""),
        "{}",
        m.html
    );
    // A list mail: the unsubscribe headers, signed, and a link that works.
    let lu = m.header("List-Unsubscribe").unwrap();
    assert!(
        lu.ends_with(", <mailto:unsubscribe@example.com?subject=unsubscribe>"),
        "{lu}"
    );
    let link = lu[1..lu.find('>').unwrap()].to_string();
    let (e, t) = unsubscribe_params(&link);
    assert_eq!(e, "nia@example.com");
    assert!(signer().verify_unsubscribe(&e, &t));
    assert_eq!(
        m.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(
        m.header("List-Id").as_deref(),
        Some("Career Tips <career-tips.example.com>")
    );
    // Signed as the confirmation mail is (the same `App::send_mail`).
    let signature = m.header("DKIM-Signature").unwrap();
    assert!(
        signature.contains("d=example.com; s=test;")
            && signature.contains("list-unsubscribe:list-unsubscribe-post"),
        "{signature}"
    );
    // ... and the signature verifies independently; a tampered copy does not.
    let key = crate::dkim::rsa_public(&site, "dkim.pem");
    crate::dkim::verify(&raw, &key).expect("the welcome mail's DKIM signature verifies");
    let tampered = String::from_utf8_lossy(&raw).replacen("Hi Nia,", "Hi Mia,", 1);
    assert!(crate::dkim::verify(tampered.as_bytes(), &key).is_err());

    // A second click on the same link: the link is spent, no second mail.
    let r = post_form(&serve.url("/confirm"), &fields);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("used already"), "{r:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(to_nia().len(), 2, "a second welcome mail was sent");
    assert_eq!(
        serve
            .stderr()
            .matches("welcome mail sent to `nia@example.com`")
            .count(),
        1,
        "{}",
        serve.stderr()
    );

    // The welcome's one-click link unsubscribes.
    let r = one_click(&serve.local(&link));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        rows(&site, "subscribers/suppressed.csv").last().unwrap(),
        &("nia@example.com".to_string(), "unsubscribed".to_string())
    );
    crate::preview::assert_no_spam_rule("the welcome mail", &raw);
}

#[test]
fn sign_up_mail_comes_from_the_transactional_sender_and_issues_from_the_newsletter() {
    let smtp = SmtpServer::start();
    let site = Site::new();
    site.use_smtp(smtp.port, 1);
    site.config(
        "reply_to = ",
        "transactional_from = \"Career Tips <hello@example.com>\"\nreply_to = ",
    );
    let serve = Serve::start(&site);
    let r = post_form(
        &serve.url("/subscribe"),
        &[("email", "nia@example.com"), ("name", "Nia")],
    );
    assert_eq!(r.status, 200, "{r:?}");
    let confirmation = wait_for("the confirmation mail", || smtp.mails().into_iter().next());
    let q = query(&confirm_link(&confirmation.data));
    let fields: Vec<(&str, &str)> = ["e", "n", "x", "t"]
        .iter()
        .map(|k| (*k, q[*k].as_str()))
        .collect();
    assert_eq!(post_form(&serve.url("/confirm"), &fields).status, 200);
    let welcome = wait_for("the welcome mail", || smtp.mails().into_iter().nth(1));
    for (what, mail) in [("confirmation", &confirmation), ("welcome", &welcome)] {
        assert_eq!(mail.from, "hello@example.com", "{what}");
        assert_eq!(
            parse(&mail.data).header("From").as_deref(),
            Some("\"Career Tips\" <hello@example.com>"),
            "{what}"
        );
    }
    // The newsletter itself keeps `newsletter.from`.
    let sent = site.run(&["send"]);
    assert_eq!(sent.code, 0, "{sent:?}");
    let issues: Vec<_> = smtp.mails().into_iter().skip(2).collect();
    assert!(!issues.is_empty());
    for m in &issues {
        assert_eq!(m.from, "tips@example.com");
        assert_eq!(
            parse(&m.data).header("From").as_deref(),
            Some("\"Career Tips\" <tips@example.com>")
        );
    }
}

#[test]
fn the_archive_feed_is_atom_and_names_no_reader() {
    let site = Site::new();
    let serve = Serve::start(&site);
    let feed = |serve: &Serve| {
        let r = get(&serve.url("/issues/feed.xml"));
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.headers.get("content-type").map(String::as_str),
            Some("application/atom+xml; charset=utf-8"),
            "{r:?}"
        );
        let parsed =
            feed_rs::parser::parse(r.body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {}", r.body));
        (r.body, parsed)
    };
    let (_, before) = feed(&serve);
    assert!(before.entries.is_empty());

    assert_eq!(site.run(&["send"]).code, 0);
    let (body, parsed) = feed(&serve);
    assert_eq!(parsed.feed_type, feed_rs::model::FeedType::Atom);
    assert_eq!(parsed.title.as_ref().unwrap().content, "Career Tips");
    assert_eq!(parsed.entries.len(), 1, "{body}");
    let entry = &parsed.entries[0];
    assert!(
        entry
            .title
            .as_ref()
            .unwrap()
            .content
            .starts_with("Career Tips #1: "),
        "{body}"
    );
    assert_eq!(entry.id, "https://news.example.com/issues/1");
    assert_eq!(entry.links[0].href, "https://news.example.com/issues/1");
    let updated = entry.updated.expect("an updated time");
    assert!(updated.timestamp() > 0, "{body}");
    assert!(parsed.updated.is_some_and(|t| t >= updated), "{body}");
    let lower = body.to_lowercase();
    for private in [
        "ana@",
        "ana lima",
        "bob@",
        "carol@",
        "erin@",
        "sam@",
        "unsubscribe?e=",
    ] {
        assert!(!lower.contains(private), "{private}: {body}");
    }

    // Both archive pages point feed readers at it.
    let link = "<link rel=\"alternate\" type=\"application/atom+xml\"";
    let href = "href=\"https://news.example.com/issues/feed.xml\"";
    for page in ["/issues/", "/issues/1"] {
        let r = get(&serve.url(page));
        assert_eq!(r.status, 200, "{page}: {r:?}");
        let at = r.body.find(link).unwrap_or_else(|| panic!("{page}: {r:?}"));
        let tag = &r.body[at..at + r.body[at..].find('>').unwrap()];
        assert!(tag.contains(href), "{page}: {tag}");
        assert!(at < r.body.find("</head>").unwrap(), "{page}");
    }
}
