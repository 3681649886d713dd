//! The run loop: hands an issue's open recipients to the workers and records
//! every result, one round at a time.
//!
//! A round is a few named steps on one [`Run`]: [`top_up`](Run::top_up) the
//! window from the pages (under the rate limit and the caps, skipping the
//! suppressed),
//! [`commit`](Run::commit) everything finished together with the workers' new
//! marks (group commit, lease renewal), [`hand_out`](Run::hand_out) the new
//! jobs and the acks, [`tell`](Run::tell) the reporter, and, once our pass is
//! over, [`rescan`](Run::rescan) for rows left by hosts that died; then
//! [`wait`](Run::wait) for the workers and [`collect`](Run::collect) their
//! reports. [`finish`](Run::finish) records the last results, releases
//! what was claimed and not sent, and keeps the run's provider pauses in the
//! store.
//!
//! The invariants it keeps: a recipient is marked in flight in the same commit
//! as its worker's previous result, and its body goes out only after that
//! commit (the ack), so at most one message per worker is ever delivered but
//! unrecorded; a bounced reader is suppressed before the ledger says bounced;
//! a lost store stops all claiming, and what is in flight is recorded at the
//! end. Must not render or touch the wire: workers do.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use lettre::Address;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::error::SendError;
use super::options::QuotaStop;
use super::options::{RunOptions, Summary};
use super::pages::Pages;
use super::pause::{Pause, Pauses};
use super::quota::Allowance;
use super::reporter::Reporter;
use super::throttle::Limiter;
use super::transport::Transport;
use super::worker::{Done, Finished, Job, worker};
use crate::list::SuppressionReason;
use crate::mail::prepared::Prepared;
use crate::store::{Outcome, PauseRecord, RecipientStatus, Store, StoreError};

/// Sends an issue's open recipients; `stop` makes it take no new recipients,
/// finish the in-flight ones and return. Progress goes to `progress`.
pub async fn run(
    store: &Store,
    slot: NaiveDate,
    prepared: Arc<Prepared>,
    transport: &Transport,
    opts: &RunOptions,
    stop: Arc<AtomicBool>,
    progress: &dyn Reporter,
) -> Result<Summary, SendError> {
    let mut run = Run::start(store, slot, prepared, transport, opts, stop, progress).await?;
    run.drive().await;
    run.finish(transport, opts.resend_uncertain).await
}

/// The longest last reply a kept pause holds, in characters.
const MAX_REPLY: usize = 1000;

/// `paused`, as the ledger keeps them: of `slot`, at `ended`.
fn records(slot: NaiveDate, paused: &[Pause], ended: DateTime<Utc>) -> Vec<PauseRecord> {
    let at = ended.to_rfc3339_opts(SecondsFormat::Secs, true);
    paused
        .iter()
        .map(|p| PauseRecord {
            slot,
            provider: p.provider.clone(),
            refusals: p.refusals,
            last_reply: p.last_reply.chars().take(MAX_REPLY).collect(),
            left: p.left,
            at: at.clone(),
        })
        .collect()
}

/// What the loop waited for.
enum Wait {
    /// A worker's report.
    Report(Done),
    /// The rate limits allow the next message: top up again.
    Pause,
    /// Every worker is gone.
    Closed,
}

/// One run's state between two steps of its loop.
struct Run<'a> {
    store: &'a Store,
    slot: NaiveDate,
    progress: &'a dyn Reporter,
    started: Instant,
    /// Set by the caller (a signal): take no new recipients, finish, return.
    stop: Arc<AtomicBool>,
    /// Tells the workers to hand back what they hold unsent.
    halt: Arc<AtomicBool>,
    /// How many jobs may be handed out and not yet finished.
    window: usize,
    /// The workers' queue; `None` once closed after a lost store.
    job_tx: Option<mpsc::Sender<Job>>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    workers: Vec<JoinHandle<()>>,
    limiter: Limiter,
    /// The caps' sends, reserved from the store as they go out.
    quota: Allowance,
    /// `rate_per_second` (0: none), which bounds a reservation to about a
    /// second's sends.
    rate: u32,
    pages: Pages,
    /// What a second pass (from the first key) takes over from hosts that died.
    rescan: Vec<RecipientStatus>,
    rescanning: bool,
    /// Claims may be leases renewed as we go.
    renew_every: Duration,
    renewed: Instant,
    /// Taken this round, handed out once the round's commit is done.
    handed: Vec<Job>,
    /// Jobs a worker handed back unsent (their rate tokens already taken).
    returned: VecDeque<Job>,
    /// Handed to workers and not yet finished (or handed back).
    in_flight: usize,
    /// Ends to record in the next commit.
    outcomes: Vec<Outcome>,
    /// Keys to mark in flight in the next commit.
    marks: Vec<String>,
    /// Fired once the marks are committed.
    acks: Vec<oneshot::Sender<()>>,
    /// The relay (or the outbox) refused as a whole.
    fatal: Option<String>,
    /// Providers refusing us for sender-level reasons, paused for this run.
    pauses: Pauses,
    /// Set when the store went out of reach: claim nothing more, collect what
    /// is in flight, and try to record it at the end.
    lost: Option<StoreError>,
    /// When the hold (`tipsheet hold`) was last looked at.
    hold_checked: Instant,
    /// The command's clock when the run started (`--now` moves it).
    now: DateTime<Utc>,
    summary: Summary,
}

/// How often a run looks for a hold on its issue (one cheap read).
const HOLD_EVERY: Duration = Duration::from_secs(2);

impl<'a> Run<'a> {
    /// Counts the open recipients, starts the workers, tells `started`.
    async fn start(
        store: &'a Store,
        slot: NaiveDate,
        prepared: Arc<Prepared>,
        transport: &Transport,
        opts: &RunOptions,
        stop: Arc<AtomicBool>,
        progress: &'a dyn Reporter,
    ) -> Result<Self, SendError> {
        let started = Instant::now();
        let mut statuses = vec![
            RecipientStatus::Pending,
            RecipientStatus::Retrying,
            RecipientStatus::Failed,
        ];
        if opts.resend_uncertain {
            statuses.push(RecipientStatus::Uncertain);
        }
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
        let (done_tx, done_rx) = mpsc::unbounded_channel::<Done>();
        let halt = Arc::new(AtomicBool::new(false));
        let pauses = Pauses::new(opts.provider_pause_after);
        let mut workers = Vec::new();
        for _ in 0..opts.concurrency {
            workers.push(tokio::spawn(worker(
                job_rx.clone(),
                done_tx.clone(),
                transport.channel()?,
                prepared.clone(),
                opts.retry,
                halt.clone(),
                pauses.shared(),
            )));
        }
        drop(done_tx);
        let limiter = Limiter::new(opts.rate_per_second);
        let quota = Allowance::new(opts.quota.clone(), opts.now);
        progress.started(total);
        // The engine sizes its pages.
        let page = store.page_size(window);
        let renew_every = store.renew_every();
        let renewed = Instant::now();
        let rescan = statuses
            .iter()
            .copied()
            .filter(|s| matches!(s, RecipientStatus::Pending | RecipientStatus::Uncertain))
            .collect();
        Ok(Self {
            store,
            slot,
            progress,
            started,
            stop,
            halt,
            window,
            job_tx: Some(job_tx),
            done_rx,
            workers,
            limiter,
            quota,
            rate: opts.rate_per_second,
            pages: Pages::new(store, slot, page, statuses),
            rescan,
            rescanning: false,
            renew_every,
            renewed,
            handed: Vec::new(),
            returned: VecDeque::new(),
            in_flight: 0,
            outcomes: Vec::new(),
            marks: Vec::new(),
            acks: Vec::new(),
            fatal: None,
            pauses,
            lost: None,
            hold_checked: Instant::now(),
            now: opts.now,
            summary: Summary::default(),
        })
    }

    /// Rounds until nothing is left in flight and nothing more is to be taken
    /// (or the run stops).
    async fn drive(&mut self) {
        loop {
            self.check_hold().await;
            let halted = self.stopping()
                || self.fatal.is_some()
                || self.lost.is_some()
                || self.pauses.relay_paused();
            if halted {
                self.halt.store(true, Ordering::SeqCst);
                self.returned.clear();
            } else {
                self.top_up().await;
            }
            self.commit().await;
            self.hand_out().await;
            self.tell();
            // At a cap nothing more is taken; what was handed back still
            // goes (its send is counted already).
            let taking = !self.pages.done() && !self.quota.stopped();
            let more = taking || !self.returned.is_empty();
            // A paused provider's rows stay open on purpose: no rescan for
            // them, nor at a cap.
            if self.in_flight == 0
                && !more
                && !halted
                && self.lost.is_none()
                && !self.pauses.any()
                && !self.quota.stopped()
                && self.rescan().await
            {
                continue;
            }
            let halted = halted || self.lost.is_some();
            if self.in_flight == 0 && (halted || !more) {
                break;
            }
            match self.wait(more, halted).await {
                Wait::Report(first) => self.collect(first).await,
                Wait::Pause => continue,
                Wait::Closed => break,
            }
        }
    }

    /// Every [`HOLD_EVERY`]: an issue put on hold meanwhile (from any host)
    /// stops the run as a signal does (without stopping `run`'s daemon): nothing new is taken, what is in
    /// flight finishes and is recorded. A failed read is left to the claims.
    async fn check_hold(&mut self) {
        if self.stopping() || self.hold_checked.elapsed() < HOLD_EVERY {
            return;
        }
        self.hold_checked = Instant::now();
        if let Ok(Some(_)) = self.store.hold_of(self.slot).await {
            self.summary.held = true;
        }
    }

    /// Stopped by a signal or a hold: take nothing new.
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.summary.held
    }

    /// Tops up the window: jobs handed back first, then recipients from the
    /// pages, the suppressed and the unaddressable recorded as they are met;
    /// a paused provider's recipients are left as they are (pending).
    async fn top_up(&mut self) {
        while self.in_flight + self.handed.len() < self.window
            && let Some(job) = self.returned.pop_front()
        {
            if self.pauses.holds(&job.key) {
                self.pauses.left(&job.key);
                self.quota.never_sent(&job.key);
            } else {
                self.handed.push(job);
            }
        }
        // Take a recipient only when the rate limit and the caps allow
        // sending it now, so nobody waits "in flight" for a token.
        while self.in_flight + self.handed.len() < self.window && self.limiter.ready() {
            // Reserve about what goes out now: the room left in the window,
            // no more than a second's worth under a rate limit.
            let mut want = self.window - self.in_flight - self.handed.len();
            if self.rate > 0 {
                want = want.min(self.rate as usize);
            }
            match self.quota.ready(self.store, want).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    self.lost = Some(e);
                    break;
                }
            }
            let r = match self.pages.next(self.store).await {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    self.lost = Some(e);
                    break;
                }
            };
            if self.pauses.holds(&r.key) {
                self.pauses.left(&r.key);
                continue;
            }
            if self.pages.suppressed(&r.key) || self.store.suppressed_since_claim(&r.key) {
                self.summary.skipped += 1;
                self.outcomes.push(Outcome {
                    key: r.key,
                    status: RecipientStatus::Skipped,
                    attempts: 0,
                    code: None,
                    reply: Some("suppressed after the list was frozen".into()),
                    message_id: None,
                    relay: None,
                });
                continue;
            }
            match r.address.parse::<Address>() {
                Ok(address) => {
                    self.limiter.take();
                    self.quota.take(&r.key);
                    self.handed.push(Job {
                        key: r.key,
                        address,
                        name: r.name,
                    })
                }
                Err(e) => {
                    self.summary.bounced += 1;
                    self.outcomes.push(Outcome {
                        key: r.key,
                        status: RecipientStatus::Bounced,
                        attempts: 0,
                        code: None,
                        reply: Some(format!("invalid address: {e}")),
                        message_id: None,
                        relay: None,
                    })
                }
            }
        }
    }

    /// Group commit: everything finished so far, and the workers' new marks;
    /// the claims' lease renewed when due.
    async fn commit(&mut self) {
        let keys: Vec<&str> = self.marks.iter().map(String::as_str).collect();
        // Nothing goes out unmarked: if this commit fails, the workers
        // waiting for these marks get no ack and send nothing more; the
        // outcomes are kept for one last try at the end.
        if self.lost.is_none()
            && let Err(e) = self.store.commit(self.slot, &keys, &self.outcomes).await
        {
            self.lost = Some(e);
        }
        self.marks.clear();
        if self.lost.is_some() {
            self.acks.clear();
            self.handed.clear();
            self.halt.store(true, Ordering::SeqCst);
            // Idle workers wait for jobs: closing the queue lets them end, so
            // the loop ends once the in-flight ones have reported.
            self.job_tx = None;
        } else if self.renewed.elapsed() >= self.renew_every {
            if let Err(e) = self.store.renew(self.slot).await {
                self.lost = Some(e);
            }
            self.renewed = Instant::now();
        }
    }

    /// Hands this round's jobs to the workers, then lets the workers whose
    /// marks were just committed send.
    async fn hand_out(&mut self) {
        // New jobs first, so that a worker woken by its ack finds the next
        // job to pipeline behind the body it is about to send.
        for job in self.handed.drain(..) {
            let Some(tx) = self.job_tx.as_ref() else {
                break;
            };
            if tx.send(job).await.is_err() {
                break;
            }
            self.in_flight += 1;
        }
        for ack in self.acks.drain(..) {
            let _ = ack.send(());
        }
    }

    /// Tells the reporter what was just recorded (after a lost store nothing
    /// was, and the outcomes wait for the last try).
    fn tell(&mut self) {
        if self.lost.is_none() {
            self.outcomes
                .retain(|o| o.status != RecipientStatus::Retrying);
            self.progress.advanced(&self.outcomes);
            self.outcomes.clear();
        }
    }

    /// Our pass is over. Hosts that died leave claims that expire: their
    /// in-flight rows become uncertain, their pending rows free. Takes those
    /// over (true: go round again); while a live host still holds open rows,
    /// waits for it (it may die too), polling a few times a second.
    async fn rescan(&mut self) -> bool {
        if self.rescanning {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        match self.store.left_by_others(self.slot, &self.rescan).await {
            Ok(true) => {
                self.rescanning = true;
                self.pages.restart(self.rescan.clone());
                true
            }
            Ok(false) => false,
            Err(e) => {
                self.lost = Some(e);
                false
            }
        }
    }

    /// Waits for at least one report (or for the rate limit to allow the
    /// next message).
    async fn wait(&mut self, more: bool, halted: bool) -> Wait {
        let pause = self.limiter.until_ready().max(self.quota.until_ready());
        let first = if self.in_flight == 0 || (more && !halted && !pause.is_zero()) {
            tokio::select! {
                d = self.done_rx.recv(), if self.in_flight > 0 => d,
                _ = tokio::time::sleep(pause) => return Wait::Pause,
            }
        } else {
            self.done_rx.recv().await
        };
        match first {
            Some(d) => Wait::Report(d),
            None => Wait::Closed,
        }
    }

    /// Takes `first` and whatever other reports are ready: marks and acks for
    /// the next commit, ends for the summary and the ledger.
    async fn collect(&mut self, first: Done) {
        let mut next = Some(first);
        while let Some(d) = next {
            next = self.done_rx.try_recv().ok();
            let (finished, mark, ack) = match d {
                Done::Retrying(o) => {
                    self.outcomes.push(o);
                    continue;
                }
                Done::Report {
                    finished,
                    mark,
                    ack,
                } => (finished, mark, ack),
            };
            self.marks.extend(mark);
            self.acks.extend(ack);
            let Some(finished) = finished else { continue };
            self.in_flight -= 1;
            match finished {
                Finished::Unsent(job) => self.returned.push_back(job),
                Finished::Outcome(o) => self.ended(o).await,
                Finished::Fatal(key, text) => self.refused(key, text),
            }
        }
    }

    /// A job ended sent, bounced or failed.
    async fn ended(&mut self, o: Outcome) {
        self.quota.reached(&o.key);
        match o.status {
            RecipientStatus::Sent => {
                self.summary.delivered += 1;
                self.pauses.delivered(&o.key);
            }
            RecipientStatus::Bounced => {
                self.summary.bounced += 1;
                let reason =
                    SuppressionReason::bounced(o.reply.as_deref().unwrap_or("permanent failure"))
                        .to_string();
                // Suppress before the ledger says bounced, so a crash in between loses nothing.
                if let Err(e) = self
                    .store
                    .suppress(&o.key, &reason, chrono::Utc::now())
                    .await
                {
                    self.lost.get_or_insert(e);
                }
            }
            RecipientStatus::Failed => {
                self.summary.failed += 1;
                // A reply from a server (not a lost connection) may be a
                // sender-level refusal: count it towards a pause.
                if let (Some(_), Some(reply)) = (o.code, o.reply.as_deref()) {
                    self.pauses.refused(&o.key, o.code, reply);
                }
            }
            _ => {}
        }
        self.outcomes.push(o);
    }

    /// The relay (or the outbox) refused as a whole: the job goes back to
    /// pending for the next run, and the run stops.
    fn refused(&mut self, key: String, text: String) {
        self.quota.never_sent(&key);
        self.outcomes.push(Outcome {
            key,
            status: RecipientStatus::Pending,
            attempts: 0,
            code: None,
            reply: Some(text.clone()),
            message_id: None,
            relay: None,
        });
        if self.fatal.is_none() {
            self.fatal = Some(text);
            // Workers hand back what they hold unsent; queued jobs
            // drain back unsent too (`halt`).
            self.halt.store(true, Ordering::SeqCst);
        }
    }

    /// Records the last results, waits for the workers, gives back what was
    /// claimed and not sent, and sums up.
    async fn finish(
        mut self,
        transport: &Transport,
        resend_uncertain: bool,
    ) -> Result<Summary, SendError> {
        // A page still being claimed ahead is waited for, so that the release
        // below gives its rows back too (their lease would hold them from every
        // other host, and from this host's next run, until it ran out).
        self.pages.settle().await;
        // The last results (after a lost store: one more try, with its retries).
        let keys: Vec<&str> = self.marks.iter().map(String::as_str).collect();
        let last = self.store.commit(self.slot, &keys, &self.outcomes).await;
        self.acks.clear();
        self.outcomes
            .retain(|o| o.status != RecipientStatus::Retrying);
        self.progress.advanced(&self.outcomes);
        self.job_tx = None;
        for w in self.workers.drain(..) {
            let _ = w.await;
        }
        self.progress.finished();
        if let Err(e) = last {
            return Err(SendError::Store(self.lost.unwrap_or(e)));
        }
        if let Some(e) = self.lost {
            return Err(SendError::Store(e));
        }
        // A clean stop gives back what we claimed and did not send.
        self.store
            .release(self.slot)
            .await
            .map_err(SendError::Store)?;
        let interrupted = self.stopping();
        let mut summary = self.summary;
        summary.interrupted = interrupted;
        summary.seconds = self.started.elapsed().as_secs_f64();
        let counts = self
            .store
            .counts(self.slot)
            .await
            .map_err(SendError::Store)?;
        if !resend_uncertain {
            summary.uncertain_left = counts.get(RecipientStatus::Uncertain);
        }
        summary.paused = self
            .pauses
            .into_pauses(counts.get(RecipientStatus::Pending));
        // The pauses are kept, for the console to warn about after this run.
        let ended =
            self.now + chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default();
        self.store
            .record_pauses(&records(self.slot, &summary.paused, ended))
            .await
            .map_err(SendError::Store)?;
        // Sends reserved and never handed out go back to the caps, and so
        // do those handed out that never reached the relay (handed back
        // unsent, or refused with everything).
        for job in self.returned.iter().chain(&self.handed) {
            self.quota.never_sent(&job.key);
        }
        let capped = self
            .quota
            .finish(self.store)
            .await
            .map_err(SendError::Store)?;
        let left = counts.get(RecipientStatus::Pending);
        summary.quota =
            capped
                .filter(|_| left > 0)
                .map(|(cap, until)| QuotaStop { cap, until, left });
        if let Transport::Smtp(relays) = transport {
            summary.relays = relays.uses();
        }
        if let Some(f) = self.fatal {
            return Err(match transport {
                Transport::Outbox(_) => SendError::Stopped(f),
                Transport::Smtp(_) => SendError::Relay(f),
            });
        }
        Ok(summary)
    }
}
