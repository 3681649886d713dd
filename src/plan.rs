//! Planning an action: which slot it targets, which content the issue of that
//! slot features, who would receive it, and which secret signs its links.
//!
//! Owns the rules that tie the schedule, the ledger, the content and the list
//! together for one command (`preview`, `send`, `serve`, …). It reads; it never
//! sends and never writes the ledger.

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::{Config, TransportKind};
use crate::content::issue::{self, Issue, IssueError};
use crate::content::{self, ExcerptRule, Library, SectionKind};
use crate::diagnostic::Diagnostic;
use crate::list::{self, Subscriber, SubscriberReader, SubscribersError, Suppression};
use crate::mail::token::{DEVELOPMENT_SECRET, Signer};
use crate::schedule::{Schedule, Slot};
use crate::store::{IssueStatus, Ledger, LedgerError};

/// Why an action cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The issue cannot be assembled.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The list cannot be read.
    #[error(transparent)]
    Subscribers(#[from] SubscribersError),
    /// Content has errors.
    #[error(
        "content has {count} error(s); fix them (run `tipsheet check`) before sending:\n{list}"
    )]
    Content {
        /// How many.
        count: usize,
        /// One per line.
        list: String,
    },
    /// A date that is not a slot.
    #[error("`{date}` is not an issue date of this schedule; the next ones are {next}")]
    NotASlot {
        /// The date asked for.
        date: NaiveDate,
        /// The next slot dates, joined.
        next: String,
    },
    /// The schedule has no slot left.
    #[error("the schedule has no upcoming slot")]
    NoSlot,
    /// SMTP without a secret.
    #[error(
        "`{0}` is not set: refusing to send over SMTP with forgeable unsubscribe links; set `{0}` to a long random secret (named by `unsubscribe.secret_env`)"
    )]
    NoSecret(String),
}

/// How excerpts are cut, from config.
pub fn excerpt_rule(config: &Config) -> ExcerptRule {
    ExcerptRule {
        section: SectionKind::from_config(&config.content.excerpt_section)
            .unwrap_or(SectionKind::Duties),
        words: config.content.excerpt_words,
    }
}

/// Loads content; errors stop everything but `check`.
pub fn load_content(config: &Config) -> Result<(Library, Vec<Diagnostic>), PlanError> {
    let (library, diags) = content::load(&config.content.dir, excerpt_rule(config));
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(PlanError::Content {
            count: errors.len(),
            list: errors.join("\n"),
        });
    }
    Ok((library, diags))
}

/// The unsubscribe signer. With no secret set, the outbox gets the development
/// secret and a warning to print; SMTP is refused. The secret named by
/// `unsubscribe.previous_secret_env`, when set, is accepted but never signs.
pub fn signer(config: &Config) -> Result<(Signer, Option<String>), PlanError> {
    let (signer, warning) = current_signer(config)?;
    let previous = config
        .unsubscribe
        .previous_secret_env
        .as_deref()
        .and_then(|name| std::env::var(name).ok())
        .filter(|v| !v.trim().is_empty());
    Ok(match previous {
        Some(p) => (signer.with_previous(p.as_bytes()), warning),
        None => (signer, warning),
    })
}

fn current_signer(config: &Config) -> Result<(Signer, Option<String>), PlanError> {
    let name = &config.unsubscribe.secret_env;
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok((Signer::new(v.as_bytes()), None)),
        _ if config.delivery.transport == TransportKind::Outbox => Ok((
            Signer::new(DEVELOPMENT_SECRET.as_bytes()),
            Some(format!(
                "warning: `{name}` is not set: unsubscribe links use the built-in development secret, which anyone can forge; set `{name}` before sending real mail"
            )),
        )),
        _ => Err(PlanError::NoSecret(name.clone())),
    }
}

/// The slot of `date`, or an error naming the next slots.
pub fn slot_for(schedule: &Schedule, date: NaiveDate) -> Result<Slot, PlanError> {
    schedule.slot_on(date).ok_or_else(|| {
        let from = date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or_else(Utc::now);
        let next: Vec<String> = schedule
            .slots_from(from)
            .take(2)
            .map(|s| s.date.to_string())
            .collect();
        PlanError::NotASlot {
            date,
            next: next.join(" and "),
        }
    })
}

/// The next issue: the earliest slot not fully sent whose time is at most
/// `grace` ago (so a slot being sent, or still due, comes first). What
/// `preview` shows.
pub fn next_slot(
    schedule: &Schedule,
    ledger: Option<&Ledger>,
    now: DateTime<Utc>,
) -> Result<Slot, PlanError> {
    for slot in schedule.slots_from(now - schedule.grace()).take(1000) {
        let sent = match ledger {
            Some(l) => l
                .issue(&slot.date.to_string())?
                .is_some_and(|i| i.status == IssueStatus::Sent),
            None => false,
        };
        if !sent {
            return Ok(slot);
        }
    }
    Err(PlanError::NoSlot)
}

/// The current slot: the earliest whose time is at most `grace` ago, sent or
/// not. What `send` without `--date` delivers, so that repeating `send` never
/// runs ahead to later issues.
pub fn current_slot(schedule: &Schedule, now: DateTime<Utc>) -> Result<Slot, PlanError> {
    schedule
        .slots_from(now - schedule.grace())
        .next()
        .ok_or(PlanError::NoSlot)
}

/// The issue for `slot`: its frozen selection if the ledger has one (`true`),
/// else the rotation given the ledger's history (`false`).
pub fn choose<'a>(
    config: &Config,
    library: &'a Library,
    ledger: Option<&Ledger>,
    slot: Slot,
) -> Result<(Issue<'a>, bool), PlanError> {
    let date = slot.date.to_string();
    if let Some(l) = ledger
        && let Some(record) = l.issue(&date)?
    {
        return Ok((issue::assemble(library, slot, record.selection)?, true));
    }
    let history = match ledger {
        Some(l) => l.history()?,
        None => Vec::new(),
    };
    let selection = issue::select(
        library,
        &history,
        slot.number,
        config.content.comparisons_per_issue,
    )?;
    Ok((issue::assemble(library, slot, selection)?, false))
}

/// Counts of the list as it stands now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ListCounts {
    /// Would be mailed.
    pub active: usize,
    /// On the suppression list.
    pub suppressed: usize,
    /// Rows skipped as invalid.
    pub invalid: usize,
    /// Rows skipped as duplicates.
    pub duplicates: usize,
}

/// The active subscribers, streamed: deduplicated (first row wins) and not
/// suppressed. Skipped rows are collected as warnings in `diags`, and `counts`
/// is complete once the iterator is exhausted.
pub struct Active {
    reader: SubscriberReader,
    dedupe: list::Dedupe,
    suppression: Suppression,
    path: std::path::PathBuf,
    /// What was seen so far.
    pub counts: ListCounts,
    /// Rows skipped so far, as warnings.
    pub diags: Vec<Diagnostic>,
}

/// Opens the list and the suppression list for streaming.
pub fn active(config: &Config) -> Result<Active, PlanError> {
    let (suppression, problems) = Suppression::load(&config.subscribers.suppressed_path)?;
    Ok(Active {
        reader: SubscriberReader::open(&config.subscribers.path)?,
        dedupe: list::Dedupe::new(),
        suppression,
        path: config.subscribers.path.clone(),
        counts: ListCounts::default(),
        diags: problems.into_iter().map(row_warning).collect(),
    })
}

impl Iterator for Active {
    type Item = Subscriber;

    fn next(&mut self) -> Option<Subscriber> {
        for row in self.reader.by_ref() {
            match row {
                Ok(s) => {
                    if let Err(p) = self.dedupe.check(&self.path, &s) {
                        self.counts.duplicates += 1;
                        self.diags.push(row_warning(p));
                    } else if self.suppression.contains(&s.key) {
                        self.counts.suppressed += 1;
                    } else {
                        self.counts.active += 1;
                        return Some(s);
                    }
                }
                Err(p) => {
                    self.counts.invalid += 1;
                    self.diags.push(row_warning(p));
                }
            }
        }
        None
    }
}

/// Streams the list: `visit` gets each active subscriber once; skipped rows
/// come back as warnings.
pub fn walk_list(
    config: &Config,
    visit: impl FnMut(Subscriber),
) -> Result<(ListCounts, Vec<Diagnostic>), PlanError> {
    let mut list = active(config)?;
    list.by_ref().for_each(visit);
    Ok((list.counts, list.diags))
}

fn row_warning(p: list::RowProblem) -> Diagnostic {
    Diagnostic::warning(
        p.path,
        p.line as usize,
        format!("{}; row skipped", p.message),
    )
}
