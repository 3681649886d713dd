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
    let ledger = plan::snapshot(config, None).await?;
    let mut slots = schedule.slots_before(now, args.past);
    slots.extend(schedule.slots_from(now).take(args.count));
    let mut rows = Vec::new();
    for slot in &slots {
        let record = match &ledger {
            Some(l) => l.issue(slot.date)?,
            None => None,
        };
        let state = slot_state(&schedule, slot, record.as_ref().map(|r| r.status), now);
        rows.push((slot, state));
    }
    if args.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(s, state)| {
                serde_json::json!({
                    "number": s.number,
                    "date": s.date.to_string(),
                    "local": s.local.to_rfc3339(),
                    "utc": s.utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "status": state,
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
    for (s, state) in rows {
        outln!(
            "#{:<4} {}  {}  {} UTC  {}",
            s.number,
            s.date,
            s.local.format("%a %H:%M %Z"),
            s.utc.format("%Y-%m-%d %H:%M"),
            state
        );
    }
    Ok(Ending::Done)
}
