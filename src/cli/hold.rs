//! `tipsheet hold [--date D] [--reason TEXT]` and `tipsheet release [--date
//! D]`: put an issue on hold so that no command on any host sends it, and let
//! it go again.
//!
//! Owns the command lines only: the rules are `editorial`'s (the same calls
//! the web console makes), the hold is kept by the store, and what a hold
//! stops is the delivery session's and the run loop's business.

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::output::outln;
use crate::config::Config;
use crate::editorial;
use crate::error::{Ending, Error};
use crate::plan;
use crate::store::Store;

/// `hold` options.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// The issue of this slot date instead of the one `send` would send now.
    #[arg(long, value_parser = super::common::parse_date)]
    pub date: Option<NaiveDate>,
    /// Why (shown by `status` and by every command the hold stops).
    #[arg(long)]
    pub reason: Option<String>,
}

/// `release` options.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The issue of this slot date instead of the one `send` would send now.
    #[arg(long, value_parser = super::common::parse_date)]
    pub date: Option<NaiveDate>,
}

/// The slot `send` would pick: `--date`'s, or the current one.
pub(super) fn slot(
    config: &Config,
    date: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<NaiveDate, Error> {
    let schedule = config.schedule()?;
    let slot = match date {
        Some(d) => plan::slot_for(&schedule, d)?,
        None => plan::current_slot(&schedule, now)?,
    };
    Ok(slot.date)
}

pub(super) async fn hold(
    config: &Config,
    args: &HoldArgs,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
    let date = slot(config, args.date, now)?;
    let store = Store::open(&plan::store_settings(config)?).await?;
    let hold = editorial::hold(&store, date, args.reason.as_deref()).await?;
    outln!(
        "issue of {date} is on hold{}: no command sends it (a send in progress stops within seconds); `tipsheet release --date {date}` lets it go",
        hold.reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    Ok(Ending::Done)
}

pub(super) async fn release(
    config: &Config,
    args: &ReleaseArgs,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
    let date = slot(config, args.date, now)?;
    let store = Store::open(&plan::store_settings(config)?).await?;
    if editorial::release(&store, date).await? {
        outln!("issue of {date} is released: the next `send` (or `run`) sends it");
    } else {
        outln!("issue of {date} was not on hold; nothing to do");
    }
    Ok(Ending::Done)
}
