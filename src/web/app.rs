//! What every request shares: the server's state ([`App`]), the brand every
//! page shows, where log lines go ([`Events`]), the body limit, what the
//! archive keeps between requests ([`Kept`]), the shapes of the link-mail
//! queue and the per-client POST limiter, and running file or database work
//! off the async threads.
//!
//! Owns the state built once at start. It is the leaf of `web/`: it must not
//! import any other file of this folder, and holds no routes or pages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::content::{Library, Stamp};
use crate::delivery::Transport;
use crate::inbound::unsubscribes::Unsubscribes;
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
    /// One-click unsubscribes, recorded in group commits.
    pub(super) unsubscribes: Unsubscribes,
    /// The archive's pages and the content they are made from, kept.
    pub(super) kept: Kept,
}

/// How long something kept is served before it is checked again against
/// the ledger and the content folder.
pub(super) const RECHECK: Duration = Duration::from_secs(1);

/// What the archive keeps between requests: each issue's page as made,
/// and the content library with the stamp it was loaded at.
#[derive(Default)]
pub(super) struct Kept {
    pub(super) pages: Mutex<HashMap<u32, Arc<KeptPage>>>,
    pub(super) library: Mutex<Option<KeptLibrary>>,
}

/// One archive page, made once.
pub(super) struct KeptPage {
    /// What it was made from (the record and the content's stamp).
    pub(super) made_from: u64,
    pub(super) body: Bytes,
    /// Strong validator: a digest of `body`, quoted.
    pub(super) etag: HeaderValue,
    pub(super) modified: DateTime<Utc>,
    /// `modified` as an HTTP date.
    pub(super) last_modified: HeaderValue,
    /// When it was last checked against the ledger and the content.
    pub(super) checked: Mutex<Instant>,
}

impl KeptPage {
    /// Whether it was checked within [`RECHECK`]; when not, this caller
    /// takes the next check (others keep serving it meanwhile).
    pub(super) fn recent(&self) -> bool {
        let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        if checked.elapsed() < RECHECK {
            return true;
        }
        *checked = Instant::now();
        false
    }
}

/// The content library as loaded at `stamp`, checked at `checked`.
pub(super) struct KeptLibrary {
    pub(super) stamp: Stamp,
    pub(super) library: Arc<Library>,
    pub(super) checked: Instant,
}

impl App {
    /// Logs one line through [`Events::note`].
    pub(super) fn note(&self, line: String) {
        self.events.note(&line);
    }

    /// Like the signer: `serve` started, so the secret rules were met.
    pub(super) fn keyer(&self) -> Keyer {
        keyer(&self.config, &self.signer)
    }
}

/// The keyer of `config`'s secret, else of the signer `serve` started with.
pub(super) fn keyer(config: &Config, signer: &Signer) -> Keyer {
    crate::plan::keyer(config).unwrap_or_else(|_| crate::plan::keyer_of(signer.clone()))
}

/// Runs file or database work off the async threads. `None` only if `f` panicked.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}
