//! `cargo bench`: the per-message and per-batch costs that bound throughput.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use divan::Bencher;
use tipsheet::config::Config;
use tipsheet::content::issue::{self, Selection};
use tipsheet::content::{self, ExcerptRule, SectionKind};
use tipsheet::list::SubscriberReader;
use tipsheet::mail::prepared::{Prepared, Recipient};
use tipsheet::mail::token::Signer;
use tipsheet::store::{Outcome, RecipientStatus, Store, StoreSettings, StoreUrl};

fn main() {
    divan::main();
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn prepared() -> Prepared {
    prepared_with("")
}

/// The issue prepared under the shipped config plus `extra` TOML.
fn prepared_with(extra: &str) -> Prepared {
    let path = repo().join("config.toml");
    let text = std::fs::read_to_string(&path).expect("config") + extra;
    let config = Config::from_str(&text, &path).expect("config");
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

fn signed(selector: &str, key: &str, second: Option<&str>) -> Prepared {
    let settings = tipsheet::mail::dkim::DkimSettings {
        domain: "example.com".into(),
        selector: selector.into(),
        private_key_path: key.into(),
        second_selector: second.map(|_| "ed".into()),
        second_private_key_path: second.map(Into::into),
    };
    let dkim =
        tipsheet::mail::dkim::DkimSigner::load(&settings, &repo().join("tests/fixtures/dkim"))
            .expect("dkim key");
    prepared().with_dkim(Some(dkim))
}

fn bench_message(bencher: Bencher, p: &Prepared) {
    let address: lettre::Address = "zoe.martinez@example.com".parse().expect("address");
    bencher.bench_local(|| {
        p.message(&Recipient {
            email: &address,
            key: "zoe.martinez@example.com",
            name: "Zoë Martínez",
        })
    });
}

/// The same message, DKIM-signed with RSA-2048 (aws-lc-rs): the splice plus one signature.
#[divan::bench]
fn personalized_message_rsa2048(bencher: Bencher) {
    bench_message(bencher, &signed("rsa", "rsa.pem", None));
}

/// The same message, DKIM-signed with Ed25519.
#[divan::bench]
fn personalized_message_ed25519(bencher: Bencher) {
    bench_message(bencher, &signed("ed", "ed25519.pem", None));
}

/// The same message, dual-signed: RSA-2048 and Ed25519.
#[divan::bench]
fn personalized_message_rsa_and_ed25519(bencher: Bencher) {
    bench_message(bencher, &signed("rsa", "rsa.pem", Some("ed25519.pem")));
}

/// Preparing the issue: templates, CSS inlining, encoding (once per issue).
/// One recipient's message and envelope, as a worker builds them, without
/// and with VERP (`[bounces]`: a token per envelope and per mailto).
#[divan::bench(args = [false, true])]
fn message_and_envelope(bencher: Bencher, verp: bool) {
    let p = prepared_with(if verp {
        "\n[bounces]\naddress = \"bounces@example.com\"\n"
    } else {
        ""
    });
    let address: lettre::Address = "zoe.martinez@example.com".parse().expect("address");
    bencher.bench_local(|| {
        (
            p.message(&Recipient {
                email: &address,
                key: "zoe.martinez@example.com",
                name: "Zoë Martínez",
            }),
            p.envelope(&address),
        )
    });
}

#[divan::bench(sample_count = 20)]
fn prepare_issue() -> Prepared {
    prepared()
}

/// One ledger group commit: 256 outcomes and 256 new in-flight marks.
#[divan::bench(sample_count = 30)]
fn ledger_commit_batch(bencher: Bencher) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let settings = StoreSettings {
        url: StoreUrl::Sqlite(dir.path().join("l.sqlite3")),
        password: None,
        lease: Duration::from_secs(60),
        synchronous_commit: false,
        subscribers_path: dir.path().join("subscribers.csv"),
        suppressed_path: dir.path().join("suppressed.csv"),
        state_dir: dir.path().join("state"),
        keyer: None,
    };
    let ledger = rt.block_on(Store::open(&settings)).expect("ledger");
    let sel = Selection {
        comparisons: vec!["a".into()],
        tip: "t".into(),
    };
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    rt.block_on(ledger.assemble(day, 1, &sel))
        .expect("assemble");
    let keys: Vec<String> = (0..100_000)
        .map(|i| format!("user{i:06}@example.com"))
        .collect();
    rt.block_on(
        ledger.freeze(
            day,
            &mut keys
                .iter()
                .map(|k| Ok((k.clone(), k.clone(), String::new()))),
        ),
    )
    .expect("freeze");
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
                relay: None,
            })
            .collect();
        rt.block_on(ledger.commit(day, &marks, &outcomes))
            .expect("commit");
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
