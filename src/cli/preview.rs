//! `tipsheet preview`: render the next issue for one reader into files and
//! say what it would be.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::output::{errln, outln};
use crate::config::Config;
use crate::content::issue;
use crate::delivery::SessionError;
use crate::error::{Ending, Error};
use crate::mail::{self, prepared, view};
use crate::plan;

/// `preview` options.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The issue of this slot date instead of the next one.
    #[arg(long, value_parser = super::common::parse_date)]
    pub date: Option<NaiveDate>,
    /// Render for this subscriber instead of the first active one.
    #[arg(long)]
    pub to: Option<String>,
    /// Where to write the files (default `<state>/preview`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub(super) async fn run(
    config: &Config,
    args: &PreviewArgs,
    now: DateTime<Utc>,
) -> Result<Ending, Error> {
    let schedule = config.schedule()?;
    let (library, _) = plan::load_content(config)?;
    let signer = super::common::signer(config, false)?;
    let p = plan::preview(
        config,
        &schedule,
        &library,
        args.date,
        args.to.as_deref(),
        &signer,
        now,
    )
    .await?;
    for d in &p.skipped {
        errln!("{d}");
    }
    let email: lettre::Address =
        p.sample
            .email
            .parse()
            .map_err(|e: lettre::address::AddressError| {
                SessionError::BadAddress(args.to.clone().unwrap_or_default(), e.to_string())
            })?;
    let html = p.view.html().map_err(mail::PrepareError::from)?;
    let text = p.view.text().map_err(mail::PrepareError::from)?;
    let prepared = mail::prepare(config, &p.issue, signer, false)?;
    let eml = prepared.message(&prepared::Recipient {
        email: &email,
        key: &p.sample.key,
        name: &p.sample.name,
    });
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| config.state.dir.join("preview"));
    crate::fsperm::create_private_dir(&out).map_err(|source| Error::Write {
        what: "cannot create",
        path: out.clone(),
        source,
    })?;
    let n = p.issue.number();
    let files = [
        ("html", html.into_bytes()),
        ("txt", text.into_bytes()),
        ("eml", eml),
    ];
    for (ext, bytes) in &files {
        let path = out.join(format!("issue-{n}.{ext}"));
        crate::fsperm::write_private(&path, bytes).map_err(|source| Error::Write {
            what: "cannot write",
            path: path.clone(),
            source,
        })?;
    }
    outln!(
        "Issue #{n} for {} ({})",
        p.issue.slot.date,
        if p.frozen {
            "frozen in the ledger"
        } else {
            "not yet assembled: rotation as of now"
        }
    );
    outln!("Sends at:  {}", p.sends_at(&schedule));
    outln!("Subject:   {}", prepared.subject);
    outln!("Preheader: {}", p.view.preheader);
    let history = match plan::snapshot(config, None).await? {
        Some(ledger) => ledger.history()?,
        None => Vec::new(),
    };
    let why = issue::why(&library, &history, n, &p.issue.selection);
    outln!("Featured:");
    for (c, why) in p.issue.comparisons.iter().zip(&why) {
        outln!("  - {} [{}]", c.meta.title, c.meta.slug);
        outln!("    why: {why}");
    }
    outln!(
        "Tip:       {} [{}]",
        p.issue.tip.meta.title,
        p.issue.tip.slug
    );
    outln!(
        "Reading:   about {} min ({} words at {} wpm)",
        p.view.reading_minutes,
        p.words,
        view::WORDS_PER_MINUTE
    );
    if p.too_long(config) {
        errln!(
            "warning: issue #{n} takes about {} minutes to read, over the promised {}",
            p.view.reading_minutes,
            config.newsletter.max_reading_minutes
        );
    }
    outln!("Rendered for: {email}");
    outln!("Recipients: {}", super::common::list_counts(&p.counts));
    outln!(
        "Wrote:     {}",
        files
            .iter()
            .map(|(ext, _)| out.join(format!("issue-{n}.{ext}")).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    outln!("Nothing was sent.");
    Ok(Ending::Done)
}
