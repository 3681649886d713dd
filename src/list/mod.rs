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

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, Utc};
use lettre::Address;
use lettre::address::AddressError;

/// Header written to a new `subscribers.csv`.
pub const SUBSCRIBERS_HEADER: &[&str] = &["email", "name", "subscribed_at"];
/// Header written to a new `suppressed.csv`.
pub const SUPPRESSION_HEADER: &[&str] = &["email", "reason", "at"];
/// The `reason` that lifts an earlier suppression of the same address.
pub const RESUBSCRIBED: &str = "resubscribed";
/// Names longer than this many characters are truncated (on a char boundary).
pub const MAX_NAME_CHARS: usize = 200;
/// A single row (including any quoted newlines) may not exceed this size.
pub const MAX_ROW_BYTES: u64 = 16 * 1024 * 1024;
/// Longest address accepted (RFC 5321 path limit minus the angle brackets).
const MAX_EMAIL_CHARS: usize = 254;

/// One subscriber row that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// Trimmed, validated address, with its original case.
    pub email: Address,
    /// Normalized address (trimmed, lowercased); used for dedupe, suppression and tokens.
    pub key: String,
    /// Cleaned display name; may be empty.
    pub name: String,
    /// RFC 3339 timestamp, or a plain `YYYY-MM-DD` taken as midnight UTC.
    pub subscribed_at: Option<DateTime<FixedOffset>>,
    /// 1-based line on which the row starts (the header is line 1).
    pub line: u64,
}

/// One bad row: reported as `{path}:{line}: {message}; row skipped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub path: PathBuf,
    /// The line the row starts on.
    pub line: u64,
    /// The line it ends on: after `line` only for a record spanning lines
    /// (a quoted newline, or a `"` left open).
    pub last_line: u64,
    pub message: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}; row skipped",
            self.path.display(),
            self.line,
            self.message
        )
    }
}

/// Fatal problems: the file as a whole cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SubscribersError {
    #[error("cannot open `{path}`: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot read `{path}` near line {line}: {source}")]
    Read {
        path: PathBuf,
        line: u64,
        source: io::Error,
    },
    #[error(
        "`{path}` has no `email` column (found {found}); the first line must be a header like `{expected}`"
    )]
    MissingEmailColumn {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("`{path}`: column `{column}` appears more than once in the header")]
    DuplicateColumn { path: PathBuf, column: String },
    #[error("`{path}`: the header line is not valid UTF-8 (save the file as UTF-8)")]
    HeaderNotUtf8 { path: PathBuf },
    #[error(
        "`{path}`:{line}: row is longer than {limit} bytes (is a `\"` quote left open?); stopped reading"
    )]
    RowTooLong {
        path: PathBuf,
        line: u64,
        limit: u64,
    },
}

/// Normalize an address into the key used for dedupe, suppression and tokens.
pub fn normalize(address: &str) -> String {
    address.trim().to_lowercase()
}

// ---------------------------------------------------------------------------
// Low-level streaming table reader shared by both files.

/// Wraps the file to know where the input ends (for line numbers of a last
/// row without a trailing newline) and to cap the size of a single row.
struct Tracked<R> {
    inner: R,
    /// Bytes handed to the csv reader so far.
    total: u64,
    /// Last byte handed over.
    last: Option<u8>,
    /// The inner reader returned end-of-file.
    eof: bool,
    /// Byte offset at which the row being read started.
    row_start: u64,
    limit: u64,
    too_long: bool,
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
struct Header {
    names: Vec<String>,
    email: usize,
}

impl Header {
    fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }
    fn text(&self) -> String {
        show(&self.names.join(","))
    }
}

struct Table<R> {
    path: PathBuf,
    csv: csv::Reader<Tracked<R>>,
    /// `None` for an empty file: no header, no rows.
    header: Option<Header>,
    record: csv::ByteRecord,
    done: bool,
    fatal: Option<SubscribersError>,
}

impl Table<File> {
    fn open(path: &Path, expected: &[&str], limit: u64) -> Result<Self, SubscribersError> {
        let file = File::open(path).map_err(|source| SubscribersError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Table::new(path, file, expected, limit)
    }
}

impl<R: Read> Table<R> {
    fn new(path: &Path, inner: R, expected: &[&str], limit: u64) -> Result<Self, SubscribersError> {
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
    fn next_row(&mut self) -> Option<Result<u64, RowProblem>> {
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
    fn record_line(&self) -> u64 {
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

    fn problem(&self, line: u64, message: String) -> RowProblem {
        RowProblem {
            path: self.path.clone(),
            line,
            last_line: self.last_line(line),
            message,
        }
    }

    /// The line the record just read ends on, given the line it starts on.
    fn last_line(&self, line: u64) -> u64 {
        let slice = self.record.as_slice();
        let newlines = slice.iter().filter(|&&b| b == b'\n').count() as u64;
        line + newlines - u64::from(newlines > 0 && slice.ends_with(b"\n"))
    }

    /// "expected 3 fields (email,name,subscribed_at), found 5" plus a hint.
    fn count_problem(&self, header: &Header, line: u64) -> RowProblem {
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

fn read_error<R>(path: &Path, line: u64, e: csv::Error, tracked: &Tracked<R>) -> SubscribersError {
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

fn parse_header(
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
fn swallowed_row<'a>(fields: &[&'a str]) -> Option<&'a str> {
    fields
        .iter()
        .flat_map(|f| f.split('\n').skip(1))
        .find(|line| {
            line.split_once(',')
                .is_some_and(|(first, _)| parse_email(first.trim().trim_matches('"')).is_ok())
        })
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record.len() == 1 && record.as_slice().iter().all(u8::is_ascii_whitespace)
}

/// Decode every field; `None` if any is not UTF-8.
fn decode(record: &csv::ByteRecord) -> Option<Vec<&str>> {
    record.iter().map(|f| std::str::from_utf8(f).ok()).collect()
}

// ---------------------------------------------------------------------------
// Field validation.

/// Value for a message: control characters escaped, cut at 60 characters.
fn show(value: &str) -> String {
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

fn is_breaking(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{0085}')
}

/// Replace control characters and line/paragraph separators with spaces,
/// collapse runs of spaces, trim, and keep at most `max_chars` characters.
fn clean_text(value: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0usize;
    for c in value.chars() {
        let c = if is_breaking(c) { ' ' } else { c };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if count == max_chars {
            break;
        }
        out.push(c);
        count += 1;
    }
    out.trim().to_string()
}

/// Validate an address field; `Err` holds the row message.
fn parse_email(raw: &str) -> Result<Address, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("empty `email` field".to_string());
    }
    let invalid = |hint: &str| format!("`{}` is not a valid email address ({hint})", show(value));
    if value.chars().count() > MAX_EMAIL_CHARS {
        return Err(invalid("longer than 254 characters"));
    }
    value.parse::<Address>().map_err(|e| {
        let hint = if value.contains(['<', '>']) {
            "write only the address, without a name or `<>`"
        } else if value.chars().any(char::is_whitespace) {
            "it contains a space"
        } else if !value.contains('@') {
            "it has no `@`"
        } else if value.matches('@').count() > 1 {
            "it has more than one `@`"
        } else if e == AddressError::InvalidDomain {
            "the part after `@` is not a valid domain"
        } else {
            "the part before `@` is not valid"
        };
        invalid(hint)
    })
}

/// RFC 3339 or plain `YYYY-MM-DD` (midnight UTC); empty means `None`.
fn parse_date(raw: &str, column: &str) -> Result<Option<DateTime<FixedOffset>>, String> {
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

// ---------------------------------------------------------------------------
// Subscribers.

/// Streaming reader over `subscribers.csv`. Yields `Ok(Subscriber)` or
/// `Err(RowProblem)` per data row, in file order, skipping blank lines.
/// Does not dedupe (see [`Dedupe`]) or apply suppression (see [`load_list`]).
///
/// If the file cannot be read to the end (I/O error, or a row longer than
/// [`MAX_ROW_BYTES`]) the iterator yields one last `RowProblem` and stops;
/// call [`SubscriberReader::finish`] afterwards to get the fatal error:
///
/// ```no_run
/// # use tipsheet::list::SubscriberReader;
/// # fn f() -> Result<(), tipsheet::list::SubscribersError> {
/// let mut reader = SubscriberReader::open("subscribers/subscribers.csv".as_ref())?;
/// for row in reader.by_ref() {
///     match row {
///         Ok(sub) => println!("{}", sub.email),
///         Err(problem) => eprintln!("{problem}"),
///     }
/// }
/// reader.finish()?;
/// # Ok(()) }
/// ```
pub struct SubscriberReader {
    table: Table<File>,
    name: Option<usize>,
    subscribed_at: Option<usize>,
}

impl SubscriberReader {
    /// Open the file and read its header. Fails if the file cannot be opened
    /// or the header has no `email` column. An empty file yields no rows.
    pub fn open(path: &Path) -> Result<Self, SubscribersError> {
        Self::open_with_limit(path, MAX_ROW_BYTES)
    }

    fn open_with_limit(path: &Path, limit: u64) -> Result<Self, SubscribersError> {
        let table = Table::open(path, SUBSCRIBERS_HEADER, limit)?;
        let (name, subscribed_at) = match &table.header {
            Some(h) => (h.find("name"), h.find("subscribed_at")),
            None => (None, None),
        };
        Ok(SubscriberReader {
            table,
            name,
            subscribed_at,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.table.path
    }

    /// Header column names as found in the file (empty for an empty file).
    pub fn columns(&self) -> &[String] {
        self.table.header.as_ref().map_or(&[], |h| &h.names)
    }

    /// `Err` if reading stopped early because of a fatal error.
    pub fn finish(self) -> Result<(), SubscribersError> {
        match self.table.fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn subscriber(&self, line: u64) -> Result<Subscriber, RowProblem> {
        let table = &self.table;
        let Some(header) = &table.header else {
            return Err(table.problem(line, "no header".to_string()));
        };
        if table.record.len() != header.names.len() {
            return Err(table.count_problem(header, line));
        }
        let Some(fields) = decode(&table.record) else {
            return Err(table.problem(
                line,
                "row is not valid UTF-8 (save the file as UTF-8)".to_string(),
            ));
        };
        let field = |i: Option<usize>| i.and_then(|i| fields.get(i).copied()).unwrap_or("");
        if let Some(row) = swallowed_row(&fields) {
            return Err(table.problem(
                line,
                format!(
                    "a quoted value holds a line that reads as a row of its own (`{}`)",
                    show(row)
                ),
            ));
        }
        let email = parse_email(field(Some(header.email))).map_err(|m| table.problem(line, m))?;
        let subscribed_at = parse_date(field(self.subscribed_at), "subscribed_at")
            .map_err(|m| table.problem(line, m))?;
        Ok(Subscriber {
            key: normalize(email.as_ref()),
            email,
            name: clean_text(field(self.name), MAX_NAME_CHARS),
            subscribed_at,
            line,
        })
    }
}

impl Iterator for SubscriberReader {
    type Item = Result<Subscriber, RowProblem>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.table.next_row()? {
            Ok(line) => Some(self.subscriber(line)),
            Err(problem) => Some(Err(problem)),
        }
    }
}

/// Case-insensitive duplicate detection by `key`: the first occurrence wins.
/// Memory grows with the number of distinct addresses seen.
#[derive(Debug, Default)]
pub struct Dedupe {
    /// A 128-bit fingerprint of each key (two independently keyed SipHashes)
    /// to the line it was first seen on: about 40 MB for a million rows where
    /// the keys themselves would take three times that. Two distinct
    /// addresses collide with probability ~2^-128 per pair.
    seen: HashMap<u128, u64>,
    hashers: (std::hash::RandomState, std::hash::RandomState),
}

impl Dedupe {
    pub fn new() -> Self {
        Self::default()
    }

    /// `Ok` the first time a key is seen; later occurrences give a note like
    /// "`Bob@Example.com` duplicates line 3".
    pub fn check(&mut self, path: &Path, sub: &Subscriber) -> Result<(), RowProblem> {
        use std::hash::BuildHasher;
        let fingerprint = (u128::from(self.hashers.0.hash_one(&sub.key)) << 64)
            | u128::from(self.hashers.1.hash_one(&sub.key));
        match self.seen.get(&fingerprint) {
            Some(&first) => Err(RowProblem {
                path: path.to_path_buf(),
                line: sub.line,
                last_line: sub.line,
                message: format!("`{}` duplicates line {first}", sub.email),
            }),
            None => {
                self.seen.insert(fingerprint, sub.line);
                Ok(())
            }
        }
    }

    /// Number of distinct keys seen.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

// ---------------------------------------------------------------------------
// Suppression.

/// Normalized keys currently suppressed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suppression {
    keys: HashSet<String>,
}

impl Suppression {
    /// Load `suppressed.csv`. A missing file is an empty set. Bad rows are
    /// returned as problems; the set is built from the rest.
    ///
    /// The list fails closed: a row with a valid address but the wrong
    /// number of fields still suppresses that address (and is not reported),
    /// unless its reason is `resubscribed`, in which case it is reported and
    /// skipped. The `at` column is not checked.
    pub fn load(path: &Path) -> Result<(Self, Vec<RowProblem>), SubscribersError> {
        Self::load_with_limit(path, MAX_ROW_BYTES)
    }

    fn load_with_limit(
        path: &Path,
        limit: u64,
    ) -> Result<(Self, Vec<RowProblem>), SubscribersError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((Self::default(), Vec::new()));
            }
            Err(source) => {
                return Err(SubscribersError::Open {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let mut table = Table::new(path, file, SUPPRESSION_HEADER, limit)?;
        let reason_col = table.header.as_ref().and_then(|h| h.find("reason"));
        let mut set = Self::default();
        let mut problems = Vec::new();
        while let Some(row) = table.next_row() {
            let line = match row {
                Ok(line) => line,
                Err(_) => break, // fatal, returned below
            };
            let Some(header) = &table.header else { break };
            let record = &table.record;
            let Some(raw_email) = record.get(header.email) else {
                problems.push(table.count_problem(header, line));
                continue;
            };
            let Ok(raw_email) = std::str::from_utf8(raw_email) else {
                problems.push(table.problem(
                    line,
                    "row is not valid UTF-8 (save the file as UTF-8)".to_string(),
                ));
                continue;
            };
            let email = match parse_email(raw_email) {
                Ok(a) => a,
                Err(m) => {
                    problems.push(table.problem(line, m));
                    continue;
                }
            };
            let resubscribe = reason_col
                .and_then(|i| record.get(i))
                .and_then(|r| std::str::from_utf8(r).ok())
                .is_some_and(|r| r.trim().eq_ignore_ascii_case(RESUBSCRIBED));
            let key = normalize(email.as_ref());
            if record.len() != header.names.len() {
                if resubscribe {
                    problems.push(table.count_problem(header, line));
                } else {
                    set.keys.insert(key);
                }
            } else if resubscribe {
                set.keys.remove(&key);
            } else {
                set.keys.insert(key);
            }
        }
        match table.fatal {
            Some(e) => Err(e),
            None => Ok((set, problems)),
        }
    }

    /// Whether an already-normalized key is suppressed.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

// ---------------------------------------------------------------------------
// Appending.

/// Append one suppression record (`email,reason,at`, `at` in RFC 3339 UTC).
/// Creates the file with its header if missing or empty. The reason has
/// control characters (CR, LF, ...) replaced by spaces and is CSV-quoted as
/// needed. Fails with `InvalidInput` if `email` is not a valid address.
pub fn append_suppression(
    path: &Path,
    email: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> io::Result<()> {
    let email = checked_email(email)?;
    let reason = clean_text(reason, usize::MAX);
    let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    append_row(
        path,
        SUPPRESSION_HEADER,
        &[("email", email.as_ref()), ("reason", &reason), ("at", &at)],
    )
}

/// Append one subscriber row (`email,name,subscribed_at`), adding the header
/// if the file is new or empty and a newline if the file does not end with
/// one. The name is cleaned like names read from the file. Fails with
/// `InvalidInput` if `email` is not a valid address.
pub fn append_subscriber(
    path: &Path,
    email: &str,
    name: &str,
    at: DateTime<Utc>,
) -> io::Result<()> {
    let email = checked_email(email)?;
    let name = clean_text(name, MAX_NAME_CHARS);
    let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    append_row(
        path,
        SUBSCRIBERS_HEADER,
        &[
            ("email", email.as_ref()),
            ("name", &name),
            ("subscribed_at", &at),
        ],
    )
}

fn checked_email(email: &str) -> io::Result<Address> {
    parse_email(email).map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))
}

/// Lock, inspect, and append `values` in the order of the file's header
/// (or `header` for a new file) with one `write_all`.
fn append_row(path: &Path, header: &[&str], values: &[(&str, &str)]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    file.lock()?;
    let mut buf = Vec::new();
    let len = file.metadata()?.len();
    let mut columns = None;
    if len > 0 {
        file.seek(SeekFrom::End(-1))?;
        let mut last = [0u8; 1];
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            buf.push(b'\n');
        }
        file.seek(SeekFrom::Start(0))?;
        columns = existing_header(path, &mut file, header)?;
    }
    let columns = match columns {
        Some(c) => c,
        None => {
            let names: Vec<String> = header.iter().map(|s| (*s).to_string()).collect();
            write_csv_line(&mut buf, &names)?;
            names
        }
    };
    let row: Vec<&str> = columns
        .iter()
        .map(|c| {
            values
                .iter()
                .find(|(name, _)| c.eq_ignore_ascii_case(name))
                .map_or("", |(_, v)| *v)
        })
        .collect();
    write_csv_line(&mut buf, &row)?;
    file.write_all(&buf)?;
    file.flush()?;
    file.sync_data()
    // The lock is released when `file` is dropped.
}

/// Header of an existing file; `None` if it has none (blank content).
fn existing_header(
    path: &Path,
    file: &mut File,
    expected: &[&str],
) -> io::Result<Option<Vec<String>>> {
    match Table::new(path, file, expected, MAX_ROW_BYTES) {
        Ok(t) => Ok(t.header.map(|h| h.names)),
        Err(SubscribersError::Open { source, .. } | SubscribersError::Read { source, .. }) => {
            Err(source)
        }
        Err(e) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{e}; not appending"),
        )),
    }
}

fn write_csv_line<S: AsRef<[u8]>>(buf: &mut Vec<u8>, fields: &[S]) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(buf);
    w.write_record(fields).map_err(io::Error::other)?;
    w.flush()
}

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
    use chrono::TimeZone;
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
    fn normalize_trims_and_lowercases() {
        assert_eq!(normalize("  Bob@Example.COM\t"), "bob@example.com");
        assert_eq!(normalize("ÉMILE@Exemple.fr"), "émile@exemple.fr");
    }
}
