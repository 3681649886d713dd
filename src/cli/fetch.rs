//! `tipsheet fetch [--dry-run]`: the table of what each feed's entries
//! became, and the exit code (1 when a feed or an entry failed).
//!
//! Owns the command line only; reading feeds and importing is
//! [`crate::feeds`], which prints nothing.

use clap::Args;

use super::output::{errln, outln};
use crate::config::Config;
use crate::error::{Ending, Error};
use crate::feeds::{self, FeedStatus, Fetched, Status};
use crate::plan;
use crate::store::Store;

/// `fetch` options.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Read the feeds and articles and say what would be imported; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub(super) async fn run(config: &Config, args: &FetchArgs) -> Result<Ending, Error> {
    if config.content.feeds.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no feeds to fetch; add a `[[content.feeds]]` table with a `url` under `[content]`",
            config.path.display()
        )));
    }
    let fetched = fetch(config, args.dry_run).await?;
    print_table(&fetched);
    // Again on standard error, so that cron with `>/dev/null` mails only these.
    for line in failures(&fetched) {
        errln!("fetch: {line}");
    }
    Ok(if fetched.failed() {
        Ending::Failures
    } else {
        Ending::Done
    })
}

/// One fetch with the configured store (opened to read in a dry run): what
/// `fetch` prints and `run` logs.
pub(super) async fn fetch(config: &Config, dry_run: bool) -> Result<Fetched, Error> {
    let store = if dry_run {
        plan::read_store(config).await?
    } else {
        Some(Store::open(&plan::store_settings(config)?).await?)
    };
    Ok(feeds::fetch(config, store.as_ref(), dry_run).await?)
}

/// "3 imported, 1 already had, 2 not a comparison, 1 failed".
pub(super) fn summary(f: &Fetched) -> String {
    let mut parts = vec![
        format!(
            "{} {}",
            f.count(|s| matches!(s, Status::Imported(_))),
            if f.dry_run { "to import" } else { "imported" }
        ),
        format!("{} already had", f.count(|s| *s == Status::AlreadyHad)),
        format!(
            "{} not a comparison",
            f.count(|s| *s == Status::NotComparison)
        ),
        format!("{} failed", f.count(|s| matches!(s, Status::Failed(_)))),
    ];
    let deferred = f.count(|s| *s == Status::Deferred);
    if deferred > 0 {
        parts.push(format!("{deferred} left for the next run"));
    }
    let feeds_failed = f
        .feeds
        .iter()
        .filter(|r| matches!(r.status, FeedStatus::Failed(_)))
        .count();
    if feeds_failed > 0 {
        parts.push(format!("{feeds_failed} feed(s) unreadable"));
    }
    parts.join(", ")
}

/// "failed `URL`: why", one per failed feed or entry.
pub(super) fn failures(f: &Fetched) -> Vec<String> {
    let feeds = f.feeds.iter().filter_map(|feed| match &feed.status {
        FeedStatus::Failed(why) => Some(format!("feed `{}` failed: {why}", feed.url)),
        _ => None,
    });
    let rows = f.rows().filter_map(|row| match &row.status {
        Status::Failed(why) => Some(format!("`{}` failed: {why}", row.url)),
        _ => None,
    });
    feeds.chain(rows).collect()
}

fn print_table(f: &Fetched) {
    for feed in &f.feeds {
        let how = match &feed.status {
            FeedStatus::Read(n) => format!("{n} entries"),
            FeedStatus::Unchanged => "unchanged since the last fetch (304)".into(),
            FeedStatus::Failed(why) => format!("failed: {why}"),
        };
        outln!("feed {}: {how}", feed.url);
        for row in &feed.rows {
            let (label, detail) = match &row.status {
                Status::Imported(path) if f.dry_run => ("would import", path.display().to_string()),
                Status::Imported(path) => ("imported", path.display().to_string()),
                Status::AlreadyHad => ("already had", String::new()),
                Status::NotComparison => ("not a comparison", format!("{:?}", row.title)),
                Status::Failed(why) => ("failed", why.clone()),
                Status::Deferred => ("next run", "over `content.fetch_max_new`".into()),
            };
            outln!("  {label:<16}  {}  {detail}", row.url);
        }
    }
    outln!(
        "fetch: {}{}",
        summary(f),
        if f.dry_run {
            " (dry run: nothing was written)"
        } else {
            ""
        }
    );
}
