//! `tipsheet status`: what the ledger recorded, issue by issue, with slots
//! that were missed, and each issue's failures by reason and provider from
//! both sources (the SMTP session's refusals and the inbound `failure`
//! events). It only reads.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::output::outln;
use crate::config::Config;
use crate::error::{Ending, Error};
use crate::plan::{slot_for, slot_state};
use crate::store::{IssueStatus, RecipientStatus};

/// `status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One issue, with its failed, bounced and uncertain recipients.
    #[arg(long, value_parser = super::common::parse_date)]
    pub date: Option<NaiveDate>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn run(
    config: &Config,
    args: &StatusArgs,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
    let schedule = config.schedule()?;
    // What came back (inbound events) is in the same store.
    let store = crate::plan::read_store(config).await?;
    report(config, args, now, &schedule, store.as_ref()).await
}

async fn report(
    config: &Config,
    args: &StatusArgs,
    now: DateTime<Utc>,
    schedule: &crate::schedule::Schedule,
    store: Option<&crate::store::Store>,
) -> Result<Ending, Error> {
    let ledger = match store {
        Some(s) => Some(s.snapshot(args.date).await?),
        None => None,
    };
    // A running send may have recipients in flight; otherwise those were cut off.
    let running = ledger.as_ref().is_some_and(|l| l.sending());
    let issues = match &ledger {
        Some(l) => l.issues()?,
        None => Vec::new(),
    };
    if let Some(d) = args.date
        && !issues.iter().any(|i| i.slot == d)
    {
        let slot = slot_for(schedule, d)?;
        let state = slot_state(schedule, &slot, None, now);
        let mut json = serde_json::json!({"slot": d.to_string(), "number": slot.number, "status": state, "counts": {}, "recipients": []});
        let mut text = format!("#{:<4} {}  {:<9}  nothing recorded", slot.number, d, state);
        if let Some(store) = store {
            show_hold(store, d, &mut json, &mut text).await?;
            show_approval(store, config, d, &mut json, &mut text).await?;
        }
        if args.json {
            outln!("{}", serde_json::Value::Array(vec![json]));
        } else {
            outln!("{text}");
        }
        return Ok(Ending::Done);
    }
    // Slots past their grace that never went out, so nobody mistakes silence for success.
    let recorded: std::collections::HashSet<NaiveDate> = issues.iter().map(|i| i.slot).collect();
    let missed: Vec<_> = if args.date.is_none() {
        schedule
            .slots_before(now, 12)
            .into_iter()
            .filter(|s| !recorded.contains(&s.date))
            .filter(|s| slot_state(schedule, s, None, now) == "missed")
            .collect()
    } else {
        Vec::new()
    };
    // (slot date, JSON, text): printed in date order at the end.
    let mut rows: Vec<(NaiveDate, serde_json::Value, String)> = Vec::new();
    for s in &missed {
        rows.push((
            s.date,
            serde_json::json!({"slot": s.date.to_string(), "number": s.number, "status": "missed", "counts": {}, "recipients": []}),
            format!(
                "#{:<4} {}  {:<9}  never sent (past its grace period; `send --date {}` sends it on purpose)",
                s.number, s.date, "missed", s.date
            ),
        ));
    }
    let Some(ledger) = ledger else {
        if !args.json && missed.is_empty() {
            outln!(
                "no issue has been sent yet (no ledger at `{}`)",
                config.ledger_path().display()
            );
        }
        print_rows(rows, args.json);
        return Ok(Ending::Done);
    };
    // Sends a cap stopped, and when they continue.
    let capped = match store {
        Some(s) => s.capped().await?,
        None => Vec::new(),
    };
    for i in issues
        .iter()
        .filter(|i| args.date.is_none_or(|d| i.slot == d))
    {
        let mut counts = ledger.counts(i.slot)?;
        let mut detail = if args.date.is_some() {
            ledger.recipients(
                i.slot,
                &[
                    RecipientStatus::Failed,
                    RecipientStatus::Bounced,
                    RecipientStatus::Uncertain,
                    RecipientStatus::InFlight,
                ],
            )?
        } else {
            Vec::new()
        };
        if !running {
            for r in detail
                .iter_mut()
                .filter(|r| r.status == RecipientStatus::InFlight)
            {
                r.status = RecipientStatus::Uncertain;
            }
            counts.fold_in_flight();
        }
        {
            let c: serde_json::Map<String, serde_json::Value> = counts
                .by_status
                .iter()
                .map(|(s, n)| (s.to_string(), (*n).into()))
                .collect();
            let r: Vec<serde_json::Value> = detail
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "email": r.key, "status": r.status.as_str(), "attempts": r.attempts,
                        "code": r.last_code, "reply": r.last_reply,
                    })
                })
                .collect();
            let mut json = serde_json::json!({
                "slot": i.slot, "number": i.number, "status": i.status.as_str(),
                "comparisons": i.selection.comparisons, "tip": i.selection.tip,
                "counts": c, "recipients": r,
            });
            let state = match i.status {
                IssueStatus::Sending => "partial",
                other => other.as_str(),
            };
            let mut text = format!(
                "#{:<4} {}  {:<9}  {}",
                i.number,
                i.slot,
                state,
                super::common::count_parts(&counts)
            );
            if let Some((_, at)) = capped.iter().find(|(d, _)| *d == i.slot) {
                text.push_str(&format!(
                    "\n  stopped at a cap; continues at {}",
                    at.format("%Y-%m-%d %H:%M UTC")
                ));
                json["continue_at"] = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into();
            }
            for r in &detail {
                text.push_str(&format!(
                    "\n  {:<9} {}  attempts {}  {}{}",
                    r.status.as_str(),
                    r.key,
                    r.attempts,
                    r.last_code.map(|c| format!("{c} ")).unwrap_or_default(),
                    r.last_reply.as_deref().unwrap_or("")
                ));
            }
            if let Some(store) = store {
                let relays = store.sent_by_relay(i.slot).await?;
                if relays.len() > 1 || !config.smtp.relays.is_empty() {
                    let parts: Vec<String> =
                        relays.iter().map(|(r, n)| format!("{r} {n}")).collect();
                    text.push_str(&format!("\n  sent through: {}", parts.join(", ")));
                }
                json["relays"] = relays
                    .iter()
                    .map(|(r, n)| (r.clone(), serde_json::Value::from(*n)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                let fb = super::inbound::feedback(
                    &**store,
                    i.slot,
                    args.date.is_some(),
                    &mut json,
                    &mut text,
                )
                .await?;
                let refused = store
                    .recipients(i.slot, &[RecipientStatus::Failed, RecipientStatus::Bounced])
                    .await?;
                let failures = crate::delivery::merged_failures(&fb.failures, &refused);
                let pending = if running {
                    0
                } else {
                    counts.get(RecipientStatus::Pending)
                };
                let warnings = sender_warnings(&failures, pending);
                failures_out(&failures, &warnings, &mut json, &mut text);
            }
            rows.push((i.slot, json, text));
        }
    }
    if let Some(store) = store {
        editorial_rows(store, config, schedule, args.date, now, &mut rows).await?;
    }
    print_rows(rows, args.json);
    Ok(Ending::Done)
}

/// Shows the hold and the approval of the slot `status` is about
/// (`--date`'s, or the one `send` would send now) on its row, or as a row of
/// its own when the issue is not recorded yet.
async fn editorial_rows(
    store: &crate::store::Store,
    config: &Config,
    schedule: &crate::schedule::Schedule,
    date: Option<NaiveDate>,
    now: DateTime<Utc>,
    rows: &mut Vec<(NaiveDate, serde_json::Value, String)>,
) -> Result<(), Error> {
    let slot = match date {
        Some(d) => slot_for(schedule, d)?,
        // No slot ahead (the schedule ended): nothing to be held.
        None => match crate::plan::current_slot(schedule, now) {
            Ok(s) => s,
            Err(_) => return Ok(()),
        },
    };
    if let Some((_, json, text)) = rows.iter_mut().find(|r| r.0 == slot.date) {
        show_hold(store, slot.date, json, text).await?;
        show_approval(store, config, slot.date, json, text).await?;
        return Ok(());
    }
    let held = store.hold_of(slot.date).await?.is_some();
    let state = if held {
        "on hold"
    } else {
        slot_state(schedule, &slot, None, now)
    };
    let mut json = serde_json::json!({"slot": slot.date.to_string(), "number": slot.number, "status": state, "counts": {}, "recipients": []});
    let mut text = format!(
        "#{:<4} {}  {:<9}  nothing recorded",
        slot.number, slot.date, state
    );
    let held = show_hold(store, slot.date, &mut json, &mut text).await?;
    if show_approval(store, config, slot.date, &mut json, &mut text).await? || held {
        rows.push((slot.date, json, text));
    }
    Ok(())
}

/// Adds the approval state of `date` to its row (none for an issue sent
/// without one, or when approval is off and nobody approved); whether it did.
async fn show_approval(
    store: &crate::store::Store,
    config: &Config,
    date: NaiveDate,
    json: &mut serde_json::Value,
    text: &mut String,
) -> Result<bool, Error> {
    use crate::editorial::ApprovalState;
    let state = crate::editorial::approval_state(store, config, date).await?;
    match &state {
        ApprovalState::NotRequired => return Ok(false),
        ApprovalState::Awaiting { .. }
            if store
                .issue(date)
                .await?
                .is_some_and(|i| i.status == IssueStatus::Sent) =>
        {
            return Ok(false);
        }
        ApprovalState::Awaiting { last } => text.push_str(&format!(
            "\n  AWAITING APPROVAL{}: nothing is sent until `tipsheet approve --date {date}`",
            last.as_ref()
                .map(|a| format!(" (changed since approved by {} at {})", a.by, a.at))
                .unwrap_or_default()
        )),
        ApprovalState::Approved(a) => text.push_str(&format!(
            "\n  approved by {} at {} (sha256 {}){}",
            a.by,
            a.at,
            &a.digest[..16],
            if a.reassembled { ", reassembled" } else { "" }
        )),
    }
    json["approval"] = serde_json::to_value(&state).unwrap_or_default();
    Ok(true)
}

/// Adds the hold on `date`, if any, to its row; whether there was one.
async fn show_hold(
    store: &crate::store::Store,
    date: NaiveDate,
    json: &mut serde_json::Value,
    text: &mut String,
) -> Result<bool, Error> {
    let Some(hold) = store.hold_of(date).await? else {
        return Ok(false);
    };
    text.push_str(&format!(
        "\n  ON HOLD since {}{}: nothing is sent; `tipsheet release --date {date}` lets it go",
        hold.at,
        hold.reason
            .as_deref()
            .map(|r| format!(" (reason: {r})"))
            .unwrap_or_default()
    ));
    json["hold"] = serde_json::json!({"reason": hold.reason, "at": hold.at});
    Ok(true)
}

/// A warning for each provider whose failures are mostly sender-level,
/// when some recipients are still `pending` (a paused provider): retrying
/// changes nothing until the sending side is fixed.
fn sender_warnings(failures: &[(String, String, String, u64)], pending: u64) -> Vec<String> {
    if pending == 0 {
        return Vec::new();
    }
    let mut by: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (_, scope, provider, n) in failures {
        let e = by.entry(provider.as_str()).or_default();
        e.1 += n;
        if scope == "sender" {
            e.0 += n;
        }
    }
    by.into_iter()
        .filter(|(_, (sender, all))| sender * 2 > *all)
        .map(|(p, (sender, all))| {
            format!(
                "`{p}` ({sender} of {all} failures; {pending} recipient(s) of this issue still pending) refused for sender-level reasons: fix the sending side (blocklist, SPF/DKIM/DMARC, PTR) before the next run; nobody was suppressed"
            )
        })
        .collect()
}

/// Adds the failures (`failures` array, `failure_warnings`) to the issue's
/// JSON and one `failures:` line plus its warnings to its text.
fn failures_out(
    failures: &[(String, String, String, u64)],
    warnings: &[String],
    json: &mut serde_json::Value,
    text: &mut String,
) {
    json["failures"] = failures
        .iter()
        .map(|(reason, scope, provider, count)| {
            serde_json::json!({"reason": reason, "scope": scope, "provider": provider, "count": count})
        })
        .collect();
    json["failure_warnings"] = serde_json::json!(warnings);
    if !failures.is_empty() {
        let parts: Vec<String> = failures
            .iter()
            .map(|(r, s, p, n)| {
                let at = if p.is_empty() { "?" } else { p };
                format!("{r} ({s}) at {at} {n}")
            })
            .collect();
        text.push_str("\n  failures: ");
        text.push_str(&parts.join(", "));
    }
    for w in warnings {
        text.push_str("\n  warning: ");
        text.push_str(w);
    }
}

fn print_rows(mut rows: Vec<(NaiveDate, serde_json::Value, String)>, json: bool) {
    rows.sort_by_key(|r| r.0);
    if json {
        let all: Vec<serde_json::Value> = rows.into_iter().map(|r| r.1).collect();
        outln!("{}", serde_json::Value::Array(all));
    } else {
        for r in rows {
            outln!("{}", r.2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(reason: &str, scope: &str, provider: &str, n: u64) -> (String, String, String, u64) {
        (reason.into(), scope.into(), provider.into(), n)
    }

    #[test]
    fn only_a_provider_whose_failures_are_mostly_sender_level_is_warned_of_while_readers_wait() {
        let failures = [
            f("blocked", "sender", "a.example", 3),
            f("user_unknown", "address", "a.example", 2),
            f("auth_failure", "sender", "b.example", 1),
            f("user_unknown", "address", "b.example", 1),
            f("mailbox_full", "address", "c.example", 4),
        ];
        let got = sender_warnings(&failures, 7);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("`a.example` (3 of 5 failures; 7 recipient(s)"),
            "{got:?}"
        );
        assert!(sender_warnings(&failures, 0).is_empty());
    }
}
