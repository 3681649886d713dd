//! The hostile-input corpus (`tests/fixtures/hostile/`, described in its
//! README): every case runs through `check`, `preview`, `send --dry-run` and
//! `send` (outbox). Each gets a clear `file:line` diagnostic or is handled
//! safely: nothing panics, and every message written is well formed.

use std::path::{Path, PathBuf};

use mail_parser::{MessageParser, MimeHeaders};

use crate::common::{Run, Site, repo};

/// The top-level headers an issue carries, and no others.
const HEADERS: &[&str] = &[
    "To",
    "Message-ID",
    "List-Unsubscribe",
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe-Post",
    "X-Tipsheet-Issue",
    "Feedback-ID",
    "Content-Type",
];

fn breaking(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// Asserts that `raw` is a well-formed issue message; returns (To name,
/// To address, subject, text part, HTML part) as a reader's client decodes them.
pub fn well_formed(raw: &[u8], what: &str) -> (String, String, String, String, String) {
    let shown = String::from_utf8_lossy(raw);
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{what}: no end of header\n{shown}"));
    let head = &raw[..end + 2];
    for (i, &b) in head.iter().enumerate() {
        assert!(b != 0, "{what}: NUL in the header\n{shown}");
        if b == b'\n' {
            assert!(i > 0 && head[i - 1] == b'\r', "{what}: bare LF\n{shown}");
        }
        if b == b'\r' {
            assert_eq!(head.get(i + 1), Some(&b'\n'), "{what}: bare CR\n{shown}");
        }
    }
    let head = String::from_utf8_lossy(head);
    let mut seen = Vec::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        assert!(line.len() <= 998, "{what}: header line over 998: {line}");
        if line.starts_with([' ', '\t']) {
            assert!(!line.trim().is_empty(), "{what}: blank folded line\n{head}");
            continue;
        }
        let (name, _) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("{what}: not a header line: {line:?}\n{head}"));
        assert!(
            HEADERS.contains(&name),
            "{what}: unexpected header `{name}`\n{head}"
        );
        assert!(!seen.contains(&name), "{what}: `{name}` twice\n{head}");
        seen.push(name);
        // 8-bit only where an internationalized address must be.
        if name != "To" {
            assert!(line.is_ascii(), "{what}: 8-bit in `{name}`: {line}");
        }
    }
    for required in ["To", "From", "Subject", "Content-Type", "List-Unsubscribe"] {
        assert!(seen.contains(&required), "{what}: no `{required}`\n{head}");
    }
    let msg = MessageParser::default()
        .parse(raw)
        .unwrap_or_else(|| panic!("{what}: does not parse\n{shown}"));
    let ct = msg.content_type().expect("content type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative")),
        "{what}"
    );
    assert_eq!(
        msg.parts.len(),
        3,
        "{what}: multipart with two parts\n{shown}"
    );
    let text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    let html = msg.body_html(0).map(|t| t.into_owned()).unwrap_or_default();
    assert!(!text.trim().is_empty(), "{what}: empty text part");
    assert!(html.contains("</html>"), "{what}: no HTML part");
    let subject = msg.subject().unwrap_or_default().to_string();
    let to = msg.to().and_then(|a| a.first()).expect("To");
    let (name, address) = (
        to.name().unwrap_or_default().to_string(),
        to.address().unwrap_or_default().to_string(),
    );
    for (field, value) in [
        ("Subject", &subject),
        ("To name", &name),
        ("To address", &address),
    ] {
        assert!(
            !value.chars().any(breaking),
            "{what}: {field} decodes to {value:?}\n{head}"
        );
    }
    assert!(!subject.trim().is_empty(), "{what}: empty subject");
    assert!(address.contains('@'), "{what}: To address {address:?}");
    (name, address, subject, text, html)
}

/// What one command did to a case.
fn sane(case: &str, args: &[&str], r: &Run) {
    assert_ne!(r.code, 101, "{case}: {args:?} panicked: {r:?}");
    assert!(!r.stderr.contains("panicked"), "{case}: {args:?}: {r:?}");
    assert!(
        [0, 1, 2].contains(&r.code),
        "{case}: {args:?} exit {}: {r:?}",
        r.code
    );
    // Every diagnostic names its file, and a line when it has one.
    for line in r.stderr.lines() {
        if let Some((place, _)) = line
            .split_once(": warning: ")
            .or(line.split_once(": error: "))
        {
            assert!(!place.is_empty(), "{case}: {args:?}: {line}");
        }
    }
}

/// Copies a case's files over the site; applies `config.edits` (`- old` then
/// `+ new` lines) to config.toml.
fn apply(site: &Site, dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if p.is_dir() {
                stack.push(p);
            } else if rel == Path::new("config.edits") {
                let edits = std::fs::read_to_string(&p).unwrap();
                let lines: Vec<&str> = edits.lines().filter(|l| !l.starts_with('#')).collect();
                for pair in lines.chunks(2) {
                    let (Some(old), Some(new)) = (
                        pair[0].strip_prefix("- "),
                        pair.get(1).and_then(|l| l.strip_prefix("+ ")),
                    ) else {
                        panic!("{}: edits come in `- old`/`+ new` pairs", p.display());
                    };
                    site.config(old, new);
                }
            } else if rel != Path::new("expect") {
                let target = site.path(rel.to_str().unwrap());
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::copy(&p, target).unwrap();
            }
        }
    }
}

/// Runs the four commands over a prepared site; returns the `check` run.
fn exercise(case: &str, site: &Site, expect: &[String]) {
    let check = site.run(&["check"]);
    sane(case, &["check"], &check);
    assert!(
        check.stdout.contains("check: "),
        "{case}: check printed no summary: {check:?}"
    );
    let all = format!("{}{}", check.stdout, check.stderr);
    for want in expect {
        assert!(
            all.contains(want.as_str()),
            "{case}: check lacks {want:?}: {check:?}"
        );
    }
    let preview = site.run(&["preview"]);
    sane(case, &["preview"], &preview);
    if preview.code == 0 {
        for raw in site.emls("state/preview") {
            well_formed(&raw, &format!("{case} preview"));
        }
    } else {
        assert!(preview.stderr.starts_with("error: "), "{case}: {preview:?}");
    }
    let dry = site.run(&["send", "--dry-run"]);
    sane(case, &["send", "--dry-run"], &dry);
    assert_eq!(
        dry.code == 0,
        preview.code == 0,
        "{case}: {dry:?}\n{preview:?}"
    );
    let send = site.run(&["send"]);
    sane(case, &["send"], &send);
    let emls = site.emls("state/outbox");
    if send.code == 0 {
        let delivered: usize = send
            .stdout
            .split(" delivered")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{case}: {send:?}"));
        assert_eq!(emls.len(), delivered, "{case}: {send:?}");
        let built = format!("built {delivered} messages");
        assert!(dry.stdout.contains(&built), "{case}: {dry:?}");
    } else {
        assert!(
            emls.is_empty(),
            "{case}: a failed send wrote mail: {send:?}"
        );
        assert!(send.stderr.contains("error: "), "{case}: {send:?}");
    }
    for (i, raw) in emls.iter().enumerate() {
        well_formed(raw, &format!("{case} outbox #{i}"));
    }
}

fn corpus() -> PathBuf {
    repo().join("tests/fixtures/hostile")
}

fn run_case(case: &str) -> Site {
    let dir = corpus().join(case);
    assert!(dir.is_dir(), "no case {case}");
    let site = Site::new();
    apply(&site, &dir);
    let expect: Vec<String> = std::fs::read_to_string(dir.join("expect"))
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    exercise(case, &site, &expect);
    site
}

#[test]
fn every_case_in_the_corpus_is_handled() {
    let mut cases: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "{cases:?}");
    for case in &cases {
        run_case(case);
    }
}

/// Decoded messages of a case, by To address.
fn messages(site: &Site) -> Vec<(String, String, String, String, String)> {
    site.emls("state/outbox")
        .iter()
        .map(|raw| well_formed(raw, "message"))
        .collect()
}

#[test]
fn names_reach_the_reader_cleaned_and_escaped_never_as_headers() {
    let site = run_case("names");
    let msgs = messages(&site);
    let by = |addr: &str| {
        msgs.iter()
            .find(|m| m.1 == addr)
            .unwrap_or_else(|| panic!("no message to {addr}"))
    };
    assert_eq!(by("crlf@example.com").0, "Eve Bcc: victim@example.com");
    assert_eq!(by("ls@example.com").0, "Line Separator");
    // A name that looks like an encoded word is shown as written, not decoded.
    let encoded = by("encoded@example.com");
    assert!(encoded.0.starts_with("=?utf-8?b?"), "{:?}", encoded.0);
    let html = by("html@example.com");
    assert!(
        html.4
            .contains("Hi &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;,")
    );
    assert!(!html.4.contains("<script>"));
    let tmpl = by("tmpl@example.com");
    assert!(
        tmpl.3
            .contains("Hi {{ email }} {% if true %}x{% endif %} %%tipsheet-unsubscribe%%,"),
        "{}",
        tmpl.3
    );
    let long = by("long@example.com");
    assert_eq!(long.0.chars().count(), 200);
}

#[test]
fn template_syntax_in_content_is_text() {
    let site = run_case("template-syntax");
    for (_, address, subject, text, html) in messages(&site) {
        assert!(subject.contains("{{ subject }}"), "{subject}");
        // Markers of personal values inside content stay as written.
        for literal in [
            "{{ name }}",
            "{% for x in comparisons %}",
            "%%tipsheet-name%%",
            "%%tipsheet-email%%",
            "%%tipsheet-unsubscribe%%",
        ] {
            assert!(text.contains(literal), "{address}: {literal} in\n{text}");
        }
        // HTML in content is text: no elements or attributes come from it.
        let doc = scraper::Html::parse_document(&html);
        let any = |css: &str| {
            doc.select(&scraper::Selector::parse(css).unwrap())
                .next()
                .is_some()
        };
        assert!(!any("script, iframe, object, embed, form, b"), "{html}");
        assert!(!any("img[onerror], img[src=x]"), "{html}");
        for element in doc.root_element().descendent_elements() {
            for (attribute, value) in element.value().attrs() {
                assert!(!attribute.starts_with("on"), "{attribute}={value}");
                let scheme = value.trim().to_ascii_lowercase();
                assert!(
                    !scheme.starts_with("javascript:") && !scheme.starts_with("data:"),
                    "{attribute}={value}"
                );
            }
        }
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}

#[test]
fn huge_csv_lines_are_skipped_or_capped() {
    let site = Site::new();
    let mb = 1024 * 1024;
    let mut list = String::from("email,name,subscribed_at\n");
    list.push_str(&format!("big-name@example.com,\"{}\",\n", "N".repeat(mb)));
    list.push_str(&format!("{}@example.com,Huge Address,\n", "a".repeat(mb)));
    list.push_str(&format!("{}\n", "x,".repeat(mb / 2)));
    list.push_str(&format!("{}\n", "é".repeat(mb / 2)));
    list.push_str("after@example.com,After,2026-01-01\n");
    site.write("subscribers/subscribers.csv", &list);
    exercise(
        "1 MB lines",
        &site,
        &[
            "subscribers/subscribers.csv:3: warning: `aaaa".into(),
            "is not a valid email address (longer than 254 characters); row skipped".into(),
            "subscribers/subscribers.csv:4: warning: expected 3 fields".into(),
            "subscribers/subscribers.csv:5: warning: expected 3 fields".into(),
        ],
    );
    let msgs = messages(&site);
    let mut to: Vec<&str> = msgs.iter().map(|m| m.1.as_str()).collect();
    to.sort();
    assert_eq!(to, ["after@example.com", "big-name@example.com"]);
    let big = msgs.iter().find(|m| m.1 == "big-name@example.com").unwrap();
    assert_eq!(big.0, "N".repeat(200));
}

#[test]
fn text_shaped_like_encoded_words_reads_as_written() {
    let site = run_case("subjects-accepted");
    for (_, _, subject, text, _) in messages(&site) {
        assert_eq!(
            subject,
            "Career Tips #1: =?utf-8?b?RXZlDQpCY2M6IHZpY3RpbUBleGFtcGxlLmNvbQ==?= vs. =?utf-8?q?a=0Ab?=, and 3 more comparisons"
        );
        assert!(text.contains("=?utf-8?b?VGlwDQpCY2M6IHZpY3RpbUBleGFtcGxlLmNvbQ==?="));
    }
    let site = run_case("config-encoded-words");
    for raw in site.emls("state/outbox") {
        let msg = MessageParser::default().parse(&raw).unwrap();
        assert!(
            msg.subject()
                .unwrap()
                .starts_with("=?utf-8?b?Q2FyZWVyDQpCY2M6IHg=?= #1: "),
            "{:?}",
            msg.subject()
        );
        let from = msg.from().and_then(|a| a.first()).unwrap();
        assert_eq!(from.name(), Some("=?utf-8?b?VGlwcw0KQmNjOiB4?="));
        let list_id = crate::common::parse(&raw).header("List-Id").unwrap();
        assert!(list_id.ends_with(" <career-tips.example.com>"), "{list_id}");
        assert!(!list_id.starts_with("=?utf-8?b?Q2FyZWVy"), "{list_id}");
    }
}
