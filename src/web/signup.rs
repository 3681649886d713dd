//! Sign-up with double opt-in: the form, the rate-limited confirmation mail
//! (queued, see `mailer.rs`), the signed confirmation link, and the welcome
//! page.

//!
//! Owns the sign-up and confirm routes, the confirmation mail and how a
//! confirmed reader is added. It must not write the list except through the
//! store's `subscribe`, nor mail anyone who has not asked on this form.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;
use lettre::Address;
use lettre::address::Envelope;
use lettre::message::{Mailbox, Message, MultiPart};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::app::{App, Brand, LinkMail, blocking};
use super::client::Client;
use super::confirm::{CONFIRM_VALID_HOURS, LinkProblem, confirm_url, verify_confirm};
use super::error::{WebError, answer};
use super::my_data::forgotten_page;
use super::pages::{bad_request, html, message, message_with_link, unreadable};
use super::welcome;
use crate::delivery;
use crate::list::{self, AddressProblem, MAX_EMAIL_CHARS, normalize};
use crate::schedule::clock::Clock as _;
use crate::store::{LimitScope, StoreError, StoredSubscriber};

/// Names are cut to this many characters (as in the list).
const MAX_NAME_CHARS: usize = list::MAX_NAME_CHARS;

#[derive(Debug, Deserialize)]
pub(super) struct SignUp {
    email: Option<String>,
    name: Option<String>,
}

#[derive(Template)]
#[template(path = "subscribe.html")]
pub(super) struct SubscribePage<'a> {
    brand: &'a Brand,
    action: &'a str,
    minutes: u32,
    email: &'a str,
    name: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "subscribe_sent.html")]
pub(super) struct SentPage<'a> {
    brand: &'a Brand,
    email: &'a str,
    hours: i64,
}

/// What both parts of the confirmation mail say.
pub(super) struct ConfirmMail<'a> {
    newsletter: &'a str,
    greeting: &'a str,
    email: &'a str,
    link: &'a str,
    hours: i64,
    postal: &'a str,
}

#[derive(Template)]
#[template(path = "confirm_email.txt")]
pub(super) struct ConfirmText<'a, 'm>(&'m ConfirmMail<'a>);

#[derive(Template)]
#[template(path = "confirm_email.html")]
pub(super) struct ConfirmHtml<'a, 'm>(&'m ConfirmMail<'a>);

impl<'a> std::ops::Deref for ConfirmText<'a, '_> {
    type Target = ConfirmMail<'a>;
    fn deref(&self) -> &ConfirmMail<'a> {
        self.0
    }
}

impl<'a> std::ops::Deref for ConfirmHtml<'a, '_> {
    type Target = ConfirmMail<'a>;
    fn deref(&self) -> &ConfirmMail<'a> {
        self.0
    }
}

pub(super) fn subscribe_page(
    app: &App,
    status: StatusCode,
    action: &str,
    email: &str,
    name: &str,
    error: Option<String>,
) -> Response {
    html(
        app,
        status,
        &SubscribePage {
            brand: &app.brand,
            action,
            minutes: app.config.newsletter.max_reading_minutes,
            email,
            name,
            error,
        },
    )
}

pub(super) async fn subscribe_form(State(app): State<Arc<App>>) -> Response {
    // Relative: posts to `/subscribe` from `/` and `/subscribe`, and behind a path prefix.
    subscribe_page(&app, StatusCode::OK, "subscribe", "", "", None)
}

/// A name from the form, cleaned as the list cleans names.
pub(super) fn clean_name(name: &str) -> String {
    list::clean_text(name, MAX_NAME_CHARS)
}

/// An address from the form, or what to tell the reader.
pub(super) fn check_email(raw: &str) -> Result<Address, String> {
    list::address::check(raw).map_err(|p| match p {
        AddressProblem::Empty => "Please enter your email address.".into(),
        AddressProblem::TooLong => "That email address is too long.".into(),
        AddressProblem::Invalid { .. } => format!(
            "{} is not a valid email address. Please check it and try again.",
            raw.trim()
        ),
    })
}

impl App {
    pub(super) fn confirmation_mail(&self, to: &Address, link: &str) -> Result<Message, String> {
        let n = &self.config.newsletter;
        // Never the typed name: anyone can type one (a URL, an insult) and
        // have it mailed, signed, from the publisher's domain.
        let greeting = n.greeting_fallback.as_str();
        let email = to.to_string();
        let hours = CONFIRM_VALID_HOURS;
        let mail = ConfirmMail {
            newsletter: &n.name,
            greeting,
            email: &email,
            link,
            hours,
            postal: &n.postal,
        };
        let text = ConfirmText(&mail)
            .render()
            .map_err(|e| format!("template `confirm_email.txt` failed: {e}"))?;
        let html = ConfirmHtml(&mail)
            .render()
            .map_err(|e| format!("template `confirm_email.html` failed: {e}"))?;
        self.mail(
            to,
            &format!("Confirm your subscription to {}", n.name),
            text,
            html,
        )
    }

    /// A mail from the newsletter to one reader that is not an issue
    /// (confirmation, welcome): text and HTML alternatives, the transactional
    /// From (`newsletter.transactional_from`, else `from`) and Reply-To, a
    /// Message-ID in the From domain.
    pub(super) fn mail(
        &self,
        to: &Address,
        subject: &str,
        text: String,
        html: String,
    ) -> Result<Message, String> {
        let n = &self.config.newsletter;
        let from: Mailbox = n
            .transactional_from()
            .parse()
            .map_err(|e| format!("`newsletter.transactional_from`: {e}"))?;
        // An explicit envelope: lettre cannot derive one from a `To:` whose
        // local part is quoted (`"a b"@example.com` is a valid address).
        let envelope =
            Envelope::new(Some(from.email.clone()), vec![to.clone()]).map_err(|e| e.to_string())?;
        // Unique per mail, in the From domain (DKIM signs it; filters expect it).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let digest = Sha256::digest(format!("{to}\0{subject}\0{nanos}"));
        let message_id = format!(
            "<{nanos}.{}@{}>",
            &hex::encode(digest)[..16],
            from.email.domain()
        );
        let mut builder = Message::builder()
            .envelope(envelope)
            .from(from)
            .to(Mailbox::new(None, to.clone()))
            .message_id(Some(message_id))
            .subject(subject);
        if let Some(r) = &n.reply_to {
            builder = builder.reply_to(
                r.parse()
                    .map_err(|e| format!("`newsletter.reply_to`: {e}"))?,
            );
        }
        let mut message = builder
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| e.to_string())?;
        // A newsletter name shaped like an encoded word must read as written.
        message
            .headers_mut()
            .insert_raw(crate::mail::headers::text_header("Subject", subject, ""));
        Ok(message)
    }

    /// DKIM-signs `message` when `[dkim]` is set, then sends it where issues go.
    pub(super) async fn send_mail(&self, mut message: Message) -> Result<(), String> {
        if let Some(d) = &self.dkim {
            d.sign(&mut message);
        }
        delivery::send_one(&self.transport, message.envelope(), &message.formatted())
            .await
            .map(|_| ())
            .map_err(|f| format!("{f:?}"))
    }
}

/// POST (email, name): counts the sign-up against the limits and queues a
/// confirmation link (`mailer.rs` sends it). The answer is the same page
/// whether or not the address is already on the list.
pub(super) async fn subscribe(
    State(app): State<Arc<App>>,
    client: Client,
    form: Result<Form<SignUp>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(f)) => f,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return unreadable(&app, &rejection, "");
        }
        Err(_) => {
            return subscribe_page(
                &app,
                StatusCode::BAD_REQUEST,
                "subscribe",
                "",
                "",
                Some("The form arrived garbled. Please try again.".into()),
            );
        }
    };
    let raw_email = form.email.unwrap_or_default();
    let name = clean_name(form.name.as_deref().unwrap_or(""));
    let address = match check_email(&raw_email) {
        Ok(a) => a,
        Err(problem) => {
            let shown: String = raw_email.trim().chars().take(MAX_EMAIL_CHARS).collect();
            return subscribe_page(
                &app,
                StatusCode::BAD_REQUEST,
                "subscribe",
                &shown,
                &name,
                Some(problem),
            );
        }
    };
    let email = address.to_string();
    let key = normalize(&email);
    // An erased address gets the usual answer (no probing) and no mail.
    if app.forgotten(&key).await {
        return sent_page(&app, &email);
    }
    let hits = match app
        // Counted by mailbox, not spelling: `a+1@gmail.com` and
        // `a.b@gmail.com` reach the same reader.
        .take_link_limits(LimitScope::Confirm, &key, client)
        .await
    {
        Ok(Ok(h)) => h,
        // Said whether or not the address is on the list: it tells only that
        // someone asked for this mailbox within the hour.
        Ok(Err(page)) => return page,
        Err(e) => return e.into_response(),
    };
    let expires = (app.clock.now() + TimeDelta::hours(CONFIRM_VALID_HOURS)).timestamp();
    let link = confirm_url(
        &app.signer,
        &app.config.newsletter.base_url,
        &email,
        &name,
        expires,
    );
    let message = match app.confirmation_mail(&address, &link) {
        Ok(m) => m,
        Err(e) => {
            app.give_back(&hits).await;
            app.note(format!(
                "error: cannot build the confirmation mail to `{email}`: {e}"
            ));
            return app.queue_full();
        }
    };
    let queued = app
        .queue(LinkMail::Confirm {
            message: Box::new(message),
            email: email.clone(),
            hits,
        })
        .await;
    match queued {
        Ok(()) => sent_page(&app, &email),
        Err(page) => page,
    }
}

/// "Check your mail": the answer to a sign-up, known address or not.
fn sent_page(app: &App, email: &str) -> Response {
    html(
        app,
        StatusCode::OK,
        &SentPage {
            brand: &app.brand,
            email,
            hours: CONFIRM_VALID_HOURS,
        },
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct ConfirmParams {
    e: Option<String>,
    n: Option<String>,
    x: Option<String>,
    t: Option<String>,
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub(super) struct ConfirmPage<'a> {
    brand: &'a Brand,
    email: &'a str,
    name: &'a str,
    expires: &'a str,
    token: &'a str,
}

#[derive(Template)]
#[template(path = "welcome.html")]
pub(super) struct WelcomePage<'a> {
    brand: &'a Brand,
    email: &'a str,
    name: &'a str,
    next: Option<String>,
}

/// A genuine, unexpired confirmation link's (address, name), or the 400 page.
pub(super) fn checked_confirm<'p>(
    app: &App,
    p: &'p ConfirmParams,
) -> Result<(&'p str, &'p str, &'p str, &'p str), Box<Response>> {
    let (Some(e), Some(x), Some(t)) = (p.e.as_deref(), p.x.as_deref(), p.t.as_deref()) else {
        return Err(Box::new(bad_request(
            app,
            "This confirmation link is incomplete. Nobody was subscribed.",
        )));
    };
    let n = p.n.as_deref().unwrap_or("");
    let refused = match verify_confirm(&app.signer, e, n, x, t, app.clock.now()) {
        Ok(()) => return Ok((e, n, x, t)),
        Err(LinkProblem::Expired) => message_with_link(
            app,
            StatusCode::BAD_REQUEST,
            "This link has expired",
            format!(
                "Confirmation links work for {CONFIRM_VALID_HOURS} hours, and this one is older. Nobody was subscribed. Sign up again to get a new link."
            ),
            Some(("subscribe", "Sign up again")),
        ),
        Err(LinkProblem::Invalid) => bad_request(
            app,
            "This confirmation link is not valid: it may have been cut short or changed. Nobody was subscribed.",
        ),
    };
    Err(Box::new(refused))
}

/// GET: a page with a button (mail scanners fetch links; only the POST subscribes).
pub(super) async fn confirm_page(
    State(app): State<Arc<App>>,
    params: Result<Query<ConfirmParams>, QueryRejection>,
) -> Response {
    let Ok(Query(p)) = params else {
        return bad_request(
            &app,
            "This confirmation link is garbled. Nobody was subscribed.",
        );
    };
    match checked_confirm(&app, &p) {
        Ok((email, name, expires, token)) => html(
            &app,
            StatusCode::OK,
            &ConfirmPage {
                brand: &app.brand,
                email,
                name,
                expires,
                token,
            },
        ),
        Err(page) => *page,
    }
}

impl App {
    /// Adds the reader to the list unless the address is on it, and lifts any
    /// suppression (they just proved they read this mailbox and want the mail).
    /// True when the address was added (it was not on the list).
    pub(super) async fn add(&self, email: &str, name: &str) -> Result<bool, StoreError> {
        let key = normalize(email);
        let now = self.clock.now();
        let reader = StoredSubscriber {
            key: key.clone(),
            address: email.to_string(),
            name: name.to_string(),
            subscribed_at: Some(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        };
        let added = self.store.subscribe(&reader).await?;
        if added {
            self.note(format!("subscribed `{key}`"));
        }
        if self.store.resubscribe(&key, now).await? {
            self.note(format!("resubscribed `{key}`"));
        }
        Ok(added)
    }

    /// "Tuesday, December 1" of the next slot, if the schedule has one.
    pub(super) fn next_issue(&self) -> Option<String> {
        let schedule = self.config.schedule().ok()?;
        let slot = schedule.slots_from(self.clock.now()).next()?;
        Some(slot.local.format("%A, %B %-d").to_string())
    }
}

/// POST (e, n, x, t): adds the reader to the list (once) and welcomes them.
pub(super) async fn confirm(
    State(app): State<Arc<App>>,
    form: Result<Form<ConfirmParams>, FormRejection>,
) -> Result<Response, WebError> {
    let p = match form {
        Ok(Form(p)) => p,
        Err(rejection) => {
            return Ok(unreadable(
                &app,
                &rejection,
                "This form arrived garbled. Nobody was subscribed.",
            ));
        }
    };
    let (email, name, expires, token) = match checked_confirm(&app, &p) {
        Ok((e, n, x, t)) => (e.to_string(), clean_name(n), x, t),
        Err(page) => return Ok(*page),
    };
    if check_email(&email).is_err() {
        return Ok(bad_request(
            &app,
            "This confirmation link holds no valid address. Nobody was subscribed.",
        ));
    }
    if app.forgotten(&normalize(&email)).await {
        return Ok(forgotten_page(&app));
    }
    // A link works once: a replay must not lift a later unsubscribe,
    // bounce or complaint.
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    let expires = expires.parse::<i64>().unwrap_or(0);
    let now = app.clock.now().timestamp();
    let spent = answer(
        &app,
        "record your subscription",
        format!("cannot spend the confirmation link of `{email}`"),
        app.store.spend_confirmation(&digest, expires, now).await,
    )?;
    if !spent {
        return Ok(message(
            &app,
            StatusCode::OK,
            "This link was used already",
            "This confirmation link has been used already, so nothing changed. To subscribe again, sign up again.".into(),
        ));
    }
    let log = format!("cannot subscribe `{email}`");
    let added = answer(
        &app,
        "record your subscription",
        log,
        app.add(&email, &name).await,
    )?;
    if added {
        welcome::send(&app, &email, &name).await;
    }
    let a = app.clone();
    let next = blocking(move || a.next_issue()).await.flatten();
    Ok(html(
        &app,
        StatusCode::OK,
        &WelcomePage {
            brand: &app.brand,
            email: &email,
            name: &name,
            next,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::{MAX_NAME_CHARS, clean_name};

    #[test]
    fn names_are_cleaned_like_the_list_does() {
        let cases = [
            ("  Ana \r\n Lee ", "Ana Lee"),
            ("Bob\u{2028}<b>", "Bob <b>"),
            ("", ""),
            ("\t\t", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_name(raw), want, "{raw:?}");
        }
        assert_eq!(
            clean_name(&"é".repeat(1000)).chars().count(),
            MAX_NAME_CHARS
        );
    }
}
