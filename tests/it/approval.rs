//! The editorial loop: with `[editorial] approval = "required"` nothing goes
//! out (exit 6) until `tipsheet approve`, which freezes the issue so that
//! later content edits change nothing until `approve --reassemble`; every
//! approval is recorded with who, when and the digest. Proofs (`send
//! --proof`) go to the editors signed like the issue and stay out of the
//! ledger. `run` warns a day ahead and at the slot.

use crate::common::{Site, list, parse};
use crate::engine::{Bench, Engine, SLOT, on_both_engines};
use crate::smtp_server::{FaultServer, Wire};

on_both_engines!(
    nothing_goes_out_until_approved_and_edits_after_approval_change_nothing,
    reassembling_takes_in_edits_and_records_a_new_approval,
);

/// The slot's time has come (09:00 New York = 14:00 UTC), within grace.
const AT_SLOT: &str = "2026-12-01T14:05:00Z";
const MARKER: &str = "MARKEREDIT";

/// A site with approval required, sending `readers` readers to `server`.
fn site(engine: Engine, test: &str, server: &FaultServer, readers: usize) -> Option<Bench> {
    let site = Site::new();
    site.use_smtp(server.port, 2);
    site.config("approval = \"off\"", "approval = \"required\"");
    site.write("subscribers/subscribers.csv", &list("r", readers));
    Bench::on(engine, test, site)
}

/// Puts `MARKER` into every tip's text, as an editor's late change would.
fn edit_content(site: &Site) {
    for e in std::fs::read_dir(site.path("content/tips"))
        .unwrap()
        .flatten()
    {
        let text = std::fs::read_to_string(e.path()).unwrap();
        std::fs::write(e.path(), format!("{text}\n{MARKER} late change.\n")).unwrap();
    }
}

/// The `status --json` row of the first issue.
fn status_row(site: &Site) -> serde_json::Value {
    let s = site.run(&["status", "--json", "--date", SLOT]);
    assert_eq!(s.code, 0, "{s:?}");
    let rows: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["slot"] == SLOT)
        .cloned()
        .unwrap_or_else(|| panic!("{s:?}"))
}

fn nothing_goes_out_until_approved_and_edits_after_approval_change_nothing(
    engine: Engine,
    test: &str,
) {
    let server = FaultServer::start(Wire::default());
    let Some(site) = site(engine, test, &server, 8) else {
        return;
    };
    for args in [&["send", "--if-due", "--now", AT_SLOT][..], &["send"]] {
        let r = site.run(args);
        assert_eq!(r.code, 6, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("awaiting approval: nothing was sent"),
            "{r:?}"
        );
        assert!(
            r.stderr.contains("tipsheet approve --date 2026-12-01"),
            "{r:?}"
        );
    }
    assert_eq!(server.count(), 0);
    assert!(
        site.recipients(SLOT, &tipsheet::store::RecipientStatus::ALL)
            .is_empty()
    );
    let s = site.run(&["status", "--date", SLOT]);
    assert!(s.stdout.contains("AWAITING APPROVAL"), "{s:?}");
    let row = status_row(&site);
    assert_eq!(row["approval"]["state"], "awaiting", "{row}");
    let sch = site.run(&["schedule"]);
    assert!(
        sch.stdout
            .lines()
            .any(|l| l.contains("2026-12-01") && l.contains("awaiting approval")),
        "{sch:?}"
    );

    let a = site.run(&["approve", "--by", "Dana Editor"]);
    assert_eq!(a.code, 0, "{a:?}");
    assert!(
        a.stdout
            .contains("issue #1 (2026-12-01) approved by Dana Editor"),
        "{a:?}"
    );
    let row = status_row(&site);
    let approval = &row["approval"];
    assert_eq!(approval["state"], "approved", "{row}");
    assert_eq!(approval["by"], "Dana Editor", "{row}");
    assert_eq!(approval["number"], 1, "{row}");
    assert!(
        approval["at"]
            .as_str()
            .is_some_and(|t| t.len() == 20 && t.ends_with('Z')),
        "{row}"
    );
    let digest = approval["digest"].as_str().unwrap();
    assert!(
        digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
        "{row}"
    );
    // Approved, but nobody frozen yet: the issue is still only assembled.
    assert_eq!(row["status"], "assembled", "{row}");
    let sch = site.run(&["schedule"]);
    assert!(
        sch.stdout
            .lines()
            .any(|l| l.contains("2026-12-01") && l.contains("approved by Dana Editor")),
        "{sch:?}"
    );

    // A late edit, then the cron line at the slot: the approved copy goes out.
    edit_content(&site);
    let r = site.run(&["send", "--if-due", "--now", AT_SLOT]);
    assert_eq!(r.code, 0, "{r:?}");
    let got = server.received_by();
    assert_eq!(got.len(), 8, "everyone: {got:?}");
    assert!(got.values().all(|n| *n == 1), "{got:?}");
    for m in server.mails() {
        let p = parse(&m.data);
        assert!(
            !p.text.contains(MARKER) && !p.html.contains(MARKER),
            "an edit after approval was sent: {}",
            p.text
        );
    }
    assert_eq!(status_row(&site)["status"], "sent");
}

fn reassembling_takes_in_edits_and_records_a_new_approval(engine: Engine, test: &str) {
    let server = FaultServer::start(Wire::default());
    let Some(site) = site(engine, test, &server, 5) else {
        return;
    };
    let a = site.run(&["approve", "--date", SLOT, "--by", "first"]);
    assert_eq!(a.code, 0, "{a:?}");
    let first = status_row(&site)["approval"]["digest"].clone();
    // Approving again without a change records another approval of the same copy.
    let a = site.run(&["approve", "--date", SLOT, "--by", "second"]);
    assert_eq!(a.code, 0, "{a:?}");
    let again = status_row(&site)["approval"].clone();
    assert_eq!((&again["by"], &again["digest"]), (&"second".into(), &first));

    edit_content(&site);
    let a = site.run(&["approve", "--date", SLOT, "--by", "third", "--reassemble"]);
    assert_eq!(a.code, 0, "{a:?}");
    assert!(
        a.stdout.contains("reassembled and approved by third"),
        "{a:?}"
    );
    let approval = status_row(&site)["approval"].clone();
    assert_eq!(approval["by"], "third");
    assert_eq!(approval["reassembled"], true);
    assert_ne!(approval["digest"], first, "the new copy has a new digest");

    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mails = server.mails();
    assert_eq!(mails.len(), 5);
    for m in &mails {
        let p = parse(&m.data);
        assert!(
            p.text.contains(MARKER),
            "the reassembled copy was not sent: {}",
            p.text
        );
    }
    // Sent: nothing left to approve or reassemble.
    let a = site.run(&["approve", "--date", SLOT, "--by", "late", "--reassemble"]);
    assert_eq!(a.code, 2, "{a:?}");
    assert!(a.stderr.contains("was already sent to everyone"), "{a:?}");
    // Each approval is a row of its own.
    if let Some(db) = &site.db {
        assert_eq!(db.count("SELECT COUNT(*) FROM approvals"), 3);
    } else {
        let conn = rusqlite::Connection::open(site.path("state/tipsheet.sqlite3")).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM approvals", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
    }
}

#[test]
fn reassembling_is_refused_once_recipients_are_frozen() {
    // A relay that is not there: the send freezes its recipients, then fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = Site::new();
    site.use_smtp(port, 1);
    site.config("approval = \"off\"", "approval = \"required\"");
    site.config("max_attempts = 5", "max_attempts = 1");
    site.write("subscribers/subscribers.csv", &list("r", 3));
    let a = site.run(&["approve", "--date", SLOT, "--by", "ed"]);
    assert_eq!(a.code, 0, "{a:?}");
    let r = site.run(&["send"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert_ne!(r.code, 6, "approved: the send was tried: {r:?}");
    let a = site.run(&["approve", "--date", SLOT, "--by", "ed", "--reassemble"]);
    assert_eq!(a.code, 2, "{a:?}");
    assert!(a.stderr.contains("can no longer be reassembled"), "{a:?}");
    // Approving it as it is still works.
    let a = site.run(&["approve", "--date", SLOT, "--by", "ed"]);
    assert_eq!(a.code, 0, "{a:?}");
    let a = site.run(&["approve", "--date", SLOT, "--by", " "]);
    assert_eq!(a.code, 2, "{a:?}");
    assert!(a.stderr.contains("cannot be an approver's name"), "{a:?}");
}

#[test]
fn proofs_go_to_the_editors_signed_like_the_issue_and_stay_out_of_the_ledger() {
    let (site, server) = crate::dkim::site_with_dkim("rsa.pem");
    site.config("approval = \"off\"", "approval = \"required\"");
    site.config(
        "# proof_to = [\"editor@example.com\", \"coach@example.com\"]",
        "proof_to = [\"editor@example.com\", \"Coach@Example.com\"]",
    );
    site.write("subscribers/subscribers.csv", &list("r", 4));
    let bench = Bench::file(site);

    // Before anything is approved: the issue as `send` would assemble it now.
    let r = bench.run(&["send", "--proof"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("rendered now"), "{r:?}");
    assert!(bench.recorded_nothing(), "a proof wrote the ledger");
    assert_eq!(server.mails().len(), 2);

    // Approved: the proof is the frozen copy, whatever changed since.
    let a = bench.run(&["approve", "--by", "ed"]);
    assert_eq!(a.code, 0, "{a:?}");
    edit_content(&bench);
    let r = bench.run(&["send", "--proof", "--date", SLOT]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("the copy frozen in the store"), "{r:?}");
    assert!(r.stdout.contains("ledger is unchanged"), "{r:?}");
    let key = crate::dkim::rsa_public(&bench, "dkim.pem");
    let mails = server.mails();
    assert_eq!(mails.len(), 4);
    let mut to: Vec<String> = mails[2..].iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["Coach@Example.com", "editor@example.com"]);
    for m in &mails[2..] {
        let p = parse(&m.data);
        assert!(
            p.subject.starts_with("[PROOF] Career Tips #1"),
            "{}",
            p.subject
        );
        assert!(!p.text.contains(MARKER), "the proof is not the frozen copy");
        crate::dkim::verify(&m.data, &key).unwrap_or_else(|e| panic!("{e}: {}", p.raw));
        assert!(p.header("Feedback-ID").is_some(), "{}", p.raw);
    }
    // Nobody of the list got anything, and the ledger has no recipient.
    assert!(
        bench
            .recipients(SLOT, &tipsheet::store::RecipientStatus::ALL)
            .is_empty()
    );
    assert_eq!(status_row(&bench)["status"], "assembled");

    // The issue itself, as sent, has the proof's body and the plain subject.
    let r = bench.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mails = server.mails();
    assert_eq!(mails.len(), 8);
    let proof = parse(&mails[2].data);
    for m in &mails[4..] {
        let p = parse(&m.data);
        assert_eq!(format!("[PROOF] {}", p.subject), proof.subject);
        crate::dkim::verify(&m.data, &key).unwrap();
        let strip = |t: &str| {
            t.lines()
                .filter(|l| !l.contains('@') && !l.contains("unsubscribe") && !l.starts_with("Hi "))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            strip(&p.text),
            strip(&proof.text),
            "the proof's body differs from the issue's"
        );
    }
}

#[test]
fn proofs_need_an_address() {
    let site = Site::new();
    let r = site.run(&["send", "--proof"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("`editorial.proof_to` lists no address"),
        "{r:?}"
    );
}

#[test]
fn run_warns_a_day_ahead_and_at_the_slot_and_sends_nothing_unapproved() {
    let site = Site::new();
    site.config("approval = \"off\"", "approval = \"required\"");
    let (mut child, log, _lines) = site.spawn_until(
        &["run", "--now", "2026-12-01T13:59:58Z"],
        "awaiting approval: nothing was sent",
    );
    assert!(
        log.iter().any(|l| l.contains(
            "warning: issue #1 (2026-12-01) goes out at 2026-12-01 14:00 UTC and is awaiting approval"
        )),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("warning: awaiting approval: nothing was sent")),
        "{log:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running: {log:?}"
    );
    assert_eq!(crate::common::terminate(child), Some(0));
    assert!(site.emls("state/outbox").is_empty());
}
