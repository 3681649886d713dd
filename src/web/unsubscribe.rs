//! One-click unsubscribe (RFC 8058) and resubscribe: token checks and the
//! suppression list writes. An unsubscribe goes through `inbound::policy`,
//! so that it is also recorded as an `unsubscribe` event (source `web`) that
//! `status` counts, on either store engine.

//!
//! Owns these routes and their pages. It must not suppress or lift anything
//! but the address of a genuine link.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::app::{App, Brand};
use super::error::{WebError, answer};
use super::forms::{PostedLink, TokenParams};
use super::my_data::forgotten_page;
use super::pages::{bad_request, html, message, message_with_link};
use crate::inbound::policy;
use crate::list::SuppressionReason;
use crate::mail::token::encode_query;
use crate::schedule::clock::Clock as _;
use crate::store::StoreError;

#[derive(Template)]
#[template(path = "unsubscribe.html")]
pub(super) struct UnsubscribePage<'a> {
    brand: &'a Brand,
    email: &'a str,
    action: String,
}

#[derive(Template)]
#[template(path = "unsubscribed.html")]
pub(super) struct UnsubscribedPage<'a> {
    brand: &'a Brand,
    email: &'a str,
    token: &'a str,
    already: bool,
}

#[derive(Template)]
#[template(path = "resubscribed.html")]
pub(super) struct ResubscribedPage<'a> {
    brand: &'a Brand,
    email: &'a str,
}

impl App {
    /// Whether `key` is suppressed now (an erased reader: under its pseudonym).
    pub(super) async fn suppressed(&self, key: &str) -> Result<bool, StoreError> {
        self.store.is_suppressed(key).await
    }

    /// Suppresses `key` unless it already is, recording the unsubscribe
    /// event with it in the next group commit; `Ok(false)` when it already was.
    pub(super) async fn suppress(&self, key: &str) -> Result<bool, StoreError> {
        let now = self.clock.now();
        // Already suppressed, or erased (suppressed under its pseudonym):
        // never write the address back in clear.
        if self.suppressed(key).await? {
            return Ok(false);
        }
        let applied = match self.unsubscribes.unsubscribe(key, now).await {
            Ok(a) => a,
            // The unsubscribe must hold even when its event cannot be
            // recorded: suppress, and say what was not counted.
            Err(e) => {
                self.note(format!(
                    "warning: the unsubscribe of `{key}` is not counted in `status`: {e}"
                ));
                let new = self
                    .store
                    .suppress(key, &SuppressionReason::Unsubscribed.as_str(), now)
                    .await?;
                if new {
                    self.note(format!("unsubscribed `{key}`"));
                }
                return Ok(new);
            }
        };
        let new = applied.suppressed.is_some();
        if new {
            self.note(format!("unsubscribed `{key}`"));
        }
        Ok(new)
    }

    /// Whether `key` complained about any issue (then only the double opt-in
    /// brings it back); a store that cannot be read counts as a complaint.
    pub(super) async fn complained(&self, key: &str) -> bool {
        policy::complained(&*self.store, key).await
    }

    /// Lifts a suppression of `key` if there is one; `Ok(false)` when there was none.
    pub(super) async fn lift(&self, key: &str) -> Result<bool, StoreError> {
        let lifted = self.store.resubscribe(key, self.clock.now()).await?;
        if lifted {
            self.note(format!("resubscribed `{key}`"));
        }
        Ok(lifted)
    }
}

/// "You are unsubscribed" (`already` when it was so before this request).
fn unsubscribed(app: &App, key: &str, token: &str, already: bool) -> Response {
    html(
        app,
        StatusCode::OK,
        &UnsubscribedPage {
            brand: &app.brand,
            email: key,
            token,
            already,
        },
    )
}

/// The page for an unsubscribe link whose query cannot be read.
fn garbled(app: &App) -> Response {
    bad_request(
        app,
        "This unsubscribe link is garbled. Nothing was changed.",
    )
}

/// GET: a page with a button. Never writes: mail scanners fetch links.
pub(super) async fn unsubscribe_page(
    State(app): State<Arc<App>>,
    params: Result<Query<TokenParams>, QueryRejection>,
) -> Result<Response, WebError> {
    let Ok(Query(params)) = params else {
        return Ok(garbled(&app));
    };
    if params.e.is_none() && params.t.is_none() {
        return Ok(message(
            &app,
            StatusCode::OK,
            "Unsubscribe",
            format!(
                "To unsubscribe, use the link at the bottom of any {} email: it is made for your address. Or write to {}.",
                app.brand.name, app.config.unsubscribe.mailto
            ),
        ));
    }
    let (key, token) = match app.unsubscribe_link(&params) {
        Ok(k) => k,
        Err(page) => return Ok(*page),
    };
    let already = answer(
        &app,
        "read the unsubscribe list",
        String::new(),
        app.suppressed(&key).await,
    )?;
    Ok(match already {
        true => unsubscribed(&app, &key, &token, true),
        false => html(
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
    })
}

/// POST: RFC 8058 one-click (body `List-Unsubscribe=One-Click`, answered with
/// a bare 200) or the confirmation page's button (answered with a page
/// offering to resubscribe). The address and token are in the query either way.
pub(super) async fn unsubscribe(
    State(app): State<Arc<App>>,
    params: Result<Query<TokenParams>, QueryRejection>,
    body: Bytes,
) -> Result<Response, WebError> {
    let Ok(Query(params)) = params else {
        return Ok(garbled(&app));
    };
    let (key, token) = match app.unsubscribe_link(&params) {
        Ok(k) => k,
        Err(page) => return Ok(*page),
    };
    // Urlencoded or multipart, RFC 8058's body always holds this.
    let one_click = body
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"One-Click"));
    let log = format!(
        "cannot record the unsubscribe of `{key}` in `{}`",
        app.config.subscribers.suppressed_path.display()
    );
    let written = answer(
        &app,
        "record your unsubscribe",
        log,
        app.suppress(&key).await,
    )?;
    if one_click {
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("unsubscribed from {}\n", app.brand.name),
        )
            .into_response());
    }
    Ok(unsubscribed(&app, &key, &token, !written))
}

/// POST (e, t): lifts a suppression by appending a `resubscribed` record.
pub(super) async fn resubscribe(
    State(app): State<Arc<App>>,
    PostedLink(key): PostedLink,
) -> Result<Response, WebError> {
    if app.forgotten(&key).await {
        return Ok(forgotten_page(&app));
    }
    // After a spam complaint, only the full double opt-in brings the address back.
    if app.complained(&key).await {
        return Ok(message_with_link(
            &app,
            StatusCode::OK,
            "Please sign up again",
            format!(
                "{key} asked us to stop as spam, so we need a fresh confirmation: sign up again and click the link we send you."
            ),
            Some(("subscribe", "Sign up")),
        ));
    }
    let log = format!("cannot record the resubscribe of `{key}`");
    answer(&app, "record your resubscribe", log, app.lift(&key).await)?;
    Ok(html(
        &app,
        StatusCode::OK,
        &ResubscribedPage {
            brand: &app.brand,
            email: &key,
        },
    ))
}
