//! `GET /admin/audit`: the audit log, newest first, fifty lines a page
//! (`?before=ID`).
//!
//! Owns this page. The log is the store's, written by `crate::accounts`.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::Console;
use super::guard::admit;
use super::pages::{Frame, problem, render};
use crate::store::{AuditEntry, Role};

const PAGE: usize = 50;

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    frame: Frame,
    entries: Vec<AuditEntry>,
    /// The id to page on from, when there is more.
    older: Option<i64>,
}

/// GET `/admin/audit`.
pub(super) async fn page(
    State(c): State<Arc<Console>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let p = match admit(&c, &headers, Role::Viewer).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let before = q.get("before").and_then(|b| b.parse().ok());
    let mut entries = match c.app.store.audit_log(PAGE + 1, before, None).await {
        Ok(e) => e,
        Err(e) => {
            c.app.note(format!("error: console audit page: {e}"));
            return problem(
                &c,
                StatusCode::SERVICE_UNAVAILABLE,
                "The store is out of reach",
                "The audit log cannot be read right now; try again in a minute.".into(),
            );
        }
    };
    let older = if entries.len() > PAGE {
        entries.truncate(PAGE);
        entries.last().map(|e| e.id)
    } else {
        None
    };
    let page = AuditPage {
        frame: Frame::of(&c, &p, "audit"),
        entries,
        older,
    };
    render(&c, StatusCode::OK, &page)
}
