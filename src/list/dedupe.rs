//! The duplicate check over one pass of the list, in about 16 bytes per
//! distinct address.
//!
//! Owns how seen keys are remembered: an 88-bit fingerprint of each key with
//! the line it was first seen on, packed into one `u128`, kept in a sorted
//! vector (looked up through a 16-bit prefix index) plus a small hash set of
//! recent keys that is merged into the vector in place when it fills. It must
//! not read files or decide what a duplicate means for sending: callers skip
//! and report the row.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher};
use std::path::Path;

use super::model::{RowProblem, Subscriber};

/// Bits of an entry that hold the line number; the rest is the fingerprint.
const LINE_BITS: u32 = 40;
const LINE_MASK: u128 = (1 << LINE_BITS) - 1;
/// The prefix index has one slot per value of the top `INDEX_BITS` bits.
const INDEX_BITS: u32 = 16;
/// The recent set is merged once it holds this many keys, or a sixteenth of
/// the sorted vector if that is more (so merges stay O(n log n) overall).
const MIN_RECENT: usize = 1 << 16;

/// Case-insensitive duplicate detection by `key`: the first occurrence wins.
///
/// Memory: about 16 bytes per distinct key (16 MB for a million; the old
/// hash map of 128-bit fingerprints peaked near 96 MB while growing), plus a
/// 256 KB index and a recent set of at most `max(65,536, n / 16)` keys. Two
/// distinct addresses share a fingerprint with probability 2^-88 per pair
/// (about 10^-15 for a million rows). Lines above 2^40 are clamped.
#[derive(Debug)]
pub(crate) struct Dedupe {
    /// `fingerprint << LINE_BITS | line`, sorted, fingerprints distinct.
    sorted: Vec<u128>,
    /// `index[p]`: the first position in `sorted` whose prefix is `>= p`.
    index: Vec<u32>,
    recent: HashSet<Entry, PassThrough>,
    hashers: (std::hash::RandomState, std::hash::RandomState),
}

impl Default for Dedupe {
    fn default() -> Self {
        Self {
            sorted: Vec::new(),
            index: Vec::new(),
            recent: HashSet::with_hasher(PassThrough),
            hashers: Default::default(),
        }
    }
}

/// An entry compared and hashed by its fingerprint only, so a probe built
/// from a key finds the entry whatever its line.
#[derive(Debug, Clone, Copy)]
struct Entry(u128);

impl Entry {
    fn fingerprint(self) -> u128 {
        self.0 >> LINE_BITS
    }
    fn line(self) -> u64 {
        // Lossless: the mask keeps 40 bits.
        (self.0 & LINE_MASK) as u64
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint() == other.fingerprint()
    }
}
impl Eq for Entry {}
impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The fingerprint is already a keyed hash: its low bits will do.
        state.write_u64(self.fingerprint() as u64);
    }
}

/// A hasher that passes an already random `u64` through.
#[derive(Debug, Clone, Copy, Default)]
struct PassThrough;

impl BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in, just in case.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Dedupe {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// `Ok` the first time a key is seen; later occurrences give a note like
    /// "`Bob@Example.com` duplicates line 3".
    pub(crate) fn check(&mut self, path: &Path, sub: &Subscriber) -> Result<(), RowProblem> {
        let fingerprint = ((u128::from(self.hashers.0.hash_one(&sub.key)) << 64)
            | u128::from(self.hashers.1.hash_one(&sub.key)))
            >> LINE_BITS;
        let probe = Entry(fingerprint << LINE_BITS | u128::from(sub.line).min(LINE_MASK));
        match self.find(probe) {
            Some(first) => Err(RowProblem {
                path: path.to_path_buf(),
                line: sub.line,
                last_line: sub.line,
                message: format!("`{}` duplicates line {}", sub.email, first.line()),
            }),
            None => {
                self.recent.insert(probe);
                if self.recent.len() >= MIN_RECENT.max(self.sorted.len() / 16) {
                    self.merge();
                }
                Ok(())
            }
        }
    }

    fn find(&self, probe: Entry) -> Option<Entry> {
        if let Some(e) = self.recent.get(&probe) {
            return Some(*e);
        }
        if self.sorted.is_empty() {
            return None;
        }
        let prefix = (probe.0 >> (128 - INDEX_BITS)) as usize;
        let (lo, hi) = (self.index[prefix] as usize, self.index[prefix + 1] as usize);
        let bucket = &self.sorted[lo..hi];
        let fp = probe.fingerprint();
        let at = bucket.partition_point(|&e| Entry(e).fingerprint() < fp);
        bucket
            .get(at)
            .map(|&e| Entry(e))
            .filter(|e| e.fingerprint() == fp)
    }

    /// Moves the recent keys into the sorted vector, merging in place from
    /// the back so that no second copy of the vector is ever made.
    fn merge(&mut self) {
        let mut new: Vec<u128> = self.recent.drain().map(|e| e.0).collect();
        new.sort_unstable();
        let old = self.sorted.len();
        self.sorted.resize(old + new.len(), 0);
        let (mut i, mut j) = (old, new.len());
        for k in (0..self.sorted.len()).rev() {
            if j == 0 {
                break;
            }
            if i > 0 && self.sorted[i - 1] > new[j - 1] {
                self.sorted[k] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[k] = new[j - 1];
                j -= 1;
            }
        }
        // Rebuild the prefix index in one pass.
        let slots = (1usize << INDEX_BITS) + 1;
        self.index.clear();
        self.index.reserve_exact(slots);
        let mut pos = 0usize;
        for p in 0..slots {
            while pos < self.sorted.len() && ((self.sorted[pos] >> (128 - INDEX_BITS)) as usize) < p
            {
                pos += 1;
            }
            // At most 2^32 entries fit the index; more would need 64 GB here.
            self.index.push(u32::try_from(pos).unwrap_or(u32::MAX));
        }
    }

    /// Number of distinct keys seen.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(key: &str, line: u64) -> Subscriber {
        Subscriber {
            email: key.parse().unwrap(),
            key: key.to_string(),
            name: String::new(),
            subscribed_at: None,
            line,
        }
    }

    #[test]
    fn first_wins_across_merges() {
        let mut d = Dedupe::new();
        let path = Path::new("subscribers.csv");
        let n = MIN_RECENT * 3 + 123;
        for i in 0..n {
            let s = sub(&format!("user{i}@example.com"), i as u64 + 2);
            assert!(d.check(path, &s).is_ok(), "{i}");
        }
        assert_eq!(d.len(), n);
        assert!(d.sorted.len() >= MIN_RECENT * 3, "merged");
        assert!(d.sorted.windows(2).all(|w| w[0] < w[1]));
        // Every key is found again, with its first line, whether it sits in
        // the sorted vector or the recent set.
        for i in [0, 1, MIN_RECENT - 1, MIN_RECENT, 2 * MIN_RECENT + 7, n - 1] {
            let s = sub(&format!("user{i}@example.com"), 9_999_999);
            let e = d.check(path, &s).unwrap_err();
            assert_eq!(
                e.message,
                format!("`user{i}@example.com` duplicates line {}", i + 2)
            );
            assert_eq!(e.line, 9_999_999);
        }
        assert_eq!(d.len(), n);
    }
}
