//! `cargo bench`: the per-message and per-batch costs that bound throughput.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use divan::Bencher;
use tipsheet::config::Config;
use tipsheet::content::issue::{self, Selection};
use tipsheet::content::{self, ExcerptRule, SectionKind};
use tipsheet::list::SubscriberReader;
use tipsheet::mail::render::{Prepared, Recipient};
use tipsheet::mail::token::Signer;
use tipsheet::store::{Ledger, Outcome, RecipientStatus};

fn main() {
    divan::main();
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn prepared() -> Prepared {
    let config = Config::load(&repo().join("config.toml")).expect("config");
    let (library, _) = content::load(
        &repo().join("content"),
        ExcerptRule {
            section: SectionKind::Duties,
            words: 60,
        },
    );
    let schedule = config.schedule().expect("schedule");
    let slot = schedule
        .slot_on(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"))
        .expect("slot");
    let sel = issue::select(&library, &[], slot.number, 3).expect("select");
    let issue = issue::assemble(&library, slot, sel).expect("assemble");
    Prepared::new(
        &config,
        &issue,
        Signer::new(b"bench"),
        UNIX_EPOCH + Duration::from_secs(1_796_000_000),
        false,
    )
    .expect("prepare")
}

/// Building one personalized, complete MIME message from the prepared issue.
#[divan::bench]
fn personalized_message(bencher: Bencher) {
    let p = prepared();
    let address: lettre::Address = "zoe.martinez@example.com".parse().expect("address");
    bencher.bench_local(|| {
        p.message(&Recipient {
            email: &address,
            key: "zoe.martinez@example.com",
            name: "Zoë Martínez",
        })
    });
}

/// Preparing the issue: templates, CSS inlining, encoding (once per issue).
#[divan::bench(sample_count = 20)]
fn prepare_issue() -> Prepared {
    prepared()
}

/// One ledger group commit: 256 outcomes and 256 new in-flight marks.
#[divan::bench(sample_count = 30)]
fn ledger_commit_batch(bencher: Bencher) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite3")).expect("ledger");
    let sel = Selection {
        comparisons: vec!["a".into()],
        tip: "t".into(),
    };
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    ledger.assemble(day, 1, &sel).expect("assemble");
    let keys: Vec<String> = (0..100_000)
        .map(|i| format!("user{i:06}@example.com"))
        .collect();
    ledger
        .freeze(
            day,
            keys.iter()
                .map(|k| Ok::<_, ()>((k.clone(), k.clone(), String::new()))),
        )
        .expect("freeze")
        .expect("the list");
    let mut round = 0usize;
    bencher.bench_local(|| {
        let start = (round * 512) % 99_000;
        round += 1;
        let marks: Vec<&str> = keys[start + 256..start + 512]
            .iter()
            .map(String::as_str)
            .collect();
        let outcomes: Vec<Outcome> = keys[start..start + 256]
            .iter()
            .map(|k| Outcome {
                key: k.clone(),
                status: RecipientStatus::Sent,
                attempts: 1,
                code: Some(250),
                reply: Some("2.0.0 queued".into()),
                message_id: Some("<x@example.com>".into()),
            })
            .collect();
        ledger.commit(day, &marks, &outcomes).expect("commit");
    });
}

/// Streaming 100,000 CSV rows through validation.
#[divan::bench(sample_count = 10)]
fn load_100k_rows(bencher: Bencher) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("subscribers.csv");
    let mut csv = String::from("email,name,subscribed_at\n");
    for i in 0..100_000 {
        csv.push_str(&format!("user{i:06}@example.com,Reader {i},2026-01-01\n"));
    }
    std::fs::write(&path, csv).expect("write");
    bencher.bench_local(|| {
        SubscriberReader::open(&path)
            .expect("open")
            .filter(Result::is_ok)
            .count()
    });
}
