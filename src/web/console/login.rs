//! Signing in and out: `GET /admin/login` (the form), `POST /admin/login`
//! (fields `name` and `password`), `POST /admin/logout`.
//!
//! Owns the answers: a new session id at every sign-in (the old one ended),
//! the cookie's flags, one answer for an unknown name and a wrong password,
//! 429 while throttled. The rules are `crate::accounts::session`'s.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Console;
use super::guard::{
    Peer, admit_post, clear_cookie, foreign_post, principal, session_cookie, set_cookie, to_sign_in,
};
use super::pages::{Frame, problem, render};
use crate::accounts::session::{self, SignIn};
use crate::schedule::clock::Clock as _;
use crate::store::Role;

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    frame: Frame,
    name: String,
    error: Option<String>,
}

fn form_page(c: &Console, status: StatusCode, name: &str, error: Option<String>) -> Response {
    render(
        c,
        status,
        &LoginPage {
            frame: Frame::signed_out(c),
            name: name.to_string(),
            error,
        },
    )
}

/// GET: the form (or the dashboard, when signed in already).
pub(super) async fn form(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if session_cookie(&headers).is_some() && principal(&c, &headers).await.is_ok() {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/admin")]).into_response();
    }
    form_page(&c, StatusCode::OK, "", None)
}

/// POST `name`, `password`: a session, or the same refusal for any mismatch.
pub(super) async fn submit(
    State(c): State<Arc<Console>>,
    peer: Peer,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    if !c.app.own_host(&headers) {
        return to_sign_in();
    }
    // A foreign page must not sign a browser in to an account of its choice.
    if let Some(refused) = foreign_post(&c, &headers, false) {
        return refused;
    }
    let name = fields.get("name").map(|n| n.trim()).unwrap_or("");
    let password = fields.get("password").map(String::as_str).unwrap_or("");
    let now = c.app.clock.now().timestamp();
    let client = peer.client();
    let outcome = session::sign_in(&c.app.store, name, password, &client, now).await;
    let account = match outcome {
        Ok(SignIn::Welcome(a)) => a,
        Ok(SignIn::Refused) => {
            return form_page(
                &c,
                StatusCode::UNAUTHORIZED,
                name,
                Some("That name and password do not match an account.".into()),
            );
        }
        Ok(SignIn::Throttled(after)) => {
            let mut page = form_page(
                &c,
                StatusCode::TOO_MANY_REQUESTS,
                name,
                Some(format!(
                    "Too many failed sign-ins. Try again in {} minutes.",
                    after / 60
                )),
            );
            if let Ok(v) = after.to_string().parse() {
                page.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return page;
        }
        Err(e) => {
            c.app.note(format!("error: console sign-in: {e}"));
            return problem(
                &c,
                StatusCode::SERVICE_UNAVAILABLE,
                "The store is out of reach",
                "Nobody can sign in right now; try again in a minute.".into(),
            );
        }
    };
    let previous = session_cookie(&headers);
    match session::open(&c.app.store, &account.name, previous.as_deref(), now).await {
        Ok(s) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, HeaderValue::from_static("/admin")),
                (header::SET_COOKIE, set_cookie(&s.id)),
            ],
        )
            .into_response(),
        Err(e) => {
            c.app.note(format!("error: console sign-in: {e}"));
            problem(
                &c,
                StatusCode::SERVICE_UNAVAILABLE,
                "The store is out of reach",
                "Nobody can sign in right now; try again in a minute.".into(),
            )
        }
    }
}

/// POST: ends the session (its CSRF token required, like every form).
pub(super) async fn logout(
    State(c): State<Arc<Console>>,
    peer: Peer,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let p = match admit_post(&c, &headers, &fields, Role::Viewer).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    if let Some(id) = session_cookie(&headers)
        && let Err(e) = session::close(&c.app.store, &id, &p.name, &peer.client()).await
    {
        c.app.note(format!("error: console sign-out: {e}"));
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, HeaderValue::from_static("/admin/login")),
            (header::SET_COOKIE, clear_cookie()),
        ],
    )
        .into_response()
}
