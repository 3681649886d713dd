//! The console's accounts: who may sign in and with which role, their
//! passwords (Argon2id), signing in and sessions, and the audit log of who
//! did what.
//!
//! Owns the rules (names, password length, the last publisher, the
//! throttle); the store keeps the state ([`crate::store::Accounts`]). Used
//! by `tipsheet admin` and by `web`'s console. Must not print, and must
//! never store, log or echo a password or a session id.

pub(crate) mod audit;
mod password;
pub(crate) mod session;

use chrono::{SecondsFormat, Utc};

use crate::store::{Account, Removal, Role, RoleChange, Store, StoreError};
use audit::{Action, record};
pub(crate) use password::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};

/// Why an account could not be added, changed or removed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The name breaks the rules.
    #[error(
        "`{0}` is not a usable account name: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`"
    )]
    BadName(String),
    /// The password is too short or too long.
    #[error(
        "the password is {0} characters long: use at least {MIN_PASSWORD_CHARS} (a few words make one) and at most {MAX_PASSWORD_BYTES} bytes"
    )]
    BadPassword(usize),
    /// The name is taken.
    #[error(
        "account `{0}` exists already; `tipsheet admin passwd {0}` or `tipsheet admin role {0} --role ROLE` changes it"
    )]
    Taken(String),
    /// No account has the name.
    #[error("no account is called `{0}`; `tipsheet admin list` shows them")]
    Unknown(String),
    /// It is the last publisher (to be removed or demoted).
    #[error(
        "`{0}` is the last publisher: add or promote another (`tipsheet admin add NAME --role publisher`, `tipsheet admin role NAME --role publisher`) before removing or demoting it"
    )]
    LastPublisher(String),
    /// The password could not be hashed.
    #[error("{0}")]
    Hash(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `name` may name an account.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// The Argon2id hash of `password`, if it keeps the length rules.
fn hash_password(password: &str) -> Result<String, AccountError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::BadPassword(chars));
    }
    password::hash(password).map_err(AccountError::Hash)
}

/// Adds an account, by `actor` (audited).
pub async fn add(
    store: &Store,
    name: &str,
    role: Role,
    password: &str,
    actor: &str,
) -> Result<(), AccountError> {
    if !valid_name(name) {
        return Err(AccountError::BadName(name.into()));
    }
    let account = Account {
        name: name.into(),
        role,
        password_hash: hash_password(password)?,
        created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    };
    if !store.add_account(&account).await? {
        return Err(AccountError::Taken(name.into()));
    }
    record(&**store, actor, Action::AccountAdd, name, role.as_str(), "").await?;
    Ok(())
}

/// Removes an account and its sessions, by `actor` (audited); never the
/// last publisher.
pub async fn remove(store: &Store, name: &str, actor: &str) -> Result<(), AccountError> {
    match store.remove_account(name).await? {
        Removal::Removed => {
            record(&**store, actor, Action::AccountRemove, name, "", "").await?;
            Ok(())
        }
        Removal::Unknown => Err(AccountError::Unknown(name.into())),
        Removal::LastPublisher => Err(AccountError::LastPublisher(name.into())),
    }
}

/// Gives the account called `name` a new password and ends its sessions (a
/// session stolen under the old one ends with it), by `actor` (audited);
/// how many sessions were ended. Its failed sign-ins are left to lapse, as
/// [`remove`] leaves them.
pub async fn set_password(
    store: &Store,
    name: &str,
    password: &str,
    actor: &str,
) -> Result<u64, AccountError> {
    let hash = hash_password(password)?;
    let Some(ended) = store.set_password(name, &hash).await? else {
        return Err(AccountError::Unknown(name.into()));
    };
    let detail = match ended {
        1 => "1 session ended".to_string(),
        n => format!("{n} sessions ended"),
    };
    record(&**store, actor, Action::AccountPassword, name, &detail, "").await?;
    Ok(ended)
}

/// Gives the account called `name` the role `role`, by `actor` (audited when
/// it changed); never demotes the last publisher. Its sessions stay open
/// and take the new role at their next request (the session's role is read
/// from the account each time). The role it had before.
pub async fn set_role(
    store: &Store,
    name: &str,
    role: Role,
    actor: &str,
) -> Result<Role, AccountError> {
    match store.set_role(name, role).await? {
        RoleChange::Changed(before) => {
            if before != role {
                let detail = format!("{before} to {role}");
                record(&**store, actor, Action::AccountRole, name, &detail, "").await?;
            }
            Ok(before)
        }
        RoleChange::Unknown => Err(AccountError::Unknown(name.into())),
        RoleChange::LastPublisher => Err(AccountError::LastPublisher(name.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_are_short_and_plain() {
        for ok in ["ana", "ana.lima@example.com", "ops_1", "a-b"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "ana lima", "<b>", "ana\n", &"x".repeat(65), "ünï"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
