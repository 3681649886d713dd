//! What an operator's monitoring asks: is the store reachable, was the last
//! slot sent, and the ledger's numbers (the latest issue's recipients by
//! status, its failures by reason and scope, its complaint and bounce rates,
//! every issue's messages by status, the inbound events by kind), read from
//! the store each time so that they match `tipsheet status` on any host.
//!
//! Owns [`Health`] and [`gather`]; `/metrics` (`metrics.rs`) and
//! `/healthz?deep=1` show it. It only reads.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Config;
use crate::plan::slot_state;
use crate::store::{IssueStatus, PauseRecord, RecipientStatus, Store};

/// One reading of the store and the schedule.
#[derive(Debug, Default, Clone)]
pub(crate) struct Health {
    /// Why the store could not be read, when it could not.
    pub store_error: Option<String>,
    /// The latest recorded issue.
    pub current: Option<Current>,
    /// Every issue's recipients by status, summed.
    pub messages: BTreeMap<&'static str, u64>,
    /// Recorded inbound events by kind (every kind, zeros included).
    pub events: BTreeMap<&'static str, u64>,
    /// The last slot whose issue is sent.
    pub last_sent_slot: Option<DateTime<Utc>>,
    /// The next slot from now.
    pub next_slot: Option<DateTime<Utc>>,
    /// The latest slot past its grace period, when its issue is not sent.
    pub missed: Option<NaiveDate>,
    /// Slots among the last twelve past grace and never sent (as `status` lists them).
    pub missed_recent: u64,
    /// Configured feeds whose last fetch failed.
    pub feeds_failing: u64,
}

/// The latest recorded issue.
#[derive(Debug, Default, Clone)]
pub(crate) struct Current {
    pub number: u32,
    pub slot: NaiveDate,
    /// Recipients by status, as `status` shows them (in flight counted as
    /// uncertain unless a send is running).
    pub counts: Vec<(&'static str, u64)>,
    pub pending: u64,
    /// Failures by (reason, scope): the session's refusals and the inbound
    /// `failure` events, every provider summed.
    pub failures: BTreeMap<(String, String), u64>,
    pub complaint_rate: f64,
    pub bounce_rate: f64,
    /// Seconds from the first send's start to the last recipient's final
    /// state, once sent.
    pub send_seconds: Option<f64>,
    /// While it is still being sent: the readers its last run left pending
    /// by paused provider (`relay` for the relay itself).
    pub paused: BTreeMap<String, u64>,
}

impl Health {
    /// Why `/healthz?deep=1` fails, if it does.
    pub(crate) fn problem(&self) -> Option<String> {
        if let Some(e) = &self.store_error {
            return Some(format!("store unreachable: {e}"));
        }
        self.missed.map(|d| {
            format!("slot {d} was missed: its grace period passed and its issue is not sent (`tipsheet send --date {d}` sends it)")
        })
    }
}

/// Reads the store (`None`: nothing recorded yet) and the schedule at `now`.
pub(crate) async fn gather(config: &Config, store: Option<&Store>, now: DateTime<Utc>) -> Health {
    let mut h = Health {
        events: crate::store::EventKind::ALL
            .iter()
            .map(|k| (k.as_str(), 0))
            .collect(),
        ..Health::default()
    };
    let schedule = match config.schedule() {
        Ok(s) => s,
        Err(e) => {
            h.store_error = Some(e.to_string());
            return h;
        }
    };
    h.next_slot = schedule.slots_from(now).next().map(|s| s.utc);
    let mut sent: BTreeMap<NaiveDate, IssueStatus> = BTreeMap::new();
    if let Some(store) = store
        && let Err(e) = read(store, &schedule, &mut h, &mut sent).await
    {
        h.store_error = Some(e.to_string());
        return h;
    }
    if let Some(store) = store {
        let feeds = &config.content.feeds;
        match store.feed_outcomes().await {
            Ok(outcomes) => {
                h.feeds_failing = outcomes
                    .iter()
                    .filter(|f| f.error.is_some() && feeds.iter().any(|c| c.url == f.url))
                    .count() as u64;
            }
            Err(e) => {
                h.store_error = Some(e.to_string());
                return h;
            }
        }
    }
    let past: Vec<_> = schedule
        .slots_before(now, 12)
        .into_iter()
        .filter(|s| slot_state(&schedule, s, sent.get(&s.date).copied(), now) == "missed")
        .collect();
    h.missed_recent = past.iter().filter(|s| !sent.contains_key(&s.date)).count() as u64;
    // Only the latest slot past grace decides: an old miss sent since, or
    // followed by a slot sent on time, no longer pages anyone.
    let latest_past = schedule
        .slots_before(now, 12)
        .into_iter()
        .filter(|s| s.utc + schedule.grace() <= now)
        .max_by_key(|s| s.utc);
    h.missed = latest_past
        .filter(|s| sent.get(&s.date) != Some(&IssueStatus::Sent))
        .map(|s| s.date);
    h
}

async fn read(
    store: &Store,
    schedule: &crate::schedule::Schedule,
    h: &mut Health,
    statuses: &mut BTreeMap<NaiveDate, IssueStatus>,
) -> Result<(), crate::error::Error> {
    let snapshot = store.snapshot(None).await?;
    let issues = snapshot.issues()?;
    for i in &issues {
        statuses.insert(i.slot, i.status);
        let mut counts = snapshot.counts(i.slot)?;
        if !snapshot.sending() {
            counts.fold_in_flight();
        }
        for (s, n) in &counts.by_status {
            *h.messages.entry(s.as_str()).or_default() += n;
        }
        if i.status == IssueStatus::Sent
            && let Some(slot) = schedule.slot_on(i.slot)
        {
            h.last_sent_slot = h.last_sent_slot.max(Some(slot.utc));
        }
    }
    for (kind, n) in store.event_totals().await? {
        *h.events.entry(kind.as_str()).or_default() += n;
    }

    let Some(latest) = issues.iter().max_by_key(|i| i.slot) else {
        return Ok(());
    };
    let mut counts = snapshot.counts(latest.slot)?;
    if !snapshot.sending() {
        counts.fold_in_flight();
    }
    let fb = crate::inbound::report::issue(&**store, latest.slot).await?;
    let refused = store
        .recipients(
            latest.slot,
            &[RecipientStatus::Failed, RecipientStatus::Bounced],
        )
        .await?;
    let mut failures = BTreeMap::new();
    for (reason, scope, _, n) in crate::delivery::merged_failures(&fb.failures, &refused) {
        *failures.entry((reason, scope)).or_default() += n;
    }
    let seconds = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    };
    h.current = Some(Current {
        number: latest.number,
        slot: latest.slot,
        counts: counts
            .by_status
            .iter()
            .map(|(s, n)| (s.as_str(), *n))
            .collect(),
        pending: counts.get(RecipientStatus::Pending),
        failures,
        complaint_rate: fb.complaint_rate,
        bounce_rate: fb.bounce_rate,
        send_seconds: match (seconds(&latest.started_at), seconds(&latest.finished_at)) {
            (Some(a), Some(b)) => Some((b - a).as_seconds_f64().max(0.0)),
            _ => None,
        },
        paused: if latest.status == IssueStatus::Sending {
            last_run_pauses(store, latest.slot).await?
        } else {
            BTreeMap::new()
        },
    });
    Ok(())
}

/// The readers the issue's last run left pending, by paused provider.
async fn last_run_pauses(
    store: &Store,
    slot: NaiveDate,
) -> Result<BTreeMap<String, u64>, crate::error::Error> {
    let pauses = store.pauses(slot).await?;
    let mut out = BTreeMap::new();
    for p in PauseRecord::last_run(&pauses) {
        let provider = p.provider.clone().unwrap_or_else(|| "relay".into());
        *out.entry(provider).or_default() += p.left;
    }
    Ok(out)
}
