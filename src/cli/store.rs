//! What `tipsheet check` says about the store: which one, whether it can be
//! reached, its schema version, and on PostgreSQL the list it holds.
//!
//! Owns those lines only. It never creates anything: the SQLite file is opened
//! read-only (or not at all when missing) and PostgreSQL is only queried.

use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::store::{Store, StoreError, StoreSettings};

/// What `check` learned about the store.
pub(crate) struct StoreCheck {
    /// The line to print after the summary.
    pub line: String,
    /// Problems (an unreachable or too-new store is an error).
    pub diags: Vec<Diagnostic>,
    /// On PostgreSQL: (subscribers, suppressed) in the store.
    pub list: Option<(u64, u64)>,
}

/// Reports on the store named by `config`.
pub(crate) async fn check(config: &Config) -> StoreCheck {
    let key_line = config.line_of_key("store.url");
    let error = |msg: String| StoreCheck {
        line: "store: unusable (see the error above)".into(),
        diags: vec![Diagnostic::error(&config.path, key_line, msg)],
        list: None,
    };
    let settings = match StoreSettings::from_config(config) {
        Ok(s) => s,
        Err(e) => return error(e.to_string()),
    };
    {
        let report = match Store::report(&settings).await {
            Ok(r) => r,
            Err(e) => return error(e.to_string()),
        };
        let version = match report.version {
            0 => report.empty.to_string(),
            v if v > report.known => format!(
                "schema version {v}, newer than this tipsheet ({})",
                report.known
            ),
            v if v < report.known => format!(
                "schema version {v} (the next write migrates it to {})",
                report.known
            ),
            v => format!("schema version {v} (current)"),
        };
        let mut diags = Vec::new();
        if report.version > report.known {
            diags.push(Diagnostic::error(
                &config.path,
                key_line,
                format!(
                    "store `{}` has schema version {}, newer than this tipsheet understands ({}); upgrade tipsheet",
                    report.shown, report.version, report.known
                ),
            ));
        }
        let mut list = None;
        if report.version == report.known
            && let Ok(Some(store)) = Store::open_read_only(&settings).await
        {
            match store.list_counts().await {
                Ok(c) => list = Some(c),
                // The list is a file: `check` read it above.
                Err(StoreError::ListIsFile { .. }) => {}
                Err(e) => diags.push(Diagnostic::error(&config.path, key_line, e.to_string())),
            }
        }
        let line = format!("store: `{}` {}{version}", report.shown, report.engine);
        StoreCheck { line, diags, list }
    }
}
