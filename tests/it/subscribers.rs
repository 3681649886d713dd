//! `tipsheet subscribers import|export` through the binary: the file engine
//! says the list is the file; on PostgreSQL an import validates like the list
//! reader, twice changes nothing, never lifts a suppression, and an export
//! writes today's formats back.

use crate::common::{SAMPLE_LIST, SAMPLE_SUPPRESSED, Site};
use crate::pg::{self, FreshDb};

/// A site whose `[store] url` is a fresh PostgreSQL database.
pub fn pg_site(db: &FreshDb) -> Site {
    let site = Site::new();
    site.config(
        "# url = \"postgres://tipsheet@127.0.0.1:5432/tipsheet\"",
        &format!("url = \"{}\"", db.url),
    );
    site
}

/// Imports the site's sample list and suppressions into its store.
pub fn import_sample(site: &Site) -> crate::common::Run {
    site.run(&[
        "subscribers",
        "import",
        "subscribers/subscribers.csv",
        "--suppressed",
        "subscribers/suppressed.csv",
    ])
}

#[test]
fn the_file_engine_says_the_list_is_the_file() {
    let site = Site::new();
    for args in [
        &["subscribers", "import", "subscribers/subscribers.csv"][..],
        &["subscribers", "export"][..],
    ] {
        let r = site.run(args);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(
            r.stderr.starts_with(
                "error: the list is the file `subscribers/subscribers.csv` (the store is the embedded SQLite ledger): edit that file;"
            ),
            "{r:?}"
        );
    }
    assert!(!site.path("state/tipsheet.sqlite3").exists());
}

#[test]
fn postgres_import_validates_like_the_list_reader_and_twice_changes_nothing() {
    let Some(db) = pg::fresh("subscribers::postgres_import") else {
        return;
    };
    let site = pg_site(&db);
    let args = [
        "subscribers",
        "import",
        "subscribers/subscribers.csv",
        "--suppressed",
        "subscribers/suppressed.csv",
    ];
    let first = site.run(&args);
    assert_eq!(first.code, 0, "{first:?}");
    let l = "subscribers/subscribers.csv";
    assert_eq!(
        first.stderr,
        format!(
            "{l}:4: warning: `bob@example.com` duplicates line 3; row skipped\n\
             {l}:7: warning: `bad@@example.com` is not a valid email address (it has more than one `@`); row skipped\n\
             {l}:8: warning: `not-a-date` in `subscribed_at` is not a date (use RFC 3339 like 2026-09-14T10:22:00Z, or YYYY-MM-DD); row skipped\n"
        )
    );
    assert!(
        first
            .stdout
            .contains(": 5 subscriber(s), 5 new; 1 suppression(s), 1 new; 3 row(s) skipped"),
        "{first:?}"
    );
    assert!(
        first
            .stdout
            .contains("the store now lists 5 subscriber(s), 1 of them suppressed, 4 active")
    );
    let snapshot = "SELECT string_agg(email || '|' || address || '|' || name || '|' || COALESCE(subscribed_at, ''), ';' ORDER BY email) FROM subscribers";
    let before: String = db.query(snapshot)[0].get(0);
    let second = site.run(&args);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        second
            .stdout
            .contains(": 5 subscriber(s), 0 new; 1 suppression(s), 0 new;"),
        "{second:?}"
    );
    let after: String = db.query(snapshot)[0].get(0);
    assert_eq!(before, after);
    assert_eq!(
        before,
        "ana@example.com|ana@example.com|Ana Lima|2026-09-14T10:22:00Z;\
         bob@example.com|Bob@Example.com|Bob <script>alert(1)</script>|2026-09-15T00:00:00Z;\
         carol@example.com|carol@example.com||2026-10-01T08:00:00Z;\
         erin@example.com|erin@example.com|Erin Zoë|2026-10-04T00:00:00Z;\
         sam@example.com|sam@example.com|Sam Suppressed|2026-10-02T00:00:00Z"
    );
    // A suppression file that resubscribes sam, and a list naming sam again,
    // do not lift the stored suppression.
    site.write(
        "later.csv",
        "email,reason,at\nsam@example.com,resubscribed,2026-11-01T00:00:00Z\n",
    );
    let r = site.run(&[
        "subscribers",
        "import",
        "subscribers/subscribers.csv",
        "--suppressed",
        "later.csv",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM suppressions WHERE email = 'sam@example.com'"),
        1
    );
}

#[test]
fn postgres_export_writes_todays_formats_and_reimports_to_the_same_list() {
    let Some(db) = pg::fresh("subscribers::postgres_export") else {
        return;
    };
    let site = pg_site(&db);
    // Nothing imported yet: no schema, nothing created by the export.
    let empty = site.run(&["subscribers", "export", "--out", "out"]);
    assert_eq!(empty.code, 2, "{empty:?}");
    assert!(
        empty.stderr.contains("has no tipsheet schema yet"),
        "{empty:?}"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'"),
        0
    );
    let r = import_sample(&site);
    assert_eq!(r.code, 0, "{r:?}");
    let r = site.run(&["subscribers", "export", "--out", "out"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.starts_with("exported 5 subscriber(s) to `"),
        "{r:?}"
    );
    assert_eq!(
        site.read("out/subscribers.csv"),
        "email,name,subscribed_at\n\
         ana@example.com,Ana Lima,2026-09-14T10:22:00Z\n\
         Bob@Example.com,Bob <script>alert(1)</script>,2026-09-15T00:00:00Z\n\
         carol@example.com,,2026-10-01T08:00:00Z\n\
         erin@example.com,Erin Zoë,2026-10-04T00:00:00Z\n\
         sam@example.com,Sam Suppressed,2026-10-02T00:00:00Z\n"
    );
    assert_eq!(
        site.read("out/suppressed.csv"),
        SAMPLE_SUPPRESSED,
        "the suppression keeps its address, reason and time"
    );
    // The export is a valid list: importing it changes nothing.
    let again = site.run(&[
        "subscribers",
        "import",
        "out/subscribers.csv",
        "--suppressed",
        "out/suppressed.csv",
    ]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stdout
            .contains("5 subscriber(s), 0 new; 1 suppression(s), 0 new; 0 row(s) skipped"),
        "{again:?}"
    );
    let _ = SAMPLE_LIST;
}

#[test]
fn check_reports_the_store_reachability_and_schema_version_and_creates_nothing() {
    let site = Site::new();
    let r = site.run(&["check"]);
    let ledger = site.path("state/tipsheet.sqlite3");
    assert!(
        r.stdout.contains(
            "\nstore: `sqlite:state/tipsheet.sqlite3` (SQLite, this host only): no ledger yet (the first `send` creates it)\n"
        ),
        "{r:?}"
    );
    assert!(!ledger.exists());
    // Unreachable, with a password that must not show.
    site.config(
        "# url = \"postgres://tipsheet@127.0.0.1:5432/tipsheet\"",
        "url = \"postgres://tipsheet:hunter2@127.0.0.1:1/tipsheet\"",
    );
    let r = site.run(&["check"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "error: store `postgres://tipsheet:***@127.0.0.1:1/tipsheet` cannot be reached"
        ),
        "{r:?}"
    );
    assert!(!format!("{r:?}").contains("hunter2"));
    let Some(db) = pg::fresh("subscribers::check_reports_the_store") else {
        return;
    };
    let site = pg_site(&db);
    let r = site.run(&["check"]);
    assert!(
        r.stdout.contains(&format!(
            "\nstore: `{}` (PostgreSQL, shared): reachable, no tipsheet schema yet",
            db.url
        )),
        "{r:?}"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'"),
        0,
        "check created something"
    );
    let i = site.run(&[
        "subscribers",
        "import",
        "subscribers/subscribers.csv",
        "--suppressed",
        "subscribers/suppressed.csv",
    ]);
    assert_eq!(i.code, 0, "{i:?}");
    let r = site.run(&["check"]);
    let want = format!(
        "reachable, schema version {} (current)\nlist: 5 subscriber(s) in the store, 1 suppressed, 4 active\n",
        crate::store::KNOWN
    );
    assert!(r.stdout.contains(&want), "{r:?}");
}

#[test]
fn postgres_import_refuses_a_torn_list_and_writes_nothing() {
    let Some(db) = pg::fresh("subscribers::postgres_import_torn") else {
        return;
    };
    let site = pg_site(&db);
    site.write(
        "torn.csv",
        "email,name,subscribed_at\n\
         ana@example.com,Ana,2026-01-02\n\
         jo@example.com,\"Jo Smith,2026-01-03\n\
         kim@example.com,Kim,2026-01-04\n\
         lee@example.com,Lee,2026-01-05\n",
    );
    let r = site.run(&["subscribers", "import", "torn.csv"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("torn.csv:3: this row runs from line 3 to line 5"),
        "{r:?}"
    );
    assert!(r.stderr.contains("is a `\"` quote left open?"), "{r:?}");
    // Refused before anything was written: not even the good first row.
    let listed = db.count("SELECT COUNT(*) FROM subscribers");
    assert_eq!(listed, 0);
}

#[test]
fn postgres_preview_and_dry_run_walk_the_stored_list_not_the_file() {
    let Some(db) = pg::fresh("subscribers::postgres_preview_dry_run") else {
        return;
    };
    let site = pg_site(&db);
    let import = site.run(&[
        "subscribers",
        "import",
        "subscribers/subscribers.csv",
        "--suppressed",
        "subscribers/suppressed.csv",
    ]);
    assert_eq!(import.code, 0, "{import:?}");
    // The file now says something else: on the shared store it is not the list.
    site.write(
        "subscribers/subscribers.csv",
        "email,name,subscribed_at\nzed@example.com,Zed File,\n",
    );
    let counts = "4 active, 1 suppressed, 0 invalid rows skipped, 0 duplicates";
    let preview = site.run(&["preview"]);
    assert_eq!(preview.code, 0, "{preview:?}");
    assert!(
        preview.stdout.contains("Rendered for: ana@example.com\n"),
        "{preview:?}"
    );
    assert!(
        preview.stdout.contains(&format!("Recipients: {counts}\n")),
        "{preview:?}"
    );
    let to = site.run(&["preview", "--to", "erin@example.com"]);
    assert!(
        to.stdout.contains("Rendered for: erin@example.com\n"),
        "{to:?}"
    );
    let dry = site.run(&["send", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(dry.stdout.contains("built 4 messages"), "{dry:?}");
    assert!(
        dry.stdout.contains(&format!("recipients: {counts}\n")),
        "{dry:?}"
    );
    assert!(!dry.stdout.contains("zed@"), "{dry:?}");
    assert_eq!(db.count("SELECT COUNT(*) FROM recipients"), 0);
}

#[test]
fn postgres_preview_names_a_stored_row_that_is_not_an_address() {
    let Some(db) = pg::fresh("subscribers::postgres_preview_bad_row") else {
        return;
    };
    let site = pg_site(&db);
    let import = site.run(&["subscribers", "import", "subscribers/subscribers.csv"]);
    assert_eq!(import.code, 0, "{import:?}");
    // Written by hand, past the import's validation.
    db.query(
        "INSERT INTO subscribers (email, address, name) VALUES ('zz-broken', 'zz broken', 'Broken')",
    );
    let preview = site.run(&["preview"]);
    assert_eq!(preview.code, 0, "{preview:?}");
    assert!(
        preview
            .stderr
            .contains("warning: `zz broken` in table `subscribers` is not a valid email address")
            && preview
                .stderr
                .contains("row skipped: fix or delete it with SQL"),
        "{preview:?}"
    );
    assert!(
        preview
            .stdout
            .contains("Recipients: 5 active, 0 suppressed, 1 invalid rows skipped"),
        "{preview:?}"
    );
}

#[test]
fn postgres_export_writes_formulas_as_text_and_reimports_them_unchanged() {
    let Some(db) = pg::fresh("subscribers::postgres_export_formulas") else {
        return;
    };
    let site = pg_site(&db);
    let r = import_sample(&site);
    assert_eq!(r.code, 0, "{r:?}");
    // Names a spreadsheet would run, one it would not, and one with a quote
    // of its own; written by hand as a sign-up form could have.
    db.query(
        "UPDATE subscribers SET name = CASE email \
           WHEN 'ana@example.com' THEN '=HYPERLINK(\"http://x\",\"y\")' \
           WHEN 'carol@example.com' THEN '''Tis Carol' \
           WHEN 'erin@example.com' THEN '-Erin' \
           ELSE name END",
    );
    db.query("UPDATE suppressions SET reason = '@bounced' WHERE email = 'sam@example.com'");
    let snapshot = "SELECT string_agg(email || '|' || address || '|' || name || '|' || COALESCE(subscribed_at, ''), ';' ORDER BY email) FROM subscribers";
    let before: String = db.query(snapshot)[0].get(0);
    let r = site.run(&["subscribers", "export", "--out", "out"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        site.read("out/subscribers.csv"),
        "email,name,subscribed_at\n\
         ana@example.com,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",2026-09-14T10:22:00Z\n\
         Bob@Example.com,Bob <script>alert(1)</script>,2026-09-15T00:00:00Z\n\
         carol@example.com,'Tis Carol,2026-10-01T08:00:00Z\n\
         erin@example.com,'-Erin,2026-10-04T00:00:00Z\n\
         sam@example.com,Sam Suppressed,2026-10-02T00:00:00Z\n"
    );
    assert_eq!(
        site.read("out/suppressed.csv"),
        "email,reason,at\nSAM@example.com,'@bounced,2026-10-30T08:00:00Z\n"
    );
    // Read back into an empty store: every name as it was, no quote added
    // or lost, the formula a name again.
    db.query("DELETE FROM suppressions");
    db.query("DELETE FROM subscribers");
    let again = site.run(&[
        "subscribers",
        "import",
        "out/subscribers.csv",
        "--suppressed",
        "out/suppressed.csv",
    ]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stdout
            .contains("5 subscriber(s), 5 new; 1 suppression(s), 1 new; 0 row(s) skipped"),
        "{again:?}"
    );
    let after: String = db.query(snapshot)[0].get(0);
    assert_eq!(after, before);
    assert!(
        after.contains("ana@example.com|ana@example.com|=HYPERLINK(\"http://x\",\"y\")|"),
        "{after}"
    );
    let reason: String =
        db.query("SELECT reason FROM suppressions WHERE email = 'sam@example.com'")[0].get(0);
    assert_eq!(reason, "@bounced");
    // Exported again, the file is the same: no second quote.
    let first = site.read("out/subscribers.csv");
    let r = site.run(&["subscribers", "export", "--out", "out"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(site.read("out/subscribers.csv"), first);
}

#[cfg(unix)]
#[test]
fn postgres_export_files_and_folder_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let Some(db) = pg::fresh("subscribers::postgres_export_private") else {
        return;
    };
    let site = pg_site(&db);
    let r = import_sample(&site);
    assert_eq!(r.code, 0, "{r:?}");
    let r = site.run(&["subscribers", "export", "--out", "out/list"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mode = |rel: &str| {
        std::fs::metadata(site.path(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("out"), 0o700);
    assert_eq!(mode("out/list"), 0o700);
    assert_eq!(mode("out/list/subscribers.csv"), 0o600);
    assert_eq!(mode("out/list/suppressed.csv"), 0o600);
}
