//! `tipsheet serve`: the HTTP side of the newsletter. One-click unsubscribe
//! (RFC 8058) and resubscribe, double opt-in sign-up, the web archive of sent
//! issues, and the admin preview of the next issue.
//!
//! Owns routes, request parsing, who may see what, the signed confirmation
//! links and the pages (askama templates styled like the newsletter, usable
//! without JavaScript). The files stay the source of truth: every request
//! reads the suppression list and the list afresh and writes only through
//! [`list::append_suppression`] and [`list::append_subscriber`].
//! It must not write the ledger (it opens it read-only), send issues, or
//! keep state that matters across restarts: the one thing held in memory is
//! when each address was last sent a confirmation mail.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, TimeDelta, Utc};
use lettre::Address;
use lettre::address::Envelope;
use lettre::message::{Mailbox, Message, MultiPart};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::content::issue;
use crate::delivery::{self, Transport};
use crate::list::{self, RESUBSCRIBED, SubscriberReader, SubscribersError, Suppression, normalize};
use crate::mail::render::{self, View};
use crate::mail::token::{Signer, encode_query};
use crate::plan::{self, PlanError};
use crate::schedule::Slot;
use crate::schedule::clock::{Clock as _, WallClock};
use crate::store::{
    PgStore, Store, StoreError, StoreSettings, StoredSubscriber, StoredSuppression,
};

/// Largest request body accepted (forms are a few hundred bytes).
pub const BODY_LIMIT: usize = 16 * 1024;
/// How long a confirmation link works.
pub const CONFIRM_VALID_HOURS: i64 = 48;
/// One confirmation mail per address per this many minutes.
pub const CONFIRM_EVERY_MINUTES: i64 = 60;
/// Addresses remembered for the confirmation rate limit; past this, expired
/// entries are dropped, and if none has expired no mail goes out until one does.
const MAX_REMEMBERED: usize = 100_000;
/// Longest address accepted (RFC 5321 path limit minus the angle brackets).
const MAX_EMAIL_CHARS: usize = 254;
/// Names are cut to this many characters (as in the list).
const MAX_NAME_CHARS: usize = list::MAX_NAME_CHARS;
/// Reason written for an unsubscribe.
const UNSUBSCRIBED: &str = "unsubscribed";
/// Token purpose of confirmation links.
const CONFIRM: &str = "confirm";

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The config is unusable (e.g. the DKIM key).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
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

/// Why a confirmation link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// Missing parts, or a token that does not match them.
    Invalid,
    /// Genuine, but older than [`CONFIRM_VALID_HOURS`].
    Expired,
}

/// The signed part of a confirmation link. Fields are percent-encoded as in
/// the URL, so `|` can only be the separator (an address may contain `|`).
fn confirm_message(email: &str, name: &str, expires: i64) -> String {
    format!("{}|{}|{expires}", encode_query(email), encode_query(name))
}

/// `<base_url>/confirm?e=…&n=…&x=<expiry, unix seconds>&t=<token>`.
pub fn confirm_url(
    signer: &Signer,
    base_url: &str,
    email: &str,
    name: &str,
    expires: i64,
) -> String {
    format!(
        "{}/confirm?e={}&n={}&x={expires}&t={}",
        base_url.trim_end_matches('/'),
        encode_query(email),
        encode_query(name),
        signer.sign(CONFIRM, &confirm_message(email, name, expires))
    )
}

/// Checks a confirmation link's parts (token in constant time), then its expiry.
pub fn verify_confirm(
    signer: &Signer,
    email: &str,
    name: &str,
    expires: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), LinkProblem> {
    let digits =
        !expires.is_empty() && expires.len() <= 19 && expires.bytes().all(|b| b.is_ascii_digit());
    let Some(x) = digits.then(|| expires.parse::<i64>().ok()).flatten() else {
        return Err(LinkProblem::Invalid);
    };
    if !signer.verify(CONFIRM, &confirm_message(email, name, x), token) {
        return Err(LinkProblem::Invalid);
    }
    if now.timestamp() > x {
        return Err(LinkProblem::Expired);
    }
    Ok(())
}

/// Compares two secrets without leaking where they differ: both are hashed
/// first, so timing can tell at most where two digests differ.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// What the server tells its operator; the command line prints it.
pub trait Events: Send + Sync {
    /// The server is up at `url` (`http://127.0.0.1:8080`).
    fn listening(&self, url: &str);
    /// One line worth logging: an unsubscribe, an error behind a 500 page.
    fn note(&self, line: &str);
}

/// What every page shows around its content.
#[derive(Debug, Clone)]
struct Brand {
    name: String,
    postal: String,
}

/// Shared by all requests.
struct App {
    config: Config,
    /// Where log lines go.
    events: Arc<dyn Events>,
    signer: Signer,
    brand: Brand,
    /// The value of `server.admin_token_env`; `None` when unset or empty.
    admin_token: Option<String>,
    /// "Now", or with `--now`, that instant plus the time since start (a
    /// testing aid that keeps expiry and rate limits moving).
    clock: WallClock,
    /// Confirmation mails go where issues go (outbox folder `confirmations`).
    transport: Transport,
    /// One confirmation mail per address per hour.
    confirmations: RateLimit,
    /// Signs confirmation mails, like issues, when `[dkim]` is set.
    dkim: Option<crate::mail::dkim::Signer>,
    /// Serializes this process's read-then-append on the list files, so that
    /// two simultaneous requests for one address write one row.
    files: Mutex<()>,
    /// On PostgreSQL: the list, the suppressions and the confirmation limit
    /// live there, shared with every other `serve` (the files are not used).
    store: Option<Store>,
}

/// A list that cannot be read or written (the files, or the shared store).
#[derive(Debug, thiserror::Error)]
enum ListError {
    #[error(transparent)]
    File(#[from] SubscribersError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Locks a mutex, taking over a poisoned one (its data is a plain map or unit,
/// valid whatever a panicking holder did).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `tipsheet serve` until SIGINT or SIGTERM. `listen` overrides
/// `server.listen`; `now` pins the clock's start (a testing aid).
pub fn run(
    config: &Config,
    listen: Option<&str>,
    now: Option<DateTime<Utc>>,
    events: Arc<dyn Events>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (signer, warning) = plan::signer(config)?;
    if let Some(w) = warning {
        events.note(&w);
    }
    let settings = StoreSettings::from_config(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    let store = if settings.url.is_shared() {
        Some(rt.block_on(Store::open(&settings))?)
    } else {
        None
    };
    for (key, file) in [
        ("subscribers.path", &config.subscribers.path),
        (
            "subscribers.suppressed_path",
            &config.subscribers.suppressed_path,
        ),
    ] {
        if let Some(dir) = file.parent()
            && store.is_none()
            && !dir.as_os_str().is_empty()
            && !dir.is_dir()
        {
            return Err(ServerError::Folder {
                key,
                path: dir.to_path_buf(),
            });
        }
    }
    // A suppression list that cannot be read would make every unsubscribe fail.
    if store.is_none() {
        Suppression::load(&config.subscribers.suppressed_path)?;
    }
    if let Err(e) = plan::load_content(config) {
        events.note(&format!(
            "warning: {e}\nthe archive and /preview fail until this is fixed; unsubscribe and sign-up work"
        ));
    }
    let dkim = crate::mail::dkim_signer(config)?;
    let admin_token = std::env::var(&config.server.admin_token_env)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let app = Arc::new(App {
        signer,
        brand: Brand {
            name: config.newsletter.name.clone(),
            postal: config.newsletter.postal.clone(),
        },
        admin_token,
        clock: WallClock::starting_at(now),
        events: events.clone(),
        transport: Transport::from_config(config, "confirmations"),
        dkim,
        confirmations: RateLimit::new(TimeDelta::minutes(CONFIRM_EVERY_MINUTES), MAX_REMEMBERED),
        files: Mutex::new(()),
        store,
        config: config.clone(),
    });
    let addr = listen.unwrap_or(&config.server.listen).to_string();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: addr.clone(),
            source,
        })?;
        events.listening(&format!("http://{bound}"));
        axum::serve(
            listener,
            router(app).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServerError::Serve)
    })
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(subscribe_form))
        .route("/healthz", get(|| async { "ok" }))
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .route("/resubscribe", axum::routing::post(resubscribe))
        .route("/subscribe", get(subscribe_form).post(subscribe))
        .route("/confirm", get(confirm_page).post(confirm))
        .route(
            "/issues",
            get(|| async {
                (
                    StatusCode::PERMANENT_REDIRECT,
                    [(header::LOCATION, "issues/")],
                )
            }),
        )
        .route("/issues/", get(archive))
        .route("/issues/{number}", get(archived_issue))
        .route("/preview", get(preview))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(app)
}

/// No framing (clickjacking the unsubscribe button), no scripts, no leaking
/// tokens in `Referer`, no caching of personal pages unless a handler says so.
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// Runs file or database work off the async threads. `None` only if `f` panicked.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

// ---------------------------------------------------------------------------
// Pages.

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    brand: &'a Brand,
    heading: &'a str,
    message: String,
    link_href: Option<&'a str>,
    link_text: &'a str,
}

fn html(app: &App, status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            app.note(format!("error: rendering a page failed: {e}"));
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

fn message(app: &App, status: StatusCode, heading: &str, message: String) -> Response {
    html(
        app,
        status,
        &ErrorPage {
            brand: &app.brand,
            heading,
            message,
            link_href: None,
            link_text: "",
        },
    )
}

fn message_with_link(
    app: &App,
    status: StatusCode,
    heading: &str,
    message: String,
    link: (&str, &str),
) -> Response {
    html(
        app,
        status,
        &ErrorPage {
            brand: &app.brand,
            heading,
            message,
            link_href: Some(link.0),
            link_text: link.1,
        },
    )
}

fn server_error(app: &App, what: &str) -> Response {
    message(
        app,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        format!(
            "We could not {what} just now. Please try again in a few minutes, or write to {}.",
            app.config.unsubscribe.mailto
        ),
    )
}

async fn not_found(State(app): State<Arc<App>>) -> Response {
    not_found_page(&app)
}

fn not_found_page(app: &App) -> Response {
    message(
        app,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address.".into(),
    )
}

fn bad_request(app: &App, why: &str) -> Response {
    message(
        app,
        StatusCode::BAD_REQUEST,
        "This link does not work",
        why.into(),
    )
}

/// A form that cannot be read: 413 when it is too large, else 400 saying `why`.
fn unreadable(app: &App, rejection: &FormRejection, why: &str) -> Response {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return message(
            app,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too much data",
            format!(
                "This form is larger than {} KB. Nothing was changed.",
                BODY_LIMIT / 1024
            ),
        );
    }
    bad_request(app, why)
}

// ---------------------------------------------------------------------------
// Unsubscribe and resubscribe.

#[derive(Debug, Deserialize)]
struct TokenParams {
    e: Option<String>,
    t: Option<String>,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage<'a> {
    brand: &'a Brand,
    email: &'a str,
    action: String,
}

#[derive(Template)]
#[template(path = "unsubscribed.html")]
struct UnsubscribedPage<'a> {
    brand: &'a Brand,
    email: &'a str,
    token: &'a str,
    already: bool,
}

#[derive(Template)]
#[template(path = "resubscribed.html")]
struct ResubscribedPage<'a> {
    brand: &'a Brand,
    email: &'a str,
}

impl App {
    /// Logs one line through [`Events::note`].
    fn note(&self, line: String) {
        self.events.note(&line);
    }

    /// The normalized address and token of a genuine unsubscribe link, or the 400 page.
    fn unsubscribe_link(&self, params: &TokenParams) -> Result<(String, String), Box<Response>> {
        let (Some(e), Some(t)) = (params.e.as_deref(), params.t.as_deref()) else {
            return Err(Box::new(bad_request(
                self,
                &format!(
                    "This unsubscribe link is incomplete. Nothing was changed. Use the link at the bottom of any {} email, or write to {}.",
                    self.brand.name, self.config.unsubscribe.mailto
                ),
            )));
        };
        let key = normalize(e);
        if key.chars().count() > MAX_EMAIL_CHARS
            || !self.signer.verify_unsubscribe(&key, t)
            || key.parse::<Address>().is_err()
        {
            return Err(Box::new(bad_request(
                self,
                &format!(
                    "This unsubscribe link for {e} is not valid: it may have been cut short or changed. Nothing was changed. Use the link at the bottom of any {} email, or write to {}.",
                    self.brand.name, self.config.unsubscribe.mailto
                ),
            )));
        }
        Ok((key, t.trim().to_string()))
    }

    /// The shared store, when the list lives there.
    fn shared(&self) -> Option<&PgStore> {
        self.store.as_ref().and_then(|s| s.shared().ok())
    }

    /// Runs a store call from a blocking thread (every caller of the list
    /// methods is one: see [`blocking`]).
    fn wait<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Handle::current().block_on(f)
    }

    /// Whether `key` is suppressed now (the file read afresh, or the store).
    fn suppressed(&self, key: &str) -> Result<bool, ListError> {
        if let Some(pg) = self.shared() {
            return Ok(self.wait(pg.is_suppressed(key))?);
        }
        let (set, _) = Suppression::load(&self.config.subscribers.suppressed_path)?;
        Ok(set.contains(key))
    }

    /// Suppresses `key` unless it already is; `Ok(false)` when it already was.
    fn suppress(&self, key: &str) -> io::Result<bool> {
        if let Some(pg) = self.shared() {
            let s = StoredSuppression {
                key: key.to_string(),
                address: key.to_string(),
                reason: UNSUBSCRIBED.to_string(),
                at: self
                    .clock
                    .now()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            };
            let new = self.wait(pg.suppress(&s)).map_err(io::Error::other)?;
            if new {
                self.note(format!("unsubscribed `{key}`"));
            }
            return Ok(new);
        }
        let _files = lock(&self.files);
        if self.suppressed(key).map_err(io::Error::other)? {
            return Ok(false);
        }
        let path = &self.config.subscribers.suppressed_path;
        list::append_suppression(path, key, UNSUBSCRIBED, self.clock.now())?;
        self.note(format!("unsubscribed `{key}`"));
        Ok(true)
    }

    /// Lifts a suppression of `key` if there is one; `Ok(false)` when there was none.
    fn lift(&self, key: &str) -> io::Result<bool> {
        if let Some(pg) = self.shared() {
            let lifted = self.wait(pg.resubscribe(key)).map_err(io::Error::other)?;
            if lifted {
                self.note(format!("resubscribed `{key}`"));
            }
            return Ok(lifted);
        }
        let _files = lock(&self.files);
        if !self.suppressed(key).map_err(io::Error::other)? {
            return Ok(false);
        }
        let path = &self.config.subscribers.suppressed_path;
        list::append_suppression(path, key, RESUBSCRIBED, self.clock.now())?;
        self.note(format!("resubscribed `{key}`"));
        Ok(true)
    }
}

/// GET: a page with a button. Never writes: mail scanners fetch links.
async fn unsubscribe_page(
    State(app): State<Arc<App>>,
    params: Result<Query<TokenParams>, QueryRejection>,
) -> Response {
    let params = match params {
        Ok(Query(p)) => p,
        Err(_) => {
            return bad_request(
                &app,
                "This unsubscribe link is garbled. Nothing was changed.",
            );
        }
    };
    if params.e.is_none() && params.t.is_none() {
        return message(
            &app,
            StatusCode::OK,
            "Unsubscribe",
            format!(
                "To unsubscribe, use the link at the bottom of any {} email: it is made for your address. Or write to {}.",
                app.brand.name, app.config.unsubscribe.mailto
            ),
        );
    }
    let (key, token) = match app.unsubscribe_link(&params) {
        Ok(k) => k,
        Err(page) => return *page,
    };
    let a = app.clone();
    let k = key.clone();
    match blocking(move || a.suppressed(&k)).await {
        Some(Ok(true)) => html(
            &app,
            StatusCode::OK,
            &UnsubscribedPage {
                brand: &app.brand,
                email: &key,
                token: &token,
                already: true,
            },
        ),
        Some(Ok(false)) => html(
            &app,
            StatusCode::OK,
            &UnsubscribePage {
                brand: &app.brand,
                email: &key,
                action: format!(
                    "unsubscribe?e={}&t={}",
                    encode_query(&key),
                    encode_query(&token)
                ),
            },
        ),
        other => {
            if let Some(Err(e)) = other {
                app.note(format!("error: {e}"));
            }
            server_error(&app, "read the unsubscribe list")
        }
    }
}

/// POST: RFC 8058 one-click (body `List-Unsubscribe=One-Click`, answered with
/// a bare 200) or the confirmation page's button (answered with a page
/// offering to resubscribe). The address and token are in the query either way.
async fn unsubscribe(
    State(app): State<Arc<App>>,
    params: Result<Query<TokenParams>, QueryRejection>,
    body: Bytes,
) -> Response {
    let params = match params {
        Ok(Query(p)) => p,
        Err(_) => {
            return bad_request(
                &app,
                "This unsubscribe link is garbled. Nothing was changed.",
            );
        }
    };
    let (key, token) = match app.unsubscribe_link(&params) {
        Ok(k) => k,
        Err(page) => return *page,
    };
    // Urlencoded or multipart, RFC 8058's body always holds this.
    let one_click = body
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"One-Click"));
    let a = app.clone();
    let k = key.clone();
    let written = match blocking(move || a.suppress(&k)).await {
        Some(Ok(w)) => w,
        other => {
            if let Some(Err(e)) = other {
                app.note(format!(
                    "error: cannot record the unsubscribe of `{key}` in `{}`: {e}",
                    app.config.subscribers.suppressed_path.display()
                ));
            }
            return server_error(&app, "record your unsubscribe");
        }
    };
    if one_click {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("unsubscribed from {}\n", app.brand.name),
        )
            .into_response();
    }
    html(
        &app,
        StatusCode::OK,
        &UnsubscribedPage {
            brand: &app.brand,
            email: &key,
            token: &token,
            already: !written,
        },
    )
}

/// POST (e, t): lifts a suppression by appending a `resubscribed` record.
async fn resubscribe(
    State(app): State<Arc<App>>,
    form: Result<Form<TokenParams>, FormRejection>,
) -> Response {
    let params = match form {
        Ok(Form(p)) => p,
        Err(rejection) => {
            return unreadable(
                &app,
                &rejection,
                "This form arrived garbled. Nothing was changed.",
            );
        }
    };
    let (key, _) = match app.unsubscribe_link(&params) {
        Ok(k) => k,
        Err(page) => return *page,
    };
    let a = app.clone();
    let k = key.clone();
    match blocking(move || a.lift(&k)).await {
        Some(Ok(_)) => html(
            &app,
            StatusCode::OK,
            &ResubscribedPage {
                brand: &app.brand,
                email: &key,
            },
        ),
        other => {
            if let Some(Err(e)) = other {
                app.note(format!(
                    "error: cannot record the resubscribe of `{key}`: {e}"
                ));
            }
            server_error(&app, "record your resubscribe")
        }
    }
}

// ---------------------------------------------------------------------------
// Sign-up: double opt-in.

#[derive(Debug, Deserialize)]
struct SignUp {
    email: Option<String>,
    name: Option<String>,
}

#[derive(Template)]
#[template(path = "subscribe.html")]
struct SubscribePage<'a> {
    brand: &'a Brand,
    action: &'a str,
    minutes: u32,
    email: &'a str,
    name: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "subscribe_sent.html")]
struct SentPage<'a> {
    brand: &'a Brand,
    email: &'a str,
    hours: i64,
}

#[derive(Template)]
#[template(path = "confirm_email.txt")]
struct ConfirmText<'a> {
    newsletter: &'a str,
    greeting: &'a str,
    email: &'a str,
    link: &'a str,
    hours: i64,
    postal: &'a str,
}

#[derive(Template)]
#[template(path = "confirm_email.html")]
struct ConfirmHtml<'a> {
    newsletter: &'a str,
    greeting: &'a str,
    email: &'a str,
    link: &'a str,
    hours: i64,
    postal: &'a str,
}

fn subscribe_page(
    app: &App,
    status: StatusCode,
    action: &str,
    email: &str,
    name: &str,
    error: Option<String>,
) -> Response {
    html(
        app,
        status,
        &SubscribePage {
            brand: &app.brand,
            action,
            minutes: app.config.newsletter.max_reading_minutes,
            email,
            name,
            error,
        },
    )
}

async fn subscribe_form(State(app): State<Arc<App>>) -> Response {
    // Relative: posts to `/subscribe` from `/` and `/subscribe`, and behind a path prefix.
    subscribe_page(&app, StatusCode::OK, "subscribe", "", "", None)
}

/// A name as the list stores it: one line, runs of spaces collapsed, capped.
fn clean_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().take(MAX_NAME_CHARS * 4) {
        let c = if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            ' '
        } else {
            c
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    out.trim()
        .chars()
        .take(MAX_NAME_CHARS)
        .collect::<String>()
        .trim()
        .to_string()
}

/// A trimmed, valid address, or what is wrong with it.
fn check_email(raw: &str) -> Result<Address, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("Please enter your email address.".into());
    }
    if value.chars().count() > MAX_EMAIL_CHARS {
        return Err("That email address is too long.".into());
    }
    value.parse::<Address>().map_err(|_| {
        format!("{value} is not a valid email address. Please check it and try again.")
    })
}

/// When each normalized address was last sent a confirmation mail, so that
/// nobody can use the sign-up form to flood a mailbox. In memory only: a
/// restart forgets it (at worst one more mail per address), and each `serve`
/// process has its own.
struct RateLimit {
    every: TimeDelta,
    max: usize,
    last: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl RateLimit {
    fn new(every: TimeDelta, max: usize) -> Self {
        Self {
            every,
            max,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Claims the right to mail `key` at `now`; `false` if it was mailed less
    /// than `every` ago, or if `max` addresses are all still waiting out theirs.
    fn claim(&self, key: &str, now: DateTime<Utc>) -> bool {
        let mut map = lock(&self.last);
        if map.get(key).is_some_and(|at| now - *at < self.every) {
            return false;
        }
        if map.len() >= self.max {
            map.retain(|_, at| now - *at < self.every);
            if map.len() >= self.max {
                return false;
            }
        }
        map.insert(key.to_string(), now);
        true
    }

    /// Gives back a claim made at `at` (the mail could not be sent), so the
    /// reader can try again at once.
    fn release(&self, key: &str, at: DateTime<Utc>) {
        let mut map = lock(&self.last);
        if map.get(key) == Some(&at) {
            map.remove(key);
        }
    }
}

impl App {
    fn confirmation_mail(&self, to: &Address, name: &str, link: &str) -> Result<Message, String> {
        let n = &self.config.newsletter;
        let greeting = if name.is_empty() {
            n.greeting_fallback.as_str()
        } else {
            name
        };
        let email = to.to_string();
        let hours = CONFIRM_VALID_HOURS;
        let text = ConfirmText {
            newsletter: &n.name,
            greeting,
            email: &email,
            link,
            hours,
            postal: &n.postal,
        }
        .render()
        .map_err(|e| format!("template `confirm_email.txt` failed: {e}"))?;
        let html = ConfirmHtml {
            newsletter: &n.name,
            greeting,
            email: &email,
            link,
            hours,
            postal: &n.postal,
        }
        .render()
        .map_err(|e| format!("template `confirm_email.html` failed: {e}"))?;
        let from: Mailbox = n
            .from
            .parse()
            .map_err(|e| format!("`newsletter.from`: {e}"))?;
        // An explicit envelope: lettre cannot derive one from a `To:` whose
        // local part is quoted (`"a b"@example.com` is a valid address).
        let envelope =
            Envelope::new(Some(from.email.clone()), vec![to.clone()]).map_err(|e| e.to_string())?;
        let mut builder = Message::builder()
            .envelope(envelope)
            .from(from)
            .to(Mailbox::new(None, to.clone()))
            .subject(format!("Confirm your subscription to {}", n.name));
        if let Some(r) = &n.reply_to {
            builder = builder.reply_to(
                r.parse()
                    .map_err(|e| format!("`newsletter.reply_to`: {e}"))?,
            );
        }
        let mut message = builder
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| e.to_string())?;
        // A newsletter name shaped like an encoded word must read as written.
        message.headers_mut().insert_raw(render::text_header(
            "Subject",
            &format!("Confirm your subscription to {}", n.name),
            "",
        ));
        Ok(message)
    }
}

/// POST (email, name): mails a confirmation link. The answer is the same
/// page whether or not the address is already on the list.
async fn subscribe(
    State(app): State<Arc<App>>,
    form: Result<Form<SignUp>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(f)) => f,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return unreadable(&app, &rejection, "");
        }
        Err(_) => {
            return subscribe_page(
                &app,
                StatusCode::BAD_REQUEST,
                "subscribe",
                "",
                "",
                Some("The form arrived garbled. Please try again.".into()),
            );
        }
    };
    let raw_email = form.email.unwrap_or_default();
    let name = clean_name(form.name.as_deref().unwrap_or(""));
    let address = match check_email(&raw_email) {
        Ok(a) => a,
        Err(problem) => {
            let shown: String = raw_email.trim().chars().take(MAX_EMAIL_CHARS).collect();
            return subscribe_page(
                &app,
                StatusCode::BAD_REQUEST,
                "subscribe",
                &shown,
                &name,
                Some(problem),
            );
        }
    };
    let email = address.to_string();
    let key = normalize(&email);
    let now = app.clock.now();
    let claimed = match app.shared() {
        // The limit is the store's, shared by every `serve`.
        Some(pg) => match pg
            .claim_confirmation(&key, now, TimeDelta::minutes(CONFIRM_EVERY_MINUTES))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                app.note(format!(
                    "error: cannot record the confirmation mail to `{email}`: {e}"
                ));
                return server_error(&app, "send the confirmation email");
            }
        },
        None => app.confirmations.claim(&key, now),
    };
    if claimed {
        let expires = (now + TimeDelta::hours(CONFIRM_VALID_HOURS)).timestamp();
        let link = confirm_url(
            &app.signer,
            &app.config.newsletter.base_url,
            &email,
            &name,
            expires,
        );
        let sent = match app.confirmation_mail(&address, &name, &link) {
            Ok(mut message) => {
                if let Some(d) = &app.dkim {
                    d.sign(&mut message);
                }
                delivery::send_one(&app.transport, message.envelope(), &message.formatted())
                    .await
                    .map_err(|f| format!("{f:?}"))
            }
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            match app.shared() {
                Some(pg) => {
                    let _ = pg.release_confirmation(&key, now).await;
                }
                None => app.confirmations.release(&key, now),
            }
            app.note(format!(
                "error: cannot send the confirmation mail to `{email}`: {e}"
            ));
            return message(
                &app,
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again later",
                "We could not send the confirmation email just now. Please try again in a few minutes.".into(),
            );
        }
        app.note(format!("confirmation mail sent to `{email}`"));
    }
    html(
        &app,
        StatusCode::OK,
        &SentPage {
            brand: &app.brand,
            email: &email,
            hours: CONFIRM_VALID_HOURS,
        },
    )
}

#[derive(Debug, Deserialize)]
struct ConfirmParams {
    e: Option<String>,
    n: Option<String>,
    x: Option<String>,
    t: Option<String>,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    brand: &'a Brand,
    email: &'a str,
    name: &'a str,
    expires: &'a str,
    token: &'a str,
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage<'a> {
    brand: &'a Brand,
    email: &'a str,
    name: &'a str,
    next: Option<String>,
}

/// A genuine, unexpired confirmation link's (address, name), or the 400 page.
fn checked_confirm<'p>(
    app: &App,
    p: &'p ConfirmParams,
) -> Result<(&'p str, &'p str, &'p str, &'p str), Box<Response>> {
    let (Some(e), Some(x), Some(t)) = (p.e.as_deref(), p.x.as_deref(), p.t.as_deref()) else {
        return Err(Box::new(bad_request(
            app,
            "This confirmation link is incomplete. Nobody was subscribed.",
        )));
    };
    let n = p.n.as_deref().unwrap_or("");
    let refused = match verify_confirm(&app.signer, e, n, x, t, app.clock.now()) {
        Ok(()) => return Ok((e, n, x, t)),
        Err(LinkProblem::Expired) => message_with_link(
            app,
            StatusCode::BAD_REQUEST,
            "This link has expired",
            format!(
                "Confirmation links work for {CONFIRM_VALID_HOURS} hours, and this one is older. Nobody was subscribed. Sign up again to get a new link."
            ),
            ("subscribe", "Sign up again"),
        ),
        Err(LinkProblem::Invalid) => bad_request(
            app,
            "This confirmation link is not valid: it may have been cut short or changed. Nobody was subscribed.",
        ),
    };
    Err(Box::new(refused))
}

/// GET: a page with a button (mail scanners fetch links; only the POST subscribes).
async fn confirm_page(
    State(app): State<Arc<App>>,
    params: Result<Query<ConfirmParams>, QueryRejection>,
) -> Response {
    let Ok(Query(p)) = params else {
        return bad_request(
            &app,
            "This confirmation link is garbled. Nobody was subscribed.",
        );
    };
    match checked_confirm(&app, &p) {
        Ok((email, name, expires, token)) => html(
            &app,
            StatusCode::OK,
            &ConfirmPage {
                brand: &app.brand,
                email,
                name,
                expires,
                token,
            },
        ),
        Err(page) => *page,
    }
}

impl App {
    /// Adds the reader to the list unless the address is on it, and lifts any
    /// suppression (they just proved they read this mailbox and want the mail).
    fn add(&self, email: &str, name: &str) -> Result<(), String> {
        let key = normalize(email);
        if let Some(pg) = self.shared() {
            let s = StoredSubscriber {
                key: key.clone(),
                address: email.to_string(),
                name: name.to_string(),
                subscribed_at: Some(
                    self.clock
                        .now()
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
            };
            if self
                .wait(pg.add_subscriber(&s))
                .map_err(|e| e.to_string())?
            {
                self.note(format!("subscribed `{key}`"));
            }
            if self.wait(pg.resubscribe(&key)).map_err(|e| e.to_string())? {
                self.note(format!("resubscribed `{key}`"));
            }
            return Ok(());
        }
        let _files = lock(&self.files);
        let path = &self.config.subscribers.path;
        let listed = match SubscriberReader::open(path) {
            Ok(mut reader) => {
                let found = reader.by_ref().any(|row| row.is_ok_and(|s| s.key == key));
                if !found {
                    // Appending after a list that could not be read to the end could duplicate.
                    reader.finish().map_err(|e| e.to_string())?;
                }
                found
            }
            Err(SubscribersError::Open { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                false
            }
            Err(e) => return Err(e.to_string()),
        };
        let now = self.clock.now();
        if !listed {
            list::append_subscriber(path, email, name, now)
                .map_err(|e| format!("cannot append to `{}`: {e}", path.display()))?;
            self.note(format!("subscribed `{key}`"));
        }
        if self.suppressed(&key).map_err(|e| e.to_string())? {
            let sp = &self.config.subscribers.suppressed_path;
            list::append_suppression(sp, &key, RESUBSCRIBED, now)
                .map_err(|e| format!("cannot append to `{}`: {e}", sp.display()))?;
            self.note(format!("resubscribed `{key}`"));
        }
        Ok(())
    }

    /// "Tuesday, December 1" of the next slot, if the schedule has one.
    fn next_issue(&self) -> Option<String> {
        let schedule = self.config.schedule().ok()?;
        let slot = schedule.slots_from(self.clock.now()).next()?;
        Some(slot.local.format("%A, %B %-d").to_string())
    }
}

/// POST (e, n, x, t): adds the reader to the list (once) and welcomes them.
async fn confirm(
    State(app): State<Arc<App>>,
    form: Result<Form<ConfirmParams>, FormRejection>,
) -> Response {
    let p = match form {
        Ok(Form(p)) => p,
        Err(rejection) => {
            return unreadable(
                &app,
                &rejection,
                "This form arrived garbled. Nobody was subscribed.",
            );
        }
    };
    let (email, name) = match checked_confirm(&app, &p) {
        Ok((e, n, _, _)) => (e.to_string(), clean_name(n)),
        Err(page) => return *page,
    };
    if check_email(&email).is_err() {
        return bad_request(
            &app,
            "This confirmation link holds no valid address. Nobody was subscribed.",
        );
    }
    let a = app.clone();
    let (e, n) = (email.clone(), name.clone());
    match blocking(move || a.add(&e, &n)).await {
        Some(Ok(())) => {}
        other => {
            if let Some(Err(e)) = other {
                app.note(format!("error: cannot subscribe `{email}`: {e}"));
            }
            return server_error(&app, "record your subscription");
        }
    }
    let a = app.clone();
    let next = blocking(move || a.next_issue()).await.flatten();
    html(
        &app,
        StatusCode::OK,
        &WelcomePage {
            brand: &app.brand,
            email: &email,
            name: &name,
            next,
        },
    )
}

// ---------------------------------------------------------------------------
// The web archive.

#[derive(Debug)]
struct ArchiveEntry {
    number: u32,
    date: String,
    title: String,
}

#[derive(Template)]
#[template(path = "archive.html")]
struct ArchivePage<'a> {
    brand: &'a Brand,
    issues: Vec<ArchiveEntry>,
}

#[derive(Template)]
#[template(path = "archive_nav.html")]
struct ArchiveNav;

/// Why an archive or preview page cannot be made (logged; the reader gets a plain page).
#[derive(Debug, thiserror::Error)]
enum PageError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Ledger(#[from] crate::store::LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issue(#[from] crate::content::issue::IssueError),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error("template failed: {0}")]
    Template(#[from] askama::Error),
}

/// The slot of a recorded issue: from the schedule, or (if the schedule changed
/// since) its date at midnight; the ledger's number wins either way.
fn recorded_slot(config: &Config, date: &str, number: u32) -> Result<Option<Slot>, PageError> {
    let Ok(day) = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
        return Ok(None);
    };
    let schedule = config.schedule()?;
    let slot = match schedule.slot_on(day) {
        Some(s) => s,
        None => {
            let utc = day.and_time(chrono::NaiveTime::MIN).and_utc();
            Slot {
                number,
                date: day,
                local: utc.with_timezone(&schedule.timezone()),
                utc,
            }
        }
    };
    Ok(Some(Slot { number, ..slot }))
}

impl App {
    fn archive_entries(&self) -> Result<Vec<ArchiveEntry>, PageError> {
        let Some(ledger) = crate::store::snapshot(&self.config, None)? else {
            return Ok(Vec::new());
        };
        let library = plan::load_content(&self.config).ok().map(|(l, _)| l);
        let mut out = Vec::new();
        for record in ledger.issues()?.into_iter().rev() {
            let slot = recorded_slot(&self.config, &record.slot, record.number)?;
            let date = slot.as_ref().map_or_else(
                || record.slot.clone(),
                |s| s.date.format("%B %-d, %Y").to_string(),
            );
            // An issue whose content is gone is still listed, by number.
            let title = match (&library, slot) {
                (Some(lib), Some(slot)) => issue::assemble(lib, slot, record.selection.clone())
                    .map(|i| i.subject(&self.config.newsletter.name))
                    .ok(),
                _ => None,
            };
            out.push(ArchiveEntry {
                number: record.number,
                title: title.unwrap_or_else(|| {
                    format!("{} #{}", self.config.newsletter.name, record.number)
                }),
                date,
            });
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.number));
        Ok(out)
    }

    /// Issue `number` as a web page without personal data; `None` if the
    /// ledger has no such issue.
    fn archived(&self, number: u32) -> Result<Option<String>, PageError> {
        let Some(ledger) = crate::store::snapshot(&self.config, None)? else {
            return Ok(None);
        };
        let Some(record) = ledger.issue_by_number(number)? else {
            return Ok(None);
        };
        let Some(slot) = recorded_slot(&self.config, &record.slot, record.number)? else {
            return Ok(None);
        };
        let (library, _) = plan::load_content(&self.config)?;
        let issue = issue::assemble(&library, slot, record.selection)?;
        let n = &self.config.newsletter;
        let mut view = View::new(&self.config, &issue, &n.greeting_fallback, "you", "");
        // The footer's link leads to a page explaining where the real one is.
        view.unsubscribe_url = format!("{}/unsubscribe", n.base_url.trim_end_matches('/'));
        let page = view.html()?;
        Ok(Some(after_body(&page, &ArchiveNav.render()?)))
    }
}

/// `doc` with `fragment` inserted right after its `<body …>` tag (or in front).
fn after_body(doc: &str, fragment: &str) -> String {
    let at = doc
        .find("<body")
        .and_then(|i| doc[i..].find('>').map(|j| i + j + 1))
        .unwrap_or(0);
    let mut out = String::with_capacity(doc.len() + fragment.len() + 1);
    out.push_str(&doc[..at]);
    out.push('\n');
    out.push_str(fragment);
    out.push_str(&doc[at..]);
    out
}

fn archive_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    res
}

async fn archive(State(app): State<Arc<App>>) -> Response {
    let a = app.clone();
    match blocking(move || a.archive_entries()).await {
        Some(Ok(issues)) => archive_headers(html(
            &app,
            StatusCode::OK,
            &ArchivePage {
                brand: &app.brand,
                issues,
            },
        )),
        other => {
            if let Some(Err(e)) = other {
                app.note(format!("error: the archive: {e}"));
            }
            server_error(&app, "show the archive")
        }
    }
}

async fn archived_issue(
    State(app): State<Arc<App>>,
    axum::extract::Path(number): axum::extract::Path<String>,
) -> Response {
    let Some(number) = (number.len() <= 9 && number.bytes().all(|b| b.is_ascii_digit()))
        .then(|| number.parse::<u32>().ok())
        .flatten()
    else {
        return not_found_page(&app);
    };
    let a = app.clone();
    match blocking(move || a.archived(number)).await {
        Some(Ok(Some(page))) => archive_headers((StatusCode::OK, Html(page)).into_response()),
        Some(Ok(None)) => not_found_page(&app),
        other => {
            if let Some(Err(e)) = other {
                app.note(format!("error: archive issue #{number}: {e}"));
            }
            server_error(&app, "show this issue")
        }
    }
}

// ---------------------------------------------------------------------------
// The admin preview.

#[derive(Debug, Deserialize)]
struct PreviewParams {
    to: Option<String>,
}

#[derive(Template)]
#[template(path = "preview_summary.html")]
struct PreviewSummary {
    number: u32,
    date: String,
    frozen: bool,
    sends_at: String,
    subject: String,
    preheader: String,
    comparisons: Vec<(String, String)>,
    tip_title: String,
    tip_slug: String,
    minutes: usize,
    words: usize,
    max_minutes: u32,
    over: bool,
    active: usize,
    suppressed: usize,
    invalid: usize,
    duplicates: usize,
    rendered_for: String,
}

impl App {
    /// Loopback clients not behind a proxy, or the admin token. A request
    /// relayed by a reverse proxy on this host arrives from loopback too, so
    /// proxy headers take the loopback pass away.
    fn admin(&self, peer: SocketAddr, headers: &HeaderMap) -> bool {
        let proxied = ["forwarded", "x-forwarded-for", "x-real-ip"]
            .iter()
            .any(|h| headers.contains_key(*h));
        if peer.ip().to_canonical().is_loopback() && !proxied {
            return true;
        }
        let Some(expected) = &self.admin_token else {
            return false;
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        given.is_some_and(|g| same_secret(g, expected))
    }

    /// The next issue for a sample subscriber (`to`, else the first active one),
    /// with a summary above it.
    fn preview_page(&self, to: Option<&str>) -> Result<String, PageError> {
        let config = &self.config;
        let schedule = config.schedule()?;
        let (library, _) = plan::load_content(config)?;
        let p = plan::preview(
            config,
            &schedule,
            &library,
            None,
            to,
            &self.signer,
            self.clock.now(),
        )?;
        let summary = PreviewSummary {
            number: p.issue.number(),
            date: p.issue.slot.date.to_string(),
            frozen: p.frozen,
            sends_at: p.sends_at(&schedule),
            subject: p.view.subject.clone(),
            preheader: p.view.preheader.clone(),
            comparisons: p
                .issue
                .comparisons
                .iter()
                .map(|c| (c.meta.title.clone(), c.slug().to_string()))
                .collect(),
            tip_title: p.issue.tip.meta.title.clone(),
            tip_slug: p.issue.tip.slug.clone(),
            minutes: p.view.reading_minutes,
            words: p.words,
            max_minutes: config.newsletter.max_reading_minutes,
            over: p.too_long(config),
            active: p.counts.active,
            suppressed: p.counts.suppressed,
            invalid: p.counts.invalid,
            duplicates: p.counts.duplicates,
            rendered_for: p.sample.email.clone(),
        }
        .render()?;
        Ok(after_body(&p.view.html()?, &summary))
    }
}

async fn preview(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Result<Query<PreviewParams>, QueryRejection>,
) -> Response {
    if !app.admin(peer, &headers) {
        return not_found_page(&app);
    }
    let to = params
        .ok()
        .and_then(|Query(p)| p.to)
        .filter(|t| !t.trim().is_empty());
    let a = app.clone();
    match blocking(move || a.preview_page(to.as_deref())).await {
        Some(Ok(page)) => (StatusCode::OK, Html(page)).into_response(),
        other => {
            let detail = match other {
                Some(Err(e)) => e.to_string(),
                _ => "the preview failed".into(),
            };
            app.note(format!("error: preview: {detail}"));
            // Only the admin gets here: show what is wrong.
            message(
                &app,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The preview failed",
                detail,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
    }

    #[test]
    fn confirm_links_verify_until_they_expire_and_only_unchanged() {
        let s = Signer::new(b"k");
        let x = (t0() + TimeDelta::hours(48)).timestamp();
        let url = confirm_url(
            &s,
            "https://n.example.com/",
            "A|b@example.com",
            "Ana | Lee",
            x,
        );
        let q = url.split_once('?').unwrap().1;
        let get = |k: &str| {
            q.split('&')
                .find_map(|p| p.strip_prefix(&format!("{k}=")))
                .map(|v| {
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8()
                        .unwrap()
                        .to_string()
                })
                .unwrap()
        };
        let (e, n, xs, t) = (get("e"), get("n"), get("x"), get("t"));
        assert_eq!((e.as_str(), n.as_str()), ("A|b@example.com", "Ana | Lee"));
        assert_eq!(verify_confirm(&s, &e, &n, &xs, &t, t0()), Ok(()));
        let later = t0() + TimeDelta::hours(49);
        assert_eq!(
            verify_confirm(&s, &e, &n, &xs, &t, later),
            Err(LinkProblem::Expired)
        );
        let cases: &[(&str, &str, &str, &str)] = &[
            ("B|b@example.com", &n, &xs, &t),
            (&e, "Ana", &xs, &t),
            (&e, &n, &(x + 3600).to_string(), &t),
            (&e, &n, "-1", &t),
            (&e, &n, "", &t),
            (&e, &n, "99999999999999999999999", &t),
            (&e, &n, &xs, "00"),
            (&e, &n, &xs, ""),
            ("A", "b@example.com|Ana | Lee", &xs, &t),
        ];
        for (e, n, x, t) in cases {
            assert_eq!(
                verify_confirm(&s, e, n, x, t, t0()),
                Err(LinkProblem::Invalid),
                "{e} {n} {x} {t}"
            );
        }
        assert_eq!(
            verify_confirm(&Signer::new(b"other"), &e, &n, &xs, &t, t0()),
            Err(LinkProblem::Invalid)
        );
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("", "abc"));
        assert!(!same_secret("abcd", "abc"));
    }

    #[test]
    fn names_are_cleaned_like_the_list_does() {
        let cases = [
            ("  Ana \r\n Lee ", "Ana Lee"),
            ("Bob\u{2028}<b>", "Bob <b>"),
            ("", ""),
            ("\t\t", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_name(raw), want, "{raw:?}");
        }
        assert_eq!(
            clean_name(&"é".repeat(1000)).chars().count(),
            MAX_NAME_CHARS
        );
    }

    #[test]
    fn fragments_go_after_the_body_tag() {
        assert_eq!(
            after_body("<html><body style=\"x\"><p>", "N"),
            "<html><body style=\"x\">\nN<p>"
        );
        assert_eq!(after_body("<p>", "N"), "\nN<p>");
    }

    #[test]
    fn one_confirmation_per_address_per_hour_and_memory_is_bounded() {
        let limit = RateLimit::new(TimeDelta::minutes(60), 2);
        assert!(limit.claim("a", t0()));
        assert!(!limit.claim("a", t0() + TimeDelta::minutes(59)));
        assert!(limit.claim("b", t0()));
        // Full, and nobody's hour is over.
        assert!(!limit.claim("c", t0() + TimeDelta::minutes(1)));
        assert!(limit.claim("a", t0() + TimeDelta::minutes(60)));
        // A failed send gives the claim back; a stale release does nothing.
        limit.release("a", t0() + TimeDelta::minutes(60));
        assert!(limit.claim("a", t0() + TimeDelta::minutes(61)));
        limit.release("a", t0());
        assert!(!limit.claim("a", t0() + TimeDelta::minutes(62)));
    }
}
