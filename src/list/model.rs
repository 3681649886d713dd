//! The list's shared vocabulary: the CSV headers and limits, a subscriber row,
//! a skipped row, and the errors that stop reading a file.
//!
//! Owns these types only; reading, appending and checking rows are in their
//! own files.

use std::fmt;
use std::io;
use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use lettre::Address;

/// Header written to a new `subscribers.csv`.
pub const SUBSCRIBERS_HEADER: &[&str] = &["email", "name", "subscribed_at"];
/// Header written to a new `suppressed.csv`.
pub const SUPPRESSION_HEADER: &[&str] = &["email", "reason", "at"];
/// Names longer than this many characters are truncated (on a char boundary).
pub const MAX_NAME_CHARS: usize = 200;
/// A single row (including any quoted newlines) may not exceed this size.
pub const MAX_ROW_BYTES: u64 = 16 * 1024 * 1024;

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
