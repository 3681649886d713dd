//! Property tests for every parser: none panics on arbitrary input, every
//! problem it reports points inside the file, and each reads back what
//! tipsheet writes (or what a person would write by the documented rules).

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use chrono::{Datelike, TimeZone, Utc};
use proptest::prelude::*;
use tipsheet::config::Config;
use tipsheet::content::{
    self, ComparisonMeta, ExcerptRule, Per, Role, Salary, SectionKind, TipMeta,
};
use tipsheet::diagnostic::Diagnostic;
use tipsheet::list::{self, MAX_NAME_CHARS, SubscriberReader, Suppression, SuppressionReason};
use tipsheet::schedule::{self, Schedule};

const RULE: ExcerptRule = ExcerptRule {
    section: SectionKind::Duties,
    words: 60,
};

/// `cases` per property (modest, so `cargo test` stays fast); set
/// `PROPTEST_CASES` for a deeper run.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Generators.

/// Text assembled from pieces that matter to the parser at hand, mixed with
/// arbitrary characters, so cases reach past the first check.
fn soup(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(pieces).prop_map(str::to_string),
            1 => any::<char>().prop_map(String::from),
            1 => prop::sample::select(BREAKERS).prop_map(String::from),
        ],
        0..max,
    )
    .prop_map(|v| v.concat())
}

/// Characters that break lines, headers or parsers.
const BREAKERS: &[char] = &[
    '\r', '\n', '\0', '\u{2028}', '\u{2029}', '\u{85}', '\u{feff}', '"', '\'', '\\', '`', '<', '>',
    '&', '%', '{', '}', '#', '=', ',', '.', '?', '!', ' ', '\t',
];

const FRONT_PIECES: &[&str] = &[
    "+++\n",
    "+++",
    "+++\r\n",
    "\n",
    "title = ",
    "slug = ",
    "url = ",
    "published = ",
    "\"UX Designer vs. UI Designer\"",
    "\"ux-designer-vs-ui-designer\"",
    "\"https://example.com/a\"",
    "\"2026-01-01\"",
    "[[roles]]\n",
    "name = \"Producer\"\n",
    "salary = { min = ",
    "99999999999999999999",
    "18446744073709551615",
    "-1",
    "0",
    "50000",
    ", max = ",
    ", currency = \"USD\"",
    ", per = \"hour\"",
    " }\n",
    "title = \"dup\"\ntitle = \"dup\"\n",
    "\"\"\"",
    "'''",
    "## Job Duties\n",
    "## What is a Producer?\n",
    "# Salary\n",
    "Producers plan shows. ",
    "e.g. ",
    "- item\n",
    "<b>",
    "</b>",
    "`code`",
    "**",
    "[link](https://x)",
];

const CSV_PIECES: &[&str] = &[
    "email",
    "name",
    "subscribed_at",
    "reason",
    "at",
    ",",
    "\"",
    "\"\"",
    "\n",
    "\r\n",
    "\r",
    "\u{feff}",
    " ",
    "ana@example.com",
    "Bob@Example.COM",
    "bad@@example.com",
    "@",
    "\"a b\"@example.com",
    "用户@例子.广告",
    "2026-09-14",
    "2026-09-14T10:22:00Z",
    "not-a-date",
    "resubscribed",
    "unsubscribed",
    "Zoë",
];

const CRON_PIECES: &[&str] = &[
    "0",
    "9",
    "59",
    "60",
    "7",
    "8",
    "31",
    "32",
    "12",
    "13",
    "*",
    "*/2",
    "/",
    "-",
    ",",
    " ",
    "  ",
    "\t",
    "TUE",
    "sun",
    "Mon",
    "JAN",
    "dec",
    "FOO",
    "@daily",
    "@weekly",
    "@hourly",
    "@reboot",
    "4294967295",
    "4294967296",
    "1-5",
    "5-1",
    "MON-SUN",
    "0-7/3",
    "?",
    "L",
    "W",
    "#",
];

const CONFIG_PIECES: &[&str] = &[
    "[newsletter]\n",
    "[schedule]\n",
    "[delivery]\n",
    "[smtp]\n",
    "[unsubscribe]\n",
    "[dkim]\n",
    "name = ",
    "from = ",
    "base_url = ",
    "list_id = ",
    "cron = ",
    "timezone = ",
    "anchor = ",
    "every_weeks = ",
    "concurrency = ",
    "grace = ",
    "transport = ",
    "tls = ",
    "\"Career Tips\"",
    "\"Tips <tips@example.com>\"",
    "\"https://news.example.com\"",
    "\"0 9 * * TUE\"",
    "\"America/New_York\"",
    "\"2026-12-01\"",
    "\"smtp\"",
    "\"none\"",
    "2",
    "99999999999999999999",
    "-1",
    "\n",
    "=",
    "\"",
    "[",
    "]",
];

/// The shipped config.toml.
fn shipped_config() -> String {
    std::fs::read_to_string(crate::common::repo().join("config.toml")).unwrap()
}

/// A line without control characters or Unicode line breaks, not blank.
fn one_line() -> impl Strategy<Value = String> {
    "[^\\p{Cc}\u{2028}\u{2029}]{1,40}".prop_filter("not blank", |s| !s.trim().is_empty())
}

fn slug() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,4}"
}

fn salary() -> impl Strategy<Value = Salary> {
    (
        1u64..=u64::MAX,
        prop::sample::select(&["USD", "EUR", "GBP", "CHF", "JPY"][..]),
        prop::sample::select(&[Per::Year, Per::Month, Per::Week, Per::Day, Per::Hour][..]),
    )
        .prop_flat_map(|(min, currency, per)| {
            (min..=u64::MAX).prop_map(move |max| Salary {
                min,
                max,
                currency: currency.to_string(),
                per,
            })
        })
}

fn meta() -> impl Strategy<Value = ComparisonMeta> {
    (
        one_line(),
        slug(),
        prop::option::of("https?://[a-z]{1,10}\\.example\\.com/[a-z0-9/-]{0,20}"),
        prop::option::of((2000i32..2100, 1u32..=12, 1u32..=28)),
        [
            (one_line(), prop::option::of(salary())),
            (one_line(), prop::option::of(salary())),
        ],
    )
        .prop_map(|(title, slug, url, published, roles)| ComparisonMeta {
            title,
            slug,
            url,
            published: published.map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
            roles: roles
                .into_iter()
                .map(|(name, salary)| Role { name, salary })
                .collect(),
        })
}

/// A valid address (as lettre reads one): plain, with sub-addresses and
/// punctuation, mixed case, or on an internationalized domain.
fn email() -> impl Strategy<Value = String> {
    let local = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,12}(\\.[A-Za-z0-9+_-]{1,8}){0,2}";
    let domain = prop_oneof![
        "[a-z0-9]{1,12}(-[a-z0-9]{1,6})?\\.(com|org|example|co\\.uk)",
        prop::sample::select(&["例子.广告", "bücher.example", "почта.рф"][..])
            .prop_map(String::from),
    ];
    (local, domain)
        .prop_map(|(l, d)| format!("{l}@{d}"))
        .prop_filter("lettre accepts it", |e| {
            e.parse::<lettre::Address>().is_ok()
        })
}

/// Names as a cleaned list holds them: one line, single spaces, trimmed.
fn clean_name() -> impl Strategy<Value = String> {
    "[^\\p{Cc}\u{2028}\u{2029}\\s]{1,12}( [^\\p{Cc}\u{2028}\u{2029}\\s]{1,12}){0,3}"
}

fn is_breaking(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// Every diagnostic points at a line of the file (or at the whole file).
fn inside(diags: &[Diagnostic], text: &str) -> Result<(), TestCaseError> {
    let last = text.split('\n').count() + 1;
    for d in diags {
        prop_assert!(d.line <= last, "{d} (the text has {last} lines)\n{text:?}");
        prop_assert!(!d.message.trim().is_empty(), "{d:?}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Front matter, comparisons, tips.

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn content_files_never_panic_and_point_inside_the_file(text in soup(FRONT_PIECES, 60)) {
        match content::split_front_matter(&text) {
            Ok(s) => {
                prop_assert_eq!(s.front_line, 2);
                prop_assert!(s.body_line >= 3);
                prop_assert!(text.ends_with(s.body));
            }
            Err((line, message)) => {
                prop_assert_eq!(line, 1);
                prop_assert!(message.contains("did you forget `+++`?"), "{}", message);
            }
        }
        let mut diags = Vec::new();
        let comparison = content::parse_comparison(Path::new("c.md"), &text, RULE, &mut diags);
        if comparison.is_none() {
            prop_assert!(diags.iter().any(Diagnostic::is_error), "{:?}", diags);
        }
        inside(&diags, &text)?;
        let mut diags = Vec::new();
        let tip = content::parse_tip(Path::new("t.md"), &text, &mut diags);
        prop_assert_eq!(tip.is_none(), diags.iter().any(Diagnostic::is_error), "{:?}", diags);
        inside(&diags, &text)?;
    }

    #[test]
    fn arbitrary_strings_never_panic_the_content_parsers(text in any::<String>()) {
        let mut diags = Vec::new();
        let _ = content::parse_comparison(Path::new("c.md"), &text, RULE, &mut diags);
        let _ = content::parse_tip(Path::new("t.md"), &text, &mut diags);
        let wrapped = format!("+++\n{text}\n+++\n{text}");
        let _ = content::parse_comparison(Path::new("c.md"), &wrapped, RULE, &mut diags);
        let _ = content::parse_tip(Path::new("t.md"), &wrapped, &mut diags);
        inside(&diags, &wrapped)?;
    }

    #[test]
    fn front_matter_splits_back_into_what_was_joined(
        front in prop::collection::vec("[^\n]{0,30}", 0..6)
            .prop_filter("no closing line inside", |ls| ls.iter().all(|l| l.trim_end() != "+++")),
        body in any::<String>(),
        bom in any::<bool>(),
    ) {
        let front_text: String = front.iter().map(|l| format!("{l}\n")).collect();
        let text = format!("{}+++\n{front_text}+++\n{body}", if bom { "\u{feff}" } else { "" });
        let split = content::split_front_matter(&text).unwrap();
        prop_assert_eq!(split.front, front_text.as_str());
        prop_assert_eq!(split.body, body.as_str());
        prop_assert_eq!(split.body_line, front.len() + 3);
    }

    #[test]
    fn comparison_meta_serialized_with_toml_parses_back(meta in meta()) {
        let front = toml::to_string(&meta).unwrap();
        prop_assert_eq!(&toml::from_str::<ComparisonMeta>(&front).unwrap(), &meta);
        // And through the real loader, as a file.
        let text = format!(
            "+++\n{front}+++\n\n## Job Duties\n\nThey plan the work. They run the day.\n"
        );
        let mut diags = Vec::new();
        let c = content::parse_comparison(Path::new("c.md"), &text, RULE, &mut diags);
        prop_assert!(diags.iter().all(|d| !d.is_error()), "{:?}\n{}", diags, text);
        let c = c.unwrap();
        prop_assert_eq!(&c.meta, &meta);
        prop_assert_eq!(c.excerpt.text.as_str(), "They plan the work. They run the day.");
        let tip = TipMeta { title: meta.title.clone(), published: meta.published.clone() };
        let text = format!("+++\n{}+++\nKeep a brag file.\n", toml::to_string(&tip).unwrap());
        let t = content::parse_tip(Path::new("brag-file.md"), &text, &mut diags).unwrap();
        prop_assert_eq!(t.meta, tip);
        prop_assert_eq!(t.slug, "brag-file");
    }

    #[test]
    fn salaries_beyond_u64_are_refused_at_their_line(
        min in (u128::from(u64::MAX) + 1)..=u128::MAX,
    ) {
        let text = format!(
            "+++\ntitle = \"A vs. B\"\nslug = \"a-vs-b\"\n[[roles]]\nname = \"A\"\nsalary = {{ min = {min}, max = {min} }}\n[[roles]]\nname = \"B\"\n+++\n## Job Duties\n\nThey work.\n"
        );
        let mut diags = Vec::new();
        prop_assert!(content::parse_comparison(Path::new("c.md"), &text, RULE, &mut diags).is_none());
        prop_assert!(diags.iter().any(|d| d.is_error() && d.line == 6), "{:?}", diags);
    }
}

// ---------------------------------------------------------------------------
// Sections and excerpts.

const HEADINGS: &[(&str, SectionKind)] = &[
    ("What is an Associate Producer?", SectionKind::WhatIs(0)),
    ("What is a Producer?", SectionKind::WhatIs(1)),
    ("Job Duties", SectionKind::Duties),
    ("Job Requirements", SectionKind::Requirements),
    ("Work Environment", SectionKind::Environment),
    ("Skills", SectionKind::Skills),
    ("Salary", SectionKind::Salary),
    ("Conclusion", SectionKind::Other),
];
const ROLES: &[&str] = &["Associate Producer", "Producer"];

/// A sentence whose last word is no initial or abbreviation ("J.", "etc.").
fn sentence() -> impl Strategy<Value = String> {
    (prop::collection::vec("[A-Za-z]{1,9}", 0..11), "[a-z]{2,6}").prop_map(|(mut w, last)| {
        w.push(format!("{last}ly."));
        w.join(" ")
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn sections_and_excerpts_never_panic(
        md in prop_oneof![soup(FRONT_PIECES, 80), any::<String>()],
        words in 0usize..600,
        body_line in 1usize..50,
    ) {
        let last = body_line + md.split('\n').count();
        for s in content::sections(&md, body_line, ROLES) {
            prop_assert!(s.line >= body_line && s.line <= last, "{:?}", s);
        }
        if let Some(e) = content::excerpt(&md, words) {
            prop_assert!(!e.text.is_empty());
            prop_assert_eq!(e.words, e.text.split_whitespace().count());
            if words > 0 {
                prop_assert!(e.words <= words, "{} > {}: {:?}", e.words, words, e.text);
            }
        }
        let _ = content::markdown_to_html(&md);
        let _ = content::markdown_to_text(&md);
    }

    #[test]
    fn sections_come_back_in_order_with_their_kind_and_line(
        parts in prop::collection::vec(
            (prop::sample::select(HEADINGS), any::<bool>(), prop::collection::vec(sentence(), 1..4)),
            0..8,
        ),
        body_line in 1usize..50,
    ) {
        let mut body = String::from("An intro.\n\n");
        let mut want = Vec::new();
        for ((heading, kind), h1, paragraph) in &parts {
            let line = body_line + body.matches('\n').count();
            body.push_str(&format!("{} {heading}\n\n{}\n\n", if *h1 { "#" } else { "##" }, paragraph.join(" ")));
            want.push((heading.to_string(), *kind, line, paragraph.join(" ")));
        }
        let got = content::sections(&body, body_line, ROLES);
        prop_assert_eq!(got.len(), want.len());
        for (s, (heading, kind, line, paragraph)) in got.iter().zip(&want) {
            prop_assert_eq!(&s.heading, heading);
            prop_assert_eq!(s.kind, *kind);
            prop_assert_eq!(s.line, *line);
            prop_assert_eq!(s.markdown.trim(), paragraph.as_str());
        }
    }

    #[test]
    fn excerpts_cut_at_a_sentence_end_within_the_limit(
        sentences in prop::collection::vec(sentence(), 1..12),
        max in 1usize..80,
    ) {
        let paragraph = sentences.join(" ");
        let e = content::excerpt(&paragraph, max).unwrap();
        let total = paragraph.split_whitespace().count();
        prop_assert!(e.words <= max);
        if total <= max {
            prop_assert_eq!(&e.text, &paragraph);
        } else if sentences[0].split_whitespace().count() <= max {
            // Whole sentences: the longest run of them that fits.
            let mut fits = String::new();
            for s in &sentences {
                let next = if fits.is_empty() { s.clone() } else { format!("{fits} {s}") };
                if next.split_whitespace().count() > max {
                    break;
                }
                fits = next;
            }
            prop_assert_eq!(&e.text, &fits);
        } else {
            // A first sentence longer than the limit is cut at the limit.
            prop_assert!(e.text.ends_with('…'), "{}", e.text);
            let cut = e.text.trim_end_matches('…');
            prop_assert!(paragraph.starts_with(cut), "{}", cut);
            prop_assert_eq!(e.words, max);
        }
        prop_assert!(!e.html.contains("<p>"), "{}", e.html);
    }
}

#[test]
fn a_wide_space_before_a_sentence_end_is_not_a_panic() {
    // `sentence_ends` once stepped one byte past a non-breaking space (two
    // bytes) or U+2029 (three) and sliced inside it.
    for space in ["\u{a0}", "\u{2029}", "\u{3000}"] {
        let paragraph = format!("One two{space}three. Four five six. Seven eight nine ten.");
        let e = content::excerpt(&paragraph, 4).unwrap();
        assert_eq!(e.text, "One two three.");
    }
}

// ---------------------------------------------------------------------------
// Subscriber and suppression CSV.

/// Bytes that are not UTF-8 (a UTF-16 BOM, a cut-off sequence) and a NUL.
const INVALID_UTF8: &[&[u8]] = &[b"\xff\xfe", b"\xc3", b"\xe2\x80", b"\x00"];

fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(CSV_PIECES).prop_map(|p| p.as_bytes().to_vec()),
            1 => any::<u8>().prop_map(|b| vec![b]),
            1 => prop::sample::select(INVALID_UTF8).prop_map(<[u8]>::to_vec),
        ],
        0..80,
    )
    .prop_map(|v| v.concat())
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 14, 10, 22, 0).unwrap()
}

/// Reads every row: (good rows, bad rows); the reader's end state is checked.
fn read_rows(path: &Path) -> (Vec<list::Subscriber>, Vec<list::RowProblem>) {
    let mut reader = SubscriberReader::open(path).unwrap();
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for row in reader.by_ref() {
        match row {
            Ok(s) => good.push(s),
            Err(p) => bad.push(p),
        }
    }
    reader.finish().unwrap();
    (good, bad)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn csv_files_never_panic_and_rows_point_inside_the_file(bytes in csv_bytes()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(&path, &bytes).unwrap();
        let last = bytes.split(|b| *b == b'\n').count() as u64;
        if let Ok(mut reader) = SubscriberReader::open(&path) {
            for row in reader.by_ref() {
                match row {
                    Ok(s) => {
                        prop_assert!(s.line >= 2 && s.line <= last, "{:?} of {}", s, last);
                        prop_assert!(!s.name.chars().any(is_breaking), "{:?}", s.name);
                        prop_assert!(s.name.chars().count() <= MAX_NAME_CHARS);
                        prop_assert_eq!(&s.key, &s.key.trim().to_lowercase());
                    }
                    Err(p) => {
                        prop_assert!(p.line >= 1 && p.line <= last, "{} of {}", p, last);
                        prop_assert!(!p.message.contains('\n'), "{}", p);
                    }
                }
            }
            let _ = reader.finish();
        }
        if let Ok((_, problems)) = Suppression::load(&path) {
            for p in problems {
                prop_assert!(p.line >= 1 && p.line <= last, "{} of {}", p, last);
            }
        }
        let _ = list::load_list(&path, &Suppression::default());
    }

    #[test]
    fn appended_subscribers_read_back(
        existing in prop::sample::select(&[
            "",
            "email,name,subscribed_at\n",
            "\u{feff}email,name,subscribed_at\r\nold@example.com,Old,2026-01-01\r\n",
            "name,subscribed_at,email,extra\nOld,,old@example.com,x",
            "Email , NAME\n\n",
        ][..]),
        rows in prop::collection::vec((email(), prop_oneof![clean_name().prop_map(Some), Just(None)], any::<String>()), 1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscribers.csv");
        if !existing.is_empty() {
            std::fs::write(&path, existing).unwrap();
        }
        let (before, _) = if path.exists() { read_rows(&path) } else { (Vec::new(), Vec::new()) };
        for (email, clean, raw) in &rows {
            let name = clean.as_deref().unwrap_or(raw);
            list::append_subscriber(&path, &format!(" {email} "), name, at()).unwrap();
        }
        let (got, bad) = read_rows(&path);
        prop_assert!(bad.is_empty(), "{:?}\n{}", bad, String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        prop_assert_eq!(got.len(), before.len() + rows.len());
        for (s, (email, clean, raw)) in got[before.len()..].iter().zip(&rows) {
            prop_assert_eq!(s.email.to_string(), email.clone());
            prop_assert_eq!(&s.key, &email.to_lowercase());
            if existing.is_empty() || existing.contains("subscribed_at") {
                prop_assert_eq!(s.subscribed_at.map(|t| t.timestamp()), Some(at().timestamp()));
            }
            match clean {
                Some(c) => prop_assert_eq!(&s.name, c),
                None => {
                    // Cleaned: one line, capped, trimmed; and clean stays clean.
                    prop_assert!(!s.name.chars().any(is_breaking), "{:?} from {:?}", s.name, raw);
                    prop_assert!(s.name.chars().count() <= MAX_NAME_CHARS);
                    prop_assert_eq!(s.name.trim(), s.name.as_str());
                    let again = dir.path().join("again.csv");
                    list::append_subscriber(&again, email, &s.name, at()).unwrap();
                    prop_assert_eq!(&read_rows(&again).0[0].name, &s.name);
                    std::fs::remove_file(&again).unwrap();
                }
            }
        }
    }

    #[test]
    fn appended_suppressions_load_back_and_the_last_word_wins(
        existing in prop::sample::select(&[
            "",
            "email,reason,at\n",
            "\u{feff}email,reason,at\r\nold@example.com,unsubscribed,2026-01-01T00:00:00Z",
            "at,email,reason\n",
        ][..]),
        events in prop::collection::vec((0usize..4, any::<bool>(), any::<String>()), 1..12),
        emails in prop::collection::vec(email(), 4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suppressed.csv");
        if !existing.is_empty() {
            std::fs::write(&path, existing).unwrap();
        }
        let mut want: HashMap<String, bool> = HashMap::new();
        for (who, resubscribe, reason) in &events {
            let email = &emails[*who];
            let reason = if *resubscribe { SuppressionReason::Resubscribed.to_string() } else { format!("bounced: {reason}") };
            list::append_suppression(&path, email, &reason, at()).unwrap();
            want.insert(list::normalize(email), !*resubscribe);
        }
        let (set, problems) = Suppression::load(&path).unwrap();
        prop_assert!(problems.is_empty(), "{:?}", problems);
        for (key, suppressed) in &want {
            prop_assert_eq!(set.contains(key), *suppressed, "{}", key);
        }
        if !want.contains_key("old@example.com") {
            prop_assert_eq!(set.contains("old@example.com"), existing.contains("old@"));
        }
    }
}

// ---------------------------------------------------------------------------
// Crontab and schedule.

const DAY_NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// One list item of a field from `lo..=hi` (where `*` stands for
/// `lo..=star_hi`), and the values it stands for.
fn item(
    lo: u32,
    hi: u32,
    star_hi: u32,
    names: &'static [&'static str],
) -> impl Strategy<Value = (String, Vec<u32>)> {
    let name = move |v: u32, lower: bool| {
        let n = names.get((v - lo) as usize).copied().unwrap_or("");
        if n.is_empty() {
            v.to_string()
        } else if lower {
            n.to_lowercase()
        } else {
            n.to_string()
        }
    };
    prop_oneof![
        (lo..=hi, any::<bool>(), any::<bool>()).prop_map(move |(v, named, lower)| {
            (if named { name(v, lower) } else { v.to_string() }, vec![v])
        }),
        (lo..=hi, lo..=hi, 1u32..4).prop_map(move |(a, b, step)| {
            let (a, b) = (a.min(b), a.max(b));
            let text = if step == 1 {
                format!("{a}-{b}")
            } else {
                format!("{a}-{b}/{step}")
            };
            (text, (a..=b).step_by(step as usize).collect())
        }),
        (1u32..4).prop_map(move |step| {
            (
                format!("*/{step}"),
                (lo..=star_hi).step_by(step as usize).collect(),
            )
        }),
    ]
}

fn field(
    lo: u32,
    hi: u32,
    star_hi: u32,
    names: &'static [&'static str],
) -> impl Strategy<Value = (String, Vec<u32>)> {
    prop::collection::vec(item(lo, hi, star_hi, names), 1..4).prop_map(|items| {
        let text = items
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let mut values: Vec<u32> = items.into_iter().flat_map(|(_, v)| v).collect();
        values.sort_unstable();
        values.dedup();
        (text, values)
    })
}

/// A crontab(5) line tipsheet accepts, with the minute, hour, days of month,
/// months and days of week (0 = Sunday) it means.
#[derive(Debug, Clone)]
struct Crontab {
    text: String,
    minute: u32,
    hour: u32,
    days_of_month: Vec<u32>,
    months: Vec<u32>,
    days_of_week: Vec<u32>,
}

fn crontab() -> impl Strategy<Value = Crontab> {
    let star = |lo: u32, hi: u32| Just(("*".to_string(), (lo..=hi).collect::<Vec<u32>>()));
    (
        0u32..60,
        0u32..24,
        prop_oneof![
            // Days of month, any weekday.
            (field(1, 28, 31, &[]), star(0, 6)),
            // Days of week (7 is Sunday too), any day of month.
            (star(1, 31), field(0, 7, 6, &DAY_NAMES[..7])),
            (star(1, 31), star(0, 6)),
        ],
        prop_oneof![star(1, 12), field(1, 12, 12, &MONTH_NAMES)],
    )
        .prop_map(
            |(minute, hour, ((dom, doms), (dow, dows)), (month, months))| {
                let mut days_of_week: Vec<u32> = dows.into_iter().map(|d| d % 7).collect();
                days_of_week.sort_unstable();
                days_of_week.dedup();
                Crontab {
                    text: format!("{minute} {hour} {dom} {month} {dow}"),
                    minute,
                    hour,
                    days_of_month: doms,
                    months,
                    days_of_week,
                }
            },
        )
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn crontab_and_schedule_never_panic(
        cron in prop_oneof![soup(CRON_PIECES, 16), any::<String>()],
        timezone in prop_oneof![
            prop::sample::select(&["UTC", "America/New_York", "Mars/Olympus", "", " utc "][..]).prop_map(String::from),
            any::<String>(),
        ],
        every_weeks in prop_oneof![0u32..60, any::<u32>()],
        anchor in prop_oneof![
            "[0-9]{4}-[0-9]{2}-[0-9]{2}",
            prop::sample::select(&["1969-12-31", "2099-12-31", "2100-01-01", "9999-12-31", "+10000-01-01", "2026-02-29"][..]).prop_map(String::from),
            any::<String>(),
        ],
        grace in prop_oneof![
            "[0-9]{0,25}[dhms]?[0-9]{0,5}[dhms]?",
            any::<String>(),
        ],
    ) {
        if let Err(e) = schedule::translate_crontab(&cron) {
            prop_assert!(e.to_string().starts_with("cron expression `"), "{}", e);
        }
        let _ = schedule::parse_duration(&grace);
        if let Ok(s) = Schedule::new(&cron, &timezone, every_weeks, &anchor, &grace) {
            let first = s.slots_from(Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap()).next();
            prop_assert_eq!(first.map(|f| f.number), Some(1));
        }
    }

    #[test]
    fn a_valid_crontab_translates_to_what_the_cron_crate_reads_the_same_way(
        c in crontab(),
        timezone in prop::sample::select(&["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata"][..]),
        every_weeks in 1u32..=4,
        after in 2000i32..2090,
    ) {
        let expression = schedule::translate_crontab(&c.text)
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let cron = cron::Schedule::from_str(&expression)
            .map_err(|e| TestCaseError::fail(format!("`{expression}`: {e}")))?;
        use cron::TimeUnitSpec;
        prop_assert!(cron.seconds().iter().eq([0]));
        prop_assert!(cron.minutes().iter().eq([c.minute]));
        prop_assert!(cron.hours().iter().eq([c.hour]));
        prop_assert!(cron.days_of_month().iter().eq(c.days_of_month.iter().copied()), "{}", expression);
        prop_assert!(cron.months().iter().eq(c.months.iter().copied()), "{}", expression);
        // The cron crate numbers days of the week from 1 = Sunday.
        prop_assert!(cron.days_of_week().iter().eq(c.days_of_week.iter().map(|d| d + 1)), "{}", expression);
        // Its first firing's date is a valid anchor: slot #1.
        let from = Utc.with_ymd_and_hms(after, 1, 1, 0, 0, 0).unwrap();
        let first = cron.after(&from).next().unwrap();
        let anchor = first.date_naive();
        let s = Schedule::new(&c.text, timezone, every_weeks, &anchor.to_string(), "6h")
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let slot = s.slot_on(anchor).unwrap();
        prop_assert_eq!(slot.number, 1);
        prop_assert_eq!(slot.date, anchor);
        prop_assert!(c.days_of_week.contains(&anchor.weekday().num_days_from_sunday()));
        prop_assert!(c.months.contains(&anchor.month()));
        // Later slots are in weeks a whole number of cycles away.
        let monday = |d: chrono::NaiveDate| d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday()));
        let slots: Vec<_> = s.slots_from(slot.utc).take(4).collect();
        for pair in slots.windows(2) {
            prop_assert_eq!(pair[1].number, pair[0].number + 1);
            prop_assert!(pair[1].utc > pair[0].utc);
            let days = (monday(pair[1].date) - monday(pair[0].date)).num_days();
            prop_assert_eq!(days % (7 * i64::from(every_weeks)), 0, "{:?}", pair);
        }
    }
}

// ---------------------------------------------------------------------------
// Config.

/// `s` as a TOML basic string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn check_config_error(text: &str, e: &tipsheet::config::ConfigError) -> Result<(), TestCaseError> {
    let message = e.to_string();
    let rest = message.strip_prefix("/srv/tips/config.toml:");
    prop_assert!(rest.is_some(), "{}", message);
    let line: usize = rest
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    prop_assert!(line <= text.split('\n').count() + 1, "{}", message);
    Ok(())
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn config_text_never_panics_and_errors_name_file_and_line(
        text in prop_oneof![soup(CONFIG_PIECES, 60), any::<String>()],
    ) {
        if let Err(e) = Config::from_str(&text, Path::new("/srv/tips/config.toml")) {
            check_config_error(&text, &e)?;
        }
    }

    #[test]
    fn the_shipped_config_with_one_line_changed_never_panics(
        at in any::<prop::sample::Index>(),
        line in prop_oneof![soup(CONFIG_PIECES, 8), "[a-z_]{1,20} = [0-9]{1,22}", any::<String>()],
    ) {
        let shipped = shipped_config();
        let mut lines: Vec<&str> = shipped.lines().collect();
        let i = at.index(lines.len());
        lines[i] = &line;
        let text = lines.join("\n");
        if let Err(e) = Config::from_str(&text, Path::new("/srv/tips/config.toml")) {
            check_config_error(&text, &e)?;
        }
    }

    #[test]
    fn config_values_read_back_or_are_refused_at_their_line(
        name in prop_oneof![
            one_line(),
            any::<String>(),
            (one_line(), prop::sample::select(BREAKERS), one_line()).prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        ],
        concurrency in 0usize..100,
        every_weeks in 0u32..60,
        excerpt_words in 0usize..600,
        port in any::<u16>(),
    ) {
        let text = shipped_config()
            .replacen("name = \"Career Tips\"", &format!("name = {}", quoted(&name)), 1)
            .replacen("concurrency = 4", &format!("concurrency = {concurrency}"), 1)
            .replacen("every_weeks = 2", &format!("every_weeks = {every_weeks}"), 1)
            .replacen("excerpt_words = 60", &format!("excerpt_words = {excerpt_words}"), 1)
            .replacen("port = 2525", &format!("port = {port}"), 1);
        let line_of = |needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
        let name_ok = !name.trim().is_empty() && !name.chars().any(is_breaking);
        match Config::from_str(&text, Path::new("/srv/tips/config.toml")) {
            Ok(c) => {
                prop_assert!(name_ok, "accepted a name that is not one line: {:?}", name);
                prop_assert_eq!(&c.newsletter.name, &name);
                prop_assert_eq!(c.delivery.concurrency, concurrency);
                prop_assert_eq!(c.schedule.every_weeks, every_weeks);
                prop_assert_eq!(c.content.excerpt_words, excerpt_words);
                prop_assert_eq!(c.smtp.port, port);
                prop_assert!((1..=64).contains(&concurrency));
                prop_assert!((1..=52).contains(&every_weeks));
                prop_assert!((10..=500).contains(&excerpt_words));
            }
            Err(e) => {
                check_config_error(&text, &e)?;
                let message = e.to_string();
                let want = if !name_ok {
                    ("newsletter.name", line_of("name = "))
                } else if !(1..=52).contains(&every_weeks) {
                    ("every_weeks", line_of("every_weeks = "))
                } else if !(10..=500).contains(&excerpt_words) {
                    ("content.excerpt_words", line_of("excerpt_words = "))
                } else {
                    ("delivery.concurrency", line_of("concurrency = "))
                };
                prop_assert!(
                    message.starts_with(&format!("/srv/tips/config.toml:{}: ", want.1)) && message.contains(want.0),
                    "want {:?}, got {}", want, message
                );
            }
        }
    }
}
