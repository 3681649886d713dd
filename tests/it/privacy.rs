//! A reader's data: `subscribers show`, `subscribers forget`, and the web's
//! "Download my data" / "Delete my data", against real files, a real SQLite
//! ledger, the in-process SMTP server and a real `tipsheet serve`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mailin_embedded::response::Response;
use tipsheet::mail::token::{Signer, encode_query};

use crate::common::{SECRET, Site};
use crate::pg::{self, FreshDb};
use crate::reader_links::{act, made_link, request_link, shown};
use crate::server::{Serve, get, one_click, post_form, wait_for};
use crate::smtp_server::{FaultServer, Faults, SmtpServer, Wire};

const LIST: &str = "email,name,subscribed_at\r
ana@example.com,Ana Lima,2026-09-14T10:22:00Z\r
bob@example.com,Bob Stone,2026-09-15\r
Carol@Example.com,\"Reyes, Carol\",\r
dave@example.com,Dave,\r
";

const SUPPRESSED: &str = "email,reason,at
sam@example.com,unsubscribed,2026-10-30T08:00:00Z
ana@example.com,unsubscribed,2026-10-01T08:00:00Z
ana@example.com,resubscribed,2026-10-02T08:00:00Z
";

const SLOTS: [&str; 3] = ["2026-12-01", "2026-12-15", "2026-12-29"];

fn bounce_ana(to: &str, _: u32) -> Option<Response> {
    to.starts_with("ana@")
        .then(|| Response::custom(550, format!("5.1.1 <{to}>: Ana Lima is not known here")))
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// Every row of every table of the ledger, as text.
fn ledger_rows(path: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.contains(&"recipients".to_string()), "{tables:?}");
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let mut cells = vec![t.clone()];
                for i in 0..n {
                    let v: rusqlite::types::Value = r.get(i)?;
                    cells.push(format!("{v:?}"));
                }
                Ok(cells.join("|"))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

/// Every row of every table of a PostgreSQL store, as text (binary columns
/// decoded too, so an address inside a frozen rendered issue shows).
fn pg_rows(db: &FreshDb) -> Vec<String> {
    let columns = db.query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND data_type = 'bytea'",
    );
    let tables = db.query(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' ORDER BY 1",
    );
    let tables: Vec<String> = tables.iter().map(|r| r.get(0)).collect();
    assert!(tables.contains(&"recipients".to_string()), "{tables:?}");
    let mut out = Vec::new();
    for t in tables {
        let binary: Vec<String> = columns
            .iter()
            .filter(|r| r.get::<_, String>(0) == t)
            .map(|r| format!(", encode(t.\"{}\", 'escape')", r.get::<_, String>(1)))
            .collect();
        let sql = format!(
            "SELECT concat_ws('|', '{t}', row_to_json(t)::text{}) FROM \"{t}\" t ORDER BY 1",
            binary.concat()
        );
        out.extend(db.query(&sql).iter().map(|r| r.get::<_, String>(0)));
    }
    out
}

/// The store a scenario runs on.
enum Engine {
    /// The embedded default: the list files and the SQLite ledger.
    Files,
    /// A fresh PostgreSQL database.
    Pg(FreshDb),
}

impl Engine {
    /// A site on this engine whose list is `list` with `suppressed`: the
    /// files written, or imported into the store (and the import files removed:
    /// the list of record is the store).
    fn site(&self, list: &str, suppressed: &str) -> Site {
        let site = match self {
            Engine::Files => Site::new(),
            Engine::Pg(db) => crate::subscribers::pg_site(db),
        };
        site.write("subscribers/subscribers.csv", list);
        site.write("subscribers/suppressed.csv", suppressed);
        if let Engine::Pg(_) = self {
            crate::engine::import_list(&site);
        }
        site
    }

    /// Every row of every table of the store.
    fn rows(&self, site: &Site) -> Vec<String> {
        match self {
            Engine::Files => ledger_rows(&site.path("state/tipsheet.sqlite3")),
            Engine::Pg(db) => pg_rows(db),
        }
    }

    /// Records an inbound event, as `tipsheet inbound` does.
    fn record_event(&self, site: &Site, sql: &str) {
        match self {
            Engine::Files => {
                rusqlite::Connection::open(site.path("state/tipsheet.sqlite3"))
                    .unwrap()
                    .execute(sql, [])
                    .unwrap();
            }
            Engine::Pg(db) => {
                db.query(sql);
            }
        }
    }

    /// The suppression reasons of `email` (the file's rows, or the store's row).
    fn reasons(&self, site: &Site, email: &str) -> Vec<String> {
        match self {
            Engine::Files => site
                .read("subscribers/suppressed.csv")
                .lines()
                .filter(|l| l.to_lowercase().starts_with(&format!("{email},")))
                .map(|l| l.split_once(',').unwrap().1.to_string())
                .collect(),
            Engine::Pg(db) => db
                .query(&format!(
                    "SELECT reason FROM suppressions WHERE email = '{email}'"
                ))
                .iter()
                .map(|r| r.get(0))
                .collect(),
        }
    }
}

/// The places a reader's address or name could hide.
fn needles() -> [&'static str; 4] {
    [
        "ana@example.com",
        "ana%40example.com",
        "ana lima",
        "ana%20lima",
    ]
}

fn assert_nowhere(engine: &Engine, site: &Site) {
    for dir in ["state", "subscribers"] {
        if !site.path(dir).exists() {
            continue;
        }
        for f in files(&site.path(dir)) {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_lowercase();
            for n in needles() {
                assert!(!text.contains(n), "`{n}` is still in {}", f.display());
            }
        }
    }
    for row in engine.rows(site) {
        for n in needles() {
            assert!(
                !row.to_lowercase().contains(n),
                "`{n}` is still in store row {row}"
            );
        }
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Per issue: counts by status.
fn counts(site: &Site) -> serde_json::Value {
    let s = site.run(&["status", "--json"]);
    assert_eq!(s.code, 0, "{s:?}");
    let v = json(&s.stdout);
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| serde_json::json!([i["slot"], i["status"], i["counts"]]))
        .collect()
}

#[test]
fn forget_erases_a_reader_everywhere_and_keeps_counts_and_suppression() {
    forget_everywhere(&Engine::Files);
}

#[test]
fn forget_on_postgres_erases_a_reader_from_every_table_and_keeps_counts_and_suppression() {
    let Some(db) = pg::fresh("privacy::forget_on_postgres") else {
        return;
    };
    forget_everywhere(&Engine::Pg(db));
}

/// Three issues sent over SMTP (the third bounces ana), a complaint recorded,
/// then ana forgotten: nowhere in clear, counts kept, still suppressed.
fn forget_everywhere(engine: &Engine) {
    let pg = matches!(engine, Engine::Pg(_));
    let server = SmtpServer::start();
    let site = engine.site(LIST, SUPPRESSED);
    site.use_smtp(server.port, 2);
    for slot in &SLOTS[..2] {
        let r = site.run(&["send", "--date", slot]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    // Issue #3 goes through a relay that does not know ana: a 550 bounce.
    let bouncer = SmtpServer::with_faults(Faults {
        rcpt: Some(bounce_ana),
        data: None,
    });
    site.config(
        &format!("port = {}", server.port),
        &format!("port = {}", bouncer.port),
    );
    let r = site.run(&["send", "--date", SLOTS[2]]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("3 delivered, 0 failed, 1 bounced"),
        "{r:?}"
    );
    let reasons = engine.reasons(&site, "ana@example.com");
    assert!(
        reasons.iter().any(|r| r
            .starts_with("\"bounced: permanent error (550): 5.1.1 <ana@example.com>: Ana Lima")
            || r.starts_with("bounced: permanent error (550): 5.1.1 <ana@example.com>: Ana Lima")),
        "{reasons:?}"
    );

    // A complaint about issue #2 came back later (as `tipsheet inbound` records one).
    engine.record_event(
        &site,
        "INSERT INTO events (natural_key, kind, email, slot, source, status, reason, at,
            recorded_at) VALUES ('arf:complaint:ana@example.com', 'complaint',
            'ana@example.com', '2026-12-15', 'arf', NULL,
            'Ana Lima <ana@example.com> marked it as spam', '2026-12-16T10:00:00Z',
            '2026-12-16T10:00:01Z')",
    );

    // show: everything about ana, the three issues included.
    let shown = site.run(&["subscribers", "show", "Ana@Example.com", "--json"]);
    assert_eq!(shown.code, 0, "{shown:?}");
    let v = json(&shown.stdout);
    assert_eq!(v["email"], "ana@example.com");
    assert_eq!(v["forgotten"], false);
    assert_eq!(v["list"][0]["name"], "Ana Lima");
    let issues: Vec<(u64, String)> = v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["number"].as_u64().unwrap(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        issues,
        [
            (1, "sent".into()),
            (2, "sent".into()),
            (3, "bounced".into())
        ]
    );
    let reasons: Vec<&str> = v["suppression"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    if pg {
        // The store keeps the current suppression: the bounce.
        assert_eq!(v["list"][0].get("line"), None, "{v}");
        assert_eq!(reasons.len(), 1, "{reasons:?}");
    } else {
        assert_eq!(v["list"][0]["line"], 2);
        assert_eq!(reasons.len(), 3, "{reasons:?}");
    }
    assert!(
        reasons.last().unwrap().starts_with("bounced: "),
        "{reasons:?}"
    );
    assert_eq!(v["events"][0]["kind"], "complaint", "{v}");
    assert_eq!(v["events"][0]["slot"], "2026-12-15", "{v}");
    let text = site.run(&["subscribers", "show", "ana@example.com"]);
    assert!(text.stdout.contains("issues: 3 issues"), "{text:?}");
    assert!(text.stdout.contains("events: 1 event"), "{text:?}");
    assert!(
        text.stdout.contains("#3    2026-12-29  bounced"),
        "{text:?}"
    );
    if pg {
        assert!(
            text.stdout
                .contains(" subscribers  email `ana@example.com`, name `Ana Lima`"),
            "{text:?}"
        );
    }

    let files_before = |name: &str| std::fs::read_to_string(site.path(name)).ok();
    let list_before = files_before("subscribers/subscribers.csv");
    let suppressed_before = files_before("subscribers/suppressed.csv");
    let rows_before = engine.rows(&site);
    let counts_before = counts(&site);
    let others_before: Vec<String> = rows_before
        .iter()
        .filter(|r| !r.contains("ana@example.com"))
        .cloned()
        .collect();
    assert!(others_before.len() > 9, "{others_before:?}");
    // Where ana was before: the check below looks in every one of these.
    let held: std::collections::BTreeSet<&str> = rows_before
        .iter()
        .filter(|r| r.contains("ana@example.com"))
        .map(|r| r.split('|').next().unwrap())
        .collect();
    let tables: &[&str] = if pg {
        &["events", "recipients", "subscribers", "suppressions"]
    } else {
        &["events", "recipients"]
    };
    assert_eq!(held.into_iter().collect::<Vec<_>>(), tables);

    // Not on a terminal and no --yes: refused, nothing changed.
    let r = site.run(&["subscribers", "forget", "ana@example.com"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("refusing to forget `ana@example.com` without confirmation: standard input is not a terminal; pass `--yes`"),
        "{r:?}"
    );
    assert_eq!(files_before("subscribers/subscribers.csv"), list_before);
    assert_eq!(
        files_before("subscribers/suppressed.csv"),
        suppressed_before
    );
    assert_eq!(engine.rows(&site), rows_before);

    // Without the secret: refused, it keys the hash.
    let r = site.run_without_secret(&["subscribers", "forget", "ana@example.com", "--yes"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("`TIPSHEET_SECRET` is not set"), "{r:?}");

    let r = site.run(&["subscribers", "forget", "ANA@example.com", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let hash = format!(
        "hmac:{}",
        Signer::new(SECRET.as_bytes()).sign("forget", "ana@example.com")
    );
    assert!(
        r.stdout
            .contains(&format!("forgot `ana@example.com`; it is now `{hash}`")),
        "{r:?}"
    );
    assert!(r.stdout.contains("1 row removed"), "{r:?}");
    if pg {
        assert!(
            r.stdout.contains(
                " suppressions: 1 earlier row replaced by one `forgotten` row holding only the hash"
            ),
            "{r:?}"
        );
    } else {
        assert!(r.stdout.contains("3 earlier rows rewritten"), "{r:?}");
    }
    assert!(r.stdout.contains("4 ledger rows pseudonymized"), "{r:?}");

    // Nowhere in clear: not in any file, not in any table row.
    assert_nowhere(engine, &site);
    // Counts, rates and exactly-once records are unchanged.
    assert_eq!(counts(&site), counts_before);
    // Every other reader untouched: their ledger rows (and on PostgreSQL every
    // other row of every table) as they were.
    let others_after: Vec<String> = engine
        .rows(&site)
        .into_iter()
        .filter(|r| !r.contains(&hash))
        .collect();
    assert_eq!(others_after, others_before);
    if pg {
        assert_eq!(engine.reasons(&site, &hash), ["forgotten"]);
    } else {
        // Their list rows byte for byte.
        assert_eq!(
            site.read("subscribers/subscribers.csv"),
            list_before
                .unwrap()
                .replace("ana@example.com,Ana Lima,2026-09-14T10:22:00Z\r\n", "")
        );
        let suppressed = site.read("subscribers/suppressed.csv");
        let lines: Vec<&str> = suppressed.lines().collect();
        assert_eq!(
            lines[..2],
            [
                "email,reason,at",
                "sam@example.com,unsubscribed,2026-10-30T08:00:00Z"
            ]
        );
        assert_eq!(
            lines[2],
            format!("{hash},unsubscribed,2026-10-01T08:00:00Z")
        );
        assert!(
            lines[4].starts_with(&format!(
                "{hash},bounced: permanent error (550): 5.1.1 <{hash}>: {hash} is not known here,"
            )),
            "{suppressed}"
        );
        assert!(
            lines[5].starts_with(&format!("{hash},forgotten,")),
            "{suppressed}"
        );
        assert_eq!(lines.len(), 6, "{suppressed}");
    }
    // show finds what is left: the hashed history, marked forgotten.
    let v = json(
        &site
            .run(&["subscribers", "show", "ana@example.com", "--json"])
            .stdout,
    );
    assert_eq!(v["forgotten"], true);
    assert_eq!(v["list"], serde_json::json!([]));
    assert_eq!(v["issues"].as_array().unwrap().len(), 3);
    assert_eq!(v["issues"][0]["name"], "");
    assert_eq!(v["events"].as_array().unwrap().len(), 1);

    // A re-import (the row added back) is recognised as suppressed; the next send skips ana.
    if pg {
        site.write(
            "subscribers/again.csv",
            "email,name,subscribed_at\nfay@example.com,Fay,\nAna@Example.com,Ana Lima,2026-12-30\n",
        );
        let r = site.run(&["subscribers", "import", "subscribers/again.csv"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(
            r.stderr,
            "subscribers/again.csv:3: warning: `Ana@Example.com` is suppressed: its reader asked to be forgotten (`subscribers forget`), and the store keeps only its keyed hash; row skipped\n"
        );
        assert!(
            r.stdout
                .contains(": 1 subscriber(s), 1 new; 0 suppression(s), 0 new; 1 row(s) skipped"),
            "{r:?}"
        );
        std::fs::remove_file(site.path("subscribers/again.csv")).unwrap();
        let r = site.run(&["send", "--date", "2027-01-12"]);
        assert_eq!(r.code, 0, "{r:?}");
        let got = bouncer.received_by();
        assert!(!got.contains_key("ana@example.com"), "{got:?}");
        assert_eq!(got.get("fay@example.com"), Some(&1), "{got:?}");
        assert_eq!(got.len(), 4, "{got:?}");
    } else {
        let list_now = site.read("subscribers/subscribers.csv");
        site.write(
            "subscribers/subscribers.csv",
            &format!("{list_now}ana@example.com,Ana Lima,2026-12-30\r\n"),
        );
        let dry = site.run(&["send", "--dry-run", "--date", "2027-01-12"]);
        assert!(
            dry.stdout.contains("recipients: 3 active, 1 suppressed"),
            "{dry:?}"
        );
        let r = site.run(&["send", "--date", "2027-01-12"]);
        assert_eq!(r.code, 0, "{r:?}");
        let got = bouncer.received_by();
        assert!(!got.contains_key("ana@example.com"), "{got:?}");
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got.values().all(|n| *n == 2),
            "issues #3 and #4 each once: {got:?}"
        );
        site.write("subscribers/subscribers.csv", &list_now);
    }
    let got = bouncer.received_by();
    for other in ["bob@example.com", "carol@example.com", "dave@example.com"] {
        assert_eq!(
            got.get(other),
            Some(&2),
            "issues #3 and #4 each once: {got:?}"
        );
    }

    // A web sign-up of that address is refused: the usual answer (nobody can
    // probe who was erased) but no confirmation mail; erin's goes out.
    let serve = Serve::start(&site);
    // "Manage your data" mails an erased address no link (nothing of it is
    // left in clear), with the page every address gets.
    let mails = bouncer.mails().len();
    let asked = post_form(&serve.url("/privacy"), &[("email", "ana@example.com")]);
    assert_eq!(asked.status, 200, "{asked:?}");
    assert!(asked.body.contains("Check your inbox"), "{asked:?}");
    let page = post_form(
        &serve.url("/subscribe"),
        &[("email", "Ana@Example.com"), ("name", "Ana")],
    );
    assert_eq!(page.status, 200, "{page:?}");
    let ok = post_form(
        &serve.url("/subscribe"),
        &[("email", "erin@example.com"), ("name", "")],
    );
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(
        page.body.replace("Ana@Example.com", "X"),
        ok.body.replace("erin@example.com", "X")
    );
    // The queue sends in order: once erin's mail is out, ana's turns are over.
    wait_for("erin's confirmation", || {
        (bouncer.mails().len() > mails).then_some(())
    });
    let sent: Vec<Vec<String>> = bouncer.mails()[mails..]
        .iter()
        .map(|m| m.to.clone())
        .collect();
    assert_eq!(sent, [vec!["erin@example.com".to_string()]]);
    // A confirmation link made before the erasure no longer subscribes.
    let expires = chrono::DateTime::parse_from_rfc3339(crate::common::NOW)
        .unwrap()
        .timestamp()
        + 3600;
    let link = tipsheet::web::confirm_url(
        &Signer::new(SECRET.as_bytes()),
        "",
        "ana@example.com",
        "Ana Lima",
        expires,
    );
    let fields: Vec<(String, String)> = link
        .split_once('?')
        .unwrap()
        .1
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .unwrap();
            (k.to_string(), v.into_owned())
        })
        .collect();
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let list_now = std::fs::read_to_string(site.path("subscribers/subscribers.csv")).ok();
    let rows_now = engine.rows(&site);
    let r = post_form(&serve.url("/confirm"), &fields);
    assert_eq!(r.status, 409, "{r:?}");
    assert!(r.body.contains("asked Career Tips to forget it"), "{r:?}");
    assert_eq!(
        std::fs::read_to_string(site.path("subscribers/subscribers.csv")).ok(),
        list_now
    );
    // An unsubscribe through an old link writes nothing back in clear either.
    let link = Signer::new(SECRET.as_bytes())
        .unsubscribe_url("https://news.example.com", "ana@example.com");
    let r = one_click(&serve.local(&link));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(engine.rows(&site), rows_now);
    drop(serve);
    assert_nowhere(engine, &site);
}

#[test]
fn show_json_equals_the_web_download_and_only_a_post_deletes() {
    let site = Site::new();
    site.write("subscribers/subscribers.csv", LIST);
    for slot in SLOTS {
        let r = site.run(&["send", "--date", slot]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    let show = site.run(&["subscribers", "show", "carol@example.com", "--json"]);
    assert_eq!(show.code, 0, "{show:?}");
    let v = json(&show.stdout);
    let numbers: Vec<u64> = v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(v["list"][0]["name"], "Reyes, Carol");
    let text = site.run(&["subscribers", "show", "carol@example.com"]);
    assert!(
        text.stdout
            .contains("copies outside tipsheet's records (outbox and previews; the operator's): 3"),
        "{text:?}"
    );

    let serve = Serve::start(&site);
    let token = Signer::new(SECRET.as_bytes()).unsubscribe_token("carol@example.com");
    // Download, through the link mailed on request: what show --json gives
    // (which now also says when the link was mailed).
    let link = request_link(&serve, &site, "carol@example.com");
    let data = act(&serve, &link, "download");
    assert_eq!(data.status, 200, "{data:?}");
    assert_eq!(json(&data.body), shown(&site, "carol@example.com"));
    assert_eq!(json(&data.body)["issues"], v["issues"]);
    // A forged or borrowed token: 4xx, and no data.
    let forged = format!("{}0", &link["t"][..31]);
    for (e, t) in [
        ("carol@example.com", forged.as_str()),
        ("bob@example.com", link["t"].as_str()),
        ("carol@example.com", token.as_str()),
        ("carol@example.com", ""),
    ] {
        let mut other = link.clone();
        other.insert("e".into(), e.into());
        other.insert("t".into(), t.into());
        let r = act(&serve, &other, "download");
        assert!((400..500).contains(&r.status), "{e} {t}: {r:?}");
        assert!(!r.body.contains("Reyes"), "{r:?}");
    }

    // GET of the link shows the buttons and erases nothing.
    let list = site.read("subscribers/subscribers.csv");
    let page = get(&serve.url(&format!(
        "/privacy/link?e={}&x={}&t={}",
        encode_query(&link["e"]),
        link["x"],
        link["t"]
    )));
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.contains("<form method=\"post\" action=\"link\""),
        "{page:?}"
    );
    assert_eq!(site.read("subscribers/subscribers.csv"), list);
    // A forged POST erases nothing either.
    let mut other = link.clone();
    other.insert("t".into(), forged.clone());
    let r = act(&serve, &other, "delete");
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(site.read("subscribers/subscribers.csv"), list);
    // The POST erases.
    let r = act(&serve, &link, "delete");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("Your data is deleted"), "{r:?}");
    // A resubscribe through the old link is refused and writes nothing.
    let suppressed = site.read("subscribers/suppressed.csv");
    let r = post_form(
        &serve.url("/resubscribe"),
        &[("e", "carol@example.com"), ("t", &token)],
    );
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(site.read("subscribers/suppressed.csv"), suppressed);
    drop(serve);
    let after = site.read("subscribers/subscribers.csv");
    assert!(!after.to_lowercase().contains("carol"), "{after}");
    assert_eq!(
        after,
        list.replace("Carol@Example.com,\"Reyes, Carol\",\r\n", "")
    );
    let v = json(
        &site
            .run(&["subscribers", "show", "carol@example.com", "--json"])
            .stdout,
    );
    assert_eq!(v["forgotten"], true);
    assert_eq!(v["issues"].as_array().unwrap().len(), 3);
    for row in ledger_rows(&site.path("state/tipsheet.sqlite3")) {
        assert!(!row.to_lowercase().contains("carol"), "{row}");
    }
    // The operator's outbox copies (three issues and the privacy link's
    // mail) are listed by forget, and deleted with --outbox.
    let copies = site.emls("state/outbox").len();
    let r = site.run(&["subscribers", "forget", "carol@example.com", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("still hold the address"), "{r:?}");
    let listed = r
        .stdout
        .lines()
        .filter(|l| l.contains("state/outbox/"))
        .count();
    assert_eq!(listed, 4, "{r:?}");
    let r = site.run(&[
        "subscribers",
        "forget",
        "carol@example.com",
        "--yes",
        "--outbox",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.contains("deleted state/outbox/"))
            .count(),
        4,
        "{r:?}"
    );
    assert_eq!(site.emls("state/outbox").len(), copies - 4);
    for m in site.emls("state/outbox") {
        assert!(
            !String::from_utf8_lossy(&m)
                .to_lowercase()
                .contains("carol@example.com")
        );
    }
}

#[test]
fn forget_during_a_running_send_is_refused() {
    // Every DATA waits before its reply: the send is still running when forget comes.
    let server = FaultServer::start(Wire {
        delay_ms: 4000,
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 1);
    site.write("subscribers/subscribers.csv", LIST);
    let mut send = crate::hosts::spawn(&site, &["send"]);
    ana_in_flight(&site);
    let list = site.read("subscribers/subscribers.csv");
    let r = site.run(&["subscribers", "forget", "ana@example.com", "--yes"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains(
            "error: a send is running (it holds `state/tipsheet.lock`); nothing was erased"
        ),
        "{r:?}"
    );
    assert_eq!(site.read("subscribers/subscribers.csv"), list);
    // The send dies mid-message: ana's row stays in flight, and forget still refuses.
    send.kill().unwrap();
    send.wait().unwrap();
    let r = site.run(&["subscribers", "forget", "ana@example.com", "--yes"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("`ana@example.com` is in flight in issue 2026-12-01 (a send stopped while mailing it); nothing was erased: finish that issue with `tipsheet send --date 2026-12-01`"),
        "{r:?}"
    );
    assert_eq!(site.read("subscribers/subscribers.csv"), list);
    assert!(!site.read("subscribers/suppressed.csv").contains("hmac:"));
}

/// Waits until a send (holding the run lock) is mailing ana.
fn ana_in_flight(site: &Site) {
    let ledger = site.path("state/tipsheet.sqlite3");
    wait_for("ana in flight", || {
        let c = rusqlite::Connection::open_with_flags(
            &ledger,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()?;
        let n: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM recipients WHERE email = 'ana@example.com' AND status = 'in_flight'",
                [],
                |r| r.get(0),
            )
            .ok()?;
        (n == 1).then_some(())
    });
}

/// Erasing an already-erased address changes nothing and takes no lock: it
/// answers while a send holds the run lock, and the list files keep every byte.
#[test]
fn erasing_again_changes_nothing_and_takes_no_lock() {
    let server = FaultServer::start(Wire {
        delay_ms: 4000,
        ..Wire::default()
    });
    let site = Site::new();
    site.use_smtp(server.port, 1);
    site.write("subscribers/subscribers.csv", LIST);
    let r = site.run(&["subscribers", "forget", "bob@example.com", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mut send = crate::hosts::spawn(&site, &["send"]);
    ana_in_flight(&site);
    let list = std::fs::read(site.path("subscribers/subscribers.csv")).unwrap();
    let suppressed = std::fs::read(site.path("subscribers/suppressed.csv")).unwrap();
    let modified = std::fs::metadata(site.path("subscribers/suppressed.csv"))
        .unwrap()
        .modified()
        .unwrap();
    for _ in 0..3 {
        let r = site.run(&["subscribers", "forget", "bob@example.com", "--yes"]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    assert!(send.try_wait().unwrap().is_none(), "the send ended early");
    assert_eq!(
        std::fs::read(site.path("subscribers/subscribers.csv")).unwrap(),
        list
    );
    assert_eq!(
        std::fs::read(site.path("subscribers/suppressed.csv")).unwrap(),
        suppressed
    );
    let now = std::fs::metadata(site.path("subscribers/suppressed.csv"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(now, modified, "suppressed.csv was rewritten");
    send.kill().unwrap();
    send.wait().unwrap();
}

/// `forget` on a terminal (`script` gives it one): asks, and only "y" erases.
#[test]
fn forget_on_a_terminal_asks_first() {
    let site = Site::new();
    site.write("subscribers/subscribers.csv", LIST);
    let list = site.read("subscribers/subscribers.csv");
    let on_terminal = |answer: &str| {
        let cmd = format!(
            "{} --config config.toml subscribers forget ana@example.com",
            env!("CARGO_BIN_EXE_tipsheet")
        );
        let mut child = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(site.path(""))
            .env("TIPSHEET_SECRET", SECRET)
            .env_remove("TIPSHEET_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`script` (util-linux) runs the command on a terminal");
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(answer.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        crate::common::to_run(out)
    };
    let r = on_terminal("n\n");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("forget `ana@example.com`?"), "{r:?}");
    assert!(r.stdout.contains("This cannot be undone. [y/N]"), "{r:?}");
    assert!(r.stdout.contains("nothing was erased"), "{r:?}");
    assert_eq!(site.read("subscribers/subscribers.csv"), list);
    let r = on_terminal("y\n");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("forgot `ana@example.com`"), "{r:?}");
    assert!(!site.read("subscribers/subscribers.csv").contains("ana@"));
}

/// After a rotation the old secret's hashes are still recognised while
/// `unsubscribe.previous_secret_env` names it; without it they are not.
#[test]
fn an_erased_address_stays_suppressed_across_a_secret_rotation() {
    let site = Site::new();
    site.write("subscribers/subscribers.csv", LIST);
    let r = site.run(&["subscribers", "forget", "ana@example.com", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let list = site.read("subscribers/subscribers.csv");
    site.write(
        "subscribers/subscribers.csv",
        &format!("{list}ana@example.com,Ana Lima,\r\n"),
    );
    site.config(
        "# previous_secret_env = \"TIPSHEET_PREVIOUS_SECRET\"",
        "previous_secret_env = \"TIPSHEET_PREVIOUS_SECRET\"",
    );
    let dry = |previous: Option<&str>| {
        let mut c = site.command(&["send", "--dry-run"]);
        c.env("TIPSHEET_SECRET", "a-new-secret-after-the-rotation-0");
        match previous {
            Some(p) => c.env("TIPSHEET_PREVIOUS_SECRET", p),
            None => c.env_remove("TIPSHEET_PREVIOUS_SECRET"),
        };
        crate::common::to_run(c.output().unwrap())
    };
    let r = dry(Some(SECRET));
    assert!(
        r.stdout.contains("recipients: 3 active, 1 suppressed"),
        "{r:?}"
    );
    let r = dry(None);
    assert!(
        r.stdout.contains("recipients: 4 active, 0 suppressed"),
        "{r:?}"
    );
}

/// On PostgreSQL the run lock is per host: what refuses is the erasure's
/// transaction, which sees a row in flight or claimed under a live lease.
#[test]
fn forget_on_postgres_is_refused_while_a_host_sends_to_the_reader() {
    let Some(db) = pg::fresh("privacy::forget_on_postgres_refused") else {
        return;
    };
    // Every DATA waits before its reply: the send is still running when forget comes.
    let server = FaultServer::start(Wire {
        delay_ms: 4000,
        ..Wire::default()
    });
    let engine = Engine::Pg(db);
    let site = engine.site(LIST, SUPPRESSED);
    let Engine::Pg(db) = &engine else {
        unreachable!("made above")
    };
    site.use_smtp(server.port, 1);
    let mut send = crate::hosts::spawn(&site, &["send"]);
    let in_flight =
        "SELECT COUNT(*) FROM recipients WHERE email = 'ana@example.com' AND status = 'in_flight'";
    wait_for("ana in flight", || (db.count(in_flight) == 1).then_some(()));
    let sending = |who: &str| {
        format!(
            "error: `{who}` is being sent issue 2026-12-01 by a send on some host right now; nothing was erased: wait until that send finishes (`tipsheet status --date 2026-12-01`), then run forget again"
        )
    };
    let untouched = || {
        assert_eq!(
            db.count("SELECT COUNT(*) FROM subscribers WHERE email = 'ana@example.com'"),
            1
        );
        assert_eq!(
            db.count("SELECT COUNT(*) FROM suppressions WHERE email LIKE 'hmac:%'"),
            0
        );
    };
    let r = site.run(&["subscribers", "forget", "ana@example.com", "--yes"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains(&sending("ana@example.com")), "{r:?}");
    untouched();
    // The web's "Delete my data" gets the same answer: try again later.
    let serve = Serve::start(&site);
    let r = act(&serve, &made_link("ana@example.com"), "delete");
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.body.contains("Please try again later"), "{r:?}");
    drop(serve);
    untouched();

    // The send dies mid-message: while its lease runs, forget still refuses;
    // once it expired, ana's row is left in flight and forget refuses as on the files.
    send.kill().unwrap();
    send.wait().unwrap();
    let r = site.run(&["subscribers", "forget", "ana@example.com", "--yes"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains(&sending("ana@example.com")), "{r:?}");
    db.query(
        "UPDATE recipients SET lease_until = now() - interval '1 second' WHERE lease_until IS NOT NULL",
    );
    let r = site.run(&["subscribers", "forget", "ana@example.com", "--yes"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("`ana@example.com` is in flight in issue 2026-12-01 (a send stopped while mailing it); nothing was erased: finish that issue with `tipsheet send --date 2026-12-01`"),
        "{r:?}"
    );
    untouched();

    // A row another host claimed but has not handed out yet is refused too.
    db.query(
        "UPDATE recipients SET claimed_by = 'other-host:1:0', lease_until = now() + interval '1 minute'
         WHERE email = 'dave@example.com'",
    );
    let r = site.run(&["subscribers", "forget", "dave@example.com", "--yes"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains(&sending("dave@example.com")), "{r:?}");
    // That host died: its claim expired, and dave's pending row is erased.
    db.query("UPDATE recipients SET lease_until = now() - interval '1 second' WHERE email = 'dave@example.com'");
    let r = site.run(&["subscribers", "forget", "dave@example.com", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let hash = format!(
        "hmac:{}",
        Signer::new(SECRET.as_bytes()).sign("forget", "dave@example.com")
    );
    let row = db.query(&format!(
        "SELECT status, address, name, claimed_by FROM recipients WHERE email = '{hash}'"
    ));
    assert_eq!(row.len(), 1);
    assert_eq!(row[0].get::<_, String>(0), "pending");
    assert_eq!(row[0].get::<_, String>(1), hash);
    assert_eq!(row[0].get::<_, String>(2), "");
    assert_eq!(row[0].get::<_, Option<String>>(3), None);

    // The issue resumes on a quick relay: dave's hashed row is skipped as
    // suppressed, nobody is mailed at a hash, the others get the issue.
    let quick = SmtpServer::start();
    site.config(
        &format!("port = {}", server.port),
        &format!("port = {}", quick.port),
    );
    let r = site.run(&["send", "--date", "2026-12-01"]);
    assert_eq!(r.code, 0, "{r:?}");
    let got = quick.received_by();
    assert!(got.keys().all(|k| k.contains('@')), "{got:?}");
    assert!(!got.contains_key("dave@example.com"), "{got:?}");
    assert!(got.contains_key("bob@example.com"), "{got:?}");
    let skipped =
        format!("SELECT COUNT(*) FROM recipients WHERE email = '{hash}' AND status = 'skipped'");
    assert_eq!(db.count(&skipped), 1);
    for row in pg_rows(db) {
        assert!(!row.to_lowercase().contains("dave@example.com"), "{row}");
    }
}
