//! What a config says about its store, secrets resolved from the
//! environment: the settings every engine is opened with.
//!
//! Owns reading `[store]` (and `TIPSHEET_DATABASE_URL`). It must not open
//! anything: `Store::open` and its siblings do.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::error::StoreError;
use super::url::{StoreUrl, URL_ENV, redact};
use crate::config::Config;
use crate::list::keyer::Keyer;

/// What a config says about its store, secrets resolved from the environment.
#[derive(Clone)]
pub struct StoreSettings {
    /// The engine and where it is.
    pub url: StoreUrl,
    /// The password from `[store] password_env`, when set.
    pub password: Option<String>,
    /// How long a claim on recipients holds without renewal.
    pub lease: Duration,
    /// `[store] synchronous_commit`: whether the send loop's group commits
    /// wait for the disk (SQLite `synchronous = FULL`, PostgreSQL's WAL flush).
    pub synchronous_commit: bool,
    /// The list file (the embedded engine's list).
    pub subscribers_path: PathBuf,
    /// The suppression file (the embedded engine's suppressions).
    pub suppressed_path: PathBuf,
    /// `state.dir` (the embedded engine's run lock).
    pub state_dir: PathBuf,
    /// Recognises erased readers' keyed hashes (`None` without a secret).
    pub keyer: Option<Keyer>,
}

impl fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSettings")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("lease", &self.lease)
            .field("synchronous_commit", &self.synchronous_commit)
            .finish()
    }
}

impl StoreSettings {
    /// Reads `[store]`, with `TIPSHEET_DATABASE_URL` overriding `url` whole and
    /// the password from the variable `password_env` names.
    /// Erased readers are recognised through `keyer`.
    pub(crate) fn from_config(config: &Config) -> Result<Self, StoreError> {
        let env_url = std::env::var(URL_ENV).ok().filter(|u| !u.trim().is_empty());
        let raw = env_url.or_else(|| config.store.url.clone());
        let url =
            match raw {
                None => StoreUrl::Sqlite(config.ledger_path()),
                Some(raw) => StoreUrl::parse(&raw, &config.base_dir(), &config.ledger_path())
                    .map_err(|e| StoreError::Url {
                        store: redact(&raw),
                        detail: e.to_string(),
                    })?,
            };
        Ok(Self {
            url,
            password: std::env::var(&config.store.password_env)
                .ok()
                .filter(|p| !p.is_empty()),
            lease: Duration::from_secs(config.store.lease_seconds),
            synchronous_commit: config.store.synchronous_commit,
            subscribers_path: config.subscribers.path.clone(),
            suppressed_path: config.subscribers.suppressed_path.clone(),
            state_dir: config.state.dir.clone(),
            keyer: None,
        })
    }
}
