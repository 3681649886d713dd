//! What every request shares: the server's state ([`App`]), the brand every
//! page shows, where log lines go ([`Events`]), the body limit, and running
//! file or database work off the async threads.
//!
//! Owns the state built once at start. It is the leaf of `web/`: it must not
//! import any other file of this folder, and holds no routes or pages.

use std::sync::Arc;

use crate::config::Config;
use crate::delivery::Transport;
use crate::list::keyer::Keyer;
use crate::mail::dkim::DkimSigner;
use crate::mail::token::Signer;
use crate::schedule::clock::WallClock;
use crate::store::Store;

/// Largest request body accepted (forms are a few hundred bytes).
pub(crate) const BODY_LIMIT: usize = 16 * 1024;

/// What the server tells its operator; the command line prints it.
pub(crate) trait Events: Send + Sync {
    /// The server is up at `url` (`http://127.0.0.1:8080`).
    fn listening(&self, url: &str);
    /// One line worth logging: an unsubscribe, an error behind a 500 page.
    fn note(&self, line: &str);
}

/// What every page shows around its content.
#[derive(Debug, Clone)]
pub(super) struct Brand {
    pub(super) name: String,
    pub(super) postal: String,
}

/// Shared by all requests.
pub(super) struct App {
    pub(super) config: Config,
    /// Where log lines go.
    pub(super) events: Arc<dyn Events>,
    pub(super) signer: Signer,
    pub(super) brand: Brand,
    /// The value of `server.admin_token_env`; `None` when unset or empty.
    pub(super) admin_token: Option<String>,
    /// "Now", or with `--now`, that instant plus the time since start (a
    /// testing aid that keeps expiry and rate limits moving).
    pub(super) clock: WallClock,
    /// Confirmation mails go where issues go (outbox folder `confirmations`).
    pub(super) transport: Transport,
    /// Signs confirmation mails, like issues, when `[dkim]` is set.
    pub(super) dkim: Option<DkimSigner>,
    /// The list, the suppressions, the sign-up limit and the ledger.
    pub(super) store: Store,
}

impl App {
    /// Logs one line through [`Events::note`].
    pub(super) fn note(&self, line: String) {
        self.events.note(&line);
    }

    /// Like the signer: `serve` started, so the secret rules were met.
    pub(super) fn keyer(&self) -> Keyer {
        crate::plan::keyer(&self.config)
            .unwrap_or_else(|_| crate::plan::keyer_of(self.signer.clone()))
    }
}

/// The token of an `Authorization: Bearer …` header, if the request has one.
pub(super) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// Runs file or database work off the async threads. `None` only if `f` panicked.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}
