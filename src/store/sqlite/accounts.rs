//! The embedded engine's console state in the SQLite ledger (the console's migration):
//! accounts, sessions, failed sign-ins and the audit log.
//!
//! Owns carrying out [`Accounts`] on the ledger. Every call goes through
//! [`SqliteStore::write`], which opens and migrates the ledger first: a
//! console on a ledger written by an older tipsheet gets its tables then.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::accounts::{
    Account, Accounts, AuditEntry, Removal, Role, RoleChange, SessionRecord,
};
use crate::store::error::StoreError;

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    let role: String = r.get(1)?;
    Ok(Account {
        name: r.get(0)?,
        // A role not known here reads as the least one.
        role: role.parse().unwrap_or(crate::store::Role::Viewer),
        password_hash: r.get(2)?,
        created_at: r.get(3)?,
    })
}

#[async_trait]
impl Accounts for SqliteStore {
    async fn add_account(&self, a: &Account) -> Result<bool, StoreError> {
        self.write(|db| {
            db.conn()
                .execute(
                    "INSERT INTO accounts (name, role, password_hash, created_at)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING",
                    params![a.name, a.role.as_str(), a.password_hash, a.created_at],
                )
                .map(|n| n > 0)
                .map_err(|e| db.err(e))
        })
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.write(|db| {
            let mut stmt = db
                .conn()
                .prepare("SELECT name, role, password_hash, created_at FROM accounts ORDER BY name")
                .map_err(|e| db.err(e))?;
            let rows = stmt.query_map([], account_row).map_err(|e| db.err(e))?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|e| db.err(e))
        })
    }

    async fn account(&self, name: &str) -> Result<Option<Account>, StoreError> {
        self.write(|db| {
            db.conn()
                .query_row(
                    "SELECT name, role, password_hash, created_at FROM accounts WHERE name = ?1",
                    [name],
                    account_row,
                )
                .optional()
                .map_err(|e| db.err(e))
        })
    }

    async fn remove_account(&self, name: &str) -> Result<Removal, StoreError> {
        self.write(|db| {
            let tx = db.conn().unchecked_transaction().map_err(|e| db.err(e))?;
            let Some((role, last)) = role_of(&tx, name).map_err(|e| db.err(e))? else {
                return Ok(Removal::Unknown);
            };
            if role == "publisher" && last {
                return Ok(Removal::LastPublisher);
            }
            tx.execute("DELETE FROM sessions WHERE account = ?1", [name])
                .map_err(|e| db.err(e))?;
            tx.execute("DELETE FROM accounts WHERE name = ?1", [name])
                .map_err(|e| db.err(e))?;
            tx.commit().map_err(|e| db.err(e))?;
            Ok(Removal::Removed)
        })
    }

    async fn set_password(
        &self,
        name: &str,
        password_hash: &str,
    ) -> Result<Option<u64>, StoreError> {
        self.write(|db| {
            let tx = db.conn().unchecked_transaction().map_err(|e| db.err(e))?;
            let changed = tx
                .execute(
                    "UPDATE accounts SET password_hash = ?2 WHERE name = ?1",
                    params![name, password_hash],
                )
                .map_err(|e| db.err(e))?;
            if changed == 0 {
                return Ok(None);
            }
            let ended = tx
                .execute("DELETE FROM sessions WHERE account = ?1", [name])
                .map_err(|e| db.err(e))?;
            tx.commit().map_err(|e| db.err(e))?;
            Ok(Some(ended as u64))
        })
    }

    async fn set_role(&self, name: &str, role: Role) -> Result<RoleChange, StoreError> {
        self.write(|db| {
            let tx = db.conn().unchecked_transaction().map_err(|e| db.err(e))?;
            let Some((before, last)) = role_of(&tx, name).map_err(|e| db.err(e))? else {
                return Ok(RoleChange::Unknown);
            };
            if before == "publisher" && role != Role::Publisher && last {
                return Ok(RoleChange::LastPublisher);
            }
            tx.execute(
                "UPDATE accounts SET role = ?2 WHERE name = ?1",
                params![name, role.as_str()],
            )
            .map_err(|e| db.err(e))?;
            tx.commit().map_err(|e| db.err(e))?;
            // A role not known here reads as the least one.
            Ok(RoleChange::Changed(before.parse().unwrap_or(Role::Viewer)))
        })
    }

    async fn open_session(
        &self,
        digest: &str,
        account: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.write(|db| {
            let tx = db.conn().unchecked_transaction().map_err(|e| db.err(e))?;
            tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])
                .map_err(|e| db.err(e))?;
            tx.execute(
                "INSERT INTO sessions (digest, account, csrf, created_at, expires_at, seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
                params![digest, account, csrf, now, expires_at],
            )
            .map_err(|e| db.err(e))?;
            tx.commit().map_err(|e| db.err(e))
        })
    }

    async fn session(
        &self,
        digest: &str,
        now: i64,
        idle: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.write(|db| {
            let found = db
                .conn()
                .query_row(
                    "SELECT s.account, a.role, s.csrf, s.expires_at, s.seen_at
                     FROM sessions s JOIN accounts a ON a.name = s.account
                     WHERE s.digest = ?1 AND s.expires_at > ?2 AND s.seen_at > ?3",
                    params![digest, now, now - idle],
                    |r| {
                        let role: String = r.get(1)?;
                        Ok(SessionRecord {
                            account: r.get(0)?,
                            role: role.parse().unwrap_or(crate::store::Role::Viewer),
                            csrf: r.get(2)?,
                            expires_at: r.get(3)?,
                            seen_at: r.get(4)?,
                        })
                    },
                )
                .optional()
                .map_err(|e| db.err(e))?;
            if let Some(s) = &found
                && now - s.seen_at > 60
            {
                db.conn()
                    .execute(
                        "UPDATE sessions SET seen_at = ?2 WHERE digest = ?1",
                        params![digest, now],
                    )
                    .map_err(|e| db.err(e))?;
            }
            Ok(found)
        })
    }

    async fn close_session(&self, digest: &str) -> Result<(), StoreError> {
        self.write(|db| {
            db.conn()
                .execute("DELETE FROM sessions WHERE digest = ?1", [digest])
                .map(drop)
                .map_err(|e| db.err(e))
        })
    }

    async fn note_failed_sign_in(
        &self,
        scopes: &[&str],
        at: i64,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        self.write(|db| {
            let tx = db.conn().unchecked_transaction().map_err(|e| db.err(e))?;
            tx.execute(
                "DELETE FROM sign_in_failures WHERE at < ?1",
                [forget_before],
            )
            .map_err(|e| db.err(e))?;
            for scope in scopes {
                tx.execute(
                    "INSERT INTO sign_in_failures (scope, at) VALUES (?1, ?2)",
                    params![scope, at],
                )
                .map_err(|e| db.err(e))?;
            }
            tx.commit().map_err(|e| db.err(e))
        })
    }

    async fn failed_sign_ins(&self, scope: &str, since: i64) -> Result<u64, StoreError> {
        self.write(|db| {
            db.conn()
                .query_row(
                    "SELECT COUNT(*) FROM sign_in_failures WHERE scope = ?1 AND at >= ?2",
                    params![scope, since],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .map_err(|e| db.err(e))
        })
    }

    async fn clear_failed_sign_ins(&self, scope: &str) -> Result<(), StoreError> {
        self.write(|db| {
            db.conn()
                .execute("DELETE FROM sign_in_failures WHERE scope = ?1", [scope])
                .map(drop)
                .map_err(|e| db.err(e))
        })
    }

    async fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.write(|db| {
            db.conn()
                .execute(
                    "INSERT INTO audit (at, actor, action, subject, detail, client)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![e.at, e.actor, e.action, e.subject, e.detail, e.client],
                )
                .map(drop)
                .map_err(|e| db.err(e))
        })
    }

    async fn audit_log(
        &self,
        limit: usize,
        before: Option<i64>,
        subject: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.write(|db| {
            let mut stmt = db
                .conn()
                .prepare(
                    "SELECT id, at, actor, action, subject, detail, client FROM audit
                     WHERE id < ?1 AND (?3 IS NULL OR subject = ?3)
                     ORDER BY id DESC LIMIT ?2",
                )
                .map_err(|e| db.err(e))?;
            let rows = stmt
                .query_map(
                    params![before.unwrap_or(i64::MAX), limit as i64, subject],
                    |r| {
                        Ok(AuditEntry {
                            id: r.get(0)?,
                            at: r.get(1)?,
                            actor: r.get(2)?,
                            action: r.get(3)?,
                            subject: r.get(4)?,
                            detail: r.get(5)?,
                            client: r.get(6)?,
                        })
                    },
                )
                .map_err(|e| db.err(e))?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|e| db.err(e))
        })
    }
}

/// The role of the account `name` (`None` when there is none), and whether
/// it is the only publisher; read inside the caller's write transaction,
/// which the ledger's one writer serialises.
fn role_of(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
) -> Result<Option<(String, bool)>, rusqlite::Error> {
    let role: Option<String> = tx
        .query_row("SELECT role FROM accounts WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    let others: i64 = tx.query_row(
        "SELECT COUNT(*) FROM accounts WHERE role = 'publisher' AND name <> ?1",
        [name],
        |r| r.get(0),
    )?;
    Ok(role.map(|r| (r, others == 0)))
}
