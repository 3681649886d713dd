//! One-click unsubscribes as group commits: each request hands its address
//! to one committer task, which prepares everything that queued up while the
//! previous commit was being flushed (the reads of each, at once) and records
//! it in one transaction of the store (on the embedded engine one
//! append and one flush of the suppression file for all of them). A request
//! is answered only after the commit that carries it, so each unsubscribe is
//! on disk before its answer, and a burst costs one flush per batch instead
//! of one per click.
//!
//! Owns the queue and the batching; what an unsubscribe does is
//! [`Policy::apply_all`]'s. It must not print: the caller logs.

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::policy::{Applied, Policy, PolicyError, Prepared};
use crate::store::Store;

/// At most this many unsubscribes in one commit.
const BATCH: usize = 512;
/// Requests waiting for a commit beyond this wait to be queued.
const QUEUE: usize = 4096;

struct Job {
    email: String,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<Applied, PolicyError>>,
}

/// The committer's handle, shared by the requests.
pub struct Unsubscribes {
    policy: Policy,
    store: Store,
    jobs: mpsc::Sender<Job>,
}

impl Unsubscribes {
    /// Starts the committer on the current tokio runtime; it stops when the
    /// handle is dropped.
    pub fn start(policy: Policy, store: Store) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(commit_loop(policy.clone(), store.clone(), queue));
        Self {
            policy,
            store,
            jobs,
        }
    }

    /// [`Policy::unsubscribe`] of `email`, recorded in the next group
    /// commit; answered once that commit is done.
    pub async fn unsubscribe(
        &self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Applied, PolicyError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            email: email.to_string(),
            now,
            reply,
        };
        if self.jobs.send(job).await.is_ok()
            && let Ok(result) = answer.await
        {
            return result;
        }
        // The committer is gone (it only stops with the server): alone.
        let prepared = self
            .policy
            .prepare_unsubscribe(&*self.store, email, now)
            .await?;
        alone(&self.policy, &self.store, prepared, now).await
    }
}

async fn alone(
    policy: &Policy,
    store: &Store,
    prepared: Prepared,
    now: DateTime<Utc>,
) -> Result<Applied, PolicyError> {
    let mut done = policy.apply_all(&**store, &[prepared], now).await?;
    Ok(done.pop().unwrap_or_default())
}

/// Takes what queued up, prepares each (their reads at once), commits them
/// as one, answers each; repeats. The requests never touch the store here,
/// so they keep queueing while a commit waits for the disk.
async fn commit_loop(policy: Policy, store: Store, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut jobs, BATCH).await > 0 {
        let preparing = jobs
            .iter()
            .map(|j| policy.prepare_unsubscribe(&*store, &j.email, j.now));
        let prepared = futures_util::future::join_all(preparing).await;
        let mut ready = Vec::with_capacity(jobs.len());
        for (job, p) in jobs.drain(..).zip(prepared) {
            match p {
                Ok(p) => ready.push((job, p)),
                Err(e) => {
                    let _ = job.reply.send(Err(e));
                }
            }
        }
        let batch: Vec<Prepared> = ready.iter().map(|(_, p)| p.clone()).collect();
        let now = ready
            .iter()
            .map(|(j, _)| j.now)
            .max()
            .unwrap_or_else(Utc::now);
        match policy.apply_all(&*store, &batch, now).await {
            Ok(done) => {
                for ((job, _), applied) in ready.into_iter().zip(done) {
                    let _ = job.reply.send(Ok(applied));
                }
            }
            // One bad event must not fail the others: each alone, with its
            // own answer.
            Err(_) if ready.len() > 1 => {
                for (job, p) in ready {
                    let _ = job.reply.send(alone(&policy, &store, p, job.now).await);
                }
            }
            Err(e) => {
                if let Some((job, _)) = ready.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
        }
    }
}
