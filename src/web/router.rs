//! The router: routes, security headers, and starting the server.
//!
//! Owns which path goes to which handler and the headers every answer gets.
//! It must not hold handlers or pages itself; nothing else in `web/`
//! imports it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};

use super::app::{App, BODY_LIMIT, Brand, Events};
use super::archive::{archive, archived_issue};
use super::error::ServerError;
use super::my_data::privacy_routes;
use super::pages::not_found;
use super::preview::preview;
use super::signup::{confirm, confirm_page, subscribe, subscribe_form};
use super::unsubscribe::{resubscribe, unsubscribe, unsubscribe_page};
use super::webhooks;
use crate::config::Config;
use crate::delivery::Transport;
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
    let (signer, warning) = plan::signer(config)?;
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
        store,
        config: config.clone(),
    });
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
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(ServerError::Serve)
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(subscribe_form))
        .route("/healthz", get(|| async { "ok" }))
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
        .route("/issues/{number}", get(archived_issue))
        .route("/preview", get(preview))
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
