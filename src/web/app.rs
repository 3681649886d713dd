//! What every request shares: the server's state ([`App`]), the brand every
//! page shows, where log lines go ([`Events`]), the body limit, the shapes
//! of the link-mail queue and the per-client POST limiter, and running file
//! or database work off the async threads.
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
use crate::store::{Hit, Store};

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

/// Who the proxies in front of `serve` are, and the header they set.
pub(super) struct Proxies {
    /// `server.trusted_proxies`.
    pub(super) nets: Vec<ipnet::IpNet>,
    /// `server.proxy_header`, lowercase.
    pub(super) header: String,
}

/// A link mail waiting in the queue (`mailer.rs` sends it).
pub(super) enum LinkMail {
    /// A sign-up confirmation, built by the request.
    Confirm {
        message: Box<lettre::Message>,
        /// The address, for the log.
        email: String,
        /// What the request counted, given back if the mail fails.
        hits: Vec<Hit>,
    },
    /// A privacy link for the normalized `key`, mailed only if the store
    /// holds something about it (the request cannot tell, nor can its timing).
    Privacy {
        address: lettre::Address,
        key: String,
        hits: Vec<Hit>,
    },
}

/// The per-client limit on state-changing POSTs (GCRA, this process's memory).
pub(super) type PostLimiter = governor::DefaultKeyedRateLimiter<String>;

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
    /// The list, the suppressions, the sign-up limits and the ledger.
    pub(super) store: Store,
    /// Where a proxied request's client address is read.
    pub(super) proxies: Proxies,
    /// The bounded queue of link mails (full: the request says "try later").
    pub(super) mailer: tokio::sync::mpsc::Sender<LinkMail>,
    /// `None` when `server.posts_per_minute` is 0.
    pub(super) posts: Option<PostLimiter>,
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

/// Runs file or database work off the async threads. `None` only if `f` panicked.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}
