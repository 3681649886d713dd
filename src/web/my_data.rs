//! The reader's own data over HTTP, through a link mailed on request: the
//! form at `/privacy` (a `POST` with `email`) queues a link valid one hour;
//! `GET /privacy/link` shows "Download my data" and "Delete my data" and
//! changes nothing (mail scanners fetch links); `POST /privacy/link` with the
//! link's `e`, `x`, `t` and `action=download` gives the JSON of `subscribers
//! show --json`, and with `action=delete` erases the reader and spends the
//! link. The unsubscribe token opens none of this: it sits in every footer,
//! forwarded issue and proxy log.
//!
//! Owns these routes, their pages and the privacy mail. The request page is
//! the same, and takes the same work, whether or not the address is known:
//! the queue's worker decides whether to mail ([`App::holds_data`]). The
//! erasure itself is `crate::reader_data`'s, on the configured store; it is
//! the one write this server makes to the ledger's recipients.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::TimeDelta;
use lettre::{Address, Message};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::app::{App, Brand, LinkMail};
use super::client::Client;
use super::confirm::LinkProblem;
use super::error::{WebError, answer};
use super::pages::{bad_request, html, message, message_with_link, unreadable};
use super::privacy_link::{PRIVACY_VALID_MINUTES, privacy_url, verify_privacy};
use super::signup::check_email;
use crate::list::{MAX_EMAIL_CHARS, normalize};
use crate::reader_data::{self, PrivacyError};
use crate::schedule::clock::Clock as _;
use crate::store::LimitScope;

/// The routes, merged into the server's router.
pub(super) fn privacy_routes() -> Router<Arc<App>> {
    Router::new()
        .route("/privacy", get(request_form).post(request))
        .route("/privacy/link", get(link_page).post(act))
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct RequestPage<'a> {
    brand: &'a Brand,
    email: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "privacy_sent.html")]
struct SentPage<'a> {
    brand: &'a Brand,
    email: &'a str,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "privacy_link.html")]
struct LinkPage<'a> {
    brand: &'a Brand,
    email: &'a str,
    expires: &'a str,
    token: &'a str,
}

/// What both parts of the privacy mail say.
struct PrivacyMail<'a> {
    newsletter: &'a str,
    email: &'a str,
    link: &'a str,
    minutes: i64,
    postal: &'a str,
}

#[derive(Template)]
#[template(path = "privacy_email.txt")]
struct PrivacyText<'a, 'm> {
    m: &'m PrivacyMail<'a>,
}

/// The shell (`email.html`) reads `newsletter` and `postal` itself.
#[derive(Template)]
#[template(path = "privacy_email.html")]
struct PrivacyHtml<'a, 'm> {
    m: &'m PrivacyMail<'a>,
    newsletter: &'a str,
    postal: &'a str,
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

    /// Whether the store holds anything about `key` to show or delete: a
    /// list row, a suppression in clear, a ledger row, an event, or a
    /// confirmation mail (not the privacy request being answered). An
    /// erased address holds nothing: only its keyed hash is left.
    pub(super) async fn holds_data(&self, key: &str) -> Result<bool, String> {
        let r = reader_data::gather(&*self.store, &self.keyer(), key)
            .await
            .map_err(|e| e.to_string())?;
        Ok(!r.forgotten
            && (!r.list.is_empty()
                || !r.suppression.is_empty()
                || !r.issues.is_empty()
                || !r.events.is_empty()
                || r.confirmation.is_some()))
    }

    /// The mail carrying a fresh privacy link for `to`.
    pub(super) fn privacy_mail(&self, to: &Address) -> Result<Message, String> {
        let n = &self.config.newsletter;
        let key = normalize(to.as_ref());
        let expires = (self.clock.now() + TimeDelta::minutes(PRIVACY_VALID_MINUTES)).timestamp();
        let link = privacy_url(&self.signer, &n.base_url, &key, expires);
        let mail = PrivacyMail {
            newsletter: &n.name,
            email: &key,
            link: &link,
            minutes: PRIVACY_VALID_MINUTES,
            postal: &n.postal,
        };
        let text = PrivacyText { m: &mail }
            .render()
            .map_err(|e| format!("template `privacy_email.txt` failed: {e}"))?;
        let html = PrivacyHtml {
            m: &mail,
            newsletter: &n.name,
            postal: &n.postal,
        }
        .render()
        .map_err(|e| format!("template `privacy_email.html` failed: {e}"))?;
        self.mail(to, &format!("Your data at {}", n.name), text, html)
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

fn request_page(app: &App, status: StatusCode, email: &str, error: Option<String>) -> Response {
    html(
        app,
        status,
        &RequestPage {
            brand: &app.brand,
            email,
            error,
        },
    )
}

/// GET: the form asking for an address.
async fn request_form(State(app): State<Arc<App>>) -> Response {
    request_page(&app, StatusCode::OK, "", None)
}

#[derive(Debug, Deserialize)]
struct PrivacyRequest {
    email: Option<String>,
}

/// POST (email): counts the request against the limits and queues the
/// link; the answer says the same for every address.
async fn request(
    State(app): State<Arc<App>>,
    client: Client,
    form: Result<Form<PrivacyRequest>, FormRejection>,
) -> Result<Response, WebError> {
    let raw = match form {
        Ok(Form(f)) => f.email.unwrap_or_default(),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Ok(unreadable(&app, &rejection, ""));
        }
        Err(_) => {
            let why = "The form arrived garbled. Please try again.".to_string();
            return Ok(request_page(&app, StatusCode::BAD_REQUEST, "", Some(why)));
        }
    };
    let address = match check_email(&raw) {
        Ok(a) => a,
        Err(problem) => {
            let shown: String = raw.trim().chars().take(MAX_EMAIL_CHARS).collect();
            return Ok(request_page(
                &app,
                StatusCode::BAD_REQUEST,
                &shown,
                Some(problem),
            ));
        }
    };
    let key = normalize(address.as_ref());
    let hits = match app
        .take_link_limits(LimitScope::Privacy, &key, client)
        .await?
    {
        Ok(h) => h,
        Err(page) => return Ok(page),
    };
    let queued = app
        .queue(LinkMail::Privacy {
            address,
            key: key.clone(),
            hits,
        })
        .await;
    Ok(match queued {
        Ok(()) => html(
            &app,
            StatusCode::OK,
            &SentPage {
                brand: &app.brand,
                email: &key,
                minutes: PRIVACY_VALID_MINUTES,
            },
        ),
        Err(page) => page,
    })
}

/// A privacy link's fields, from its query or the buttons' form.
#[derive(Debug, Deserialize)]
struct LinkParams {
    e: Option<String>,
    x: Option<String>,
    t: Option<String>,
    action: Option<String>,
}

/// A checked link: the normalized address, the expiry and the token as given.
struct Checked {
    key: String,
    expires: String,
    token: String,
}

impl Checked {
    /// The SHA-256 of the token, as the store remembers spent links.
    fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.token.as_bytes()))
    }
}

/// A genuine, unexpired and unspent privacy link, or the page saying why not.
async fn checked(app: &Arc<App>, p: &LinkParams) -> Result<Checked, Response> {
    let (Some(e), Some(x), Some(t)) = (p.e.as_deref(), p.x.as_deref(), p.t.as_deref()) else {
        return Err(bad_request(
            app,
            "This link is incomplete. Nothing was shown or changed.",
        ));
    };
    let key = normalize(e);
    let link = Checked {
        key,
        expires: x.trim().to_string(),
        token: t.trim().to_string(),
    };
    let refused = match verify_privacy(
        &app.signer,
        &link.key,
        &link.expires,
        &link.token,
        app.clock.now(),
    ) {
        Ok(()) => None,
        Err(LinkProblem::Expired) => Some(message_with_link(
            app,
            StatusCode::BAD_REQUEST,
            "This link has expired",
            format!(
                "Links to your data work for {PRIVACY_VALID_MINUTES} minutes, and this one is older. Nothing was shown or changed. Ask for a new one."
            ),
            Some(("../privacy", "Ask for a new link")),
        )),
        Err(LinkProblem::Invalid) => Some(bad_request(
            app,
            "This link is not valid: it may have been cut short or changed. Nothing was shown or changed.",
        )),
    };
    if let Some(page) = refused {
        return Err(page);
    }
    match app.store.is_spent(&link.digest()).await {
        Ok(false) => Ok(link),
        Ok(true) => Err(used(app)),
        Err(e) => {
            app.note(format!("error: cannot read the spent links: {e}"));
            Err(super::pages::server_error(app, "read this link"))
        }
    }
}

/// The answer to a link whose data was deleted already.
fn used(app: &App) -> Response {
    message_with_link(
        app,
        StatusCode::OK,
        "This link was already used",
        "This link was used to delete your data already, so nothing changed.".into(),
        Some(("../privacy", "Ask for a new link")),
    )
}

/// GET (e, x, t): the two buttons. Never changes anything.
async fn link_page(
    State(app): State<Arc<App>>,
    params: Result<Query<LinkParams>, QueryRejection>,
) -> Response {
    let Ok(Query(p)) = params else {
        return bad_request(&app, "This link is garbled. Nothing was shown or changed.");
    };
    match checked(&app, &p).await {
        Ok(link) => html(
            &app,
            StatusCode::OK,
            &LinkPage {
                brand: &app.brand,
                email: &link.key,
                expires: &link.expires,
                token: &link.token,
            },
        ),
        Err(page) => page,
    }
}

/// POST (e, x, t, action): `download` gives the data (the link still
/// works), `delete` erases the reader and spends the link.
async fn act(
    State(app): State<Arc<App>>,
    form: Result<Form<LinkParams>, FormRejection>,
) -> Result<Response, WebError> {
    let p = match form {
        Ok(Form(p)) => p,
        Err(rejection) => {
            return Ok(unreadable(
                &app,
                &rejection,
                "This form arrived garbled. Nothing was shown or changed.",
            ));
        }
    };
    let link = match checked(&app, &p).await {
        Ok(l) => l,
        Err(page) => return Ok(page),
    };
    match p.action.as_deref() {
        Some("download") => download(&app, &link.key).await,
        Some("delete") => delete(&app, &link).await,
        _ => Ok(bad_request(
            &app,
            "This form asks for nothing we know. Nothing was shown or changed.",
        )),
    }
}

/// The reader's data as a JSON download.
async fn download(app: &Arc<App>, key: &str) -> Result<Response, WebError> {
    let record = answer(
        app,
        "gather your data",
        "cannot gather a reader's data".into(),
        reader_data::gather(&*app.store, &app.keyer(), key).await,
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

/// Erases the reader (as `subscribers forget`), unless a send is mailing
/// them, then spends the link. Erasing an erased reader changes nothing, so
/// two deletes racing on one link change no more than one.
async fn delete(app: &Arc<App>, link: &Checked) -> Result<Response, WebError> {
    let log = "cannot erase a reader".to_string();
    // A running send is an answer, not a failure: `Ok(Err(..))`.
    let erased = match reader_data::forget(
        &app.config,
        &*app.store,
        &app.keyer(),
        &link.key,
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
        other => Ok(answer(app, "delete your data", log, other)?),
    };
    let e = match erased {
        Ok(e) => e,
        Err(_) => {
            return Ok(message(
                app,
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again later",
                "An issue is being sent right now, so your data cannot be deleted this minute. Nothing was changed. Please try again in a little while.".into(),
            ));
        }
    };
    let expires = link.expires.parse::<i64>().unwrap_or(0);
    let now = app.clock.now().timestamp();
    let spent = answer(
        app,
        "delete your data",
        "cannot spend a privacy link".into(),
        app.store
            .spend_confirmation(&link.digest(), expires, now)
            .await,
    )?;
    if !spent {
        return Ok(used(app));
    }
    app.note(format!(
        "forgot a reader on their request: now `{}` ({} list row(s), {} ledger row(s))",
        e.pseudonym, e.list_rows, e.ledger_rows
    ));
    Ok(message(
        app,
        StatusCode::OK,
        "Your data is deleted",
        format!(
            "{} no longer holds your address or name. A code made from the address stays, only so that no {} email reaches it again.",
            app.brand.name, app.brand.name
        ),
    ))
}
