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
use crate::list::{self, ListCounts, ListError, Subscriber, SubscribersError, Walked};
use crate::mail::token::{DEVELOPMENT_SECRET, Signer};
use crate::mail::view::{View, personal_view};
use crate::schedule::{Schedule, Slot};
use crate::store::{IssueStatus, LedgerError, Snapshot, Store, StoreError, StoreSettings};

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
    /// The list cannot be used whole.
    #[error(transparent)]
    List(#[from] ListError),
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

/// The store's settings for `config`, erased readers recognised through
/// the configured secret.
pub fn store_settings(config: &Config) -> Result<StoreSettings, PlanError> {
    let mut settings = StoreSettings::from_config(config)?;
    settings.keyer = keyer(config).ok();
    Ok(settings)
}

/// The store opened to read, creating nothing; `None` when nothing was
/// ever stored there.
pub async fn read_store(config: &Config) -> Result<Option<Store>, PlanError> {
    Ok(Store::open_to_read(&store_settings(config)?).await?)
}

/// A [`Snapshot`] of the store, with the open recipients of `detail` if
/// given; `None` when nothing was ever stored.
pub async fn snapshot(
    config: &Config,
    detail: Option<NaiveDate>,
) -> Result<Option<Snapshot>, PlanError> {
    match read_store(config).await? {
        Some(store) => Ok(Some(store.snapshot(detail).await?)),
        None => Ok(None),
    }
}

/// Streams the list of record: `visit` gets each active subscriber once;
/// skipped rows come back as warnings. A list that stops early is an error.
pub async fn walk_list(
    config: &Config,
    visit: &mut (dyn FnMut(Subscriber) + Send),
) -> Result<Walked, PlanError> {
    match read_store(config).await? {
        Some(store) => Ok(store.walk_list(visit).await?),
        None => Ok(Walked::default()),
    }
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
pub async fn check(config: &Config, now: DateTime<Utc>) -> CheckReport {
    let mut report = CheckReport::default();
    let diags = &mut report.diags;
    let cfg =
        |key: &str, msg: String| Diagnostic::warning(&config.path, config.line_of_key(key), msg);
    let (library, content_diags) = content::load(&config.content.dir, excerpt_rule(config));
    diags.extend(content_diags);
    // The list as the store holds it (the store's own lines report a store
    // that cannot be opened).
    if let Ok(Some(store)) = read_store(config).await {
        diags.extend(store.check_list().await);
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
        let ledger = snapshot(config, None).await.ok().flatten();
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
pub async fn preview<'a>(
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
