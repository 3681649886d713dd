//! Delivery: moving prepared messages to a transport and recording every outcome.
//!
//! Owns transports (the file outbox, SMTP over connections tipsheet opens itself
//! with `TCP_NODELAY`, pipelined when the server allows), the worker pool,
//! retries with backoff (each wait recorded as `retrying`), the run loop that
//! hands recipients to workers, marks each in flight in the same commit as its
//! worker's previous result before its body goes out, and records each result
//! in the ledger (group commit), and stopping cleanly on a signal. It renders
//! nothing itself: it takes a [`Prepared`] issue.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lettre::Address;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::mail::prepared::{Prepared, Recipient};
use crate::store::{LedgerError, Outcome, RecipientStatus, Store, StoreError};

/// Delivery errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The store failed or went out of reach (retries used up): this host
    /// stopped claiming, finished what it had in flight and recorded what it could.
    #[error(
        "{0}; this host stopped sending and recorded what it could (rerun to resume: nothing is lost, the unrecorded in-flight messages are resent as uncertain)"
    )]
    Store(#[source] StoreError),
    /// The relay refuses every attempt: wrong host, credentials or policy.
    #[error(
        "the SMTP relay refuses to take mail: {0}; nothing more was sent (fix `[smtp]` or the credentials, then rerun to resume)"
    )]
    Relay(String),
    /// The outbox cannot be written: nothing more can go out this run.
    #[error(
        "delivery stopped: {0}; nothing more was written (fix the outbox folder, then rerun to resume)"
    )]
    Stopped(String),
    /// The outbox folder cannot be created.
    #[error("cannot create outbox folder `{path}`: {source}")]
    Outbox {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing to a folder failed.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One delivery attempt's failure, told apart by what to do next.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Worth another try (4xx, reset, timeout).
    Transient {
        /// Reply code, if the server gave one.
        code: Option<u16>,
        /// What happened.
        text: String,
    },
    /// Never worth another try for this address (5xx).
    Permanent {
        /// Reply code.
        code: Option<u16>,
        /// What happened.
        text: String,
    },
    /// The relay cannot be reached at all (connection refused, no route):
    /// retried like a transient failure, but fatal to the run once every
    /// attempt failed, since it refuses every recipient alike.
    Unreachable(String),
    /// The relay refuses us as a whole (authentication, TLS, policy).
    Fatal(String),
}

mod pages;
pub mod session;
pub mod smtp;
mod throttle;
pub mod transport;

use pages::Pages;
pub use session::{Delivered, Reporter, Session, SessionError};
pub use smtp::SmtpSettings;
use throttle::Limiter;
pub use transport::{Channel, Transport, send_one};

/// Retry timing.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts per recipient per run.
    pub max_attempts: u32,
    /// First delay.
    pub base: Duration,
}

impl Retry {
    /// The delay before attempt `attempt + 1`: doubling, capped at a minute, ±25% jitter.
    pub fn delay(&self, attempt: u32, salt: &str) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(Duration::from_secs(60));
        let r = RandomState::new().hash_one((salt, attempt)) % 1000;
        exp.mul_f64(0.75 + r as f64 / 2000.0)
    }
}

struct Job {
    key: String,
    address: Address,
    name: String,
}

/// How a worker's job ended.
enum Finished {
    Outcome(Outcome),
    /// The relay refused as a whole; the job was not delivered.
    Fatal(String, String),
    /// Handed back unsent: the run is stopping, or the worker must wait.
    Unsent(Job),
}

enum Done {
    /// The last job's end, and/or the job this worker is about to send, to be
    /// marked in flight in the same commit; `ack` fires once it is committed.
    /// A body goes out only after its ack: so at most one message per
    /// connection is ever delivered but unrecorded.
    Report {
        finished: Option<Finished>,
        mark: Option<String>,
        ack: Option<oneshot::Sender<()>>,
    },
    /// A failed attempt that will be tried again (`retrying`); the worker keeps the job.
    Retrying(Outcome),
}

/// Takes a job already waiting in the queue, without waiting.
fn try_take(jobs: &Mutex<mpsc::Receiver<Job>>) -> Option<Job> {
    jobs.try_lock().ok()?.try_recv().ok()
}

/// Reports; with a mark, the receiver that fires once the ledger has it.
fn send_report(
    done: &mpsc::UnboundedSender<Done>,
    finished: Option<Finished>,
    mark: Option<&str>,
) -> Result<Option<oneshot::Receiver<()>>, ()> {
    if finished.is_none() && mark.is_none() {
        return Ok(None);
    }
    let (ack, committed) = match mark {
        Some(_) => {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        }
        None => (None, None),
    };
    done.send(Done::Report {
        finished,
        mark: mark.map(str::to_string),
        ack,
    })
    .map_err(|_| ())?;
    Ok(committed)
}

/// Reports, and with a mark waits until the ledger has it.
async fn report(
    done: &mpsc::UnboundedSender<Done>,
    finished: Option<Finished>,
    mark: Option<&str>,
) -> Result<(), ()> {
    match send_report(done, finished, mark)? {
        Some(rx) => rx.await.map_err(|_| ()),
        None => Ok(()),
    }
}

async fn worker(
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    done: mpsc::UnboundedSender<Done>,
    mut channel: Channel,
    prepared: Arc<Prepared>,
    retry: Retry,
    halt: Arc<AtomicBool>,
) {
    // Taken from the queue (its envelope perhaps already on the wire), not yet marked.
    let mut next: Option<Job> = None;
    // The last job's end, sent with the next mark (one commit for both).
    let mut last: Option<Finished> = None;
    loop {
        let job = match next.take() {
            Some(j) => j,
            None => {
                // About to wait: hand in the last result first.
                if report(&done, last.take(), None).await.is_err() {
                    return;
                }
                let job = { jobs.lock().await.recv().await };
                let Some(job) = job else { break };
                job
            }
        };
        if halt.load(Ordering::SeqCst) {
            if report(&done, last.take(), None).await.is_err() {
                return;
            }
            last = Some(Finished::Unsent(job));
            continue;
        }
        // The mark and the last result go to the ledger while this message
        // renders; the body waits for the commit below.
        let Ok(committed) = send_report(&done, last.take(), Some(&job.key)) else {
            return;
        };
        let message = if prepared.signs() {
            // An RSA signature costs 0.3 to 0.7 ms of CPU: keep it off the
            // connections' thread, on the blocking pool (a thread per core).
            let (p, address, key, name) = (
                prepared.clone(),
                job.address.clone(),
                job.key.clone(),
                job.name.clone(),
            );
            tokio::task::spawn_blocking(move || {
                p.message(&Recipient {
                    email: &address,
                    key: &key,
                    name: &name,
                })
            })
            .await
            .unwrap_or_default()
        } else {
            prepared.message(&Recipient {
                email: &job.address,
                key: &job.key,
                name: &job.name,
            })
        };
        let envelope = prepared.envelope(&job.address);
        if let Some(rx) = committed
            && rx.await.is_err()
        {
            return;
        }
        let mut attempt = 0;
        let finished = loop {
            attempt += 1;
            // With PIPELINING, the next message's envelope follows this body.
            if next.is_none() && channel.pipelines() && !halt.load(Ordering::SeqCst) {
                next = try_take(&jobs);
            }
            let follow = next.as_ref().map(|j| prepared.envelope(&j.address));
            let failure = match channel.send(&envelope, &message, follow.as_ref()).await {
                Ok((code, text)) => {
                    break Finished::Outcome(Outcome {
                        key: job.key.clone(),
                        status: RecipientStatus::Sent,
                        attempts: 1,
                        code: Some(code),
                        reply: Some(text),
                        message_id: Some(prepared.message_id(&job.key)),
                    });
                }
                Err(f) => f,
            };
            let (code, text) = match failure {
                Failure::Permanent { code, text } => {
                    break Finished::Outcome(Outcome {
                        key: job.key.clone(),
                        status: RecipientStatus::Bounced,
                        attempts: 1,
                        code,
                        reply: Some(text),
                        message_id: None,
                    });
                }
                Failure::Fatal(text) => break Finished::Fatal(job.key.clone(), text),
                // A relay we could never even connect to refuses everything.
                Failure::Unreachable(text) if attempt >= retry.max_attempts => {
                    break Finished::Fatal(job.key.clone(), text);
                }
                Failure::Unreachable(text) => (None, text),
                Failure::Transient { code, text } => (code, text),
            };
            if attempt >= retry.max_attempts {
                break Finished::Outcome(Outcome {
                    key: job.key.clone(),
                    status: RecipientStatus::Failed,
                    attempts: 1,
                    code,
                    reply: Some(text),
                    message_id: None,
                });
            }
            // The ledger shows the wait (`retrying`, the attempt and the
            // reply) while it lasts; a job taken for pipelining goes back to
            // the run rather than wait with this one.
            let retrying = Outcome {
                key: job.key.clone(),
                status: RecipientStatus::Retrying,
                attempts: 1,
                code,
                reply: Some(text),
                message_id: None,
            };
            if done.send(Done::Retrying(retrying)).is_err() {
                return;
            }
            if let Some(j) = next.take()
                && report(&done, Some(Finished::Unsent(j)), None)
                    .await
                    .is_err()
            {
                return;
            }
            tokio::time::sleep(retry.delay(attempt, &job.key)).await;
            // In flight again before the body can go out.
            if report(&done, None, Some(&job.key)).await.is_err() {
                return;
            }
        };
        last = Some(finished);
    }
    let _ = report(&done, last.take(), None).await;
    channel.close().await;
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Delivered in this run.
    pub delivered: u64,
    /// Ended `failed` in this run.
    pub failed: u64,
    /// Ended `bounced` in this run.
    pub bounced: u64,
    /// Skipped because suppressed after the list was frozen.
    pub skipped: u64,
    /// Left `uncertain` and not resent (`--no-resend-uncertain`).
    pub uncertain_left: u64,
    /// Stopped by a signal.
    pub interrupted: bool,
    /// Seconds spent.
    pub seconds: f64,
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Resend recipients left uncertain by a crash (at least once).
    pub resend_uncertain: bool,
    /// Parallel connections.
    pub concurrency: usize,
    /// Retry timing.
    pub retry: Retry,
    /// Messages per second, 0 = unlimited.
    pub rate_per_second: u32,
    /// Messages per hour, 0 = unlimited.
    pub max_per_hour: u32,
}

/// Sends an issue's open recipients; `stop` makes it take no new recipients,
/// finish the in-flight ones and return. Progress goes to `progress`.
pub async fn run(
    store: &Store,
    slot: chrono::NaiveDate,
    prepared: Arc<Prepared>,
    transport: &Transport,
    opts: &RunOptions,
    stop: Arc<AtomicBool>,
    progress: &dyn Reporter,
) -> Result<Summary, SendError> {
    let started = Instant::now();
    let mut statuses = vec![
        RecipientStatus::Pending,
        RecipientStatus::Retrying,
        RecipientStatus::Failed,
    ];
    if opts.resend_uncertain {
        statuses.push(RecipientStatus::Uncertain);
    }
    let mut summary = Summary::default();
    let total = store
        .counts(slot)
        .await
        .map_err(SendError::Store)?
        .by_status
        .iter()
        .filter(|(s, _)| statuses.contains(s))
        .map(|(_, n)| n)
        .sum::<u64>();
    // Jobs are handed to workers unmarked; a worker has its job marked in
    // flight, in the same commit as its previous result, and waits for that
    // commit before the body goes out. So at most one recipient per worker is
    // ever marked, and a crash leaves at most `concurrency` recipients
    // delivered but unrecorded (resent as uncertain). Two jobs per worker in
    // hand let a pipelining worker put the next envelope behind each body;
    // one more per worker waits in the queue so that the next is always there.
    let window = opts.concurrency * 3;
    let (job_tx, job_rx) = mpsc::channel::<Job>(window);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let halt = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..opts.concurrency {
        workers.push(tokio::spawn(worker(
            job_rx.clone(),
            done_tx.clone(),
            transport.channel()?,
            prepared.clone(),
            opts.retry,
            halt.clone(),
        )));
    }
    drop(done_tx);
    let mut job_tx = Some(job_tx);
    let mut limiter = Limiter::new(opts.rate_per_second);
    let mut hourly = Limiter::per_hour(opts.max_per_hour);
    progress.started(total);
    // Jobs a worker handed back unsent (their rate tokens already taken).
    let mut returned: VecDeque<Job> = VecDeque::new();
    // Handed to workers and not yet finished (or handed back).
    let mut in_flight = 0usize;
    let mut fatal: Option<String> = None;
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut marks: Vec<String> = Vec::new();
    let mut acks: Vec<oneshot::Sender<()>> = Vec::new();
    // Claims may be leases renewed as we go; the engine sizes its pages.
    let page = store.page_size(window);
    let renew_every = store.renew_every();
    let mut renewed = Instant::now();
    // Set when the store went out of reach: claim nothing more, collect what
    // is in flight, and try to record it at the end.
    let mut lost: Option<StoreError> = None;
    // A second pass (from the first key) picks up what hosts that died left.
    let rescan: Vec<RecipientStatus> = statuses
        .iter()
        .copied()
        .filter(|s| matches!(s, RecipientStatus::Pending | RecipientStatus::Uncertain))
        .collect();
    let mut rescanning = false;
    let mut pages = Pages::new(store, slot, page, statuses.clone());
    loop {
        // Top up the window.
        let mut handed: Vec<Job> = Vec::new();
        let mut skipped: Vec<Outcome> = Vec::new();
        let halted = stop.load(Ordering::SeqCst) || fatal.is_some() || lost.is_some();
        if halted {
            halt.store(true, Ordering::SeqCst);
            returned.clear();
        } else {
            while in_flight + handed.len() < window
                && let Some(job) = returned.pop_front()
            {
                handed.push(job);
            }
            // Take a recipient only when the rate limits allow sending it
            // now, so nobody waits "in flight" for a token.
            while in_flight + handed.len() < window && limiter.ready() && hourly.ready() {
                let r = match pages.next(store).await {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        lost = Some(e);
                        break;
                    }
                };
                if pages.suppressed(&r.key) || store.suppressed_since_claim(&r.key) {
                    skipped.push(Outcome {
                        key: r.key,
                        status: RecipientStatus::Skipped,
                        attempts: 0,
                        code: None,
                        reply: Some("suppressed after the list was frozen".into()),
                        message_id: None,
                    });
                    continue;
                }
                match r.address.parse::<Address>() {
                    Ok(address) => {
                        limiter.take();
                        hourly.take();
                        handed.push(Job {
                            key: r.key,
                            address,
                            name: r.name,
                        })
                    }
                    Err(e) => skipped.push(Outcome {
                        key: r.key,
                        status: RecipientStatus::Bounced,
                        attempts: 0,
                        code: None,
                        reply: Some(format!("invalid address: {e}")),
                        message_id: None,
                    }),
                }
            }
        }
        summary.skipped += skipped
            .iter()
            .filter(|o| o.status == RecipientStatus::Skipped)
            .count() as u64;
        summary.bounced += skipped
            .iter()
            .filter(|o| o.status == RecipientStatus::Bounced)
            .count() as u64;
        outcomes.extend(skipped);
        // Group commit: everything finished so far, and the workers' new marks.
        let keys: Vec<&str> = marks.iter().map(String::as_str).collect();
        // Nothing goes out unmarked: if this commit fails, the workers
        // waiting for these marks get no ack and send nothing more; the
        // outcomes are kept for one last try at the end.
        if lost.is_none()
            && let Err(e) = store.commit(slot, &keys, &outcomes).await
        {
            lost = Some(e);
        }
        marks.clear();
        if lost.is_some() {
            acks.clear();
            handed.clear();
            halt.store(true, Ordering::SeqCst);
            // Idle workers wait for jobs: closing the queue lets them end, so
            // the loop ends once the in-flight ones have reported.
            job_tx = None;
        } else if renewed.elapsed() >= renew_every {
            if let Err(e) = store.renew(slot).await {
                lost = Some(e);
            }
            renewed = Instant::now();
        }
        // New jobs first, so that a worker woken by its ack finds the next
        // job to pipeline behind the body it is about to send.
        for job in handed {
            let Some(tx) = job_tx.as_ref() else { break };
            if tx.send(job).await.is_err() {
                break;
            }
            in_flight += 1;
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
        if lost.is_none() {
            outcomes.retain(|o| o.status != RecipientStatus::Retrying);
            progress.advanced(&outcomes);
            outcomes.clear();
        }
        let more = !(pages.done() && returned.is_empty());
        if in_flight == 0 && !more && !halted && lost.is_none() {
            // Our pass is over. Hosts that died leave claims that expire:
            // their in-flight rows become uncertain, their pending rows free.
            // Take those over; while a live host still holds open rows, wait
            // for it (it may die too), polling a few times a second.
            if rescanning {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            match store.left_by_others(slot, &rescan).await {
                Ok(true) => {
                    rescanning = true;
                    pages.restart(rescan.clone());
                    continue;
                }
                Ok(false) => {}
                Err(e) => lost = Some(e),
            }
        }
        let halted = halted || lost.is_some();
        if in_flight == 0 && (halted || !more) {
            break;
        }
        // Wait for at least one report (or for the rate limit to allow the
        // next message), then take whatever else is ready.
        let pause = limiter.until_ready().max(hourly.until_ready());
        let first = if in_flight == 0 || (more && !halted && !pause.is_zero()) {
            tokio::select! {
                d = done_rx.recv(), if in_flight > 0 => d,
                _ = tokio::time::sleep(pause) => continue,
            }
        } else {
            done_rx.recv().await
        };
        let Some(first) = first else {
            break;
        };
        let mut next = Some(first);
        while let Some(d) = next {
            next = done_rx.try_recv().ok();
            let (finished, mark, ack) = match d {
                Done::Retrying(o) => {
                    outcomes.push(o);
                    continue;
                }
                Done::Report {
                    finished,
                    mark,
                    ack,
                } => (finished, mark, ack),
            };
            marks.extend(mark);
            acks.extend(ack);
            let Some(finished) = finished else { continue };
            in_flight -= 1;
            match finished {
                Finished::Unsent(job) => returned.push_back(job),
                Finished::Outcome(o) => {
                    match o.status {
                        RecipientStatus::Sent => summary.delivered += 1,
                        RecipientStatus::Bounced => {
                            summary.bounced += 1;
                            let reason = format!(
                                "bounced: {}",
                                o.reply.as_deref().unwrap_or("permanent failure")
                            );
                            // Suppress before the ledger says bounced, so a crash in between loses nothing.
                            if let Err(e) =
                                store.suppress(&o.key, &reason, chrono::Utc::now()).await
                            {
                                lost.get_or_insert(e);
                            }
                        }
                        RecipientStatus::Failed => summary.failed += 1,
                        _ => {}
                    }
                    outcomes.push(o);
                }
                Finished::Fatal(key, text) => {
                    // Not delivered: back to pending for the next run.
                    outcomes.push(Outcome {
                        key,
                        status: RecipientStatus::Pending,
                        attempts: 0,
                        code: None,
                        reply: Some(text.clone()),
                        message_id: None,
                    });
                    if fatal.is_none() {
                        fatal = Some(text);
                        // Workers hand back what they hold unsent; queued jobs
                        // drain back unsent too (`halt`).
                        halt.store(true, Ordering::SeqCst);
                    }
                }
            }
        }
    }
    // A page still being claimed ahead is waited for, so that the release
    // below gives its rows back too (their lease would hold them from every
    // other host, and from this host's next run, until it ran out).
    pages.settle().await;
    // The last results (after a lost store: one more try, with its retries).
    let keys: Vec<&str> = marks.iter().map(String::as_str).collect();
    let last = store.commit(slot, &keys, &outcomes).await;
    drop(acks);
    outcomes.retain(|o| o.status != RecipientStatus::Retrying);
    progress.advanced(&outcomes);
    drop(job_tx);
    for w in workers {
        let _ = w.await;
    }
    progress.finished();
    if let Err(e) = last {
        return Err(SendError::Store(lost.unwrap_or(e)));
    }
    if let Some(e) = lost {
        return Err(SendError::Store(e));
    }
    // A clean stop gives back what we claimed and did not send.
    store.release(slot).await.map_err(SendError::Store)?;
    summary.interrupted = stop.load(Ordering::SeqCst);
    summary.seconds = started.elapsed().as_secs_f64();
    let counts = store.counts(slot).await.map_err(SendError::Store)?;
    if !opts.resend_uncertain {
        summary.uncertain_left = counts.get(RecipientStatus::Uncertain);
    }
    if let Some(f) = fatal {
        return Err(match transport {
            Transport::Outbox(_) => SendError::Stopped(f),
            Transport::Smtp(_) => SendError::Relay(f),
        });
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_with_jitter_and_cap() {
        let r = Retry {
            max_attempts: 5,
            base: Duration::from_millis(1000),
        };
        for (attempt, base_ms) in [
            (1u32, 1000u64),
            (2, 2000),
            (3, 4000),
            (7, 60_000),
            (30, 60_000),
        ] {
            let d = r.delay(attempt, "a@x").as_millis() as u64;
            assert!(
                d >= base_ms * 3 / 4 && d <= base_ms * 5 / 4,
                "attempt {attempt}: {d}"
            );
        }
    }
}
