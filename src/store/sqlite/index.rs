//! The suppression file kept in memory for a long-lived process (`serve`):
//! read whole once, then only when the file's stamp (inode, size, mtime)
//! differs from the one it was read at, so another process's append or an
//! erasure's rewrite is seen at the next lookup and a lookup costs one
//! `stat`. This process's own appends ([`Pending`]) update the copy in place
//! instead of reading the file again.
//!
//! Owns that copy and the batched appends to the file; it decides nothing
//! (what to suppress comes in from the store's callers).

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::store::guard;
use crate::list::keyer::Keyer;
use crate::list::{Appender, FileStamp, ListError, SUPPRESSION_HEADER, Suppression};
use crate::store::error::StoreError;

const SUPPRESSION_LIST: &str = "the suppression list";

pub(super) fn write_error(path: &Path, source: io::Error) -> StoreError {
    StoreError::Write {
        what: SUPPRESSION_LIST,
        path: path.to_path_buf(),
        source,
    }
}

/// The suppression set as read at `stamp` (`None`: there was no file).
struct Loaded {
    stamp: Option<FileStamp>,
    set: Suppression,
    /// This process is appending to the file at `stamp`, under its lock:
    /// until it is done the file changes only by those rows, whose
    /// unsubscribes are not answered yet, so the copy still answers.
    appending: bool,
}

/// The suppression file's set, re-read only when the file changed.
pub(super) struct SuppressionIndex {
    path: PathBuf,
    keyer: Option<Keyer>,
    loaded: Mutex<Option<Loaded>>,
}

impl SuppressionIndex {
    pub(super) fn new(path: &Path, keyer: Option<Keyer>) -> Self {
        Self {
            path: path.to_path_buf(),
            keyer,
            loaded: Mutex::new(None),
        }
    }

    /// Runs `f` on the set as the file holds it now.
    pub(super) fn with<T>(&self, f: impl FnOnce(&Suppression) -> T) -> Result<T, StoreError> {
        // Stamped before reading: a change during the read shows as a
        // different stamp next time, never as a stale copy taken for current.
        let stamp = FileStamp::at(&self.path).map_err(|source| {
            ListError::from(crate::list::SubscribersError::Open {
                path: self.path.clone(),
                source,
            })
        })?;
        self.with_at(stamp, f)
    }

    /// Runs `f` on the set read at `stamp` (reading the file if the copy
    /// is of another stamp).
    fn with_at<T>(
        &self,
        stamp: Option<FileStamp>,
        f: impl FnOnce(&Suppression) -> T,
    ) -> Result<T, StoreError> {
        let mut loaded = guard(&self.loaded);
        let current = loaded
            .as_ref()
            .is_some_and(|l| l.stamp == stamp || l.appending);
        if !current {
            *loaded = None;
            let (set, _) = Suppression::load(&self.path).map_err(ListError::from)?;
            let set = match &self.keyer {
                Some(k) => set.keyed(k.clone()),
                None => set,
            };
            *loaded = Some(Loaded {
                stamp,
                set,
                appending: false,
            });
        }
        match loaded.as_ref() {
            Some(l) => Ok(f(&l.set)),
            // Set just above.
            None => Ok(f(&Suppression::default())),
        }
    }

    /// This process starts appending to the file at `before`, under its lock.
    fn appending(&self, before: FileStamp) {
        if let Some(l) = guard(&self.loaded).as_mut() {
            l.appending = l.stamp == Some(before);
        }
    }

    /// This process appended rows for `keys`, taking the file from `before`
    /// to `after` under its lock (`None`: the write failed): a copy read at
    /// `before` takes them in and becomes the copy at `after`; any other
    /// copy is dropped.
    fn appended(&self, before: FileStamp, after: Option<FileStamp>, keys: &[String]) {
        let mut loaded = guard(&self.loaded);
        match (loaded.as_mut(), after) {
            (Some(l), Some(after)) if l.stamp == Some(before) => {
                for k in keys {
                    l.set.insert(k);
                }
                l.stamp = Some(after);
                l.appending = false;
            }
            _ => *loaded = None,
        }
    }
}

/// Suppressions gathered for one append: each key is checked against the
/// file (under its lock, taken at the first key) and the keys before it, and
/// [`Pending::commit`] writes them with one write and one flush.
pub(super) struct Pending<'a> {
    index: &'a SuppressionIndex,
    file: Option<Appender>,
    keys: Vec<String>,
    seen: HashSet<String>,
}

impl<'a> Pending<'a> {
    pub(super) fn new(index: &'a SuppressionIndex) -> Self {
        Self {
            index,
            file: None,
            keys: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// Adds a suppression of `key` unless it already is suppressed (in the
    /// file or earlier in this batch); true when added.
    pub(super) fn add(
        &mut self,
        key: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let path = &self.index.path;
        if self.file.is_none() {
            let file =
                Appender::open(path, SUPPRESSION_HEADER).map_err(|e| write_error(path, e))?;
            self.file = Some(file);
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(false); // Opened just above.
        };
        // A list that cannot be read is one that cannot be updated.
        let listed = self
            .index
            .with_at(Some(file.before()), |s| s.contains(key))
            .map_err(|e| write_error(path, io::Error::other(e.to_string())))?;
        if listed || self.seen.contains(key) {
            return Ok(false);
        }
        file.suppression(key, reason, at)
            .map_err(|e| write_error(path, e))?;
        self.seen.insert(key.to_string());
        self.keys.push(key.to_string());
        Ok(true)
    }

    /// Writes the gathered rows and waits for the disk (nothing when none).
    pub(super) fn commit(&mut self) -> Result<(), StoreError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let before = file.before();
        let path = &self.index.path;
        self.index.appending(before);
        let after = file.finish();
        self.index
            .appended(before, after.as_ref().ok().copied(), &self.keys);
        after.map_err(|e| write_error(path, e))?;
        self.keys.clear();
        self.seen.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::{Pending, SuppressionIndex};

    #[test]
    fn the_copy_follows_the_file_and_a_batch_writes_each_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suppressed.csv");
        let index = SuppressionIndex::new(&path, None);
        assert!(!index.with(|s| s.contains("a@example.com")).unwrap());

        // Another process appends: seen at the next lookup.
        crate::list::append_suppression(&path, "a@example.com", "unsubscribed", Utc::now())
            .unwrap();
        assert!(index.with(|s| s.contains("a@example.com")).unwrap());

        let mut batch = Pending::new(&index);
        assert!(
            !batch
                .add("a@example.com", "unsubscribed", Utc::now())
                .unwrap()
        );
        assert!(
            batch
                .add("b@example.com", "unsubscribed", Utc::now())
                .unwrap()
        );
        assert!(
            !batch
                .add("b@example.com", "unsubscribed", Utc::now())
                .unwrap()
        );
        assert!(
            batch
                .add("c@example.com", "unsubscribed", Utc::now())
                .unwrap()
        );
        batch.commit().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(index.with(|s| s.contains("c@example.com")).unwrap());

        // A rewrite (as an erasure makes) replaces the copy.
        let fresh = dir.path().join("new.csv");
        std::fs::write(
            &fresh,
            "email,reason,at\nd@example.com,unsubscribed,2026-01-01T00:00:00Z\n",
        )
        .unwrap();
        std::fs::rename(&fresh, &path).unwrap();
        assert!(!index.with(|s| s.contains("c@example.com")).unwrap());
        assert!(index.with(|s| s.contains("d@example.com")).unwrap());
    }
}
