//! `tipsheet approve [--date D] [--by NAME] [--reassemble]`: freeze an issue
//! as it stands and sign it off, so that a send with `[editorial] approval =
//! "required"` goes ahead.
//!
//! Owns the command line and who "I" am (`--by`, else the login name); what
//! an approval freezes and records is `editorial::approve`'s.

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::output::outln;
use crate::config::Config;
use crate::editorial;
use crate::error::{Ending, Error};
use crate::plan;
use crate::store::Store;

/// `approve` options.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The issue of this slot date instead of the next one not sent.
    #[arg(long, value_parser = super::common::parse_date)]
    pub date: Option<NaiveDate>,
    /// Who approves (recorded and shown by `status`); default: the login name.
    #[arg(long)]
    pub by: Option<String>,
    /// Assemble and render the issue again from the content and templates as
    /// they are now (only before its send has begun), and approve that.
    #[arg(long)]
    pub reassemble: bool,
}

pub(super) async fn run(
    config: &Config,
    args: &ApproveArgs,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
    let schedule = config.schedule()?;
    let date = match args.date {
        Some(d) => d,
        None => {
            let ledger = plan::snapshot(config, None).await?;
            plan::next_slot(&schedule, ledger.as_ref(), now)?.date
        }
    };
    let by = match &args.by {
        Some(b) => b.clone(),
        None => login_name().ok_or_else(|| {
            Error::Usage(
                "cannot tell who approves: neither `USER` nor `LOGNAME` is set and the login name is unknown; name yourself with `--by NAME`".into(),
            )
        })?,
    };
    let store = Store::open(&plan::store_settings(config)?).await?;
    let a = editorial::approve(&store, config, date, &by, args.reassemble).await?;
    let record = store.issue(date).await?;
    outln!(
        "issue #{} ({}) {}approved by {} at {} (sha256 {})",
        a.number,
        a.slot,
        if a.reassembled {
            "reassembled and "
        } else {
            ""
        },
        a.by,
        a.at,
        &a.digest[..16]
    );
    if let Some(r) = record {
        outln!(
            "features: {}; tip: {}",
            r.selection.comparisons.join(", "),
            r.selection.tip
        );
    }
    outln!(
        "`send` and `run` send exactly this copy; later edits to content or templates change it only through `tipsheet approve --date {} --reassemble`",
        a.slot
    );
    Ok(Ending::Done)
}

/// The login name: `$USER`, `$LOGNAME`, else this process's user in
/// `/etc/passwd`.
fn login_name() -> Option<String> {
    for var in ["USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var)
            && !v.trim().is_empty()
        {
            return Some(v);
        }
    }
    passwd_name()
}

/// This process's user name in `/etc/passwd` (its uid is the owner of `/proc/self`).
#[cfg(unix)]
fn passwd_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2] == uid)
        .map(|f| f[0].to_string())
}

#[cfg(not(unix))]
fn passwd_name() -> Option<String> {
    std::env::var("USERNAME").ok()
}
