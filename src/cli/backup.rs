//! `tipsheet backup --out DIR` and `tipsheet restore DIR`: the embedded
//! store's ledger and list files copied to a new folder while a send may run,
//! and written back while none does.
//!
//! Owns the command lines only: the copying is the store's
//! ([`crate::store::backup`], [`crate::store::restore`]), which on
//! PostgreSQL answers with the `pg_dump`/`pg_restore` command to run.

use std::path::PathBuf;

use clap::Args;

use super::output::outln;
use crate::config::Config;
use crate::error::{Ending, Error};
use crate::plan;
use crate::store::Copied;

/// `backup` options.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The folder to create (it must not exist, or be empty): the ledger as
    /// `tipsheet.sqlite3`, the list files as `subscribers.csv` and `suppressed.csv`.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `restore` options.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A folder `tipsheet backup --out` wrote.
    #[arg(value_name = "DIR")]
    pub from: PathBuf,
}

pub(super) fn backup(config: &Config, args: &BackupArgs) -> Result<Ending, Error> {
    let copied = crate::store::backup(&plan::store_settings(config)?, &args.out)?;
    outln!("backed up {} to `{}`", what(&copied), args.out.display());
    Ok(Ending::Done)
}

pub(super) fn restore(config: &Config, args: &RestoreArgs) -> Result<Ending, Error> {
    let copied = crate::store::restore(&plan::store_settings(config)?, &args.from)?;
    outln!("restored {} from `{}`", what(&copied), args.from.display());
    Ok(Ending::Done)
}

/// "the ledger (schema 9: 3 issues, 120 recipient rows) and 2 list files".
fn what(c: &Copied) -> String {
    let ledger = if c.version == 0 {
        "no ledger (none was written yet)".to_string()
    } else {
        format!(
            "the ledger (schema {}: {} issue(s), {} recipient row(s))",
            c.version, c.issues, c.recipients
        )
    };
    format!("{ledger} and {} list file(s)", c.lists.len())
}
