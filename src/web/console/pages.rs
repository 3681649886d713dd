//! What every console page shares: the frame (the brand, who is signed in,
//! the sign-out form with its CSRF token, the menu by role), rendering a
//! page, the message page for refusals and failures, and how a stored time
//! is shown.
//!
//! Owns the console's look. It must not read the store or decide access.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::Console;
use super::guard::Principal;
use crate::store::Role;

/// Around every page: the brand, and who is signed in.
pub(crate) struct Frame {
    pub(crate) brand: String,
    /// The account's name; empty when nobody is signed in (the sign-in page).
    pub(crate) who: String,
    pub(crate) role: String,
    /// The session's CSRF token, for every form on the page (empty for the
    /// bearer token, which needs none).
    pub(crate) csrf: String,
    /// Whether the menu shows the readers (publishers only).
    pub(crate) publisher: bool,
    /// Whether the account may hold and send proofs.
    pub(crate) editor: bool,
    /// Which menu entry is this page (`dashboard`, `readers`, …).
    pub(crate) here: &'static str,
}

impl Frame {
    pub(crate) fn of(c: &Console, p: &Principal, here: &'static str) -> Self {
        Frame {
            brand: c.app.brand.name.clone(),
            who: p.name.clone(),
            role: p.role.to_string(),
            csrf: p.csrf.clone().unwrap_or_default(),
            publisher: p.may(Role::Publisher),
            editor: p.may(Role::Editor),
            here,
        }
    }

    pub(crate) fn signed_out(c: &Console) -> Self {
        Frame {
            brand: c.app.brand.name.clone(),
            who: String::new(),
            role: String::new(),
            csrf: String::new(),
            publisher: false,
            editor: false,
            here: "",
        }
    }
}

#[derive(Template)]
#[template(path = "admin/message.html")]
struct MessagePage {
    frame: Frame,
    heading: String,
    message: String,
}

/// Renders `page` with `status`.
pub(crate) fn render(c: &Console, status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            c.app
                .note(format!("error: rendering a console page failed: {e}"));
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// A page that only says something (a refusal, a failure).
pub(crate) fn problem(c: &Console, status: StatusCode, heading: &str, message: String) -> Response {
    render(
        c,
        status,
        &MessagePage {
            frame: Frame::signed_out(c),
            heading: heading.into(),
            message,
        },
    )
}

/// A stored time (RFC 3339) as the console shows it: to the minute, in UTC.
pub(super) fn shown(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at).map_or_else(
        |_| at.to_string(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        },
    )
}
