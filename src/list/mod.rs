//! The subscriber list and the suppression list.
//!
//! This module owns two CSV files:
//!
//! * `subscribers/subscribers.csv`, header `email,name,subscribed_at`. Only
//!   `email` is required; `name` and `subscribed_at` may be missing or empty.
//!   Extra columns are allowed and ignored, and columns are found by header
//!   name (trimmed, case-insensitive) in any order.
//! * `subscribers/suppressed.csv`, header `email,reason,at`, append-only.
//!   Later rows override earlier ones: a row whose reason is `resubscribed`
//!   lifts an earlier suppression of the same address.
//!
//! # Streaming
//!
//! Files are never read into one string. [`SubscriberReader`] yields one row
//! at a time and reuses its buffers, so memory does not grow with the file.
//! Only the things a caller asks to collect grow: [`Suppression`] keeps the
//! set of suppressed keys, [`Dedupe`] the keys seen so far, and [`List`]
//! everything. A single row is capped at [`MAX_ROW_BYTES`] so that a `"`
//! quote left open cannot swallow the rest of a huge file into memory; such a
//! row stops reading with [`SubscribersError::RowTooLong`].
//!
//! # Tolerance
//!
//! A UTF-8 byte order mark, CRLF line endings, blank lines and quoted fields
//! containing commas or newlines are all accepted. A bad row never stops the
//! reader: it becomes a [`RowProblem`] carrying the 1-based line on which the
//! row starts (the header is line 1). Line numbers are computed by this
//! module rather than taken from `csv::Position::line`, which points at the
//! line *before* a CRLF-terminated record and at skipped blank lines.
//!
//! # Cleaning
//!
//! Addresses are trimmed and validated with [`lettre::Address`]; the key used
//! for dedupe, suppression and tokens is [`normalize`]d (trimmed, lowercased).
//! Names have control characters and Unicode line/paragraph separators
//! replaced by spaces, runs of spaces collapsed, and are capped at
//! [`MAX_NAME_CHARS`] characters.
//!
//! # Appending
//!
//! [`append_subscriber`] and [`append_suppression`] take an exclusive
//! advisory lock on the file, add the header if the file is new or empty,
//! write the whole CSV-encoded line with one `write_all`, then flush and
//! `sync_data`. They follow the column order of an existing header.
//!
//! # Safe to open, private by default
//!
//! Every field the module writes (appends, the erasure's rewrites,
//! [`export`]) that starts with `=`, `+`, `-`, `@`, a tab or a CR gets a `'` in front so
//! spreadsheets show it as text (OWASP CSV injection); every field it reads
//! loses one `'` that stands before such a character. The rule is in
//! `cell.rs` alone. Files it creates are owner-only (0600), folders
//! 0700; existing ones keep their mode (`crate::fsperm`).

mod active;
pub(crate) mod address;
mod append;
mod cell;
mod dedupe;
pub(crate) mod erase;
pub(crate) mod export;
pub(crate) mod import;
pub mod keyer;
mod model;
mod reader;
mod reason;
mod suppression;
mod table;

pub(crate) use active::{ListCounts, ListError, Walked, active};
pub use address::{AddressProblem, MAX_EMAIL_CHARS, clean_text, normalize};
pub use append::{Appender, FileStamp, append_subscriber, append_suppression};
pub(crate) use dedupe::Dedupe;
pub use model::{
    MAX_NAME_CHARS, MAX_ROW_BYTES, RowProblem, SUBSCRIBERS_HEADER, SUPPRESSION_HEADER, Subscriber,
    SubscribersError,
};
pub use reader::SubscriberReader;
pub use reason::SuppressionReason;
pub use suppression::Suppression;

use std::path::Path;

// ---------------------------------------------------------------------------
// Whole list.

/// The loaded, deduplicated, suppression-filtered list plus what was skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List {
    /// Subscribers to send to, in file order.
    pub active: Vec<Subscriber>,
    /// Distinct addresses skipped because they are suppressed.
    pub suppressed: usize,
    /// Later occurrences of an address (notes, not errors).
    pub duplicates: Vec<RowProblem>,
    /// Rows that failed validation.
    pub invalid: Vec<RowProblem>,
}

/// Load the whole list into memory: dedupe (first wins), then drop
/// suppressed addresses. Fails if the file cannot be read to the end.
pub fn load_list(path: &Path, suppression: &Suppression) -> Result<List, SubscribersError> {
    let mut reader = SubscriberReader::open(path)?;
    let mut list = List::default();
    let mut dedupe = Dedupe::new();
    for row in reader.by_ref() {
        match row {
            Ok(sub) => {
                if let Err(note) = dedupe.check(path, &sub) {
                    list.duplicates.push(note);
                } else if suppression.contains(&sub.key) {
                    list.suppressed += 1;
                } else {
                    list.active.push(sub);
                }
            }
            Err(problem) => list.invalid.push(problem),
        }
    }
    reader.finish()?;
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use std::io;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn write(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn read_all(content: &[u8]) -> (PathBuf, Vec<Result<Subscriber, RowProblem>>) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "subscribers.csv", content);
        let rows: Vec<_> = SubscriberReader::open(&path).unwrap().collect();
        (path, rows)
    }

    /// (line, email) of good rows and (line, message) of bad rows.
    fn summarize(rows: &[Result<Subscriber, RowProblem>]) -> Vec<(u64, String)> {
        rows.iter()
            .map(|r| match r {
                Ok(s) => (s.line, format!("ok {}", s.email)),
                Err(p) => (p.line, format!("err {}", p.message)),
            })
            .collect()
    }

    fn ok(line: u64, email: &str) -> (u64, String) {
        (line, format!("ok {email}"))
    }

    fn err(line: u64, message: &str) -> (u64, String) {
        (line, format!("err {message}"))
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 9, 14, 10, 22, 0).unwrap()
    }

    #[test]
    fn bad_rows_are_reported_with_message_and_line() {
        let cases: &[(&[u8], (u64, String))] = &[
            (
                b"bob@@example.com,Bob,",
                err(
                    2,
                    "`bob@@example.com` is not a valid email address (it has more than one `@`)",
                ),
            ),
            (b",Bob,", err(2, "empty `email` field")),
            (b"  ,Bob,", err(2, "empty `email` field")),
            (
                b"bob.example.com,Bob,",
                err(
                    2,
                    "`bob.example.com` is not a valid email address (it has no `@`)",
                ),
            ),
            (
                b"Bob <bob@example.com>,Bob,",
                err(
                    2,
                    "`Bob <bob@example.com>` is not a valid email address (write only the address, without a name or `<>`)",
                ),
            ),
            (
                b"bob@exa_mple..com,Bob,",
                err(
                    2,
                    "`bob@exa_mple..com` is not a valid email address (the part after `@` is not a valid domain)",
                ),
            ),
            (
                b"a@b.com,x,2026-01-01,4,5",
                err(
                    2,
                    "expected 3 fields (email,name,subscribed_at), found 5 (put double quotes around a value that contains a comma)",
                ),
            ),
            (
                b"a@b.com",
                err(2, "expected 3 fields (email,name,subscribed_at), found 1"),
            ),
            (
                b"a@b.com,Bob,2026-13-01",
                err(
                    2,
                    "`2026-13-01` in `subscribed_at` is not a date (use RFC 3339 like 2026-09-14T10:22:00Z, or YYYY-MM-DD)",
                ),
            ),
            (
                b"a@b.com,Bob,yesterday",
                err(
                    2,
                    "`yesterday` in `subscribed_at` is not a date (use RFC 3339 like 2026-09-14T10:22:00Z, or YYYY-MM-DD)",
                ),
            ),
            (
                b"a@b.com,B\xffb,",
                err(2, "row is not valid UTF-8 (save the file as UTF-8)"),
            ),
        ];
        for (row, expected) in cases {
            let mut content = b"email,name,subscribed_at\n".to_vec();
            content.extend_from_slice(row);
            content.extend_from_slice(b"\nok@example.com,Ok,\n");
            let (_, rows) = read_all(&content);
            assert_eq!(
                summarize(&rows),
                vec![expected.clone(), ok(3, "ok@example.com")],
                "row {:?}",
                String::from_utf8_lossy(row)
            );
        }
    }

    #[test]
    fn row_problem_display() {
        let p = RowProblem {
            path: PathBuf::from("subscribers/subscribers.csv"),
            line: 7,
            last_line: 7,
            message: "empty `email` field".into(),
        };
        assert_eq!(
            p.to_string(),
            "subscribers/subscribers.csv:7: empty `email` field; row skipped"
        );
    }

    #[test]
    fn valid_fields_are_parsed() {
        let (_, rows) = read_all(
            b"email,name,subscribed_at\n\
              \x20 Ann@Example.COM  ,  Ann  Lee ,2026-09-14T10:22:00+02:00\n\
              bob@example.com,,2026-02-03\n\
              cy@example.com,Cy,\n",
        );
        let subs: Vec<Subscriber> = rows.into_iter().map(Result::unwrap).collect();
        assert_eq!(subs[0].email.to_string(), "Ann@Example.COM");
        assert_eq!(subs[0].key, "ann@example.com");
        assert_eq!(subs[0].name, "Ann Lee");
        assert_eq!(
            subs[0].subscribed_at,
            Some(DateTime::parse_from_rfc3339("2026-09-14T08:22:00Z").unwrap())
        );
        assert_eq!(subs[1].name, "");
        assert_eq!(
            subs[1].subscribed_at,
            Some(
                Utc.with_ymd_and_hms(2026, 2, 3, 0, 0, 0)
                    .unwrap()
                    .fixed_offset()
            )
        );
        assert_eq!(subs[2].subscribed_at, None);
        assert_eq!(
            subs.iter().map(|s| s.line).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
    }

    #[test]
    fn bom_is_tolerated() {
        let (_, rows) = read_all(b"\xef\xbb\xbfemail,name,subscribed_at\na@example.com,A,\n");
        assert_eq!(summarize(&rows), vec![ok(2, "a@example.com")]);
    }

    #[test]
    fn crlf_line_endings_and_numbers() {
        let (_, rows) = read_all(
            b"email,name,subscribed_at\r\n\
              a@example.com,A,2026-01-01\r\n\
              \r\n\
              b@example.com,\"Two\r\nLines\",\r\n\
              bad,B,\r\n\
              c@example.com,C,2026-01-02\r\n",
        );
        assert_eq!(
            summarize(&rows),
            vec![
                ok(2, "a@example.com"),
                ok(4, "b@example.com"),
                err(6, "`bad` is not a valid email address (it has no `@`)"),
                ok(7, "c@example.com"),
            ]
        );
        let subs: Vec<_> = rows.into_iter().filter_map(Result::ok).collect();
        assert_eq!(subs[1].name, "Two Lines");
        assert!(subs[2].subscribed_at.is_some());
    }

    #[test]
    fn quoted_commas_newlines_and_blank_lines_keep_line_numbers() {
        let (_, rows) = read_all(
            b"email,name,subscribed_at\n\
              \n\
              a@example.com,\"Lee, Ann\",\n\
              b@example.com,\"Bob\n\nthe\nBuilder\",\n\
              \n\
              \n\
              nope,X,\n\
              c@example.com,\"Say \"\"hi\"\"\",",
        );
        assert_eq!(
            summarize(&rows),
            vec![
                ok(3, "a@example.com"),
                ok(4, "b@example.com"),
                err(10, "`nope` is not a valid email address (it has no `@`)"),
                ok(11, "c@example.com"),
            ]
        );
        let subs: Vec<_> = rows.into_iter().filter_map(Result::ok).collect();
        assert_eq!(subs[0].name, "Lee, Ann");
        assert_eq!(subs[1].name, "Bob the Builder");
        assert_eq!(subs[2].name, "Say \"hi\"");
    }

    #[test]
    fn last_row_without_newline_has_right_line() {
        for content in [
            &b"email,name,subscribed_at\nx,,\na@example.com,A,"[..],
            &b"email,name,subscribed_at\nx,,\na@example.com,A,\n"[..],
            &b"email,name,subscribed_at\nx,,\na@example.com,\"A\",\r\n"[..],
            &b"email,name,subscribed_at\nx,,\na@example.com,\"A\nB\","[..],
        ] {
            let (_, rows) = read_all(content);
            assert_eq!(rows[1].as_ref().unwrap().line, 3, "{content:?}");
            assert_eq!(rows[0].as_ref().unwrap_err().line, 2);
        }
    }

    #[test]
    fn extra_columns_and_other_order() {
        let (_, rows) = read_all(
            b"Source, Subscribed_At ,Name,EMAIL,notes\n\
              web,2026-05-06,Ann,ann@example.com,hello\n\
              web,,,bob@example.com,\n",
        );
        let subs: Vec<Subscriber> = rows.into_iter().map(Result::unwrap).collect();
        assert_eq!(subs[0].email.to_string(), "ann@example.com");
        assert_eq!(subs[0].name, "Ann");
        assert!(subs[0].subscribed_at.is_some());
        assert_eq!(subs[1].email.to_string(), "bob@example.com");
        assert_eq!(subs[1].name, "");

        let (_, rows) = read_all(b"email,name,subscribed_at,source\na@example.com,A,\n");
        assert_eq!(
            summarize(&rows),
            vec![err(
                2,
                "expected 4 fields (email,name,subscribed_at,source), found 3"
            )]
        );

        // Only `email` is required.
        let (_, rows) = read_all(b"email\na@example.com\n");
        assert_eq!(summarize(&rows), vec![ok(2, "a@example.com")]);
    }

    #[test]
    fn header_errors_are_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&[u8], &str)] = &[
            (
                b"Email Address,Name\nx@example.com,X\n",
                "has no `email` column (found `Email Address`, `Name`); the first line must be a header like `email,name,subscribed_at`",
            ),
            (
                b"bob@example.com,Bob,\n",
                "has no `email` column (found `bob@example.com`, `Bob`, ``); the first line must be a header like `email,name,subscribed_at`",
            ),
            (
                b"email,name,Email\n",
                "column `email` appears more than once in the header",
            ),
            (
                b"em\xffail,name\n",
                "the header line is not valid UTF-8 (save the file as UTF-8)",
            ),
        ];
        for (content, expected) in cases {
            let path = write(&dir, "s.csv", content);
            let err = SubscriberReader::open(&path).err().unwrap().to_string();
            assert!(err.ends_with(expected), "{err}");
            assert!(err.starts_with(&format!("`{}`", path.display())), "{err}");
        }
        let missing = dir.path().join("missing.csv");
        let err = SubscriberReader::open(&missing).err().unwrap();
        assert!(matches!(err, SubscribersError::Open { .. }));
        assert!(err.to_string().starts_with("cannot open `"), "{err}");
    }

    #[test]
    fn empty_file_has_no_rows() {
        for content in [&b""[..], b"\n\n", b"email,name,subscribed_at\n"] {
            let (_, rows) = read_all(content);
            assert!(rows.is_empty());
        }
    }

    #[test]
    fn name_sanitization() {
        let long = "é".repeat(300);
        let capped = "é".repeat(MAX_NAME_CHARS);
        let cases: &[(&str, &str)] = &[
            ("Ann\rLee", "Ann Lee"),
            ("Ann\nLee", "Ann Lee"),
            ("Ann\0Lee", "Ann Lee"),
            ("Ann\tLee", "Ann Lee"),
            ("Ann\u{2028}Lee", "Ann Lee"),
            ("Ann\u{2029}Lee", "Ann Lee"),
            ("Ann\u{85}Lee", "Ann Lee"),
            ("Ann\u{1b}[31mLee", "Ann [31mLee"),
            ("  Ann \r\n\r\n  Lee  ", "Ann Lee"),
            ("\n", ""),
            (&long, &capped),
        ];
        for (raw, expected) in cases {
            assert_eq!(clean_text(raw, MAX_NAME_CHARS), *expected, "{raw:?}");
        }
        // Through the reader, with quoting.
        let (_, rows) = read_all(b"email,name\na@example.com,\"A\r\n\x00\xe2\x80\xa8B\"\n");
        assert_eq!(rows[0].as_ref().unwrap().name, "A B");
    }

    #[test]
    fn huge_fields_do_not_crash() {
        let big = "x".repeat(1 << 20);
        let mut content = String::from("email,name,subscribed_at\n");
        content.push_str(&format!("a@example.com,{big},\n"));
        content.push_str(&format!("{big}@example.com,A,\n"));
        content.push_str(&format!("b@example.com,B,{big}\n"));
        content.push_str("c@example.com,C,\n");
        let (_, rows) = read_all(content.as_bytes());
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.name.chars().count(), MAX_NAME_CHARS);
        let shown = format!("`{}…`", "x".repeat(60));
        assert_eq!(
            rows[1].as_ref().unwrap_err().message,
            format!("{shown} is not a valid email address (longer than 254 characters)")
        );
        assert!(rows[2].as_ref().unwrap_err().message.starts_with(&shown));
        assert_eq!(rows[3].as_ref().unwrap().line, 5);
    }

    #[test]
    fn runaway_quote_is_reported() {
        // A small file: the open quote swallows the rest; reported with a hint.
        let (_, rows) = read_all(
            b"email,name,subscribed_at\na@example.com,\"Ann,\nb@example.com,B,\nc@example.com,C,\n",
        );
        assert_eq!(
            summarize(&rows),
            vec![err(
                2,
                "expected 3 fields (email,name,subscribed_at), found 2 (this row runs from line 2 to line 4: is a `\"` quote left open?)"
            )]
        );

        // Past the row limit, reading stops with a fatal error.
        let dir = tempfile::tempdir().unwrap();
        let mut content = b"email,name\nok@example.com,Ok\nx@example.com,\"open\n".to_vec();
        for i in 0..1000 {
            content.extend_from_slice(format!("r{i}@example.com,R\n").as_bytes());
        }
        let path = write(&dir, "s.csv", &content);
        let mut reader = SubscriberReader::open_with_limit(&path, 1024).unwrap();
        let rows: Vec<_> = reader.by_ref().collect();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].is_ok());
        let problem = rows[1].as_ref().unwrap_err();
        assert_eq!(problem.line, 3);
        assert!(
            problem.message.contains("row is longer than 1024 bytes"),
            "{problem}"
        );
        let err = reader.finish().unwrap_err();
        assert!(
            matches!(err, SubscribersError::RowTooLong { line: 3, .. }),
            "{err}"
        );

        // The suppression list must not silently load half a file.
        let sup = write(
            &dir,
            "sup.csv",
            b"email,reason,at\na@example.com,\"open\nb@example.com,x,y\n",
        );
        let err = Suppression::load_with_limit(&sup, 16).unwrap_err();
        assert!(matches!(err, SubscribersError::RowTooLong { .. }), "{err}");
    }

    #[test]
    fn dedupe_is_case_insensitive_and_first_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "subscribers.csv",
            b"email,name,subscribed_at\n\
              x@example.com,X,\n\
              bob@example.com,First,\n\
              Bob@Example.com,Second,\n\
              \x20BOB@EXAMPLE.COM ,Third,\n\
              bad,,\n",
        );
        let list = load_list(&path, &Suppression::default()).unwrap();
        let names: Vec<_> = list.active.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["X", "First"]);
        let notes: Vec<_> = list
            .duplicates
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(
            notes,
            vec![
                (4, "`Bob@Example.com` duplicates line 3"),
                (5, "`BOB@EXAMPLE.COM` duplicates line 3"),
            ]
        );
        assert_eq!(list.invalid.len(), 1);
        assert_eq!(list.invalid[0].line, 6);
        assert_eq!(list.suppressed, 0);
    }

    #[test]
    fn suppression_is_case_insensitive_and_wins() {
        let dir = tempfile::tempdir().unwrap();
        let subs = write(
            &dir,
            "subscribers.csv",
            b"email,name,subscribed_at\nAnn@Example.com,Ann,\nbob@example.com,Bob,\nann@example.com,Ann2,\n",
        );
        let sup = write(
            &dir,
            "suppressed.csv",
            b"email,reason,at\n  ANN@EXAMPLE.COM ,unsubscribed,2026-01-01T00:00:00Z\n",
        );
        let (suppression, problems) = Suppression::load(&sup).unwrap();
        assert!(problems.is_empty());
        assert!(suppression.contains("ann@example.com"));
        assert!(!suppression.contains("bob@example.com"));
        let list = load_list(&subs, &suppression).unwrap();
        assert_eq!(list.active.len(), 1);
        assert_eq!(list.active[0].key, "bob@example.com");
        assert_eq!(list.suppressed, 1);
        assert_eq!(list.duplicates.len(), 1);
    }

    #[test]
    fn resubscribe_lifts_and_later_rows_win() {
        let dir = tempfile::tempdir().unwrap();
        let sup = write(
            &dir,
            "suppressed.csv",
            b"email,reason,at\n\
              a@example.com,unsubscribed,2026-01-01T00:00:00Z\n\
              b@example.com,bounced,2026-01-01T00:00:00Z\n\
              A@example.com, Resubscribed ,2026-02-01T00:00:00Z\n\
              b@example.com,resubscribed,2026-02-01T00:00:00Z\n\
              b@example.com,complaint,2026-03-01T00:00:00Z\n\
              c@example.com,resubscribed,2026-03-01T00:00:00Z\n",
        );
        let (s, problems) = Suppression::load(&sup).unwrap();
        assert!(problems.is_empty());
        assert!(!s.contains("a@example.com"));
        assert!(s.contains("b@example.com"));
        assert!(!s.contains("c@example.com"));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn suppression_bad_rows_are_problems_and_fail_closed() {
        let dir = tempfile::tempdir().unwrap();
        let sup = write(
            &dir,
            "suppressed.csv",
            b"\xef\xbb\xbfemail,reason,at\r\n\
              bad@@example.com,x,y\r\n\
              \r\n\
              ,x,y\r\n\
              \xff@example.com,x,y\r\n\
              ok@example.com,bounced, mailbox full,2026-01-01\r\n\
              short@example.com\r\n\
              ok@example.com,resubscribed\r\n\
              last@example.com,\"multi\r\nline\",2026\r\n",
        );
        let (s, problems) = Suppression::load(&sup).unwrap();
        let got: Vec<_> = problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    2,
                    "`bad@@example.com` is not a valid email address (it has more than one `@`)"
                ),
                (4, "empty `email` field"),
                (5, "row is not valid UTF-8 (save the file as UTF-8)"),
                (8, "expected 3 fields (email,reason,at), found 2"),
            ]
        );
        assert!(s.contains("ok@example.com"));
        assert!(s.contains("short@example.com"));
        assert!(s.contains("last@example.com"));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn missing_suppression_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (s, problems) = Suppression::load(&dir.path().join("suppressed.csv")).unwrap();
        assert!(s.is_empty());
        assert_eq!(s.len(), 0);
        assert!(problems.is_empty());
        let path = write(&dir, "empty.csv", b"");
        assert!(Suppression::load(&path).unwrap().0.is_empty());
        let path = write(&dir, "noemail.csv", b"address,reason\n");
        assert!(matches!(
            Suppression::load(&path),
            Err(SubscribersError::MissingEmailColumn { .. })
        ));
    }

    #[test]
    fn append_suppression_writes_header_once_and_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suppressed.csv");
        append_suppression(
            &path,
            " A@Example.com ",
            "complaint, via \"abuse\"\r\ndesk",
            t0(),
        )
        .unwrap();
        append_suppression(&path, "b@example.com", "bounced", t0()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "email,reason,at\n\
             A@Example.com,\"complaint, via \"\"abuse\"\" desk\",2026-09-14T10:22:00Z\n\
             b@example.com,bounced,2026-09-14T10:22:00Z\n"
        );
        let (s, problems) = Suppression::load(&path).unwrap();
        assert!(problems.is_empty());
        assert!(s.contains("a@example.com") && s.contains("b@example.com"));

        let err = append_suppression(&path, "not an address", "x", t0()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn concurrent_appends_produce_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("suppressed.csv"));
        let start = Arc::new(std::sync::Barrier::new(50));
        let threads: Vec<_> = (0..50)
            .map(|i| {
                let path = Arc::clone(&path);
                let start = Arc::clone(&start);
                std::thread::spawn(move || {
                    start.wait();
                    let reason = format!("reason {i}, {}", "z".repeat(5000));
                    append_suppression(&path, &format!("user{i}@example.com"), &reason, t0())
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        let text = std::fs::read_to_string(&*path).unwrap();
        assert_eq!(text.lines().count(), 51);
        assert_eq!(text.lines().filter(|l| *l == "email,reason,at").count(), 1);
        assert!(text.starts_with("email,reason,at\n"));
        let (s, problems) = Suppression::load(&path).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.len(), 50);
        for i in 0..50 {
            assert!(s.contains(&format!("user{i}@example.com")));
        }
    }

    #[test]
    fn append_subscriber_handles_headers_and_newlines() {
        let dir = tempfile::tempdir().unwrap();
        // New file: header added.
        let new = dir.path().join("new.csv");
        append_subscriber(&new, "a@example.com", "Ann\nLee", t0()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&new).unwrap(),
            "email,name,subscribed_at\na@example.com,Ann Lee,2026-09-14T10:22:00Z\n"
        );
        // Empty file: header added.
        let empty = write(&dir, "empty.csv", b"");
        append_subscriber(&empty, "a@example.com", "", t0()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&empty).unwrap(),
            "email,name,subscribed_at\na@example.com,,2026-09-14T10:22:00Z\n"
        );
        // No trailing newline: one is added first.
        let partial = write(
            &dir,
            "partial.csv",
            b"email,name,subscribed_at\r\nx@example.com,X,",
        );
        append_subscriber(&partial, "b@example.com", "Lee, Bob", t0()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&partial).unwrap(),
            "email,name,subscribed_at\r\nx@example.com,X,\nb@example.com,\"Lee, Bob\",2026-09-14T10:22:00Z\n"
        );
        let list = load_list(&partial, &Suppression::default()).unwrap();
        assert_eq!(list.active.len(), 2);
        assert_eq!(list.active[1].name, "Lee, Bob");
        assert_eq!(list.active[1].line, 3);
        // Existing header order and extra columns are followed.
        let other = write(&dir, "other.csv", b"name,source,email\n");
        append_subscriber(&other, "c@example.com", "C", t0()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&other).unwrap(),
            "name,source,email\nC,,c@example.com\n"
        );
        // A file without an `email` header is not appended to.
        let headerless = write(&dir, "headerless.csv", b"d@example.com,D,\n");
        let err = append_subscriber(&headerless, "e@example.com", "E", t0()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            std::fs::read_to_string(&headerless).unwrap(),
            "d@example.com,D,\n"
        );
    }

    #[test]
    fn appended_formulas_are_text_in_the_file_and_read_back_as_typed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscribers.csv");
        let name = "=HYPERLINK(\"http://x\",\"y\")";
        append_subscriber(&path, "=1+1@example.com", name, t0()).unwrap();
        append_subscriber(&path, "b@example.com", "'Tis Bo", t0()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "email,name,subscribed_at\n\
             '=1+1@example.com,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",2026-09-14T10:22:00Z\n\
             b@example.com,'Tis Bo,2026-09-14T10:22:00Z\n"
        );
        let list = load_list(&path, &Suppression::default()).unwrap();
        assert_eq!(list.active[0].email.to_string(), "=1+1@example.com");
        assert_eq!(list.active[0].name, name);
        assert_eq!(list.active[1].name, "'Tis Bo");

        let sup = dir.path().join("suppressed.csv");
        append_suppression(&sup, "-x@example.com", "-manual", t0()).unwrap();
        assert!(
            std::fs::read_to_string(&sup)
                .unwrap()
                .ends_with("'-x@example.com,'-manual,2026-09-14T10:22:00Z\n")
        );
        let (s, problems) = Suppression::load(&sup).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert!(s.contains("-x@example.com"));
    }

    #[test]
    fn normalize_trims_and_lowercases() {
        assert_eq!(normalize("  Bob@Example.COM\t"), "bob@example.com");
        assert_eq!(normalize("ÉMILE@Exemple.fr"), "émile@exemple.fr");
    }
}
