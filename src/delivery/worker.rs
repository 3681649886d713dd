//! One worker: takes jobs from the run loop's queue, has each marked in
//! flight (in the same commit as its previous result) before the body goes
//! out over its own [`Channel`], retries with backoff, and reports every end.
//!
//! Owns what a worker may do between two reports. Must not touch the store:
//! everything it learns goes back to the run loop as a [`Done`], and a body
//! goes out only once the run loop acknowledged the commit of its mark.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lettre::Address;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::error::Failure;
use super::options::Retry;
use super::pause::Paused;
use super::refusal::suppresses;
use super::transport::Channel;
use crate::mail::prepared::{Prepared, Recipient};
use crate::store::{Outcome, RecipientStatus};

/// One recipient to send, as the run loop hands it out (unmarked).
pub(super) struct Job {
    pub(super) key: String,
    pub(super) address: Address,
    pub(super) name: String,
}

/// How a worker's job ended.
pub(super) enum Finished {
    /// Sent, bounced or failed for good: recorded as it is.
    Outcome(Outcome),
    /// The relay refused as a whole; the job was not delivered.
    Fatal(String, String),
    /// Handed back unsent: the run is stopping, or the worker must wait.
    Unsent(Job),
}

/// What a worker reports to the run loop.
pub(super) enum Done {
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

/// Sends jobs from `jobs` over `channel` until the queue closes; `halt` makes
/// it hand back what it holds unsent, and so does a job whose provider is
/// `paused`.
pub(super) async fn worker(
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    done: mpsc::UnboundedSender<Done>,
    mut channel: Channel,
    prepared: Arc<Prepared>,
    retry: Retry,
    halt: Arc<AtomicBool>,
    paused: Arc<Paused>,
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
        if halt.load(Ordering::SeqCst) || paused.holds(job.address.as_ref()) {
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
            let sent = channel.send(&envelope, &message, follow.as_ref()).await;
            let relay = channel.relay();
            let failure = match sent {
                Ok((code, text)) => {
                    break Finished::Outcome(Outcome {
                        key: job.key.clone(),
                        status: RecipientStatus::Sent,
                        attempts: 1,
                        code: Some(code),
                        reply: Some(text),
                        message_id: Some(prepared.message_id(&job.key)),
                        relay,
                    });
                }
                Err(f) => f,
            };
            let (code, text) = match failure {
                // Only a refusal of the address itself bounces (and
                // suppresses); any other 5xx fails, to be retried next run.
                Failure::Permanent { code, text } => {
                    let status = if suppresses(code, &text) {
                        RecipientStatus::Bounced
                    } else {
                        RecipientStatus::Failed
                    };
                    break Finished::Outcome(Outcome {
                        key: job.key.clone(),
                        status,
                        attempts: 1,
                        code,
                        reply: Some(text),
                        message_id: None,
                        relay,
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
                    relay,
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
                relay,
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
