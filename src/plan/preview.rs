//! The issue of a date (or the next one) rendered for one reader: what
//! `tipsheet preview` and the server's `/preview` show.
//!
//! Must not send or record anything.

use chrono::{DateTime, NaiveDate, Utc};

use super::error::PlanError;
use super::slot::{choose, next_slot, slot_for};
use super::store::{snapshot, walk_list};
use crate::config::Config;
use crate::content::Library;
use crate::content::issue::Issue;
use crate::diagnostic::Diagnostic;
use crate::list::{self, ListCounts, Subscriber};
use crate::mail::token::Signer;
use crate::mail::view::{View, personal_view};
use crate::schedule::Schedule;

/// The reader a preview renders for.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    /// Their address as written (or as asked for).
    pub email: String,
    /// The normalized key.
    pub key: String,
    /// Their name, empty when unknown.
    pub name: String,
    /// Whether they are on the list (else a stand-in, or the address asked for).
    pub listed: bool,
}

/// The next issue rendered for one reader, with what it would go to.
pub(crate) struct Preview<'a> {
    /// The issue.
    pub issue: Issue<'a>,
    /// True when its selection is frozen in the ledger.
    pub frozen: bool,
    /// Who it is rendered for.
    pub sample: Sample,
    /// The rendered view (HTML, text, subject, preheader, reading time).
    pub view: View,
    /// Words in the text part.
    pub words: usize,
    /// The list as it stands.
    pub counts: ListCounts,
    /// Rows skipped, as warnings.
    pub skipped: Vec<Diagnostic>,
}

impl Preview<'_> {
    /// True when the issue reads longer than `newsletter.max_reading_minutes`.
    pub(crate) fn too_long(&self, config: &Config) -> bool {
        self.view.reading_minutes > config.newsletter.max_reading_minutes as usize
    }

    /// "Tue 2026-12-01 09:00 Europe/London (2026-12-01 09:00 UTC)".
    pub(crate) fn sends_at(&self, schedule: &Schedule) -> String {
        format!(
            "{} {} ({} UTC)",
            self.issue.slot.local.format("%a %Y-%m-%d %H:%M"),
            schedule.timezone(),
            self.issue.slot.utc.format("%Y-%m-%d %H:%M")
        )
    }
}

/// The issue of `date` (else the next one) rendered for `to` (else the first
/// active subscriber, else a stand-in reader): what `preview` and the
/// server's `/preview` show.
pub(crate) async fn preview<'a>(
    config: &Config,
    schedule: &Schedule,
    library: &'a Library,
    date: Option<NaiveDate>,
    to: Option<&str>,
    signer: &Signer,
    now: DateTime<Utc>,
) -> Result<Preview<'a>, PlanError> {
    let ledger = snapshot(config, None).await?;
    let slot = match date {
        Some(d) => slot_for(schedule, d)?,
        None => next_slot(schedule, ledger.as_ref(), now)?,
    };
    let (issue, frozen) = choose(config, library, ledger.as_ref(), slot)?;
    let want = to.map(list::normalize);
    let mut first: Option<Subscriber> = None;
    let walked = walk_list(config, &mut |s| {
        let pick = want.as_ref().is_none_or(|w| &s.key == w);
        if pick && first.is_none() {
            first = Some(s);
        }
    })
    .await?;
    let sample = match first {
        Some(s) => Sample {
            email: s.email.to_string(),
            key: s.key,
            name: s.name,
            listed: true,
        },
        None => {
            let email = to.map_or("reader@example.com", str::trim).to_string();
            Sample {
                key: list::normalize(&email),
                email,
                name: String::new(),
                listed: false,
            }
        }
    };
    let view = personal_view(
        config,
        &issue,
        signer,
        &sample.name,
        &sample.email,
        &sample.key,
    );
    let words = view
        .text()
        .map(|t| t.split_whitespace().count())
        .unwrap_or(0);
    Ok(Preview {
        issue,
        frozen,
        sample,
        view,
        words,
        counts: walked.counts,
        skipped: walked.diags,
    })
}
