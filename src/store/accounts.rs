//! What the console and `tipsheet admin` ask of the store: the accounts and
//! their roles, the signed-in sessions, the failed sign-ins that throttle
//! guessing, and the audit log of who did what.
//!
//! Owns the [`Accounts`] trait and its record types. Hashing passwords,
//! deciding who may do what and when to throttle are `crate::accounts`'s
//! business: the store keeps what it is told (password hashes, session id
//! digests, never a password or a session id).

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;

use super::error::StoreError;

/// What an account may do; each role may do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also sends proofs and holds an issue.
    Editor,
    /// Also approves, releases, and looks up or erases a reader.
    Publisher,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Publisher];

    /// The word stored and typed (`viewer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Publisher => "publisher",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a role; use viewer, editor or publisher"))
    }
}

/// One console account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The sign-in name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The password's Argon2id hash (a PHC string with its parameters).
    pub password_hash: String,
    /// When it was added (RFC 3339).
    pub created_at: String,
}

/// What removing an account came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Removed, with its sessions.
    Removed,
    /// No account has that name.
    Unknown,
    /// It is the last publisher: nobody could approve or release any more.
    LastPublisher,
}

/// What changing an account's role came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChange {
    /// Set (its sessions kept: they read the role at each request); the
    /// role it had before, which may be the same.
    Changed(Role),
    /// No account has that name.
    Unknown,
    /// It is the last publisher and the new role is not: nobody could
    /// approve or release any more.
    LastPublisher,
}

/// A signed-in session, as the store keeps it (found by its id's digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The account signed in.
    pub account: String,
    /// Its role now (a role changed or an account removed takes effect at once).
    pub role: Role,
    /// The token every form of this session carries (CSRF).
    pub csrf: String,
    /// When it ends whatever happens (unix seconds).
    pub expires_at: i64,
    /// When it was last used (unix seconds).
    pub seen_at: i64,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    /// Its place in the log (0 before it is recorded).
    pub id: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who: an account name, `token` (the admin bearer token) or
    /// `cli:<user>` (a command on the host).
    pub actor: String,
    /// What (`sign-in`, `sign-in-failed`, `hold`, `release`, `approve`,
    /// `proof`, `erase`, `account-add`, `account-remove`, `account-password`,
    /// `account-role`, `sign-out`).
    pub action: String,
    /// What it was done to (an issue date, an account name, an erased
    /// reader's pseudonym), empty when nothing.
    pub subject: String,
    /// Anything else worth keeping (a hold's reason, a role).
    pub detail: String,
    /// The client address, for what came over HTTP.
    pub client: String,
}

/// The console's side of the store.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Adds `account` unless the name is taken; true when added.
    async fn add_account(&self, account: &Account) -> Result<bool, StoreError>;

    /// Every account, by name.
    async fn accounts(&self) -> Result<Vec<Account>, StoreError>;

    /// The account called `name`.
    async fn account(&self, name: &str) -> Result<Option<Account>, StoreError>;

    /// Removes the account called `name` and its sessions, unless it is the
    /// last publisher (decided in one transaction, so two removals at once
    /// cannot both pass).
    async fn remove_account(&self, name: &str) -> Result<Removal, StoreError>;

    /// Sets the password hash of the account called `name` and ends its
    /// sessions, in one transaction; how many sessions were ended, or `None`
    /// when no account has the name.
    async fn set_password(
        &self,
        name: &str,
        password_hash: &str,
    ) -> Result<Option<u64>, StoreError>;

    /// Gives the account called `name` the role `role`, unless that demotes
    /// the last publisher (decided in one transaction, as
    /// [`Accounts::remove_account`] decides, so two demotions or a demotion
    /// and a removal at once cannot both pass). Its sessions stay open:
    /// [`Accounts::session`] reads the role from the account each time.
    async fn set_role(&self, name: &str, role: Role) -> Result<RoleChange, StoreError>;

    /// Keeps a new session under `digest` (the SHA-256 of its id, hex), and
    /// forgets the sessions that ended before `now`.
    async fn open_session(
        &self,
        digest: &str,
        account: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;

    /// The session kept under `digest`, if it is still open at `now` (not
    /// past its end, and used within `idle` seconds); its use is noted when
    /// the last one is over a minute old.
    async fn session(
        &self,
        digest: &str,
        now: i64,
        idle: i64,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Ends the session kept under `digest` (sign-out).
    async fn close_session(&self, digest: &str) -> Result<(), StoreError>;

    /// Notes a failed sign-in at `at` (unix seconds) against each of
    /// `scopes` (`account:NAME`, `client:ADDR`), forgetting those older than
    /// `forget_before`.
    async fn note_failed_sign_in(
        &self,
        scopes: &[&str],
        at: i64,
        forget_before: i64,
    ) -> Result<(), StoreError>;

    /// How many failed sign-ins `scope` has had since `since`.
    async fn failed_sign_ins(&self, scope: &str, since: i64) -> Result<u64, StoreError>;

    /// Forgets `scope`'s failed sign-ins (after a successful one).
    async fn clear_failed_sign_ins(&self, scope: &str) -> Result<(), StoreError>;

    /// Appends `entry` to the audit log (its `id` is ignored).
    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The audit log, newest first: at most `limit` lines older than
    /// `before` (an entry's id), or the newest; only those about `subject`
    /// when given.
    async fn audit_log(
        &self,
        limit: usize,
        before: Option<i64>,
        subject: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError>;
}
