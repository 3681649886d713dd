//! The shared engine: the ledger, the list, the suppressions and the sign-up
//! state in one PostgreSQL database that every host naming the same URL uses.
//!
//! Owns the PostgreSQL SQL, the connection pool (tokio-postgres + deadpool),
//! TLS to the server (rustls, `sslmode=require`), the migrations under
//! `migrations/postgres/`, and the leases that let several hosts share one
//! issue: recipients are claimed in pages with `SELECT … FOR UPDATE SKIP
//! LOCKED`, each claim held until `lease_until` (the database's clock, so
//! hosts' clocks need not agree) and renewed while the host works. It decides
//! nothing about sending.

use std::io::BufReader;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use chrono::NaiveDate;

use super::url::PostgresUrl;
use super::*;
use crate::content::issue::{PastIssue, Selection};

/// The migrations, in order: migration N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[&str] = &[include_str!("migrations/postgres/0001_shared_store.sql")];

/// Serializes migrations when several hosts start at once (`pg_advisory_xact_lock`).
const MIGRATION_LOCK: i64 = 0x7469_7073_6865_6574; // "tipsheet"

/// How long one brief connection drop is retried before the store is lost.
const RETRIES: [u64; 5] = [100, 300, 700, 1500, 3000];

const ISSUE_COLUMNS: &str =
    "slot, number, comparisons, tip, status, assembled_at, started_at, finished_at";
const RECIPIENT_COLUMNS: &str =
    "email, address, name, status, attempts, last_code, last_reply, message_id, updated_at";

/// An open connection pool to the shared store.
pub struct PgStore {
    pool: Pool,
    url: PostgresUrl,
    lease: Duration,
    host: String,
}

/// A subscriber as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubscriber {
    /// Normalized address (the key).
    pub key: String,
    /// Address as written.
    pub address: String,
    /// Display name; may be empty.
    pub name: String,
    /// RFC 3339, when known.
    pub subscribed_at: Option<String>,
}

/// A suppression as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSuppression {
    /// Normalized address (the key).
    pub key: String,
    /// Address as written.
    pub address: String,
    /// Why (`unsubscribed`, `bounced: …`, `imported`, …).
    pub reason: String,
    /// RFC 3339.
    pub at: String,
}

impl PgStore {
    /// Builds the pool; connects lazily (the first call reaches the server).
    /// `password` fills in a URL that has none.
    pub fn new(
        url: &PostgresUrl,
        password: Option<&str>,
        lease: Duration,
    ) -> Result<Self, StoreError> {
        let bad = |detail: String| StoreError::Url {
            store: url.to_string(),
            detail,
        };
        let (raw, root_cert) = split_root_cert(url.secret());
        let mut config: tokio_postgres::Config = raw.parse().map_err(|e| bad(format!("{e}")))?;
        if config.get_password().is_none()
            && let Some(p) = password.filter(|p| !p.is_empty())
        {
            config.password(p);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("tipsheet");
        }
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match config.get_ssl_mode() {
            SslMode::Require => {
                let tls = rustls_config(root_cert.as_deref()).map_err(bad)?;
                Manager::from_config(
                    config,
                    tokio_postgres_rustls::MakeRustlsConnect::new(tls),
                    manager_config,
                )
            }
            // `prefer` (the default) with no TLS connector connects in plain text.
            _ => Manager::from_config(config, NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(8)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            pool,
            url: url.clone(),
            lease,
            host: host_id(),
        })
    }

    /// The URL, password redacted.
    pub fn url(&self) -> &PostgresUrl {
        &self.url
    }

    /// This process's name in `claimed_by`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The lease a claim holds.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    fn err(&self, e: tokio_postgres::Error) -> StoreError {
        pg_error(&self.url, e)
    }

    fn pool_err(&self, e: PoolError) -> StoreError {
        match e {
            PoolError::Backend(e) => self.err(e),
            other => StoreError::Unreachable {
                store: self.url.to_string(),
                detail: other.to_string(),
            },
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| self.pool_err(e))
    }

    /// Runs `op` on a pooled connection, retrying a dropped connection a few
    /// times (about 5 s in all) before giving up with [`StoreError::Unreachable`].
    /// A broken connection is not reused: the pool's recycling check drops it.
    async fn with_retry<T, F, Fut>(&self, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut(deadpool_postgres::Object) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut tries = RETRIES.iter();
        loop {
            let result = match self.client().await {
                Ok(c) => op(c).await,
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.is_unreachable() => match tries.next() {
                    Some(ms) => tokio::time::sleep(Duration::from_millis(*ms)).await,
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }

    /// The schema version recorded in the database; 0 when it has none. Creates nothing.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        self.with_retry(|c| async move {
            let url = &self.url;
            let exists: bool = c
                .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
                .await
                .map_err(|e| pg_error(url, e))?
                .get(0);
            if !exists {
                return Ok(0);
            }
            let v: Option<i32> = c
                .query_one("SELECT max(version) FROM schema_version", &[])
                .await
                .map_err(|e| pg_error(url, e))?
                .get(0);
            Ok(i64::from(v.unwrap_or(0)))
        })
        .await
    }

    /// The newest schema version this tipsheet knows.
    pub fn known_version() -> i64 {
        MIGRATIONS.len() as i64
    }

    /// Applies the missing migrations, each with its `schema_version` row, in
    /// one transaction under an advisory lock (hosts starting together wait).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.with_retry(|mut c| async move {
            let url = &self.url;
            let e = |e| pg_error(url, e);
            let tx = c.transaction().await.map_err(e)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(e)?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_version (
                    version INTEGER PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )",
            )
            .await
            .map_err(e)?;
            let found: i64 = tx
                .query_one(
                    "SELECT COALESCE(max(version), 0)::int8 FROM schema_version",
                    &[],
                )
                .await
                .map_err(e)?
                .get(0);
            let known = Self::known_version();
            if found > known {
                return Err(StoreError::TooNew {
                    store: url.to_string(),
                    found,
                    known,
                });
            }
            for (i, m) in MIGRATIONS.iter().enumerate().skip(found as usize) {
                tx.batch_execute(m).await.map_err(e)?;
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[&((i + 1) as i32)],
                )
                .await
                .map_err(e)?;
            }
            tx.commit().await.map_err(e)
        })
        .await
    }

    // -- The ledger ---------------------------------------------------------

    /// All issues, oldest first.
    pub async fn issues(&self) -> Result<Vec<IssueRecord>, StoreError> {
        let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues ORDER BY slot");
        let sql = &sql;
        self.with_retry(|c| async move {
            let rows = c.query(sql.as_str(), &[]).await.map_err(|e| self.err(e))?;
            Ok(rows.iter().map(issue_row).collect())
        })
        .await
    }

    /// Every recorded issue's selection, for rotation.
    pub async fn history(&self) -> Result<Vec<PastIssue>, StoreError> {
        Ok(self
            .issues()
            .await?
            .into_iter()
            .map(|i| PastIssue {
                number: i.number,
                selection: i.selection,
            })
            .collect())
    }

    /// One issue by slot date.
    pub async fn issue(&self, date: NaiveDate) -> Result<Option<IssueRecord>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE slot = $1");
        let sql = &sql;
        self.with_retry(|c| async move {
            let row = c
                .query_opt(sql.as_str(), &[&slot])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.as_ref().map(issue_row))
        })
        .await
    }

    /// One issue by number.
    pub async fn issue_by_number(&self, number: u32) -> Result<Option<IssueRecord>, StoreError> {
        let sql =
            format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE number = $1 ORDER BY slot LIMIT 1");
        let n = number as i32;
        let sql = &sql;
        self.with_retry(|c| async move {
            let row = c
                .query_opt(sql.as_str(), &[&n])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.as_ref().map(issue_row))
        })
        .await
    }

    /// The rendered issue frozen with `slot`, if any.
    pub async fn rendered(&self, date: NaiveDate) -> Result<Option<Vec<u8>>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let row = c
                .query_opt("SELECT rendered FROM issues WHERE slot = $1", &[&slot])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
        })
        .await
    }

    /// Records an issue's selection (and rendered issue); no-op if the slot has one.
    pub async fn assemble(
        &self,
        date: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            insert_issue(&c, slot, number, selection, rendered)
                .await
                .map_err(|e| self.err(e))?;
            Ok(())
        })
        .await
    }

    /// Freezes the given recipient set and marks the issue `sending`, in one
    /// transaction; does nothing if the issue already left `assembled`.
    pub async fn freeze(
        &self,
        date: NaiveDate,
        recipients: &[(String, String, String)],
    ) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|mut c| async move {
            let e = |e| pg_error(&self.url, e);
            let tx = c.transaction().await.map_err(e)?;
            if !lock_assembled(&tx, slot).await.map_err(e)? {
                return Ok(0);
            }
            let at = now();
            let stmt = tx
                .prepare(
                    "INSERT INTO recipients (slot, email, address, name, status, updated_at)
                     VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING",
                )
                .await
                .map_err(e)?;
            let mut added = 0;
            for (key, address, name) in recipients {
                added += tx
                    .execute(&stmt, &[&slot, key, address, name, &at])
                    .await
                    .map_err(e)?;
            }
            mark_sending(&tx, slot).await.map_err(e)?;
            tx.commit().await.map_err(e)?;
            Ok(added)
        })
        .await
    }

    /// The first host to reach a slot freezes it: in one transaction the
    /// selection, the rendered issue, and every subscriber not suppressed.
    /// Every host, first or not, gets back what was frozen; `added` is `None`
    /// when another host (or an earlier run) froze it.
    pub async fn freeze_issue(
        &self,
        date: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: Option<&[u8]>,
    ) -> Result<FrozenIssue, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let added = self
            .with_retry(|mut c| async move {
                let e = |e| pg_error(&self.url, e);
                let tx = c.transaction().await.map_err(e)?;
                insert_issue(&tx, slot, number, selection, rendered)
                    .await
                    .map_err(e)?;
                if !lock_assembled(&tx, slot).await.map_err(e)? {
                    return Ok(None);
                }
                let added = tx
                    .execute(
                        "INSERT INTO recipients (slot, email, address, name, status, updated_at)
                         SELECT $1, s.email, s.address, s.name, 'pending', $2 FROM subscribers s
                         WHERE NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.email = s.email)
                         ON CONFLICT DO NOTHING",
                        &[&slot, &now()],
                    )
                    .await
                    .map_err(e)?;
                mark_sending(&tx, slot).await.map_err(e)?;
                tx.commit().await.map_err(e)?;
                Ok(Some(added))
            })
            .await?;
        let record = self
            .issue(date)
            .await?
            .ok_or_else(|| StoreError::Database {
                store: self.url.to_string(),
                detail: format!("issue `{slot}` vanished right after it was frozen"),
            })?;
        let rendered = self.rendered(date).await?;
        Ok(FrozenIssue {
            record,
            rendered,
            added,
        })
    }

    /// Recipients whose host's lease expired while they were in flight
    /// become `uncertain`; claims that expired before a row was handed out
    /// are simply released. Returns how many became uncertain.
    pub async fn recover(&self, date: NaiveDate) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let e = |e| pg_error(&self.url, e);
            let n = c
                .execute(
                    "UPDATE recipients SET status = 'uncertain', claimed_by = NULL,
                        lease_until = NULL, updated_at = $2
                     WHERE slot = $1 AND status = 'in_flight'
                       AND (lease_until IS NULL OR lease_until < now())",
                    &[&slot, &now()],
                )
                .await
                .map_err(e)?;
            c.execute(
                "UPDATE recipients SET claimed_by = NULL, lease_until = NULL
                 WHERE slot = $1 AND status <> 'in_flight' AND lease_until < now()",
                &[&slot],
            )
            .await
            .map_err(e)?;
            Ok(n)
        })
        .await
    }

    /// The next recipients with one of `statuses`, by key after `after`, at
    /// most `limit`: read only, claims ignored.
    pub async fn due(
        &self,
        date: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let statuses = names(statuses);
        let limit = limit.min(i64::MAX as usize) as i64;
        let sql = format!(
            "SELECT {RECIPIENT_COLUMNS} FROM recipients
             WHERE slot = $1 AND status = ANY($2) AND email > $3 ORDER BY email LIMIT $4"
        );
        let sql = &sql;
        let statuses = &statuses;
        self.with_retry(|c| async move {
            let rows = c
                .query(sql.as_str(), &[&slot, statuses, &after, &limit])
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().map(recipient_row).collect())
        })
        .await
    }

    /// Claims the next page of recipients with one of `statuses` (by key after
    /// `after`) that no other host holds a live lease on, under this host's
    /// lease. Rows locked by another host's claim in progress are skipped.
    pub async fn claim(
        &self,
        date: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let statuses = names(statuses);
        let limit = limit.min(i64::MAX as usize) as i64;
        let lease = self.lease_interval();
        let sql = format!(
            "WITH page AS (
                SELECT email FROM recipients
                WHERE slot = $1 AND status = ANY($2) AND email > $3
                  AND (lease_until IS NULL OR lease_until < now() OR claimed_by = $5)
                ORDER BY email LIMIT $4
                FOR UPDATE SKIP LOCKED
             )
             UPDATE recipients r SET claimed_by = $5, lease_until = now() + make_interval(secs => $6)
             FROM page WHERE r.slot = $1 AND r.email = page.email
             RETURNING {}",
            RECIPIENT_COLUMNS
                .split(", ")
                .map(|c| format!("r.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let sql = &sql;
        let statuses = &statuses;
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    sql.as_str(),
                    &[&slot, statuses, &after, &limit, &self.host, &lease],
                )
                .await
                .map_err(|e| self.err(e))?;
            let mut out: Vec<RecipientRecord> = rows.iter().map(recipient_row).collect();
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
        .await
    }

    /// Extends this host's leases on `slot`; returns how many rows it holds.
    pub async fn renew(&self, date: NaiveDate) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let lease = self.lease_interval();
        self.with_retry(|c| async move {
            c.execute(
                "UPDATE recipients SET lease_until = now() + make_interval(secs => $3)
                 WHERE slot = $1 AND claimed_by = $2 AND lease_until IS NOT NULL",
                &[&slot, &self.host, &lease],
            )
            .await
            .map_err(|e| self.err(e))
        })
        .await
    }

    /// Gives back this host's claims on rows not in flight (a clean stop).
    pub async fn release(&self, date: NaiveDate) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            c.execute(
                "UPDATE recipients SET claimed_by = NULL, lease_until = NULL
                 WHERE slot = $1 AND claimed_by = $2 AND status <> 'in_flight'",
                &[&slot, &self.host],
            )
            .await
            .map_err(|e| self.err(e))
        })
        .await
    }

    /// Open recipients (pending, uncertain or in flight) that another host
    /// holds a live lease on: work that may still come back to us.
    pub async fn held_by_others(&self, date: NaiveDate) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let r = c
                .query_one(
                    "SELECT COUNT(*) FROM recipients WHERE slot = $1
                       AND status IN ('pending', 'uncertain', 'in_flight', 'retrying')
                       AND claimed_by <> $2 AND lease_until >= now()",
                    &[&slot, &self.host],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(r.get::<_, i64>(0) as u64)
        })
        .await
    }

    /// Recipients of `slot` some host holds a live lease on (a send is running).
    pub async fn live_leases(&self, date: NaiveDate) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let r = c
                .query_one(
                    "SELECT COUNT(*) FROM recipients WHERE slot = $1 AND lease_until >= now()",
                    &[&slot],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(r.get::<_, i64>(0) as u64)
        })
        .await
    }

    /// Which of `keys` are suppressed now.
    pub async fn suppressed_among(
        &self,
        keys: &[&str],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        if keys.is_empty() {
            return Ok(Default::default());
        }
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT email FROM suppressions WHERE email = ANY($1)",
                    &[&keys],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    /// Marks `in_flight` keys in flight (under this host's lease) and records
    /// `outcomes`, in one transaction. A recorded outcome ends the claim.
    pub async fn commit(
        &self,
        date: NaiveDate,
        in_flight: &[&str],
        outcomes: &[Outcome],
    ) -> Result<(), StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        if in_flight.is_empty() && outcomes.is_empty() {
            return Ok(());
        }
        let lease = self.lease_interval();
        let keys: Vec<&str> = in_flight.to_vec();
        let keys = &keys;
        self.with_retry(|mut c| async move {
            let e = |e| pg_error(&self.url, e);
            let at = now();
            let tx = c.transaction().await.map_err(e)?;
            // Like the SQLite engine's `synchronous = NORMAL`: a commit that
            // returned survives this process dying; only a crash of the
            // database server can lose the last few hundred milliseconds,
            // and what it loses comes back as pending or uncertain (resent,
            // never lost). Imports, suppressions and sign-ups stay durable.
            tx.batch_execute("SET LOCAL synchronous_commit TO off")
                .await
                .map_err(e)?;
            if !keys.is_empty() {
                tx.execute(
                    "UPDATE recipients SET status = 'in_flight', updated_at = $3,
                        claimed_by = $4, lease_until = now() + make_interval(secs => $5)
                     WHERE slot = $1 AND email = ANY($2)",
                    &[&slot, keys, &at, &self.host, &lease],
                )
                .await
                .map_err(e)?;
            }
            if !outcomes.is_empty() {
                // One statement for the whole group: a round trip per row
                // would cost more than the sending.
                let keys: Vec<&str> = outcomes.iter().map(|o| o.key.as_str()).collect();
                let statuses: Vec<&str> = outcomes.iter().map(|o| o.status.as_str()).collect();
                let attempts: Vec<i32> = outcomes.iter().map(|o| o.attempts as i32).collect();
                let codes: Vec<Option<i32>> =
                    outcomes.iter().map(|o| o.code.map(i32::from)).collect();
                let replies: Vec<Option<&str>> =
                    outcomes.iter().map(|o| o.reply.as_deref()).collect();
                let ids: Vec<Option<&str>> =
                    outcomes.iter().map(|o| o.message_id.as_deref()).collect();
                tx.execute(
                    "UPDATE recipients r SET status = o.status, attempts = r.attempts + o.attempts,
                        last_code = COALESCE(o.code, r.last_code),
                        last_reply = COALESCE(o.reply, r.last_reply),
                        message_id = COALESCE(o.mid, r.message_id), updated_at = $8,
                        claimed_by = NULL, lease_until = NULL
                     FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[])
                        AS o(email, status, attempts, code, reply, mid)
                     WHERE r.slot = $1 AND r.email = o.email",
                    &[&slot, &keys, &statuses, &attempts, &codes, &replies, &ids, &at],
                )
                .await
                .map_err(e)?;
            }
            tx.commit().await.map_err(e)
        })
        .await
    }

    /// Counts by status for one issue.
    pub async fn counts(&self, date: NaiveDate) -> Result<Counts, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT status, COUNT(*) FROM recipients WHERE slot = $1 GROUP BY status",
                    &[&slot],
                )
                .await
                .map_err(|e| self.err(e))?;
            let mut by_status: Vec<(RecipientStatus, u64)> = rows
                .iter()
                .filter_map(|r| {
                    let s: String = r.get(0);
                    let n: i64 = r.get(1);
                    s.parse().ok().map(|s| (s, n as u64))
                })
                .collect();
            by_status.sort();
            Ok(Counts { by_status })
        })
        .await
    }

    /// Marks the issue `sent` when nobody is left open; returns its status.
    pub async fn finish(&self, date: NaiveDate) -> Result<IssueStatus, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        if self.counts(date).await?.open() == 0 {
            self.with_retry(|c| async move {
                c.execute(
                    "UPDATE issues SET status = 'sent', finished_at = COALESCE(finished_at, $2)
                     WHERE slot = $1 AND status = 'sending'",
                    &[&slot, &now()],
                )
                .await
                .map_err(|e| self.err(e))
            })
            .await?;
        }
        Ok(self
            .issue(date)
            .await?
            .map_or(IssueStatus::Assembled, |i| i.status))
    }

    // -- The list -----------------------------------------------------------

    /// Adds a subscriber, or refreshes the name and address of one already
    /// there (keeping the earliest known `subscribed_at`). Returns whether the
    /// row is new. Never touches suppressions.
    pub async fn add_subscriber(&self, s: &StoredSubscriber) -> Result<bool, StoreError> {
        self.with_retry(|c| async move {
            let row = c
                .query_one(
                    "INSERT INTO subscribers (email, address, name, subscribed_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (email) DO UPDATE SET address = EXCLUDED.address,
                        name = EXCLUDED.name,
                        subscribed_at = COALESCE(subscribers.subscribed_at, EXCLUDED.subscribed_at)
                     RETURNING (xmax = 0)",
                    &[&s.key, &s.address, &s.name, &s.subscribed_at],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.get(0))
        })
        .await
    }

    /// [`PgStore::add_subscriber`] for many rows in one statement (keys must
    /// be distinct). Returns how many rows are new.
    pub async fn add_subscribers(&self, rows: &[StoredSubscriber]) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        let dates: Vec<Option<&str>> = rows.iter().map(|r| r.subscribed_at.as_deref()).collect();
        let (keys, addresses, names, dates) = (&keys, &addresses, &names, &dates);
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "INSERT INTO subscribers (email, address, name, subscribed_at)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                     ON CONFLICT (email) DO UPDATE SET address = EXCLUDED.address,
                        name = EXCLUDED.name,
                        subscribed_at = COALESCE(subscribers.subscribed_at, EXCLUDED.subscribed_at)
                     RETURNING (xmax = 0)",
                    &[keys, addresses, names, dates],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().filter(|r| r.get::<_, bool>(0)).count() as u64)
        })
        .await
    }

    /// [`PgStore::suppress`] for many rows; returns how many are new.
    pub async fn suppress_all(&self, rows: &[StoredSuppression]) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
        let reasons: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
        let ats: Vec<&str> = rows.iter().map(|r| r.at.as_str()).collect();
        let (keys, addresses, reasons, ats) = (&keys, &addresses, &reasons, &ats);
        self.with_retry(|c| async move {
            c.execute(
                "INSERT INTO suppressions (email, address, reason, at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                 ON CONFLICT (email) DO NOTHING",
                &[keys, addresses, reasons, ats],
            )
            .await
            .map_err(|e| self.err(e))
        })
        .await
    }

    /// Every subscriber (suppressed ones included), by key.
    pub async fn subscribers(&self) -> Result<Vec<StoredSubscriber>, StoreError> {
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT email, address, name, subscribed_at FROM subscribers ORDER BY email",
                    &[],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows
                .iter()
                .map(|r| StoredSubscriber {
                    key: r.get(0),
                    address: r.get(1),
                    name: r.get(2),
                    subscribed_at: r.get(3),
                })
                .collect())
        })
        .await
    }

    /// (subscribers, of whom suppressed).
    pub async fn list_counts(&self) -> Result<(u64, u64), StoreError> {
        self.with_retry(|c| async move {
            let r = c
                .query_one(
                    "SELECT (SELECT COUNT(*) FROM subscribers),
                            (SELECT COUNT(*) FROM subscribers s
                             WHERE EXISTS (SELECT 1 FROM suppressions p WHERE p.email = s.email))",
                    &[],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok((r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64))
        })
        .await
    }

    /// Suppresses an address; an existing suppression keeps its reason and
    /// time. Returns whether it is new.
    pub async fn suppress(&self, s: &StoredSuppression) -> Result<bool, StoreError> {
        self.with_retry(|c| async move {
            c.execute(
                "INSERT INTO suppressions (email, address, reason, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (email) DO NOTHING",
                &[&s.key, &s.address, &s.reason, &s.at],
            )
            .await
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
        })
        .await
    }

    /// Lifts a suppression (the person asked to resubscribe). Returns whether there was one.
    pub async fn resubscribe(&self, key: &str) -> Result<bool, StoreError> {
        self.with_retry(|c| async move {
            c.execute("DELETE FROM suppressions WHERE email = $1", &[&key])
                .await
                .map(|n| n > 0)
                .map_err(|e| self.err(e))
        })
        .await
    }

    /// Whether a normalized address is suppressed.
    pub async fn is_suppressed(&self, key: &str) -> Result<bool, StoreError> {
        self.with_retry(|c| async move {
            c.query_opt("SELECT 1 FROM suppressions WHERE email = $1", &[&key])
                .await
                .map(|r| r.is_some())
                .map_err(|e| self.err(e))
        })
        .await
    }

    /// Every suppression, by key.
    pub async fn suppressions(&self) -> Result<Vec<StoredSuppression>, StoreError> {
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT email, address, reason, at FROM suppressions ORDER BY email",
                    &[],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows
                .iter()
                .map(|r| StoredSuppression {
                    key: r.get(0),
                    address: r.get(1),
                    reason: r.get(2),
                    at: r.get(3),
                })
                .collect())
        })
        .await
    }

    // -- Sign-up state --------------------------------------------------------

    /// Takes the right to send `key` a confirmation mail at `now` unless one
    /// was sent within `every`: one row per address, shared by every host.
    pub async fn claim_confirmation(
        &self,
        key: &str,
        now: chrono::DateTime<chrono::Utc>,
        every: chrono::TimeDelta,
    ) -> Result<bool, StoreError> {
        let since = now - every;
        self.with_retry(|c| async move {
            c.execute(
                "INSERT INTO confirmations (email, sent_at) VALUES ($1, $2)
                 ON CONFLICT (email) DO UPDATE SET sent_at = EXCLUDED.sent_at
                 WHERE confirmations.sent_at <= $3",
                &[&key, &now, &since],
            )
            .await
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
        })
        .await
    }

    /// Gives back a claim taken at `at` (the mail could not be sent).
    pub async fn release_confirmation(
        &self,
        key: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.with_retry(|c| async move {
            c.execute(
                "DELETE FROM confirmations WHERE email = $1 AND sent_at = $2",
                &[&key, &at],
            )
            .await
            .map(drop)
            .map_err(|e| self.err(e))
        })
        .await
    }

    fn lease_interval(&self) -> f64 {
        self.lease.as_secs_f64()
    }
}

/// What [`PgStore::freeze_issue`] found or made.
#[derive(Debug, Clone)]
pub struct FrozenIssue {
    /// The issue as stored (its selection is the one every host sends).
    pub record: IssueRecord,
    /// The rendered issue every host sends.
    pub rendered: Option<Vec<u8>>,
    /// Recipients frozen by this call; `None` if it was frozen before.
    pub added: Option<u64>,
}

async fn insert_issue<C: GenericClient>(
    c: &C,
    slot: &str,
    number: u32,
    selection: &Selection,
    rendered: Option<&[u8]>,
) -> Result<u64, tokio_postgres::Error> {
    c.execute(
        "INSERT INTO issues (slot, number, comparisons, tip, status, assembled_at, rendered)
         VALUES ($1, $2, $3, $4, 'assembled', $5, $6) ON CONFLICT (slot) DO NOTHING",
        &[
            &slot,
            &(number as i32),
            &selection.comparisons.join(","),
            &selection.tip,
            &now(),
            &rendered,
        ],
    )
    .await
}

/// Locks the issue row; whether it is still `assembled` (not yet frozen).
async fn lock_assembled<C: GenericClient>(
    c: &C,
    slot: &str,
) -> Result<bool, tokio_postgres::Error> {
    let row = c
        .query_opt(
            "SELECT status FROM issues WHERE slot = $1 FOR UPDATE",
            &[&slot],
        )
        .await?;
    Ok(row.is_some_and(|r| r.get::<_, String>(0) == "assembled"))
}

async fn mark_sending<C: GenericClient>(c: &C, slot: &str) -> Result<u64, tokio_postgres::Error> {
    c.execute(
        "UPDATE issues SET status = 'sending', started_at = $2 WHERE slot = $1",
        &[&slot, &now()],
    )
    .await
}

fn names(statuses: &[RecipientStatus]) -> Vec<&'static str> {
    statuses.iter().map(|s| s.as_str()).collect()
}

/// A slot date as the store keeps it: TEXT, `YYYY-MM-DD` (as in SQLite).
fn slot_key(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn issue_row(r: &Row) -> IssueRecord {
    let comparisons: String = r.get(2);
    let slot: String = r.get(0);
    IssueRecord {
        // Only tipsheet writes this column, always as `YYYY-MM-DD`.
        slot: NaiveDate::parse_from_str(&slot, "%Y-%m-%d").unwrap_or_default(),
        number: r.get::<_, i32>(1) as u32,
        selection: Selection {
            comparisons: comparisons
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            tip: r.get(3),
        },
        status: IssueStatus::parse(r.get(4)),
        assembled_at: r.get(5),
        started_at: r.get(6),
        finished_at: r.get(7),
    }
}

fn recipient_row(r: &Row) -> RecipientRecord {
    let status: String = r.get(3);
    RecipientRecord {
        key: r.get(0),
        address: r.get(1),
        name: r.get(2),
        status: status.parse().unwrap_or(RecipientStatus::Pending),
        attempts: r.get::<_, i32>(4) as u32,
        last_code: r.get::<_, Option<i32>>(5).map(|c| c as u16),
        last_reply: r.get(6),
        message_id: r.get(7),
        updated_at: r.get(8),
    }
}

/// Maps a driver error, telling a lost connection from an answer.
fn pg_error(url: &PostgresUrl, e: tokio_postgres::Error) -> StoreError {
    let detail = error_chain(&e);
    let lost = e.is_closed()
        || e.code().is_some_and(|c| {
            c.code().starts_with("08")
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        })
        || (e.as_db_error().is_none()
            && std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()));
    if lost {
        StoreError::Unreachable {
            store: url.to_string(),
            detail,
        }
    } else {
        StoreError::Database {
            store: url.to_string(),
            detail,
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Takes our own `sslrootcert=PATH` out of the URL (the driver does not know it).
fn split_root_cert(raw: &str) -> (String, Option<String>) {
    let Some((base, query)) = raw.split_once('?') else {
        return (raw.to_string(), None);
    };
    let mut cert = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("sslrootcert=") {
            Some(v) => {
                cert = Some(
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned(),
                );
                false
            }
            None => true,
        })
        .collect();
    if kept.is_empty() {
        (base.to_string(), cert)
    } else {
        (format!("{base}?{}", kept.join("&")), cert)
    }
}

/// rustls with ring and the webpki roots, plus an extra root from `sslrootcert`.
fn rustls_config(root_cert: Option<&str>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = root_cert {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read `sslrootcert` `{path}`: {e}"))?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut BufReader::new(&pem[..])) {
            let cert = cert.map_err(|e| format!("`sslrootcert` `{path}` is not PEM: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("`sslrootcert` `{path}`: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("`sslrootcert` `{path}` holds no certificate"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// `hostname:pid:nonce`: unique per process, readable in `claimed_by`.
fn host_id() -> String {
    let name = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "host".into());
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{name}:{}:{nonce:08x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_cert_is_ours_and_the_rest_goes_to_the_driver() {
        assert_eq!(
            split_root_cert("postgres://h/db?sslmode=require&sslrootcert=%2Fetc%2Fca.pem"),
            (
                "postgres://h/db?sslmode=require".into(),
                Some("/etc/ca.pem".into())
            )
        );
        assert_eq!(
            split_root_cert("postgres://h/db?sslrootcert=/ca.pem"),
            ("postgres://h/db".into(), Some("/ca.pem".into()))
        );
        assert_eq!(
            split_root_cert("postgres://h/db"),
            ("postgres://h/db".into(), None)
        );
    }

    #[test]
    fn tls_config_builds_with_ring_only() {
        assert!(rustls_config(None).is_ok());
        assert!(rustls_config(Some("/nonexistent/ca.pem")).is_err());
    }
}
