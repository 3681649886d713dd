//! Reading list files for `subscribers import`: the check that a list is
//! whole before anything is written, and the suppression file's rows with
//! the address, reason and time of each suppressed key's last row.
//!
//! Owns what an import reads and the errors that stop it. It must not write
//! anywhere: the command hands what this returns to the store.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};

use super::active::ListError;
use super::address::normalize;
use super::model::{MAX_ROW_BYTES, RowProblem, SUPPRESSION_HEADER, SubscribersError};
use super::reader::SubscriberReader;
use super::reason::SuppressionReason;
use super::suppression::Suppression;
use super::table::{Table, text};

/// Why an import stops.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file cannot be opened, or its header cannot be used.
    #[error(transparent)]
    Unreadable(#[from] SubscribersError),
    /// A row spanning lines is not one good row: a `"` left open swallowed
    /// the rows after it.
    #[error(transparent)]
    Torn(#[from] ListError),
    /// The file could not be read to its end, found before anything was written.
    #[error("{source}; nothing was imported: fix the file and import it again")]
    Stopped {
        /// Why reading stopped.
        source: SubscribersError,
    },
    /// The file could not be read to its end, found after the rows before
    /// the stop were written.
    #[error(
        "{source}; the {imported} row(s) before it were imported: fix the file and import it again (importing twice changes nothing)"
    )]
    StoppedAfter {
        /// Why reading stopped.
        source: SubscribersError,
        /// Rows written before it.
        imported: u64,
    },
}

/// One suppressed reader as the suppression file last states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SuppressionRecord {
    /// Normalized address (or the pseudonym of an erased reader).
    pub key: String,
    /// The address as written.
    pub address: String,
    /// Why; `imported` ([`SuppressionReason::Imported`]) when the row gives none.
    pub reason: String,
    /// When (RFC 3339); the import's own time when the row gives none.
    pub at: String,
}

/// Refuses a list that is not whole, before anything is written: a row
/// spanning lines that is not one good row, or a read that stops early.
/// The rules a send's freeze follows.
pub(crate) fn refuse_torn(path: &Path) -> Result<(), ImportError> {
    let mut reader = SubscriberReader::open(path)?;
    for row in reader.by_ref() {
        if let Err(p) = row
            && p.last_line > p.line
        {
            return Err(ListError::TornRow(p).into());
        }
    }
    reader
        .finish()
        .map_err(|source| ImportError::Stopped { source })
}

/// The suppressed readers of a suppression file (resolved as a send
/// resolves it: later rows win, `resubscribed` lifts), each with the
/// address, reason and time of its last row, sorted by key; and the rows
/// that were skipped, with file and line. A file that is missing, has no
/// `email` column or cannot be read to its end is an error.
pub(crate) fn read_suppressions(
    path: &Path,
    now: DateTime<Utc>,
) -> Result<(Vec<SuppressionRecord>, Vec<RowProblem>), ImportError> {
    // Opened first so that a missing file is an error, not an empty list.
    let mut table = Table::open(path, SUPPRESSION_HEADER, MAX_ROW_BYTES)?;
    let (set, problems) =
        Suppression::load(path).map_err(|source| ImportError::Stopped { source })?;
    let Some((email, reason, at)) = table
        .header
        .as_ref()
        .map(|h| (h.email, h.find("reason"), h.find("at")))
    else {
        return Ok((Vec::new(), problems));
    };
    let stamp = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut last: HashMap<String, SuppressionRecord> = HashMap::new();
    while let Some(row) = table.next_row() {
        if row.is_err() {
            break; // fatal: returned below
        }
        let record = &table.record;
        // A row without a readable address is among `problems` already.
        let Some(address) = record.get(email).and_then(text).map(str::trim) else {
            continue;
        };
        let key = normalize(address);
        if !set.contains(&key) {
            continue;
        }
        let field = |i: Option<usize>, default: &str| {
            i.and_then(|i| record.get(i))
                .map(|v| {
                    text(v).map_or_else(|| String::from_utf8_lossy(v).into_owned(), Into::into)
                })
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let entry = SuppressionRecord {
            address: address.to_string(),
            reason: field(reason, &SuppressionReason::Imported.as_str()),
            at: field(at, &stamp),
            key: key.clone(),
        };
        last.insert(key, entry);
    }
    if let Some(source) = table.fatal.take() {
        return Err(ImportError::Stopped { source });
    }
    let mut rows: Vec<_> = last.into_values().collect();
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    Ok((rows, problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn suppressions_keep_each_keys_last_row_and_report_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suppressed.csv");
        std::fs::write(
            &path,
            b"email,reason,at\n\
              Ann@Example.com,bounced,2026-01-01T00:00:00Z\n\
              bad@@example.com,x,y\n\
              \xff@example.com,x,y\n\
              ann@example.com,complaint,2026-02-01T00:00:00Z\n\
              bob@example.com,unsubscribed,2026-03-01T00:00:00Z\n\
              bob@example.com,resubscribed,2026-04-01T00:00:00Z\n\
              '-dash@example.com,'-by hand,\n\
              cy@example.com\n",
        )
        .unwrap();
        let (rows, problems) = read_suppressions(&path, now()).unwrap();
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.key.as_str(),
                    r.address.as_str(),
                    r.reason.as_str(),
                    r.at.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "-dash@example.com",
                    "-dash@example.com",
                    "-by hand",
                    "2026-12-01T09:00:00Z"
                ),
                (
                    "ann@example.com",
                    "ann@example.com",
                    "complaint",
                    "2026-02-01T00:00:00Z"
                ),
                (
                    "cy@example.com",
                    "cy@example.com",
                    "imported",
                    "2026-12-01T09:00:00Z"
                ),
            ]
        );
        let lines: Vec<_> = problems
            .iter()
            .map(|p| (p.path.clone(), p.line, p.message.as_str()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (
                    path.clone(),
                    3,
                    "`bad@@example.com` is not a valid email address (it has more than one `@`)"
                ),
                (
                    path.clone(),
                    4,
                    "row is not valid UTF-8 (save the file as UTF-8)"
                ),
            ]
        );
    }

    #[test]
    fn a_missing_or_unfinished_suppression_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.csv");
        let err = read_suppressions(&missing, now()).unwrap_err();
        assert!(
            matches!(err, ImportError::Unreadable(SubscribersError::Open { .. })),
            "{err}"
        );
    }

    #[test]
    fn a_torn_list_is_refused_and_a_multi_line_name_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let torn = dir.path().join("torn.csv");
        std::fs::write(
            &torn,
            "email,name\nana@example.com,Ana\njo@example.com,\"Jo\nkim@example.com,Kim\n",
        )
        .unwrap();
        let err = refuse_torn(&torn).unwrap_err();
        assert!(
            err.to_string()
                .contains("torn.csv:3: this row runs from line 3 to line 4"),
            "{err}"
        );
        let fine = dir.path().join("fine.csv");
        std::fs::write(&fine, "email,name\nana@example.com,\"Ana\nLima\"\n").unwrap();
        refuse_torn(&fine).unwrap();
    }
}
