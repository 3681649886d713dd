//! The list files' side of a reader's privacy: finding every row of one
//! address, and erasing it (`subscribers forget`).
//!
//! Owns the pseudonym form of an erased address (`hmac:` and 32 hex digits, a
//! keyed hash of the normalized address under the unsubscribe secret), and the
//! atomic rewrites of `subscribers.csv` (the reader's rows dropped, every other
//! byte kept) and `suppressed.csv` (the reader's rows turned into pseudonyms,
//! then a final `forgotten` row). It must not touch the ledger or the outbox:
//! `crate::reader_data` drives those.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

use super::address::normalize;
use super::append::{open_locked, write_csv_line};
use super::cell::unprotect;
use super::keyer::{Keyer, is_pseudonym};
use super::model::{MAX_ROW_BYTES, SUBSCRIBERS_HEADER, SUPPRESSION_HEADER, SubscribersError};
use super::reason::SuppressionReason;
use super::table::{Table, text};
use crate::fsperm::private_file;

/// Replaces every case-insensitive occurrence of each non-empty needle in
/// `text` with `with` (free text such as SMTP replies can quote the address).
pub(crate) fn scrub(text: &str, needles: &[&str], with: &str) -> String {
    let mut out = text.to_string();
    for needle in needles.iter().filter(|n| !n.trim().is_empty()) {
        let lower: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        'outer: while !rest.is_empty() {
            let mut folded = rest.char_indices().flat_map(|(i, c)| {
                c.to_lowercase()
                    .map(move |l| (i + c.len_utf8(), l))
                    .collect::<Vec<_>>()
            });
            let mut end = 0;
            let mut matched = true;
            for want in &lower {
                match folded.next() {
                    Some((e, got)) if got == *want => end = e,
                    _ => {
                        matched = false;
                        break;
                    }
                }
            }
            if matched && end > 0 && rest.is_char_boundary(end) {
                result.push_str(with);
                rest = &rest[end..];
                continue 'outer;
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                result.push(c);
            }
            rest = chars.as_str();
        }
        out = result;
    }
    out
}

/// Why a list file could not be searched or rewritten.
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    /// The file cannot be read as a list.
    #[error(transparent)]
    Read(#[from] SubscribersError),
    /// Writing the new file or replacing the old one failed.
    #[error(
        "cannot rewrite `{path}`: {source}; the file is unchanged (check the folder's permissions and free space, then run forget again)"
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// One row of a list file holding the address, its fields as written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    /// 1-based line on which the row starts.
    pub line: u64,
    /// (column, value) in file order.
    pub fields: Vec<(String, String)>,
}

impl Row {
    /// The value of a column (case-insensitive name), or "".
    pub(crate) fn get(&self, column: &str) -> &str {
        self.fields
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(column))
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Whether a raw email field is this reader's: the address, or a pseudonym of it.
fn is_theirs(raw: &str, key: &str, pseudonyms: &HashSet<String>) -> bool {
    let value = raw.trim();
    if is_pseudonym(value) {
        pseudonyms.contains(value)
    } else {
        normalize(value) == key
    }
}

/// Walks a list file; `visit` gets (row, start byte, end byte) of each row
/// whose email field is the reader's. A missing file has no rows.
fn walk(
    path: &Path,
    expected: &[&str],
    key: &str,
    pseudonyms: &HashSet<String>,
    mut visit: impl FnMut(Row, u64, u64) -> Result<(), EraseError>,
) -> Result<bool, EraseError> {
    let mut table = match Table::open(path, expected, MAX_ROW_BYTES) {
        Ok(t) => t,
        Err(SubscribersError::Open { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    let Some(names) = table.header.as_ref().map(|h| (h.names.clone(), h.email)) else {
        return Ok(true);
    };
    let (columns, email) = names;
    while let Some(row) = table.next_row() {
        let Ok(line) = row else { break };
        let record = &table.record;
        let Some(raw) = record.get(email).and_then(text) else {
            continue;
        };
        if !is_theirs(raw, key, pseudonyms) {
            continue;
        }
        let start = record.position().map_or(0, csv::Position::byte);
        let end = table.csv.position().byte();
        let fields = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let v = record
                    .get(i)
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                // Only LF ends a record: a CRLF row's CR is still on its last field.
                let v = if i + 1 == record.len() {
                    v.strip_suffix('\r').unwrap_or(&v)
                } else {
                    &v
                };
                (c.clone(), unprotect(v).to_string())
            })
            .collect();
        visit(Row { line, fields }, start, end)?;
    }
    match table.fatal.take() {
        Some(e) => Err(e.into()),
        None => Ok(true),
    }
}

/// Every row of `subscribers.csv` for the normalized `key`.
pub(crate) fn list_rows(path: &Path, key: &str) -> Result<Vec<Row>, EraseError> {
    let mut rows = Vec::new();
    walk(path, SUBSCRIBERS_HEADER, key, &HashSet::new(), |r, _, _| {
        rows.push(r);
        Ok(())
    })?;
    Ok(rows)
}

/// Every row of `suppressed.csv` for `key`, in clear or as a pseudonym.
pub(crate) fn suppression_rows(
    path: &Path,
    key: &str,
    keyer: &Keyer,
) -> Result<Vec<Row>, EraseError> {
    let pseudonyms: HashSet<String> = keyer.pseudonyms(key).collect();
    let mut rows = Vec::new();
    walk(path, SUPPRESSION_HEADER, key, &pseudonyms, |r, _, _| {
        rows.push(r);
        Ok(())
    })?;
    Ok(rows)
}

/// Writes `path` anew through a temporary file in its folder (fsync, rename,
/// fsync of the folder), holding the lock appenders take.
fn replace(
    path: &Path,
    write: impl FnOnce(&mut File, &mut BufWriter<&File>) -> io::Result<()>,
) -> Result<(), EraseError> {
    let fail = |source| EraseError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut old = open_locked(path).map_err(fail)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.forget-{}.tmp", std::process::id()));
    let result = (|| {
        let new = private_file().write(true).create_new(true).open(&tmp)?;
        new.set_permissions(old.metadata()?.permissions())?;
        {
            let mut out = BufWriter::new(&new);
            write(&mut old, &mut out)?;
            out.flush()?;
        }
        new.sync_all()?;
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        File::open(&dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
    // `old`'s lock is released on drop; waiting appenders see the new file.
}

/// Copies `old[from..to]` to `out`.
fn copy_range(old: &mut File, out: &mut impl Write, from: u64, to: u64) -> io::Result<()> {
    old.seek(SeekFrom::Start(from))?;
    let n = io::copy(&mut old.take(to.saturating_sub(from)), out)?;
    if n != to.saturating_sub(from) {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file changed while it was rewritten",
        ));
    }
    Ok(())
}

/// What an erasure removed from `subscribers.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Removed {
    /// Rows dropped.
    pub rows: usize,
    /// The names they held (to scrub from free text elsewhere).
    pub names: Vec<String>,
}

/// Drops every row of `key` from `subscribers.csv`, keeping every other byte
/// of the file as it was. Nothing is written when the address has no row.
pub(crate) fn remove_from_list(path: &Path, key: &str) -> Result<Removed, EraseError> {
    let mut spans = Vec::new();
    let mut removed = Removed::default();
    walk(path, SUBSCRIBERS_HEADER, key, &HashSet::new(), |r, s, e| {
        let name = r.get("name").trim().to_string();
        if !name.is_empty() && !removed.names.contains(&name) {
            removed.names.push(name);
        }
        spans.push((s, e));
        Ok(())
    })?;
    removed.rows = spans.len();
    if spans.is_empty() {
        return Ok(removed);
    }
    replace(path, |old, out| {
        let len = old.metadata()?.len();
        let mut at = 0;
        for (s, e) in &spans {
            copy_range(old, out, at, *s)?;
            at = *e;
        }
        copy_range(old, out, at, len)
    })?;
    Ok(removed)
}

/// Rewrites the earlier rows of `key` in `suppressed.csv` to its pseudonym
/// (the address and `names` scrubbed from every field), keeps every other
/// row byte for byte, and appends a final `forgotten` row, in one atomic
/// replacement. Returns how many earlier rows were rewritten.
pub(crate) fn forget_in_suppression(
    path: &Path,
    key: &str,
    names: &[String],
    keyer: &Keyer,
    at: DateTime<Utc>,
) -> Result<usize, EraseError> {
    let pseudonym = keyer.pseudonym(key);
    let pseudonyms: HashSet<String> = keyer.pseudonyms(key).collect();
    let mut needles: Vec<&str> = vec![key];
    needles.extend(names.iter().map(String::as_str));
    // (start, end, new line)
    let mut rewrites: Vec<(u64, u64, Vec<u8>)> = Vec::new();
    let mut columns: Option<Vec<String>> = None;
    let existed = walk(path, SUPPRESSION_HEADER, key, &pseudonyms, |r, s, e| {
        let values: Vec<String> = r
            .fields
            .iter()
            .map(|(c, v)| {
                if c.eq_ignore_ascii_case("email") {
                    pseudonym.clone()
                } else {
                    scrub(v, &needles, &pseudonym)
                }
            })
            .collect();
        if columns.is_none() {
            columns = Some(r.fields.iter().map(|(c, _)| c.clone()).collect());
        }
        let mut line = Vec::new();
        write_csv_line(&mut line, &values).map_err(|source| EraseError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        rewrites.push((s, e, line));
        Ok(())
    })?;
    let columns = match columns {
        Some(c) => Some(c),
        None if existed => header_of(path)?,
        None => None,
    };
    let stamp = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut tail = Vec::new();
    let columns = match columns {
        Some(c) => c,
        None => {
            let names: Vec<String> = SUPPRESSION_HEADER.iter().map(|s| (*s).into()).collect();
            write_csv_line(&mut tail, &names).map_err(|source| EraseError::Write {
                path: path.to_path_buf(),
                source,
            })?;
            names
        }
    };
    let forgotten = SuppressionReason::Forgotten.as_str();
    let last: Vec<&str> = columns
        .iter()
        .map(|c| match c.to_ascii_lowercase().as_str() {
            "email" => pseudonym.as_str(),
            "reason" => &forgotten,
            "at" => stamp.as_str(),
            _ => "",
        })
        .collect();
    write_csv_line(&mut tail, &last).map_err(|source| EraseError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    let n = rewrites.len();
    replace(path, |old, out| {
        let len = old.metadata()?.len();
        let mut pos = 0;
        for (s, e, line) in &rewrites {
            copy_range(old, out, pos, *s)?;
            // Keep the row's own line ending when it had one.
            let mut ending_crlf = false;
            if *e >= s + 2 {
                let mut b = [0u8; 2];
                old.seek(SeekFrom::Start(e - 2))?;
                old.read_exact(&mut b)?;
                ending_crlf = &b == b"\r\n";
            }
            if ending_crlf {
                out.write_all(&line[..line.len() - 1])?;
                out.write_all(b"\r\n")?;
            } else {
                out.write_all(line)?;
            }
            pos = *e;
        }
        copy_range(old, out, pos, len)?;
        if len > 0 {
            old.seek(SeekFrom::Start(len - 1))?;
            let mut b = [0u8; 1];
            old.read_exact(&mut b)?;
            let ended = rewrites.last().is_some_and(|(_, e, _)| *e == len);
            if b[0] != b'\n' && !ended {
                out.write_all(b"\n")?;
            }
        }
        out.write_all(&tail)
    })?;
    Ok(n)
}

/// The header of an existing file; `None` when it is empty.
fn header_of(path: &Path) -> Result<Option<Vec<String>>, EraseError> {
    match Table::open(path, SUPPRESSION_HEADER, MAX_ROW_BYTES) {
        Ok(t) => Ok(t.header.map(|h| h.names)),
        Err(SubscribersError::Open { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::keyer::PURPOSE;
    use crate::list::suppression::Suppression;
    use crate::mail::token::Signer;
    use chrono::TimeZone;

    fn keyer_for(secret: &[u8]) -> Keyer {
        let s = Signer::new(secret);
        Keyer::new(move |k| s.sign(PURPOSE, k))
    }

    fn keyer() -> Keyer {
        keyer_for(b"secret")
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap()
    }

    #[test]
    fn scrub_is_case_insensitive_and_unicode_safe() {
        let cases = [
            (
                "550 <Ana@Example.com>: no such user",
                "550 <X>: no such user",
            ),
            ("ana@example.com ana@example.com", "X X"),
            ("nothing here", "nothing here"),
            ("ÉMILE", "ÉMILE"),
        ];
        for (text, want) in cases {
            assert_eq!(scrub(text, &["ana@example.com"], "X"), want, "{text}");
        }
        assert_eq!(scrub("for Émile Zola", &["émile zola"], "X"), "for X");
        assert_eq!(scrub("abc", &["", " "], "X"), "abc");
    }

    #[test]
    fn removing_keeps_every_other_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscribers.csv");
        let text = "\u{feff}email,name,subscribed_at\r\nana@example.com,Ana,\r\n\r\n ANA@example.com ,\"Ana, again\",\r\nbob@example.com,\"Bob\r\nB\",2026-01-01\r\nzed@example.com,Zed,";
        std::fs::write(&path, text).unwrap();
        let removed = remove_from_list(&path, "ana@example.com").unwrap();
        assert_eq!(removed.rows, 2);
        assert_eq!(removed.names, ["Ana", "Ana, again"]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "\u{feff}email,name,subscribed_at\r\n\r\nbob@example.com,\"Bob\r\nB\",2026-01-01\r\nzed@example.com,Zed,"
        );
        // The last row, without a newline.
        remove_from_list(&path, "zed@example.com").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "\u{feff}email,name,subscribed_at\r\n\r\nbob@example.com,\"Bob\r\nB\",2026-01-01\r\n"
        );
        // Nobody to remove: untouched.
        assert_eq!(
            remove_from_list(&path, "nobody@example.com").unwrap().rows,
            0
        );
        assert_eq!(
            remove_from_list(&dir.path().join("missing.csv"), "a@b.c")
                .unwrap()
                .rows,
            0
        );
    }

    #[test]
    fn rows_written_as_text_for_spreadsheets_are_found_and_shown_as_typed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscribers.csv");
        let name = "=HYPERLINK(\"http://x\",\"y\")";
        crate::list::append_subscriber(&path, "-ana@example.com", name, t0()).unwrap();
        crate::list::append_subscriber(&path, "bob@example.com", "Bob", t0()).unwrap();
        let rows = list_rows(&path, "-ana@example.com").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get("email"), "-ana@example.com");
        assert_eq!(rows[0].get("name"), name);
        let removed = remove_from_list(&path, "-ana@example.com").unwrap();
        assert_eq!(removed.names, [name]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "email,name,subscribed_at\nbob@example.com,Bob,2026-12-02T10:00:00Z\n"
        );
    }

    #[test]
    fn suppression_rows_become_pseudonyms_and_stay_suppressed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suppressed.csv");
        let text = "email,reason,at\r\nana@example.com,\"bounced: 550 <ana@example.com> Ana Lima unknown\",2026-01-01T00:00:00Z\r\nbob@example.com,unsubscribed,2026-01-02T00:00:00Z\r\nAna@Example.com,resubscribed,2026-01-03T00:00:00Z\r\n";
        std::fs::write(&path, text).unwrap();
        let k = keyer();
        let n = forget_in_suppression(&path, "ana@example.com", &["Ana Lima".into()], &k, t0())
            .unwrap();
        assert_eq!(n, 2);
        let p = k.pseudonym("ana@example.com");
        let got = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            got,
            format!(
                "email,reason,at\r\n{p},bounced: 550 <{p}> {p} unknown,2026-01-01T00:00:00Z\r\nbob@example.com,unsubscribed,2026-01-02T00:00:00Z\r\n{p},resubscribed,2026-01-03T00:00:00Z\r\n{p},forgotten,2026-12-02T10:00:00Z\n"
            )
        );
        assert!(!got.to_lowercase().contains("ana"), "{got}");
        let (set, problems) = Suppression::load(&path).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let set = set.keyed(k.clone());
        assert!(set.contains("ana@example.com") && set.is_forgotten("ana@example.com"));
        assert!(set.contains(&p));
        assert!(set.contains("bob@example.com") && !set.is_forgotten("bob@example.com"));
        assert!(!set.contains("carol@example.com"));
        // Without the keyer a set holding pseudonyms cannot tell: it fails closed.
        let (blind, _) = Suppression::load(&path).unwrap();
        assert!(blind.contains("carol@example.com"));
        // A show finds the rows by pseudonym.
        assert_eq!(
            suppression_rows(&path, "ana@example.com", &k)
                .unwrap()
                .len(),
            3
        );
        // A new file gets a header.
        let fresh = dir.path().join("new.csv");
        forget_in_suppression(&fresh, "ana@example.com", &[], &k, t0()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&fresh).unwrap(),
            format!("email,reason,at\n{p},forgotten,2026-12-02T10:00:00Z\n")
        );
    }

    #[test]
    fn an_append_waiting_on_an_erasure_lands_in_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suppressed.csv");
        std::fs::write(&path, "email,reason,at\nana@example.com,unsubscribed,x\n").unwrap();
        let held = open_locked(&path).unwrap();
        let p2 = path.clone();
        let appender = std::thread::spawn(move || {
            crate::list::append_suppression(&p2, "bob@example.com", "unsubscribed", t0())
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        // Replace the file while the appender waits on the old one's lock.
        std::fs::write(dir.path().join("n"), "email,reason,at\n").unwrap();
        std::fs::rename(dir.path().join("n"), &path).unwrap();
        drop(held);
        appender.join().unwrap().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("bob@example.com"), "{text}");
    }
}
