//! Who is asking, and whether they may: the session cookie or the admin
//! bearer token, the role an action needs, and for a browser's `POST` the
//! CSRF token of its session and a same-origin `Origin` (or `Referer`).
//!
//! Owns those checks and their answers: a browser without a session is sent
//! to the sign-in page (303), a script gets 401, a role too small 403, a
//! forged or foreign `POST` 403 with nothing changed. Handlers call
//! [`admit`] or [`admit_post`] first; nothing else here decides anything.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Console;
use crate::accounts::session;
use crate::mail::token::same_secret;
use crate::schedule::clock::Clock as _;
use crate::store::Role;
use crate::web::app::App;

/// The session cookie. `__Host-`: the browser takes it only over HTTPS (or
/// from localhost), for this host alone and path `/`.
pub(crate) const COOKIE: &str = "__Host-tipsheet_session";

/// Who is asking.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    /// The account, or `token` for the admin bearer token.
    pub(crate) name: String,
    /// What it may do.
    pub(crate) role: Role,
    /// The session's CSRF token (none for the bearer token, which a browser
    /// never sends by itself).
    pub(crate) csrf: Option<String>,
}

impl Principal {
    /// Whether this principal may do what `need` may.
    pub(crate) fn may(&self, need: Role) -> bool {
        self.role >= need
    }
}

/// The session id the browser sent, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_string())
}

/// The `Set-Cookie` of a fresh session.
pub(crate) fn set_cookie(id: &str) -> HeaderValue {
    let v = format!(
        "{COOKIE}={id}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
        session::SESSION_SECONDS
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` that ends the session in the browser.
pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-tipsheet_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
    )
}

/// Whether the request comes from a browser page (it accepts HTML).
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// 401 for a script, with the scheme it may use.
pub(crate) fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"tipsheet admin\"")],
        "sign in at /admin/login, or send `Authorization: Bearer` with the admin token\n",
    )
        .into_response()
}

/// 303 to the sign-in page.
pub(crate) fn to_sign_in() -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/admin/login")]).into_response()
}

fn forbidden(c: &Console, wanted_html: bool, why: String) -> Response {
    if wanted_html {
        super::pages::problem(c, StatusCode::FORBIDDEN, "Not allowed", why)
    } else {
        (StatusCode::FORBIDDEN, format!("{why}\n")).into_response()
    }
}

/// Who is asking, by bearer token or session; the answer to send when
/// nobody (or a wrong token, or a foreign `Host`).
pub(crate) async fn principal(c: &Console, headers: &HeaderMap) -> Result<Principal, Response> {
    let app = &c.app;
    if !app.own_host(headers) {
        return Err(super::pages::problem(
            c,
            StatusCode::MISDIRECTED_REQUEST,
            "Wrong address",
            "This console answers only at its own address.".into(),
        ));
    }
    if headers.contains_key(header::AUTHORIZATION) {
        // A script: the right token, or 401 (never the sign-in page).
        return if app.admin(headers) {
            Ok(Principal {
                name: "token".into(),
                role: Role::Publisher,
                csrf: None,
            })
        } else {
            Err(unauthorized())
        };
    }
    match signed_in(app, headers).await.map_err(|_| {
        super::pages::problem(
            c,
            StatusCode::SERVICE_UNAVAILABLE,
            "The store is out of reach",
            "Sessions cannot be checked right now; try again in a minute.".into(),
        )
    })? {
        Some(p) => Ok(p),
        None if wants_html(headers) => Err(to_sign_in()),
        None => Err(unauthorized()),
    }
}

/// The account whose session cookie came with the request, if it is open.
pub(crate) async fn signed_in(
    app: &App,
    headers: &HeaderMap,
) -> Result<Option<Principal>, crate::store::StoreError> {
    let Some(id) = session_cookie(headers) else {
        return Ok(None);
    };
    let found = session::find(&app.store, &id, app.clock.now().timestamp())
        .await
        .inspect_err(|e| app.note(format!("error: console: cannot read a session: {e}")))?;
    Ok(found.map(|s| Principal {
        name: s.account,
        role: s.role,
        csrf: Some(s.csrf),
    }))
}

/// 403: `p`'s role is smaller than `need`.
fn too_small(c: &Console, headers: &HeaderMap, p: &Principal, need: Role) -> Response {
    forbidden(
        c,
        wants_html(headers),
        format!(
            "`{}` is a {}; this needs a {} (`tipsheet admin role` changes roles).",
            p.name, p.role, need
        ),
    )
}

/// The principal, if it may do what `need` may (a `GET`).
pub(crate) async fn admit(
    c: &Console,
    headers: &HeaderMap,
    need: Role,
) -> Result<Principal, Response> {
    let p = principal(c, headers).await?;
    if !p.may(need) {
        return Err(too_small(c, headers, &p, need));
    }
    Ok(p)
}

/// Whether `value` (an `Origin`, or a `Referer` URL) is this site: the
/// scheme and host of `newsletter.base_url`, or the host the request named.
pub(crate) fn same_origin(c: &Console, headers: &HeaderMap, value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let base = c.app.config.newsletter.base_url.trim_end_matches('/');
    let base_origin = base
        .split_once("://")
        .map(|(s, r)| (s, r.split('/').next().unwrap_or("")));
    if base_origin
        .is_some_and(|(s, a)| s.eq_ignore_ascii_case(scheme) && a.eq_ignore_ascii_case(authority))
    {
        return true;
    }
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| !authority.is_empty() && h.eq_ignore_ascii_case(authority))
}

/// The refusal of a browser's cross-site `POST`: a foreign `Origin`, or a
/// foreign `Referer` when there is no `Origin`; both missing is refused only
/// when `require` (a request riding a session cookie). `None`: it may pass.
pub(crate) fn foreign_post(c: &Console, headers: &HeaderMap, require: bool) -> Option<Response> {
    let header_of = |h| headers.get(h).and_then(|v: &HeaderValue| v.to_str().ok());
    let ok = match (header_of(header::ORIGIN), header_of(header::REFERER)) {
        (Some(o), _) => same_origin(c, headers, o),
        (None, Some(r)) => same_origin(c, headers, r),
        (None, None) => !require,
    };
    (!ok).then(|| {
        forbidden(
            c,
            wants_html(headers),
            "This form was sent from another site (its Origin is not this console's); nothing was changed."
                .into(),
        )
    })
}

/// The principal of a `POST`, if it may do what `need` may: a session's
/// must come from this site and carry its CSRF token in the form's `csrf`.
pub(crate) async fn admit_post(
    c: &Console,
    headers: &HeaderMap,
    form: &std::collections::HashMap<String, String>,
    need: Role,
) -> Result<Principal, Response> {
    let csrf = form.get("csrf").map(String::as_str);
    let p = principal(c, headers).await?;
    if let Some(expected) = &p.csrf {
        if let Some(refused) = foreign_post(c, headers, true) {
            return Err(refused);
        }
        if !csrf.is_some_and(|given| same_secret(given, expected)) {
            return Err(forbidden(
                c,
                wants_html(headers),
                "This form's security token is missing or out of date (reload the page and try again); nothing was changed.".into(),
            ));
        }
    }
    if !p.may(need) {
        return Err(too_small(c, headers, &p, need));
    }
    Ok(p)
}

/// The client's address: the peer's, or the one a trusted proxy wrote
/// (`server.trusted_proxies`, as every per-client limit reads it).
pub(crate) struct Peer(pub(crate) std::net::IpAddr);

impl axum::extract::FromRequestParts<std::sync::Arc<Console>> for Peer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        c: &std::sync::Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |p| p.0.ip());
        Ok(Peer(crate::web::client::client_of(
            peer,
            &parts.headers,
            &c.app.proxies,
        )))
    }
}

impl Peer {
    /// The client's address, as the limits and the audit log name it.
    pub(crate) fn client(&self) -> String {
        self.0.to_string()
    }
}
