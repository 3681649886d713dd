//! `tipsheet schedule`: upcoming and recent slots with their ledger status.

use chrono::{DateTime, Utc};
use clap::Args;

use super::output::outln;
use crate::config::Config;
use crate::error::{Ending, Error};
use crate::plan::{self, slot_state};

/// `schedule` options.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// How many upcoming slots.
    #[arg(long, default_value_t = 6)]
    pub count: usize,
    /// How many past slots.
    #[arg(long, default_value_t = 3)]
    pub past: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `tipsheet schedule`: upcoming and recent slots with their ledger status.
pub(super) async fn run(
    config: &Config,
    args: &ScheduleArgs,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
    let schedule = config.schedule()?;
    let store = plan::read_store(config).await?;
    let ledger = match &store {
        Some(s) => Some(s.snapshot(None).await?),
        None => None,
    };
    let mut slots = schedule.slots_before(now, args.past);
    slots.extend(schedule.slots_from(now).take(args.count));
    let mut rows = Vec::new();
    for slot in &slots {
        let record = match &ledger {
            Some(l) => l.issue(slot.date)?,
            None => None,
        };
        let state = slot_state(&schedule, slot, record.as_ref().map(|r| r.status), now);
        let approval = match state {
            "sent" | "missed" => None,
            _ => approval(config, store.as_ref(), slot.date).await?,
        };
        rows.push((slot, state, approval));
    }
    if args.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(s, state, approval)| {
                serde_json::json!({
                    "number": s.number,
                    "date": s.date.to_string(),
                    "local": s.local.to_rfc3339(),
                    "utc": s.utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "status": state,
                    "approval": approval,
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(v));
        return Ok(Ending::Done);
    }
    outln!(
        "schedule: `{}` in {}, every {} week(s) from {}, grace {} (cron crate form `{}`)",
        config.schedule.cron,
        schedule.timezone(),
        schedule.every_weeks(),
        schedule.anchor(),
        config.schedule.grace,
        schedule.cron_expression()
    );
    for (s, state, approval) in rows {
        outln!(
            "#{:<4} {}  {}  {} UTC  {}{}",
            s.number,
            s.date,
            s.local.format("%a %H:%M %Z"),
            s.utc.format("%Y-%m-%d %H:%M"),
            state,
            approval.map(|a| format!("  {a}")).unwrap_or_default()
        );
    }
    Ok(Ending::Done)
}

/// "awaiting approval" or "approved by X at T" for a slot not sent yet;
/// nothing when approval is off and nobody approved it.
async fn approval(
    config: &Config,
    store: Option<&crate::store::Store>,
    date: chrono::NaiveDate,
) -> Result<Option<String>, Error> {
    use crate::editorial::ApprovalState;
    let state = match store {
        Some(s) => crate::editorial::approval_state(s, config, date).await?,
        None if config.editorial.approval_required() => ApprovalState::Awaiting { last: None },
        None => ApprovalState::NotRequired,
    };
    Ok(match state {
        ApprovalState::NotRequired => None,
        ApprovalState::Awaiting { .. } => Some("awaiting approval".into()),
        ApprovalState::Approved(a) => Some(format!("approved by {} at {}", a.by, a.at)),
    })
}
