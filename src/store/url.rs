//! Which store a config names: the `[store] url` (or `TIPSHEET_DATABASE_URL`),
//! parsed into an engine, with the password redacted wherever it is shown.
//!
//! Owns the URL's syntax and its redaction. It must not connect to anything:
//! the engines do that.

use std::fmt;
use std::path::PathBuf;

/// The env var that overrides `[store] url` whole.
pub const URL_ENV: &str = "TIPSHEET_DATABASE_URL";

/// The store a config names.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded default: a SQLite ledger file, the list in CSV files.
    Sqlite(PathBuf),
    /// A PostgreSQL server shared by every host naming the same URL.
    Postgres(PostgresUrl),
}

/// A `postgres://` URL, kept whole, shown only redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    raw: String,
}

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// A scheme other than `sqlite:` or `postgres://`.
    #[error(
        "`{shown}` is not a store URL: write `sqlite:PATH` (the default, one host) or `postgres://user@host:5432/dbname`"
    )]
    Scheme {
        /// The URL, password redacted.
        shown: String,
    },
}

impl StoreUrl {
    /// Parses a URL; `sqlite:` paths are relative to `base` (the config's folder);
    /// `sqlite:` alone means `default_ledger`.
    pub fn parse(
        raw: &str,
        base: &std::path::Path,
        default_ledger: &std::path::Path,
    ) -> Result<Self, UrlError> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(PostgresUrl {
                raw: raw.to_string(),
            }));
        }
        if let Some(path) = raw.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Ok(Self::Sqlite(default_ledger.to_path_buf()));
            }
            let p = PathBuf::from(path);
            return Ok(Self::Sqlite(if p.is_relative() { base.join(p) } else { p }));
        }
        Err(UrlError::Scheme { shown: redact(raw) })
    }

    /// Whether several hosts can share this store.
    #[cfg(test)]
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

impl PostgresUrl {
    /// The URL as written, password included: only for the driver.
    pub(crate) fn secret(&self) -> &str {
        &self.raw
    }
}

// The URL with any password replaced by `***` (config owns the one redaction).
pub(crate) use crate::config::redact_url as redact;

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.raw))
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            Self::Postgres(u) => u.fmt(f),
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::StoreUrl;
    use std::path::Path;

    #[test]
    fn passwords_never_show() {
        // The cases of the redaction itself are `config::redact`'s tests.
        let url =
            StoreUrl::parse("postgres://u:s3cret@h/db", Path::new("/"), Path::new("/l")).unwrap();
        assert!(!format!("{url} {url:?}").contains("s3cret"));
    }

    #[test]
    fn schemes_choose_the_engine() {
        let base = Path::new("/etc/tipsheet");
        let default = Path::new("/var/state/tipsheet.sqlite3");
        assert_eq!(
            StoreUrl::parse("sqlite:", base, default).unwrap(),
            StoreUrl::Sqlite(default.into())
        );
        assert_eq!(
            StoreUrl::parse("sqlite:state/l.sqlite3", base, default).unwrap(),
            StoreUrl::Sqlite("/etc/tipsheet/state/l.sqlite3".into())
        );
        assert_eq!(
            StoreUrl::parse("sqlite:///abs/l.sqlite3", base, default).unwrap(),
            StoreUrl::Sqlite("/abs/l.sqlite3".into())
        );
        assert!(
            StoreUrl::parse("postgresql://u@h/db", base, default)
                .unwrap()
                .is_shared()
        );
        let e = StoreUrl::parse("mysql://u:pw@h/db", base, default).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`mysql://u:***@h/db` is not a store URL: write `sqlite:PATH` (the default, one host) or `postgres://user@host:5432/dbname`"
        );
    }
}
