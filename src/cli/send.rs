//! `tipsheet send`: one delivery session (or a dry run, or a test copy), and
//! its summary.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::output::{errln, outln};
use super::progress::Console;
use crate::config::Config;
use crate::delivery::send_proofs;
use crate::delivery::session::{self, Delivered, SendReport, Session, SessionError};
use crate::error::{Ending, Error};
use crate::plan;

/// `send` options.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The issue of this slot date instead of the next one.
    #[arg(long, value_parser = super::common::parse_date)]
    pub date: Option<NaiveDate>,
    /// Build every message, deliver none.
    #[arg(long)]
    pub dry_run: bool,
    /// Send a test copy to this address only ("[TEST]" subject, not recorded).
    #[arg(long)]
    pub to: Option<String>,
    /// Send a "[PROOF]" copy to each `[editorial] proof_to` address only
    /// (rendered and signed like the issue, not recorded).
    #[arg(long, conflicts_with_all = ["dry_run", "to"])]
    pub proof: bool,
    /// Do not resend recipients left uncertain by a crash.
    #[arg(long)]
    pub no_resend_uncertain: bool,
    /// For crontab: send only if a slot is due now (its time has come and is
    /// within grace) and not fully sent, or a send a cap stopped may continue
    /// now (past grace too); otherwise exit 0 quietly.
    #[arg(long, conflicts_with_all = ["date", "dry_run", "to", "proof"])]
    pub if_due: bool,
}

pub(super) async fn run(
    config: &Config,
    args: &SendArgs,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
    let schedule = config.schedule()?;
    let (library, _) = plan::load_content(config)?;
    if args.proof {
        return proofs(config, args, now, &schedule, &library).await;
    }
    if args.dry_run || args.to.is_some() {
        let signer = super::common::signer_for(config, plan::Signing::Send, false)?;
        let ledger = plan::snapshot(config, None).await?;
        let slot = match args.date {
            Some(d) => plan::slot_for(&schedule, d)?,
            None => plan::next_slot(&schedule, ledger.as_ref(), now)?,
        };
        let (issue, _) = plan::choose(config, &library, ledger.as_ref(), slot)?;
        if let Some(to) = &args.to {
            let sent = session::test_send(config, &issue, signer, to).await?;
            outln!(
                "test copy of issue #{} sent to {}: {} {}",
                sent.number,
                sent.address,
                sent.code,
                sent.reply
            );
            return Ok(Ending::Done);
        }
        let d = session::dry_run(config, &issue, signer).await?;
        for w in &d.skipped {
            errln!("{w}");
        }
        outln!("dry run of issue #{} ({}): {}", d.number, d.date, d.subject);
        outln!(
            "built {} messages ({} KB average) in {:.2}s = {:.0} msgs/s (issue prepared once in {:.0} ms); nothing was delivered",
            d.built,
            d.bytes.checked_div(d.built).unwrap_or(0) / 1024,
            d.seconds,
            d.built as f64 / d.seconds.max(1e-9),
            d.prepare_seconds * 1000.0
        );
        outln!("recipients: {}", super::common::list_counts(&d.counts));
        return Ok(Ending::Done);
    }
    let slot = if args.if_due {
        // For crontab: a send a cap stopped once its time has come (past
        // grace too: it was started in time), else the slot whose time has
        // come and is within grace.
        let store = plan::read_store(config).await?;
        match plan::if_due(store.as_ref(), &schedule, now).await? {
            Some(slot) => slot,
            None => return Ok(Ending::Done),
        }
    } else {
        match args.date {
            Some(d) => plan::slot_for(&schedule, d)?,
            None => plan::current_slot(&schedule, now)?,
        }
    };
    let signer = super::common::signer_for(config, plan::Signing::Send, false)?;
    let stop = Arc::new(AtomicBool::new(false));
    let session = Session {
        config,
        schedule: &schedule,
        library: &library,
        signer,
        resend_uncertain: !args.no_resend_uncertain,
        stop: stop.clone(),
        now,
    };
    let reporter = Console::new(super::common::relay(config));
    super::common::watch_signals(stop, None);
    let delivered = session.deliver(slot, &reporter).await;
    match delivered {
        Ok(d) => Ok(print_delivered(d, &super::common::relay(config))),
        Err(e) => {
            print_stopped(&e);
            Err(e.into())
        }
    }
}

/// `send --proof`: the issue `send --date`/`send --dry-run` would pick,
/// to each proof address.
async fn proofs(
    config: &Config,
    args: &SendArgs,
    now: DateTime<Utc>,
    schedule: &crate::schedule::Schedule,
    library: &crate::content::Library,
) -> Result<Ending, Error> {
    let signer = super::common::signer_for(config, plan::Signing::Send, false)?;
    let store = plan::read_store(config).await?;
    let slot = match args.date {
        Some(d) => plan::slot_for(schedule, d)?,
        None => {
            let ledger = match &store {
                Some(s) => Some(s.snapshot(None).await?),
                None => None,
            };
            plan::next_slot(schedule, ledger.as_ref(), now)?
        }
    };
    let p = send_proofs(config, store.as_ref(), library, slot, signer).await?;
    outln!(
        "proof of issue #{} ({}), {}: {}",
        p.number,
        p.date,
        if p.frozen {
            "the copy frozen in the store"
        } else {
            "rendered now (not frozen yet)"
        },
        p.subject
    );
    for (address, code, reply) in &p.sent {
        outln!("  sent to {address}: {code} {reply}");
    }
    for (address, why) in &p.failed {
        errln!("proof to `{address}` failed: {why}");
    }
    outln!("proofs are not recorded: the ledger is unchanged");
    Ok(if p.failed.is_empty() {
        Ending::Done
    } else {
        Ending::Failures
    })
}

/// Prints a session's summary; shared with `run`.
pub(super) fn print_delivered(delivered: Delivered, relay: &str) -> Ending {
    match delivered {
        Delivered::AlreadySent { number, date, next } => {
            outln!(
                "issue #{number} ({date}) was already sent to everyone; nothing to do{}",
                next.map(|n| format!(
                    " (issue #{} goes out on {}; `send --date {}` sends it now)",
                    n.number, n.date, n.date
                ))
                .unwrap_or_default()
            );
            Ending::Done
        }
        Delivered::Ran(report) => print_report(&report, relay),
    }
}

fn print_report(r: &SendReport, relay: &str) -> Ending {
    let s = &r.summary;
    if super::log::json() {
        tracing::info!(
            target: "tipsheet",
            issue = r.number,
            slot = %r.date,
            relay,
            delivered = s.delivered,
            failed = s.failed,
            bounced = s.bounced,
            skipped = s.skipped,
            uncertain = s.uncertain_left,
            seconds = s.seconds,
            status = %r.status,
            "issue #{} ({}) {}",
            r.number,
            r.date,
            r.status
        );
    }
    outln!(
        "issue #{} ({}): {} delivered, {} failed, {} bounced, {} skipped in {:.2}s; issue is {}",
        r.number,
        r.date,
        s.delivered,
        s.failed,
        s.bounced,
        s.skipped,
        s.seconds,
        r.status
    );
    print_counts(r.number, r.date, &r.counts);
    if s.relays.len() > 1 || s.relays.iter().any(|u| u.taken_out > 0) {
        let parts: Vec<String> = s
            .relays
            .iter()
            .map(|u| {
                let mut part = format!("{} {}", u.name, u.carried);
                if u.taken_out > 0 {
                    part.push_str(&format!(
                        " (out of rotation {} time(s){})",
                        u.taken_out,
                        if u.out { ", still out" } else { "" }
                    ));
                }
                part
            })
            .collect();
        outln!("relays this run: {}", parts.join(", "));
    }
    if r.counts.total() == 0 {
        outln!("the list has no active subscriber: nothing was sent");
    }
    if s.uncertain_left > 0 {
        outln!(
            "{} recipient(s) left uncertain; `tipsheet status --date {}` lists them",
            s.uncertain_left,
            r.date
        );
    }
    for p in &s.paused {
        let who = match &p.provider {
            Some(domain) => format!(
                "PAUSED: `{domain}` refused {} messages in a row for sender-level reasons; this run stopped sending there and left its {} remaining recipient(s) pending",
                p.refusals, p.left
            ),
            None => format!(
                "PAUSED: the relay refused {} messages in a row for sender-level reasons across domains; this run stopped sending and left {} recipient(s) pending",
                p.refusals, p.left
            ),
        };
        errln!(
            "{who} (last reply: {}); nobody was suppressed: fix the cause (blocklist, SPF/DKIM/DMARC, policy) and rerun to resume",
            p.last_reply
        );
    }
    if s.held {
        errln!(
            "on hold: this send stopped taking recipients; in-flight messages finished and were recorded; `tipsheet release --date {}` then rerun to resume",
            r.date
        );
        return Ending::Interrupted;
    }
    if s.interrupted {
        errln!("interrupted: in-flight messages finished and were recorded; rerun to resume");
        return Ending::Interrupted;
    }
    if let Some(q) = &s.quota {
        errln!(
            "QUOTA: {} was reached; this send stopped taking recipients and left {} pending; it can continue at {} (`tipsheet run` or `send --if-due` continues it then; or rerun `tipsheet send --date {}`)",
            q.cap,
            q.left,
            q.until.format("%Y-%m-%d %H:%M UTC"),
            r.date
        );
        return Ending::Quota { until: q.until };
    }
    if r.has_failures() {
        Ending::Failures
    } else {
        Ending::Done
    }
}

/// "ledger for issue #3 (2026-12-15): 40 sent, 2 failed".
pub(super) fn print_counts(number: u32, date: NaiveDate, counts: &crate::store::Counts) {
    outln!(
        "ledger for issue #{number} ({date}): {}",
        super::common::count_parts(counts)
    );
}

/// A stopped session still shows what the ledger holds, then the error.
pub(super) fn print_stopped(e: &SessionError) {
    if let SessionError::Delivery {
        number,
        date,
        counts,
        ..
    } = e
    {
        print_counts(*number, *date, counts);
    }
}
