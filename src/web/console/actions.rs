//! The issue actions, plain form `POST`s at stable paths so that scripts
//! and tests drive them as a browser does: `/admin/issues/<date>/hold`
//! (field `reason`), `/release`, `/approve` and `/proof`.
//!
//! Owns who may do which (hold and proof: editor; approve and release:
//! publisher) and the answer (303 back to the page for a browser, a line of
//! text for a script). Each action is the same library call as its command,
//! with its audit line.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, SecondsFormat, Utc};

use super::Console;
use super::guard::{Peer, admit_post, wants_html};
use super::pages::problem;
use crate::accounts::audit::{Action, record};
use crate::plan;
use crate::store::Role;

/// The longest hold reason kept.
const MAX_REASON: usize = 500;

fn done(headers: &HeaderMap, back: &str, line: String) -> Response {
    if wants_html(headers) {
        let to = HeaderValue::from_str(back).unwrap_or(HeaderValue::from_static("/admin"));
        (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
    } else {
        (StatusCode::OK, format!("{line}\n")).into_response()
    }
}

/// POST `/admin/issues/<date>/<action>`.
pub(super) async fn act(
    State(c): State<Arc<Console>>,
    Path((date, action)): Path<(String, String)>,
    peer: Peer,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let need = match action.as_str() {
        "hold" | "proof" => Role::Editor,
        "release" | "approve" => Role::Publisher,
        _ => return super::not_found(State(c)).await,
    };
    let p = match admit_post(&c, &headers, &fields, need).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let app = &c.app;
    let slot = match date.parse::<NaiveDate>().ok().and_then(|d| {
        app.config
            .schedule()
            .ok()
            .and_then(|s| plan::slot_for(&s, d).ok())
    }) {
        Some(s) => s,
        None => {
            return problem(
                &c,
                StatusCode::NOT_FOUND,
                "No such issue",
                format!("`{date}` is not an issue date of this schedule."),
            );
        }
    };
    let date = slot.date;
    let back = match fields.get("back").map(String::as_str) {
        Some("issue") => format!("/admin/issues/{date}"),
        _ => "/admin".to_string(),
    };
    let client = peer.client();
    let store = &*app.store;
    let failed = |e: &dyn std::fmt::Display| {
        app.note(format!("error: console {action} of {date}: {e}"));
        problem(
            &c,
            StatusCode::SERVICE_UNAVAILABLE,
            "Nothing was changed",
            format!("The store did not take the {action} ({e}); try again in a minute."),
        )
    };
    match action.as_str() {
        "hold" => {
            let reason: String = fields
                .get("reason")
                .map(|r| r.trim())
                .unwrap_or("")
                .chars()
                .filter(|ch| !ch.is_control())
                .take(MAX_REASON)
                .collect();
            let reason = Some(reason).filter(|r| !r.is_empty());
            let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
            if let Err(e) = store.hold(date, reason.as_deref(), &at).await {
                return failed(&e);
            }
            let detail = reason.clone().unwrap_or_default();
            if let Err(e) = record(
                store,
                &p.name,
                Action::Hold,
                &date.to_string(),
                &detail,
                &client,
            )
            .await
            {
                return failed(&e);
            }
            app.note(format!("console: `{}` held the issue of {date}", p.name));
            done(&headers, &back, format!("issue of {date} is on hold"))
        }
        "release" => {
            let was = match store.unhold(date).await {
                Ok(w) => w,
                Err(e) => return failed(&e),
            };
            let detail = if was { "" } else { "was not on hold" };
            if let Err(e) = record(
                store,
                &p.name,
                Action::Release,
                &date.to_string(),
                detail,
                &client,
            )
            .await
            {
                return failed(&e);
            }
            app.note(format!(
                "console: `{}` released the issue of {date}",
                p.name
            ));
            done(
                &headers,
                &back,
                if was {
                    format!("issue of {date} is released")
                } else {
                    format!("issue of {date} was not on hold")
                },
            )
        }
        // Approvals and proofs are the editorial commands' library calls;
        // until this build has them, nothing is pretended.
        _ => {
            let what = if action == "approve" {
                "Approval"
            } else {
                "Proofs"
            };
            if wants_html(&headers) {
                problem(
                    &c,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Not available yet",
                    format!(
                        "{what} are not available in this version of tipsheet; nothing was changed."
                    ),
                )
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{action}: not available yet; nothing was changed\n"),
                )
                    .into_response()
            }
        }
    }
}
