//! The send in progress: its counts (sent, pending, failed), its rate and
//! the time left, for the dashboard's first paint and then pushed every two
//! seconds as server-sent events (`GET /admin/events`), read by the one
//! script the console serves (`/admin/static/live.js`, same origin only).
//! Without JavaScript the page refreshes itself while a send runs.
//!
//! Owns the progress arithmetic, the event stream and the one reader
//! ([`Ticker`]) every stream shares. Reads only.

use std::convert::Infallible;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use super::Console;
use super::guard::admit;
use crate::store::{Counts, IssueRecord, IssueStatus, RecipientStatus, Role, Store};

/// How often the stream sends.
const EVERY: Duration = Duration::from_secs(2);

/// One issue's progress.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Progress {
    pub(crate) number: u32,
    pub(crate) date: String,
    pub(crate) total: u64,
    /// In a final state (sent, failed, bounced, skipped).
    pub(crate) done: u64,
    pub(crate) sent: u64,
    pub(crate) pending: u64,
    pub(crate) failed: u64,
    /// Messages a second, as shown.
    pub(crate) rate: String,
    /// Time left at that rate, as shown.
    pub(crate) eta: String,
    /// The issue left `sending`.
    pub(crate) finished: bool,
}

/// "3 min 20 s", "45 s", "1 h 05 min".
fn duration_text(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// The progress of `issue` from `counts`, at `per_second` messages a second.
pub(crate) fn progress(issue: &IssueRecord, counts: &Counts, per_second: Option<f64>) -> Progress {
    let get = |s| counts.get(s);
    let pending = get(RecipientStatus::Pending)
        + get(RecipientStatus::InFlight)
        + get(RecipientStatus::Retrying)
        + get(RecipientStatus::Uncertain);
    let total = counts.total();
    let (rate, eta) = match per_second {
        Some(r) if r > 0.0 => (
            format!("{r:.1}/s"),
            if pending == 0 {
                "done".into()
            } else {
                duration_text(pending as f64 / r)
            },
        ),
        _ => (
            "–".into(),
            if pending == 0 {
                "done".into()
            } else {
                "–".into()
            },
        ),
    };
    Progress {
        number: issue.number,
        date: issue.slot.to_string(),
        total,
        done: total - pending,
        sent: get(RecipientStatus::Sent),
        pending,
        failed: get(RecipientStatus::Failed) + get(RecipientStatus::Bounced),
        rate,
        eta,
        finished: issue.status != IssueStatus::Sending,
    }
}

/// The average rate since the send started (the first paint's estimate).
pub(crate) fn rate_since_start(issue: &IssueRecord, done: u64, now: DateTime<Utc>) -> Option<f64> {
    let started = DateTime::parse_from_rfc3339(issue.started_at.as_deref()?).ok()?;
    let seconds = (now - started.with_timezone(&Utc)).num_milliseconds() as f64 / 1000.0;
    (seconds > 0.2).then(|| done as f64 / seconds)
}

/// The issue being sent (the oldest in `sending`), if any.
pub(crate) async fn sending_issue(store: &Store) -> Option<IssueRecord> {
    store
        .issues()
        .await
        .ok()?
        .into_iter()
        .find(|i| i.status == IssueStatus::Sending)
}

/// One reading of the send in progress, as the streams send it.
#[derive(Debug, Clone)]
struct Reading {
    /// `progress` or `idle`.
    kind: &'static str,
    data: String,
}

/// The one reader of the store behind every open stream: however many
/// viewers watch a send, the store is asked once every [`EVERY`], and not
/// at all while nobody watches.
pub(crate) struct Ticker {
    tx: watch::Sender<Option<Reading>>,
    wake: Arc<Notify>,
    started: Once,
}

impl Ticker {
    pub(crate) fn new() -> Self {
        Ticker {
            tx: watch::Sender::new(None),
            wake: Arc::new(Notify::new()),
            started: Once::new(),
        }
    }

    /// A new viewer's receiver; starts the reader on the first.
    fn subscribe(&self, store: &Store) -> watch::Receiver<Option<Reading>> {
        let mut rx = self.tx.subscribe();
        rx.mark_changed();
        self.started.call_once(|| {
            tokio::spawn(tick(self.tx.clone(), self.wake.clone(), store.clone()));
        });
        self.wake.notify_one();
        rx
    }
}

/// Reads the progress every [`EVERY`] while anyone watches; forgets the
/// last reading and waits for a viewer otherwise.
async fn tick(tx: watch::Sender<Option<Reading>>, wake: Arc<Notify>, store: Store) {
    // (the issue's date, messages done, when) of the previous reading.
    let mut last: Option<(chrono::NaiveDate, u64, Instant)> = None;
    loop {
        if tx.receiver_count() == 0 {
            tx.send_replace(None);
            last = None;
            wake.notified().await;
            continue;
        }
        let (reading, next) = read(&store, last).await;
        last = next;
        tx.send_replace(Some(reading));
        tokio::time::sleep(EVERY).await;
    }
}

/// One reading, and what the next one computes its rate from.
async fn read(
    store: &Store,
    last: Option<(chrono::NaiveDate, u64, Instant)>,
) -> (Reading, Option<(chrono::NaiveDate, u64, Instant)>) {
    let Some(issue) = sending_issue(store).await else {
        let idle = Reading {
            kind: "idle",
            data: "{}".into(),
        };
        return (idle, None);
    };
    let counts = store.counts(issue.slot).await.unwrap_or_default();
    let now = Instant::now();
    let done = counts.total()
        - counts.get(RecipientStatus::Pending)
        - counts.get(RecipientStatus::InFlight)
        - counts.get(RecipientStatus::Retrying)
        - counts.get(RecipientStatus::Uncertain);
    let rate = match last {
        Some((slot, before, at)) if slot == issue.slot && now > at => {
            Some((done.saturating_sub(before)) as f64 / (now - at).as_secs_f64())
        }
        _ => rate_since_start(&issue, done, Utc::now()),
    };
    let p = progress(&issue, &counts, rate);
    let reading = Reading {
        kind: "progress",
        data: serde_json::to_string(&p).unwrap_or_default(),
    };
    (reading, Some((issue.slot, done, now)))
}

/// GET `/admin/events`: progress every two seconds while a send runs, the
/// same reading for every viewer.
pub(super) async fn events(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if let Err(refused) = admit(&c, &headers, Role::Viewer).await {
        return refused;
    }
    let rx = c.live.subscribe(&c.app.store);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            rx.changed().await.ok()?;
            let reading = rx.borrow_and_update().clone();
            if let Some(r) = reading {
                let event = Event::default().event(r.kind).data(r.data);
                return Some((Ok::<_, Infallible>(event), rx));
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The script that reads the stream (the only one the console runs).
const LIVE_JS: &str = r#"(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box || !window.EventSource) { return; }
  var source = new EventSource("/admin/events");
  var set = function (id, text) { var el = document.getElementById(id); if (el) { el.textContent = text; } };
  source.addEventListener("progress", function (e) {
    var p = JSON.parse(e.data);
    set("live-sent", p.sent); set("live-pending", p.pending); set("live-failed", p.failed);
    set("live-rate", p.rate); set("live-eta", p.eta);
    var bar = document.getElementById("live-bar");
    if (bar) { bar.max = p.total; bar.value = p.done; }
    if (p.finished) { set("live-state", "finished; reload for the totals"); source.close(); }
  });
  source.addEventListener("idle", function () { set("live-state", "finished; reload for the totals"); source.close(); });
})();
"#;

/// GET `/admin/static/live.js`.
pub(super) async fn script() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        LIVE_JS,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::duration_text;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_text(0.2), "0 s");
        assert_eq!(duration_text(45.0), "45 s");
        assert_eq!(duration_text(200.0), "3 min 20 s");
        assert_eq!(duration_text(3900.0), "1 h 05 min");
    }
}
