//! `tipsheet subscribers import|export`: moving the list between CSV files and
//! the shared store.
//!
//! Owns these two commands' arguments and what they print. Every file
//! format concern (validation, `file:line` messages, dedupe, suppression, the
//! torn-row check, writing a CSV safely) is the list module's; the SQL is the
//! store's. On the file engine the list *is* the CSV
//! file, and both commands say so instead of doing anything. An import never
//! writes an erased reader (`subscribers forget`) back: the store holds only
//! its keyed hash, which `crate::reader_data` recognises.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;

use super::output::{errln, outln};
use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::error::{Ending, Error};
use crate::list::SuppressionReason;
use crate::list::export::{create_folder, write_csv};
use crate::list::import::{ImportError, read_suppressions, refuse_torn};
use crate::list::keyer::Keyer;
use crate::list::{self, Dedupe, RowProblem, SubscriberReader};
use crate::store::{Store, StoredSubscriber, StoredSuppression};

/// Rows written per statement.
const BATCH: usize = 1000;

/// The list commands of `tipsheet subscribers` (the group is in
/// [`super::reader`], beside `show` and `forget`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum ListCommand<'a> {
    /// `subscribers import`.
    Import(&'a ImportListArgs),
    /// `subscribers export`.
    Export(&'a ExportListArgs),
}

/// `subscribers import` options.
#[derive(Debug, Args)]
pub struct ImportListArgs {
    /// The list, in the format of `subscribers.path`.
    pub file: PathBuf,
    /// A suppression list (`email,reason,at`) to add as well.
    #[arg(long, value_name = "FILE")]
    pub suppressed: Option<PathBuf>,
}

/// `subscribers export` options.
#[derive(Debug, Args)]
pub struct ExportListArgs {
    /// The folder to write `subscribers.csv` and `suppressed.csv` into.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
}

/// Runs `tipsheet subscribers …`.
pub(crate) async fn run(
    command: ListCommand<'_>,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
    let settings = crate::plan::store_settings(config)?;
    let store = match Store::open_to_read(&settings).await? {
        Some(s) => s,
        // The import creates the schema on a new database.
        None if matches!(command, ListCommand::Import(_)) => Store::open(&settings).await?,
        None => {
            return Err(Error::Usage(format!(
                "store `{}` has no tipsheet schema yet: nothing to export (`tipsheet subscribers import FILE` fills it)",
                settings.url
            )));
        }
    };
    // Where the list is a file, there is nothing to import into or export
    // from: the engine says so.
    store.list_counts().await?;
    match command {
        ListCommand::Import(a) => import(config, &store, a, now).await,
        ListCommand::Export(a) => export(&store, a).await,
    }
}

fn warn(p: RowProblem) {
    errln!(
        "{}",
        Diagnostic::warning(
            p.path,
            p.line as usize,
            format!("{}; row skipped", p.message)
        )
    );
}

/// What recognises erased readers in the store: `None` when it holds none
/// (then no secret is needed); an error when it holds some and the secret
/// that keys their hashes is not set.
async fn erased_keyer(config: &Config, store: &Store) -> Result<Option<Keyer>, Error> {
    match crate::plan::keyer(config) {
        Ok(k) => Ok(Some(k)),
        Err(e) => match store
            .suppressions()
            .await
            .map_err(Error::Store)?
            .iter()
            .filter(|s| SuppressionReason::Forgotten.is(&s.reason))
            .count()
        {
            0 => Ok(None),
            n => Err(Error::Usage(format!(
                "{e}; the store holds {n} erased reader(s) as keyed hashes, and without the secret an import cannot tell them from new rows: nothing was imported"
            ))),
        },
    }
}

/// The rows of `batch` whose reader was erased are dropped (with a warning
/// naming the line) instead of written back in clear; returns how many.
async fn drop_erased(
    store: &Store,
    keyer: Option<&Keyer>,
    path: &Path,
    batch: &mut Vec<(u64, StoredSubscriber)>,
) -> Result<usize, Error> {
    let Some(_keyer) = keyer else { return Ok(0) };
    let keys: Vec<&str> = batch.iter().map(|(_, s)| s.key.as_str()).collect();
    let erased = store.forgotten_among(&keys).await.map_err(Error::Store)?;
    let before = batch.len();
    batch.retain(|(line, s)| {
        if !erased.contains(&s.key) {
            return true;
        }
        warn(RowProblem {
            path: path.to_path_buf(),
            line: *line,
            last_line: *line,
            message: format!(
                "`{}` is suppressed: its reader asked to be forgotten (`subscribers forget`), and the store keeps only its keyed hash",
                s.address
            ),
        });
        false
    });
    Ok(before - batch.len())
}

/// Writes one batch of the list, erased readers left out: (rows new, rows refused).
async fn add_batch(
    store: &Store,
    keyer: Option<&Keyer>,
    path: &Path,
    batch: &mut Vec<(u64, StoredSubscriber)>,
) -> Result<(u64, usize), Error> {
    let refused = drop_erased(store, keyer, path, batch).await?;
    let rows: Vec<StoredSubscriber> = batch.drain(..).map(|(_, s)| s).collect();
    let new = store
        .import_subscribers(&rows)
        .await
        .map_err(Error::Store)?;
    Ok((new, refused))
}

async fn import(
    config: &Config,
    store: &Store,
    args: &ImportListArgs,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
    let keyer = erased_keyer(config, store).await?;
    let keyer = keyer.as_ref();
    let mut skipped = 0usize;
    let (mut suppressions, mut suppressions_new) = (0u64, 0u64);
    if let Some(path) = &args.suppressed {
        let (rows, problems) = read_suppressions(path, now)?;
        skipped += problems.len();
        problems.into_iter().for_each(warn);
        let mut rows: Vec<StoredSuppression> = rows
            .into_iter()
            .map(|r| StoredSuppression {
                key: r.key,
                address: r.address,
                reason: r.reason,
                at: r.at,
            })
            .collect();
        // An erased reader is suppressed already, under its hash only.
        if keyer.is_some() {
            let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
            let erased = store.forgotten_among(&keys).await.map_err(Error::Store)?;
            rows.retain(|r| !erased.contains(&r.key));
        }
        suppressions = rows.len() as u64;
        for chunk in rows.chunks(BATCH) {
            suppressions_new += store
                .import_suppressions(chunk)
                .await
                .map_err(Error::Store)?;
        }
    }
    refuse_torn(&args.file)?;
    let mut reader = SubscriberReader::open(&args.file).map_err(ImportError::from)?;
    let mut dedupe = Dedupe::new();
    let mut batch = Vec::with_capacity(BATCH);
    let (mut total, mut new) = (0u64, 0u64);
    for row in reader.by_ref() {
        let sub = match row {
            Ok(s) => s,
            Err(p) => {
                skipped += 1;
                warn(p);
                continue;
            }
        };
        if let Err(p) = dedupe.check(&args.file, &sub) {
            skipped += 1;
            warn(p);
            continue;
        }
        batch.push((
            sub.line,
            StoredSubscriber {
                key: sub.key,
                address: sub.email.to_string(),
                name: sub.name,
                subscribed_at: sub
                    .subscribed_at
                    .map(|d| d.to_utc().to_rfc3339_opts(SecondsFormat::Secs, true)),
            },
        ));
        total += 1;
        if batch.len() == BATCH {
            let (n, refused) = add_batch(store, keyer, &args.file, &mut batch).await?;
            new += n;
            total -= refused as u64;
            skipped += refused;
        }
    }
    let (n, refused) = add_batch(store, keyer, &args.file, &mut batch).await?;
    new += n;
    total -= refused as u64;
    skipped += refused;
    if let Err(source) = reader.finish() {
        return Err(ImportError::StoppedAfter {
            source,
            imported: total,
        }
        .into());
    }
    let (listed, suppressed) = store.list_counts().await.map_err(Error::Store)?;
    outln!(
        "imported `{}` into `{}`: {total} subscriber(s), {new} new; {suppressions} suppression(s), {suppressions_new} new; {skipped} row(s) skipped",
        args.file.display(),
        store.describe()
    );
    outln!(
        "the store now lists {listed} subscriber(s), {suppressed} of them suppressed, {} active",
        listed - suppressed
    );
    Ok(Ending::Done)
}

async fn export(store: &Store, args: &ExportListArgs) -> Result<Ending, Error> {
    let subscribers = store.subscribers().await.map_err(Error::Store)?;
    let suppressions = store.suppressions().await.map_err(Error::Store)?;
    create_folder(&args.out)?;
    let subs_path = args.out.join("subscribers.csv");
    write_csv(
        &subs_path,
        list::SUBSCRIBERS_HEADER,
        subscribers.iter().map(|s| {
            [
                s.address.as_str(),
                s.name.as_str(),
                s.subscribed_at.as_deref().unwrap_or(""),
            ]
        }),
    )?;
    let supp_path = args.out.join("suppressed.csv");
    write_csv(
        &supp_path,
        list::SUPPRESSION_HEADER,
        suppressions
            .iter()
            .map(|s| [s.address.as_str(), s.reason.as_str(), s.at.as_str()]),
    )?;
    outln!(
        "exported {} subscriber(s) to `{}` and {} suppression(s) to `{}`",
        subscribers.len(),
        subs_path.display(),
        suppressions.len(),
        supp_path.display()
    );
    Ok(Ending::Done)
}
