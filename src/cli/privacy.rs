//! `tipsheet subscribers show|forget`: what tipsheet holds about one reader,
//! and erasing it on their request.
//!
//! Owns these subcommands' arguments, the confirmation prompt and what they
//! print. What is gathered and how it is erased is `crate::privacy`'s, on
//! whichever store the config names (the files or PostgreSQL).

use std::io::{BufRead, IsTerminal};

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use super::output::{errln, outln};
use crate::config::Config;
use crate::error::{Error, Outcome};
use crate::list::privacy::Row;
use crate::mail::token::{DEVELOPMENT_SECRET, Signer};
use crate::privacy::{self, Engine, PrivacyError};
use crate::store::{Store, StoreSettings};

/// `subscribers` commands.
#[derive(Debug, Args)]
pub struct SubscribersArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SubscribersCommand,
}

/// One reader's data.
#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// Everything held about one address: list rows, suppression history,
    /// every issue sent to it (for answering an access request).
    Show(ShowArgs),
    /// Erase one address: its list rows removed, and everywhere else its
    /// address and name replaced by a keyed hash that keeps it suppressed.
    Forget(ForgetArgs),
    /// Load a `email,name,subscribed_at` CSV (and a suppression CSV) into the
    /// PostgreSQL store; importing twice changes nothing, and an import never
    /// lifts a suppression.
    Import(super::subscribers::ImportListArgs),
    /// Write the stored list as `subscribers.csv` and `suppressed.csv`.
    Export(super::subscribers::ExportListArgs),
}

/// `subscribers show` options.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The address.
    pub email: String,
    /// Print JSON (what the reader's "Download my data" gives).
    #[arg(long)]
    pub json: bool,
}

/// `subscribers forget` options.
#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The address.
    pub email: String,
    /// Do not ask for confirmation (needed when not on a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Also delete the outbox's `.eml` copies of mail sent to the address.
    #[arg(long)]
    pub outbox: bool,
}

/// Runs a `subscribers` command.
pub fn run(config: &Config, args: &SubscribersArgs, now: DateTime<Utc>) -> Result<Outcome, Error> {
    match &args.command {
        SubscribersCommand::Show(a) => show(config, a),
        SubscribersCommand::Forget(a) => forget(config, a, now),
        SubscribersCommand::Import(a) => {
            super::subscribers::run(super::subscribers::ListCommand::Import(a), config, now)
        }
        SubscribersCommand::Export(a) => {
            super::subscribers::run(super::subscribers::ListCommand::Export(a), config, now)
        }
    }
}

/// Runs `f` with the configured store's engine, on a runtime of its own.
/// `write` opens (and migrates) a PostgreSQL store; otherwise a store with no
/// schema yet is an error that says it holds nothing.
fn on_store<T>(
    config: &Config,
    write: bool,
    f: impl AsyncFnOnce(Engine<'_>, &str) -> Result<T, Error>,
) -> Result<T, Error> {
    let settings = StoreSettings::from_config(config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async {
        if !settings.url.is_shared() {
            return f(Engine::Files, "").await;
        }
        let store = if write {
            Store::open(&settings).await?
        } else {
            match Store::open_read_only(&settings).await? {
                Some(s) => s,
                None => {
                    return Err(Error::Usage(format!(
                        "store `{}` has no tipsheet schema yet: it holds nobody's data (`tipsheet subscribers import FILE` fills it)",
                        settings.url
                    )));
                }
            }
        };
        let pg = store.shared()?;
        f(Engine::Shared(pg), &pg.url().to_string()).await
    })
}

fn show(config: &Config, args: &ShowArgs) -> Result<Outcome, Error> {
    // Without a secret, clear rows are still found; pseudonyms cannot be.
    let keyer = privacy::configured_keyer(config)
        .unwrap_or_else(|| crate::plan::keyer_of(Signer::new(DEVELOPMENT_SECRET.as_bytes())));
    let (record, store) = on_store(config, false, async |engine, store| {
        let record = privacy::gather(config, engine, &keyer, &args.email).await?;
        Ok((record, store.to_string()))
    })?;
    if args.json {
        outln!("{}", record.to_json());
        return Ok(Outcome::Done);
    }
    outln!(
        "{}{}",
        record.key,
        if record.forgotten {
            format!(" (forgotten: held only as `{}`)", record.pseudonym)
        } else {
            String::new()
        }
    );
    // Where a row is: `file:line`, or the shared store's table.
    let place = |path: &std::path::Path, table: &str, line: u64| {
        if store.is_empty() {
            format!("{}:{line}", path.display())
        } else {
            format!("`{store}` {table}")
        }
    };
    let rows = |title: &str, path: &std::path::Path, table: &str, rows: &[Row]| {
        outln!("{title}: {}", count(rows.len(), "row"));
        for r in rows {
            let fields: Vec<String> = r
                .fields
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(c, v)| format!("{c} `{v}`"))
                .collect();
            outln!("  {}  {}", place(path, table, r.line), fields.join(", "));
        }
    };
    rows(
        "list",
        &config.subscribers.path,
        "subscribers",
        &record.list,
    );
    rows(
        "suppression history",
        &config.subscribers.suppressed_path,
        "suppressions",
        &record.suppression,
    );
    outln!("issues: {}", count(record.issues.len(), "issue"));
    for i in &record.issues {
        let r = &i.recipient;
        outln!(
            "  #{:<4} {}  {:<9}  attempts {}  {}{}  (updated {})",
            i.number,
            i.slot,
            r.status.as_str(),
            r.attempts,
            r.last_code.map(|c| format!("{c} ")).unwrap_or_default(),
            r.last_reply.as_deref().unwrap_or(""),
            r.updated_at
        );
    }
    if !record.events.is_empty() {
        outln!("events: {}", count(record.events.len(), "event"));
        for e in &record.events {
            outln!(
                "  {}  {:<11}  {}{}  {}",
                e.at,
                e.kind,
                e.status
                    .as_deref()
                    .map(|s| format!("{s} "))
                    .unwrap_or_default(),
                e.reason,
                e.slot.as_deref().unwrap_or("")
            );
        }
    }
    let copies = privacy::copies(config, &record.key);
    if !copies.is_empty() {
        outln!(
            "copies outside tipsheet's records (outbox and previews; the operator's): {}",
            copies.len()
        );
        for p in &copies {
            outln!("  {}", p.display());
        }
    }
    Ok(Outcome::Done)
}

fn count(n: usize, what: &str) -> String {
    match n {
        0 => "none".into(),
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

fn forget(config: &Config, args: &ForgetArgs, now: DateTime<Utc>) -> Result<Outcome, Error> {
    let Some(keyer) = privacy::configured_keyer(config) else {
        return Err(PrivacyError::NoSecret(config.unsubscribe.secret_env.clone()).into());
    };
    let key = crate::list::normalize(&args.email);
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(PrivacyError::Unconfirmed(key).into());
        }
        errln!(
            "forget `{key}`? Its list rows are removed and its address and name replaced by a keyed hash everywhere else. This cannot be undone. [y/N]"
        );
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|source| PrivacyError::Io {
                path: "standard input".into(),
                source,
            })?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            outln!("nothing was erased");
            return Ok(Outcome::Done);
        }
    }
    let copies = if args.outbox {
        privacy::Copies::DeleteOutbox
    } else {
        privacy::Copies::List
    };
    let (erased, store) = on_store(config, true, async |engine, store| {
        let lock = privacy::lock_state(config, engine)?;
        let erased =
            privacy::forget(config, engine, &lock, &keyer, &args.email, copies, now).await?;
        drop(lock);
        Ok((erased, store.to_string()))
    })?;
    outln!("forgot `{}`; it is now `{}`", erased.key, erased.pseudonym);
    let (list, suppressed, ledger, suppression) = if store.is_empty() {
        (
            config.subscribers.path.display().to_string(),
            config.subscribers.suppressed_path.display().to_string(),
            config.ledger_path().display().to_string(),
            "rewritten to the hash, `forgotten` row appended",
        )
    } else {
        (
            format!("`{store}` subscribers"),
            format!("`{store}` suppressions"),
            format!("`{store}` recipients and events"),
            "replaced by one `forgotten` row holding only the hash",
        )
    };
    outln!("  {list}: {} removed", count(erased.list_rows, "row"));
    outln!(
        "  {suppressed}: {} {suppression}",
        count(erased.suppression_rows, "earlier row")
    );
    outln!(
        "  {ledger}: {} pseudonymized (recipient rows and events; statuses, kinds and counts kept)",
        count(erased.ledger_rows as usize, "ledger row")
    );
    for p in &erased.deleted {
        outln!("  deleted {}", p.display());
    }
    if !erased.copies.is_empty() {
        outln!(
            "these files still hold the address; they are the operator's copies (remove them, or rerun with `--outbox` for the outbox's .eml files):"
        );
        for p in &erased.copies {
            outln!("  {}", p.display());
        }
    }
    Ok(Outcome::Done)
}
