//! Signing in and staying signed in: the throttle on failed sign-ins (per
//! account and per client, kept in the store so that it holds across
//! restarts and hosts), the same answer and the same time for an unknown
//! name and a wrong password, and sessions whose id lives only in the
//! browser's cookie (the store keeps its SHA-256).
//!
//! Owns those rules and their numbers. The cookie's flags and the pages are
//! `web`'s; the audit lines are written here, so no path forgets one.

use sha2::{Digest, Sha256};

use super::audit::{Action, record};
use super::password;
use crate::store::{Account, SessionRecord, Store, StoreError};

/// How long a session lasts whatever happens (seconds): a working day.
pub(crate) const SESSION_SECONDS: i64 = 12 * 3600;
/// How long a session lasts unused (seconds).
pub(crate) const IDLE_SECONDS: i64 = 3600;
/// The window failed sign-ins are counted in (seconds).
pub(crate) const THROTTLE_WINDOW: i64 = 15 * 60;
/// Failed sign-ins of one account within the window before it is throttled.
pub(crate) const ACCOUNT_FAILURES: u64 = 5;
/// Failed sign-ins from one client within the window before it is throttled.
pub(crate) const CLIENT_FAILURES: u64 = 20;

/// Argon2id takes 19 MiB and a few tens of milliseconds: at most this many
/// at once, so a flood of sign-ins cannot take the server's memory.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// What a sign-in came to.
#[derive(Debug)]
pub(crate) enum SignIn {
    /// The name and password match.
    Welcome(Account),
    /// They do not (or the name is unknown: the same answer).
    Refused,
    /// Too many failures lately, for this account or this client; nothing
    /// was checked. Try again after this many seconds.
    Throttled(i64),
}

fn account_scope(name: &str) -> String {
    format!("account:{name}")
}

fn client_scope(client: &str) -> String {
    format!("client:{client}")
}

/// Checks `name` and `password` from `client` at `now` (unix seconds),
/// under the throttle, writing the audit line.
pub(crate) async fn sign_in(
    store: &Store,
    name: &str,
    password: &str,
    client: &str,
    now: i64,
) -> Result<SignIn, StoreError> {
    let name: String = name.chars().take(64).collect();
    let (by_account, by_client) = (account_scope(&name), client_scope(client));
    let since = now - THROTTLE_WINDOW;
    if store.failed_sign_ins(&by_account, since).await? >= ACCOUNT_FAILURES
        || store.failed_sign_ins(&by_client, since).await? >= CLIENT_FAILURES
    {
        return Ok(SignIn::Throttled(THROTTLE_WINDOW));
    }
    let account = store.account(&name).await?;
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    let given = password.to_string();
    let matched = {
        // Closed only at exit; a closed semaphore would mean no sign-ins.
        let _slot = HASHING.acquire().await.ok();
        tokio::task::spawn_blocking(move || match stored {
            Some(h) => password::verify(&given, &h),
            None => {
                password::verify_dummy(&given);
                false
            }
        })
        .await
        .unwrap_or(false)
    };
    match account {
        Some(a) if matched => {
            store.clear_failed_sign_ins(&by_account).await?;
            record(&**store, &a.name, Action::SignIn, "", "", client).await?;
            Ok(SignIn::Welcome(a))
        }
        _ => {
            store
                .note_failed_sign_in(&[&by_account, &by_client], now, since)
                .await?;
            record(&**store, &name, Action::SignInFailed, "", "", client).await?;
            Ok(SignIn::Refused)
        }
    }
}

/// A session just opened: the cookie's value and the forms' token.
#[derive(Debug, Clone)]
pub(crate) struct NewSession {
    /// The session id (the cookie's value; the store has only its digest).
    pub(crate) id: String,
    /// The CSRF token every form of the session carries.
    pub(crate) csrf: String,
}

/// 32 random bytes, URL-safe base64.
fn random_token() -> Result<String, StoreError> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Database {
        store: "the system".into(),
        detail: "no random bytes for a session id".into(),
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Opens a fresh session for `account` at `now`, ending `previous` (the
/// cookie the browser came with, if any): a sign-in always gets a new id.
pub(crate) async fn open(
    store: &Store,
    account: &str,
    previous: Option<&str>,
    now: i64,
) -> Result<NewSession, StoreError> {
    if let Some(old) = previous {
        store.close_session(&digest(old)).await?;
    }
    let session = NewSession {
        id: random_token()?,
        csrf: random_token()?,
    };
    store
        .open_session(
            &digest(&session.id),
            account,
            &session.csrf,
            now,
            now + SESSION_SECONDS,
        )
        .await?;
    Ok(session)
}

/// The open session whose id is `id`, at `now`.
pub(crate) async fn find(
    store: &Store,
    id: &str,
    now: i64,
) -> Result<Option<SessionRecord>, StoreError> {
    if id.is_empty() || id.len() > 100 {
        return Ok(None);
    }
    store.session(&digest(id), now, IDLE_SECONDS).await
}

/// Ends the session whose id is `id` (sign-out), writing the audit line.
pub(crate) async fn close(
    store: &Store,
    id: &str,
    account: &str,
    client: &str,
) -> Result<(), StoreError> {
    store.close_session(&digest(id)).await?;
    record(&**store, account, Action::SignOut, "", "", client).await
}
