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
//!
//! This file holds the pool, the connection, the migrations and `PgStore`;
//! the queries are split by concern: `ledger.rs` (issues, freeze, commit),
//! `claim.rs` (leases, claiming, renew/release/recover), `list.rs`
//! (subscribers, suppressions, the confirmation limit), `privacy.rs` (one
//! reader's rows: gathering and erasing them) and `event.rs` (what came back:
//! inbound events and their consequences).

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
use crate::content::issue::Selection;
use crate::list::privacy::Keyer;

mod claim;
mod engine;
mod event;
mod ledger;
mod list;
mod privacy;

/// The migrations, in order: migration N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_shared_store.sql"),
    include_str!("../migrations/postgres/0002_events.sql"),
    include_str!("../migrations/postgres/0003_recipients_hot_updates.sql"),
    include_str!("../migrations/postgres/0004_failure_detail.sql"),
    include_str!("../migrations/postgres/0005_recipients_by_message_id.sql"),
    include_str!("../migrations/postgres/0006_webhook_tokens.sql"),
];

/// Serializes migrations when several hosts start at once (`pg_advisory_xact_lock`).
const MIGRATION_LOCK: i64 = 0x7469_7073_6865_6574; // "tipsheet"

/// How long one brief connection drop is retried before the store is lost.
const RETRIES: [u64; 5] = [100, 300, 700, 1500, 3000];

const ISSUE_COLUMNS: &str =
    "slot, number, comparisons, tip, status, assembled_at, started_at, finished_at";
const RECIPIENT_COLUMNS: &str =
    "email, address, name, status, attempts, last_code, last_reply, message_id, updated_at";

/// An open connection pool to the shared store (a clone shares the pool).
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// One connection for the send loop's group commits (see [`PgStore::new`]).
    writer: Pool,
    url: PostgresUrl,
    lease: Duration,
    host: String,
    /// Recognises erased readers' pseudonyms (`None` without a secret).
    keyer: Option<Keyer>,
}

impl PgStore {
    /// Builds the pools; connects lazily (the first call reaches the server).
    /// `password` fills in a URL that has none; `synchronous_commit` is
    /// `[store] synchronous_commit`: whether the group commits wait for the
    /// server's WAL flush (see [`PgStore::commit`]).
    pub fn new(
        url: &PostgresUrl,
        password: Option<&str>,
        lease: Duration,
        synchronous_commit: bool,
        keyer: Option<Keyer>,
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
        let tls = match config.get_ssl_mode() {
            SslMode::Require => Some(rustls_config(root_cert.as_deref()).map_err(bad)?),
            // `prefer` (the default) with no TLS connector connects in plain text.
            _ => None,
        };
        // The group commit's connection plans its one statement once. Left to
        // choose, PostgreSQL re-plans it at every execution (a custom plan
        // sees the arrays' lengths and so always looks cheaper than the
        // generic one), and planning was a fifth of the server's CPU a commit.
        // The generic plan is the same nested loop over the primary key.
        let mut writer = config.clone();
        let options = config
            .get_options()
            .map(|o| format!("{o} "))
            .unwrap_or_default();
        let flush = if synchronous_commit {
            ""
        } else {
            " -c synchronous_commit=off"
        };
        writer.options(format!(
            "{options}-c plan_cache_mode=force_generic_plan{flush}"
        ));
        let writer = build_pool(writer, tls.clone(), 1).map_err(bad)?;
        let pool = build_pool(config, tls, 8).map_err(bad)?;
        Ok(Self {
            pool,
            writer,
            url: url.clone(),
            lease,
            host: host_id(),
            keyer,
        })
    }

    /// The URL, password redacted.
    pub fn url(&self) -> &PostgresUrl {
        &self.url
    }

    /// What recognises erased readers' pseudonyms.
    pub(crate) fn keyer(&self) -> Option<&Keyer> {
        self.keyer.as_ref()
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

    /// Runs one `SELECT COUNT(*)`, retried like every call.
    async fn count(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.with_retry(|c| async move {
            let r = c.query_one(sql, params).await.map_err(|e| self.err(e))?;
            Ok(r.get::<_, i64>(0) as u64)
        })
        .await
    }

    /// Runs one statement, retried like every call; how many rows it touched.
    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.with_retry(|c| async move { c.execute(sql, params).await.map_err(|e| self.err(e)) })
            .await
    }

    /// Runs `op` on a connection of the main pool, retried (see [`PgStore::retrying`]).
    async fn with_retry<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnMut(deadpool_postgres::Object) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        self.retrying(&self.pool, op).await
    }

    /// [`PgStore::with_retry`] on the group commits' own connection.
    async fn with_writer<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnMut(deadpool_postgres::Object) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        self.retrying(&self.writer, op).await
    }

    /// Runs `op` on a connection from `pool`, retrying a dropped connection a
    /// few times (about 5 s in all) before giving up with
    /// [`StoreError::Unreachable`]. A broken connection is not reused: the
    /// pool's recycling check drops it.
    async fn retrying<T, F, Fut>(&self, pool: &Pool, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut(deadpool_postgres::Object) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut tries = RETRIES.iter();
        loop {
            let result = match pool.get().await {
                Ok(c) => op(c).await,
                Err(e) => Err(self.pool_err(e)),
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

    fn lease_interval(&self) -> f64 {
        self.lease.as_secs_f64()
    }
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
        selection: stored_selection(&comparisons, r.get(3)),
        status: IssueStatus::parse(r.get(4)),
        assembled_at: r.get(5),
        started_at: r.get(6),
        finished_at: r.get(7),
    }
}

/// A subscriber from a row whose first columns are `email, address, name,
/// subscribed_at`.
fn subscriber_row(r: &Row) -> StoredSubscriber {
    StoredSubscriber {
        key: r.get(0),
        address: r.get(1),
        name: r.get(2),
        subscribed_at: r.get(3),
    }
}

/// A suppression from a row whose first columns are `email, address, reason, at`.
fn suppression_row(r: &Row) -> StoredSuppression {
    StoredSuppression {
        key: r.get(0),
        address: r.get(1),
        reason: r.get(2),
        at: r.get(3),
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
/// A pool of at most `size` connections, TLS through rustls when given.
fn build_pool(
    config: tokio_postgres::Config,
    tls: Option<rustls::ClientConfig>,
    size: usize,
) -> Result<Pool, String> {
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match tls {
        Some(tls) => Manager::from_config(
            config,
            tokio_postgres_rustls::MakeRustlsConnect::new(tls),
            manager_config,
        ),
        None => Manager::from_config(config, NoTls, manager_config),
    };
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(10)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| e.to_string())
}

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
