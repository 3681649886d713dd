//! `/metrics` (Prometheus' text format, through `prometheus-client`) and
//! `/healthz?deep=1`, on `serve` and on `run`'s own small listener
//! (`[server] metrics_listen`).
//!
//! Owns the metric names and who may read them: the bearer credential of
//! `[server] metrics_token_env` or of the admin pages (`admin_token_env`);
//! without one, 401. The numbers come from the store at each scrape
//! ([`super::health::gather`]), so every host reports the same ledger and
//! `tipsheet status` agrees. Per-relay state and quota remaining are added
//! by [`relays`], the one hook for them.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::health::{Health, gather};
use crate::config::Config;
use crate::mail::token::same_secret;
use crate::schedule::clock::{Clock as _, WallClock};
use crate::store::Store;

/// What `/metrics` and `/healthz` need.
pub(crate) struct Metrics {
    config: Config,
    /// The credentials that open `/metrics` (metrics token, admin token).
    tokens: Vec<String>,
    /// The store; `run` opens it at the first scrape that finds a ledger.
    store: tokio::sync::Mutex<Option<Store>>,
    clock: WallClock,
}

impl Metrics {
    /// `store`: the server's own; `None` to open it to read when needed.
    pub(crate) fn new(config: &Config, store: Option<Store>, clock: WallClock) -> Self {
        let tokens = [
            &config.server.metrics_token_env,
            &config.server.admin_token_env,
        ]
        .into_iter()
        .filter_map(|env| std::env::var(env).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
        Self {
            config: config.clone(),
            tokens,
            store: tokio::sync::Mutex::new(store),
            clock,
        }
    }

    async fn health(&self) -> Health {
        let mut store = self.store.lock().await;
        if store.is_none() {
            match crate::plan::read_store(&self.config).await {
                Ok(s) => *store = s,
                Err(e) => {
                    return Health {
                        store_error: Some(e.to_string()),
                        ..Health::default()
                    };
                }
            }
        }
        gather(&self.config, store.as_ref(), self.clock.now()).await
    }

    fn allowed(&self, headers: &HeaderMap) -> bool {
        let given = super::app::bearer(headers);
        given.is_some_and(|g| self.tokens.iter().any(|t| same_secret(g, t)))
    }
}

/// `/metrics` and `/healthz` over `state`.
pub(crate) fn routes(state: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(state)
}

async fn metrics(State(m): State<Arc<Metrics>>, headers: HeaderMap) -> Response {
    if !m.allowed(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"tipsheet metrics\"")],
            "a bearer credential is required: the value of the variable `server.metrics_token_env` (or `server.admin_token_env`) names\n",
        )
            .into_response();
    }
    let health = m.health().await;
    let mut registry = registry(&health);
    let store = m.store.lock().await.clone();
    relays(&mut registry, &m.config, store.as_ref(), m.clock.now()).await;
    let mut body = String::new();
    if encode(&mut body, &registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct Deep {
    deep: Option<String>,
}

/// `ok`; with `?deep=1`, 503 and the reason when the store cannot be read
/// or the latest slot past its grace period was not sent.
async fn healthz(State(m): State<Arc<Metrics>>, Query(q): Query<Deep>) -> Response {
    if q.deep.as_deref() != Some("1") {
        return "ok".into_response();
    }
    match m.health().await.problem() {
        None => "ok".into_response(),
        Some(p) => (StatusCode::SERVICE_UNAVAILABLE, format!("{p}\n")).into_response(),
    }
}

/// Labels as `prometheus-client` takes them.
type Labels = Vec<(&'static str, String)>;

fn gauge_family(r: &mut Registry, name: &str, help: &str) -> Family<Labels, Gauge> {
    let f = Family::<Labels, Gauge>::default();
    r.register(name, help, f.clone());
    f
}

fn gauge(r: &mut Registry, name: &str, help: &str, v: i64) {
    let g = Gauge::<i64>::default();
    g.set(v);
    r.register(name, help, g);
}

fn float(r: &mut Registry, name: &str, help: &str, v: f64) {
    let g = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
    g.set(v);
    r.register(name, help, g);
}

fn timestamp(t: Option<chrono::DateTime<chrono::Utc>>) -> i64 {
    t.map_or(0, |t| t.timestamp())
}

/// The registry of one scrape.
pub(crate) fn registry(h: &Health) -> Registry {
    let mut r = Registry::with_prefix("tipsheet");
    gauge(
        &mut r,
        "store_up",
        "Whether the store could be read (1) or not (0)",
        i64::from(h.store_error.is_none()),
    );
    // Levels read from the store, not counters of this process: an erasure
    // or a restore can lower them (and `promtool` lints counters written
    // the OpenMetrics way).
    let messages = gauge_family(
        &mut r,
        "messages",
        "Recipients of every issue in the ledger, by status",
    );
    for (status, n) in &h.messages {
        messages
            .get_or_create(&vec![("status", status.to_string())])
            .set(*n as i64);
    }
    let events = gauge_family(
        &mut r,
        "inbound_events",
        "Mail and webhook reports recorded (bounces, complaints, unsubscribes and more), by kind",
    );
    for (kind, n) in &h.events {
        events
            .get_or_create(&vec![("kind", kind.to_string())])
            .set(*n as i64);
    }
    gauge(
        &mut r,
        "last_slot_sent_timestamp_seconds",
        "When the last slot whose issue is sent was due (Unix time; 0: none yet)",
        timestamp(h.last_sent_slot),
    );
    gauge(
        &mut r,
        "next_slot_timestamp_seconds",
        "When the next slot is due (Unix time; 0: the schedule has ended)",
        timestamp(h.next_slot),
    );
    gauge(
        &mut r,
        "slot_missed",
        "1 when the latest slot past its grace period is not sent",
        i64::from(h.missed.is_some()),
    );
    gauge(
        &mut r,
        "missed_slots",
        "Slots among the last twelve that passed their grace period unsent (as `tipsheet status` lists them)",
        h.missed_recent as i64,
    );
    gauge(
        &mut r,
        "feeds_failing",
        "Configured feeds whose last fetch failed (the console names them)",
        h.feeds_failing as i64,
    );
    let Some(c) = &h.current else {
        return r;
    };
    gauge_family(
        &mut r,
        "issue_number",
        "The latest recorded issue's number, labelled with its slot date",
    )
    .get_or_create(&vec![("slot", c.slot.to_string())])
    .set(i64::from(c.number));
    let recipients = gauge_family(
        &mut r,
        "issue_recipients",
        "The latest issue's recipients by status, as `tipsheet status` counts them",
    );
    for (status, n) in &c.counts {
        recipients
            .get_or_create(&vec![("status", status.to_string())])
            .set(*n as i64);
    }
    gauge(
        &mut r,
        "issue_pending",
        "The latest issue's recipients still pending",
        c.pending as i64,
    );
    let failures = gauge_family(
        &mut r,
        "issue_failures",
        "The latest issue's failed and bounced deliveries by reason and scope (address, mailbox, message, sender, transport)",
    );
    for ((reason, scope), n) in &c.failures {
        failures
            .get_or_create(&vec![("reason", reason.clone()), ("scope", scope.clone())])
            .set(*n as i64);
    }
    float(
        &mut r,
        "issue_complaint_rate",
        "The latest issue's complaints per delivered message (Gmail and Yahoo act near 0.003)",
        c.complaint_rate,
    );
    float(
        &mut r,
        "issue_bounce_rate",
        "The latest issue's bounces per attempted message",
        c.bounce_rate,
    );
    let paused = gauge_family(
        &mut r,
        "issue_paused_readers",
        "While the latest issue is being sent: the readers its last run left pending because a provider (or the relay) kept refusing for sender-level reasons",
    );
    for (provider, n) in &c.paused {
        paused
            .get_or_create(&vec![("provider", provider.clone())])
            .set(*n as i64);
    }
    if let Some(s) = c.send_seconds {
        float(
            &mut r,
            "issue_send_duration_seconds",
            "How long the latest issue took from its first send to its last recipient's final state",
            s,
        );
    }
    r
}

/// What the relays and the caps know: per relay, the latest issue's
/// messages it carried (from the ledger, the same on every host) and whether
/// it is in rotation as this process last saw it (the rotation lives in the
/// sending process); per cap in force, its size and what is left of it now
/// (from the store's counts, shared by every host).
pub(crate) async fn relays(
    registry: &mut Registry,
    config: &Config,
    store: Option<&Store>,
    now: chrono::DateTime<chrono::Utc>,
) {
    let seen = crate::delivery::last_seen();
    if !seen.is_empty() {
        let up = gauge_family(
            registry,
            "relay_up",
            "1 while a relay is in rotation, 0 while it backs off after failing everyone (as this process last saw it)",
        );
        let out = gauge_family(
            registry,
            "relay_taken_out",
            "Times a relay was taken out of rotation in this process's last send",
        );
        for u in &seen {
            let l = vec![("relay", u.name.clone())];
            up.get_or_create(&l).set(i64::from(!u.out));
            out.get_or_create(&l).set(i64::from(u.taken_out));
        }
    }
    let Some(store) = store else {
        return;
    };
    if let Ok(issues) = store.issues().await
        && let Some(latest) = issues.last()
        && let Ok(carried) = store.sent_by_relay(latest.slot).await
        && !carried.is_empty()
    {
        let f = gauge_family(
            registry,
            "relay_messages",
            "The latest issue's messages each relay carried, from the ledger",
        );
        for (relay, n) in carried {
            f.get_or_create(&vec![("relay", relay)]).set(n as i64);
        }
    }
    let Ok(schedule) = config.schedule() else {
        return;
    };
    let limits = crate::delivery::quota_limits(config, &schedule);
    let caps = crate::delivery::caps_in_force(&limits, now);
    if caps.is_empty() {
        return;
    }
    let cap = gauge_family(
        registry,
        "quota_cap",
        "Messages allowed in any window of this length (`[delivery]` max_per_hour, max_per_day, the warm-up step of today)",
    );
    let left = gauge_family(
        registry,
        "quota_remaining",
        "Messages the cap still allows now, counted in the store across runs and hosts",
    );
    let minute = crate::delivery::store_minute(now);
    for (window, w) in caps {
        let l = vec![("window", window.to_string())];
        cap.get_or_create(&l).set(w.cap as i64);
        if let Ok(used) = store.sends_within(minute, w).await {
            left.get_or_create(&l)
                .set(w.cap.saturating_sub(used) as i64);
        }
    }
}
