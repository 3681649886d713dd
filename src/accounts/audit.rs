//! The audit log's lines: who (an account, `token`, or `cli:<user>`), what,
//! to what, when, from where. Every sign-in, approval, hold, release, proof,
//! erasure and account change is written here, by the console and by the
//! commands alike.
//!
//! Owns the words of the log and the command line's actor name.

use chrono::{SecondsFormat, Utc};

use crate::store::{AuditEntry, Engine, StoreError};

/// What an audit line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    SignIn,
    SignInFailed,
    SignOut,
    Hold,
    Release,
    Approve,
    Proof,
    Erase,
    AccountAdd,
    AccountRemove,
    AccountPassword,
    AccountRole,
}

impl Action {
    /// The word kept in the log.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign-in",
            Action::SignInFailed => "sign-in-failed",
            Action::SignOut => "sign-out",
            Action::Hold => "hold",
            Action::Release => "release",
            Action::Approve => "approve",
            Action::Proof => "proof",
            Action::Erase => "erase",
            Action::AccountAdd => "account-add",
            Action::AccountRemove => "account-remove",
            Action::AccountPassword => "account-password",
            Action::AccountRole => "account-role",
        }
    }
}

/// Who runs a command on this host: `cli:$USER` (or `cli`).
pub(crate) fn cli_actor() -> String {
    match std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        Ok(u) if !u.trim().is_empty() => format!("cli:{}", u.trim()),
        _ => "cli".into(),
    }
}

/// Appends one line to the audit log, stamped now.
pub(crate) async fn record(
    store: &dyn Engine,
    actor: &str,
    action: Action,
    subject: &str,
    detail: &str,
    client: &str,
) -> Result<(), StoreError> {
    store
        .audit(&AuditEntry {
            id: 0,
            at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            actor: actor.into(),
            action: action.as_str().into(),
            subject: subject.into(),
            detail: detail.into(),
            client: client.into(),
        })
        .await
}
