//! The active list, streamed: the subscriber file read row by row,
//! deduplicated (first row wins) and without the suppressed, with every
//! skipped row kept as a warning and a torn row or an early stop as an error.
//!
//! Owns what "who is on the list" means for the file engine's freeze, for
//! `preview`, `send --dry-run` and `check`. It must not know about issues,
//! the ledger or mail.

use std::path::{Path, PathBuf};

use super::dedupe::Dedupe;
use super::keyer::Keyer;
use super::model::{RowProblem, Subscriber, SubscribersError};
use super::reader::SubscriberReader;
use super::suppression::Suppression;
use crate::diagnostic::Diagnostic;

/// Why the list cannot be used whole.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The list cannot be read.
    #[error(transparent)]
    Subscribers(#[from] SubscribersError),
    /// A row spanning several lines that is not one good row: a `"` left
    /// open swallowed the rows after it.
    #[error(
        "{}:{}: this row runs from line {} to line {} and is not one valid row ({}): is a `\"` quote left open? close or remove it so the rows after it are read, then run `tipsheet check`; nothing is sent until then",
        .0.path.display(), .0.line, .0.line, .0.last_line, torn_detail(&.0.message)
    )]
    TornRow(RowProblem),
}

/// What is wrong with a torn row, without the reader's own "runs from line" hint.
fn torn_detail(message: &str) -> &str {
    message
        .split(" (this row runs from line")
        .next()
        .unwrap_or(message)
}

/// Counts of the list as it stands now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ListCounts {
    /// Would be mailed.
    pub active: usize,
    /// On the suppression list.
    pub suppressed: usize,
    /// Rows skipped as invalid.
    pub invalid: usize,
    /// Rows skipped as duplicates.
    pub duplicates: usize,
}

/// The active subscribers, streamed: deduplicated (first row wins) and not
/// suppressed. Skipped rows are collected as warnings in `diags`, and `counts`
/// is complete once the iterator is exhausted.
///
/// A list that cannot be read to its end (an I/O error, a row over the size
/// cap) ends the stream with an `Err` item, and a torn multi-line row is an
/// `Err` item too: whoever consumes the stream sees it, so a partial list is
/// never taken for the whole.
pub(crate) struct Active {
    reader: Option<SubscriberReader>,
    dedupe: Dedupe,
    suppression: Suppression,
    path: PathBuf,
    /// What was seen so far.
    pub counts: ListCounts,
    /// Rows skipped so far, as warnings.
    pub diags: Vec<Diagnostic>,
}

/// Opens the list `subscribers` and the suppression list `suppressed` for
/// streaming; erased readers' keyed hashes are recognised through `keyer`.
pub(crate) fn active(
    subscribers: &Path,
    suppressed: &Path,
    keyer: Option<Keyer>,
) -> Result<Active, ListError> {
    let (suppression, problems) = Suppression::load(suppressed)?;
    // Erased readers are held as keyed hashes: lookups need the secret.
    let suppression = match keyer {
        Some(k) => suppression.keyed(k),
        None => suppression,
    };
    Ok(Active {
        reader: Some(SubscriberReader::open(subscribers)?),
        dedupe: Dedupe::new(),
        suppression,
        path: subscribers.to_path_buf(),
        counts: ListCounts::default(),
        diags: problems.into_iter().map(row_warning).collect(),
    })
}

impl Iterator for Active {
    type Item = Result<Subscriber, ListError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = self.reader.as_mut()?;
        for row in reader.by_ref() {
            match row {
                Ok(s) => {
                    if let Err(p) = self.dedupe.check(&self.path, &s) {
                        self.counts.duplicates += 1;
                        self.diags.push(row_warning(p));
                    } else if self.suppression.contains(&s.key) {
                        self.counts.suppressed += 1;
                    } else {
                        self.counts.active += 1;
                        return Some(Ok(s));
                    }
                }
                Err(p) if p.last_line > p.line => {
                    // Reading goes on (`check` reports every problem), but
                    // whoever consumes the stream sees the error.
                    self.counts.invalid += 1;
                    return Some(Err(ListError::TornRow(p)));
                }
                Err(p) => {
                    self.counts.invalid += 1;
                    self.diags.push(row_warning(p));
                }
            }
        }
        // The reader is done: say whether it reached the end of the file.
        let finished = self.reader.take()?.finish();
        finished.err().map(|e| Err(e.into()))
    }
}

/// The list walked to its end.
#[derive(Debug, Default)]
pub struct Walked {
    /// What it holds.
    pub counts: ListCounts,
    /// Rows skipped, as warnings.
    pub diags: Vec<Diagnostic>,
}

pub(crate) fn row_warning(p: RowProblem) -> Diagnostic {
    Diagnostic::warning(
        p.path,
        p.line as usize,
        format!("{}; row skipped", p.message),
    )
}
