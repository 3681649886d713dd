//! `tipsheet subscribers show|forget`: what tipsheet holds about one reader,
//! and erasing it on their request.
//!
//! Owns these subcommands' arguments, the confirmation prompt and what they
//! print. What is gathered and how it is erased is `crate::reader_data`'s, on
//! whichever store the config names (the files or PostgreSQL).

use std::io::{BufRead, IsTerminal};

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use super::output::{errln, outln};
use crate::config::Config;
use crate::error::{Ending, Error};
use crate::list::erase::Row;
use crate::mail::token::{DEVELOPMENT_SECRET, Signer};
use crate::reader_data::{self, PrivacyError};
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
pub(crate) async fn run(
    config: &Config,
    args: &SubscribersArgs,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
    match &args.command {
        SubscribersCommand::Show(a) => show(config, a).await,
        SubscribersCommand::Forget(a) => forget(config, a, now).await,
        SubscribersCommand::Import(a) => {
            super::subscribers::run(super::subscribers::ListCommand::Import(a), config, now).await
        }
        SubscribersCommand::Export(a) => {
            super::subscribers::run(super::subscribers::ListCommand::Export(a), config, now).await
        }
    }
}

fn no_schema(settings: &StoreSettings) -> Error {
    Error::Usage(format!(
        "store `{}` has no tipsheet schema yet: it holds nobody's data (`tipsheet subscribers import FILE` fills it)",
        settings.url
    ))
}

async fn show(config: &Config, args: &ShowArgs) -> Result<Ending, Error> {
    // Without a secret, clear rows are still found; pseudonyms cannot be.
    let keyer = reader_data::configured_keyer(config)
        .unwrap_or_else(|| crate::plan::keyer_of(Signer::new(DEVELOPMENT_SECRET.as_bytes())));
    let mut settings = crate::plan::store_settings(config)?;
    settings.keyer = Some(keyer.clone());
    let Some(store) = Store::open_to_read(&settings).await? else {
        return Err(no_schema(&settings));
    };
    let record = reader_data::gather(&*store, &keyer, &args.email).await?;
    let places = store.places();
    if args.json {
        outln!("{}", record.to_json());
        return Ok(Ending::Done);
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
    // Where a row is: `file:line`, or the store's table (rows with no line).
    let place = |whole: &str, line: u64| {
        if line == 0 {
            whole.to_string()
        } else {
            format!("{whole}:{line}")
        }
    };
    let rows = |title: &str, whole: &str, rows: &[Row]| {
        outln!("{title}: {}", count(rows.len(), "row"));
        for r in rows {
            let fields: Vec<String> = r
                .fields
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(c, v)| format!("{c} `{v}`"))
                .collect();
            outln!("  {}  {}", place(whole, r.line), fields.join(", "));
        }
    };
    rows("list", &places.list, &record.list);
    rows(
        "suppression history",
        &places.suppressions,
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
    if let Some(at) = record.confirmation {
        outln!(
            "sign-up: a confirmation mail was sent at {} (kept one hour, as the sign-up limit)",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    if let Some(at) = record.privacy_link {
        outln!(
            "privacy: a link to this data was mailed at {} (kept one hour, as the request limit)",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    let copies = reader_data::copies(config, &record.key);
    if !copies.is_empty() {
        outln!(
            "copies outside tipsheet's records (outbox and previews; the operator's): {}",
            copies.len()
        );
        for p in &copies {
            outln!("  {}", p.display());
        }
    }
    Ok(Ending::Done)
}

fn count(n: usize, what: &str) -> String {
    match n {
        0 => "none".into(),
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

async fn forget(config: &Config, args: &ForgetArgs, now: DateTime<Utc>) -> Result<Ending, Error> {
    let Some(keyer) = reader_data::configured_keyer(config) else {
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
            return Ok(Ending::Done);
        }
    }
    let copies = if args.outbox {
        reader_data::Copies::DeleteOutbox
    } else {
        reader_data::Copies::List
    };
    let store = Store::open(&crate::plan::store_settings(config)?).await?;
    let erased = reader_data::forget(config, &*store, &keyer, &args.email, copies, now).await?;
    let places = store.places();
    outln!("forgot `{}`; it is now `{}`", erased.key, erased.pseudonym);
    let (list, suppressed, ledger, suppression) = (
        places.list,
        places.suppressions,
        places.ledger,
        places.erased_suppressions,
    );
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
    Ok(Ending::Done)
}
