//! [`Suppression`]: the set of suppressed keys from `suppressed.csv`.

#[allow(unused_imports)]
use super::*;

/// Normalized keys currently suppressed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suppression {
    pub(super) keys: HashSet<String>,
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
