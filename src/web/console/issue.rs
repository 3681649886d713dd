//! `GET /admin/issues/<date>`: one issue in full: its counts by status,
//! failures by reason and provider (the session's refusals and what came
//! back), the providers its runs paused, the failed, uncertain and bounced recipients a page at a time
//! (`?after=KEY`), its events, and its approval and hold history (from the
//! audit log).
//!
//! Owns gathering and showing these. Reads only.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;

use super::Console;
use super::guard::admit;
use super::pages::{Frame, problem, render, shown};
use crate::store::{AuditEntry, RecipientStatus, Role};

/// Recipients a page.
const PAGE: usize = 50;
/// Events shown (the newest).
const EVENTS: usize = 200;

#[derive(Template)]
#[template(path = "admin/issue.html")]
struct IssuePage {
    frame: Frame,
    number: u32,
    date: String,
    status: String,
    hold: String,
    counts: Vec<(String, u64)>,
    /// (reason, scope, provider, count)
    failures: Vec<(String, String, String, u64)>,
    /// (at, provider, refusals, left pending, last reply)
    pauses: Vec<(String, String, u32, u64, String)>,
    /// (address, status, attempts, reply)
    recipients: Vec<(String, String, u32, String)>,
    next_after: String,
    /// (at, kind, address, reason)
    events: Vec<(String, String, String, String)>,
    history: Vec<AuditEntry>,
    /// Every approval recorded (by the console or `tipsheet approve`):
    /// (at, by, digest, reassembled).
    approvals: Vec<(String, String, String, bool)>,
}

/// GET `/admin/issues/<date>`.
pub(super) async fn page(
    State(c): State<Arc<Console>>,
    Path(date): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let p = match admit(&c, &headers, Role::Viewer).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let store = &c.app.store;
    let missing = || {
        problem(
            &c,
            StatusCode::NOT_FOUND,
            "No such issue",
            format!("Nothing is recorded for `{date}`."),
        )
    };
    let Ok(slot) = date.parse::<NaiveDate>() else {
        return missing();
    };
    let issue = match store.issue(slot).await {
        Ok(Some(i)) => i,
        Ok(None) => return missing(),
        Err(e) => return fail(&c, &e),
    };
    let after = q.get("after").cloned().unwrap_or_default();
    let open = [
        RecipientStatus::Failed,
        RecipientStatus::Uncertain,
        RecipientStatus::Bounced,
    ];
    let gathered = async {
        let counts = store.counts(slot).await?;
        let page = store.due(slot, &open, &after, PAGE + 1).await?;
        let refused = store
            .recipients(slot, &[RecipientStatus::Failed, RecipientStatus::Bounced])
            .await?;
        let events = store.events(Some(slot)).await?;
        let hold = store.hold_of(slot).await?;
        let history = store.audit_log(100, None, Some(&slot.to_string())).await?;
        let approvals = store.approvals(slot).await?;
        let pauses = store.pauses(slot).await?;
        Ok::<_, crate::store::StoreError>((
            counts, page, refused, events, hold, history, approvals, pauses,
        ))
    };
    let (counts, mut rows, refused, events, hold, history, approvals, pauses) = match gathered.await
    {
        Ok(g) => g,
        Err(e) => return fail(&c, &e),
    };
    let next_after = if rows.len() > PAGE {
        rows.truncate(PAGE);
        rows.last().map(|r| r.key.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    // The session's refusals and the failures that came back, together.
    let mut by: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for f in crate::delivery::failures_by_reason(&refused) {
        *by.entry((f.reason.to_string(), f.scope.to_string(), f.provider))
            .or_default() += f.count;
    }
    for e in &events {
        if let Some(f) = &e.event.failure {
            *by.entry((f.reason.clone(), f.scope.clone(), f.provider.clone()))
                .or_default() += 1;
        }
    }
    let mut failures: Vec<_> = by.into_iter().map(|((r, s, p), n)| (r, s, p, n)).collect();
    failures.sort_by_key(|f| std::cmp::Reverse(f.3));
    let page = IssuePage {
        frame: Frame::of(&c, &p, "dashboard"),
        number: issue.number,
        date: slot.to_string(),
        status: issue.status.as_str().to_string(),
        hold: hold
            .map(|h| {
                format!(
                    "on hold since {}{}",
                    h.at,
                    h.reason.map(|r| format!(": {r}")).unwrap_or_default()
                )
            })
            .unwrap_or_default(),
        counts: counts
            .by_status
            .iter()
            .map(|(s, n)| (s.as_str().to_string(), *n))
            .collect(),
        failures,
        pauses: pauses
            .into_iter()
            .rev()
            .map(|p| {
                (
                    shown(&p.at),
                    p.provider
                        .unwrap_or_else(|| "the relay (every provider)".into()),
                    p.refusals,
                    p.left,
                    p.last_reply,
                )
            })
            .collect(),
        recipients: rows
            .into_iter()
            .map(|r| {
                let reply = format!(
                    "{}{}",
                    r.last_code.map(|c| format!("{c} ")).unwrap_or_default(),
                    r.last_reply.unwrap_or_default()
                );
                (r.key, r.status.as_str().to_string(), r.attempts, reply)
            })
            .collect(),
        next_after,
        events: events
            .iter()
            .rev()
            .take(EVENTS)
            .map(|e| {
                (
                    e.event.at.clone(),
                    e.event.kind.as_str().to_string(),
                    e.event.email.clone(),
                    e.event.reason.clone(),
                )
            })
            .collect(),
        history,
        approvals: approvals
            .into_iter()
            .map(|a| (a.at, a.by, a.digest, a.reassembled))
            .collect(),
    };
    render(&c, StatusCode::OK, &page)
}

fn fail(c: &Console, e: &crate::store::StoreError) -> Response {
    c.app.note(format!("error: console issue page: {e}"));
    problem(
        c,
        StatusCode::SERVICE_UNAVAILABLE,
        "The store is out of reach",
        "This issue cannot be read right now; try again in a minute.".into(),
    )
}
