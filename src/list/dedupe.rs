//! [`Dedupe`]: the first row of an address wins.

#[allow(unused_imports)]
use super::*;

/// Case-insensitive duplicate detection by `key`: the first occurrence wins.
/// Memory grows with the number of distinct addresses seen.
#[derive(Debug, Default)]
pub struct Dedupe {
    /// A 128-bit fingerprint of each key (two independently keyed SipHashes)
    /// to the line it was first seen on: about 40 MB for a million rows where
    /// the keys themselves would take three times that. Two distinct
    /// addresses collide with probability ~2^-128 per pair.
    pub(super) seen: HashMap<u128, u64>,
    pub(super) hashers: (std::hash::RandomState, std::hash::RandomState),
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
