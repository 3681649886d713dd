//! [`Suppression`]: the set of suppressed keys from `suppressed.csv`.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::Path;

use super::address::normalize;
use super::model::{MAX_ROW_BYTES, RowProblem, SUPPRESSION_HEADER, SubscribersError};
use super::reason::SuppressionReason;
use super::table::{Table, parse_email, text};

use super::keyer::{Keyer, is_pseudonym};

/// Normalized keys currently suppressed, and the keyed hashes of erased ones.
///
/// Rows of a reader erased by `subscribers forget` hold [`super::keyer::Keyer`]
/// pseudonyms instead of addresses. Telling whether a clear address is among
/// them needs the keyer ([`Suppression::keyed`]); a set that holds such rows
/// but has no keyer fails closed and calls every address suppressed.
#[derive(Debug, Clone, Default)]
pub struct Suppression {
    pub(super) keys: HashSet<String>,
    /// Pseudonyms currently suppressed.
    hashed: HashSet<String>,
    /// Pseudonyms whose last row is `forgotten`.
    forgotten: HashSet<String>,
    keyer: Option<Keyer>,
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

    pub(super) fn load_with_limit(
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
            let Some(raw_email) = text(raw_email) else {
                problems.push(table.problem(
                    line,
                    "row is not valid UTF-8 (save the file as UTF-8)".to_string(),
                ));
                continue;
            };
            let reason = reason_col
                .and_then(|i| record.get(i))
                .and_then(text)
                .map(str::trim);
            let resubscribe = reason.is_some_and(|r| SuppressionReason::Resubscribed.is(r));
            if is_pseudonym(raw_email.trim()) {
                let hash = raw_email.trim().to_string();
                if resubscribe && record.len() == header.names.len() {
                    set.hashed.remove(&hash);
                    set.forgotten.remove(&hash);
                } else if !resubscribe {
                    if reason.is_some_and(|r| SuppressionReason::Forgotten.is(r)) {
                        set.forgotten.insert(hash.clone());
                    }
                    set.hashed.insert(hash);
                }
                continue;
            }
            let email = match parse_email(raw_email) {
                Ok(a) => a,
                Err(m) => {
                    problems.push(table.problem(line, m));
                    continue;
                }
            };
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

    /// Lets lookups recognise erased readers' rows (their keyed hashes).
    pub(crate) fn keyed(mut self, keyer: Keyer) -> Self {
        self.keyer = Some(keyer);
        self
    }

    /// Counts `key` (normalized, or a pseudonym) as suppressed from now on,
    /// as a row appended for it would when the file is read again.
    pub(crate) fn insert(&mut self, key: &str) {
        if is_pseudonym(key) {
            self.hashed.insert(key.to_string());
        } else {
            self.keys.insert(key.to_string());
        }
    }

    /// Whether an already-normalized key (or a pseudonym) is suppressed.
    pub fn contains(&self, key: &str) -> bool {
        if is_pseudonym(key) {
            return self.hashed.contains(key);
        }
        self.keys.contains(key) || self.matches_hashed(key, &self.hashed)
    }

    /// Whether the reader of this key asked to be forgotten (and so must not
    /// be signed up again through the web form).
    pub(crate) fn is_forgotten(&self, key: &str) -> bool {
        if is_pseudonym(key) {
            return self.forgotten.contains(key);
        }
        self.matches_hashed(key, &self.forgotten)
    }

    fn matches_hashed(&self, key: &str, set: &HashSet<String>) -> bool {
        if set.is_empty() {
            return false;
        }
        match &self.keyer {
            Some(k) => k.pseudonyms(key).any(|p| set.contains(&p)),
            None => true, // cannot tell: fail closed
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len() + self.hashed.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.hashed.is_empty()
    }
}
