//! The console's state on PostgreSQL, shared by every host (the console's migration):
//! accounts, sessions, failed sign-ins and the audit log. The same semantics
//! as the SQLite engine's `accounts.rs`; removing or demoting a publisher
//! locks the publishers' rows, so two hosts removing or demoting the last
//! two at once cannot both succeed.

use async_trait::async_trait;

use super::pool::PgStore;
use crate::store::accounts::{
    Account, Accounts, AuditEntry, Removal, Role, RoleChange, SessionRecord,
};
use crate::store::error::StoreError;

fn account_row(r: &tokio_postgres::Row) -> Account {
    let role: String = r.get(1);
    Account {
        name: r.get(0),
        // A role not known here reads as the least one.
        role: role.parse().unwrap_or(crate::store::Role::Viewer),
        password_hash: r.get(2),
        created_at: r.get(3),
    }
}

#[async_trait]
impl Accounts for PgStore {
    async fn add_account(&self, a: &Account) -> Result<bool, StoreError> {
        let role = a.role.as_str();
        self.execute(
            "INSERT INTO accounts (name, role, password_hash, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
            &[&a.name, &role, &a.password_hash, &a.created_at],
        )
        .await
        .map(|n| n > 0)
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT name, role, password_hash, created_at FROM accounts ORDER BY name",
                    &[],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().map(account_row).collect())
        })
        .await
    }

    async fn account(&self, name: &str) -> Result<Option<Account>, StoreError> {
        self.with_retry(|c| async move {
            let row = c
                .query_opt(
                    "SELECT name, role, password_hash, created_at FROM accounts WHERE name = $1",
                    &[&name],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.as_ref().map(account_row))
        })
        .await
    }

    async fn remove_account(&self, name: &str) -> Result<Removal, StoreError> {
        self.with_retry(|mut c| async move {
            let e = |e| self.err(e);
            let tx = c.transaction().await.map_err(e)?;
            let Some((role, last)) = role_of(&tx, name).await.map_err(e)? else {
                return Ok(Removal::Unknown);
            };
            if role == "publisher" && last {
                return Ok(Removal::LastPublisher);
            }
            tx.execute("DELETE FROM sessions WHERE account = $1", &[&name])
                .await
                .map_err(e)?;
            tx.execute("DELETE FROM accounts WHERE name = $1", &[&name])
                .await
                .map_err(e)?;
            tx.commit().await.map_err(e)?;
            Ok(Removal::Removed)
        })
        .await
    }

    async fn set_password(
        &self,
        name: &str,
        password_hash: &str,
    ) -> Result<Option<u64>, StoreError> {
        self.with_retry(|mut c| async move {
            let e = |e| self.err(e);
            let tx = c.transaction().await.map_err(e)?;
            let changed = tx
                .execute(
                    "UPDATE accounts SET password_hash = $2 WHERE name = $1",
                    &[&name, &password_hash],
                )
                .await
                .map_err(e)?;
            if changed == 0 {
                return Ok(None);
            }
            let ended = tx
                .execute("DELETE FROM sessions WHERE account = $1", &[&name])
                .await
                .map_err(e)?;
            tx.commit().await.map_err(e)?;
            Ok(Some(ended))
        })
        .await
    }

    async fn set_role(&self, name: &str, role: Role) -> Result<RoleChange, StoreError> {
        self.with_retry(|mut c| async move {
            let e = |e| self.err(e);
            let tx = c.transaction().await.map_err(e)?;
            let Some((before, last)) = role_of(&tx, name).await.map_err(e)? else {
                return Ok(RoleChange::Unknown);
            };
            if before == "publisher" && role != Role::Publisher && last {
                return Ok(RoleChange::LastPublisher);
            }
            let word = role.as_str();
            tx.execute(
                "UPDATE accounts SET role = $2 WHERE name = $1",
                &[&name, &word],
            )
            .await
            .map_err(e)?;
            tx.commit().await.map_err(e)?;
            // A role not known here reads as the least one.
            Ok(RoleChange::Changed(before.parse().unwrap_or(Role::Viewer)))
        })
        .await
    }

    async fn open_session(
        &self,
        digest: &str,
        account: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now])
            .await?;
        self.execute(
            "INSERT INTO sessions (digest, account, csrf, created_at, expires_at, seen_at)
             VALUES ($1, $2, $3, $4, $5, $4)",
            &[&digest, &account, &csrf, &now, &expires_at],
        )
        .await
        .map(drop)
    }

    async fn session(
        &self,
        digest: &str,
        now: i64,
        idle: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let quiet = now - idle;
        let found = self
            .with_retry(|c| async move {
                let row = c
                    .query_opt(
                        "SELECT s.account, a.role, s.csrf, s.expires_at, s.seen_at
                         FROM sessions s JOIN accounts a ON a.name = s.account
                         WHERE s.digest = $1 AND s.expires_at > $2 AND s.seen_at > $3",
                        &[&digest, &now, &quiet],
                    )
                    .await
                    .map_err(|e| self.err(e))?;
                Ok(row.map(|r| {
                    let role: String = r.get(1);
                    SessionRecord {
                        account: r.get(0),
                        role: role.parse().unwrap_or(crate::store::Role::Viewer),
                        csrf: r.get(2),
                        expires_at: r.get(3),
                        seen_at: r.get(4),
                    }
                }))
            })
            .await?;
        if let Some(s) = &found
            && now - s.seen_at > 60
        {
            self.execute(
                "UPDATE sessions SET seen_at = $2 WHERE digest = $1",
                &[&digest, &now],
            )
            .await?;
        }
        Ok(found)
    }

    async fn close_session(&self, digest: &str) -> Result<(), StoreError> {
        self.execute("DELETE FROM sessions WHERE digest = $1", &[&digest])
            .await
            .map(drop)
    }

    async fn note_failed_sign_in(
        &self,
        scopes: &[&str],
        at: i64,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM sign_in_failures WHERE at < $1",
            &[&forget_before],
        )
        .await?;
        self.execute(
            "INSERT INTO sign_in_failures (scope, at) SELECT s, $2 FROM unnest($1::text[]) AS s",
            &[&scopes, &at],
        )
        .await
        .map(drop)
    }

    async fn failed_sign_ins(&self, scope: &str, since: i64) -> Result<u64, StoreError> {
        self.count(
            "SELECT COUNT(*) FROM sign_in_failures WHERE scope = $1 AND at >= $2",
            &[&scope, &since],
        )
        .await
    }

    async fn clear_failed_sign_ins(&self, scope: &str) -> Result<(), StoreError> {
        self.execute("DELETE FROM sign_in_failures WHERE scope = $1", &[&scope])
            .await
            .map(drop)
    }

    async fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO audit (at, actor, action, subject, detail, client)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&e.at, &e.actor, &e.action, &e.subject, &e.detail, &e.client],
        )
        .await
        .map(drop)
    }

    async fn audit_log(
        &self,
        limit: usize,
        before: Option<i64>,
        subject: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let before = before.unwrap_or(i64::MAX);
        let limit = limit as i64;
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT id, at, actor, action, subject, detail, client FROM audit
                     WHERE id < $1 AND ($3::text IS NULL OR subject = $3)
                     ORDER BY id DESC LIMIT $2",
                    &[&before, &limit, &subject],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows
                .iter()
                .map(|r| AuditEntry {
                    id: r.get(0),
                    at: r.get(1),
                    actor: r.get(2),
                    action: r.get(3),
                    subject: r.get(4),
                    detail: r.get(5),
                    client: r.get(6),
                })
                .collect())
        })
        .await
    }
}

/// The role of the account `name` (`None` when there is none), and whether
/// it is the only publisher, with every publisher's row locked for the
/// rest of `tx`: a second removal or demotion on any host waits, then sees
/// this one's outcome, so two can never leave no publisher.
async fn role_of(
    tx: &tokio_postgres::Transaction<'_>,
    name: &str,
) -> Result<Option<(String, bool)>, tokio_postgres::Error> {
    let publishers: Vec<String> = tx
        .query(
            "SELECT name FROM accounts WHERE role = 'publisher' ORDER BY name FOR UPDATE",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let role: Option<String> = tx
        .query_opt("SELECT role FROM accounts WHERE name = $1", &[&name])
        .await?
        .map(|r| r.get(0));
    Ok(role.map(|r| (r, publishers.iter().all(|p| p == name))))
}
