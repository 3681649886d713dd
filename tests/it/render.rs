//! Snapshots of one rendered issue (headers, text, HTML), so a template change
//! is reviewed as a diff; and the spliced message against a lettre-built one.

use std::time::{Duration, UNIX_EPOCH};

use tipsheet::config::Config;
use tipsheet::content::issue;
use tipsheet::content::{self, ExcerptRule, SectionKind};
use tipsheet::mail::prepared::{Prepared, Recipient};
use tipsheet::mail::token::Signer;

use crate::common::{parse, repo};

/// Runs `f` with the shipped config and issue #1 of the shipped content.
fn with_issue<T>(f: impl FnOnce(&Config, &issue::Issue<'_>) -> T) -> T {
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
    f(&config, &issue)
}

fn prepared(test: bool) -> Prepared {
    with_issue(|config, issue| {
        Prepared::new(
            config,
            issue,
            Signer::new(b"snapshot-secret"),
            UNIX_EPOCH + Duration::from_secs(1_796_000_000),
            test,
        )
        .unwrap()
    })
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
}

/// A small deterministic generator, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn name(&mut self) -> String {
        const POOL: &[&str] = &[
            "a", "Z", "o", " ", " ", "'", "\"", "<", ">", "&", "é", "ü", "中", "文", "😀", "-",
            ".", ",", "(", ")", "Ø", "ß", "=?", "?=", "\u{a0}", "%", ";", ":", "@",
        ];
        let len = 1 + self.next() % 24;
        let mut s: String = (0..len)
            .map(|_| POOL[(self.next() % POOL.len() as u64) as usize])
            .collect();
        s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        s
    }
}

#[test]
fn spliced_messages_match_lettre_built_ones() {
    with_issue(spliced_matches_lettre);
}

fn spliced_matches_lettre(config: &Config, issue: &issue::Issue<'_>) {
    use lettre::message::{Mailbox, MultiPart, SinglePart, header};
    let signer = Signer::new(b"k");
    let p = Prepared::new(config, issue, signer.clone(), UNIX_EPOCH, false).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let address: lettre::Address = "reader@example.com".parse().unwrap();
    for round in 0..150 {
        let name = if round == 0 {
            String::new()
        } else {
            rng.name()
        };
        let spliced = parse(&p.message(&Recipient {
            email: &address,
            key: "reader@example.com",
            name: &name,
        }));
        let view = tipsheet::mail::view::personal_view(
            config,
            issue,
            &signer,
            &name,
            "reader@example.com",
            "reader@example.com",
        );
        let built = lettre::Message::builder()
            .from(config.newsletter.from.parse().unwrap())
            .to(Mailbox::new(
                (!name.is_empty()).then(|| name.clone()),
                address.clone(),
            ))
            .subject(p.subject.clone())
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(header::ContentType::TEXT_PLAIN)
                            .body(view.text().unwrap()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(header::ContentType::TEXT_HTML)
                            .body(view.html().unwrap()),
                    ),
            )
            .unwrap();
        let lettre_built = parse(&built.formatted());
        assert_eq!(spliced.to, lettre_built.to, "name {name:?}");
        let display = |raw: &[u8]| {
            mail_parser::MessageParser::default()
                .parse(raw)
                .unwrap()
                .to()
                .unwrap()
                .first()
                .unwrap()
                .name()
                .map(str::to_string)
        };
        assert_eq!(
            display(spliced.raw.as_bytes()),
            display(lettre_built.raw.as_bytes()),
            "display name for {name:?}"
        );
        assert_eq!(spliced.subject, lettre_built.subject);
        assert_eq!(
            spliced.text.replace("\r\n", "\n"),
            lettre_built.text.replace("\r\n", "\n"),
            "text for {name:?}"
        );
        let (a, b) = (
            spliced.html.replace("\r\n", "\n"),
            lettre_built.html.replace("\r\n", "\n"),
        );
        if a != b {
            let at = a
                .bytes()
                .zip(b.bytes())
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            let from = at.saturating_sub(80);
            panic!(
                "html for {name:?} differs at {at}:\nspliced: {:?}\nlettre:  {:?}",
                a.get(from..(at + 80).min(a.len())),
                b.get(from..(at + 80).min(b.len()))
            );
        }
        assert_eq!(spliced.content_type, "multipart/alternative");
    }
}

#[test]
fn salaries_pair_up_in_both_parts_and_the_stacking_rule_survives_inlining() {
    let p = prepared(false);
    let address: lettre::Address = "zoe@example.com".parse().unwrap();
    let m = parse(&p.message(&Recipient {
        email: &address,
        key: "zoe@example.com",
        name: "Zoë",
    }));
    // HTML: one row of two cells per comparison, and below 480 px a rule
    // (kept in <style> after css-inline) that stacks them.
    let html = m.html.replace("\r\n", "\n");
    assert_eq!(html.matches("<table class=\"salaries\"").count(), 3);
    assert_eq!(
        html.matches("<td class=\"salary\" style=\"width: 50%;")
            .count(),
        6
    );
    let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
    let narrow = &style[style
        .find("@media only screen and (max-width: 480px)")
        .expect(style)..];
    assert!(
        narrow.contains(".salary { display: block !important; width: auto !important; }"),
        "{style}"
    );
    // Text: both salaries of a pair start in the same column.
    let text = m.text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    for pair in [
        "Associate Producer:",
        "Data Analyst:",
        "Executive Assistant:",
    ] {
        let at = lines
            .iter()
            .position(|l| l.trim_start().starts_with(pair))
            .unwrap();
        let column = |l: &str| {
            let label_end = l.find(':').unwrap() + 1;
            label_end + l[label_end..].len() - l[label_end..].trim_start().len()
        };
        assert_eq!(
            column(lines[at]),
            column(lines[at + 1]),
            "{}\n{}",
            lines[at],
            lines[at + 1]
        );
    }
}
