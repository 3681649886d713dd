//! `tipsheet serve`: the HTTP side of the newsletter. One-click unsubscribe
//! (RFC 8058) and resubscribe, double opt-in sign-up, the web archive of sent
//! issues, and the admin preview of the next issue.
//!
//! Owns routes, request parsing, who may see what, the signed confirmation
//! links and the pages (askama templates styled like the newsletter, usable
//! without JavaScript). The files stay the source of truth: every request
//! reads the suppression list and the list afresh and writes only through
//! [`list::append_suppression`] and [`list::append_subscriber`].
//! It must not write the ledger's issues or recipients (only relay webhooks,
//! in [`webhooks`], and the one-click unsubscribe record events, through
//! `inbound::policy`, and a reader's own erasure goes through
//! `crate::privacy`), send issues, or
//! keep state that matters across restarts: the one thing held in memory is
//! when each address was last sent a confirmation mail.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, TimeDelta, Utc};
use lettre::Address;
use lettre::address::Envelope;
use lettre::message::{Mailbox, Message, MultiPart};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::content::issue;
use crate::delivery::{self, Transport};
use crate::list::{self, AddressProblem, MAX_EMAIL_CHARS, SubscribersError, normalize};
use crate::mail::token::{Signer, encode_query, same_secret};
use crate::mail::view::View;
use crate::plan::{self, PlanError};
use crate::schedule::Slot;
use crate::schedule::clock::{Clock as _, WallClock};
use crate::store::{Snapshot, Store, StoreError, StoredSubscriber};

/// Largest request body accepted (forms are a few hundred bytes).
pub const BODY_LIMIT: usize = 16 * 1024;
/// How long a confirmation link works.
pub const CONFIRM_VALID_HOURS: i64 = 48;
/// One confirmation mail per address per this many minutes.
pub const CONFIRM_EVERY_MINUTES: i64 = 60;
/// Names are cut to this many characters (as in the list).
const MAX_NAME_CHARS: usize = list::MAX_NAME_CHARS;
/// Reason written for an unsubscribe.
const UNSUBSCRIBED: &str = "unsubscribed";
/// Token purpose of confirmation links.
const CONFIRM: &str = "confirm";

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The config is unusable (e.g. the DKIM key).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// No secret for SMTP, or another planning rule.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The listen address is bad or taken.
    #[error(
        "cannot listen on `{addr}`: {source} (set `server.listen` in config.toml or pass `--listen ADDR`, e.g. `127.0.0.1:8080`)"
    )]
    Bind {
        /// The address asked for.
        addr: String,
        /// The I/O error.
        source: io::Error,
    },
    /// A list file's folder is missing: unsubscribes could not be recorded.
    #[error(
        "the folder `{path}` of `{key}` does not exist; create it or fix `{key}` in config.toml (unsubscribes could not be recorded)"
    )]
    Folder {
        /// Dotted config key.
        key: &'static str,
        /// The folder.
        path: PathBuf,
    },
    /// The suppression list cannot be read.
    #[error(transparent)]
    Subscribers(#[from] SubscribersError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
    /// The shared store cannot be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server failed while running.
    #[error("the server stopped: {0}")]
    Serve(io::Error),
}

/// Why a confirmation link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// Missing parts, or a token that does not match them.
    Invalid,
    /// Genuine, but older than [`CONFIRM_VALID_HOURS`].
    Expired,
}

/// The signed part of a confirmation link. Fields are percent-encoded as in
/// the URL, so `|` can only be the separator (an address may contain `|`).
fn confirm_message(email: &str, name: &str, expires: i64) -> String {
    format!("{}|{}|{expires}", encode_query(email), encode_query(name))
}

/// `<base_url>/confirm?e=…&n=…&x=<expiry, unix seconds>&t=<token>`.
pub fn confirm_url(
    signer: &Signer,
    base_url: &str,
    email: &str,
    name: &str,
    expires: i64,
) -> String {
    format!(
        "{}/confirm?e={}&n={}&x={expires}&t={}",
        base_url.trim_end_matches('/'),
        encode_query(email),
        encode_query(name),
        signer.sign(CONFIRM, &confirm_message(email, name, expires))
    )
}

/// Checks a confirmation link's parts (token in constant time), then its expiry.
pub fn verify_confirm(
    signer: &Signer,
    email: &str,
    name: &str,
    expires: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), LinkProblem> {
    let digits =
        !expires.is_empty() && expires.len() <= 19 && expires.bytes().all(|b| b.is_ascii_digit());
    let Some(x) = digits.then(|| expires.parse::<i64>().ok()).flatten() else {
        return Err(LinkProblem::Invalid);
    };
    if !signer.verify(CONFIRM, &confirm_message(email, name, x), token) {
        return Err(LinkProblem::Invalid);
    }
    if now.timestamp() > x {
        return Err(LinkProblem::Expired);
    }
    Ok(())
}

/// What the server tells its operator; the command line prints it.
pub trait Events: Send + Sync {
    /// The server is up at `url` (`http://127.0.0.1:8080`).
    fn listening(&self, url: &str);
    /// One line worth logging: an unsubscribe, an error behind a 500 page.
    fn note(&self, line: &str);
}

/// What every page shows around its content.
#[derive(Debug, Clone)]
struct Brand {
    name: String,
    postal: String,
}

/// Shared by all requests.
struct App {
    config: Config,
    /// Where log lines go.
    events: Arc<dyn Events>,
    signer: Signer,
    brand: Brand,
    /// The value of `server.admin_token_env`; `None` when unset or empty.
    admin_token: Option<String>,
    /// "Now", or with `--now`, that instant plus the time since start (a
    /// testing aid that keeps expiry and rate limits moving).
    clock: WallClock,
    /// Confirmation mails go where issues go (outbox folder `confirmations`).
    transport: Transport,
    /// Signs confirmation mails, like issues, when `[dkim]` is set.
    dkim: Option<crate::mail::dkim::DkimSigner>,
    /// The list, the suppressions, the sign-up limit and the ledger.
    store: Store,
}

mod archive;
mod pages;
mod preview;
mod privacy;
mod router;
mod signup;
mod unsubscribe;
pub mod webhooks;
mod welcome;

use archive::*;
use pages::*;
use preview::*;
use privacy::*;
pub use router::run;
use router::*;
use signup::*;
use unsubscribe::*;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
    }

    #[test]
    fn confirm_links_verify_until_they_expire_and_only_unchanged() {
        let s = Signer::new(b"k");
        let x = (t0() + TimeDelta::hours(48)).timestamp();
        let url = confirm_url(
            &s,
            "https://n.example.com/",
            "A|b@example.com",
            "Ana | Lee",
            x,
        );
        let q = url.split_once('?').unwrap().1;
        let get = |k: &str| {
            q.split('&')
                .find_map(|p| p.strip_prefix(&format!("{k}=")))
                .map(|v| {
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8()
                        .unwrap()
                        .to_string()
                })
                .unwrap()
        };
        let (e, n, xs, t) = (get("e"), get("n"), get("x"), get("t"));
        assert_eq!((e.as_str(), n.as_str()), ("A|b@example.com", "Ana | Lee"));
        assert_eq!(verify_confirm(&s, &e, &n, &xs, &t, t0()), Ok(()));
        let later = t0() + TimeDelta::hours(49);
        assert_eq!(
            verify_confirm(&s, &e, &n, &xs, &t, later),
            Err(LinkProblem::Expired)
        );
        let cases: &[(&str, &str, &str, &str)] = &[
            ("B|b@example.com", &n, &xs, &t),
            (&e, "Ana", &xs, &t),
            (&e, &n, &(x + 3600).to_string(), &t),
            (&e, &n, "-1", &t),
            (&e, &n, "", &t),
            (&e, &n, "99999999999999999999999", &t),
            (&e, &n, &xs, "00"),
            (&e, &n, &xs, ""),
            ("A", "b@example.com|Ana | Lee", &xs, &t),
        ];
        for (e, n, x, t) in cases {
            assert_eq!(
                verify_confirm(&s, e, n, x, t, t0()),
                Err(LinkProblem::Invalid),
                "{e} {n} {x} {t}"
            );
        }
        assert_eq!(
            verify_confirm(&Signer::new(b"other"), &e, &n, &xs, &t, t0()),
            Err(LinkProblem::Invalid)
        );
    }

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

    #[test]
    fn fragments_go_after_the_body_tag() {
        assert_eq!(
            after_body("<html><body style=\"x\"><p>", "N"),
            "<html><body style=\"x\">\nN<p>"
        );
        assert_eq!(after_body("<p>", "N"), "\nN<p>");
    }
}
