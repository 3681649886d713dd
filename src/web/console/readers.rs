//! `GET /admin/readers?email=ADDRESS`: what `tipsheet subscribers show`
//! prints about one reader; `POST /admin/readers/forget` (field `email`):
//! their erasure, after a confirmation step (the same `POST` with
//! `confirm=yes`). Publishers only: the console's one view of personal data.
//!
//! Owns these pages. Gathering and erasing are `crate::reader_data`'s, the
//! same calls as `subscribers show` and `forget`; the audit line names the
//! erased reader by pseudonym only, so the log keeps no erased address.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Console;
use super::guard::{Peer, admit, admit_post, wants_html};
use super::pages::{Frame, problem, render};
use crate::accounts::audit::{Action, record};
use crate::reader_data::{self, PrivacyError};
use crate::schedule::clock::Clock as _;
use crate::store::Role;

/// One reader, as shown.
pub(crate) struct Shown {
    pub(crate) key: String,
    pub(crate) forgotten: bool,
    pub(crate) pseudonym: String,
    /// Each row's fields, `column value` joined.
    pub(crate) list: Vec<String>,
    pub(crate) suppression: Vec<String>,
    /// (number, slot, status, attempts, reply, updated)
    pub(crate) issues: Vec<(u32, String, String, u32, String, String)>,
    /// (kind, slot, source, reason, at)
    pub(crate) events: Vec<(String, String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "admin/readers.html")]
struct ReadersPage {
    frame: Frame,
    query: String,
    error: String,
    reader: Option<Shown>,
    /// The erasure to confirm (the address), when asked.
    confirm: String,
    /// What was erased (the pseudonym), just now.
    erased: String,
}

fn rows(rows: &[crate::list::erase::Row]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            r.fields
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(c, v)| format!("{c}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

async fn look_up(c: &Console, email: &str) -> Result<Shown, String> {
    let record = reader_data::gather(&*c.app.store, &c.app.keyer(), email)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Shown {
        key: record.key.clone(),
        forgotten: record.forgotten,
        pseudonym: record.pseudonym.clone(),
        list: rows(&record.list),
        suppression: rows(&record.suppression),
        issues: record
            .issues
            .iter()
            .map(|i| {
                let r = &i.recipient;
                (
                    i.number,
                    i.slot.to_string(),
                    r.status.as_str().to_string(),
                    r.attempts,
                    format!(
                        "{}{}",
                        r.last_code.map(|c| format!("{c} ")).unwrap_or_default(),
                        r.last_reply.as_deref().unwrap_or("")
                    ),
                    r.updated_at.clone(),
                )
            })
            .collect(),
        events: record
            .events
            .iter()
            .map(|e| {
                (
                    e.kind.clone(),
                    e.slot.clone().unwrap_or_default(),
                    e.source.clone(),
                    e.reason.clone(),
                    e.at.clone(),
                )
            })
            .collect(),
    })
}

fn page_of(frame: Frame) -> ReadersPage {
    ReadersPage {
        frame,
        query: String::new(),
        error: String::new(),
        reader: None,
        confirm: String::new(),
        erased: String::new(),
    }
}

/// GET: the search form, and the reader asked for.
pub(super) async fn page(
    State(c): State<Arc<Console>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let p = match admit(&c, &headers, Role::Publisher).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let mut page = page_of(Frame::of(&c, &p, "readers"));
    if let Some(email) = q.get("email").map(|e| e.trim()).filter(|e| !e.is_empty()) {
        page.query = email.to_string();
        match look_up(&c, email).await {
            Ok(shown) => page.reader = Some(shown),
            Err(e) => page.error = e,
        }
    }
    render(&c, StatusCode::OK, &page)
}

/// POST `email` (and `confirm=yes`): erases the reader, after asking.
pub(super) async fn forget(
    State(c): State<Arc<Console>>,
    peer: Peer,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let p = match admit_post(&c, &headers, &fields, Role::Publisher).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let email = fields.get("email").map(|e| e.trim()).unwrap_or("");
    let mut page = page_of(Frame::of(&c, &p, "readers"));
    page.query = email.to_string();
    if fields.get("confirm").map(String::as_str) != Some("yes") {
        page.confirm = email.to_string();
        return render(&c, StatusCode::OK, &page);
    }
    let app = &c.app;
    let erased = reader_data::forget(
        &app.config,
        &*app.store,
        &app.keyer(),
        email,
        reader_data::Copies::Skip,
        app.clock.now(),
    )
    .await;
    match erased {
        Ok(e) => {
            if let Err(err) = record(
                &*app.store,
                &p.name,
                Action::Erase,
                &e.pseudonym,
                "",
                &peer.client(),
            )
            .await
            {
                app.note(format!("error: console: the erasure's audit line: {err}"));
            }
            app.note(format!(
                "console: `{}` erased a reader: now `{}`",
                p.name, e.pseudonym
            ));
            if !wants_html(&headers) {
                return (
                    StatusCode::OK,
                    format!("erased; held only as `{}`\n", e.pseudonym),
                )
                    .into_response();
            }
            page.query = String::new();
            page.erased = e.pseudonym;
            render(&c, StatusCode::OK, &page)
        }
        Err(
            e @ (PrivacyError::Busy(_)
            | PrivacyError::InFlight { .. }
            | PrivacyError::Sending { .. }),
        ) => problem(
            &c,
            StatusCode::SERVICE_UNAVAILABLE,
            "Not now",
            format!("{e}. Nothing was changed; try again when the send is over."),
        ),
        Err(e @ PrivacyError::Address(_)) => {
            page.error = e.to_string();
            render(&c, StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => {
            app.note(format!("error: console erasure: {e}"));
            problem(
                &c,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The erasure failed",
                format!("{e}"),
            )
        }
    }
}
