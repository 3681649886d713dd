//! Snapshots of one rendered issue (headers, text, HTML), so a template change
//! is reviewed as a diff; and the spliced message against a lettre-built one.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use tipsheet::config::Config;
use tipsheet::content::{self, ExcerptRule, SectionKind};
use tipsheet::issue;
use tipsheet::render::{Prepared, Recipient};
use tipsheet::unsubscribe::Signer;

use crate::common::{parse, repo};

fn prepared(test: bool) -> Prepared {
    let config = Config::load(&repo().join("config.toml")).unwrap();
    let (library, _) = content::load(
        &repo().join("content"),
        ExcerptRule {
            section: SectionKind::Duties,
            words: 60,
        },
    );
    let schedule = config.schedule().unwrap();
    let slot = schedule
        .slot_on(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
        .unwrap();
    let sel = issue::select(&library, &[], slot.number, 3).unwrap();
    let issue = issue::assemble(&library, slot, sel).unwrap();
    // The issue borrows the library; render while both live.
    Prepared::new(
        &config,
        &issue,
        Signer::new(b"snapshot-secret"),
        UNIX_EPOCH + Duration::from_secs(1_796_000_000),
        test,
    )
    .unwrap()
}

#[test]
fn rendered_issue_snapshot() {
    let p = prepared(false);
    let address: lettre::Address = "zoe@example.com".parse().unwrap();
    let raw = p.message(&Recipient {
        email: &address,
        key: "zoe@example.com",
        name: "Zoë Martínez",
    });
    let m = parse(&raw);
    let head =
        String::from_utf8_lossy(&raw[..raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap()])
            .replace("\r\n", "\n");
    insta::assert_snapshot!("headers", head);
    insta::assert_snapshot!("text", m.text.replace("\r\n", "\n"));
    insta::assert_snapshot!("html", m.html.replace("\r\n", "\n"));
    let _ = Path::new(".");
}
