//! The store suite: the same tests against both engines (the SQLite ledger
//! and PostgreSQL at `TIPSHEET_TEST_POSTGRES`, each test in a fresh database),
//! then what only the shared engine does: leases, the first host freezing,
//! the list, and the shared confirmation limit.

use std::path::Path;
use std::time::Duration;

use tipsheet::content::issue::Selection;
use tipsheet::store::{
    Approval, Frozen, Hit, IssueStatus, LimitScope, Outcome, RecipientStatus, Store, StoreError,
    StoreSettings, StoreUrl, StoredSubscriber, StoredSuppression,
};

use crate::pg::{self, FreshDb};

const SLOT: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(2026, 12, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn settings(url: StoreUrl, lease: Duration) -> StoreSettings {
    StoreSettings {
        url,
        password: None,
        lease,
        synchronous_commit: true,
        subscribers_path: "subscribers/subscribers.csv".into(),
        suppressed_path: "subscribers/suppressed.csv".into(),
        state_dir: "state".into(),
        keyer: None,
    }
}

fn pg_settings(db: &FreshDb, lease: Duration) -> StoreSettings {
    settings(
        StoreUrl::parse(&db.url, Path::new("/"), Path::new("/unused")).unwrap(),
        lease,
    )
}

/// Each engine this machine can run: SQLite always, PostgreSQL when configured.
struct Engines {
    _dir: tempfile::TempDir,
    list: Vec<(&'static str, StoreSettings, Option<FreshDb>)>,
}

fn engines(test: &str) -> Engines {
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = settings(
        StoreUrl::Sqlite(dir.path().join("state/tipsheet.sqlite3")),
        Duration::from_secs(60),
    );
    // The embedded engine's list is its files, in the test's own folder.
    sqlite.subscribers_path = dir.path().join("subscribers.csv");
    sqlite.suppressed_path = dir.path().join("suppressed.csv");
    sqlite.state_dir = dir.path().join("state");
    let mut list = vec![("sqlite", sqlite, None)];
    if let Some(db) = pg::fresh(test) {
        list.push((
            "postgres",
            pg_settings(&db, Duration::from_secs(60)),
            Some(db),
        ));
    }
    Engines { _dir: dir, list }
}

fn sel(tip: &str) -> Selection {
    Selection {
        comparisons: vec!["a".into(), "b".into()],
        tip: tip.into(),
    }
}

fn people(keys: &[&str]) -> impl Iterator<Item = Result<Frozen, StoreError>> + Send + use<> {
    keys.iter()
        .map(|k| Ok((k.to_string(), k.to_string(), String::new())))
        .collect::<Vec<_>>()
        .into_iter()
}

fn sent(key: &str) -> Outcome {
    Outcome {
        key: key.into(),
        status: RecipientStatus::Sent,
        attempts: 1,
        code: Some(250),
        reply: Some("ok".into()),
        message_id: Some(format!("<{key}>")),
        relay: None,
    }
}

#[test]
fn both_engines_lifecycle_freeze_recover_commit_finish() {
    for (engine, s, _db) in engines("store::both_engines_lifecycle").list {
        rt().block_on(async {
            let st = Store::open(&s).await.unwrap();
            st.assemble(SLOT, 1, &sel("t")).await.unwrap();
            st.assemble(SLOT, 1, &sel("other")).await.unwrap();
            let issue = st.issue(SLOT).await.unwrap().unwrap();
            assert_eq!(issue.selection, sel("t"), "{engine}");
            assert_eq!(issue.status, IssueStatus::Assembled, "{engine}");
            assert_eq!(st.issue_by_number(1).await.unwrap().unwrap().slot, SLOT);
            let keys = ["a@x.com", "b@x.com", "c@x.com", "a@x.com"];
            assert_eq!(
                st.freeze(SLOT, &mut people(&keys)).await.unwrap(),
                3,
                "{engine}"
            );
            assert_eq!(
                st.freeze(SLOT, &mut people(&["d@x.com"])).await.unwrap(),
                0,
                "{engine}: frozen"
            );
            st.commit(SLOT, &["a@x.com", "b@x.com"], &[]).await.unwrap();
            st.commit(SLOT, &[], &[sent("a@x.com")]).await.unwrap();
            if engine == "postgres" {
                // b's lease is live: nobody else may take it yet.
                assert_eq!(st.recover(SLOT).await.unwrap(), 0);
                expire_all(&_db);
            }
            assert_eq!(st.recover(SLOT).await.unwrap(), 1, "{engine}");
            let c = st.counts(SLOT).await.unwrap();
            assert_eq!(
                (
                    c.get(RecipientStatus::Sent),
                    c.get(RecipientStatus::Uncertain),
                    c.get(RecipientStatus::Pending)
                ),
                (1, 1, 1),
                "{engine}"
            );
            assert_eq!(st.finish(SLOT).await.unwrap(), IssueStatus::Sending);
            let due = st
                .claim(
                    SLOT,
                    &[RecipientStatus::Pending, RecipientStatus::Uncertain],
                    "",
                    10,
                )
                .await
                .unwrap();
            assert_eq!(
                due.rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
                ["b@x.com", "c@x.com"],
                "{engine}"
            );
            let done: Vec<Outcome> = due.rows.iter().map(|r| sent(&r.key)).collect();
            st.commit(SLOT, &[], &done).await.unwrap();
            assert_eq!(
                st.finish(SLOT).await.unwrap(),
                IssueStatus::Sent,
                "{engine}"
            );
            let a = st.recipients(SLOT, &[RecipientStatus::Sent]).await.unwrap();
            assert_eq!(a.len(), 3);
            assert_eq!(a[0].attempts, 1);
            assert_eq!(a[0].last_reply.as_deref(), Some("ok"));
            assert_eq!(a[0].message_id.as_deref(), Some("<a@x.com>"));
            assert_eq!(st.history().await.unwrap().len(), 1);
            assert_eq!(st.schema_version().await.unwrap(), KNOWN, "{engine}");
        });
    }
}

/// An issue staged before any recipient is frozen keeps its rendered copy:
/// a second stage changes nothing, a replacement only while `assembled`, the
/// freeze sends the staged copy, and every approval stays, in order.
#[test]
fn both_engines_stage_an_issue_and_keep_every_approval() {
    for (engine, s, _db) in engines("store::both_engines_approvals").list {
        if engine == "sqlite" {
            // An empty list of record: the file engine's is a file.
            std::fs::write(&s.subscribers_path, "email,name\n").unwrap();
        }
        rt().block_on(async {
            let st = Store::open(&s).await.unwrap();
            assert_eq!(st.rendered(SLOT).await.unwrap(), None, "{engine}");
            assert!(st.approvals(SLOT).await.unwrap().is_empty(), "{engine}");
            let first = st.stage(SLOT, 1, &sel("t"), b"r1", false).await.unwrap();
            assert!(first.written, "{engine}");
            assert_eq!(first.rendered.as_deref(), Some(&b"r1"[..]), "{engine}");
            assert_eq!(first.record.status, IssueStatus::Assembled, "{engine}");
            let kept = st.stage(SLOT, 1, &sel("u"), b"r2", false).await.unwrap();
            assert!(!kept.written, "{engine}");
            assert_eq!(kept.rendered.as_deref(), Some(&b"r1"[..]), "{engine}");
            assert_eq!(kept.record.selection, sel("t"), "{engine}");
            let replaced = st.stage(SLOT, 1, &sel("u"), b"r2", true).await.unwrap();
            assert!(replaced.written, "{engine}");
            assert_eq!(replaced.record.selection, sel("u"), "{engine}");
            assert_eq!(
                st.rendered(SLOT).await.unwrap().as_deref(),
                Some(&b"r2"[..])
            );
            for (by, digest) in [("ana", "d1"), ("bob", "d2")] {
                st.record_approval(&Approval {
                    slot: SLOT,
                    number: 1,
                    by: by.into(),
                    at: "2026-11-30T09:00:00Z".into(),
                    digest: digest.into(),
                    reassembled: by == "bob",
                })
                .await
                .unwrap();
            }
            let all = st.approvals(SLOT).await.unwrap();
            assert_eq!(
                all.iter()
                    .map(|a| (a.by.as_str(), a.digest.as_str(), a.reassembled))
                    .collect::<Vec<_>>(),
                [("ana", "d1", false), ("bob", "d2", true)],
                "{engine}"
            );
            // The freeze keeps the staged selection and copy, whatever it is given.
            let frozen = st
                .freeze_issue(SLOT, 1, &sel("x"), Some(b"r3"))
                .await
                .unwrap();
            assert_eq!(frozen.record.selection, sel("u"), "{engine}");
            assert_eq!(frozen.rendered.as_deref(), Some(&b"r2"[..]), "{engine}");
            assert_eq!(frozen.record.status, IssueStatus::Sending, "{engine}");
            // Frozen: no replacement any more.
            let late = st.stage(SLOT, 1, &sel("y"), b"r4", true).await.unwrap();
            assert!(!late.written, "{engine}");
            assert_eq!(late.rendered.as_deref(), Some(&b"r2"[..]), "{engine}");
            assert_eq!(late.record.selection, sel("u"), "{engine}");
        });
    }
}

fn expire_all(db: &Option<FreshDb>) {
    if let Some(db) = db {
        expire(db);
    }
}

/// `[store] synchronous_commit` reaches the engine: SQLite's `synchronous`
/// pragma, and on PostgreSQL the group commits' own connection only (the
/// rest of the store always waits for the flush).
#[test]
fn both_engines_group_commits_wait_for_the_disk_only_when_asked() {
    for (engine, s, db) in engines("store::both_engines_group_commits_flush").list {
        rt().block_on(async {
            for wait in [true, false, true] {
                let s = StoreSettings {
                    synchronous_commit: wait,
                    ..s.clone()
                };
                let st = Store::open(&s).await.unwrap();
                assert_eq!(
                    st.group_commits_wait_for_disk().await.unwrap(),
                    wait,
                    "{engine} synchronous_commit = {wait}"
                );
                // What the commit writes is there either way.
                st.assemble(SLOT, 1, &sel("t")).await.unwrap();
                st.freeze(SLOT, &mut people(&["a@x.com"])).await.unwrap();
                st.commit(SLOT, &["a@x.com"], &[]).await.unwrap();
                let marked = st.recipients(SLOT, &[RecipientStatus::InFlight]).await;
                assert_eq!(marked.unwrap().len(), 1, "{engine}");
                st.commit(SLOT, &[], &[sent("a@x.com")]).await.unwrap();
                let done = st.recipients(SLOT, &[RecipientStatus::Sent]).await;
                assert_eq!(done.unwrap().len(), 1, "{engine}");
            }
            if let Some(db) = &db {
                // Everything else on the store waits for the flush.
                let shown: String = db.query("SHOW synchronous_commit")[0].get(0);
                assert_eq!(shown, "on");
            }
        });
    }
}

/// Every lease runs out now (as if `lease_seconds` had passed).
fn expire(db: &FreshDb) {
    db.query(
        "UPDATE recipients SET lease_until = now() - interval '1 second' WHERE lease_until IS NOT NULL",
    );
}

#[test]
fn both_engines_read_only_open_creates_nothing_and_migrating_twice_is_a_no_op() {
    for (engine, s, db) in engines("store::both_engines_read_only").list {
        rt().block_on(async {
            assert!(
                Store::open_read_only(&s).await.unwrap().is_none(),
                "{engine}"
            );
            let report = Store::report(&s).await.unwrap();
            assert_eq!((report.version, report.known), (0, KNOWN), "{engine}");
            if let Some(db) = &db {
                assert_eq!(
                    db.count("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'"),
                    0,
                    "read-only open created a table"
                );
            } else if let StoreUrl::Sqlite(p) = &s.url {
                assert!(!p.exists(), "read-only open created the ledger");
            }
            drop(Store::open(&s).await.unwrap());
            drop(Store::open(&s).await.unwrap());
            let st = Store::open_read_only(&s).await.unwrap().unwrap();
            assert_eq!(st.schema_version().await.unwrap(), KNOWN, "{engine}");
            assert_eq!(Store::report(&s).await.unwrap().version, KNOWN);
            if let Some(db) = &db {
                assert_eq!(db.count("SELECT COUNT(*) FROM schema_version"), KNOWN);
            }
        });
    }
}

/// A ledger written by the tipsheet before this store (its migration 1, inline)
/// opens unchanged, with its data.
#[test]
fn sqlite_ledgers_written_before_the_store_open_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tipsheet.sqlite3");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(include_str!(
            "../../src/store/migrations/sqlite/0001_issues_and_recipients.sql"
        ))
        .unwrap();
        c.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO issues VALUES ('2026-12-01', 1, 'a,b', 't', 'sent', '2026-12-01T14:00:00.000Z', NULL, NULL);
             INSERT INTO recipients (slot, email, address, name, status, attempts, updated_at)
             VALUES ('2026-12-01', 'a@x.com', 'A@x.com', 'A', 'sent', 1, '2026-12-01T14:00:01.000Z');",
        )
        .unwrap();
        assert_eq!(sqlite_indexes_of_recipients(&c), ["recipients_by_status"]);
    }
    rt().block_on(async {
        let s = settings(StoreUrl::Sqlite(path.clone()), Duration::from_secs(60));
        let st = Store::open(&s).await.unwrap();
        // Migrated from 1 to today's schema, its rows untouched.
        assert_eq!(st.schema_version().await.unwrap(), KNOWN);
        let i = st.issue(SLOT).await.unwrap().unwrap();
        assert_eq!((i.number, i.status), (1, IssueStatus::Sent));
        let r = st.recipients(SLOT, &[RecipientStatus::Sent]).await.unwrap();
        assert_eq!(r[0].address, "A@x.com");
    });
    // Migration 3 dropped the index on status (the table is its primary key,
    // WITHOUT ROWID); migration 5 indexes the Message-ID for exact lookups.
    let c = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(
        sqlite_indexes_of_recipients(&c),
        ["recipients_by_message_id"]
    );
}

fn sqlite_indexes_of_recipients(c: &rusqlite::Connection) -> Vec<String> {
    c.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'recipients'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The keyer of a test secret, as the binary makes it.
fn keyer() -> tipsheet::list::keyer::Keyer {
    let signer = tipsheet::mail::token::Signer::new(b"store-story-secret");
    tipsheet::plan::keyer_of(signer)
}

#[test]
fn both_engines_keep_the_list_suppressions_and_the_confirmation_limit() {
    for (engine, s, _db) in engines("store::both_engines_roster").list {
        let s = StoreSettings {
            keyer: Some(keyer()),
            ..s
        };
        rt().block_on(async {
            let st = Store::open(&s).await.unwrap();
            let t = chrono::DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
                .unwrap()
                .to_utc();
            let ana = StoredSubscriber {
                key: "ana@example.com".into(),
                address: "Ana@example.com".into(),
                name: "Ana".into(),
                subscribed_at: Some("2026-11-01T00:00:00Z".into()),
            };
            assert!(st.subscribe(&ana).await.unwrap(), "{engine}");
            assert!(!st.subscribe(&ana).await.unwrap(), "{engine}: once");
            let mut seen = Vec::new();
            let walked = st.walk_list(&mut |r| seen.push(r.key)).await.unwrap();
            assert_eq!(seen, ["ana@example.com"], "{engine}");
            assert_eq!(walked.counts.active, 1, "{engine}");
            assert!(!st.is_suppressed("ana@example.com").await.unwrap());
            assert!(
                st.suppress("ana@example.com", "unsubscribed", t)
                    .await
                    .unwrap()
            );
            assert!(!st.suppress("ana@example.com", "bounced", t).await.unwrap());
            assert!(
                st.is_suppressed("ana@example.com").await.unwrap(),
                "{engine}"
            );
            let mut seen = Vec::new();
            let walked = st.walk_list(&mut |r| seen.push(r.key)).await.unwrap();
            assert!(seen.is_empty(), "{engine}: {seen:?}");
            assert_eq!(walked.counts.suppressed, 1, "{engine}");
            assert!(st.resubscribe("ana@example.com", t).await.unwrap());
            assert!(!st.resubscribe("ana@example.com", t).await.unwrap());
            assert!(
                !st.is_suppressed("ana@example.com").await.unwrap(),
                "{engine}"
            );
            let once = [mailbox_hit("x@y.z")];
            assert_eq!(st.take(&once, t).await.unwrap(), None);
            let later = t + chrono::TimeDelta::minutes(59);
            assert_eq!(st.take(&once, later).await.unwrap(), Some(0));
            st.give_back(&once, later).await.unwrap();
            assert_eq!(st.take(&once, later).await.unwrap(), None, "{engine}");
        });
    }
}

/// A sign-up's mailbox counter: one per hour.
fn mailbox_hit(key: &str) -> Hit {
    Hit {
        scope: LimitScope::Confirm,
        key: key.into(),
        max: 1,
        window: chrono::TimeDelta::hours(1),
    }
}

#[test]
fn both_engines_count_limits_all_or_none_and_drop_them_after_their_window() {
    for (engine, s, _db) in engines("store::both_engines_sign_up_state").list {
        let s = StoreSettings {
            keyer: Some(keyer()),
            ..s
        };
        rt().block_on(async {
            let st = Store::open(&s).await.unwrap();
            let t = chrono::DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
                .unwrap()
                .to_utc();
            let min = chrono::TimeDelta::minutes;
            let client = |max| Hit {
                scope: LimitScope::Client,
                key: "192.0.2.1".into(),
                max,
                window: chrono::TimeDelta::hours(1),
            };
            let held = |key: &'static str| {
                let st = st.clone();
                async move { st.held(key).await.unwrap().counted }
            };
            // Two per client: the third is refused, and refusing the
            // mailbox counts nothing against the client.
            // Mailbox counters are kept under the mailbox's keyed hash.
            let mailbox = |a: &str| mailbox_hit(&keyer().pseudonym(a));
            let a = [client(2), mailbox("a@example.com")];
            assert_eq!(st.take(&a, t).await.unwrap(), None, "{engine}");
            assert_eq!(st.take(&a, t).await.unwrap(), Some(1), "{engine}");
            let b = [client(2), mailbox("b@example.com")];
            assert_eq!(st.take(&b, t + min(30)).await.unwrap(), None);
            let c = [client(2), mailbox("c@example.com")];
            assert_eq!(st.take(&c, t + min(31)).await.unwrap(), Some(0));
            let counted = held("a@example.com").await;
            assert_eq!(counted.len(), 1, "{engine}");
            assert_eq!(
                (counted[0].scope, counted[0].since),
                (LimitScope::Confirm, t)
            );
            assert!(held("c@example.com").await.is_empty(), "{engine}");
            // The sweep deletes what its window left behind, and only that.
            assert_eq!(st.sweep(t + min(59)).await.unwrap(), 0, "{engine}");
            assert_eq!(st.sweep(t + min(60)).await.unwrap(), 2, "{engine}");
            assert!(held("a@example.com").await.is_empty(), "{engine}");
            assert_eq!(held("b@example.com").await.len(), 1, "{engine}");
            // A window that ended starts again at the next hit.
            assert_eq!(st.take(&c, t + min(61)).await.unwrap(), None);
            // Spent links go once they expire.
            let x = (t + min(90)).timestamp();
            assert!(st.spend_confirmation("d1", x, t.timestamp()).await.unwrap());
            assert!(st.is_spent("d1").await.unwrap(), "{engine}");
            assert!(!st.is_spent("d2").await.unwrap(), "{engine}");
            st.sweep(t + min(91)).await.unwrap();
            assert!(!st.is_spent("d1").await.unwrap(), "{engine}");
        });
    }
}

/// A store whose issue of [`SLOT`] was sent to `emails`.
async fn sent_to(s: &StoreSettings, emails: &[&str]) -> Store {
    let st = Store::open(s).await.unwrap();
    st.assemble(SLOT, 1, &sel("t")).await.unwrap();
    st.freeze(SLOT, &mut people(emails)).await.unwrap();
    let outcomes: Vec<_> = emails.iter().map(|e| sent(e)).collect();
    st.commit(SLOT, &[], &outcomes).await.unwrap();
    st
}

#[test]
fn both_engines_record_an_event_once_with_its_consequence() {
    use tipsheet::store::{Consequence, Event, EventKind};
    for (engine, s, _db) in engines("store::both_engines_events").list {
        let s = StoreSettings {
            keyer: Some(keyer()),
            ..s
        };
        rt().block_on(async {
            let st = sent_to(&s, &["bo@example.com"]).await;
            assert_eq!(
                st.latest_issue_of("bo@example.com").await.unwrap(),
                Some(SLOT)
            );
            let event = Event {
                key: "dsn:1:hard_bounce".into(),
                kind: EventKind::HardBounce,
                email: "bo@example.com".into(),
                slot: Some(SLOT),
                source: "dsn".into(),
                status: Some("5.1.1".into()),
                reason: "user unknown".into(),
                at: "2026-12-01T10:00:00Z".into(),
                failure: None,
            };
            let decide = |_: Option<u64>| Consequence {
                suppress: Some("bounced: 5.1.1 user unknown".into()),
                bounce_row: Some("5.1.1 user unknown".into()),
                only_if_suppressing: false,
            };
            let now = chrono::Utc::now();
            let first = st
                .record(&event, now, "2026-11-01T00:00:00Z", &decide)
                .await;
            let first = first.unwrap();
            assert!(
                first.new && first.suppressed && first.row_bounced,
                "{engine}: {first:?}"
            );
            let again = st
                .record(&event, now, "2026-11-01T00:00:00Z", &decide)
                .await;
            assert!(!again.unwrap().new, "{engine}: recorded once");
            assert_eq!(st.events(Some(SLOT)).await.unwrap().len(), 1, "{engine}");
            assert!(
                st.is_suppressed("bo@example.com").await.unwrap(),
                "{engine}"
            );
            let bounced = st
                .recipients(SLOT, &[RecipientStatus::Bounced])
                .await
                .unwrap();
            assert_eq!(bounced.len(), 1, "{engine}");
            assert!(!st.complained("bo@example.com").await.unwrap(), "{engine}");
            assert_eq!(st.erased_as("bo@example.com").await.unwrap(), None);
        });
    }
}

#[test]
fn both_engines_record_a_batch_in_one_commit_each_address_once() {
    use tipsheet::store::{Consequence, Event, EventKind};
    for (engine, s, _db) in engines("store::both_engines_batch").list {
        let s = StoreSettings {
            keyer: Some(keyer()),
            ..s
        };
        rt().block_on(async {
            let st = sent_to(&s, &["a@example.com", "b@example.com"]).await;
            let click = |key: &str, email: &str| Event {
                key: key.into(),
                kind: EventKind::Unsubscribe,
                email: email.into(),
                slot: Some(SLOT),
                source: "web".into(),
                status: None,
                reason: "one-click unsubscribe".into(),
                at: "2026-12-01T10:00:00Z".into(),
                failure: None,
            };
            // Two clicks of one reader, another reader, a repeated event.
            let batch = [
                click("web:1", "a@example.com"),
                click("web:2", "a@example.com"),
                click("web:3", "b@example.com"),
                click("web:1", "a@example.com"),
            ];
            let decide = |_: usize, _: Option<u64>| Consequence {
                suppress: Some("unsubscribed".into()),
                bounce_row: None,
                only_if_suppressing: true,
            };
            let now = chrono::Utc::now();
            let done = st
                .record_all(&batch, now, "2026-11-01T00:00:00Z", &decide)
                .await
                .unwrap();
            let new: Vec<(bool, bool)> = done.iter().map(|d| (d.new, d.suppressed)).collect();
            assert_eq!(
                new,
                [(true, true), (false, false), (true, true), (false, false)],
                "{engine}"
            );
            assert_eq!(st.events(None).await.unwrap().len(), 2, "{engine}");
            for email in ["a@example.com", "b@example.com"] {
                assert!(st.is_suppressed(email).await.unwrap(), "{engine}");
                let held = st.held(email).await.unwrap();
                assert_eq!(held.suppression.len(), 1, "{engine}: {email}");
            }
            // The same clicks again: nothing new.
            let again = st
                .record_all(&batch[1..3], now, "2026-11-01T00:00:00Z", &decide)
                .await
                .unwrap();
            assert!(again.iter().all(|d| !d.new && !d.suppressed), "{engine}");
            assert_eq!(st.events(None).await.unwrap().len(), 2, "{engine}");
            assert_eq!(
                st.latest_issue_of("b@example.com").await.unwrap(),
                Some(SLOT),
                "{engine}"
            );
            assert_eq!(st.latest_issue_of("c@example.com").await.unwrap(), None);
        });
    }
}

#[test]
fn the_file_engine_says_the_list_is_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        StoreUrl::Sqlite(dir.path().join("l.sqlite3")),
        Duration::from_secs(60),
    );
    rt().block_on(async {
        let st = Store::open(&s).await.unwrap();
        let e = st.list_counts().await.err().unwrap();
        assert!(matches!(e, StoreError::ListIsFile { .. }));
        assert!(
            e.to_string()
                .starts_with("the list is the file `subscribers/subscribers.csv`"),
            "{e}"
        );
    });
}

// -- The shared engine only ----------------------------------------------------

fn list_of(n: usize) -> Vec<StoredSubscriber> {
    (0..n)
        .map(|i| StoredSubscriber {
            key: format!("r{i:05}@example.com"),
            address: format!("R{i:05}@example.com"),
            name: format!("R {i}"),
            subscribed_at: None,
        })
        .collect()
}

#[test]
fn postgres_first_host_freezes_selection_rendered_issue_and_recipients() {
    let Some(db) = pg::fresh("store::postgres_first_host_freezes") else {
        return;
    };
    rt().block_on(async {
        let s = pg_settings(&db, Duration::from_secs(60));
        let a = Store::open(&s).await.unwrap();
        let b = Store::open(&s).await.unwrap();
        let pa = &a;
        for sub in list_of(50) {
            pa.subscribe(&sub).await.unwrap();
        }
        pa.import_suppressions(&[StoredSuppression {
            key: "r00007@example.com".into(),
            address: "R00007@example.com".into(),
            reason: "unsubscribed".into(),
            at: "2026-11-01T00:00:00Z".into(),
        }])
        .await
        .unwrap();
        // Two hosts with different content reach the slot at once.
        let (sa, sb) = (sel("from-a"), sel("from-b"));
        let (fa, fb) = tokio::join!(
            a.freeze_issue(SLOT, 1, &sa, Some(b"rendered by a")),
            b.freeze_issue(SLOT, 1, &sb, Some(b"rendered by b")),
        );
        let (fa, fb) = (fa.unwrap(), fb.unwrap());
        assert_eq!(fa.record, fb.record);
        assert_eq!(fa.rendered, fb.rendered);
        let winner_a = fa.rendered.as_deref() == Some(&b"rendered by a"[..]);
        assert_eq!(
            fa.record.selection.tip,
            if winner_a { "from-a" } else { "from-b" }
        );
        assert_eq!(fa.record.status, IssueStatus::Sending);
        let added: Vec<_> = [fa.added, fb.added].into_iter().flatten().collect();
        assert_eq!(
            added,
            [49],
            "exactly one host froze, without the suppressed"
        );
        // A later sign-up does not join a frozen issue.
        pa.subscribe(&list_of(51)[50]).await.unwrap();
        let again = a
            .freeze_issue(SLOT, 1, &sel("late"), Some(b"late"))
            .await
            .unwrap();
        assert_eq!(again.added, None);
        assert_eq!(a.counts(SLOT).await.unwrap().total(), 49);
    });
}

#[test]
fn postgres_three_hosts_claim_every_recipient_exactly_once() {
    let Some(db) = pg::fresh("store::postgres_three_hosts_claim") else {
        return;
    };
    let rt = rt();
    let s = pg_settings(&db, Duration::from_secs(60));
    let total = 3000;
    rt.block_on(async {
        let first = Store::open(&s).await.unwrap();
        for sub in list_of(total) {
            first.subscribe(&sub).await.unwrap();
        }
        first
            .freeze_issue(SLOT, 1, &sel("t"), Some(b"issue"))
            .await
            .unwrap();
    });
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let s = s.clone();
        tasks.push(rt.spawn(async move {
            let st = Store::open(&s).await.unwrap();
            let mut mine = Vec::new();
            let mut cursor = String::new();
            loop {
                let page = st
                    .claim(SLOT, &[RecipientStatus::Pending], &cursor, 64)
                    .await
                    .unwrap()
                    .rows;
                let Some(last) = page.last() else { break };
                cursor = last.key.clone();
                let keys: Vec<&str> = page.iter().map(|r| r.key.as_str()).collect();
                st.commit(SLOT, &keys, &[]).await.unwrap();
                let done: Vec<Outcome> = page.iter().map(|r| sent(&r.key)).collect();
                st.commit(SLOT, &[], &done).await.unwrap();
                mine.extend(page.into_iter().map(|r| r.key));
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut all = Vec::new();
    let mut per_host = Vec::new();
    for t in tasks {
        let mine = rt.block_on(t).unwrap();
        per_host.push(mine.len());
        all.extend(mine);
    }
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!((n, all.len()), (total, total), "each claimed exactly once");
    assert!(per_host.iter().all(|n| *n > 0), "{per_host:?}");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM recipients WHERE status = 'sent' AND attempts = 1"),
        total as i64
    );
}

#[test]
fn postgres_a_dead_hosts_claims_expire_and_its_in_flight_become_uncertain() {
    let Some(db) = pg::fresh("store::postgres_dead_host") else {
        return;
    };
    rt().block_on(async {
        let s = pg_settings(&db, Duration::from_secs(60));
        let dead = Store::open(&s).await.unwrap();
        let alive = Store::open(&s).await.unwrap();
        dead.assemble(SLOT, 1, &sel("t")).await.unwrap();
        dead.freeze(SLOT, &mut people(&["a@x", "b@x", "c@x", "d@x"]))
            .await
            .unwrap();
        let all = [RecipientStatus::Pending, RecipientStatus::Uncertain];
        let page = dead.claim(SLOT, &all, "", 3).await.unwrap().rows;
        assert_eq!(page.len(), 3);
        dead.commit(SLOT, &["a@x"], &[]).await.unwrap(); // a handed to SMTP
        // Live leases: the other host sees only d, and recovers nobody.
        let other = alive.claim(SLOT, &all, "", 10).await.unwrap().rows;
        assert_eq!(
            other.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["d@x"]
        );
        assert_eq!(alive.recover(SLOT).await.unwrap(), 0);
        assert_eq!(dead.renew(SLOT).await.unwrap(), 3);
        // The host dies; its leases run out.
        drop(dead);
        expire(&db);
        assert_eq!(alive.recover(SLOT).await.unwrap(), 1, "a was in flight");
        let rest = alive.claim(SLOT, &all, "", 10).await.unwrap().rows;
        let got: Vec<_> = rest.iter().map(|r| (r.key.as_str(), r.status)).collect();
        assert_eq!(
            got,
            [
                ("a@x", RecipientStatus::Uncertain),
                ("b@x", RecipientStatus::Pending),
                ("c@x", RecipientStatus::Pending),
                ("d@x", RecipientStatus::Pending),
            ]
        );
        // A clean stop gives claims back at once.
        assert_eq!(alive.release(SLOT).await.unwrap(), 4);
        assert_eq!(
            db.count("SELECT COUNT(*) FROM recipients WHERE claimed_by IS NOT NULL"),
            0
        );
    });
}

/// A recipient's writes (claimed, in flight, result) stay heap-only updates:
/// no index names `status`, and its pages keep room for the new versions
/// (migration 3). An index on `status` would make every one of those writes
/// add index entries and move the row, about a third more server CPU a message.
#[test]
fn postgres_recipients_writes_stay_heap_only() {
    let Some(db) = pg::fresh("store::postgres_hot") else {
        return;
    };
    rt().block_on(async {
        let st = Store::open(&pg_settings(&db, Duration::from_secs(60)))
            .await
            .unwrap();
        drop(st);
    });
    let indexes: Vec<String> = db
        .query("SELECT indexdef FROM pg_indexes WHERE tablename = 'recipients'")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!indexes.is_empty(), "the primary key is there");
    assert!(indexes.iter().all(|d| !d.contains("status")), "{indexes:?}");
    let options: String = db.query(
        "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'recipients'",
    )[0]
    .get(0);
    assert_eq!(options, "fillfactor=50");
}

#[test]
fn postgres_import_twice_changes_nothing_and_never_lifts_a_suppression() {
    let Some(db) = pg::fresh("store::postgres_list") else {
        return;
    };
    rt().block_on(async {
        let st = Store::open(&pg_settings(&db, Duration::from_secs(60)))
            .await
            .unwrap();
        let pg = &st;
        let sub = StoredSubscriber {
            key: "ana@example.com".into(),
            address: "Ana@Example.com".into(),
            name: "Ana".into(),
            subscribed_at: Some("2026-09-14T10:22:00Z".into()),
        };
        assert!(pg.subscribe(&sub).await.unwrap());
        assert!(!pg.subscribe(&sub).await.unwrap());
        let no_date = StoredSubscriber {
            subscribed_at: None,
            ..sub.clone()
        };
        assert!(!pg.subscribe(&no_date).await.unwrap());
        assert_eq!(pg.subscribers().await.unwrap(), std::slice::from_ref(&sub));
        let s = StoredSuppression {
            key: "ana@example.com".into(),
            address: "Ana@Example.com".into(),
            reason: "unsubscribed".into(),
            at: "2026-10-01T00:00:00Z".into(),
        };
        assert_eq!(
            pg.import_suppressions(std::slice::from_ref(&s))
                .await
                .unwrap(),
            1
        );
        let later = StoredSuppression {
            reason: "imported".into(),
            ..s.clone()
        };
        assert_eq!(pg.import_suppressions(&[later]).await.unwrap(), 0);
        assert!(!pg.subscribe(&sub).await.unwrap());
        assert!(pg.is_suppressed("ana@example.com").await.unwrap());
        assert_eq!(pg.suppressions().await.unwrap(), [s]);
        assert_eq!(pg.list_counts().await.unwrap(), (1, 1));
        assert!(
            pg.resubscribe("ana@example.com", chrono::Utc::now())
                .await
                .unwrap()
        );
        assert!(!pg.is_suppressed("ana@example.com").await.unwrap());
    });
}

#[test]
fn postgres_limits_are_shared_by_every_host() {
    let Some(db) = pg::fresh("store::postgres_confirmations") else {
        return;
    };
    rt().block_on(async {
        let s = pg_settings(&db, Duration::from_secs(60));
        let (a, b) = (
            Store::open(&s).await.unwrap(),
            Store::open(&s).await.unwrap(),
        );
        let (a, b) = (&a, &b);
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
            .unwrap()
            .to_utc();
        let hour = chrono::TimeDelta::hours(1);
        let x = [mailbox_hit("x@y.z")];
        let other = [mailbox_hit("other@y.z")];
        assert_eq!(a.take(&x, t0).await.unwrap(), None);
        assert_eq!(
            b.take(&x, t0 + chrono::TimeDelta::minutes(59))
                .await
                .unwrap(),
            Some(0)
        );
        assert_eq!(b.take(&other, t0).await.unwrap(), None);
        // A mail that could not be sent gives its count back.
        b.give_back(&other, t0).await.unwrap();
        assert_eq!(a.take(&other, t0).await.unwrap(), None);
        assert_eq!(b.take(&x, t0 + hour).await.unwrap(), None);
        // Twenty hosts racing for a cap of five: five win.
        let all = Hit {
            scope: LimitScope::All,
            key: String::new(),
            max: 5,
            window: hour,
        };
        let races = (0..20).map(|i| {
            let st = if i % 2 == 0 { a.clone() } else { b.clone() };
            let hit = [all.clone()];
            async move { st.take(&hit, t0).await.unwrap() }
        });
        let won = futures_util::future::join_all(races)
            .await
            .into_iter()
            .filter(Option::is_none)
            .count();
        assert_eq!(won, 5);
    });
}

#[test]
fn postgres_an_unreachable_server_is_reported_as_such_with_the_password_redacted() {
    // Port 1 on loopback refuses at once; nothing listens there.
    let s = settings(
        StoreUrl::parse(
            "postgres://u:s3cret@127.0.0.1:1/db",
            Path::new("/"),
            Path::new("/l"),
        )
        .unwrap(),
        Duration::from_secs(60),
    );
    rt().block_on(async {
        let e = Store::open(&s).await.err().unwrap();
        assert!(e.is_unreachable(), "{e}");
        let text = e.to_string();
        assert!(
            text.starts_with("store `postgres://u:***@127.0.0.1:1/db` cannot be reached"),
            "{text}"
        );
        assert!(!text.contains("s3cret"));
    });
}

/// The schema version both engines migrate to: both have the inbound events
/// table as migration 2, and drop the status index of recipients in 3 (on
/// PostgreSQL so that a recipient's writes are heap-only updates).
pub(crate) const KNOWN: i64 = 15;

#[test]
fn both_engines_count_reserved_sends_and_the_relay_of_each_message() {
    use tipsheet::store::{Reserved, Window};
    const HOUR: Window = Window {
        minutes: 60,
        cap: 10,
    };
    const DAY: Window = Window {
        minutes: 1440,
        cap: 25,
    };
    for (engine, s, _db) in engines("store::both_engines_quotas").list {
        rt().block_on(async {
            let st = Store::open(&s).await.unwrap();
            let m = 29_000_000;
            let r = st.reserve_sends(m, 6, &[HOUR, DAY]).await.unwrap();
            assert_eq!(
                r,
                Reserved {
                    granted: 6,
                    blocked: None
                },
                "{engine}"
            );
            // Four left in the hour: granted, and the hour is full until its
            // first minute has left it.
            let r = st.reserve_sends(m + 5, 6, &[HOUR, DAY]).await.unwrap();
            assert_eq!(
                r,
                Reserved {
                    granted: 4,
                    blocked: Some((0, m + 61))
                },
                "{engine}"
            );
            // Two handed back: room for two more.
            st.return_sends(m + 5, 2).await.unwrap();
            assert_eq!(st.sends_within(m + 5, HOUR).await.unwrap(), 8);
            let r = st.reserve_sends(m + 6, 5, &[HOUR, DAY]).await.unwrap();
            assert_eq!(r.granted, 2, "{engine}");
            // An hour on, the day's cap is what is left.
            let r = st.reserve_sends(m + 70, 30, &[HOUR, DAY]).await.unwrap();
            assert_eq!(r.granted, 10, "{engine}");
            let r = st.reserve_sends(m + 140, 30, &[HOUR, DAY]).await.unwrap();
            assert_eq!(
                r,
                Reserved {
                    granted: 5,
                    blocked: Some((1, m + 1441))
                },
                "{engine}"
            );
            assert_eq!(st.sends_within(m + 140, DAY).await.unwrap(), 25);
            // The relay of each message is recorded with its outcome.
            st.assemble(SLOT, 1, &sel("t")).await.unwrap();
            st.freeze(SLOT, &mut people(&["a@x.com", "b@x.com", "c@x.com"]))
                .await
                .unwrap();
            let via = |key: &str, relay: &str| Outcome {
                relay: Some(relay.into()),
                ..sent(key)
            };
            st.commit(
                SLOT,
                &[],
                &[
                    via("a@x.com", "main"),
                    via("b@x.com", "spare"),
                    via("c@x.com", "main"),
                ],
            )
            .await
            .unwrap();
            assert_eq!(
                st.sent_by_relay(SLOT).await.unwrap(),
                [("main".to_string(), 2), ("spare".to_string(), 1)],
                "{engine}"
            );
        });
    }
}

#[test]
fn both_engines_change_a_password_or_a_role_and_keep_a_publisher() {
    use tipsheet::store::{Account, Removal, Role, RoleChange};
    let account = |name: &str, role: Role| Account {
        name: name.into(),
        role,
        password_hash: "$argon2id$old".into(),
        created_at: "2026-12-01T00:00:00Z".into(),
    };
    for (engine, s, _db) in engines("store::both_engines_change_accounts").list {
        rt().block_on(async {
            let st = Store::open(&s).await.unwrap();
            for (name, role) in [("ana", Role::Publisher), ("bob", Role::Editor)] {
                assert!(st.add_account(&account(name, role)).await.unwrap());
            }
            // A new password ends every session of its account, and only those.
            for (digest, who) in [("a1", "ana"), ("a2", "ana"), ("b1", "bob")] {
                st.open_session(digest, who, "csrf", 1000, 2000)
                    .await
                    .unwrap();
            }
            assert_eq!(
                st.set_password("ana", "$argon2id$new").await.unwrap(),
                Some(2),
                "{engine}"
            );
            let ana = st.account("ana").await.unwrap().unwrap();
            assert_eq!(ana.password_hash, "$argon2id$new", "{engine}");
            for digest in ["a1", "a2"] {
                assert!(
                    st.session(digest, 1500, 600).await.unwrap().is_none(),
                    "{engine}: {digest}"
                );
            }
            assert!(st.session("b1", 1500, 600).await.unwrap().is_some());
            assert_eq!(st.set_password("zed", "$x").await.unwrap(), None);
            assert!(st.account("zed").await.unwrap().is_none(), "{engine}");

            // A role change keeps the sessions, which read the new role.
            assert_eq!(
                st.set_role("bob", Role::Viewer).await.unwrap(),
                RoleChange::Changed(Role::Editor),
                "{engine}"
            );
            let b1 = st.session("b1", 1500, 600).await.unwrap().unwrap();
            assert_eq!(b1.role, Role::Viewer, "{engine}");
            assert_eq!(
                st.set_role("bob", Role::Viewer).await.unwrap(),
                RoleChange::Changed(Role::Viewer),
                "{engine}: unchanged"
            );
            assert_eq!(
                st.set_role("zed", Role::Viewer).await.unwrap(),
                RoleChange::Unknown
            );
            // The last publisher is never demoted; promoting one is always fine.
            for smaller in [Role::Editor, Role::Viewer] {
                assert_eq!(
                    st.set_role("ana", smaller).await.unwrap(),
                    RoleChange::LastPublisher,
                    "{engine}"
                );
            }
            assert_eq!(
                st.set_role("ana", Role::Publisher).await.unwrap(),
                RoleChange::Changed(Role::Publisher),
                "{engine}"
            );
            assert_eq!(
                st.account("ana").await.unwrap().unwrap().role,
                Role::Publisher
            );
            assert_eq!(
                st.set_role("bob", Role::Publisher).await.unwrap(),
                RoleChange::Changed(Role::Viewer)
            );
            assert_eq!(
                st.set_role("ana", Role::Editor).await.unwrap(),
                RoleChange::Changed(Role::Publisher),
                "{engine}: another publisher is left"
            );
            assert_eq!(
                st.remove_account("bob").await.unwrap(),
                Removal::LastPublisher,
                "{engine}: the demoted one does not count"
            );
        });
    }
}

/// Two hosts demoting (or removing) the last two publishers at once: one of
/// them is refused, every time, because both lock the publishers' rows.
#[test]
fn two_hosts_demoting_the_last_two_publishers_at_once_leave_one() {
    use tipsheet::store::{Account, Removal, Role, RoleChange};
    let Some(db) = pg::fresh("store::two_hosts_demoting") else {
        return;
    };
    rt().block_on(async {
        let s = pg_settings(&db, Duration::from_secs(60));
        let a = Store::open(&s).await.unwrap();
        let b = Store::open(&s).await.unwrap();
        let account = |name: &str| Account {
            name: name.into(),
            role: Role::Publisher,
            password_hash: "$argon2id$x".into(),
            created_at: "2026-12-01T00:00:00Z".into(),
        };
        for name in ["ana", "bob"] {
            assert!(a.add_account(&account(name)).await.unwrap());
        }
        let publishers = || async {
            a.accounts()
                .await
                .unwrap()
                .into_iter()
                .filter(|x| x.role == Role::Publisher)
                .count()
        };
        for round in 0..20 {
            for name in ["ana", "bob"] {
                a.set_role(name, Role::Publisher).await.unwrap();
            }
            let (ra, rb) = tokio::join!(
                a.set_role("ana", Role::Viewer),
                b.set_role("bob", Role::Editor),
            );
            let refused = [ra.unwrap(), rb.unwrap()]
                .iter()
                .filter(|r| **r == RoleChange::LastPublisher)
                .count();
            assert_eq!(refused, 1, "round {round}");
            assert_eq!(publishers().await, 1, "round {round}");
            // A removal and a demotion at once: the same.
            a.set_role("ana", Role::Publisher).await.unwrap();
            a.set_role("bob", Role::Publisher).await.unwrap();
            let (ra, rb) = tokio::join!(a.remove_account("ana"), b.set_role("bob", Role::Viewer));
            let (ra, rb) = (ra.unwrap(), rb.unwrap());
            assert!(
                (ra == Removal::LastPublisher) != (rb == RoleChange::LastPublisher),
                "round {round}: {ra:?} {rb:?}"
            );
            assert_eq!(publishers().await, 1, "round {round}");
            if ra == Removal::Removed {
                assert!(a.add_account(&account("ana")).await.unwrap());
            }
        }
    });
}

#[test]
fn both_engines_keep_accounts_sessions_the_throttle_and_the_audit_log() {
    use tipsheet::store::{Account, AuditEntry, Removal, Role};
    let account = |name: &str, role: Role| Account {
        name: name.into(),
        role,
        password_hash: "$argon2id$stand-in".into(),
        created_at: "2026-12-01T00:00:00Z".into(),
    };
    for (engine, s, _db) in engines("store::both_engines_accounts").list {
        rt().block_on(async {
            let st = Store::open(&s).await.unwrap();
            assert!(
                st.add_account(&account("ana", Role::Publisher))
                    .await
                    .unwrap()
            );
            assert!(
                !st.add_account(&account("ana", Role::Viewer)).await.unwrap(),
                "{engine}"
            );
            assert!(st.add_account(&account("bob", Role::Viewer)).await.unwrap());
            let names: Vec<_> = st
                .accounts()
                .await
                .unwrap()
                .into_iter()
                .map(|a| (a.name, a.role))
                .collect();
            assert_eq!(
                names,
                [
                    ("ana".into(), Role::Publisher),
                    ("bob".into(), Role::Viewer)
                ],
                "{engine}"
            );
            assert_eq!(
                st.remove_account("ana").await.unwrap(),
                Removal::LastPublisher,
                "{engine}"
            );
            assert_eq!(
                st.remove_account("zed").await.unwrap(),
                Removal::Unknown,
                "{engine}"
            );

            // A session is found by its digest while open and not idle too long.
            st.open_session("d1", "bob", "csrf1", 1000, 2000)
                .await
                .unwrap();
            let found = st.session("d1", 1500, 600).await.unwrap().unwrap();
            assert_eq!(
                (found.account.as_str(), found.role, found.csrf.as_str()),
                ("bob", Role::Viewer, "csrf1"),
                "{engine}"
            );
            assert!(
                st.session("d1", 2000, 10_000).await.unwrap().is_none(),
                "{engine}: past its end"
            );
            assert!(
                st.session("d1", 1999, 100).await.unwrap().is_none(),
                "{engine}: idle"
            );
            assert!(st.session("nope", 1500, 600).await.unwrap().is_none());
            st.close_session("d1").await.unwrap();
            assert!(
                st.session("d1", 1500, 600).await.unwrap().is_none(),
                "{engine}: closed"
            );
            // Removing an account ends its sessions.
            st.open_session("d2", "bob", "csrf2", 1000, 2000)
                .await
                .unwrap();
            assert_eq!(st.remove_account("bob").await.unwrap(), Removal::Removed);
            assert!(
                st.session("d2", 1500, 600).await.unwrap().is_none(),
                "{engine}"
            );

            // Failed sign-ins count per scope within the window, and are forgotten.
            st.note_failed_sign_in(&["account:ana", "client:1.2.3.4"], 100, 0)
                .await
                .unwrap();
            st.note_failed_sign_in(&["account:ana"], 200, 0)
                .await
                .unwrap();
            assert_eq!(
                st.failed_sign_ins("account:ana", 0).await.unwrap(),
                2,
                "{engine}"
            );
            assert_eq!(
                st.failed_sign_ins("account:ana", 150).await.unwrap(),
                1,
                "{engine}"
            );
            assert_eq!(
                st.failed_sign_ins("client:1.2.3.4", 0).await.unwrap(),
                1,
                "{engine}"
            );
            st.clear_failed_sign_ins("account:ana").await.unwrap();
            assert_eq!(
                st.failed_sign_ins("account:ana", 0).await.unwrap(),
                0,
                "{engine}"
            );
            st.note_failed_sign_in(&["account:x"], 1000, 500)
                .await
                .unwrap();
            assert_eq!(
                st.failed_sign_ins("client:1.2.3.4", 0).await.unwrap(),
                0,
                "{engine}: pruned"
            );

            // The audit log reads newest first, in pages.
            for action in ["hold", "release", "approve"] {
                st.audit(&AuditEntry {
                    id: 0,
                    at: "2026-12-01T10:00:00Z".into(),
                    actor: "ana".into(),
                    action: action.into(),
                    subject: "2026-12-01".into(),
                    detail: String::new(),
                    client: "127.0.0.1".into(),
                })
                .await
                .unwrap();
            }
            let log = st.audit_log(2, None, None).await.unwrap();
            let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(actions, ["approve", "release"], "{engine}");
            let older = st
                .audit_log(10, Some(log[1].id), Some("2026-12-01"))
                .await
                .unwrap();
            assert_eq!(older.len(), 1, "{engine}");
            assert_eq!(older[0].action, "hold");
        });
    }
}
