//! Relay webhooks: bounces, complaints and unsubscribes reported over HTTP.
//!
//! Owns three endpoints under `/webhooks/`: `generic` (a bearer token and
//! tipsheet's own JSON), `mailgun` (Mailgun's HMAC-signed event webhook) and
//! `postmark` (Postmark's bounce, spam-complaint and subscription-change
//! webhooks, which Postmark authenticates with HTTP Basic credentials in the
//! URL, so over HTTPS only). A request that is not authenticated gets 401 and
//! changes nothing; one that is not JSON gets 400 saying what was wrong. It
//! writes only through [`policy`] (the events table and the suppression list,
//! on whichever engine the store is), never a file or a ledger row directly.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::app::Events;
use crate::config::Config;
use crate::inbound::policy::{self, Policy, PolicyError};
use crate::list::keyer::Keyer;
use crate::list::normalize;
use crate::mail::token::same_secret;
use crate::mail::verp;
use crate::store::{Event, EventKind, Store};

/// Largest webhook body (relays batch a few hundred events at most).
pub const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;
/// Most events in one request.
const MAX_EVENTS: usize = 1000;

struct Hooks {
    config: Config,
    /// Where log lines go.
    events: Arc<dyn Events>,
    policy: Policy,
    /// `[bounces] webhook_token_env`'s value; `None` turns generic off.
    token: Option<String>,
    /// `[bounces] postmark_token_env`'s value; `None` turns Postmark off.
    postmark_token: Option<String>,
    /// `[bounces] mailgun_signing_key_env`'s value; `None` turns Mailgun off.
    mailgun_key: Option<String>,
    /// Where events are recorded, with what they change.
    store: Store,
}

fn env_secret(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The `/webhooks/…` routes, their secrets read from the environment now;
/// events go to `store`. `keyer` recognises erased readers.
pub fn router(config: &Config, events: Arc<dyn Events>, store: Store, keyer: Keyer) -> Router {
    let b = config.bounce_settings();
    let hooks = Arc::new(Hooks {
        config: config.clone(),
        events,
        policy: Policy::new(&b, keyer),
        token: env_secret(&b.webhook_token_env),
        postmark_token: env_secret(&b.postmark_token_env),
        mailgun_key: env_secret(&b.mailgun_signing_key_env),
        store,
    });
    Router::new()
        .route("/generic", post(generic))
        .route("/mailgun", post(mailgun))
        .route("/postmark", post(postmark))
        .layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
        .with_state(hooks)
}

fn answer(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text + "\n",
    )
        .into_response()
}

fn unauthorized(hooks: &Hooks, endpoint: &str, why: &str) -> Response {
    hooks
        .events
        .note(&format!("webhook {endpoint}: refused (401): {why}"));
    answer(
        StatusCode::UNAUTHORIZED,
        format!("401 unauthorized: {why}; nothing changed"),
    )
}

fn bad(hooks: &Hooks, endpoint: &str, why: String) -> Response {
    hooks
        .events
        .note(&format!("webhook {endpoint}: rejected (400): {why}"));
    answer(
        StatusCode::BAD_REQUEST,
        format!("400 bad request: {why}; nothing changed"),
    )
}

/// The credential in `Authorization`: a bearer token, or a Basic password.
fn credential(headers: &HeaderMap) -> Option<String> {
    use base64::Engine as _;
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        return text.split_once(':').map(|(_, p)| p.to_string());
    }
    None
}

fn check_token(hooks: &Hooks, endpoint: &str, headers: &HeaderMap) -> Result<(), Box<Response>> {
    // Each endpoint has its own credential: one leaked token opens one door.
    let b = hooks.config.bounce_settings();
    let (expected, env) = if endpoint == "postmark" {
        (&hooks.postmark_token, b.postmark_token_env)
    } else {
        (&hooks.token, b.webhook_token_env)
    };
    let Some(expected) = expected else {
        return Err(Box::new(unauthorized(
            hooks,
            endpoint,
            &format!("the {endpoint} webhook is off: `{env}` is not set"),
        )));
    };
    match credential(headers) {
        Some(given) if same_secret(given.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(Box::new(unauthorized(hooks, endpoint, "wrong token"))),
        None => Err(Box::new(unauthorized(
            hooks,
            endpoint,
            &format!("no `Authorization` header with the token in `{env}`"),
        ))),
    }
}

fn parse_json(hooks: &Hooks, endpoint: &str, body: &Bytes) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(bad(
            hooks,
            endpoint,
            format!(
                "the body is not JSON ({e} at line {}, column {})",
                e.line(),
                e.column()
            ),
        ))
    })
}

/// One event as read from a webhook, before it is linked to a ledger row.
struct Reported {
    kind: EventKind,
    email: String,
    message_id: Option<String>,
    id: Option<String>,
    status: Option<String>,
    reason: String,
    at: DateTime<Utc>,
    /// `at` as the relay gave it (part of the generic event's natural key).
    at_given: Option<String>,
    /// The classified cause of a failure, when the relay gave its words.
    failure: Option<crate::store::FailureDetail>,
}

/// Records every event; the answer counts them.
async fn apply(
    hooks: Arc<Hooks>,
    source: &'static str,
    events: Vec<Reported>,
    ignored: usize,
) -> Response {
    let hooks_log = hooks.events.clone();
    let done: Result<Result<(usize, usize), String>, ()> = Ok(async {
        let store = &hooks.store;
        let (mut new, mut repeated) = (0, 0);
        for r in events {
            let slot = linked_slot(store, &r).await.map_err(|e| e.to_string())?;
            let key = match &r.id {
                Some(id) => format!("{source}:{id}:{}", r.kind),
                None => {
                    let mut d = Sha256::new();
                    for part in [
                        r.kind.as_str(),
                        &r.email,
                        r.message_id.as_deref().unwrap_or(""),
                        r.at_given.as_deref().unwrap_or(""),
                        &r.reason,
                    ] {
                        d.update(part.as_bytes());
                        d.update(b"\0");
                    }
                    format!("{source}:{}:{}", &hex::encode(d.finalize())[..32], r.kind)
                }
            };
            let event = Event {
                key,
                kind: r.kind,
                email: r.email,
                slot,
                source: source.into(),
                status: r.status,
                reason: r.reason,
                at: policy::timestamp(r.at),
                failure: r.failure,
            };
            let applied = hooks
                .policy
                .apply(&**store, &event, Utc::now())
                .await
                .map_err(|e| e.to_string())?;
            if applied.new {
                new += 1;
                let effect = match (&applied.erased_as, applied.suppressed) {
                    (Some(_), _) => "recorded under the pseudonym of an erased address".into(),
                    (None, Some(s)) => format!("suppressed ({s})"),
                    (None, None) => "recorded".into(),
                };
                let who = applied.erased_as.as_deref().unwrap_or(&event.email);
                hooks.events.note(&format!(
                    "webhook {source}: {} for `{who}`: {effect}",
                    event.kind
                ));
            } else {
                repeated += 1;
            }
        }
        Ok((new, repeated))
    }
    .await);
    match done {
        Ok(Ok((new, repeated))) => answer(
            StatusCode::OK,
            format!("{new} recorded, {repeated} already recorded, {ignored} ignored"),
        ),
        Ok(Err(e)) => {
            hooks_log.note(&format!("error: webhook {source}: {e}"));
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "500: could not record the events; retry later".into(),
            )
        }
        Err(_) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500: could not record the events; retry later".into(),
        ),
    }
}

/// The issue an event is about, when its Message-ID is one of ours and names
/// this address's row (else the policy links it to the latest issue sent).
async fn linked_slot(
    store: &Store,
    r: &Reported,
) -> Result<Option<chrono::NaiveDate>, PolicyError> {
    let Some(id) = r.message_id.as_deref() else {
        return Ok(None);
    };
    let id = if id.starts_with('<') {
        id.to_string()
    } else {
        format!("<{id}>")
    };
    // Shaped like ours, then exactly as sent: a Message-ID is ours when the
    // ledger has it, never because its shape could be.
    if verp::rid_of_message_id(&id).is_none() {
        return Ok(None);
    }
    let row = store.recipient_by_message_id(&id).await?;
    Ok(row
        .filter(|(_, row)| row.key == r.email)
        .map(|(slot, _)| slot))
}

fn checked_email(
    hooks: &Hooks,
    endpoint: &str,
    value: Option<&str>,
    at: &str,
) -> Result<String, Box<Response>> {
    let raw = value.unwrap_or_default();
    let key = normalize(raw);
    if key.len() > 254 || key.parse::<lettre::Address>().is_err() {
        return Err(Box::new(bad(
            hooks,
            endpoint,
            format!("{at}: `{raw}` is not an email address"),
        )));
    }
    Ok(key)
}

/// `POST /webhooks/generic`: `Authorization: Bearer <token>` and one object or
/// an array of `{"type", "email", "message_id"?, "reason"?, "at"?}`.
async fn generic(State(hooks): State<Arc<Hooks>>, headers: HeaderMap, body: Bytes) -> Response {
    const E: &str = "generic";
    if let Err(r) = check_token(&hooks, E, &headers) {
        return *r;
    }
    let json = match parse_json(&hooks, E, &body) {
        Ok(j) => j,
        Err(r) => return *r,
    };
    let items = match json {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => {
            return bad(
                &hooks,
                E,
                "the body must be a JSON object or an array of objects".into(),
            );
        }
    };
    if items.len() > MAX_EVENTS {
        return bad(
            &hooks,
            E,
            format!(
                "{} events, more than the {MAX_EVENTS} taken at once",
                items.len()
            ),
        );
    }
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("event {}", i + 1);
        let Some(o) = item.as_object() else {
            return bad(&hooks, E, format!("{at} is not an object"));
        };
        let text = |k: &str| o.get(k).and_then(Value::as_str);
        let kind = match text("type").map(str::parse::<EventKind>) {
            Some(Ok(
                k @ (EventKind::HardBounce
                | EventKind::SoftBounce
                | EventKind::Complaint
                | EventKind::Unsubscribe),
            )) => k,
            Some(_) | None => {
                return bad(
                    &hooks,
                    E,
                    format!(
                        "{at}: `type` must be `hard_bounce`, `soft_bounce`, `complaint` or `unsubscribe`, not `{}`",
                        text("type").unwrap_or("")
                    ),
                );
            }
        };
        let email = match checked_email(&hooks, E, text("email"), &at) {
            Ok(e) => e,
            Err(r) => return *r,
        };
        let when = match text("at") {
            None => Utc::now(),
            Some(s) => match DateTime::parse_from_rfc3339(s) {
                Ok(d) => d.with_timezone(&Utc),
                Err(_) => {
                    return bad(
                        &hooks,
                        E,
                        format!(
                            "{at}: `at` is `{s}`, not an RFC 3339 time like 2026-12-01T14:00:00Z"
                        ),
                    );
                }
            },
        };
        events.push(Reported {
            kind,
            email,
            message_id: text("message_id").map(str::to_string),
            id: None,
            status: None,
            reason: text("reason")
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect(),
            at: when,
            at_given: text("at").map(str::to_string),
            failure: None,
        });
    }
    apply(hooks, "generic", events, 0).await
}

/// `POST /webhooks/mailgun`: Mailgun's JSON event webhook, signed with the
/// account's HTTP webhook signing key: `signature.signature` is the hex
/// HMAC-SHA256 of `timestamp` + `token`, the timestamp within `[bounces]
/// mailgun_max_skew_seconds` of now, the token never taken before.
async fn mailgun(State(hooks): State<Arc<Hooks>>, body: Bytes) -> Response {
    const E: &str = "mailgun";
    let Some(key) = &hooks.mailgun_key else {
        return unauthorized(
            &hooks,
            E,
            &format!(
                "Mailgun webhooks are off: `{}` is not set",
                hooks.config.bounce_settings().mailgun_signing_key_env
            ),
        );
    };
    // Check the signature before reading anything else of the body. A body
    // that is not JSON cannot carry one: 401, as for a bad signature.
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        return unauthorized(
            &hooks,
            E,
            "the body is not JSON, so it carries no signature",
        );
    };
    let sig = &json["signature"];
    let (Some(ts), Some(token), Some(given)) = (
        sig["timestamp"].as_str(),
        sig["token"].as_str(),
        sig["signature"].as_str(),
    ) else {
        return unauthorized(
            &hooks,
            E,
            "no `signature` object with `timestamp`, `token` and `signature`",
        );
    };
    let Ok(given) = hex::decode(given) else {
        return unauthorized(&hooks, E, "the signature is not hex");
    };
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()) else {
        return unauthorized(&hooks, E, "unusable signing key");
    };
    mac.update(ts.as_bytes());
    mac.update(token.as_bytes());
    if mac.verify_slice(&given).is_err() {
        return unauthorized(&hooks, E, "bad signature");
    }
    // The signature covers the timestamp and the token only: an old one, or
    // one already taken, could carry any event. 406 (Mailgun does not retry
    // it); nothing changes.
    let refuse = |why: String| {
        hooks
            .events
            .note(&format!("webhook {E}: refused (406): {why}"));
        answer(
            StatusCode::NOT_ACCEPTABLE,
            format!("406 not acceptable: {why}; nothing changed"),
        )
    };
    let skew = hooks.config.bounce_settings().mailgun_max_skew_seconds;
    let now = Utc::now();
    let Some(signed) = ts.trim().parse::<f64>().ok().filter(|t| t.is_finite()) else {
        return refuse(format!("the signature's timestamp `{ts}` is not a number"));
    };
    let off = (now.timestamp() as f64 - signed).abs();
    if off > skew as f64 {
        return refuse(format!(
            "the signature's timestamp `{ts}` is {off:.0} s from now, more than the {skew} s accepted (`[bounces] mailgun_max_skew_seconds`): stale or replayed"
        ));
    }
    let key = format!("mailgun:{token}");
    let window = chrono::TimeDelta::seconds(
        i64::try_from(skew)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(2),
    );
    let prune_before = policy::timestamp(now.checked_sub_signed(window).unwrap_or(now));
    match hooks
        .store
        .take_webhook_token(&key, &policy::timestamp(now), &prune_before)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return refuse(format!(
                "the signature token `{token}` was taken before: a replay"
            ));
        }
        Err(e) => {
            hooks
                .events
                .note(&format!("webhook {E}: cannot record its token: {e}"));
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "500: could not record the events; retry later".into(),
            );
        }
    }
    let store = hooks.store.clone();
    let response = mailgun_event(hooks, &json).await;
    if response.status().is_server_error() {
        // Not taken after all: the relay's retry is no replay.
        let _ = store.give_back_webhook_token(&key).await;
    }
    response
}

/// The event of a Mailgun request whose signature was checked and taken.
async fn mailgun_event(hooks: Arc<Hooks>, json: &Value) -> Response {
    const E: &str = "mailgun";
    let d = &json["event-data"];
    let ds = &d["delivery-status"];
    // A failure is classified as a DSN's recipient is, from the enhanced code
    // and the words together: only an address-level reason suppresses, a
    // sender-level one (a blocklist, DMARC) is recorded and never counts.
    let failure = (d["event"].as_str() == Some("failed")).then(|| {
        let text = [
            ds["message"].as_str(),
            ds["description"].as_str(),
            d["reason"].as_str(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        let code = ds["code"].as_u64().and_then(|c| u16::try_from(c).ok());
        crate::inbound::reason::classify_failure(ds["enhanced-code"].as_str(), code, &text)
    });
    let kind = match (d["event"].as_str(), d["severity"].as_str(), failure) {
        (Some("failed"), severity, Some(f)) => {
            use crate::inbound::reason::Treatment;
            match (f.treatment(), severity) {
                (Treatment::Suppress, Some("permanent")) => EventKind::HardBounce,
                (Treatment::Suppress | Treatment::CountSoft, _) => EventKind::SoftBounce,
                (Treatment::Record | Treatment::Ignore, _) => EventKind::Failure,
            }
        }
        (Some("failed"), _, None) => EventKind::SoftBounce,
        (Some("complained"), _, _) => EventKind::Complaint,
        (Some("unsubscribed"), _, _) => EventKind::Unsubscribe,
        (Some(_), _, _) => return apply(hooks, "mailgun", Vec::new(), 1).await,
        (None, _, _) => return bad(&hooks, E, "`event-data.event` is missing".into()),
    };
    let email = match checked_email(&hooks, E, d["recipient"].as_str(), "event-data.recipient") {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let reason: String = [
        ds["code"].as_u64().map(|c| c.to_string()),
        ds["message"].as_str().map(str::to_string),
        ds["description"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        d["reason"].as_str().map(str::to_string),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
    .chars()
    .take(300)
    .collect();
    let at = d["timestamp"]
        .as_f64()
        .and_then(|t| DateTime::from_timestamp(t as i64, 0))
        .unwrap_or_else(Utc::now);
    let event = Reported {
        kind,
        email,
        message_id: d["message"]["headers"]["message-id"]
            .as_str()
            .map(str::to_string),
        id: d["id"].as_str().map(str::to_string),
        status: ds["enhanced-code"].as_str().map(str::to_string),
        reason,
        at,
        at_given: None,
        failure: failure.map(|f| crate::store::FailureDetail {
            reason: f.reason.as_str().to_string(),
            scope: f.scope.as_str().to_string(),
            provider: crate::inbound::plan::provider_of(d["recipient"].as_str().unwrap_or("")),
        }),
    };
    apply(hooks, "mailgun", vec![event], 0).await
}

/// `POST /webhooks/postmark`: Postmark's bounce, spam complaint and
/// subscription change webhooks, with the Postmark token (`[bounces]
/// postmark_token_env`, not the generic one) as the Basic password
/// (`https://postmark:<token>@host/webhooks/postmark`) or a bearer header.
async fn postmark(State(hooks): State<Arc<Hooks>>, headers: HeaderMap, body: Bytes) -> Response {
    const E: &str = "postmark";
    if let Err(r) = check_token(&hooks, E, &headers) {
        return *r;
    }
    let json = match parse_json(&hooks, E, &body) {
        Ok(j) => j,
        Err(r) => return *r,
    };
    let record = json["RecordType"].as_str().unwrap_or_default();
    let kind = match record {
        "Bounce" => match json["Type"].as_str().unwrap_or_default() {
            "HardBounce" | "BadEmailAddress" | "ManuallyDeactivated" | "Unsubscribe" => {
                EventKind::HardBounce
            }
            "SoftBounce" | "Transient" | "DnsError" | "MailFrontier" => EventKind::SoftBounce,
            // Auto-responders, challenge-verifications, deliveries and the like.
            _ => return apply(hooks, "postmark", Vec::new(), 1).await,
        },
        "SpamComplaint" => EventKind::Complaint,
        "SubscriptionChange" if json["SuppressSending"].as_bool() == Some(true) => {
            EventKind::Unsubscribe
        }
        "" => return bad(&hooks, E, "`RecordType` is missing".into()),
        _ => return apply(hooks, "postmark", Vec::new(), 1).await,
    };
    let email_field = if record == "SubscriptionChange" {
        "Recipient"
    } else {
        "Email"
    };
    let email = match checked_email(&hooks, E, json[email_field].as_str(), email_field) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let reason: String = [
        json["Description"].as_str(),
        json["Details"].as_str(),
        json["SuppressionReason"].as_str(),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" ")
    .chars()
    .take(300)
    .collect();
    let at = ["BouncedAt", "ChangedAt"]
        .iter()
        .find_map(|k| json[*k].as_str())
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map_or_else(Utc::now, |d| d.with_timezone(&Utc));
    let id = json["ID"]
        .as_u64()
        .map(|n| n.to_string())
        .or_else(|| json["ID"].as_str().map(str::to_string))
        .or_else(|| json["MessageID"].as_str().map(str::to_string));
    let event = Reported {
        kind,
        email,
        message_id: None,
        id,
        status: None,
        reason,
        at,
        at_given: None,
        failure: None,
    };
    apply(hooks, "postmark", vec![event], 0).await
}
