//! The command line: arguments, the commands' orchestration, and what they print.
//!
//! Owns the interface (commands, flags, exit codes) and wires the domain modules
//! together in data-flow order: config → content + subscribers → issue → render
//! → send (→ ledger). Domain rules live in those modules, not here.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use anyhow::{Context, anyhow};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, TransportKind};
use crate::content;
use crate::content::issue::Issue;
use crate::delivery::{self, Retry, RunOptions, Transport};
use crate::diagnostic::Diagnostic;
use crate::list::{self, Subscriber};
use crate::mail::render::{self, Prepared, Recipient};
use crate::mail::token::Signer;
use crate::output::{errln, outln};
use crate::plan::{self, choose, current_slot, excerpt_rule, load_content, next_slot, slot_for};
use crate::store::{IssueStatus, Ledger, RecipientStatus};

mod store;
pub mod subscribers;

/// Exit codes (documented in the README).
pub mod exit {
    /// All delivered, or nothing to do.
    pub const OK: u8 = 0;
    /// Some recipients ended `failed` (or `check` found errors).
    pub const FAILED: u8 = 1;
    /// Usage or config error.
    pub const USAGE: u8 = 2;
    /// Another run holds the lock.
    pub const LOCKED: u8 = 3;
    /// Interrupted by a signal; rerun to resume.
    pub const INTERRUPTED: u8 = 4;
    /// The shared store (PostgreSQL) was lost; what could be recorded was; rerun to resume.
    pub const STORE: u8 = 5;
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: u8,
    /// What to print (whole chain).
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: exit::USAGE,
            error: e.into(),
        }
    }
}

fn fail(code: u8, error: anyhow::Error) -> Failure {
    Failure { code, error }
}

/// tipsheet: assemble, preview and send the career-tips newsletter.
#[derive(Debug, Parser)]
#[command(name = "tipsheet", version, about)]
pub struct Cli {
    /// The config file.
    #[arg(
        long,
        global = true,
        env = "TIPSHEET_CONFIG",
        default_value = "config.toml"
    )]
    pub config: PathBuf,
    /// Evaluate as if it were this instant (RFC 3339); a testing aid.
    #[arg(long, global = true, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 instant like 2026-12-01T14:00:00Z ({e})"))
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date; write it as YYYY-MM-DD"))
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate config, content and subscribers.
    Check,
    /// Dry run: render the next issue for one subscriber and write it to files.
    Preview(PreviewArgs),
    /// Deliver an issue to every active subscriber.
    Send(SendArgs),
    /// Show what the ledger recorded.
    Status(StatusArgs),
    /// List upcoming and recent slots with their status.
    Schedule(ScheduleArgs),
    /// Run as a scheduler: send each slot on time, until SIGTERM.
    Run,
    /// Serve unsubscribe, sign-up, the web archive and the admin preview over HTTP.
    Serve(ServeArgs),
    /// Turn an article (Markdown or HTML) into a comparison file.
    Import(crate::import::ImportArgs),
    /// Move the list between CSV files and the PostgreSQL store.
    Subscribers(subscribers::SubscribersArgs),
}

/// `preview` options.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The issue of this slot date instead of the next one.
    #[arg(long, value_parser = parse_date)]
    pub date: Option<NaiveDate>,
    /// Render for this subscriber instead of the first active one.
    #[arg(long)]
    pub to: Option<String>,
    /// Where to write the files (default `<state>/preview`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `send` options.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The issue of this slot date instead of the next one.
    #[arg(long, value_parser = parse_date)]
    pub date: Option<NaiveDate>,
    /// Build every message, deliver none.
    #[arg(long)]
    pub dry_run: bool,
    /// Send a test copy to this address only ("[TEST]" subject, not recorded).
    #[arg(long)]
    pub to: Option<String>,
    /// Do not resend recipients left uncertain by a crash.
    #[arg(long)]
    pub no_resend_uncertain: bool,
    /// For crontab: send only if a slot is due now (its time has come and is
    /// within grace) and not fully sent; otherwise exit 0 quietly.
    #[arg(long, conflicts_with_all = ["date", "dry_run", "to"])]
    pub if_due: bool,
}

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

/// `status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One issue, with its failed, bounced and uncertain recipients.
    #[arg(long, value_parser = parse_date)]
    pub date: Option<NaiveDate>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen here instead of `server.listen` (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Runs the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> Result<u8, Failure> {
    let now = cli.now.unwrap_or_else(Utc::now);
    match &cli.command {
        Command::Check => check(&cli.config, now),
        Command::Preview(a) => preview(&load_config(&cli.config)?, a, now),
        Command::Send(a) => send_command(&load_config(&cli.config)?, a, now),
        Command::Status(a) => status(&load_config(&cli.config)?, a, now),
        Command::Schedule(a) => schedule_command(&load_config(&cli.config)?, a, now),
        Command::Run => run_daemon(&load_config(&cli.config)?, cli.now),
        Command::Serve(a) => {
            crate::web::run(&load_config(&cli.config)?, a.listen.as_deref(), cli.now)?;
            Ok(exit::OK)
        }
        Command::Import(a) => crate::import::command(a, &cli.config),
        Command::Subscribers(a) => subscribers::command(a, &cli.config, now),
    }
}

fn load_config(path: &Path) -> Result<Config, Failure> {
    Config::load(path).map_err(|e| fail(exit::USAGE, e.into()))
}

/// The signer, printing the development-secret warning unless `quiet`.
fn signer(config: &Config, quiet: bool) -> Result<Signer, Failure> {
    let (signer, warning) = plan::signer(config)?;
    if let Some(w) = warning
        && !quiet
    {
        errln!("{w}");
    }
    Ok(signer)
}

/// [`plan::walk_list`], printing skipped rows when `print`.
fn walk_list(
    config: &Config,
    print: bool,
    visit: impl FnMut(Subscriber),
) -> Result<(plan::ListCounts, Vec<Diagnostic>), Failure> {
    let (counts, diags) = plan::walk_list(config, visit)?;
    if print {
        for d in &diags {
            errln!("{d}");
        }
    }
    Ok((counts, diags))
}

fn check(path: &Path, now: DateTime<Utc>) -> Result<u8, Failure> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            outln!("check: 1 error, 0 warnings");
            return Ok(exit::FAILED);
        }
    };
    let mut diags: Vec<Diagnostic> = Vec::new();
    let cfg =
        |key: &str, msg: String| Diagnostic::warning(&config.path, config.line_of_key(key), msg);
    let (library, content_diags) = content::load(&config.content.dir, excerpt_rule(&config));
    diags.extend(content_diags);
    let store = store::check(&config);
    diags.extend(store.diags.iter().cloned());
    if let Some((listed, suppressed)) = store.list {
        // On PostgreSQL the list of record is in the store, not the CSV file.
        if listed == suppressed {
            diags.push(Diagnostic::warning(
                &config.path,
                config.line_of_key("store.url"),
                "the store lists no active subscriber: a send would mail nobody (`tipsheet subscribers import FILE` loads a list)",
            ));
        }
    } else {
        match plan::walk_list(&config, |_| {}) {
            Ok((counts, list_diags)) => {
                diags.extend(list_diags);
                if counts.active == 0 {
                    diags.push(Diagnostic::warning(
                        &config.subscribers.path,
                        0,
                        "no active subscriber: a send would mail nobody",
                    ));
                }
            }
            Err(f) => diags.push(Diagnostic::error(
                &config.subscribers.path,
                0,
                f.to_string(),
            )),
        }
    }
    let n = &config.newsletter;
    if !n.base_url.starts_with("https://") {
        diags.push(cfg(
            "newsletter.base_url",
            format!(
                "`{}` is not https: Gmail shows its unsubscribe button only for https links",
                n.base_url
            ),
        ));
    }
    if n.postal.trim().is_empty() {
        diags.push(cfg(
            "newsletter.postal",
            "the postal address is empty: bulk mail must show the sender's postal address".into(),
        ));
    }
    match config.dkim_signer() {
        Ok(Some(d)) => {
            outln!("dkim: publish a TXT record at `{}`:", d.dns_name);
            outln!("  {}", d.dns_record);
            if let Some(settings) = &config.dkim
                && !config.from_domain().eq_ignore_ascii_case(&settings.domain)
                && !config
                    .from_domain()
                    .to_ascii_lowercase()
                    .ends_with(&format!(".{}", settings.domain.to_ascii_lowercase()))
            {
                diags.push(cfg(
                    "dkim.domain",
                    format!(
                        "`{}` does not align with the From domain `{}`: DMARC will not pass",
                        settings.domain,
                        config.from_domain()
                    ),
                ));
            }
        }
        Ok(None) => diags.push(Diagnostic::warning(
            &config.path,
            0,
            "DKIM is not configured: Gmail and Yahoo require bulk senders to sign their mail; add a `[dkim]` section",
        )),
        Err(e) => diags.push(Diagnostic::error(
            &config.path,
            config.line_of_key("dkim.private_key_path"),
            e.to_string(),
        )),
    }
    let secret = &config.unsubscribe.secret_env;
    if std::env::var(secret).map_or(true, |v| v.trim().is_empty()) {
        let msg =
            format!("`{secret}` is not set: unsubscribe links would use the development secret");
        diags.push(if config.delivery.transport == TransportKind::Smtp {
            Diagnostic::error(
                &config.path,
                config.line_of_key("unsubscribe.secret_env"),
                format!("{msg}; `send` refuses to start"),
            )
        } else {
            cfg("unsubscribe.secret_env", msg)
        });
    }
    // The next issue must assemble and be short enough.
    if let Ok(schedule) = config.schedule() {
        let ledger = Ledger::open_read_only(&config.ledger_path()).ok().flatten();
        if let Ok(slot) = next_slot(&schedule, ledger.as_ref(), now) {
            match choose(&config, &library, ledger.as_ref(), slot) {
                Ok((issue, _)) => {
                    let view =
                        render::View::new(&config, &issue, "Reader", "reader@example.com", "");
                    if view.reading_minutes > n.max_reading_minutes as usize {
                        diags.push(cfg(
                            "newsletter.max_reading_minutes",
                            format!(
                                "issue #{} takes about {} minutes to read, over the promised {}; lower `content.excerpt_words` or `content.comparisons_per_issue`",
                                issue.number(),
                                view.reading_minutes,
                                n.max_reading_minutes
                            ),
                        ));
                    }
                }
                Err(f) => diags.push(Diagnostic::error(&config.content.dir, 0, f.to_string())),
            }
        }
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    for d in &diags {
        errln!("{d}");
    }
    outln!(
        "check: {errors} error{}, {warnings} warning{} ({} comparisons, {} tips)",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" },
        library.comparisons.len(),
        library.tips.len()
    );
    outln!("{}", store.line);
    if let Some((listed, suppressed)) = store.list {
        outln!(
            "list: {listed} subscriber(s) in the store, {suppressed} suppressed, {} active",
            listed - suppressed
        );
    }
    Ok(if errors > 0 { exit::FAILED } else { exit::OK })
}

fn preview(config: &Config, args: &PreviewArgs, now: DateTime<Utc>) -> Result<u8, Failure> {
    let schedule = config.schedule()?;
    let (library, _) = load_content(config)?;
    let ledger = Ledger::open_read_only(&config.ledger_path())?;
    let slot = match args.date {
        Some(d) => slot_for(&schedule, d)?,
        None => next_slot(&schedule, ledger.as_ref(), now)?,
    };
    let (issue, frozen) = choose(config, &library, ledger.as_ref(), slot)?;
    let signer = signer(config, false)?;
    let mut first: Option<Subscriber> = None;
    let want = args.to.as_deref().map(list::normalize);
    let (counts, _) = walk_list(config, true, |s| {
        let pick = match &want {
            Some(w) => &s.key == w,
            None => first.is_none(),
        };
        if pick && first.is_none() {
            first = Some(s);
        }
    })?;
    let reader = match (first, &args.to) {
        (Some(s), _) => (s.email.clone(), s.key.clone(), s.name.clone()),
        (None, Some(to)) => {
            let a: lettre::Address = to
                .trim()
                .parse()
                .map_err(|e| anyhow!("`{to}` is not a valid email address ({e})"))?;
            (a.clone(), list::normalize(to), String::new())
        }
        (None, None) => {
            let a: lettre::Address = "reader@example.com"
                .parse()
                .map_err(|e| anyhow!("sample address: {e}"))?;
            (a, "reader@example.com".into(), String::new())
        }
    };
    let (email, key, name) = reader;
    let view = render::personal_view(config, &issue, &signer, &name, email.as_ref(), &key);
    let html = view.html()?;
    let text = view.text()?;
    let prepared = Prepared::new(config, &issue, signer, SystemTime::now(), false)?
        .with_dkim(config.dkim_signer()?);
    let eml = prepared.message(&Recipient {
        email: &email,
        key: &key,
        name: &name,
    });
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| config.state.dir.join("preview"));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let n = issue.number();
    let files = [
        ("html", html.into_bytes()),
        ("txt", text.into_bytes()),
        ("eml", eml),
    ];
    for (ext, bytes) in &files {
        let p = out.join(format!("issue-{n}.{ext}"));
        std::fs::write(&p, bytes).with_context(|| format!("cannot write `{}`", p.display()))?;
    }
    let tz = schedule.timezone();
    outln!(
        "Issue #{n} for {} ({})",
        issue.slot.date,
        if frozen {
            "frozen in the ledger"
        } else {
            "not yet assembled: rotation as of now"
        }
    );
    outln!(
        "Sends at:  {} {} ({} UTC)",
        issue.slot.local.format("%a %Y-%m-%d %H:%M"),
        tz,
        issue.slot.utc.format("%Y-%m-%d %H:%M")
    );
    outln!("Subject:   {}", prepared.subject);
    outln!("Preheader: {}", view.preheader);
    outln!("Featured:");
    for c in &issue.comparisons {
        outln!("  - {} [{}]", c.meta.title, c.meta.slug);
    }
    outln!("Tip:       {} [{}]", issue.tip.meta.title, issue.tip.slug);
    outln!(
        "Reading:   about {} min ({} words at {} wpm)",
        view.reading_minutes,
        view.text()
            .map(|t| t.split_whitespace().count())
            .unwrap_or(0),
        render::WORDS_PER_MINUTE
    );
    if view.reading_minutes > config.newsletter.max_reading_minutes as usize {
        errln!(
            "warning: issue #{n} takes about {} minutes to read, over the promised {}",
            view.reading_minutes,
            config.newsletter.max_reading_minutes
        );
    }
    outln!("Rendered for: {email}");
    outln!(
        "Recipients: {} active, {} suppressed, {} invalid rows skipped, {} duplicates",
        counts.active,
        counts.suppressed,
        counts.invalid,
        counts.duplicates
    );
    outln!(
        "Wrote:     {}",
        files
            .iter()
            .map(|(ext, _)| out.join(format!("issue-{n}.{ext}")).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    outln!("Nothing was sent.");
    Ok(exit::OK)
}

/// Holds `<state>/tipsheet.lock` while alive.
struct RunLock(#[allow(dead_code)] std::fs::File);

fn lock(config: &Config) -> Result<RunLock, Failure> {
    let dir = &config.state.dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create state folder `{}`", dir.display()))?;
    let path = dir.join("tipsheet.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open lock file `{}`", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(RunLock(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(fail(
            exit::LOCKED,
            anyhow!(
                "another tipsheet run holds `{}`; nothing was sent (wait for it to finish, or check it with `tipsheet status`)",
                path.display()
            ),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(fail(
            exit::USAGE,
            anyhow!("cannot lock `{}`: {e}", path.display()),
        )),
    }
}

/// True when another process holds the run lock. Probes with a shared lock
/// and creates nothing, so `status` never gets in a `send`'s way.
fn run_in_progress(config: &Config) -> bool {
    let Ok(file) = std::fs::File::open(config.state.dir.join("tipsheet.lock")) else {
        return false;
    };
    matches!(
        file.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

/// One thread drives every connection: the per-message work is small, and
/// waking threads across cores for each SMTP reply cost more than it saved
/// (about 0.65× smtp-source on two cores, against about 0.9× on one thread).
/// DKIM signing still runs on the blocking pool, on all cores.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?)
}

fn send_command(config: &Config, args: &SendArgs, now: DateTime<Utc>) -> Result<u8, Failure> {
    let schedule = config.schedule()?;
    let (library, _) = load_content(config)?;
    if args.dry_run || args.to.is_some() {
        let signer = signer(config, false)?;
        let ledger = Ledger::open_read_only(&config.ledger_path())?;
        let slot = match args.date {
            Some(d) => slot_for(&schedule, d)?,
            None => next_slot(&schedule, ledger.as_ref(), now)?,
        };
        let (issue, _) = choose(config, &library, ledger.as_ref(), slot)?;
        return match &args.to {
            Some(to) => test_send(config, &issue, signer, to),
            None => dry_run(config, &issue, signer),
        };
    }
    let slot = if args.if_due {
        // For crontab: only the slot whose time has come and is within grace.
        let Some(slot) = schedule.due(now) else {
            return Ok(exit::OK);
        };
        let ledger = Ledger::open_read_only(&config.ledger_path())?;
        if let Some(l) = &ledger
            && l.issue(&slot.date.to_string())?
                .is_some_and(|i| i.status == IssueStatus::Sent)
        {
            return Ok(exit::OK);
        }
        slot
    } else {
        match args.date {
            Some(d) => slot_for(&schedule, d)?,
            None => current_slot(&schedule, now)?,
        }
    };
    let signer = signer(config, false)?;
    let stop = Arc::new(AtomicBool::new(false));
    let rt = runtime()?;
    rt.block_on(async {
        watch_signals(stop.clone(), None);
        deliver(
            config,
            &schedule,
            &library,
            slot,
            signer,
            !args.no_resend_uncertain,
            stop,
        )
        .await
    })
}

/// Sets `stop` (and wakes `wake`) on SIGINT or SIGTERM.
fn watch_signals(stop: Arc<AtomicBool>, wake: Option<Arc<tokio::sync::Notify>>) {
    tokio::spawn(async move {
        crate::shutdown_signal().await;
        stop.store(true, Ordering::SeqCst);
        if let Some(w) = wake {
            w.notify_waiters();
        }
    });
}

/// Sends the issue of `slot` under the run lock: assembles and freezes it on
/// first use, recovers after a crash, delivers, records and summarizes.
async fn deliver(
    config: &Config,
    schedule: &crate::schedule::Schedule,
    library: &content::Library,
    slot: crate::schedule::Slot,
    signer: Signer,
    resend_uncertain: bool,
    stop: Arc<AtomicBool>,
) -> Result<u8, Failure> {
    let _lock = lock(config)?;
    let mut ledger = Ledger::open(&config.ledger_path())?;
    let date = slot.date.to_string();
    let (issue, _) = choose(config, library, Some(&ledger), slot)?;
    ledger.assemble(&date, issue.number(), &issue.selection)?;
    let record = ledger.issue(&date)?;
    if record
        .as_ref()
        .is_some_and(|r| r.status == IssueStatus::Assembled)
    {
        // Freeze the recipient set on the first send of this issue, streaming the list.
        let mut list = plan::active(config)?;
        let added = ledger.freeze(
            &date,
            list.by_ref().map(|s| (s.key, s.email.to_string(), s.name)),
        )?;
        for d in &list.diags {
            errln!("{d}");
        }
        errln!(
            "issue #{} ({date}): {added} recipients frozen",
            issue.number()
        );
    } else if record
        .as_ref()
        .is_some_and(|r| r.status == IssueStatus::Sent)
    {
        let next = schedule.slots_from(issue.slot.utc).nth(1);
        outln!(
            "issue #{} ({date}) was already sent to everyone; nothing to do{}",
            issue.number(),
            next.map(|n| format!(
                " (issue #{} goes out on {}; `send --date {}` sends it now)",
                n.number, n.date, n.date
            ))
            .unwrap_or_default()
        );
        return Ok(exit::OK);
    }
    let uncertain = ledger.recover(&date)?;
    if uncertain > 0 {
        errln!(
            "{uncertain} recipient(s) were in flight when an earlier run stopped; {}",
            if resend_uncertain {
                "sending them again (the server may already have them)"
            } else {
                "leaving them uncertain (--no-resend-uncertain)"
            }
        );
    }
    let prepared = Arc::new(
        Prepared::new(config, &issue, signer, SystemTime::now(), false)?
            .with_dkim(config.dkim_signer()?),
    );
    let transport = Transport::from_config(config, &date);
    let opts = RunOptions {
        resend_uncertain,
        concurrency: if config.delivery.transport == TransportKind::Outbox {
            config.delivery.concurrency.clamp(1, 4)
        } else {
            config.delivery.concurrency
        },
        retry: Retry {
            max_attempts: config.delivery.max_attempts,
            base: std::time::Duration::from_millis(config.delivery.retry_base_ms),
        },
        rate_per_second: config.delivery.rate_per_second,
        max_per_hour: config.delivery.max_per_hour,
        suppressed_path: config.subscribers.suppressed_path.clone(),
        progress: std::io::stderr().is_terminal(),
    };
    let result = delivery::run(&mut ledger, &date, prepared, &transport, &opts, stop).await;
    let status = ledger.finish(&date)?;
    let counts = ledger.counts(&date)?;
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            print_counts(issue.number(), &date, &counts);
            return Err(fail(exit::FAILED, e.into()));
        }
    };
    outln!(
        "issue #{} ({date}): {} delivered, {} failed, {} bounced, {} skipped in {:.1}s; issue is {status}",
        issue.number(),
        summary.delivered,
        summary.failed,
        summary.bounced,
        summary.skipped,
        summary.seconds
    );
    print_counts(issue.number(), &date, &counts);
    if counts.total() == 0 {
        outln!("the list has no active subscriber: nothing was sent");
    }
    if summary.uncertain_left > 0 {
        outln!(
            "{} recipient(s) left uncertain; `tipsheet status --date {date}` lists them",
            summary.uncertain_left
        );
    }
    if summary.interrupted {
        errln!("interrupted: in-flight messages finished and were recorded; rerun to resume");
        return Ok(exit::INTERRUPTED);
    }
    Ok(if counts.get(RecipientStatus::Failed) > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// `tipsheet run`: sleep until the next slot, send it, repeat, until a signal.
fn run_daemon(config: &Config, now: Option<DateTime<Utc>>) -> Result<u8, Failure> {
    let schedule = config.schedule()?;
    // With `--now`, the daemon's clock starts there and runs at normal speed.
    let offset = now.map(|n| n - Utc::now()).unwrap_or_default();
    let clock = move || Utc::now() + offset;
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(tokio::sync::Notify::new());
    let rt = runtime()?;
    rt.block_on(async {
        watch_signals(stop.clone(), Some(wake.clone()));
        let first = schedule.slots_from(clock()).next();
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
        let mut failures = 0u32;
        while !stop.load(Ordering::SeqCst) {
            let now = clock();
            if let Some(slot) = schedule.due(now) {
                let sent = Ledger::open_read_only(&config.ledger_path())?
                    .map(|l| l.issue(&slot.date.to_string()))
                    .transpose()?
                    .flatten()
                    .is_some_and(|i| i.status == IssueStatus::Sent);
                if !sent {
                    log_line(&format!("sending issue #{} ({})", slot.number, slot.date));
                    // Content is read fresh for every send.
                    let result = match (load_content(config), signer(config, true)) {
                        (Ok((library, _)), Ok(signer)) => {
                            deliver(
                                config,
                                &schedule,
                                &library,
                                slot.clone(),
                                signer,
                                true,
                                stop.clone(),
                            )
                            .await
                        }
                        (Err(e), _) => Err(e.into()),
                        (_, Err(f)) => Err(f),
                    };
                    match result {
                        Ok(code) if code == exit::OK => {
                            failures = 0;
                            log_line(&format!("finished issue #{} ({})", slot.number, slot.date));
                            continue;
                        }
                        Ok(code) if code == exit::INTERRUPTED => break,
                        Ok(code) => log_line(&format!(
                            "issue #{} ended with exit code {code}; retrying while within grace",
                            slot.number
                        )),
                        Err(f) => log_line(&format!(
                            "issue #{} failed: {}; retrying while within grace",
                            slot.number, f.error
                        )),
                    }
                    failures += 1;
                    let backoff = std::time::Duration::from_secs(30u64 << failures.min(4));
                    sleep_or_wake(backoff, &wake).await;
                    continue;
                }
            }
            // Sleep toward the next slot, waking at least every 30 s so a
            // wall-clock jump (suspend, NTP) is noticed.
            let next = schedule
                .slots_from(now)
                .find(|s| s.utc > now)
                .map(|s| (s.utc - now).to_std().unwrap_or_default());
            let nap = next
                .unwrap_or(std::time::Duration::from_secs(30))
                .min(std::time::Duration::from_secs(30));
            sleep_or_wake(nap.max(std::time::Duration::from_millis(50)), &wake).await;
        }
        log_line("tipsheet run: stopping");
        Ok(exit::OK)
    })
}

async fn sleep_or_wake(d: std::time::Duration, wake: &tokio::sync::Notify) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {},
        _ = wake.notified() => {},
    }
}

fn log_line(msg: &str) {
    use std::io::Write;
    outln!("{} {msg}", Utc::now().format("%Y-%m-%dT%H:%M:%SZ"));
    let _ = std::io::stdout().flush();
}

/// `tipsheet schedule`: upcoming and recent slots with their ledger status.
fn schedule_command(
    config: &Config,
    args: &ScheduleArgs,
    now: DateTime<Utc>,
) -> Result<u8, Failure> {
    let schedule = config.schedule()?;
    let ledger = Ledger::open_read_only(&config.ledger_path())?;
    let mut slots = schedule.slots_before(now, args.past);
    slots.extend(schedule.slots_from(now).take(args.count));
    let mut rows = Vec::new();
    for slot in &slots {
        let record = match &ledger {
            Some(l) => l.issue(&slot.date.to_string())?,
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
        return Ok(exit::OK);
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
    Ok(exit::OK)
}

/// sent / partial / due / missed / upcoming.
fn slot_state(
    schedule: &crate::schedule::Schedule,
    slot: &crate::schedule::Slot,
    status: Option<IssueStatus>,
    now: DateTime<Utc>,
) -> &'static str {
    match status {
        Some(IssueStatus::Sent) => "sent",
        Some(IssueStatus::Sending) => "partial",
        _ if slot.utc > now => "upcoming",
        _ if now < slot.utc + schedule.grace() => "due",
        _ => "missed",
    }
}

fn print_counts(number: u32, date: &str, counts: &crate::store::Counts) {
    let parts: Vec<String> = counts
        .by_status
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    outln!(
        "ledger for issue #{number} ({date}): {}",
        if parts.is_empty() {
            "no recipients".into()
        } else {
            parts.join(", ")
        }
    );
}

fn dry_run(config: &Config, issue: &Issue<'_>, signer: Signer) -> Result<u8, Failure> {
    let started = Instant::now();
    let prepared = Prepared::new(config, issue, signer, SystemTime::now(), false)?
        .with_dkim(config.dkim_signer()?);
    let prepare_secs = started.elapsed().as_secs_f64();
    let mut built = 0u64;
    let mut bytes = 0u64;
    let build = Instant::now();
    let (counts, _) = walk_list(config, true, |s| {
        let m = prepared.message(&Recipient {
            email: &s.email,
            key: &s.key,
            name: &s.name,
        });
        built += 1;
        bytes += m.len() as u64;
    })?;
    let secs = build.elapsed().as_secs_f64();
    outln!(
        "dry run of issue #{} ({}): {}",
        issue.number(),
        issue.slot.date,
        prepared.subject
    );
    outln!(
        "built {built} messages ({} KB average) in {secs:.2}s = {:.0} msgs/s (issue prepared once in {:.0} ms); nothing was delivered",
        bytes.checked_div(built).unwrap_or(0) / 1024,
        built as f64 / secs.max(1e-9),
        prepare_secs * 1000.0
    );
    outln!(
        "recipients: {} active, {} suppressed, {} invalid rows skipped, {} duplicates",
        counts.active,
        counts.suppressed,
        counts.invalid,
        counts.duplicates
    );
    Ok(exit::OK)
}

fn test_send(config: &Config, issue: &Issue<'_>, signer: Signer, to: &str) -> Result<u8, Failure> {
    let address: lettre::Address = to
        .trim()
        .parse()
        .map_err(|e| anyhow!("`{to}` is not a valid email address ({e})"))?;
    let key = list::normalize(to);
    let prepared = Prepared::new(config, issue, signer, SystemTime::now(), true)?
        .with_dkim(config.dkim_signer()?);
    let message = prepared.message(&Recipient {
        email: &address,
        key: &key,
        name: "",
    });
    let transport = Transport::from_config(config, &format!("test-{}", issue.slot.date));
    let rt = runtime()?;
    match rt.block_on(delivery::send_one(
        &transport,
        &prepared.envelope(&address),
        &message,
    )) {
        Ok((code, text)) => {
            outln!(
                "test copy of issue #{} sent to {address}: {code} {text}",
                issue.number()
            );
            Ok(exit::OK)
        }
        Err(e) => Err(fail(
            exit::FAILED,
            anyhow!("test send to `{address}` failed: {e:?}"),
        )),
    }
}

fn status(config: &Config, args: &StatusArgs, now: DateTime<Utc>) -> Result<u8, Failure> {
    let schedule = config.schedule()?;
    let ledger = Ledger::open_read_only(&config.ledger_path())?;
    // A run holding the lock may have recipients in flight; otherwise those were cut off.
    let running = run_in_progress(config);
    let issues = match &ledger {
        Some(l) => l.issues()?,
        None => Vec::new(),
    };
    if let Some(d) = args.date
        && !issues.iter().any(|i| i.slot == d.to_string())
    {
        let slot = slot_for(&schedule, d)?;
        let state = slot_state(&schedule, &slot, None, now);
        if args.json {
            outln!(
                "{}",
                serde_json::json!([{"slot": d.to_string(), "number": slot.number, "status": state, "counts": {}, "recipients": []}])
            );
        } else {
            outln!("#{:<4} {}  {:<9}  nothing recorded", slot.number, d, state);
        }
        return Ok(exit::OK);
    }
    // Slots past their grace that never went out, so nobody mistakes silence for success.
    let recorded: std::collections::HashSet<&str> =
        issues.iter().map(|i| i.slot.as_str()).collect();
    let missed: Vec<_> = if args.date.is_none() {
        schedule
            .slots_before(now, 12)
            .into_iter()
            .filter(|s| !recorded.contains(s.date.to_string().as_str()))
            .filter(|s| slot_state(&schedule, s, None, now) == "missed")
            .collect()
    } else {
        Vec::new()
    };
    // (slot date, JSON, text): printed in date order at the end.
    let mut rows: Vec<(String, serde_json::Value, String)> = Vec::new();
    for s in &missed {
        rows.push((
            s.date.to_string(),
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
        return Ok(exit::OK);
    };
    for i in issues
        .iter()
        .filter(|i| args.date.is_none_or(|d| i.slot == d.to_string()))
    {
        let mut counts = ledger.counts(&i.slot)?;
        let mut detail = if args.date.is_some() {
            ledger.recipients(
                &i.slot,
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
            let json = serde_json::json!({
                "slot": i.slot, "number": i.number, "status": i.status.as_str(),
                "comparisons": i.selection.comparisons, "tip": i.selection.tip,
                "counts": c, "recipients": r,
            });
            let parts: Vec<String> = counts
                .by_status
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect();
            let state = match i.status {
                IssueStatus::Sending => "partial",
                other => other.as_str(),
            };
            let mut text = format!(
                "#{:<4} {}  {:<9}  {}",
                i.number,
                i.slot,
                state,
                if parts.is_empty() {
                    "no recipients".into()
                } else {
                    parts.join(", ")
                }
            );
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
            rows.push((i.slot.clone(), json, text));
        }
    }
    print_rows(rows, args.json);
    Ok(exit::OK)
}

fn print_rows(mut rows: Vec<(String, serde_json::Value, String)>, json: bool) {
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    if json {
        let all: Vec<serde_json::Value> = rows.into_iter().map(|r| r.1).collect();
        outln!("{}", serde_json::Value::Array(all));
    } else {
        for r in rows {
            outln!("{}", r.2);
        }
    }
}
