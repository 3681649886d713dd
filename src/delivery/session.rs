//! One delivery session as a library call: lock → freeze → recover → run →
//! finish (keeping in the store when a send a cap stopped may continue),
//! plus the dry run and the test send, each returning a typed report.
//!
//! Owns the order of the steps and what they add up to (the store's engine
//! says what "lock" and "freeze" mean for it). It never prints and never exits: progress and the
//! steps worth telling go through a [`Reporter`] the caller implements, and
//! the outcome comes back as a [`Delivered`], [`DryRun`] or [`TestSent`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime};

use chrono::NaiveDate;
use lettre::Address;

use super::error::SendError;
use super::options::{QuotaLimits, Retry, RunOptions, Summary};
use super::reporter::Reporter;
use super::run::run;
use super::transport::{Transport, send_one};
use crate::config::{Config, TransportKind};
use crate::content::Library;
use crate::content::issue::Issue;
use crate::diagnostic::Diagnostic;
use crate::editorial::{self, EditorialError};
use crate::list;
use crate::list::ListCounts;
use crate::mail::prepared::Recipient;
use crate::mail::token::Signer;
use crate::mail::{self, PrepareError};
use crate::plan::{self, PlanError};
use crate::schedule::{Schedule, Slot};
use crate::store::{Counts, IssueStatus, LedgerError, RecipientStatus, Store, StoreError};

/// Why a session did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The issue is on hold or awaits approval (or cannot be approved).
    #[error(transparent)]
    Editorial(#[from] EditorialError),
    /// Another run holds the lock.
    #[error(
        "another tipsheet run holds `{}`; nothing was sent (wait for it to finish, or check it with `tipsheet status`)",
        .0.display()
    )]
    Locked(PathBuf),
    /// The state folder or the lock file cannot be used.
    #[error("{what} `{}`", path.display())]
    State {
        /// What failed, e.g. "cannot lock".
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The issue, the list or the secret could not be planned.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The frozen render of an issue cannot be read back: sending a fresh
    /// render instead would break "every host sends the same bytes".
    #[error(
        "the rendered issue of `{date}` frozen in the store cannot be read ({detail}); nothing was sent: it was written by another tipsheet version, so send with that version or restore the store"
    )]
    Frozen {
        /// The slot.
        date: NaiveDate,
        /// The decoder's words.
        detail: String,
    },
    /// The store cannot be used, or went out of reach.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The issue cannot be rendered or signed.
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    /// Delivery stopped part-way (relay refusing, outbox unwritable).
    #[error("{source}")]
    Delivery {
        /// The issue number.
        number: u32,
        /// Its slot date.
        date: NaiveDate,
        /// What the ledger holds after the stop.
        counts: Counts,
        /// Why it stopped.
        source: SendError,
    },
    /// `send --proof` with no `[editorial] proof_to`.
    #[error(
        "`editorial.proof_to` lists no address, so there is nowhere to send a proof: add them to `[editorial]` in config.toml, e.g. `proof_to = [\"editor@example.com\"]`"
    )]
    NoProofAddress,
    /// `--to` is not an address.
    #[error("`{0}` is not a valid email address ({1})")]
    BadAddress(String, String),
    /// The test copy was not accepted.
    #[error("test send to `{address}` failed: {reason}")]
    TestSend {
        /// The address.
        address: String,
        /// What the transport said.
        reason: String,
    },
}

/// What one session needs besides the slot.
pub struct Session<'a> {
    /// The loaded config.
    pub config: &'a Config,
    /// Its schedule.
    pub schedule: &'a Schedule,
    /// The content, read fresh for this session.
    pub library: &'a Library,
    /// Signs the unsubscribe links.
    pub signer: Signer,
    /// Resend recipients left uncertain by a crash.
    pub resend_uncertain: bool,
    /// Set on SIGINT/SIGTERM: take no new recipients, finish, return.
    pub stop: Arc<AtomicBool>,
    /// The command's clock now (`--now` moves it), on which the caps of
    /// `[delivery]` and the warm-up's days are counted.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// What a session did.
#[derive(Debug)]
pub enum Delivered {
    /// The issue was already sent to everyone; `next` is the following slot.
    AlreadySent {
        /// The issue number.
        number: u32,
        /// Its slot date.
        date: NaiveDate,
        /// The slot after it, if any.
        next: Option<Slot>,
    },
    /// The run went to its end (or was interrupted; see `summary.interrupted`).
    Ran(SendReport),
}

/// The end of a run.
#[derive(Debug)]
pub struct SendReport {
    /// The issue number.
    pub number: u32,
    /// Its slot date.
    pub date: NaiveDate,
    /// What this run did.
    pub summary: Summary,
    /// The issue's status after the run.
    pub status: IssueStatus,
    /// Recipients by status in the ledger.
    pub counts: Counts,
}

impl SendReport {
    /// True when some recipients ended `failed`, or a paused provider left
    /// some pending (exit 1).
    pub fn has_failures(&self) -> bool {
        self.counts.get(RecipientStatus::Failed) > 0 || !self.summary.paused.is_empty()
    }
}

impl Session<'_> {
    /// Sends the issue of `slot` under the run lock: assembles and freezes it
    /// on first use, recovers after a crash, delivers, records and sums up.
    pub async fn deliver(
        self,
        slot: Slot,
        reporter: &dyn Reporter,
    ) -> Result<Delivered, SessionError> {
        let config = self.config;
        let store = Store::open(&plan::store_settings(config)?).await?;
        // The embedded engine is one host: its run lock keeps a second run
        // out. On the shared store several senders on one issue are the design.
        let _lock = store.exclusive().map_err(|e| match e {
            StoreError::Locked(path) => SessionError::Locked(path),
            e => SessionError::Store(e),
        })?;
        let date = slot.date;
        // On hold, or (with approval required) not approved as it stands:
        // nothing is frozen, nothing is sent.
        editorial::may_send(&store, config, date, slot.number).await?;
        let snapshot = store.snapshot(None).await?;
        let (mut issue, _) = plan::choose(config, self.library, Some(&snapshot), slot.clone())?;
        let number = issue.number();
        // The first run freezes the issue and its recipients; every later run
        // (and every host) sends what was frozen then. Where the engine keeps
        // the rendered issue, every host sends the same bytes, whatever its
        // copy of the content and templates.
        let fresh = crate::mail::prepared::Prepared::render(config, &issue, SystemTime::now())
            .map_err(PrepareError::from)?;
        let bytes = serde_json::to_vec(&fresh).ok();
        let frozen = store
            .freeze_issue(date, number, &issue.selection, bytes.as_deref())
            .await?;
        let render = match frozen.rendered.as_deref() {
            Some(b) => serde_json::from_slice(b).map_err(|e| SessionError::Frozen {
                date,
                detail: e.to_string(),
            })?,
            None => fresh,
        };
        if config.editorial.approval_required() {
            // Once more now that the issue is frozen: an issue reassembled
            // between the check above and the freeze is not sent unapproved.
            editorial::may_send(&store, config, date, number).await?;
        }
        if frozen.record.selection != issue.selection {
            issue = crate::content::issue::assemble(self.library, slot, frozen.record.selection)
                .map_err(PlanError::from)?;
        }
        if let Some(added) = frozen.added {
            reporter.frozen(number, date, added, &frozen.diags);
        }
        if frozen.record.status == IssueStatus::Sent {
            let next = self.schedule.slots_from(issue.slot.utc).nth(1);
            return Ok(Delivered::AlreadySent { number, date, next });
        }
        let uncertain = store.recover(date).await?;
        if uncertain > 0 {
            reporter.recovered(uncertain, self.resend_uncertain);
        }
        let prepared = Arc::new(mail::prepare_frozen(
            config,
            &issue,
            &render,
            self.signer,
            crate::mail::prepared::CopyKind::Issue,
        )?);
        // A continue time from an earlier stop at a cap stays until this
        // send replaces it (a cap again) or finishes the issue: a
        // continuation cut short (a signal, a crash, the relay failing) is
        // continued again by either scheduler, never left past its grace.
        let transport = Transport::from_config(config, &date.to_string());
        let mut opts = run_options(config, self.schedule, self.resend_uncertain);
        opts.now = self.now;
        let result = run(
            &store, date, prepared, &transport, &opts, self.stop, reporter,
        )
        .await;
        if let Err(source @ SendError::Store(_)) = result {
            // The store is out of reach: what it holds cannot be read either.
            let counts = store.counts(date).await.unwrap_or_default();
            return Err(SessionError::Delivery {
                number,
                date,
                counts,
                source,
            });
        }
        // Mail has left by now: a store failure here is a failure of a send
        // that happened, never "nothing was sent".
        let after = |source: StoreError| SessionError::Delivery {
            number,
            date,
            counts: Counts::default(),
            source: SendError::Store(source),
        };
        if let Ok(Summary {
            quota: Some(stop), ..
        }) = &result
        {
            // Kept in the store, so that whichever scheduler runs (and `run`
            // after a restart) continues the issue then, past its grace.
            store
                .set_continue_at(date, Some(stop.until))
                .await
                .map_err(after)?;
        }
        let status = store.finish(date).await.map_err(after)?;
        let counts = store.counts(date).await.map_err(after)?;
        match result {
            Ok(summary) => Ok(Delivered::Ran(SendReport {
                number,
                date,
                summary,
                status,
                counts,
            })),
            Err(source) => Err(SessionError::Delivery {
                number,
                date,
                counts,
                source,
            }),
        }
    }
}

/// The caps of `[delivery]`, the warm-up's days in `schedule`'s timezone.
pub fn quota_limits(config: &Config, schedule: &Schedule) -> QuotaLimits {
    let d = &config.delivery;
    QuotaLimits {
        per_hour: d.max_per_hour,
        per_day: d.max_per_day,
        warmup: d.warmup.clone(),
        warmup_start: d.warmup_start_date(),
        timezone: schedule.timezone(),
    }
}

/// How the run loop behaves, from `[delivery]` (the caps' warm-up days in
/// `schedule`'s timezone; the clock at the wall clock's now).
pub fn run_options(config: &Config, schedule: &Schedule, resend_uncertain: bool) -> RunOptions {
    let d = &config.delivery;
    RunOptions {
        resend_uncertain,
        // Files gain nothing from many writers.
        concurrency: if d.transport == TransportKind::Outbox {
            d.concurrency.clamp(1, 4)
        } else {
            d.concurrency
        },
        retry: Retry {
            max_attempts: d.max_attempts,
            base: Duration::from_millis(d.retry_base_ms),
        },
        rate_per_second: d.rate_per_second,
        quota: quota_limits(config, schedule),
        now: chrono::Utc::now(),
        provider_pause_after: d.provider_pause_after,
    }
}

/// What a dry run built.
#[derive(Debug)]
pub struct DryRun {
    /// The issue number.
    pub number: u32,
    /// Its slot date.
    pub date: NaiveDate,
    /// The subject line.
    pub subject: String,
    /// Messages built.
    pub built: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Seconds spent building them.
    pub seconds: f64,
    /// Seconds spent preparing the issue once.
    pub prepare_seconds: f64,
    /// The list as it stands.
    pub counts: ListCounts,
    /// Rows skipped, as warnings.
    pub skipped: Vec<Diagnostic>,
}

/// Builds every message of `issue` for the list as it stands, delivers none.
pub async fn dry_run(
    config: &Config,
    issue: &Issue<'_>,
    signer: Signer,
) -> Result<DryRun, SessionError> {
    let started = Instant::now();
    let prepared = mail::prepare(config, issue, signer, false)?;
    let prepare_seconds = started.elapsed().as_secs_f64();
    let (mut built, mut bytes) = (0u64, 0u64);
    let build = Instant::now();
    let walked = plan::walk_list(config, &mut |s| {
        let m = prepared.message(&Recipient {
            email: &s.email,
            key: &s.key,
            name: &s.name,
        });
        built += 1;
        bytes += m.len() as u64;
    })
    .await?;
    Ok(DryRun {
        number: issue.number(),
        date: issue.slot.date,
        subject: prepared.subject.clone(),
        built,
        bytes,
        seconds: build.elapsed().as_secs_f64(),
        prepare_seconds,
        counts: walked.counts,
        skipped: walked.diags,
    })
}

/// A test copy that was accepted.
#[derive(Debug)]
pub struct TestSent {
    /// The issue number.
    pub number: u32,
    /// Where it went.
    pub address: Address,
    /// The reply code.
    pub code: u16,
    /// The reply text.
    pub reply: String,
}

/// Sends one `[TEST]` copy of `issue` to `to`, outside the ledger.
pub async fn test_send(
    config: &Config,
    issue: &Issue<'_>,
    signer: Signer,
    to: &str,
) -> Result<TestSent, SessionError> {
    let address: Address = to
        .trim()
        .parse()
        .map_err(|e: lettre::address::AddressError| {
            SessionError::BadAddress(to.to_string(), e.to_string())
        })?;
    let key = list::normalize(to);
    let prepared = mail::prepare(config, issue, signer, true)?;
    let message = prepared.message(&Recipient {
        email: &address,
        key: &key,
        name: "",
    });
    let transport = Transport::from_config(config, &format!("test-{}", issue.slot.date));
    match send_one(&transport, &prepared.envelope(&address), &message).await {
        Ok((code, reply)) => Ok(TestSent {
            number: issue.number(),
            address,
            code,
            reply,
        }),
        Err(e) => Err(SessionError::TestSend {
            address: address.to_string(),
            reason: format!("{e:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    use super::*;
    use crate::delivery::reporter::Silent;
    use crate::list::ListError;
    use crate::store::Outcome;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn store(config: &Config) -> Store {
        block(Store::open(&plan::store_settings(config).unwrap())).unwrap()
    }

    /// The shipped config and content in a temp folder, with `list` as the
    /// subscriber list; delivery goes to the outbox.
    fn site(list: &str) -> (tempfile::TempDir, Config) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        let mut stack = vec![PathBuf::from("content")];
        while let Some(rel) = stack.pop() {
            std::fs::create_dir_all(dir.path().join(&rel)).unwrap();
            for e in std::fs::read_dir(repo.join(&rel)).unwrap().flatten() {
                let r = rel.join(e.file_name());
                if e.path().is_dir() {
                    stack.push(r);
                } else {
                    std::fs::copy(e.path(), dir.path().join(&r)).unwrap();
                }
            }
        }
        std::fs::copy(repo.join("config.toml"), dir.path().join("config.toml")).unwrap();
        std::fs::create_dir_all(dir.path().join("subscribers")).unwrap();
        std::fs::write(dir.path().join("subscribers/subscribers.csv"), list).unwrap();
        let config = Config::load(&dir.path().join("config.toml")).unwrap();
        (dir, config)
    }

    /// Records what the session told.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Reporter for Recorder {
        fn frozen(&self, number: u32, date: NaiveDate, added: u64, skipped: &[Diagnostic]) {
            self.push(format!(
                "frozen #{number} {date}: {added}, {} skipped",
                skipped.len()
            ));
        }
        fn recovered(&self, uncertain: u64, resending: bool) {
            self.push(format!("recovered {uncertain} {resending}"));
        }
        fn started(&self, total: u64) {
            self.push(format!("started {total}"));
        }
        fn advanced(&self, outcomes: &[Outcome]) {
            for o in outcomes {
                self.push(format!("{} {}", o.key, o.status));
            }
        }
        fn finished(&self) {
            self.push("finished".into());
        }
    }

    impl Recorder {
        fn push(&self, s: String) {
            self.0.lock().unwrap().push(s);
        }
        fn lines(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    fn deliver(config: &Config, reporter: &dyn Reporter) -> Result<Delivered, SessionError> {
        let schedule = config.schedule().unwrap();
        let (library, _) = plan::load_content(config).unwrap();
        let slot = schedule
            .slot_on(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
            .unwrap();
        let session = Session {
            config,
            schedule: &schedule,
            library: &library,
            signer: Signer::new(b"session-test-secret"),
            resend_uncertain: true,
            stop: Arc::new(AtomicBool::new(false)),
            now: chrono::Utc::now(),
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(session.deliver(slot, reporter))
    }

    fn d1() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    fn outbox(config: &Config) -> usize {
        std::fs::read_dir(config.delivery.outbox_dir.join("2026-12-01"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    const LIST: &str =
        "email,name\nana@example.com,Ana\nbob@example.com,Bob\nana@EXAMPLE.com,Dup\n";

    #[test]
    fn a_session_freezes_sends_records_and_a_second_one_has_nothing_to_do() {
        let (_dir, config) = site(LIST);
        let told = Recorder::default();
        let Delivered::Ran(report) = deliver(&config, &told).unwrap() else {
            panic!("first session ran nothing");
        };
        assert_eq!(report.number, 1);
        assert_eq!(report.summary.delivered, 2);
        assert_eq!(report.status, IssueStatus::Sent);
        assert_eq!(report.counts.get(RecipientStatus::Sent), 2);
        assert!(!report.has_failures());
        assert_eq!(outbox(&config), 2);
        let mut lines = told.lines();
        assert_eq!(lines[0], "frozen #1 2026-12-01: 2, 1 skipped", "{lines:?}");
        assert_eq!(lines[1], "started 2");
        assert_eq!(lines.pop().unwrap(), "finished");
        lines.sort();
        assert!(
            lines.contains(&"ana@example.com sent".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"bob@example.com sent".to_string()),
            "{lines:?}"
        );

        match deliver(&config, &Silent).unwrap() {
            Delivered::AlreadySent { number, date, next } => {
                assert_eq!((number, date.to_string()), (1, "2026-12-01".into()));
                assert_eq!(next.map(|n| n.number), Some(2));
            }
            Delivered::Ran(r) => panic!("sent again: {r:?}"),
        }
        assert_eq!(outbox(&config), 2, "nobody got it twice");
    }

    #[test]
    fn a_torn_list_freezes_nobody_and_sends_nothing() {
        let (_dir, config) = site(
            "email,name\nana@example.com,\"Ana\nbob@example.com,Bob\ncarol@example.com,Carol\n",
        );
        let err = deliver(&config, &Silent).unwrap_err();
        assert!(
            matches!(err, SessionError::Store(StoreError::List(ListError::TornRow(ref p))) if p.line == 2 && p.last_line == 4),
            "{err:?}"
        );
        assert_eq!(outbox(&config), 0);
        let ledger = store(&config);
        assert_eq!(block(ledger.counts(d1())).unwrap().total(), 0);
        assert_eq!(
            block(ledger.issue(d1())).unwrap().unwrap().status,
            IssueStatus::Assembled
        );
    }

    #[test]
    fn a_held_lock_stops_the_session_before_anything_is_sent() {
        let (_dir, config) = site(LIST);
        let other = store(&config);
        let held = other.exclusive().unwrap();
        assert!(block(other.sending(None)).unwrap());
        let err = deliver(&config, &Silent).unwrap_err();
        assert!(matches!(err, SessionError::Locked(_)), "{err:?}");
        assert_eq!(outbox(&config), 0);
        drop(held);
        assert!(!block(other.sending(None)).unwrap());
        assert!(matches!(deliver(&config, &Silent), Ok(Delivered::Ran(_))));
    }

    #[test]
    fn a_dry_run_builds_every_message_and_delivers_none() {
        let (_dir, config) = site(LIST);
        let schedule = config.schedule().unwrap();
        let (library, _) = plan::load_content(&config).unwrap();
        let slot = schedule.slots_from(chrono::Utc::now()).next();
        let slot = slot.unwrap_or_else(|| schedule.slot_on(schedule.anchor()).unwrap());
        let (issue, _) = plan::choose(&config, &library, None, slot).unwrap();
        let d = block(dry_run(&config, &issue, Signer::new(b"k"))).unwrap();
        assert_eq!((d.built, d.counts.active, d.counts.duplicates), (2, 2, 1));
        assert!(d.bytes > 2 * 1024, "{d:?}");
        assert_eq!(d.skipped.len(), 1);
        assert!(!config.delivery.outbox_dir.exists());
        assert!(!config.ledger_path().exists());
    }
}
