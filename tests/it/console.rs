//! The publisher's console under `/admin`, over real sockets: no page or
//! action without a session (303 to the sign-in page for a browser, 401 for
//! a script), roles, CSRF and `Origin` on every form, the cookie's flags, the
//! sign-in throttle with one answer for unknown names, the audit log, and a
//! hold and release made in the console seen by `status` and honoured by
//! `send --if-due`, on both engines; `admin passwd` ending the account's
//! sessions and `admin role` taking effect in open ones, on both engines.

use std::collections::HashMap;

use crate::common::Site;
use crate::engine::{Bench, Engine, SLOT, on_both_engines};
use crate::server::{ADMIN_TOKEN, Reply, Serve, agent, reply};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// Adds an account with `tipsheet admin add`.
pub(crate) fn add(site: &Site, name: &str, role: &str) {
    use std::io::Write;
    let mut child = site
        .command(&["admin", "add", name, "--role", role, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// A browser's request: it accepts HTML, and its forms come from the site.
pub(crate) struct Browser<'a> {
    serve: &'a Serve,
    cookie: Option<String>,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(serve: &'a Serve) -> Self {
        Browser {
            serve,
            cookie: None,
        }
    }

    fn origin(&self) -> String {
        self.serve.url("")
    }

    pub(crate) fn get(&self, path: &str) -> Reply {
        let mut req = agent()
            .get(&self.serve.url(path))
            .header("Accept", "text/html,application/xhtml+xml");
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", &format!("__Host-tipsheet_session={c}"));
        }
        reply(req.call())
    }

    /// A form POST with these extra headers (`Origin` is this site's unless given).
    fn post_with(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
        let mut req = agent()
            .post(&self.serve.url(path))
            .header("Accept", "text/html");
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("origin"))
        {
            req = req.header("Origin", &self.origin());
        }
        for (k, v) in headers {
            if !v.is_empty() {
                req = req.header(*k, *v);
            }
        }
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", &format!("__Host-tipsheet_session={c}"));
        }
        reply(req.send_form(fields.iter().copied()))
    }

    /// A POST of a page's form: its CSRF token added.
    fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.csrf();
        let mut all = fields.to_vec();
        all.push(("csrf", &csrf));
        self.post_with(path, &all, &[])
    }

    /// Signs in; the reply of the sign-in POST.
    pub(crate) fn sign_in(&mut self, name: &str, password: &str) -> Reply {
        let r = self.post_with(
            "/admin/login",
            &[("name", name), ("password", password)],
            &[],
        );
        if let Some(set) = r.headers.get("set-cookie") {
            self.cookie = set
                .split(';')
                .next()
                .and_then(|kv| kv.strip_prefix("__Host-tipsheet_session="))
                .map(str::to_string);
        }
        r
    }

    /// The CSRF token of the dashboard's forms.
    fn csrf(&self) -> String {
        let page = self.get("/admin");
        assert_eq!(page.status, 200, "{page:?}");
        let at = page
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a token")
            + 19;
        page.body[at..].split('"').next().unwrap().to_string()
    }
}

fn script_get(serve: &Serve, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = agent().get(&serve.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    reply(req.call())
}

fn script_post(serve: &Serve, path: &str, fields: &[(&str, &str)], token: Option<&str>) -> Reply {
    let mut req = agent().post(&serve.url(path));
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    reply(req.send_form(fields.iter().copied()))
}

/// `field` of the first issue's row in `status --json`, if set.
fn status_of(site: &Site, field: &str) -> Option<serde_json::Value> {
    let s = site.run(&["status", "--json"]);
    assert_eq!(s.code, 0, "{s:?}");
    let rows: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["slot"] == SLOT)
        .and_then(|r| r.get(field).cloned())
        .filter(|h| !h.is_null())
}

fn hold_of(site: &Site) -> Option<serde_json::Value> {
    status_of(site, "hold")
}

const PAGES: [&str; 6] = [
    "/admin",
    "/admin/issues/2026-12-01",
    "/admin/readers",
    "/admin/content",
    "/admin/audit",
    "/admin/events",
];
const ACTIONS: [&str; 6] = [
    "/admin/issues/2026-12-01/hold",
    "/admin/issues/2026-12-01/release",
    "/admin/issues/2026-12-01/approve",
    "/admin/issues/2026-12-01/proof",
    "/admin/readers/forget",
    "/admin/logout",
];

#[test]
fn no_page_or_action_without_a_session_browsers_sign_in_and_scripts_get_401() {
    let site = Site::new();
    add(&site, "ana", "publisher");
    let serve = Serve::start(&site);
    let browser = Browser::new(&serve);
    for path in PAGES {
        let r = browser.get(path);
        assert_eq!(r.status, 303, "{path}: {r:?}");
        assert_eq!(r.headers["location"], "/admin/login", "{path}");
        let r = script_get(&serve, path, &[]);
        assert_eq!(r.status, 401, "{path}: {r:?}");
        assert!(
            r.headers["www-authenticate"].starts_with("Bearer"),
            "{path}"
        );
        let r = script_get(&serve, path, &[("Authorization", "Bearer wrong")]);
        assert_eq!(r.status, 401, "{path}: {r:?}");
        // A wrong bearer token is a script's mistake, even from a browser.
        let r = script_get(
            &serve,
            path,
            &[("Authorization", "Bearer wrong"), ("Accept", "text/html")],
        );
        assert_eq!(r.status, 401, "{path}: {r:?}");
    }
    for path in ACTIONS {
        let r = browser.post_with(
            path,
            &[("email", "ana@example.com"), ("confirm", "yes")],
            &[],
        );
        assert_eq!(r.status, 303, "{path}: {r:?}");
        assert_eq!(r.headers["location"], "/admin/login", "{path}");
        let r = script_post(&serve, path, &[("email", "ana@example.com")], None);
        assert_eq!(r.status, 401, "{path}: {r:?}");
        let r = script_post(&serve, path, &[("email", "ana@example.com")], Some("wrong"));
        assert_eq!(r.status, 401, "{path}: {r:?}");
    }
    // Nothing was held, erased or recorded.
    assert_eq!(hold_of(&site), None);
    assert!(
        site.read("subscribers/subscribers.csv")
            .contains("ana@example.com")
    );
    // The admin bearer token reads and acts as a publisher, audited as `token`.
    let r = script_get(
        &serve,
        "/admin",
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = script_post(
        &serve,
        "/admin/issues/2026-12-01/hold",
        &[("reason", "by script")],
        Some(ADMIN_TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(hold_of(&site).unwrap()["reason"], "by script");
    let log = script_get(
        &serve,
        "/admin/audit",
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
    );
    assert!(
        log.body
            .contains("<td>token</td><td>hold</td><td>2026-12-01</td><td>by script</td>"),
        "{log:?}"
    );
}

#[test]
fn the_session_cookie_is_host_only_secure_httponly_strict_and_rotated_at_sign_in() {
    let site = Site::new();
    add(&site, "ana", "publisher");
    let serve = Serve::start(&site);
    let mut browser = Browser::new(&serve);
    let r = browser.sign_in("ana", PASSWORD);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.headers["location"], "/admin");
    let cookie = &r.headers["set-cookie"];
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attrs[0].starts_with("__Host-tipsheet_session="), "{cookie}");
    assert!(
        attrs[0].len() > "__Host-tipsheet_session=".len() + 40,
        "{cookie}"
    );
    for flag in [
        "Path=/",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Max-Age=43200",
    ] {
        assert!(attrs.contains(&flag), "{flag} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let first = browser.cookie.clone().unwrap();
    let page = browser.get("/admin");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("ana (publisher)"), "{page:?}");
    let csp = &page.headers["content-security-policy"];
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline'; script") && !csp.contains("script-src 'unsafe"),
        "{csp}"
    );
    // Same-origin referrers: under `no-referrer` a browser's forms say `Origin: null`.
    assert_eq!(page.headers["referrer-policy"], "same-origin");
    // Signing in again gets a new id, and the old one stops working.
    let r = browser.sign_in("ana", PASSWORD);
    assert_eq!(r.status, 303, "{r:?}");
    let second = browser.cookie.clone().unwrap();
    assert_ne!(first, second);
    let old = Browser {
        serve: &serve,
        cookie: Some(first),
    };
    assert_eq!(old.get("/admin").status, 303);
    // The public pages keep the no-script policy.
    let public = crate::server::get(&serve.url("/subscribe"));
    assert!(
        !public.headers["content-security-policy"].contains("script-src"),
        "{public:?}"
    );
    // /preview takes a session too.
    assert_eq!(browser.get("/preview").status, 200);
    assert_eq!(Browser::new(&serve).get("/preview").status, 404);
    // Signing out ends the session.
    let r = browser.submit("/admin/logout", &[]);
    assert_eq!(r.status, 303, "{r:?}");
    assert!(r.headers["set-cookie"].contains("Max-Age=0"), "{r:?}");
    assert_eq!(browser.get("/admin").status, 303);
}

#[test]
fn roles_decide_who_may_hold_release_approve_proof_and_erase() {
    let site = Site::new();
    site.config(
        "# proof_to = [\"editor@example.com\", \"coach@example.com\"]",
        "proof_to = [\"editor@example.com\"]",
    );
    add(&site, "vera", "viewer");
    add(&site, "ed", "editor");
    add(&site, "pat", "publisher");
    let serve = Serve::start(&site);
    let mut viewer = Browser::new(&serve);
    viewer.sign_in("vera", PASSWORD);
    let mut editor = Browser::new(&serve);
    editor.sign_in("ed", PASSWORD);
    let mut publisher = Browser::new(&serve);
    publisher.sign_in("pat", PASSWORD);
    let hold = "/admin/issues/2026-12-01/hold";
    let release = "/admin/issues/2026-12-01/release";

    assert_eq!(viewer.get("/admin").status, 200);
    for path in [
        hold,
        release,
        "/admin/issues/2026-12-01/approve",
        "/admin/issues/2026-12-01/proof",
    ] {
        let r = viewer.submit(path, &[]);
        assert_eq!(r.status, 403, "{path}: {r:?}");
    }
    assert_eq!(viewer.get("/admin/readers").status, 403);
    assert_eq!(hold_of(&site), None);

    let r = editor.submit(hold, &[("reason", "check the links")]);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(hold_of(&site).unwrap()["reason"], "check the links");
    assert_eq!(editor.submit(release, &[]).status, 403);
    assert_eq!(
        editor
            .submit("/admin/issues/2026-12-01/approve", &[])
            .status,
        403
    );
    let r = editor.submit(
        "/admin/readers/forget",
        &[("email", "ana@example.com"), ("confirm", "yes")],
    );
    assert_eq!(r.status, 403, "{r:?}");
    assert!(
        site.read("subscribers/subscribers.csv")
            .contains("ana@example.com")
    );

    let r = publisher.submit(release, &[]);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(hold_of(&site), None);
    // An editor sends a proof (outside the ledger); a publisher approves.
    let r = editor.submit("/admin/issues/2026-12-01/proof", &[]);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(site.emls("state/outbox/proof-2026-12-01").len(), 1);
    let r = publisher.submit("/admin/issues/2026-12-01/approve", &[]);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(status_of(&site, "approval").unwrap()["by"], "pat");

    // A publisher looks a reader up, is asked to confirm, then erases.
    let page = publisher.get("/admin/readers?email=ana%40example.com");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("Ana Lima"), "{page:?}");
    let ask = publisher.submit("/admin/readers/forget", &[("email", "ana@example.com")]);
    assert_eq!(ask.status, 200, "{ask:?}");
    assert!(ask.body.contains("Erase for good"), "{ask:?}");
    assert!(
        site.read("subscribers/subscribers.csv")
            .contains("ana@example.com")
    );
    let done = publisher.submit(
        "/admin/readers/forget",
        &[("email", "ana@example.com"), ("confirm", "yes")],
    );
    assert_eq!(done.status, 200, "{done:?}");
    assert!(done.body.contains("hmac:"), "{done:?}");
    assert!(
        !site
            .read("subscribers/subscribers.csv")
            .contains("ana@example.com")
    );

    // The audit log has each action with its account; the erasure by pseudonym only.
    let log = publisher.get("/admin/audit");
    assert_eq!(log.status, 200);
    for (who, what) in [
        ("vera", "sign-in"),
        ("ed", "sign-in"),
        ("pat", "sign-in"),
        ("ed", "hold"),
        ("pat", "release"),
        ("ed", "proof"),
        ("pat", "approve"),
        ("pat", "erase"),
    ] {
        assert!(
            log.body.contains(&format!("<td>{who}</td><td>{what}</td>")),
            "{who} {what}: {log:?}"
        );
    }
    assert!(!log.body.contains("ana@example.com"), "{log:?}");
    let issue = publisher.get("/admin/issues/2026-12-01");
    assert_eq!(issue.status, 200, "the approval froze the issue: {issue:?}");
    assert!(issue.body.contains("approved by pat"), "{issue:?}");
}

#[test]
fn forged_posts_are_refused_and_change_nothing() {
    let site = Site::new();
    add(&site, "pat", "publisher");
    let serve = Serve::start(&site);
    let mut b = Browser::new(&serve);
    b.sign_in("pat", PASSWORD);
    let csrf = b.csrf();
    let hold = "/admin/issues/2026-12-01/hold";
    type Pairs<'a> = Vec<(&'a str, &'a str)>;
    let cases: [(&str, Pairs, Pairs); 5] = [
        ("no token", vec![], vec![]),
        (
            "a wrong token",
            vec![("csrf", "0123456789abcdef0123456789abcdef0123456789a")],
            vec![],
        ),
        (
            "a foreign origin",
            vec![("csrf", &csrf)],
            vec![("Origin", "https://evil.example")],
        ),
        (
            "a foreign referer",
            vec![("csrf", &csrf)],
            vec![("Origin", ""), ("Referer", "https://evil.example/page")],
        ),
        (
            "neither origin nor referer",
            vec![("csrf", &csrf)],
            vec![("Origin", "")],
        ),
    ];
    for (what, fields, headers) in cases {
        let r = b.post_with(hold, &fields, &headers);
        assert_eq!(r.status, 403, "{what}: {r:?}");
        assert_eq!(hold_of(&site), None, "{what}");
    }
    // Erasure is refused the same way.
    let r = b.post_with(
        "/admin/readers/forget",
        &[
            ("email", "ana@example.com"),
            ("confirm", "yes"),
            ("csrf", &csrf),
        ],
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(r.status, 403, "{r:?}");
    assert!(
        site.read("subscribers/subscribers.csv")
            .contains("ana@example.com")
    );
    // The same form from this site goes through.
    let r = b.post_with(hold, &[("csrf", &csrf)], &[]);
    assert_eq!(r.status, 303, "{r:?}");
    assert!(hold_of(&site).is_some());
    // A sign-in posted from another site is refused too.
    let r = Browser::new(&serve).post_with(
        "/admin/login",
        &[("name", "pat"), ("password", PASSWORD)],
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(r.status, 403, "{r:?}");
    assert!(!r.headers.contains_key("set-cookie"));
}

#[test]
fn wrong_passwords_are_throttled_and_an_unknown_name_gets_the_same_answer() {
    let site = Site::new();
    add(&site, "pat", "publisher");
    let serve = Serve::start(&site);
    let mut b = Browser::new(&serve);
    let same = |r: &Reply, name: &str| {
        r.body
            .replace(&format!("value=\"{name}\""), "value=\"NAME\"")
    };
    let wrong = b.sign_in("pat", "not the password at all");
    let unknown = b.sign_in("nobody", "not the password at all");
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(same(&wrong, "pat"), same(&unknown, "nobody"));
    assert!(!wrong.headers.contains_key("set-cookie"));
    for _ in 0..4 {
        assert_eq!(b.sign_in("pat", "still not it").status, 401);
    }
    // Five failures: the account is throttled, even with the right password.
    let r = b.sign_in("pat", PASSWORD);
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.headers.contains_key("retry-after"), "{r:?}");
    assert!(b.cookie.is_none());
    // The client is throttled after twenty failures (six so far), whatever the name.
    for i in 0..14 {
        let r = b.sign_in(&format!("guess{i}"), "nope nope nope nope");
        assert_eq!(r.status, 401, "failure {}: {r:?}", 7 + i);
    }
    let r = b.sign_in("fresh-name", "nope nope nope nope");
    assert_eq!(r.status, 429, "{r:?}");
    let log = crate::common::embedded_store(&site.path(""));
    let entries = crate::common::block_on(log.audit_log(100, None, None)).unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.actor == "pat" && e.action == "sign-in-failed" && e.client == "127.0.0.1")
    );
    assert!(
        entries
            .iter()
            .any(|e| e.actor == "nobody" && e.action == "sign-in-failed")
    );
}

on_both_engines!(
    an_approval_hold_and_release_made_in_the_console_are_seen_by_status_and_honoured_by_send
);

fn an_approval_hold_and_release_made_in_the_console_are_seen_by_status_and_honoured_by_send(
    engine: Engine,
    test: &str,
) {
    let site = Site::new();
    site.config("approval = \"off\"", "approval = \"required\"");
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    add(&site, "pat", "publisher");
    let serve = Serve::start(&site);
    let mut b = Browser::new(&serve);
    assert_eq!(b.sign_in("pat", PASSWORD).status, 303);
    let dashboard = b.get("/admin");
    assert!(
        dashboard.body.contains("awaiting approval"),
        "{dashboard:?}"
    );
    let due = ["send", "--if-due", "--now", "2026-12-01T14:05:00Z"];
    let r = site.run(&due);
    assert_eq!(r.code, 6, "{r:?}");
    assert!(r.stderr.contains("awaiting approval"), "{r:?}");
    let r = b.submit("/admin/issues/2026-12-01/approve", &[]);
    assert_eq!(r.status, 303, "{r:?}");
    let approval = status_of(&site, "approval").unwrap();
    assert_eq!(approval["state"], "approved", "{approval}");
    assert_eq!(approval["by"], "pat", "{approval}");
    assert!(b.get("/admin").body.contains("approved by pat"));
    let r = b.submit(
        "/admin/issues/2026-12-01/hold",
        &[("reason", "legal review")],
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(hold_of(&site).unwrap()["reason"], "legal review");
    assert!(b.get("/admin").body.contains("on hold"));
    let r = site.run(&due);
    assert_eq!(r.code, 6, "{r:?}");
    assert!(r.stderr.contains("legal review"), "{r:?}");
    let r = b.submit("/admin/issues/2026-12-01/release", &[]);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(hold_of(&site), None);
    let r = site.run(&due);
    assert_eq!(r.code, 0, "{r:?}");
    // The dashboard and the issue page show what was sent.
    let page = b.get("/admin");
    assert!(page.body.contains("<svg"), "charts: {page:?}");
    assert!(page.body.contains("Gmail complaint line 0.3%"), "{page:?}");
    let issue = b.get("/admin/issues/2026-12-01");
    assert_eq!(issue.status, 200, "{issue:?}");
    assert!(
        issue
            .body
            .contains("<td>pat</td><td>hold</td><td>legal review</td>"),
        "{issue:?}"
    );
    assert!(
        issue.body.contains("<td>pat</td><td>release</td>"),
        "{issue:?}"
    );
    assert!(issue.body.contains("approved by pat (sha256"), "{issue:?}");
    let counts: HashMap<&str, &str> = [("sent", "4")].into_iter().collect();
    for (status, n) in counts {
        assert!(
            issue
                .body
                .contains(&format!("<dt>{status}</dt><dd>{n}</dd>")),
            "{issue:?}"
        );
    }
}

/// `tipsheet admin ARGS` run by `ops`, with `input` on standard input.
fn admin(site: &Site, args: &[&str], input: &str) -> crate::common::Run {
    use std::io::Write;
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let mut child = site
        .command(&all)
        .env("USER", "ops")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It may exit before reading (an unknown account is refused first).
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    crate::common::to_run(child.wait_with_output().unwrap())
}

/// The audit page's row `who`, `what`, `to`, `detail` (as a viewer sees it).
fn audit_row(who: &str, what: &str, to: &str, detail: &str) -> String {
    format!("<td>{who}</td><td>{what}</td><td>{to}</td><td>{detail}</td>")
}

on_both_engines!(
    a_new_password_ends_the_accounts_sessions_and_only_it_signs_in,
    a_role_change_applies_to_open_sessions_and_never_demotes_the_last_publisher
);

fn a_new_password_ends_the_accounts_sessions_and_only_it_signs_in(engine: Engine, test: &str) {
    const NEW: &str = "a different horse, a different staple";
    let Some(site) = Bench::on(engine, test, Site::new()) else {
        return;
    };
    add(&site, "pat", "publisher");
    add(&site, "vera", "viewer");
    let serve = Serve::start(&site);
    let mut stolen = Browser::new(&serve);
    assert_eq!(stolen.sign_in("pat", PASSWORD).status, 303);
    assert_eq!(stolen.get("/admin").status, 200);
    let mut other = Browser::new(&serve);
    assert_eq!(other.sign_in("vera", PASSWORD).status, 303);

    // Refused before anything changes: a short password, an unknown name.
    let r = admin(&site, &["passwd", "pat", "--password-stdin"], "too short\n");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("the password is 9 characters long"),
        "{r:?}"
    );
    assert_eq!(stolen.get("/admin").status, 200, "nothing changed");
    let r = admin(&site, &["passwd", "nobody", "--password-stdin"], NEW);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("no account is called `nobody`; `tipsheet admin list` shows them"),
        "{r:?}"
    );

    let r = admin(
        &site,
        &["passwd", "pat", "--password-stdin"],
        &format!("{NEW}\n"),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout, "password of `pat` changed; 1 open session ended\n",
        "{r:?}"
    );
    // The session opened under the old password is over, for a browser and a script.
    assert_eq!(stolen.get("/admin").status, 303);
    let cookie = format!(
        "__Host-tipsheet_session={}",
        stolen.cookie.as_deref().unwrap()
    );
    assert_eq!(
        script_get(&serve, "/admin", &[("Cookie", &cookie)]).status,
        401
    );
    let form = stolen.post_with(
        "/admin/issues/2026-12-01/hold",
        &[("csrf", "whatever")],
        &[],
    );
    assert_eq!(form.status, 303, "{form:?}");
    assert_eq!(hold_of(&site), None);
    // Another account's session stays.
    assert_eq!(other.get("/admin").status, 200);
    // The old password is refused, the new one signs in.
    let mut b = Browser::new(&serve);
    assert_eq!(b.sign_in("pat", PASSWORD).status, 401);
    assert!(b.cookie.is_none());
    assert_eq!(b.sign_in("pat", NEW).status, 303);
    let page = b.get("/admin");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("pat (publisher)"), "{page:?}");

    let log = other.get("/admin/audit");
    assert_eq!(log.status, 200);
    assert!(
        log.body.contains(&audit_row(
            "cli:ops",
            "account-password",
            "pat",
            "1 session ended"
        )),
        "{log:?}"
    );
    assert_eq!(
        log.body.matches("account-password").count(),
        1,
        "the refusals wrote nothing: {log:?}"
    );
}

fn a_role_change_applies_to_open_sessions_and_never_demotes_the_last_publisher(
    engine: Engine,
    test: &str,
) {
    let site = Site::new();
    site.config("approval = \"off\"", "approval = \"required\"");
    let Some(site) = Bench::on(engine, test, site) else {
        return;
    };
    add(&site, "pat", "publisher");
    add(&site, "ana", "publisher");
    let serve = Serve::start(&site);
    let mut ana = Browser::new(&serve);
    assert_eq!(ana.sign_in("ana", PASSWORD).status, 303);
    let approve = "/admin/issues/2026-12-01/approve";

    let r = admin(&site, &["role", "ana", "--role", "viewer"], "");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "account `ana` changed from publisher to viewer; its open sessions have the new role\n"
    );
    // The open session stays, as a viewer at once.
    let page = ana.get("/admin");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("ana (viewer)"), "{page:?}");
    let r = ana.submit(approve, &[]);
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("`ana` is a viewer"), "{r:?}");
    assert_eq!(status_of(&site, "approval").unwrap()["state"], "awaiting");

    // pat is now the last publisher: neither demoted nor removed.
    let list = || admin(&site, &["list"], "").stdout;
    let before = list();
    for (args, code) in [
        (&["role", "pat", "--role", "editor"][..], 2),
        (&["role", "pat", "--role", "viewer"][..], 2),
        (&["remove", "pat"][..], 2),
    ] {
        let r = admin(&site, args, "");
        assert_eq!(r.code, code, "{args:?}: {r:?}");
        assert!(
            r.stderr
                .contains("`pat` is the last publisher: add or promote another"),
            "{args:?}: {r:?}"
        );
        assert_eq!(r.stdout, "", "{r:?}");
    }
    assert_eq!(list(), before, "nothing changed");
    assert!(
        before.contains("pat                      publisher"),
        "{before}"
    );
    let r = admin(&site, &["role", "nobody", "--role", "viewer"], "");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no account is called `nobody`"), "{r:?}");
    let r = admin(&site, &["role", "pat", "--role", "publisher"], "");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "account `pat` is a publisher already; nothing changed\n"
    );

    // Promoted again, the same session approves.
    let r = admin(&site, &["role", "ana", "--role", "publisher"], "");
    assert_eq!(r.code, 0, "{r:?}");
    let r = ana.submit(approve, &[]);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(status_of(&site, "approval").unwrap()["by"], "ana");

    let log = ana.get("/admin/audit");
    assert_eq!(log.status, 200);
    for detail in ["publisher to viewer", "viewer to publisher"] {
        assert!(
            log.body
                .contains(&audit_row("cli:ops", "account-role", "ana", detail)),
            "{detail}: {log:?}"
        );
    }
    assert_eq!(
        log.body.matches("account-role").count(),
        2,
        "refusals and no-ops wrote nothing: {log:?}"
    );
}

on_both_engines!(a_send_keeps_the_issues_tally_and_a_late_bounce_is_counted_again);

/// The kept tally of the first issue: its counts by status and the number
/// of events it was taken at; `None` when none is kept.
fn kept_tally(site: &Bench) -> Option<(std::collections::BTreeSet<String>, i64)> {
    let (counts, events): (String, i64) = match &site.db {
        Some(db) => {
            let rows = db.query(&format!(
                "SELECT counts, events FROM tallies WHERE slot = '{SLOT}'"
            ));
            let r = rows.first()?;
            (r.get(0), r.get(1))
        }
        None => {
            let conn = rusqlite::Connection::open(site.path("state/tipsheet.sqlite3")).unwrap();
            conn.query_row(
                "SELECT counts, events FROM tallies WHERE slot = ?1",
                [SLOT],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()?
        }
    };
    Some((counts.split(',').map(String::from).collect(), events))
}

/// The dashboard's row for issue #1: recipients, delivered, bounced.
fn first_row(page: &Reply) -> String {
    let start = page
        .body
        .find("<td><a href=\"/admin/issues/2026-12-01\">#1</a>");
    let row = &page.body[start.expect("issue #1 in the table")..];
    row[..row.find("</tr>").unwrap()].to_string()
}

/// The send that marks an issue sent keeps its tally (so the dashboard
/// counts no recipient row for it), and `status` reads it too; a bounce
/// recorded later moves a row, and the dashboard and `status` count that
/// issue again instead of showing the old figures.
fn a_send_keeps_the_issues_tally_and_a_late_bounce_is_counted_again(engine: Engine, test: &str) {
    let Some((server, site)) = crate::inbound::sent(engine, test) else {
        return;
    };
    let set = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
    assert_eq!(kept_tally(&site), Some((set(&["sent:4"]), 0)));
    add(&site, "pat", "publisher");
    let serve = Serve::start(&site);
    let mut b = Browser::new(&serve);
    assert_eq!(b.sign_in("pat", PASSWORD).status, 303);
    let row = first_row(&b.get("/admin"));
    assert!(
        row.contains("<td class=\"num\">4</td><td class=\"num\">4</td><td class=\"num\">0</td>"),
        "{row}"
    );
    // Every reader of the sent issue's counts takes the kept tally while it
    // is current: marked here, `status` shows the mark.
    let mark = "UPDATE tallies SET counts = 'sent:999'";
    match &site.db {
        Some(db) => drop(db.query(mark)),
        None => {
            let conn = rusqlite::Connection::open(site.path("state/tipsheet.sqlite3")).unwrap();
            conn.execute(mark, []).unwrap();
        }
    }
    let status_counts = || {
        let r = site.run(&["status", "--json"]);
        assert_eq!(r.code, 0, "{r:?}");
        let rows: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        rows.as_array().unwrap()[0]["counts"].clone()
    };
    assert_eq!(status_counts(), serde_json::json!({"sent": 999}));
    let got = crate::inbound::copies(&server, 0);
    let dsn = crate::inbound::fixture(
        "postfix-hard.eml",
        &got,
        "ana@example.com",
        "ana@example.com",
    );
    let r = crate::inbound::inbound_stdin(&site, &dsn);
    assert_eq!(r.code, 0, "{r:?}");
    let row = first_row(&b.get("/admin"));
    assert!(
        row.contains("<td class=\"num\">4</td><td class=\"num\">3</td><td class=\"num\">1</td>"),
        "{row}"
    );
    let (counts, events) = kept_tally(&site).unwrap();
    assert_eq!(counts, set(&["sent:3", "bounced:1"]));
    assert!(events >= 1, "{events}");
    // The event made the mark stale: counted again, everywhere.
    assert_eq!(
        status_counts(),
        serde_json::json!({"sent": 3, "bounced": 1})
    );
}

/// The first `n` server-sent events of `/admin/events` named `kind`, read
/// off a real connection with the session `cookie`: their `data` lines.
fn events(serve: &Serve, cookie: &str, kind: &str, n: usize) -> Vec<String> {
    use std::io::{BufRead, BufReader, Write};
    let addr = serve.url("").trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "GET /admin/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nCookie: __Host-tipsheet_session={cookie}\r\n\r\n"
    )
    .unwrap();
    let mut lines = BufReader::new(conn).lines();
    let status = lines.next().unwrap().unwrap();
    assert!(status.contains(" 200 "), "{status}");
    let mut named = false;
    let mut out = Vec::new();
    for line in lines {
        let line = line.expect("an event within ten seconds");
        if line == format!("event: {kind}") {
            named = true;
        } else if named && let Some(data) = line.strip_prefix("data: ") {
            out.push(data.to_string());
            named = false;
            if out.len() == n {
                return out;
            }
        }
    }
    panic!("the stream ended after {} `{kind}` events", out.len());
}

/// A send that stopped with its readers pending (the relay is not there)
/// is followed live: each viewer's stream carries the issue's progress,
/// and six viewers at once cost the store one reading a tick, not six (the
/// readings of `recipients` are counted by PostgreSQL's own statistics).
#[test]
fn viewers_of_a_send_share_one_reading_of_its_progress() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = Site::new();
    site.use_smtp(port, 1);
    site.config("max_attempts = 5", "max_attempts = 1");
    let Some(site) = Bench::on(Engine::Postgres, "viewers_share_one_reading", site) else {
        return;
    };
    let r = site.run(&["send"]);
    assert_ne!(r.code, 0, "{r:?}");
    add(&site, "vic", "viewer");
    let db = site.db.as_ref().unwrap();
    let scans = || {
        db.count(
            "SELECT seq_scan + COALESCE(idx_scan, 0) FROM pg_stat_user_tables
             WHERE relname = 'recipients'",
        )
    };
    let before = scans();
    const VIEWERS: usize = 6;
    const EACH: usize = 3;
    {
        let serve = Serve::start(&site);
        let mut b = Browser::new(&serve);
        assert_eq!(b.sign_in("vic", PASSWORD).status, 303);
        let cookie = b.cookie.clone().unwrap();
        let streams: Vec<Vec<String>> = std::thread::scope(|s| {
            let all: Vec<_> = (0..VIEWERS)
                .map(|_| s.spawn(|| events(&serve, &cookie, "progress", EACH)))
                .collect();
            all.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for got in &streams {
            assert_eq!(got.len(), EACH);
            for data in got {
                let p: serde_json::Value = serde_json::from_str(data).unwrap();
                assert_eq!(p["number"], 1, "{p}");
                assert_eq!(p["total"], 4, "{p}");
                assert_eq!(p["pending"], 4, "{p}");
                assert_eq!(p["finished"], false, "{p}");
            }
        }
    }
    // The server is gone: its connections have ended and their statistics
    // are in.
    let mut reads = 0;
    for _ in 0..50 {
        reads = scans() - before;
        if reads > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(reads > 0, "the statistics never came in");
    assert!(
        reads <= (EACH + 3) as i64,
        "{VIEWERS} viewers of {EACH} readings each read `recipients` {reads} times"
    );
}

on_both_engines!(serve_counts_a_stale_tally_before_anyone_asks);

/// A ledger whose sent issue has no kept tally (written by a version that
/// kept none): `serve` counts it on its own at start, so no reader of the
/// dashboard waits for the count.
fn serve_counts_a_stale_tally_before_anyone_asks(engine: Engine, test: &str) {
    let Some((_server, site)) = crate::inbound::sent(engine, test) else {
        return;
    };
    let forget = "DELETE FROM tallies";
    match &site.db {
        Some(db) => drop(db.query(forget)),
        None => {
            let conn = rusqlite::Connection::open(site.path("state/tipsheet.sqlite3")).unwrap();
            conn.execute(forget, []).unwrap();
        }
    }
    assert_eq!(kept_tally(&site), None);
    let _serve = Serve::start(&site);
    let mut kept = None;
    for _ in 0..100 {
        kept = kept_tally(&site);
        if kept.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let set = ["sent:4".to_string()].into_iter().collect();
    assert_eq!(kept, Some((set, 0)));
}
