//! `tipsheet run`: the scheduler daemon, logging one timestamped line per event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::common::log_line;
use super::progress::Console;
use crate::config::Config;
use crate::delivery::session::{Session, SessionError};
use crate::editorial::{self, ApprovalState};
use crate::error::{Ending, Error};
use crate::plan;
use crate::schedule::Slot;
use crate::schedule::clock::{Clock, WallClock};
use crate::schedule::daemon::{self, Ahead, SlotOutcome};

pub(super) async fn run(config: &Config, now: Option<DateTime<Utc>>) -> Result<Ending, Error> {
    let schedule = config.schedule()?;
    // A secret too weak to send with stops the daemon now, not at the slot.
    plan::signer_for(config, plan::Signing::Send)?;
    // With `--now`, the daemon's clock starts there and runs at normal speed.
    let clock = WallClock::starting_at(now);
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(tokio::sync::Notify::new());
    if let Some(addr) = &config.server.metrics_listen {
        let listener = crate::web::bind_metrics(config, addr, now).await?;
        log_line(&format!("tipsheet run: metrics on {}", listener.url));
        tokio::spawn(async move {
            if let Err(e) = listener.serve(super::common::shutdown_signal()).await {
                log_line(&format!("metrics listener stopped: {e}"));
            }
        });
    }
    {
        super::common::watch_signals(stop.clone(), Some(wake.clone()));
        let first = schedule.slots_from(clock.now()).next();
        log_line(&format!(
            "tipsheet run: schedule `{}` in {}, every {} week(s), grace {}; next slot {}",
            config.schedule.cron,
            schedule.timezone(),
            schedule.every_weeks(),
            config.schedule.grace,
            first
                .map(|s| format!(
                    "#{} at {} ({} UTC)",
                    s.number,
                    s.local.format("%Y-%m-%d %H:%M %Z"),
                    s.utc.format("%Y-%m-%d %H:%M")
                ))
                .unwrap_or_else(|| "none".into())
        ));
        let reporter = Console::new(super::common::relay(config));
        // With approval required, each issue is announced a day ahead (new
        // articles fetched first, so the editor approves them too).
        let ahead = Ahead {
            lead: if config.editorial.approval_required() {
                APPROVAL_NOTICE
            } else {
                Duration::ZERO
            },
            call: |slot| announce(config, slot),
        };
        let unreadable = AtomicBool::new(false);
        let stopped = || stopped_at_caps(config, &schedule, &unreadable);
        daemon::run(&schedule, &clock, &stop, &wake, ahead, stopped, |slot| {
            send_slot(
                config,
                &schedule,
                slot,
                clock.now(),
                stop.clone(),
                &reporter,
            )
        })
        .await;
        log_line("tipsheet run: stopping");
    }
    Ok(Ending::Done)
}

/// How long before a slot `run` warns that its issue awaits approval.
const APPROVAL_NOTICE: Duration = Duration::from_secs(24 * 3600);

/// A day before `slot` (approval required): fetch, then warn if the issue
/// is not approved as it stands.
async fn announce(config: &Config, slot: Slot) {
    if config.content.fetches_before_issue() {
        fetch_before(config, &slot).await;
    }
    let state = match plan::read_store(config).await {
        Ok(Some(store)) => editorial::approval_state(&store, config, slot.date)
            .await
            .map_err(Error::from),
        Ok(None) => Ok(ApprovalState::Awaiting { last: None }),
        Err(e) => Err(Error::from(e)),
    };
    match state {
        Ok(ApprovalState::Approved(a)) => log_line(&format!(
            "issue #{} ({}) goes out at {} UTC, approved by {} at {}",
            slot.number,
            slot.date,
            slot.utc.format("%Y-%m-%d %H:%M"),
            a.by,
            a.at
        )),
        Ok(_) => log_line(&format!(
            "warning: issue #{} ({}) goes out at {} UTC and is awaiting approval: nothing will be sent until `tipsheet approve --date {}`",
            slot.number,
            slot.date,
            slot.utc.format("%Y-%m-%d %H:%M"),
            slot.date
        )),
        Err(e) => log_line(&format!(
            "warning: cannot tell whether issue #{} ({}) is approved: {e}",
            slot.number, slot.date
        )),
    }
}

/// The sends a cap stopped, as the store keeps them (from before a restart,
/// or by another command or host), with when to continue each; held issues
/// are left out until released. A store that cannot be read is logged once
/// (until it can again) and lists none.
async fn stopped_at_caps(
    config: &Config,
    schedule: &crate::schedule::Schedule,
    unreadable: &AtomicBool,
) -> Vec<(Slot, DateTime<Utc>)> {
    let read = async {
        match plan::read_store(config).await? {
            Some(store) => plan::capped(&store, schedule).await,
            None => Ok(Vec::new()),
        }
    };
    match read.await {
        Ok(capped) => {
            unreadable.store(false, Ordering::SeqCst);
            capped
                .into_iter()
                .filter(|c| !c.held)
                .map(|c| (c.slot, c.at))
                .collect()
        }
        Err(e) => {
            if !unreadable.swap(true, Ordering::SeqCst) {
                log_line(&format!(
                    "warning: cannot read which sends a cap stopped: {e}; trying again"
                ));
            }
            Vec::new()
        }
    }
}

/// New articles first, so that they can be in this issue; a failed fetch
/// is logged and the issue goes out with what is there.
async fn fetch_before(config: &Config, slot: &Slot) {
    match super::fetch::fetch(config, false).await {
        Ok(f) => {
            log_line(&format!(
                "fetched before issue #{}: {}",
                slot.number,
                super::fetch::summary(&f)
            ));
            for line in super::fetch::failures(&f) {
                log_line(&format!("fetch: {line}"));
            }
        }
        Err(e) => log_line(&format!(
            "fetch before issue #{} failed: {e}; sending with the content there is",
            slot.number
        )),
    }
}

/// The daemon's callback: send `slot` unless the ledger has it sent, and log
/// how it went.
async fn send_slot(
    config: &Config,
    schedule: &crate::schedule::Schedule,
    slot: Slot,
    now: DateTime<Utc>,
    stop: Arc<AtomicBool>,
    reporter: &Console,
) -> SlotOutcome {
    let sent = match plan::snapshot(config, None).await {
        Ok(l) => plan::is_sent(l.as_ref(), slot.date).map_err(Error::from),
        Err(e) => Err(Error::from(e)),
    };
    match sent {
        Ok(true) => return SlotOutcome::AlreadySent,
        Ok(false) => {}
        Err(e) => {
            log_line(&format!(
                "issue #{} failed: {e}; retrying while within grace",
                slot.number
            ));
            return SlotOutcome::Retry;
        }
    }
    // With approval required, the issue sent is the one approved: the fetch
    // came a day ahead, before the editor approved it.
    if config.content.fetches_before_issue() && !config.editorial.approval_required() {
        fetch_before(config, &slot).await;
    }
    log_line(&format!("sending issue #{} ({})", slot.number, slot.date));
    // Content is read fresh for every send.
    let (number, date) = (slot.number, slot.date);
    let signalled = stop.clone();
    let result: Result<Ending, Error> = async {
        let (library, _) = plan::load_content(config)?;
        let signer = super::common::signer_for(config, plan::Signing::Send, true)?;
        let session = Session {
            config,
            schedule,
            library: &library,
            signer,
            resend_uncertain: true,
            stop,
            now,
        };
        match session.deliver(slot, reporter).await {
            Ok(d) => Ok(super::send::print_delivered(
                d,
                &super::common::relay(config),
            )),
            Err(e) => {
                super::send::print_stopped(&e);
                Err(e.into())
            }
        }
    }
    .await;
    match result {
        Ok(Ending::Done) => {
            log_line(&format!("finished issue #{number} ({date})"));
            SlotOutcome::Sent
        }
        // Not a signal: the issue was put on hold mid-send. The daemon keeps
        // running, and a release within grace lets the next try resume it.
        Ok(Ending::Interrupted) if !signalled.load(Ordering::SeqCst) => {
            log_line(&format!(
                "issue #{number} ({date}) was put on hold while sending; in-flight messages were recorded; trying again while within grace (`tipsheet release --date {date}` lets it go)"
            ));
            SlotOutcome::Retry
        }
        Ok(Ending::Interrupted) => SlotOutcome::Interrupted,
        Ok(Ending::Quota { until }) => {
            log_line(&format!(
                "issue #{number} ({date}) stopped at a cap with recipients pending; continuing it at {}",
                until.format("%Y-%m-%d %H:%M UTC")
            ));
            SlotOutcome::Later(until)
        }
        Ok(o) => {
            log_line(&format!(
                "issue #{number} ended with exit code {}; retrying while within grace",
                o.code()
            ));
            SlotOutcome::Retry
        }
        Err(Error::Session(SessionError::Editorial(e))) if e.stops_send() => {
            log_line(&format!("warning: {e}; trying again while within grace"));
            SlotOutcome::Retry
        }
        Err(e) => {
            log_line(&format!(
                "issue #{number} failed: {e}; retrying while within grace"
            ));
            SlotOutcome::Retry
        }
    }
}
