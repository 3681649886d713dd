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
use chrono::NaiveDate;

use super::Console;
use super::guard::{Peer, admit_post, wants_html};
use super::pages::problem;
use crate::accounts::audit::{Action, record};
use crate::delivery::{SessionError, send_proofs};
use crate::editorial::{self, EditorialError};
use crate::plan;
use crate::schedule::Slot;
use crate::store::Role;

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
    let store = &app.store;
    let subject = date.to_string();
    let outcome: Result<(Action, String, String), ActionError> = match action.as_str() {
        "hold" => {
            let reason = fields.get("reason").map(String::as_str);
            editorial::hold(store, date, reason)
                .await
                .map(|h| {
                    let why = h.reason.unwrap_or_default();
                    (Action::Hold, why, format!("issue of {date} is on hold"))
                })
                .map_err(ActionError::Editorial)
        }
        "release" => editorial::release(store, date)
            .await
            .map(|was| {
                if was {
                    (
                        Action::Release,
                        String::new(),
                        format!("issue of {date} is released"),
                    )
                } else {
                    (
                        Action::Release,
                        "was not on hold".into(),
                        format!("issue of {date} was not on hold"),
                    )
                }
            })
            .map_err(ActionError::Editorial),
        "approve" => {
            let again = fields.get("reassemble").map(String::as_str) == Some("yes");
            editorial::approve(store, &app.config, date, &p.name, again)
                .await
                .map(|a| {
                    (
                        Action::Approve,
                        format!(
                            "sha256 {}{}",
                            a.digest,
                            if again { ", reassembled" } else { "" }
                        ),
                        format!("issue #{} ({date}) approved by {}", a.number, a.by),
                    )
                })
                .map_err(ActionError::Editorial)
        }
        _ => proofs(&c, slot).await,
    };
    let (what, detail, line) = match outcome {
        Ok(o) => o,
        Err(e) => return refused(&c, &headers, &action, date, e),
    };
    if let Err(e) = record(&**store, &p.name, what, &subject, &detail, &client).await {
        app.note(format!(
            "error: console: the audit line of {action} of {date}: {e}"
        ));
    }
    app.note(format!("console: `{}`: {line}", p.name));
    done(&headers, &back, line)
}

/// Why an action did not happen.
enum ActionError {
    Editorial(EditorialError),
    Proof(SessionError),
}

/// The answer to an action that did not happen: the rule it broke (409 or
/// 400), or the store out of reach (503); nothing was changed.
fn refused(
    c: &Console,
    headers: &HeaderMap,
    action: &str,
    date: NaiveDate,
    e: ActionError,
) -> Response {
    let (status, text) = match &e {
        ActionError::Editorial(EditorialError::Store(s))
        | ActionError::Proof(SessionError::Store(s)) => {
            c.app
                .note(format!("error: console {action} of {date}: {s}"));
            (StatusCode::SERVICE_UNAVAILABLE, s.to_string())
        }
        ActionError::Editorial(e @ EditorialError::BadText { .. }) => {
            (StatusCode::BAD_REQUEST, e.to_string())
        }
        ActionError::Editorial(e) => (StatusCode::CONFLICT, e.to_string()),
        ActionError::Proof(e @ SessionError::NoProofAddress) => {
            (StatusCode::CONFLICT, e.to_string())
        }
        ActionError::Proof(e) => {
            c.app.note(format!("error: console proof of {date}: {e}"));
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    };
    if wants_html(headers) {
        problem(c, status, "Nothing was changed", text)
    } else {
        (status, format!("{action}: {text}; nothing was changed\n")).into_response()
    }
}

/// Sends the proofs of `slot` to `[editorial] proof_to`, as `send --proof`.
async fn proofs(c: &Console, slot: Slot) -> Result<(Action, String, String), ActionError> {
    let app = &c.app;
    let (library, _) =
        plan::load_content(&app.config).map_err(|e| ActionError::Proof(SessionError::from(e)))?;
    let sent = send_proofs(
        &app.config,
        Some(&app.store),
        &library,
        slot,
        app.signer.clone(),
    )
    .await
    .map_err(ActionError::Proof)?;
    let to: Vec<String> = sent.sent.iter().map(|(a, _, _)| a.to_string()).collect();
    let failed: Vec<String> = sent
        .failed
        .iter()
        .map(|(a, why)| format!("{a} ({why})"))
        .collect();
    let detail = format!(
        "to {}{}",
        if to.is_empty() {
            "nobody".into()
        } else {
            to.join(", ")
        },
        if failed.is_empty() {
            String::new()
        } else {
            format!("; failed: {}", failed.join(", "))
        }
    );
    let line = format!(
        "proof of issue #{} ({}) sent {detail}",
        sent.number, sent.date
    );
    Ok((Action::Proof, detail, line))
}
