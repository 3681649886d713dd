//! One-click unsubscribes as group commits: each request prepares its event
//! (its own reads, done concurrently) and hands it to one committer task,
//! which records everything that queued up while the previous commit was
//! being flushed in one transaction of the store (on the embedded engine one
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
    prepared: Prepared,
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

    /// [`Policy::unsubscribe`] of `email`, recorded in the next group commit.
    pub async fn unsubscribe(
        &self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Applied, PolicyError> {
        let prepared = self
            .policy
            .prepare_unsubscribe(&*self.store, email, now)
            .await?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            prepared: prepared.clone(),
            now,
            reply,
        };
        if self.jobs.send(job).await.is_ok()
            && let Ok(result) = answer.await
        {
            return result;
        }
        // The committer is gone (it only stops with the server): alone.
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

/// Takes what queued up, commits it as one, answers each; repeats.
async fn commit_loop(policy: Policy, store: Store, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut jobs, BATCH).await > 0 {
        let batch: Vec<Prepared> = jobs.iter().map(|j| j.prepared.clone()).collect();
        let now = jobs.iter().map(|j| j.now).max().unwrap_or_else(Utc::now);
        match policy.apply_all(&*store, &batch, now).await {
            Ok(done) => {
                for (job, applied) in jobs.drain(..).zip(done) {
                    let _ = job.reply.send(Ok(applied));
                }
            }
            // One bad event must not fail the others: each alone, with its
            // own answer.
            Err(_) if jobs.len() > 1 => {
                for job in jobs.drain(..) {
                    let result = alone(&policy, &store, job.prepared, job.now).await;
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                if let Some(job) = jobs.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
        }
        jobs.clear();
    }
}
