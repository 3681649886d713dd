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
use crate::mail::view::{View, personal_view};
use crate::schedule::{Schedule, Slot};
use crate::store::{IssueStatus, LedgerError, Snapshot, StoreError};

/// Why an action cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
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
    /// A row spanning several lines that is not one good row: a `"` left
    /// open swallowed the rows after it.
    #[error(
        "{}:{}: this row runs from line {} to line {} and is not one valid row ({}): is a `\"` quote left open? close or remove it so the rows after it are read, then run `tipsheet check`; nothing is sent until then",
        .0.path.display(), .0.line, .0.line, .0.last_line, torn_detail(&.0.message)
    )]
    TornRow(list::RowProblem),
    /// SMTP without a secret.
    #[error(
        "`{0}` is not set: refusing to send over SMTP with forgeable unsubscribe links; set `{0}` to a long random secret (named by `unsubscribe.secret_env`)"
    )]
    NoSecret(String),
}

/// What is wrong with a torn row, without the reader's own "runs from line" hint.
fn torn_detail(message: &str) -> &str {
    message
        .split(" (this row runs from line")
        .next()
        .unwrap_or(message)
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
    Ok(match previous_secret(config) {
        Some(p) => (signer.with_previous(p.as_bytes()), warning),
        None => (signer, warning),
    })
}

/// The value of `unsubscribe.previous_secret_env`, when named and set.
fn previous_secret(config: &Config) -> Option<String> {
    config
        .unsubscribe
        .previous_secret_env
        .as_deref()
        .and_then(|name| std::env::var(name).ok())
        .filter(|v| !v.trim().is_empty())
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

/// What recognises erased readers' keyed hashes in the suppression list:
/// keyed like [`signer`] (the development secret with the outbox and no
/// secret set); hashes made under `unsubscribe.previous_secret_env` are
/// recognised too, so a rotation does not forget who was erased.
pub fn keyer(config: &Config) -> Result<list::privacy::Keyer, PlanError> {
    let (signer, _) = current_signer(config)?;
    Ok(with_previous_key(config, keyer_of(signer)))
}

/// `keyer`, also recognising hashes made under the previous secret, if set.
pub fn with_previous_key(config: &Config, keyer: list::privacy::Keyer) -> list::privacy::Keyer {
    match previous_secret(config) {
        Some(p) => {
            let old = Signer::new(p.as_bytes());
            keyer.with_previous(move |key| old.sign(list::privacy::PURPOSE, key))
        }
        None => keyer,
    }
}

/// The keyer of one signer: its HMAC with the purpose `forget`.
pub fn keyer_of(signer: Signer) -> list::privacy::Keyer {
    list::privacy::Keyer::new(move |key| signer.sign(list::privacy::PURPOSE, key))
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
    ledger: Option<&Snapshot>,
    now: DateTime<Utc>,
) -> Result<Slot, PlanError> {
    for slot in schedule.slots_from(now - schedule.grace()).take(1000) {
        if !is_sent(ledger, slot.date)? {
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
    ledger: Option<&Snapshot>,
    slot: Slot,
) -> Result<(Issue<'a>, bool), PlanError> {
    if let Some(l) = ledger
        && let Some(record) = l.issue(slot.date)?
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
///
/// A list that cannot be read to its end (an I/O error, a row over the size
/// cap) ends the stream with an `Err` item, and a torn multi-line row is an
/// `Err` item too: whoever consumes the stream sees it, so a partial list is
/// never taken for the whole.
pub struct Active {
    reader: Option<SubscriberReader>,
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
    // Erased readers are held as keyed hashes: lookups need the secret.
    let suppression = match keyer(config) {
        Ok(k) => suppression.keyed(k),
        Err(_) => suppression,
    };
    Ok(Active {
        reader: Some(SubscriberReader::open(&config.subscribers.path)?),
        dedupe: list::Dedupe::new(),
        suppression,
        path: config.subscribers.path.clone(),
        counts: ListCounts::default(),
        diags: problems.into_iter().map(row_warning).collect(),
    })
}

impl Iterator for Active {
    type Item = Result<Subscriber, PlanError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = self.reader.as_mut()?;
        for row in reader.by_ref() {
            match row {
                Ok(s) => {
                    if let Err(p) = self.dedupe.check(&self.path, &s) {
                        self.counts.duplicates += 1;
                        self.diags.push(row_warning(p));
                    } else if self.suppression.contains(&s.key) {
                        self.counts.suppressed += 1;
                    } else {
                        self.counts.active += 1;
                        return Some(Ok(s));
                    }
                }
                Err(p) if p.last_line > p.line => {
                    // Reading goes on (`check` reports every problem), but
                    // whoever consumes the stream sees the error.
                    self.counts.invalid += 1;
                    return Some(Err(PlanError::TornRow(p)));
                }
                Err(p) => {
                    self.counts.invalid += 1;
                    self.diags.push(row_warning(p));
                }
            }
        }
        // The reader is done: say whether it reached the end of the file.
        let finished = self.reader.take()?.finish();
        finished.err().map(|e| Err(e.into()))
    }
}

/// The list walked to its end.
#[derive(Debug, Default)]
pub struct Walked {
    /// What it holds.
    pub counts: ListCounts,
    /// Rows skipped, as warnings.
    pub diags: Vec<Diagnostic>,
}

/// Streams the list: `visit` gets each active subscriber once; skipped rows
/// come back as warnings. A list that stops early is an error.
/// On the shared store the list of record is the database's: the same walk
/// over its rows (validated when they were imported or signed up).
pub fn walk_list(
    config: &Config,
    mut visit: impl FnMut(Subscriber) + Send,
) -> Result<Walked, PlanError> {
    let settings = crate::store::StoreSettings::from_config(config)?;
    if settings.url.is_shared() {
        let mut walked = Walked::default();
        let (counts, diags) = (&mut walked.counts, &mut walked.diags);
        let store = settings.url.to_string();
        crate::store::walk_shared_list(&settings, |s, suppressed| {
            if suppressed {
                counts.suppressed += 1;
                return;
            }
            match s.address.parse() {
                Ok(email) => {
                    counts.active += 1;
                    visit(Subscriber {
                        email,
                        key: s.key,
                        name: s.name,
                        subscribed_at: s
                            .subscribed_at
                            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok()),
                        line: 0,
                    });
                }
                // Imports and sign-ups validate; a row written by hand is not.
                Err(e) => {
                    counts.invalid += 1;
                    diags.push(Diagnostic::warning(
                        &store,
                        0,
                        format!(
                            "`{}` in table `subscribers` is not a valid email address ({e}); row skipped: fix or delete it with SQL, or re-import the list",
                            s.address
                        ),
                    ));
                }
            }
        })?;
        return Ok(walked);
    }
    let mut list = active(config)?;
    for s in list.by_ref() {
        visit(s?);
    }
    Ok(Walked {
        counts: list.counts,
        diags: list.diags,
    })
}

fn row_warning(p: list::RowProblem) -> Diagnostic {
    Diagnostic::warning(
        p.path,
        p.line as usize,
        format!("{}; row skipped", p.message),
    )
}

/// What `check` found: every problem, and the DKIM record to publish.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Errors and warnings, in the order found.
    pub diags: Vec<Diagnostic>,
    /// The DNS TXT record for the DKIM key, when `[dkim]` is configured.
    /// Every DKIM key's TXT record (one, or two when dual signing).
    pub dkim: Vec<DkimRecord>,
    /// Comparisons in the library.
    pub comparisons: usize,
    /// Tips in the library.
    pub tips: usize,
}

/// Where to publish a DKIM key and what.
#[derive(Debug, Clone)]
pub struct DkimRecord {
    /// `<selector>._domainkey.<domain>`.
    pub dns_name: String,
    /// The TXT record's value.
    pub dns_record: String,
}

/// Checks config, content and subscribers as a send would use them, and the
/// next issue's length. Reads only.
pub fn check(config: &Config, now: DateTime<Utc>) -> CheckReport {
    let mut report = CheckReport::default();
    let diags = &mut report.diags;
    let cfg =
        |key: &str, msg: String| Diagnostic::warning(&config.path, config.line_of_key(key), msg);
    let (library, content_diags) = content::load(&config.content.dir, excerpt_rule(config));
    diags.extend(content_diags);
    // On the shared store the list of record is in the database (the `store`
    // lines of `check` report it), not in the CSV file.
    let shared = crate::store::StoreSettings::from_config(config).is_ok_and(|s| s.url.is_shared());
    match active(config) {
        _ if shared => {}
        Ok(mut list) => {
            // In file order: the warnings before a problem, then the problem.
            while let Some(row) = list.next() {
                diags.append(&mut list.diags);
                if let Err(e) = row {
                    diags.push(list_error(config, e));
                }
            }
            diags.append(&mut list.diags);
            if list.counts.active == 0 {
                diags.push(Diagnostic::warning(
                    &config.subscribers.path,
                    0,
                    "no active subscriber: a send would mail nobody",
                ));
            }
        }
        Err(f) => diags.push(list_error(config, f)),
    }
    let n = &config.newsletter;
    if !n.base_url.starts_with("https://") {
        diags.push(cfg(
            "newsletter.base_url",
            format!(
                "`{}` is not https: Gmail shows its unsubscribe button only for https links",
                n.base_url
            ),
        ));
    }
    if n.postal.trim().is_empty() {
        diags.push(cfg(
            "newsletter.postal",
            "the postal address is empty: bulk mail must show the sender's postal address".into(),
        ));
    }
    match crate::mail::dkim_signer(config) {
        Ok(Some(d)) => {
            report.dkim = d
                .records()
                .map(|r| DkimRecord {
                    dns_name: r.name.clone(),
                    dns_record: r.value.clone(),
                })
                .collect();
            if let Some(settings) = &config.dkim
                && !dkim_aligned(&config.from_domain(), &settings.domain)
            {
                diags.push(cfg(
                    "dkim.domain",
                    format!(
                        "`{}` does not align with the From domain `{}`: DMARC will not pass",
                        settings.domain,
                        config.from_domain()
                    ),
                ));
            }
        }
        Ok(None) => diags.push(Diagnostic::warning(
            &config.path,
            0,
            "DKIM is not configured: Gmail and Yahoo require bulk senders to sign their mail; add a `[dkim]` section",
        )),
        Err(e) => diags.push(Diagnostic::error(
            &config.path,
            config.line_of_key("dkim.private_key_path"),
            e.to_string(),
        )),
    }
    let secret = &config.unsubscribe.secret_env;
    if std::env::var(secret).map_or(true, |v| v.trim().is_empty()) {
        let msg =
            format!("`{secret}` is not set: unsubscribe links would use the development secret");
        diags.push(if config.delivery.transport == TransportKind::Smtp {
            Diagnostic::error(
                &config.path,
                config.line_of_key("unsubscribe.secret_env"),
                format!("{msg}; `send` refuses to start"),
            )
        } else {
            cfg("unsubscribe.secret_env", msg)
        });
    }
    // The next issue must assemble and be short enough.
    if let Ok(schedule) = config.schedule() {
        let ledger = crate::store::snapshot(config, None).ok().flatten();
        if let Ok(slot) = next_slot(&schedule, ledger.as_ref(), now) {
            match choose(config, &library, ledger.as_ref(), slot) {
                Ok((issue, _)) => {
                    let view = View::new(config, &issue, "Reader", "reader@example.com", "");
                    if view.reading_minutes > n.max_reading_minutes as usize {
                        diags.push(cfg(
                            "newsletter.max_reading_minutes",
                            format!(
                                "issue #{} takes about {} minutes to read, over the promised {}; lower `content.excerpt_words` or `content.comparisons_per_issue`",
                                issue.number(),
                                view.reading_minutes,
                                n.max_reading_minutes
                            ),
                        ));
                    }
                }
                Err(f) => diags.push(Diagnostic::error(&config.content.dir, 0, f.to_string())),
            }
        }
    }
    report.comparisons = library.comparisons.len();
    report.tips = library.tips.len();
    report
}

/// A list that cannot be used, as `check` reports it.
fn list_error(config: &Config, e: PlanError) -> Diagnostic {
    match &e {
        PlanError::TornRow(p) => {
            // The message names the file and line itself.
            let text = e.to_string();
            let prefix = format!("{}:{}: ", p.path.display(), p.line);
            let text = text.strip_prefix(&prefix).unwrap_or(&text).to_string();
            Diagnostic::error(&p.path, p.line as usize, text)
        }
        _ => Diagnostic::error(&config.subscribers.path, 0, e.to_string()),
    }
}

/// DMARC's relaxed alignment: the DKIM domain is the From domain or a parent of it.
pub fn dkim_aligned(from_domain: &str, dkim_domain: &str) -> bool {
    let from = from_domain.to_ascii_lowercase();
    let dkim = dkim_domain.to_ascii_lowercase();
    from == dkim || from.ends_with(&format!(".{dkim}"))
}

/// The reader a preview renders for.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Their address as written (or as asked for).
    pub email: String,
    /// The normalized key.
    pub key: String,
    /// Their name, empty when unknown.
    pub name: String,
}

/// The next issue rendered for one reader, with what it would go to.
pub struct Preview<'a> {
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
    pub fn too_long(&self, config: &Config) -> bool {
        self.view.reading_minutes > config.newsletter.max_reading_minutes as usize
    }

    /// "Tue 2026-12-01 09:00 Europe/London (2026-12-01 09:00 UTC)".
    pub fn sends_at(&self, schedule: &Schedule) -> String {
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
pub fn preview<'a>(
    config: &Config,
    schedule: &Schedule,
    library: &'a Library,
    date: Option<NaiveDate>,
    to: Option<&str>,
    signer: &Signer,
    now: DateTime<Utc>,
) -> Result<Preview<'a>, PlanError> {
    let ledger = crate::store::snapshot(config, None)?;
    let slot = match date {
        Some(d) => slot_for(schedule, d)?,
        None => next_slot(schedule, ledger.as_ref(), now)?,
    };
    let (issue, frozen) = choose(config, library, ledger.as_ref(), slot)?;
    let want = to.map(list::normalize);
    let mut first: Option<Subscriber> = None;
    let walked = walk_list(config, |s| {
        let pick = want.as_ref().is_none_or(|w| &s.key == w);
        if pick && first.is_none() {
            first = Some(s);
        }
    })?;
    let sample = match first {
        Some(s) => Sample {
            email: s.email.to_string(),
            key: s.key,
            name: s.name,
        },
        None => {
            let email = to.map_or("reader@example.com", str::trim).to_string();
            Sample {
                key: list::normalize(&email),
                email,
                name: String::new(),
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

/// True when the ledger records the issue of `date` as sent to everyone.
pub fn is_sent(ledger: Option<&Snapshot>, date: NaiveDate) -> Result<bool, StoreError> {
    Ok(match ledger {
        Some(l) => l
            .issue(date)?
            .is_some_and(|i| i.status == IssueStatus::Sent),
        None => false,
    })
}

/// A slot's state for `status` and `schedule`: sent / partial / due / missed / upcoming.
pub fn slot_state(
    schedule: &Schedule,
    slot: &Slot,
    status: Option<IssueStatus>,
    now: DateTime<Utc>,
) -> &'static str {
    match status {
        Some(IssueStatus::Sent) => "sent",
        Some(IssueStatus::Sending) => "partial",
        _ if slot.utc > now => "upcoming",
        _ if now < slot.utc + schedule.grace() => "due",
        _ => "missed",
    }
}
