//! The publisher's console under `/admin`: sign-in, the dashboard, one
//! issue in full, readers, content and the audit log, and the actions
//! (hold, release, approve, proof, erase) as plain form `POST`s at stable
//! paths. Server-rendered with askama and usable without JavaScript; the
//! one script (`live.js`, same origin only) follows a send's progress.
//!
//! Owns the console's routes, pages and headers. Who may do what is
//! `guard.rs`; accounts, sessions and the audit log are `crate::accounts`;
//! every action is the library call its command makes. It must not send
//! issues or write the store but through those calls.

mod actions;
mod audit;
mod charts;
mod content;
mod dashboard;
pub(crate) mod guard;
mod issue;
mod live;
mod login;
mod pages;
mod readers;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};

use super::app::App;
pub(crate) use dashboard::spawn_tally_keeper;

/// The console's state: the server's, shared.
pub(crate) struct Console {
    pub(crate) app: Arc<App>,
    /// The send's progress, read once for every viewer.
    live: live::Ticker,
}

/// The console's policy: the page's own script (`live.js`) and its event
/// stream, nothing from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's policy and referrer rule. `same-origin`, not the public
/// pages' `no-referrer`: under `no-referrer` a browser sends `Origin: null`
/// with a form, and the console could not tell its own forms from a
/// foreign page's.
async fn console_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

pub(crate) async fn not_found(State(c): State<Arc<Console>>) -> Response {
    pages::problem(
        &c,
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such console page.".into(),
    )
}

/// The routes under `/admin`, with their state.
pub(crate) fn router(app: Arc<App>) -> Router {
    let c = Arc::new(Console {
        app,
        live: live::Ticker::new(),
    });
    Router::new()
        .route("/", get(dashboard::page))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/events", get(live::events))
        .route("/static/live.js", get(live::script))
        .route("/issues/{date}", get(issue::page))
        .route("/issues/{date}/{action}", post(actions::act))
        .route("/readers", get(readers::page))
        .route("/readers/forget", post(readers::forget))
        .route("/content", get(content::page))
        .route("/audit", get(audit::page))
        .fallback(not_found)
        .layer(axum::middleware::map_response(console_headers))
        .with_state(c)
}
