//! The embedded engine's guards: the run lock (`<state>/tipsheet.lock`),
//! which keeps a second send, an erasure or a restore out while a send runs
//! on this host, and the suppression file as a run watches it.
//!
//! Owns those two files' handling; it must not read the ledger.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::list::Suppression;
use crate::list::keyer::Keyer;
use crate::store::error::StoreError;

/// The lock file in `state_dir`.
fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("tipsheet.lock")
}

/// Takes the run lock in `state_dir`, creating the folder if needed;
/// [`StoreError::Locked`] when another process holds it.
pub(super) fn take(state_dir: &Path) -> Result<std::fs::File, StoreError> {
    crate::fsperm::create_private_dir(state_dir).map_err(|source| StoreError::State {
        what: "cannot create state folder",
        path: state_dir.to_path_buf(),
        source,
    })?;
    let path = lock_path(state_dir);
    let file = crate::fsperm::private_file()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StoreError::State {
            what: "cannot open lock file",
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(path)),
        Err(std::fs::TryLockError::Error(source)) => Err(StoreError::State {
            what: "cannot lock",
            path,
            source,
        }),
    }
}

/// True when another process holds the run lock. Probes with a shared lock
/// and creates nothing, so `status` never gets in a `send`'s way.
pub(super) fn held(state_dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(lock_path(state_dir)) else {
        return false;
    };
    matches!(
        file.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

/// The suppression list, re-read when the file changes (at most four times a
/// second), so that an unsubscribe during a run is honoured before its
/// recipient's turn.
pub(super) struct Watched {
    path: PathBuf,
    stamp: Option<(SystemTime, u64)>,
    checked: Option<Instant>,
    set: Suppression,
    keyer: Option<Keyer>,
}

impl Watched {
    pub(super) fn new(path: &Path, keyer: Option<Keyer>) -> Self {
        let mut w = Self {
            keyer,
            path: path.to_path_buf(),
            stamp: None,
            checked: None,
            set: Suppression::default(),
        };
        w.refresh();
        w
    }

    pub(super) fn refresh(&mut self) {
        if self
            .checked
            .is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return;
        }
        self.checked = Some(Instant::now());
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        if stamp != self.stamp {
            if let Ok((set, _)) = Suppression::load(&self.path) {
                self.set = match &self.keyer {
                    Some(k) => set.keyed(k.clone()),
                    None => set,
                };
            }
            self.stamp = stamp;
        }
    }

    pub(super) fn contains(&self, key: &str) -> bool {
        self.set.contains(key)
    }
}

#[cfg(test)]
mod tests {
    use super::{held, take};
    use crate::store::error::StoreError;

    #[test]
    fn a_second_lock_is_refused_and_probing_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        assert!(!held(&state));
        assert!(!state.exists(), "a probe creates nothing");
        let first = take(&state).unwrap();
        assert!(held(&state));
        assert!(matches!(take(&state), Err(StoreError::Locked(_))));
        drop(first);
        assert!(!held(&state));
        drop(take(&state).unwrap());
    }
}
