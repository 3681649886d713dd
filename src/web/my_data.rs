//! The reader's own data over HTTP: "Download my data" (`GET
//! /privacy/data`, the JSON of `subscribers show --json`) and "Delete my
//! data" (`GET /privacy/delete` shows a button; only its `POST` erases).
//!
//! Owns these routes and their pages. Both take the unsubscribe link's
//! address and token and check them as unsubscribing does, so a reader only
//! ever reaches their own address. The erasure itself is `crate::reader_data`'s,
//! on the configured store (the files or PostgreSQL); it is the one write
//! this server makes to the ledger.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::app::{App, Brand};
use super::error::{WebError, answer};
use super::forms::{PostedLink, TokenParams};
use super::pages::{bad_request, html, message};
use crate::reader_data::{self, PrivacyError};
use crate::schedule::clock::Clock as _;

/// The routes, merged into the server's router.
pub(super) fn privacy_routes() -> Router<Arc<App>> {
    Router::new()
        .route("/privacy/data", get(download))
        .route("/privacy/delete", get(delete_page).post(delete))
}

#[derive(Template)]
#[template(path = "forget.html")]
struct ForgetPage<'a> {
    brand: &'a Brand,
    email: &'a str,
    token: &'a str,
}

impl App {
    /// Whether `key`'s reader asked to be forgotten (then sign-up and
    /// resubscribe are refused). Unreadable files (or an unreachable store)
    /// count as not forgotten here: the suppression check or the store write
    /// that follows fails on them anyway.
    pub(super) async fn forgotten(&self, key: &str) -> bool {
        reader_data::is_forgotten(&*self.store, key)
            .await
            .unwrap_or(false)
    }
}

/// The page answering a confirmation or resubscribe of an erased address.
pub(super) fn forgotten_page(app: &App) -> Response {
    message(
        app,
        StatusCode::CONFLICT,
        "This address was erased",
        format!(
            "The owner of this address asked {} to forget it, so it cannot be signed up here again. To subscribe again, write to {}.",
            app.brand.name, app.config.unsubscribe.mailto
        ),
    )
}

/// GET (e, t): the reader's data as a JSON download.
async fn download(
    State(app): State<Arc<App>>,
    params: Result<Query<TokenParams>, QueryRejection>,
) -> Result<Response, WebError> {
    let Ok(Query(params)) = params else {
        return Ok(bad_request(
            &app,
            "This link is garbled. Nothing was shown.",
        ));
    };
    let (key, _) = match app.unsubscribe_link(&params) {
        Ok(k) => k,
        Err(page) => return Ok(*page),
    };
    let log = "cannot gather a reader's data".to_string();
    let record = answer(
        &app,
        "gather your data",
        log,
        reader_data::gather(&*app.store, &app.keyer(), &key).await,
    )?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"my-data.json\"",
            ),
        ],
        format!("{}\n", record.to_json()),
    )
        .into_response())
}

/// GET (e, t): a page with the button. Never erases: mail scanners fetch links.
async fn delete_page(
    State(app): State<Arc<App>>,
    params: Result<Query<TokenParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return bad_request(&app, "This link is garbled. Nothing was changed.");
    };
    match app.unsubscribe_link(&params) {
        Ok((key, token)) => html(
            &app,
            StatusCode::OK,
            &ForgetPage {
                brand: &app.brand,
                email: &key,
                token: &token,
            },
        ),
        Err(page) => *page,
    }
}

/// POST (e, t): erases the reader (as `subscribers forget`), unless a send is running.
async fn delete(
    State(app): State<Arc<App>>,
    PostedLink(key): PostedLink,
) -> Result<Response, WebError> {
    let log = "cannot erase a reader".to_string();
    // A running send is an answer, not a failure: `Ok(Err(..))`.
    let erased = match reader_data::forget(
        &app.config,
        &*app.store,
        &app.keyer(),
        &key,
        reader_data::Copies::Skip,
        app.clock.now(),
    )
    .await
    {
        Err(
            e @ (PrivacyError::Busy(_)
            | PrivacyError::InFlight { .. }
            | PrivacyError::Sending { .. }),
        ) => Err(e),
        other => Ok(answer(&app, "delete your data", log, other)?),
    };
    Ok(match erased {
        Ok(e) => {
            app.note(format!(
                "forgot a reader on their request: now `{}` ({} list row(s), {} ledger row(s))",
                e.pseudonym, e.list_rows, e.ledger_rows
            ));
            message(
                &app,
                StatusCode::OK,
                "Your data is deleted",
                format!(
                    "{} no longer holds your address or name. A code made from the address stays, only so that no {} email reaches it again.",
                    app.brand.name, app.brand.name
                ),
            )
        }
        Err(_) => message(
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again later",
            "An issue is being sent right now, so your data cannot be deleted this minute. Nothing was changed. Please try again in a little while.".into(),
        ),
    })
}
