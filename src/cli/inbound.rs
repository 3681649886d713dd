//! `tipsheet inbound`: bounces, complaints and mailed unsubscribes from files,
//! standard input (an MTA pipe) or a Maildir.
//!
//! Owns reading the messages (capped) and the Maildir moves (`new` → `cur`
//! with the `S` flag, never a delete; what is not handled stays in `new`),
//! the exit code a piped message gives the mail system (75 to retry, 0 with
//! an unrecognised message kept for a person), the dry run (which writes
//! nothing), and what is printed. What a message means and does is `inbound`'s, carried
//! out on the configured store.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::common::signer;
use super::output::{errln, outln};
use crate::config::Config;
use crate::error::{Ending, Error};
use crate::inbound::{Done, Handled, InboundError, Processor, classify::MAX_BYTES, plan};
use crate::store::{Engine, EventKind, Store};

/// `inbound` options.
#[derive(Debug, Args)]
pub struct InboundArgs {
    /// Raw messages, one per file; `-` reads one from standard input.
    #[arg(value_name = "FILE", conflicts_with = "maildir")]
    pub files: Vec<PathBuf>,
    /// Process the messages in DIR/new, moving each handled one to DIR/cur.
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// Classify and show what would happen, writing nothing: the store is
    /// only read, and no Maildir message moves.
    #[arg(long)]
    pub dry_run: bool,
    /// With `--dry-run`: one JSON object per message, one per line.
    #[arg(long, requires = "dry_run")]
    pub json: bool,
}

#[derive(Default)]
struct Tally {
    recorded: u64,
    repeated: u64,
    ignored: u64,
    refused: u64,
    unknown: u64,
    errors: u64,
}

/// Runs `inbound`: 0 when every message was read (handled, ignored, or left
/// in place as not recognised or not trusted), 1 when any could not be read;
/// `inbound -` alone answers the mail system instead (see [`pipe`]).
pub(super) async fn run(
    config: &Config,
    args: &InboundArgs,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
    if args.files.is_empty() && args.maildir.is_none() {
        return Err(Error::Usage(
            "nothing to read: name message files (`-` for standard input) or `--maildir DIR`"
                .into(),
        ));
    }
    if !args.dry_run && args.files.len() == 1 && args.files[0].as_os_str() == "-" {
        return pipe(config, now).await;
    }
    let signer = signer(config, false)?;
    if args.dry_run {
        let Some(store) = crate::plan::read_store(config).await? else {
            return Err(Error::Usage(format!(
                "the store at `{}` holds nothing yet: no issue was sent, so no message can be tied to one; send first",
                crate::config::redact_url(&crate::plan::store_settings(config)?.url.to_string())
            )));
        };
        return dry_run(&Processor::new(config, &signer, &store, now), args).await;
    }
    let store = Store::open(&crate::plan::store_settings(config)?).await?;
    read_all(&Processor::new(config, &signer, &store, now), args).await
}

/// The messages `args` names: how each is shown, and its file (`None`:
/// standard input).
fn sources(args: &InboundArgs) -> Result<Vec<(String, Option<PathBuf>)>, Error> {
    let Some(dir) = &args.maildir else {
        return Ok(args
            .files
            .iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    ("standard input".to_string(), None)
                } else {
                    (p.display().to_string(), Some(p.clone()))
                }
            })
            .collect());
    };
    let new = dir.join("new");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&new)
        .map_err(|e| {
            Error::Usage(format!(
                "cannot read `{}`: {e} (is `{}` a Maildir, with new/ and cur/?)",
                new.display(),
                dir.display()
            ))
        })?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .map(|p| (p.display().to_string(), Some(p)))
        .collect())
}

/// One message's bytes, from its file or standard input.
fn read(path: Option<&Path>) -> Result<Vec<u8>, String> {
    match path {
        Some(p) => read_file(p),
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .take(MAX_BYTES as u64 + 1)
                .read_to_end(&mut buf)
                .map(|_| buf)
                .map_err(|e| format!("cannot read standard input: {e}"))
        }
    }
}

/// Reads the messages `args` names and reports each, then the tally.
async fn read_all(processor: &Processor<'_>, args: &InboundArgs) -> Result<Ending, Error> {
    let mut tally = Tally::default();
    let cur = args.maildir.as_ref().map(|d| d.join("cur"));
    if let Some(cur) = &cur {
        std::fs::create_dir_all(cur).map_err(|source| Error::Write {
            what: "cannot create",
            path: cur.clone(),
            source,
        })?;
    }
    for (shown, path) in sources(args)? {
        let handled = one(processor, &shown, read(path.as_deref()), &mut tally).await;
        if let (true, Some(cur), Some(path)) = (handled, &cur, &path) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Maildir: `:2,` then flags; S = seen. A name already carrying
            // info keeps it (files in new/ should have none).
            let target = if name.contains(":2,") {
                cur.join(&name)
            } else {
                cur.join(format!("{name}:2,S"))
            };
            if let Err(e) = std::fs::rename(path, &target) {
                errln!(
                    "error: {shown}: handled, but cannot move it to `{}`: {e}; processing it again changes nothing",
                    target.display()
                );
                tally.errors += 1;
            }
        }
    }
    let t = &tally;
    outln!(
        "inbound: {} recorded, {} already recorded, {} ignored, {} refused, {} not recognised, {} unreadable",
        t.recorded,
        t.repeated,
        t.ignored,
        t.refused,
        t.unknown,
        t.errors
    );
    Ok(if t.errors > 0 {
        Ending::Failures
    } else {
        Ending::Done
    })
}

/// `--dry-run`: each message classified and what the real run would do
/// shown, nothing written (the store only read, no Maildir move).
async fn dry_run(processor: &Processor<'_>, args: &InboundArgs) -> Result<Ending, Error> {
    let mut unreadable = 0;
    for (shown, path) in sources(args)? {
        let source = path
            .as_ref()
            .map_or_else(|| "-".to_string(), |p| p.display().to_string());
        let planned = match read(path.as_deref()) {
            Ok(raw) => match processor.plan(&raw).await {
                Ok(plan) => Ok(plan),
                Err(InboundError::Ledger(e)) => return Err(e.into()),
                Err(InboundError::Policy(e)) => return Err(e.into()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e),
        };
        let plan = match planned {
            Ok(p) => p,
            Err(e) => {
                unreadable += 1;
                if args.json {
                    outln!("{}", plan::unreadable_json(&source, &e));
                } else {
                    outln!("{shown}: unreadable: {e}; the real run changes nothing");
                }
                continue;
            }
        };
        if args.json {
            outln!("{}", plan.json(&source));
            continue;
        }
        let what = match &plan.feedback_type {
            Some(t) => format!("{} ({t})", plan.kind.as_str()),
            None => plan.kind.as_str().to_string(),
        };
        let verdict = match (plan.reader(), plan.untrusted_because()) {
            (Some(reader), _) => format!("would act for {reader}"),
            (None, Some(why)) => format!("would refuse it: {why}"),
            (None, None) if plan.kind == plan::MessageKind::Unknown => {
                format!("not recognised ({}); would leave it", plan.note())
            }
            (None, None) => format!("would ignore it ({})", plan.note()),
        };
        outln!("{shown}: {what}, token {}: {verdict}", plan.token.as_str());
        for s in &plan.steps {
            outln!(
                "  {} {} {} ({}): {}",
                s.address.as_deref().unwrap_or("-"),
                s.status.as_deref().unwrap_or("-"),
                s.reason,
                s.scope,
                s.action
            );
        }
    }
    Ok(if unreadable > 0 {
        Ending::Failures
    } else {
        Ending::Done
    })
}

/// At most [`MAX_BYTES`] + 1 bytes of `path` (the cap is checked by `classify`).
fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut buf = Vec::new();
    file.take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read it: {e}"))?;
    Ok(buf)
}

/// Processes one message and reports it; true when it was handled (recorded,
/// repeated or ignored), so a Maildir may move it.
async fn one(
    processor: &Processor<'_>,
    name: &str,
    raw: Result<Vec<u8>, String>,
    tally: &mut Tally,
) -> bool {
    let raw = match raw {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {name}: {e}");
            tally.errors += 1;
            return false;
        }
    };
    report(name, processor.process(&raw).await, tally)
}

/// Reports what processing a message did; true when it was handled
/// (recorded, repeated or ignored).
fn report(name: &str, result: Result<Handled, InboundError>, tally: &mut Tally) -> bool {
    match result {
        Ok(Handled::Events(done)) => {
            for d in &done {
                report_event(name, d, tally);
            }
            true
        }
        Ok(Handled::Ignored(why)) => {
            tally.ignored += 1;
            outln!("{name}: ignored: {why}");
            true
        }
        Ok(Handled::Refused(why)) => {
            tally.refused += 1;
            errln!("warning: {name}: refused, nothing changed: {why}; left in place");
            false
        }
        Ok(Handled::Unknown(why)) => {
            tally.unknown += 1;
            errln!("warning: {name}: not recognised ({why}); left in place");
            false
        }
        Err(e) => {
            tally.errors += 1;
            errln!("error: {name}: {e}; nothing changed");
            false
        }
    }
}

/// `inbound -` alone: one message from the mail system (Postfix pipe(8) and
/// the like), which reads the exit code. 75 (`EX_TEMPFAIL`) when it cannot be
/// taken now, so the mail system keeps it and retries; 0 otherwise, a message
/// not recognised (or not readable as mail) being kept in
/// `<state.dir>/inbound/unrecognised/` for a person, never bounced back.
async fn pipe(config: &Config, now: DateTime<Utc>) -> Result<Ending, Error> {
    let later = |e: Error| Error::Temporary(Box::new(e));
    let raw = read(None).map_err(|e| later(Error::Usage(e)))?;
    let signer = signer(config, false).map_err(later)?;
    let settings = crate::plan::store_settings(config).map_err(|e| later(e.into()))?;
    let store = Store::open(&settings).await.map_err(|e| later(e.into()))?;
    let processor = Processor::new(config, &signer, &store, now);
    let result = match processor.process(&raw).await {
        Err(InboundError::Ledger(e)) => return Err(later(e.into())),
        Err(InboundError::Policy(e)) => return Err(later(e.into())),
        other => other,
    };
    let unrecognised = matches!(result, Ok(Handled::Unknown(_)) | Err(_));
    let mut tally = Tally::default();
    report("standard input", result, &mut tally);
    if unrecognised {
        let kept = keep(config, &raw, now).map_err(later)?;
        errln!(
            "standard input: kept in `{}` for a person to read",
            kept.display()
        );
    }
    Ok(Ending::Done)
}

/// Writes `raw` under `<state.dir>/inbound/unrecognised/`, readable by its
/// owner only (it is someone's mail); the path written.
fn keep(config: &Config, raw: &[u8], now: DateTime<Utc>) -> Result<PathBuf, Error> {
    use sha2::{Digest, Sha256};
    use std::io::Write;
    let dir = config.state.dir.join("inbound").join("unrecognised");
    let failed = |what: &'static str, path: &Path, source| Error::Write {
        what,
        path: path.to_path_buf(),
        source,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .map_err(|e| failed("cannot create", &dir, e))?;
    let hash = hex::encode(Sha256::digest(raw));
    let path = dir.join(format!(
        "{}-{}.eml",
        now.format("%Y%m%dT%H%M%S%.3fZ"),
        &hash[..16]
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(|e| failed("cannot write", &path, e))?;
    file.write_all(raw)
        .and_then(|()| file.sync_all())
        .map_err(|e| failed("cannot write", &path, e))?;
    Ok(path)
}

/// Prints what one event did, and counts it.
fn report_event(name: &str, done: &Done, tally: &mut Tally) {
    let (event, applied) = (&done.event, &done.applied);
    let issue = event
        .slot
        .map_or_else(|| "?".to_string(), |d| d.to_string());
    if !applied.new {
        tally.repeated += 1;
        outln!(
            "{name}: {} for {} (issue {issue}) already recorded; nothing changed",
            event.kind,
            event.email
        );
        return;
    }
    tally.recorded += 1;
    let mut effects = Vec::new();
    if let Some(reason) = &applied.suppressed {
        effects.push(format!("suppressed ({reason})"));
    }
    if applied.row_bounced {
        effects.push("ledger row now bounced".into());
    }
    if applied.erased_as.is_some() {
        effects.push(
            "the address was erased (`subscribers forget`): recorded under its pseudonym, not written back"
                .into(),
        );
    }
    if applied.suppressed.is_none()
        && let Some(n) = applied.soft_count
    {
        effects.push(format!("{n} soft bounce(s) in the window"));
    }
    if effects.is_empty() {
        effects.push(match &event.failure {
            Some(f) if event.kind == EventKind::Failure => format!(
                "recorded ({} at `{}`, scope {}: never counts against the reader)",
                f.reason, f.provider, f.scope
            ),
            _ => "recorded".into(),
        });
    }
    let why = match (&event.status, event.reason.is_empty()) {
        (Some(s), _) => format!(" [{s}]"),
        (None, false) => format!(" [{}]", event.reason),
        _ => String::new(),
    };
    outln!(
        "{name}: {} for {} (issue {issue}){why}: {}",
        event.kind,
        event.email,
        effects.join("; ")
    );
}

/// Adds issue `slot`'s feedback (bounces after the session, complaints,
/// unsubscribes, rates, warnings; with `detailed`, each address) to its
/// `status` row.
pub(super) async fn feedback(
    store: &dyn Engine,
    slot: NaiveDate,
    detailed: bool,
    json: &mut serde_json::Value,
    text: &mut String,
) -> Result<crate::inbound::report::IssueFeedback, Error> {
    let fb = crate::inbound::report::issue(store, slot).await?;
    json["feedback"] = fb.json(detailed);
    text.push_str("\n  ");
    text.push_str(&fb.line());
    if let Some(line) = fb.failures_line() {
        text.push_str("\n  ");
        text.push_str(&line);
    }
    for w in &fb.warnings {
        text.push_str("\n  warning: ");
        text.push_str(w);
    }
    if detailed {
        for e in &fb.events {
            let e = &e.event;
            text.push_str(&format!(
                "\n  {:<11} {}  {}  {}{}",
                e.kind.as_str(),
                e.email,
                e.source,
                e.status
                    .as_deref()
                    .map(|s| format!("{s} "))
                    .unwrap_or_default(),
                e.reason
            ));
        }
    }
    Ok(fb)
}
