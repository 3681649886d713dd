//! One-click unsubscribe (RFC 8058) and resubscribe: token checks and the
//! suppression list writes. An unsubscribe goes through `inbound::policy`,
//! so that it is also recorded as an `unsubscribe` event (source `web`) that
//! `status` counts, on either store engine.

#[allow(unused_imports)]
use super::*;
use axum::extract::{FromRequest, Request};

use crate::inbound::Book;
use crate::inbound::policy::{self, Policy};
use crate::store::Ledger;

#[derive(Debug, Deserialize)]
pub(super) struct TokenParams {
    e: Option<String>,
    t: Option<String>,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
pub(super) struct UnsubscribePage<'a> {
    brand: &'a Brand,
    email: &'a str,
    token: &'a str,
    action: String,
}

#[derive(Template)]
#[template(path = "unsubscribed.html")]
pub(super) struct UnsubscribedPage<'a> {
    brand: &'a Brand,
    email: &'a str,
    token: &'a str,
    already: bool,
}

#[derive(Template)]
#[template(path = "resubscribed.html")]
pub(super) struct ResubscribedPage<'a> {
    brand: &'a Brand,
    email: &'a str,
}

impl App {
    /// Logs one line through [`Events::note`].
    pub(super) fn note(&self, line: String) {
        self.events.note(&line);
    }

    /// The normalized address and token of a genuine unsubscribe link, or the 400 page.
    pub(super) fn unsubscribe_link(
        &self,
        params: &TokenParams,
    ) -> Result<(String, String), Box<Response>> {
        let (Some(e), Some(t)) = (params.e.as_deref(), params.t.as_deref()) else {
            return Err(Box::new(bad_request(
                self,
                &format!(
                    "This unsubscribe link is incomplete. Nothing was changed. Use the link at the bottom of any {} email, or write to {}.",
                    self.brand.name, self.config.unsubscribe.mailto
                ),
            )));
        };
        let key = normalize(e);
        if key.chars().count() > MAX_EMAIL_CHARS
            || !self.signer.verify_unsubscribe(&key, t)
            || key.parse::<Address>().is_err()
        {
            return Err(Box::new(bad_request(
                self,
                &format!(
                    "This unsubscribe link for {e} is not valid: it may have been cut short or changed. Nothing was changed. Use the link at the bottom of any {} email, or write to {}.",
                    self.brand.name, self.config.unsubscribe.mailto
                ),
            )));
        }
        Ok((key, t.trim().to_string()))
    }

    /// The shared store, when the list lives there.
    pub(super) fn shared(&self) -> Option<&PgStore> {
        self.store.as_ref().and_then(|s| s.shared().ok())
    }

    /// Runs a store call from a blocking thread (every caller of the list
    /// methods is one: see [`blocking`]).
    pub(super) fn wait<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Handle::current().block_on(f)
    }

    /// Whether `key` is suppressed now (the file read afresh, or the store).
    pub(super) fn suppressed(&self, key: &str) -> Result<bool, ListError> {
        if let Some(pg) = self.shared() {
            // An erased reader is suppressed under its pseudonym.
            let mut keys = vec![key.to_string()];
            keys.extend(self.keyer().pseudonyms(key));
            return Ok(self.wait(pg.suppressed_as(&keys))?);
        }
        let (set, _) = Suppression::load(&self.config.subscribers.suppressed_path)?;
        Ok(set.keyed(self.keyer()).contains(key))
    }

    /// Suppresses `key` unless it already is, recording the unsubscribe
    /// event with it; `Ok(false)` when it already was.
    pub(super) fn suppress(&self, key: &str) -> io::Result<bool> {
        let policy = Policy::new(&self.config.bounce_settings(), self.keyer());
        let now = self.clock.now();
        let path = &self.config.subscribers.suppressed_path;
        let applied = match self.shared() {
            Some(store) => {
                // Already suppressed, or erased (suppressed under its
                // pseudonym): never write the address back in clear.
                if self.suppressed(key).map_err(io::Error::other)? {
                    return Ok(false);
                }
                let book = Book::Shared {
                    store,
                    rt: tokio::runtime::Handle::current(),
                };
                policy.unsubscribe(&book, key, now)
            }
            None => {
                let _files = lock(&self.files);
                if self.suppressed(key).map_err(io::Error::other)? {
                    return Ok(false);
                }
                match Ledger::open(&self.config.ledger_path()) {
                    Ok(ledger) => {
                        let book = Book::Embedded {
                            ledger: &ledger,
                            suppressed: path,
                        };
                        policy.unsubscribe(&book, key, now)
                    }
                    // The unsubscribe must hold even when the ledger cannot
                    // be written: suppress, and say what was not counted.
                    Err(e) => {
                        self.note(format!(
                            "warning: the unsubscribe of `{key}` is not counted in `status`: {e}"
                        ));
                        list::append_suppression(path, key, UNSUBSCRIBED, now)?;
                        self.note(format!("unsubscribed `{key}`"));
                        return Ok(true);
                    }
                }
            }
        }
        .map_err(io::Error::other)?;
        let new = applied.suppressed.is_some();
        if new {
            self.note(format!("unsubscribed `{key}`"));
        }
        Ok(new)
    }

    /// Whether `key` complained about any issue (then only the double opt-in
    /// brings it back); a ledger that cannot be read counts as a complaint.
    pub(super) fn complained(&self, key: &str) -> bool {
        if let Some(store) = self.shared() {
            let book = Book::Shared {
                store,
                rt: tokio::runtime::Handle::current(),
            };
            return policy::complained(&book, key);
        }
        match Ledger::open_read_only(&self.config.ledger_path()) {
            Ok(None) => false,
            Ok(Some(ledger)) => policy::complained(
                &Book::Embedded {
                    ledger: &ledger,
                    suppressed: &self.config.subscribers.suppressed_path,
                },
                key,
            ),
            Err(_) => true,
        }
    }

    /// Lifts a suppression of `key` if there is one; `Ok(false)` when there was none.
    pub(super) fn lift(&self, key: &str) -> io::Result<bool> {
        if let Some(pg) = self.shared() {
            let lifted = self.wait(pg.resubscribe(key)).map_err(io::Error::other)?;
            if lifted {
                self.note(format!("resubscribed `{key}`"));
            }
            return Ok(lifted);
        }
        let _files = lock(&self.files);
        if !self.suppressed(key).map_err(io::Error::other)? {
            return Ok(false);
        }
        let path = &self.config.subscribers.suppressed_path;
        list::append_suppression(path, key, RESUBSCRIBED, self.clock.now())?;
        self.note(format!("resubscribed `{key}`"));
        Ok(true)
    }
}

/// The checked address of a posted unsubscribe-link form (`e`, `t`), as
/// [`App::unsubscribe_link`] checks it; a form that cannot be read or a link
/// that is not genuine is answered with its page (413/400) before the handler.
pub(super) struct PostedLink(pub(super) String);

impl FromRequest<Arc<App>> for PostedLink {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Response> {
        let params = match Form::<TokenParams>::from_request(req, app).await {
            Ok(Form(p)) => p,
            Err(rejection) => {
                return Err(unreadable(
                    app,
                    &rejection,
                    "This form arrived garbled. Nothing was changed.",
                ));
            }
        };
        match app.unsubscribe_link(&params) {
            Ok((key, _)) => Ok(PostedLink(key)),
            Err(page) => Err(*page),
        }
    }
}

/// "You are unsubscribed" (`already` when it was so before this request).
fn unsubscribed(app: &App, key: &str, token: &str, already: bool) -> Response {
    html(
        app,
        StatusCode::OK,
        &UnsubscribedPage {
            brand: &app.brand,
            email: key,
            token,
            already,
        },
    )
}

/// The page for an unsubscribe link whose query cannot be read.
fn garbled(app: &App) -> Response {
    bad_request(
        app,
        "This unsubscribe link is garbled. Nothing was changed.",
    )
}

/// GET: a page with a button. Never writes: mail scanners fetch links.
pub(super) async fn unsubscribe_page(
    State(app): State<Arc<App>>,
    params: Result<Query<TokenParams>, QueryRejection>,
) -> Result<Response, WebError> {
    let Ok(Query(params)) = params else {
        return Ok(garbled(&app));
    };
    if params.e.is_none() && params.t.is_none() {
        return Ok(message(
            &app,
            StatusCode::OK,
            "Unsubscribe",
            format!(
                "To unsubscribe, use the link at the bottom of any {} email: it is made for your address. Or write to {}.",
                app.brand.name, app.config.unsubscribe.mailto
            ),
        ));
    }
    let (key, token) = match app.unsubscribe_link(&params) {
        Ok(k) => k,
        Err(page) => return Ok(*page),
    };
    let k = key.clone();
    let already = off_thread(&app, "read the unsubscribe list", String::new(), move |a| {
        a.suppressed(&k)
    })
    .await?;
    Ok(match already {
        true => unsubscribed(&app, &key, &token, true),
        false => html(
            &app,
            StatusCode::OK,
            &UnsubscribePage {
                brand: &app.brand,
                email: &key,
                token: &token,
                action: format!(
                    "unsubscribe?e={}&t={}",
                    encode_query(&key),
                    encode_query(&token)
                ),
            },
        ),
    })
}

/// POST: RFC 8058 one-click (body `List-Unsubscribe=One-Click`, answered with
/// a bare 200) or the confirmation page's button (answered with a page
/// offering to resubscribe). The address and token are in the query either way.
pub(super) async fn unsubscribe(
    State(app): State<Arc<App>>,
    params: Result<Query<TokenParams>, QueryRejection>,
    body: Bytes,
) -> Result<Response, WebError> {
    let Ok(Query(params)) = params else {
        return Ok(garbled(&app));
    };
    let (key, token) = match app.unsubscribe_link(&params) {
        Ok(k) => k,
        Err(page) => return Ok(*page),
    };
    // Urlencoded or multipart, RFC 8058's body always holds this.
    let one_click = body
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"One-Click"));
    let log = format!(
        "cannot record the unsubscribe of `{key}` in `{}`",
        app.config.subscribers.suppressed_path.display()
    );
    let k = key.clone();
    let written = off_thread(&app, "record your unsubscribe", log, move |a| {
        a.suppress(&k)
    })
    .await?;
    if one_click {
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("unsubscribed from {}\n", app.brand.name),
        )
            .into_response());
    }
    Ok(unsubscribed(&app, &key, &token, !written))
}

/// POST (e, t): lifts a suppression by appending a `resubscribed` record.
pub(super) async fn resubscribe(
    State(app): State<Arc<App>>,
    PostedLink(key): PostedLink,
) -> Result<Response, WebError> {
    if app.forgotten(&key).await {
        return Ok(forgotten_page(&app));
    }
    // After a spam complaint, only the full double opt-in brings the address back.
    let a = app.clone();
    let k = key.clone();
    if blocking(move || a.complained(&k)).await != Some(false) {
        return Ok(message_with_link(
            &app,
            StatusCode::OK,
            "Please sign up again",
            format!(
                "{key} asked us to stop as spam, so we need a fresh confirmation: sign up again and click the link we send you."
            ),
            Some(("subscribe", "Sign up")),
        ));
    }
    let log = format!("cannot record the resubscribe of `{key}`");
    let k = key.clone();
    off_thread(&app, "record your resubscribe", log, move |a| a.lift(&k)).await?;
    Ok(html(
        &app,
        StatusCode::OK,
        &ResubscribedPage {
            brand: &app.brand,
            email: &key,
        },
    ))
}
