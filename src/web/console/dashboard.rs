//! `GET /admin`: the next issue (its number, slot, state, what it features
//! and why, the buttons the role allows), the send in progress, the last
//! twelve issues as a table and as charts, and the warnings worth acting on
//! (missed slots, providers paused and stopped sends, rates over their
//! lines, feeds whose last fetch failed: the pauses and the feeds' outcomes
//! as the store keeps them).
//!
//! Owns gathering and showing these. Counts come from the store's tallies
//! (aggregates, kept for sent issues); the next issue's choice and its
//! reasons are `plan`'s and `content`'s, as `preview` shows them.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use super::Console;
use super::charts::{self, Point};
use super::guard::admit;
use super::live::{Progress, progress, rate_since_start};
use super::pages::{Frame, problem, render, shown};
use crate::content::issue::why;
use crate::editorial::{self, ApprovalState};
use crate::inbound::report::{BOUNCE_WARN, COMPLAINT_WARN, rates};
use crate::plan;
use crate::schedule::clock::Clock as _;
use crate::store::{
    EventKind, IssueRecord, IssueStatus, PauseRecord, RecipientStatus, Role, Snapshot, StoreError,
};
use crate::web::app::App;

/// How many past issues the table and the charts show.
const RECENT: usize = 12;

/// The next issue, as shown.
pub(crate) struct NextIssue {
    pub(crate) number: u32,
    pub(crate) date: String,
    pub(crate) local: String,
    pub(crate) utc: String,
    /// The state's words, and its style.
    pub(crate) state: String,
    pub(crate) class: &'static str,
    pub(crate) held: bool,
    pub(crate) hold_detail: String,
    /// (title, slug, why).
    pub(crate) featured: Vec<(String, String, String)>,
    pub(crate) tip: String,
    pub(crate) frozen: bool,
}

/// One row of the recent issues' table.
pub(crate) struct Row {
    pub(crate) number: u32,
    pub(crate) date: String,
    pub(crate) state: &'static str,
    pub(crate) recipients: u64,
    pub(crate) delivered: u64,
    pub(crate) bounced: u64,
    pub(crate) failed: u64,
    pub(crate) complaints: u64,
    pub(crate) unsubscribes: u64,
    pub(crate) bounce_rate: String,
    pub(crate) complaint_rate: String,
    pub(crate) unsubscribe_rate: String,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    frame: Frame,
    next: Option<NextIssue>,
    next_error: String,
    sending: Option<Progress>,
    rows: Vec<Row>,
    delivered_svg: String,
    rates_svg: String,
    warnings: Vec<String>,
}

fn percent(r: f64) -> String {
    format!("{:.2}%", r * 100.0)
}

/// The next issue: the slot `preview` would show, its state and selection.
async fn next_issue(
    c: &Console,
    issues: &[IssueRecord],
    now: DateTime<Utc>,
) -> Result<NextIssue, String> {
    let config = &c.app.config;
    let schedule = config.schedule().map_err(|e| e.to_string())?;
    let snapshot = Snapshot::of_issues(issues.to_vec());
    let slot = plan::next_slot(&schedule, Some(&snapshot), now).map_err(|e| e.to_string())?;
    let (library, _) = plan::load_content(config).map_err(|e| e.to_string())?;
    let (issue, frozen) =
        plan::choose(config, &library, Some(&snapshot), slot.clone()).map_err(|e| e.to_string())?;
    let history: Vec<_> = snapshot
        .history()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|p| p.number != issue.number())
        .collect();
    let reasons = why(&library, &history, issue.number(), &issue.selection);
    let store = &c.app.store;
    let hold = editorial::hold_of(store, slot.date)
        .await
        .map_err(|e| e.to_string())?;
    let approval = editorial::approval_state(store, config, slot.date)
        .await
        .map_err(|e| e.to_string())?;
    let record = issues.iter().find(|i| i.slot == slot.date);
    let (state, class) = match (&hold, record.map(|r| r.status), approval) {
        (Some(_), _, _) => ("on hold".to_string(), "hold"),
        (None, Some(IssueStatus::Sending), _) => ("sending".into(), "sending"),
        (None, Some(IssueStatus::Sent), _) => ("sent".into(), "sent"),
        (None, _, ApprovalState::Approved(a)) => {
            (format!("approved by {} at {}", a.by, a.at), "approved")
        }
        (None, _, ApprovalState::Awaiting { last: None }) => {
            ("awaiting approval".into(), "awaiting")
        }
        (None, _, ApprovalState::Awaiting { last: Some(a) }) => (
            format!("awaiting approval (changed since {} approved it)", a.by),
            "awaiting",
        ),
        (None, None, ApprovalState::NotRequired) => ("not yet assembled".into(), "assembled"),
        (None, Some(_), ApprovalState::NotRequired) => {
            ("assembled, not sent yet".into(), "assembled")
        }
    };
    Ok(NextIssue {
        number: issue.number(),
        date: slot.date.to_string(),
        local: format!(
            "{} {}",
            slot.local.format("%a %Y-%m-%d %H:%M"),
            schedule.timezone()
        ),
        utc: slot.utc.format("%Y-%m-%d %H:%M UTC").to_string(),
        state,
        class,
        held: hold.is_some(),
        hold_detail: hold
            .map(|h| {
                format!(
                    "since {}{}",
                    h.at,
                    h.reason.map(|r| format!(": {r}")).unwrap_or_default()
                )
            })
            .unwrap_or_default(),
        featured: issue
            .comparisons
            .iter()
            .zip(reasons)
            .map(|(c, w)| (c.meta.title.clone(), c.meta.slug.clone(), w.to_string()))
            .collect(),
        tip: issue.tip.meta.title.clone(),
        frozen,
    })
}

/// The last twelve issues' rows and chart points, counted by the store.
async fn recent(c: &Console, issues: &[IssueRecord]) -> Result<(Vec<Row>, Vec<Point>), StoreError> {
    let last: Vec<&IssueRecord> = issues.iter().rev().take(RECENT).rev().collect();
    let slots: Vec<NaiveDate> = last.iter().map(|i| i.slot).collect();
    let tallies = c.app.store.tallies(&slots).await?;
    let kinds = c.app.store.event_tallies(&slots).await?;
    let mut rows = Vec::new();
    let mut points = Vec::new();
    for ((issue, counts), kinds) in last.iter().zip(&tallies).zip(&kinds) {
        let r = rates(counts, kinds);
        let kind = |k| kinds.iter().find(|(x, _)| *x == k).map_or(0, |(_, n)| *n);
        rows.push(Row {
            number: issue.number,
            date: issue.slot.to_string(),
            state: match issue.status {
                IssueStatus::Assembled => "assembled",
                IssueStatus::Sending => "sending",
                IssueStatus::Sent => "sent",
            },
            recipients: counts.total(),
            delivered: counts.get(RecipientStatus::Sent),
            bounced: counts.get(RecipientStatus::Bounced),
            failed: counts.get(RecipientStatus::Failed),
            complaints: kind(EventKind::Complaint),
            unsubscribes: kind(EventKind::Unsubscribe),
            bounce_rate: percent(r.bounce),
            complaint_rate: percent(r.complaint),
            unsubscribe_rate: percent(r.unsubscribe),
        });
        if issue.status != IssueStatus::Assembled {
            points.push(Point {
                number: issue.number,
                delivered: counts.get(RecipientStatus::Sent),
                bounce: r.bounce,
                complaint: r.complaint,
                unsubscribe: r.unsubscribe,
            });
        }
    }
    Ok((rows, points))
}

/// What is worth acting on: missed slots, providers paused and sends that
/// stopped with readers left, rates over their thresholds, feeds whose last
/// fetch failed.
async fn warnings(
    c: &Console,
    issues: &[IssueRecord],
    rows: &[Row],
    points: &[Point],
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(schedule) = c.app.config.schedule() {
        for s in schedule.slots_before(now, RECENT) {
            if !issues.iter().any(|i| i.slot == s.date)
                && plan::slot_state(&schedule, &s, None, now) == "missed"
            {
                out.push(format!(
                    "Issue #{} of {} missed its slot: it was never sent (`tipsheet send --date {}` sends it on purpose).",
                    s.number, s.date, s.date
                ));
            }
        }
    }
    let mut told = Vec::new();
    let capped = c.app.store.capped().await.unwrap_or_default();
    for i in issues.iter().filter(|i| i.status == IssueStatus::Sending) {
        let running = c.app.store.sending(Some(i.slot)).await.unwrap_or(false);
        if running {
            continue;
        }
        let open = rows
            .iter()
            .find(|r| r.number == i.number)
            .map_or(0, |r| r.recipients - r.delivered - r.bounced - r.failed);
        // Stopped at a cap: it goes on by itself at its time.
        let at_cap = capped.iter().find(|(d, _)| *d == i.slot).map(|(_, at)| at);
        if let Some(at) = at_cap {
            out.push(format!(
                "Issue #{} of {} stopped at a sending cap with {open} readers not mailed yet; it continues at {} (`tipsheet run` or `send --if-due` does it then).",
                i.number,
                i.slot,
                shown(&at.to_rfc3339_opts(SecondsFormat::Secs, true))
            ));
        }
        // The pauses of the last run that paused, when one did.
        let pauses = c.app.store.pauses(i.slot).await.unwrap_or_default();
        let last: Vec<&PauseRecord> = PauseRecord::last_run(&pauses).collect();
        if !last.is_empty() {
            told.push(i.slot);
            for p in last {
                out.push(format!(
                    "Issue #{} of {}: {} paused after {} refusals in a row at {} (last reply: {}); {} readers wait; `tipsheet send --date {}` resumes it once the cause is fixed.",
                    i.number,
                    i.slot,
                    who(p),
                    p.refusals,
                    shown(&p.at),
                    shortened(&p.last_reply),
                    p.left,
                    i.slot
                ));
            }
            continue;
        }
        if open > 0 && at_cap.is_none() {
            out.push(format!(
                "Issue #{} of {} stopped with {open} readers not mailed yet (a hold, or the run was stopped); `tipsheet send --date {}` resumes it.",
                i.number, i.slot, i.slot
            ));
        }
    }
    // Recent pauses of issues sent since, or being sent now: the provider
    // took mail again, but it refused us once.
    let since = (now - PAUSES_SHOWN).to_rfc3339_opts(SecondsFormat::Secs, true);
    for p in c.app.store.pauses_since(&since).await.unwrap_or_default() {
        let Some(i) = issues.iter().find(|i| i.slot == p.slot) else {
            continue;
        };
        if told.contains(&i.slot) {
            continue;
        }
        let then = match i.status {
            IssueStatus::Sent => "a later run mailed the readers it left",
            _ => "a send of it is running now",
        };
        out.push(format!(
            "Issue #{} of {}: {} paused after {} refusals in a row at {} (last reply: {}); {then}.",
            i.number,
            i.slot,
            who(&p),
            p.refusals,
            shown(&p.at),
            shortened(&p.last_reply),
        ));
    }
    for (p, row) in points
        .iter()
        .zip(rows.iter().filter(|r| r.state != "assembled"))
    {
        if p.complaint > COMPLAINT_WARN {
            out.push(format!(
                "Issue #{}: complaint rate {} is over Gmail's 0.1% line (Gmail and Yahoo block bulk senders near 0.3%).",
                row.number, row.complaint_rate
            ));
        }
        if p.bounce > BOUNCE_WARN {
            out.push(format!(
                "Issue #{}: bounce rate {} is over 2% (relays suspend senders whose bounces climb).",
                row.number, row.bounce_rate
            ));
        }
    }
    // Feeds still configured whose last fetch failed.
    let feeds = &c.app.config.content.feeds;
    for f in c.app.store.feed_outcomes().await.unwrap_or_default() {
        let Some(error) = &f.error else { continue };
        if !feeds.iter().any(|c| c.url == f.url) {
            continue;
        }
        out.push(format!(
            "Feed {} failed at {}: {}; last fetched {}.",
            f.url,
            shown(&f.attempted_at),
            shortened(error),
            f.succeeded_at.as_deref().map_or("never".into(), shown)
        ));
    }
    out
}

/// How long a pause stays among the warnings once its issue is sent.
const PAUSES_SHOWN: chrono::Duration = chrono::Duration::days(7);

/// The longest reply or error a warning quotes, in characters.
const QUOTED: usize = 300;

/// Who paused: the provider's domain, or the relay.
fn who(p: &PauseRecord) -> String {
    match &p.provider {
        Some(domain) => format!("`{domain}`"),
        None => "the relay (every provider)".into(),
    }
}

/// `text` cut to [`QUOTED`] characters.
fn shortened(text: &str) -> String {
    if text.chars().count() <= QUOTED {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(QUOTED).collect();
    cut.push('…');
    cut
}

/// How often [`spawn_tally_keeper`] counts what events moved.
const KEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Counts, at start and then every minute, the recent sent issues whose
/// kept tallies are stale (a send kept none, or a later event moved one),
/// so that a render finds them kept: after an upgrade, or after a burst of
/// bounces, the counting is this task's, not a reader's wait. Runs until
/// aborted.
pub(crate) fn spawn_tally_keeper(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(KEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let Ok(issues) = app.store.issues().await else {
                continue;
            };
            let slots: Vec<NaiveDate> = issues
                .iter()
                .rev()
                .filter(|i| i.status == IssueStatus::Sent)
                .take(RECENT)
                .map(|i| i.slot)
                .collect();
            if slots.is_empty() {
                continue;
            }
            if let Err(e) = app.store.tallies(&slots).await {
                app.note(format!(
                    "warning: cannot count the recent issues for the console: {e}"
                ));
            }
        }
    })
}

/// GET `/admin`.
pub(super) async fn page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let p = match admit(&c, &headers, Role::Viewer).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let now = c.app.clock.now();
    let issues = match c.app.store.issues().await {
        Ok(i) => i,
        Err(e) => return failed(&c, &e),
    };
    let (next, next_error) = match next_issue(&c, &issues, now).await {
        Ok(n) => (Some(n), String::new()),
        Err(e) => (None, e),
    };
    let (rows, points) = match recent(&c, &issues).await {
        Ok(r) => r,
        Err(e) => return failed(&c, &e),
    };
    let sending = match issues.iter().find(|i| i.status == IssueStatus::Sending) {
        Some(i) => {
            let counts = c.app.store.counts(i.slot).await.unwrap_or_default();
            let first = progress(i, &counts, None);
            Some(progress(
                i,
                &counts,
                rate_since_start(i, first.done, Utc::now()),
            ))
        }
        None => None,
    };
    let warnings = warnings(&c, &issues, &rows, &points, now).await;
    let page = DashboardPage {
        frame: Frame::of(&c, &p, "dashboard"),
        next,
        next_error,
        sending,
        delivered_svg: charts::delivered(&points),
        rates_svg: charts::rates(&points),
        rows,
        warnings,
    };
    render(&c, StatusCode::OK, &page)
}

fn failed(c: &Console, e: &StoreError) -> Response {
    c.app.note(format!("error: console dashboard: {e}"));
    problem(
        c,
        StatusCode::SERVICE_UNAVAILABLE,
        "The store is out of reach",
        "The dashboard cannot be read right now; try again in a minute.".into(),
    )
}
