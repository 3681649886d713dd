//! The router: routes, security headers, the per-client POST limit, and
//! starting the server with its link-mail worker, sweeper and the
//! console's tally keeper.
//!
//! Owns which path goes to which handler and the headers every answer gets.
//! It must not hold handlers or pages itself; nothing else in `web/`
//! imports it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};

use super::app::{App, BODY_LIMIT, Brand, Events, Kept, Proxies, keyer};
use super::archive::{archive, archived_issue};
use super::error::ServerError;
use super::feed::archive_feed;
use super::limits::{limit_posts, post_limiter, spawn_sweeper};
use super::mailer;
use super::metrics::{Metrics, routes};
use super::my_data::privacy_routes;
use super::pages::not_found;
use super::preview::preview;
use super::signup::{confirm, confirm_page, subscribe, subscribe_form};
use super::unsubscribe::{resubscribe, unsubscribe, unsubscribe_page};
use super::webhooks;
use crate::config::Config;
use crate::delivery::Transport;
use crate::inbound::policy::Policy;
use crate::inbound::unsubscribes::Unsubscribes;
use crate::plan;
use crate::schedule::clock::WallClock;
use crate::store::Store;

/// Runs `tipsheet serve` until SIGINT or SIGTERM. `listen` overrides
/// `server.listen`; `now` pins the clock's start (a testing aid).
pub(crate) async fn run(
    config: &Config,
    listen: Option<&str>,
    now: Option<DateTime<Utc>>,
    events: Arc<dyn Events>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let listening = listen.unwrap_or(&config.server.listen);
    let (signer, warning) = plan::signer_for(config, plan::Signing::Serve(listening))?;
    if let Some(w) = warning {
        events.note(&w);
    }
    // Reading creates nothing: the ledger is created by the first write.
    let store = match plan::read_store(config).await? {
        Some(s) => s,
        None => Store::open(&plan::store_settings(config)?).await?,
    };
    // A list that cannot be read would make every unsubscribe fail.
    store.is_suppressed("check@example.invalid").await?;
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
    let policy = Policy::new(&config.bounce_settings(), keyer(config, &signer));
    let unsubscribes = Unsubscribes::start(policy, store.clone());
    // Validated with the config: an entry that does not parse stopped `load`.
    let nets = config.server.proxies().unwrap_or_default();
    let (mailer, queue) = mailer::channel(config.server.mail_queue);
    let app = Arc::new(App {
        kept: Kept::default(),
        unsubscribes,
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
        store,
        proxies: Proxies {
            nets,
            header: config.server.proxy_header.to_ascii_lowercase(),
        },
        mailer,
        posts: post_limiter(config),
        config: config.clone(),
    });
    // What outlived its window while no server ran goes before the first request.
    app.sweep().await;
    let stop_mailer = Arc::new(tokio::sync::Notify::new());
    let worker = mailer::spawn(app.clone(), queue, stop_mailer.clone());
    let sweeper = spawn_sweeper(app.clone());
    let tally_keeper = super::console::spawn_tally_keeper(app.clone());
    let addr = listen.unwrap_or(&config.server.listen).to_string();
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
    let limits = Limits::of(config);
    let metrics = Arc::new(Metrics::new(config, Some(app.store.clone()), app.clock));
    let served = serve(listener, router(app, metrics, &limits), limits, shutdown).await;
    sweeper.abort();
    tally_keeper.abort();
    // Mails already queued still go (their pages said "sent"), for a while.
    stop_mailer.notify_one();
    let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
    served
}

/// `tipsheet run`'s listener (`[server] metrics_listen`), bound: only
/// `/metrics` and `/healthz`, with the server's limits.
pub(crate) struct MetricsListener {
    listener: tokio::net::TcpListener,
    config: Config,
    now: Option<DateTime<Utc>>,
    /// Where it listens: `http://127.0.0.1:9187/metrics`.
    pub(crate) url: String,
}

/// Binds `addr` for [`MetricsListener::serve`] (a bind error stops `run` at start).
pub(crate) async fn bind_metrics(
    config: &Config,
    addr: &str,
    now: Option<DateTime<Utc>>,
) -> Result<MetricsListener, ServerError> {
    let bind = |source| ServerError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(bind)?;
    let bound = listener.local_addr().map_err(bind)?;
    Ok(MetricsListener {
        listener,
        config: config.clone(),
        now,
        url: format!("http://{bound}/metrics"),
    })
}

impl MetricsListener {
    /// Serves until `shutdown`.
    pub(crate) async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let limits = Limits::of(&self.config);
        let clock = WallClock::starting_at(self.now);
        let metrics = Arc::new(Metrics::new(&self.config, None, clock));
        let app = routes(metrics)
            .fallback(not_found_plain)
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                limits.request,
            ))
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                limits.requests,
            ))
            .layer(axum::middleware::map_response(security_headers));
        serve(self.listener, app, limits, shutdown).await
    }
}

async fn not_found_plain() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found\n")
}

/// The server's limits, from `[server]`.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header: Duration,
    request: Duration,
    connections: usize,
    requests: usize,
}

impl Limits {
    fn of(config: &Config) -> Self {
        let s = &config.server;
        Self {
            header: Duration::from_secs(s.header_timeout_seconds.max(1)),
            request: Duration::from_secs(s.request_timeout_seconds.max(1)),
            connections: s.max_connections.max(1),
            requests: s.max_requests.max(1),
        }
    }
}

/// Accepts connections until `shutdown`, each served by hyper with a
/// header-read timeout (the timer axum's own `serve` leaves out), at most
/// `limits.connections` at once (one more is closed at once), then lets the
/// open ones finish.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;
    use hyper_util::service::TowerToHyperService;

    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header);
    let http = http.http1_only();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait a little.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream); // Full: closed at once rather than queued.
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone().layer(axum::middleware::map_request(
            move |mut req: axum::extract::Request| async move {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        )));
        let connection = http.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    // Open requests get a few seconds to finish.
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

fn router(app: Arc<App>, metrics: Arc<Metrics>, limits: &Limits) -> Router {
    let metrics = routes(metrics);
    Router::new()
        .route("/", get(subscribe_form))
        .route_service("/healthz", metrics.clone())
        .route_service("/metrics", metrics)
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .route("/resubscribe", post(resubscribe))
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
        .route("/issues/feed.xml", get(archive_feed))
        .route("/issues/{number}", get(archived_issue))
        .route("/preview", get(preview))
        .nest_service("/admin", super::console::router(app.clone()))
        .merge(privacy_routes())
        .nest_service(
            "/webhooks",
            webhooks::router(
                &app.config,
                app.events.clone(),
                app.store.clone(),
                app.keyer(),
            ),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request,
        ))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.requests,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            limit_posts,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(app)
}

/// No framing (clickjacking the unsubscribe button), no scripts, no leaking
/// tokens in `Referer`, no caching of personal pages unless a handler says so.
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    // The console sets its own (it runs its one same-origin script).
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(
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
