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
//! This file holds the migrations; `pool.rs` holds `PgStore`, its pools
//! and the retries, `rows.rs` the column lists and row mappers, and the
//! queries are split by concern: `ledger.rs` (issues, freeze, commit),
//! `claim.rs` (leases, claiming, renew/release/recover), `list.rs`
//! (subscribers, suppressions, spent links), `limits.rs` (the sign-up
//! limits), `reader_rows.rs` (one
//! reader's rows: gathering and erasing them) and `event.rs` (what came back:
//! inbound events and their consequences), `quota.rs` (the caps' send
//! counts, reserved under an advisory lock), `cap_stop.rs` (when a send a
//! cap stopped may continue); `engine.rs` maps the store
//! traits onto them. No file here imports this one.

mod accounts;
mod approvals;
mod cap_stop;
mod claim;
mod engine;
mod event;
mod feeds;
mod hold;
mod ledger;
mod limits;
mod list;
mod pause;
mod pool;
mod quota;
mod reader_rows;
mod rows;
mod tallies;

pub(super) use pool::PgStore;
use pool::pg_error;

use crate::store::error::StoreError;

/// The migrations, in order: migration N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_shared_store.sql"),
    include_str!("../migrations/postgres/0002_events.sql"),
    include_str!("../migrations/postgres/0003_recipients_hot_updates.sql"),
    include_str!("../migrations/postgres/0004_failure_detail.sql"),
    include_str!("../migrations/postgres/0005_recipients_by_message_id.sql"),
    include_str!("../migrations/postgres/0006_webhook_tokens.sql"),
    include_str!("../migrations/postgres/0007_feeds.sql"),
    include_str!("../migrations/postgres/0008_spent_confirmations.sql"),
    include_str!("../migrations/postgres/0009_holds.sql"),
    include_str!("../migrations/postgres/0010_approvals.sql"),
    include_str!("../migrations/postgres/0011_rate_limits.sql"),
    include_str!("../migrations/postgres/0012_quotas_and_relays.sql"),
    include_str!("../migrations/postgres/0013_console.sql"),
    include_str!("../migrations/postgres/0014_pauses_and_feed_outcomes.sql"),
    include_str!("../migrations/postgres/0015_continue_at.sql"),
];

/// Serializes migrations when several hosts start at once (`pg_advisory_xact_lock`).
const MIGRATION_LOCK: i64 = 0x7469_7073_6865_6574; // "tipsheet"

impl PgStore {
    /// The schema version recorded in the database; 0 when it has none. Creates nothing.
    pub(crate) async fn schema_version(&self) -> Result<i64, StoreError> {
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
    pub(crate) fn known_version() -> i64 {
        MIGRATIONS.len() as i64
    }

    /// Applies the missing migrations, each with its `schema_version` row, in
    /// one transaction under an advisory lock (hosts starting together wait).
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
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
}
