//! The shared engine's connection: [`PgStore`], its two pools (tokio-postgres
//! with deadpool, TLS through rustls), retrying a dropped connection, and
//! telling a lost connection from an answer ([`pg_error`]).
//!
//! Owns connecting and retrying. It must not hold queries: the files by
//! concern do, on the connections it hands out.

use std::io::BufReader;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;

use crate::list::keyer::Keyer;
use crate::store::error::StoreError;
use crate::store::url::PostgresUrl;

/// How long one brief connection drop is retried before the store is lost.
const RETRIES: [u64; 5] = [100, 300, 700, 1500, 3000];

/// An open connection pool to the shared store (a clone shares the pool).
#[derive(Clone)]
pub(crate) struct PgStore {
    pub(super) pool: Pool,
    /// One connection for the send loop's group commits (see [`PgStore::new`]).
    pub(super) writer: Pool,
    pub(super) url: PostgresUrl,
    pub(super) lease: Duration,
    pub(super) host: String,
    /// Recognises erased readers' pseudonyms (`None` without a secret).
    pub(super) keyer: Option<Keyer>,
}

impl PgStore {
    /// Builds the pools; connects lazily (the first call reaches the server).
    /// `password` fills in a URL that has none; `synchronous_commit` is
    /// `[store] synchronous_commit`: whether the group commits wait for the
    /// server's WAL flush (see [`PgStore::commit`]).
    pub(crate) fn new(
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
    pub(crate) fn url(&self) -> &PostgresUrl {
        &self.url
    }

    /// What recognises erased readers' pseudonyms.
    pub(crate) fn keyer(&self) -> Option<&Keyer> {
        self.keyer.as_ref()
    }

    /// The lease a claim holds.
    pub(crate) fn lease(&self) -> Duration {
        self.lease
    }

    pub(super) fn err(&self, e: tokio_postgres::Error) -> StoreError {
        pg_error(&self.url, e)
    }

    pub(super) fn pool_err(&self, e: PoolError) -> StoreError {
        match e {
            PoolError::Backend(e) => self.err(e),
            other => StoreError::Unreachable {
                store: self.url.to_string(),
                detail: other.to_string(),
            },
        }
    }

    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| self.pool_err(e))
    }

    /// Runs one `SELECT COUNT(*)`, retried like every call.
    pub(super) async fn count(
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
    pub(super) async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.with_retry(|c| async move { c.execute(sql, params).await.map_err(|e| self.err(e)) })
            .await
    }

    /// Runs `op` on a connection of the main pool, retried (see [`PgStore::retrying`]).
    pub(super) async fn with_retry<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnMut(deadpool_postgres::Object) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        self.retrying(&self.pool, op).await
    }

    /// [`PgStore::with_retry`] on the group commits' own connection.
    pub(super) async fn with_writer<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
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
    pub(super) async fn retrying<T, F, Fut>(&self, pool: &Pool, mut op: F) -> Result<T, StoreError>
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

    pub(super) fn lease_interval(&self) -> f64 {
        self.lease.as_secs_f64()
    }
}

/// Maps a driver error, telling a lost connection from an answer.
pub(super) fn pg_error(url: &PostgresUrl, e: tokio_postgres::Error) -> StoreError {
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
    use super::{rustls_config, split_root_cert};

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
