//! `tipsheet inbound`: bounces, complaints and mailed unsubscribes from files,
//! standard input (an MTA pipe) or a Maildir.
//!
//! Owns reading the messages (capped) and the Maildir moves (`new` → `cur`
//! with the `S` flag, never a delete; what is not handled stays in `new`), and
//! what is printed. What a message means and does is `inbound`'s, carried
//! out on the configured store.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::common::signer;
use super::output::{errln, outln};
use crate::config::Config;
use crate::error::{Ending, Error};
use crate::inbound::{Handled, Processor, classify::MAX_BYTES};
use crate::store::{Engine, Store};

/// `inbound` options.
#[derive(Debug, Args)]
pub struct InboundArgs {
    /// Raw messages, one per file; `-` reads one from standard input.
    #[arg(value_name = "FILE", conflicts_with = "maildir")]
    pub files: Vec<PathBuf>,
    /// Process the messages in DIR/new, moving each handled one to DIR/cur.
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
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
/// in place as not recognised or not trusted), 1 when any could not be read.
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
    let signer = signer(config, false)?;
    let store = Store::open(&crate::plan::store_settings(config)?).await?;
    read_all(&Processor::new(config, &signer, &store, now), args).await
}

/// Reads the messages `args` names and reports each, then the tally.
async fn read_all(processor: &Processor<'_>, args: &InboundArgs) -> Result<Ending, Error> {
    let mut tally = Tally::default();
    if let Some(dir) = &args.maildir {
        let new = dir.join("new");
        let cur = dir.join("cur");
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
        std::fs::create_dir_all(&cur).map_err(|source| Error::Write {
            what: "cannot create",
            path: cur.clone(),
            source,
        })?;
        for path in names {
            let shown = path.display().to_string();
            let handled = one(processor, &shown, read_file(&path), &mut tally).await;
            if handled {
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
                if let Err(e) = std::fs::rename(&path, &target) {
                    errln!(
                        "error: {shown}: handled, but cannot move it to `{}`: {e}; processing it again changes nothing",
                        target.display()
                    );
                    tally.errors += 1;
                }
            }
        }
    } else {
        for path in &args.files {
            if path.as_os_str() == "-" {
                let mut buf = Vec::new();
                let read = std::io::stdin()
                    .lock()
                    .take(MAX_BYTES as u64 + 1)
                    .read_to_end(&mut buf)
                    .map(|_| buf)
                    .map_err(|e| format!("cannot read standard input: {e}"));
                one(processor, "standard input", read, &mut tally).await;
            } else {
                let shown = path.display().to_string();
                one(processor, &shown, read_file(path), &mut tally).await;
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
    match processor.process(&raw).await {
        Ok(Handled::Event { event, applied }) => {
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
                return true;
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
                effects.push("recorded".into());
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

/// Adds issue `slot`'s feedback (bounces after the session, complaints,
/// unsubscribes, rates, warnings; with `detailed`, each address) to its
/// `status` row.
pub(super) async fn feedback(
    store: &dyn Engine,
    slot: NaiveDate,
    detailed: bool,
    json: &mut serde_json::Value,
    text: &mut String,
) -> Result<(), Error> {
    let fb = crate::inbound::report::issue(store, slot).await?;
    json["feedback"] = fb.json(detailed);
    text.push_str("\n  ");
    text.push_str(&fb.line());
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
    Ok(())
}
