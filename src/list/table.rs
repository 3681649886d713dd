//! The CSV table both list files are read through: one row at a time,
//! capped row size, exact line numbers, and the field checks (address, date).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use lettre::Address;

use super::address::{self, AddressProblem, is_breaking};
use super::cell::unprotect;
use super::model::{RowProblem, SubscribersError};

/// Wraps the file to know where the input ends (for line numbers of a last
/// row without a trailing newline) and to cap the size of a single row.
pub(super) struct Tracked<R> {
    pub(super) inner: R,
    /// Bytes handed to the csv reader so far.
    pub(super) total: u64,
    /// Last byte handed over.
    pub(super) last: Option<u8>,
    /// The inner reader returned end-of-file.
    pub(super) eof: bool,
    /// Byte offset at which the row being read started.
    pub(super) row_start: u64,
    pub(super) limit: u64,
    pub(super) too_long: bool,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.total.saturating_sub(self.row_start) > self.limit {
            self.too_long = true;
            return Err(io::Error::other("row too long"));
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.eof = true;
        } else {
            self.total += n as u64;
            self.last = buf.get(n - 1).copied();
        }
        Ok(n)
    }
}

/// Header columns, trimmed, in file order.
pub(super) struct Header {
    pub(super) names: Vec<String>,
    pub(super) email: usize,
}

impl Header {
    pub(super) fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }
    pub(super) fn text(&self) -> String {
        show(&self.names.join(","))
    }
}

pub(super) struct Table<R> {
    pub(super) path: PathBuf,
    pub(super) csv: csv::Reader<Tracked<R>>,
    /// `None` for an empty file: no header, no rows.
    pub(super) header: Option<Header>,
    pub(super) record: csv::ByteRecord,
    pub(super) done: bool,
    pub(super) fatal: Option<SubscribersError>,
}

impl Table<File> {
    pub(super) fn open(
        path: &Path,
        expected: &[&str],
        limit: u64,
    ) -> Result<Self, SubscribersError> {
        let file = File::open(path).map_err(|source| SubscribersError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Table::new(path, file, expected, limit)
    }
}

impl<R: Read> Table<R> {
    pub(super) fn new(
        path: &Path,
        inner: R,
        expected: &[&str],
        limit: u64,
    ) -> Result<Self, SubscribersError> {
        let tracked = Tracked {
            inner,
            total: 0,
            last: None,
            eof: false,
            row_start: 0,
            limit,
            too_long: false,
        };
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            // Only LF ends a record; a CR before it stays in the last field
            // and is trimmed away. This keeps line counting exact for CRLF.
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(tracked);
        let raw = match csv.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                return Err(read_error(path, 1, e, csv.get_ref()));
            }
        };
        let header = parse_header(path, &raw, expected)?;
        Ok(Table {
            path: path.to_path_buf(),
            csv,
            header,
            record: csv::ByteRecord::new(),
            done: false,
            fatal: None,
        })
    }

    /// Advance to the next non-blank row, returning its first line. The row
    /// is left in `self.record`. A fatal read error ends the table: it is
    /// stored in `self.fatal` and also returned once as a `RowProblem`.
    pub(super) fn next_row(&mut self) -> Option<Result<u64, RowProblem>> {
        if self.done || self.header.is_none() {
            return None;
        }
        loop {
            let start = self.csv.position().clone();
            self.csv.get_mut().row_start = start.byte();
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) => {
                    if is_blank(&self.record) {
                        continue;
                    }
                    return Some(Ok(self.record_line()));
                }
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    let line = start.line();
                    let err = read_error(&self.path, line, e, self.csv.get_ref());
                    let problem = RowProblem {
                        path: self.path.clone(),
                        line,
                        last_line: line,
                        message: match &err {
                            SubscribersError::RowTooLong { limit, .. } => format!(
                                "row is longer than {limit} bytes (is a `\"` quote left open?); stopped reading the file here"
                            ),
                            SubscribersError::Read { source, .. } => {
                                format!("cannot read the rest of the file: {source}")
                            }
                            other => other.to_string(),
                        },
                    };
                    self.fatal = Some(err);
                    return Some(Err(problem));
                }
            }
        }
    }

    /// First line of the record just read, computed from where the reader
    /// stopped minus the newlines inside the record and its terminator.
    pub(super) fn record_line(&self) -> u64 {
        let after = self.csv.position();
        let t = self.csv.get_ref();
        let inner_newlines = self
            .record
            .as_slice()
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        let at_unterminated_end = t.eof && after.byte() == t.total && t.last != Some(b'\n');
        let terminator = u64::from(!at_unterminated_end);
        // If the file ends inside an open quote right after a newline, that
        // newline is not a terminator; the start position bounds the answer.
        after
            .line()
            .saturating_sub(inner_newlines + terminator)
            .max(self.record.position().map_or(1, csv::Position::line))
            .max(1)
    }

    pub(super) fn problem(&self, line: u64, message: String) -> RowProblem {
        RowProblem {
            path: self.path.clone(),
            line,
            last_line: self.last_line(line),
            message,
        }
    }

    /// The line the record just read ends on, given the line it starts on.
    pub(super) fn last_line(&self, line: u64) -> u64 {
        let slice = self.record.as_slice();
        let newlines = slice.iter().filter(|&&b| b == b'\n').count() as u64;
        line + newlines - u64::from(newlines > 0 && slice.ends_with(b"\n"))
    }

    /// "expected 3 fields (email,name,subscribed_at), found 5" plus a hint.
    pub(super) fn count_problem(&self, header: &Header, line: u64) -> RowProblem {
        let found = self.record.len();
        let expected = header.names.len();
        let mut message = format!(
            "expected {expected} fields ({}), found {found}",
            header.text()
        );
        let last_line = self.last_line(line);
        if last_line > line {
            message.push_str(&format!(
                " (this row runs from line {line} to line {last_line}: is a `\"` quote left open?)"
            ));
        } else if found > expected {
            message.push_str(" (put double quotes around a value that contains a comma)");
        }
        self.problem(line, message)
    }
}

pub(super) fn read_error<R>(
    path: &Path,
    line: u64,
    e: csv::Error,
    tracked: &Tracked<R>,
) -> SubscribersError {
    if tracked.too_long {
        return SubscribersError::RowTooLong {
            path: path.to_path_buf(),
            line,
            limit: tracked.limit,
        };
    }
    let source = match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
    };
    SubscribersError::Read {
        path: path.to_path_buf(),
        line,
        source,
    }
}

pub(super) fn parse_header(
    path: &Path,
    raw: &csv::ByteRecord,
    expected: &[&str],
) -> Result<Option<Header>, SubscribersError> {
    if raw.is_empty() || is_blank(raw) {
        return Ok(None);
    }
    let mut names = Vec::with_capacity(raw.len());
    for (i, field) in raw.iter().enumerate() {
        let s = std::str::from_utf8(field).map_err(|_| SubscribersError::HeaderNotUtf8 {
            path: path.to_path_buf(),
        })?;
        let s = if i == 0 {
            s.trim_start_matches('\u{feff}')
        } else {
            s
        };
        names.push(s.trim().to_string());
    }
    for known in expected {
        if names
            .iter()
            .filter(|n| n.eq_ignore_ascii_case(known))
            .count()
            > 1
        {
            return Err(SubscribersError::DuplicateColumn {
                path: path.to_path_buf(),
                column: (*known).to_string(),
            });
        }
    }
    let Some(email) = names.iter().position(|n| n.eq_ignore_ascii_case("email")) else {
        let found = if names.iter().all(|n| n.is_empty()) {
            "no column names".to_string()
        } else {
            let mut list: Vec<String> = names
                .iter()
                .take(10)
                .map(|n| format!("`{}`", show(n)))
                .collect();
            if names.len() > 10 {
                list.push(format!("and {} more", names.len() - 10));
            }
            list.join(", ")
        };
        return Err(SubscribersError::MissingEmailColumn {
            path: path.to_path_buf(),
            found,
            expected: expected.join(","),
        });
    };
    Ok(Some(Header { names, email }))
}

/// A row with a single field that is empty or only whitespace (including a
/// lone `\r` from a CRLF blank line).
/// A line inside a quoted value that starts with an address and a comma, as
/// a subscriber row does: the sign of a `"` left open that swallowed the rows
/// after it. A name or note that merely spans lines has no such line.
pub(super) fn swallowed_row<'a>(fields: &[&'a str]) -> Option<&'a str> {
    fields
        .iter()
        .flat_map(|f| f.split('\n').skip(1))
        .find(|line| {
            line.split_once(',')
                .is_some_and(|(first, _)| parse_email(first.trim().trim_matches('"')).is_ok())
        })
}

pub(super) fn is_blank(record: &csv::ByteRecord) -> bool {
    record.len() == 1 && record.as_slice().iter().all(u8::is_ascii_whitespace)
}

/// Decode every field with [`text`]; `None` if any is not UTF-8.
pub(super) fn decode(record: &csv::ByteRecord) -> Option<Vec<&str>> {
    record.iter().map(text).collect()
}

/// A field's value: UTF-8, with the quote a writer put in front of a
/// formula-like value taken off again (`cell`); `None` if not UTF-8. Every
/// reader of a list file takes its fields through here.
pub(super) fn text(field: &[u8]) -> Option<&str> {
    std::str::from_utf8(field).ok().map(unprotect)
}

// ---------------------------------------------------------------------------
// Field validation.

/// Value for a message: control characters escaped, cut at 60 characters.
pub(super) fn show(value: &str) -> String {
    const MAX: usize = 60;
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if is_breaking(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Validate an address field; `Err` holds the row message.
pub(super) fn parse_email(raw: &str) -> Result<Address, String> {
    address::check(raw).map_err(|p| match p {
        AddressProblem::Empty => "empty `email` field".to_string(),
        AddressProblem::TooLong => format!(
            "`{}` is not a valid email address (longer than 254 characters)",
            show(raw.trim())
        ),
        AddressProblem::Invalid { hint } => format!(
            "`{}` is not a valid email address ({hint})",
            show(raw.trim())
        ),
    })
}

/// RFC 3339 or plain `YYYY-MM-DD` (midnight UTC); empty means `None`.
pub(super) fn parse_date(raw: &str, column: &str) -> Result<Option<DateTime<FixedOffset>>, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(Some(t));
    }
    let b = value.as_bytes();
    let date_shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    // `FromStr` is chrono's fast path for exactly this ISO 8601 shape.
    if date_shaped && let Ok(d) = value.parse::<NaiveDate>() {
        return Ok(Some(d.and_time(NaiveTime::MIN).and_utc().fixed_offset()));
    }
    Err(format!(
        "`{}` in `{column}` is not a date (use RFC 3339 like 2026-09-14T10:22:00Z, or YYYY-MM-DD)",
        show(value)
    ))
}
