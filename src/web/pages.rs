//! Pages shared by every route: rendering a template into a response, and
//! the error page with its variants (404, 400, 413, 500).
//!
//! Owns what these pages say. It must not read the store or decide who may
//! see what: handlers call it with what to show.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::app::{App, BODY_LIMIT, Brand};

#[derive(Template)]
#[template(path = "error.html")]
pub(super) struct ErrorPage<'a> {
    brand: &'a Brand,
    heading: &'a str,
    message: String,
    link_href: Option<&'a str>,
    link_text: &'a str,
}

pub(super) fn html(app: &App, status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            app.note(format!("error: rendering a page failed: {e}"));
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

pub(super) fn message(app: &App, status: StatusCode, heading: &str, message: String) -> Response {
    message_with_link(app, status, heading, message, None)
}

pub(super) fn message_with_link(
    app: &App,
    status: StatusCode,
    heading: &str,
    message: String,
    link: Option<(&str, &str)>,
) -> Response {
    html(
        app,
        status,
        &ErrorPage {
            brand: &app.brand,
            heading,
            message,
            link_href: link.map(|l| l.0),
            link_text: link.map_or("", |l| l.1),
        },
    )
}

pub(super) fn server_error(app: &App, what: &str) -> Response {
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

pub(super) async fn not_found(State(app): State<Arc<App>>) -> Response {
    not_found_page(&app)
}

pub(super) fn not_found_page(app: &App) -> Response {
    message(
        app,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address.".into(),
    )
}

pub(super) fn bad_request(app: &App, why: &str) -> Response {
    message(
        app,
        StatusCode::BAD_REQUEST,
        "This link does not work",
        why.into(),
    )
}

/// A form that cannot be read: 413 when it is too large, else 400 saying `why`.
pub(super) fn unreadable(app: &App, rejection: &FormRejection, why: &str) -> Response {
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
