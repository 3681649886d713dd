//! What can go wrong in `web/`: why the server cannot start or stopped
//! ([`ServerError`], the command's), why an archive or preview page cannot be
//! made ([`PageError`], logged), and [`WebError`], the "Something went wrong"
//! page a handler returns with `?`, with the two helpers that log an error
//! and turn it into one.
//!
//! Owns these types and the log line of a failed request. It must not decide
//! routes or what a page says beyond pointing at [`server_error`].

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};

use super::app::{App, blocking};
use super::pages::server_error;
use crate::config::ConfigError;
use crate::list::SubscribersError;
use crate::plan::PlanError;
use crate::store::StoreError;

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The config is unusable (e.g. the DKIM key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No secret for SMTP, or another planning rule.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The listen address is bad or taken.
    #[error(
        "cannot listen on `{addr}`: {source} (set `server.listen` in config.toml or pass `--listen ADDR`, e.g. `127.0.0.1:8080`)"
    )]
    Bind {
        /// The address asked for.
        addr: String,
        /// The I/O error.
        source: io::Error,
    },
    /// A list file's folder is missing: unsubscribes could not be recorded.
    #[error(
        "the folder `{path}` of `{key}` does not exist; create it or fix `{key}` in config.toml (unsubscribes could not be recorded)"
    )]
    Folder {
        /// Dotted config key.
        key: &'static str,
        /// The folder.
        path: PathBuf,
    },
    /// The suppression list cannot be read.
    #[error(transparent)]
    Subscribers(#[from] SubscribersError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
    /// The shared store cannot be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server failed while running.
    #[error("the server stopped: {0}")]
    Serve(io::Error),
}

/// Why an archive or preview page cannot be made (logged; the reader gets a plain page).
#[derive(Debug, thiserror::Error)]
pub(super) enum PageError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Ledger(#[from] crate::store::LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issue(#[from] crate::content::issue::IssueError),
    #[error(transparent)]
    Render(#[from] crate::mail::view::RenderError),
    #[error("template failed: {0}")]
    Template(#[from] askama::Error),
}

/// A request that failed on the server's side: already logged, shown as the
/// "Something went wrong" page saying what could not be done. Handlers
/// return it with `?`.
pub(super) struct WebError {
    app: Arc<App>,
    what: &'static str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        server_error(&self.app, self.what)
    }
}

/// The value of a store call, or (logged as `error: {log}: {e}`, or
/// `error: {e}` for an empty `log`) the error page saying "We could not
/// {what} just now".
pub(super) fn answer<T, E: std::fmt::Display>(
    app: &Arc<App>,
    what: &'static str,
    log: String,
    result: Result<T, E>,
) -> Result<T, WebError> {
    result.map_err(|e| {
        app.note(if log.is_empty() {
            format!("error: {e}")
        } else {
            format!("error: {log}: {e}")
        });
        WebError {
            app: app.clone(),
            what,
        }
    })
}

/// Runs `f` (file or ledger work) off the async threads; its error is
/// answered as [`answer`] does, and a panic as the same page, unlogged.
pub(super) async fn off_thread<T, E>(
    app: &Arc<App>,
    what: &'static str,
    log: String,
    f: impl FnOnce(&App) -> Result<T, E> + Send + 'static,
) -> Result<T, WebError>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let a = app.clone();
    match blocking(move || f(&a)).await {
        Some(result) => answer(app, what, log, result),
        None => Err(WebError {
            app: app.clone(),
            what,
        }),
    }
}
