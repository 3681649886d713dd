//! The `config.toml` file: its typed shape, loading, path resolution and validation.
//!
//! Owns every configuration key and the checks on it. It must not read content,
//! subscribers or the ledger: those modules take what they need from [`Config`].

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::schedule::{Schedule, ScheduleError};

mod redact;
pub use redact::redact_url;

/// A configuration error: which file, which key (and line when known), and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error(
        "cannot read config file `{path}`: {source} (pass another with `--config PATH` or `TIPSHEET_CONFIG`)"
    )]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the expected shape.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// What the TOML parser said.
        message: String,
    },
    /// A key has a value that cannot work.
    #[error("{path}:{line}: `{key}`: {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the key (0 when unknown).
        line: usize,
        /// Dotted key, e.g. `schedule.timezone`.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// The whole `config.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[newsletter]`: who sends, and what the reader sees in every footer.
    pub newsletter: Newsletter,
    /// `[schedule]`: when issues go out.
    pub schedule: ScheduleConfig,
    /// `[content]`: where articles and tips live and how an issue is cut.
    #[serde(default)]
    pub content: ContentConfig,
    /// `[subscribers]`: the list and the suppression list.
    #[serde(default)]
    pub subscribers: SubscribersConfig,
    /// `[delivery]`: how messages leave.
    #[serde(default)]
    pub delivery: Delivery,
    /// `[smtp]`: the relay, when `delivery.transport = "smtp"`.
    #[serde(default)]
    pub smtp: Smtp,
    /// `[state]`: runtime state (ledger, previews, locks).
    #[serde(default)]
    pub state: State,
    /// `[unsubscribe]`: the token secret and the mailto address.
    pub unsubscribe: Unsubscribe,
    /// `[server]`: `tipsheet serve`.
    #[serde(default)]
    pub server: Server,
    /// `[dkim]`: signing (optional; strongly recommended).
    #[serde(default)]
    pub dkim: Option<DkimSettings>,
    /// `[bounces]`: VERP envelope senders and the bounce policy (optional).
    #[serde(default)]
    pub bounces: Option<Bounces>,
    /// `[store]`: where the ledger (and, on PostgreSQL, the list) lives.
    #[serde(default)]
    pub store: StoreConfig,
    /// The file this was read from (set by [`Config::load`]).
    #[serde(skip)]
    pub path: PathBuf,
    /// The raw text, kept to point errors at lines.
    #[serde(skip)]
    source: String,
}

/// `[dkim]` in config.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// The signing domain (`d=`), normally the From address's domain.
    pub domain: String,
    /// The selector (`s=`): the key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The private key file (relative to the config file).
    pub private_key_path: PathBuf,
    /// The selector of an optional second key (dual signing: RSA plus Ed25519).
    #[serde(default)]
    pub second_selector: Option<String>,
    /// The second key's file (relative to the config file).
    #[serde(default)]
    pub second_private_key_path: Option<PathBuf>,
}

/// `[newsletter]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Newsletter {
    /// Display name, used in subjects: "Career Tips #12: …".
    pub name: String,
    /// The From mailbox, e.g. `Career Tips <tips@example.com>`.
    pub from: String,
    /// The Reply-To mailbox.
    pub reply_to: Option<String>,
    /// Public base URL of `tipsheet serve` (unsubscribe, archive).
    pub base_url: String,
    /// The List-Id identifier, e.g. `career-tips.example.com`.
    pub list_id: String,
    /// The sender's postal address line (CAN-SPAM).
    #[serde(default)]
    pub postal: String,
    /// Why the reader gets this email (footer).
    #[serde(default = "default_why")]
    pub why: String,
    /// Used in "Hi …," when a subscriber has no name.
    #[serde(default = "default_greeting_fallback")]
    pub greeting_fallback: String,
    /// Warn when an issue takes longer than this to read.
    #[serde(default = "default_max_reading_minutes")]
    pub max_reading_minutes: u32,
    /// Who signs the tip, e.g. "Dana Whitfield, Chief Career Coach".
    #[serde(default = "default_coach")]
    pub coach: String,
}

/// `[schedule]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Standard 5-field crontab expression.
    pub cron: String,
    /// IANA timezone name.
    pub timezone: String,
    /// 2 = every other week.
    #[serde(default = "default_every_weeks")]
    pub every_weeks: u32,
    /// A slot date (`YYYY-MM-DD`, quoted): issue #1.
    pub anchor: String,
    /// How late a slot may still be sent.
    #[serde(default = "default_grace")]
    pub grace: String,
}

/// `[content]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContentConfig {
    /// Folder holding `comparisons/` and `tips/`.
    pub dir: PathBuf,
    /// Comparisons featured per issue.
    pub comparisons_per_issue: usize,
    /// Maximum words in a comparison's excerpt.
    pub excerpt_words: usize,
    /// Which section the excerpt is taken from.
    pub excerpt_section: String,
}

/// `[subscribers]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubscribersConfig {
    /// `email,name,subscribed_at` CSV.
    pub path: PathBuf,
    /// `email,reason,at` CSV, append-only.
    pub suppressed_path: PathBuf,
}

/// How messages leave the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// One `.eml` file per recipient under `delivery.outbox_dir`.
    Outbox,
    /// An SMTP relay, see `[smtp]`.
    Smtp,
}

/// `[delivery]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// `outbox` or `smtp`.
    pub transport: TransportKind,
    /// Where the outbox transport writes.
    pub outbox_dir: PathBuf,
    /// Simultaneous SMTP connections.
    pub concurrency: usize,
    /// Messages per second, 0 = unlimited.
    pub rate_per_second: u32,
    /// Messages per hour, 0 = unlimited.
    pub max_per_hour: u32,
    /// Attempts per recipient within one run.
    pub max_attempts: u32,
    /// First retry delay in milliseconds (doubles, capped at a minute).
    pub retry_base_ms: u64,
}

/// SMTP connection security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain text (loopback only unless `smtp.allow_plaintext`).
    None,
    /// STARTTLS, required.
    Starttls,
    /// Implicit TLS (port 465).
    Tls,
}

/// `[smtp]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    /// Relay host name.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: Tls,
    /// Env var holding the user name (unset or empty: no AUTH).
    pub username_env: String,
    /// Env var holding the password.
    pub password_env: String,
    /// Connect, command and data timeout.
    pub timeout_seconds: u64,
    /// Allow `tls = "none"` to a host that is not loopback.
    pub allow_plaintext: bool,
    /// The EHLO name (default: the From address's domain).
    pub hello_name: Option<String>,
    /// An extra root certificate (PEM) to trust, for a relay with a private CA.
    pub ca_file: Option<PathBuf>,
}

/// `[state]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct State {
    /// Ledger, previews and the run lock live here.
    pub dir: PathBuf,
}

/// `[store]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite:PATH` or `postgres://user@host:port/dbname`; absent: the SQLite
    /// ledger under `state.dir`. `TIPSHEET_DATABASE_URL` overrides it.
    pub url: Option<String>,
    /// Env var holding the database password (when the URL has none).
    pub password_env: String,
    /// How long a host's claim on recipients holds without renewal.
    pub lease_seconds: u64,
    /// Whether the send loop's group commits wait for the disk (SQLite
    /// `synchronous = FULL`, PostgreSQL's WAL flush). The default `false`
    /// survives a crash of tipsheet, not of the machine or the database
    /// server (README, "Running on several hosts").
    pub synchronous_commit: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: None,
            password_env: "TIPSHEET_DATABASE_PASSWORD".into(),
            lease_seconds: 60,
            synchronous_commit: false,
        }
    }
}

/// The URL's password never shows, not even in `{:?}`.
impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("password_env", &self.password_env)
            .field("lease_seconds", &self.lease_seconds)
            .field("synchronous_commit", &self.synchronous_commit)
            .finish()
    }
}

/// `[unsubscribe]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsubscribe {
    /// Env var holding the HMAC secret for unsubscribe tokens.
    pub secret_env: String,
    /// Env var holding the secret before a rotation: its tokens (unsubscribe
    /// and confirmation links) are still accepted; nothing is signed with it.
    #[serde(default)]
    pub previous_secret_env: Option<String>,
    /// Address for the `mailto:` List-Unsubscribe.
    pub mailto: String,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Address `tipsheet serve` listens on.
    pub listen: String,
    /// Env var holding the bearer token for `/preview` from non-loopback clients.
    pub admin_token_env: String,
}

/// `[bounces]`: where mail that comes back goes, and what it does to the list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounces {
    /// The bounce mailbox; each message's envelope sender becomes `local+<token>@domain`.
    pub address: String,
    /// Soft bounces (on distinct issues) within the window that suppress an address.
    #[serde(default = "default_soft_limit")]
    pub soft_limit: u32,
    /// How far back soft bounces count, in days.
    #[serde(default = "default_soft_window_days")]
    pub soft_window_days: u32,
    /// Env var holding the bearer token of `POST /webhooks/generic` (and Postmark's).
    #[serde(default = "default_webhook_token_env")]
    pub webhook_token_env: String,
    /// Env var holding Mailgun's HTTP webhook signing key.
    #[serde(default = "default_mailgun_key_env")]
    pub mailgun_signing_key_env: String,
}

impl Bounces {
    /// The settings that apply when `[bounces]` is absent (no VERP; webhooks and
    /// `inbound` still work with the default policy).
    pub fn defaults() -> Self {
        Self {
            address: String::new(),
            soft_limit: default_soft_limit(),
            soft_window_days: default_soft_window_days(),
            webhook_token_env: default_webhook_token_env(),
            mailgun_signing_key_env: default_mailgun_key_env(),
        }
    }
}

fn default_soft_limit() -> u32 {
    3
}
fn default_soft_window_days() -> u32 {
    30
}
fn default_webhook_token_env() -> String {
    "TIPSHEET_WEBHOOK_TOKEN".into()
}
fn default_mailgun_key_env() -> String {
    "TIPSHEET_MAILGUN_SIGNING_KEY".into()
}

fn default_why() -> String {
    "You are receiving this email because you subscribed to our career tips newsletter.".into()
}
fn default_greeting_fallback() -> String {
    "there".into()
}
fn default_max_reading_minutes() -> u32 {
    5
}
fn default_coach() -> String {
    "Our chief career coach".into()
}
fn default_every_weeks() -> u32 {
    1
}
fn default_grace() -> String {
    "6h".into()
}

impl Default for ContentConfig {
    fn default() -> Self {
        Self {
            dir: "content".into(),
            comparisons_per_issue: 3,
            excerpt_words: 60,
            excerpt_section: "duties".into(),
        }
    }
}
impl Default for SubscribersConfig {
    fn default() -> Self {
        Self {
            path: "subscribers/subscribers.csv".into(),
            suppressed_path: "subscribers/suppressed.csv".into(),
        }
    }
}
impl Default for Delivery {
    fn default() -> Self {
        Self {
            transport: TransportKind::Outbox,
            outbox_dir: "state/outbox".into(),
            concurrency: 4,
            rate_per_second: 0,
            max_per_hour: 0,
            max_attempts: 5,
            retry_base_ms: 1000,
        }
    }
}
impl Default for Smtp {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 25,
            tls: Tls::Starttls,
            username_env: "TIPSHEET_SMTP_USERNAME".into(),
            password_env: "TIPSHEET_SMTP_PASSWORD".into(),
            timeout_seconds: 30,
            allow_plaintext: false,
            hello_name: None,
            ca_file: None,
        }
    }
}
impl Default for State {
    fn default() -> Self {
        Self {
            dir: "state".into(),
        }
    }
}
impl Default for Server {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            admin_token_env: "TIPSHEET_ADMIN_TOKEN".into(),
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Outbox => "outbox",
            TransportKind::Smtp => "smtp",
        })
    }
}

impl Config {
    /// Reads, parses and validates `path`; relative paths inside resolve against its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_str(&source, path)
    }

    /// Parses and validates config text as if read from `path`.
    pub fn from_str(source: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(source).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            line: e
                .span()
                .map(|s| line_of(source, s.start))
                .unwrap_or_default(),
            message: first_line(e.message()),
        })?;
        config.path = path.to_path_buf();
        config.source = source.to_string();
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(ca) = config.smtp.ca_file.as_mut()
            && ca.is_relative()
        {
            *ca = base.join(&*ca);
        }
        for p in [
            &mut config.content.dir,
            &mut config.subscribers.path,
            &mut config.subscribers.suppressed_path,
            &mut config.delivery.outbox_dir,
            &mut config.state.dir,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// The schedule this config describes (validated by [`Config::load`]).
    pub fn schedule(&self) -> Result<Schedule, ConfigError> {
        let s = &self.schedule;
        Schedule::new(&s.cron, &s.timezone, s.every_weeks, &s.anchor, &s.grace)
            .map_err(|e| self.schedule_error(e))
    }

    /// The folder relative paths resolve against.
    pub fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// `[bounces]` as written, or its defaults.
    pub fn bounce_settings(&self) -> Bounces {
        self.bounces.clone().unwrap_or_else(Bounces::defaults)
    }

    /// The ledger's path.
    pub fn ledger_path(&self) -> PathBuf {
        self.state.dir.join("tipsheet.sqlite3")
    }

    /// The From address's domain (for Message-IDs and EHLO).
    pub fn from_domain(&self) -> String {
        self.newsletter
            .from
            .parse::<lettre::message::Mailbox>()
            .map(|m| m.email.domain().to_string())
            .unwrap_or_else(|_| "localhost".into())
    }

    /// A dotted key's line in the file, 0 when not written there.
    pub fn line_of_key(&self, dotted: &str) -> usize {
        key_line(&self.source, dotted)
    }

    /// An `Invalid` error for `dotted`, pointing at its line.
    pub fn invalid(&self, dotted: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            line: self.line_of_key(dotted),
            key: dotted.into(),
            message: message.into(),
        }
    }

    fn schedule_error(&self, e: ScheduleError) -> ConfigError {
        let msg = e.to_string();
        let key = ["timezone", "every_weeks", "anchor", "grace"]
            .into_iter()
            .find(|k| msg.contains(k))
            .unwrap_or("cron");
        // The schedule's messages already name their key.
        ConfigError::Parse {
            path: self.path.clone(),
            line: self.line_of_key(&format!("schedule.{key}")),
            message: msg,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let n = &self.newsletter;
        if n.name.trim().is_empty() {
            return Err(self.invalid("newsletter.name", "must not be empty"));
        }
        if let Err(e) = n.from.parse::<lettre::message::Mailbox>() {
            return Err(self.invalid(
                "newsletter.from",
                format!(
                    "`{}` is not a mailbox ({e}); write it like `Career Tips <tips@example.com>`",
                    n.from
                ),
            ));
        }
        if let Some(r) = &n.reply_to
            && let Err(e) = r.parse::<lettre::message::Mailbox>()
        {
            return Err(self.invalid(
                "newsletter.reply_to",
                format!("`{r}` is not a mailbox ({e}); write it like `Coach <coach@example.com>`"),
            ));
        }
        if !(n.base_url.starts_with("https://") || n.base_url.starts_with("http://"))
            || n.base_url.contains(char::is_whitespace)
        {
            return Err(self.invalid(
                "newsletter.base_url",
                format!(
                    "`{}` is not an http(s) URL; write it like `https://news.example.com`",
                    n.base_url
                ),
            ));
        }
        if n.list_id.trim().is_empty()
            || n.list_id
                .contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
        {
            return Err(self.invalid(
                "newsletter.list_id",
                format!(
                    "`{}` is not a list identifier; write it like `career-tips.example.com`",
                    n.list_id
                ),
            ));
        }
        for (key, value) in [
            ("newsletter.name", &n.name),
            ("newsletter.postal", &n.postal),
            ("newsletter.why", &n.why),
            ("newsletter.greeting_fallback", &n.greeting_fallback),
            ("newsletter.coach", &n.coach),
        ] {
            // U+2028/U+2029 break lines too (the subject and List-Id carry the name).
            if value
                .chars()
                .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
            {
                return Err(self.invalid(
                    key,
                    "must be one line without control characters or line separators",
                ));
            }
        }
        self.schedule()?;
        let c = &self.content;
        if !(1..=20).contains(&c.comparisons_per_issue) {
            return Err(self.invalid(
                "content.comparisons_per_issue",
                format!("`{}` is out of range: use 1 to 20", c.comparisons_per_issue),
            ));
        }
        if !(10..=500).contains(&c.excerpt_words) {
            return Err(self.invalid(
                "content.excerpt_words",
                format!("`{}` is out of range: use 10 to 500", c.excerpt_words),
            ));
        }
        if crate::content::SectionKind::from_config(&c.excerpt_section).is_none() {
            return Err(self.invalid(
                "content.excerpt_section",
                format!(
                    "`{}` is not a section; use one of `duties`, `requirements`, `environment`, `skills`, `salary`",
                    c.excerpt_section
                ),
            ));
        }
        let d = &self.delivery;
        if !(1..=64).contains(&d.concurrency) {
            return Err(self.invalid(
                "delivery.concurrency",
                format!("`{}` is out of range: use 1 to 64", d.concurrency),
            ));
        }
        if !(1..=20).contains(&d.max_attempts) {
            return Err(self.invalid(
                "delivery.max_attempts",
                format!("`{}` is out of range: use 1 to 20", d.max_attempts),
            ));
        }
        let st = &self.store;
        if let Some(url) = &st.url {
            let url = url.trim();
            let known = ["sqlite:", "postgres://", "postgresql://"];
            if !known.iter().any(|k| url.starts_with(k)) {
                return Err(self.invalid(
                    "store.url",
                    format!(
                        "`{}` is not a store URL: write `sqlite:PATH` (one host) or `postgres://user@host:5432/dbname`",
                        redact_url(url)
                    ),
                ));
            }
        }
        if !(5..=3600).contains(&st.lease_seconds) {
            return Err(self.invalid(
                "store.lease_seconds",
                format!("`{}` is out of range: use 5 to 3600", st.lease_seconds),
            ));
        }
        if self.unsubscribe.mailto.parse::<lettre::Address>().is_err() {
            return Err(self.invalid(
                "unsubscribe.mailto",
                format!(
                    "`{}` is not an email address; write it like `unsubscribe@example.com`",
                    self.unsubscribe.mailto
                ),
            ));
        }
        if self.unsubscribe.secret_env.trim().is_empty() {
            return Err(self.invalid(
                "unsubscribe.secret_env",
                "must name an environment variable, e.g. `TIPSHEET_SECRET`",
            ));
        }
        if let Some(prev) = &self.unsubscribe.previous_secret_env {
            if prev.trim().is_empty() {
                return Err(self.invalid(
                    "unsubscribe.previous_secret_env",
                    "must name an environment variable, e.g. `TIPSHEET_PREVIOUS_SECRET`, or be left out",
                ));
            }
            if prev.trim() == self.unsubscribe.secret_env.trim() {
                return Err(self.invalid(
                    "unsubscribe.previous_secret_env",
                    format!(
                        "`{prev}` is also `unsubscribe.secret_env`; name the variable that holds the old secret, e.g. `TIPSHEET_PREVIOUS_SECRET`"
                    ),
                ));
            }
        }
        if let Some(b) = &self.bounces {
            let ok = b
                .address
                .parse::<lettre::Address>()
                .is_ok_and(|a| !a.user().contains('+') && a.user().len() <= 12);
            if !ok {
                return Err(self.invalid(
                    "bounces.address",
                    format!(
                        "`{}` is not a bounce address: write a plain address with a short local part (12 characters at most, no `+`), like `bounces@example.com`",
                        b.address
                    ),
                ));
            }
            if !(1..=100).contains(&b.soft_limit) {
                return Err(self.invalid(
                    "bounces.soft_limit",
                    format!("`{}` is out of range: use 1 to 100", b.soft_limit),
                ));
            }
            if !(1..=3650).contains(&b.soft_window_days) {
                return Err(self.invalid(
                    "bounces.soft_window_days",
                    format!("`{}` is out of range: use 1 to 3650", b.soft_window_days),
                ));
            }
        }
        if let Some(ca) = &self.smtp.ca_file
            && let Err(e) = std::fs::read(ca)
        {
            return Err(self.invalid(
                "smtp.ca_file",
                format!("cannot read `{}`: {e}", ca.display()),
            ));
        }
        if self.delivery.transport == TransportKind::Smtp {
            let s = &self.smtp;
            if s.host.trim().is_empty() {
                return Err(self.invalid("smtp.host", "must not be empty"));
            }
            if s.tls == Tls::None && !s.allow_plaintext && !is_loopback(&s.host) {
                return Err(self.invalid(
                    "smtp.tls",
                    format!(
                        "`none` sends credentials and mail in clear text to `{}`; use `starttls` or `tls`, or set `smtp.allow_plaintext = true`",
                        s.host
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// True for `localhost` and loopback IP literals.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn line_of(source: &str, byte: usize) -> usize {
    source
        .get(..byte)
        .map_or(0, |s| s.bytes().filter(|b| *b == b'\n').count() + 1)
}

fn first_line(s: &str) -> String {
    s.trim().lines().next().unwrap_or_default().to_string()
}

/// Finds `key = …` inside `[section]` for a dotted `section.key`.
fn key_line(source: &str, dotted: &str) -> usize {
    let (section, key) = dotted.split_once('.').unwrap_or(("", dotted));
    let mut current = String::new();
    for (i, line) in source.lines().enumerate() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix('[') {
            current = rest.trim_end_matches(']').trim().to_string();
        } else if current == section
            && let Some((k, _)) = t.split_once('=')
            && k.trim() == key
        {
            return i + 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[newsletter]
name = "Career Tips"
from = "Career Tips <tips@example.com>"
base_url = "https://news.example.com"
list_id = "career-tips.example.com"
postal = "1 Main St"

[schedule]
cron = "0 9 * * TUE"
timezone = "America/New_York"
every_weeks = 2
anchor = "2026-12-01"

[unsubscribe]
secret_env = "TIPSHEET_SECRET"
mailto = "unsubscribe@example.com"
"#;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_str(text, Path::new("/srv/tips/config.toml"))
    }

    #[test]
    fn store_urls_show_no_password_in_either_place() {
        for url in [
            "postgres://u:s3cret@h/db",
            "postgres://u@h/db?sslmode=require&password=s3cret",
        ] {
            let store = StoreConfig {
                url: Some(url.into()),
                ..StoreConfig::default()
            };
            let shown = format!("{store:?}");
            assert!(
                shown.contains("***") && !shown.contains("s3cret"),
                "{shown}"
            );
        }
    }

    #[test]
    fn good_config_resolves_paths_against_its_folder() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.content.dir, PathBuf::from("/srv/tips/content"));
        assert_eq!(
            c.ledger_path(),
            PathBuf::from("/srv/tips/state/tipsheet.sqlite3")
        );
        assert_eq!(c.from_domain(), "example.com");
        assert_eq!(c.content.comparisons_per_issue, 3);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "timezone = \"America/New_York\"",
                "timezone = \"Mars/Olympus\"",
                "/srv/tips/config.toml:11: schedule.timezone `Mars/Olympus`",
            ),
            (
                "from = \"Career Tips <tips@example.com>\"",
                "from = \"tips@@example.com\"",
                "/srv/tips/config.toml:4: `newsletter.from`: `tips@@example.com` is not a mailbox",
            ),
            (
                "every_weeks = 2",
                "every_weeks = 2\nbogus = 1",
                "/srv/tips/config.toml:13: unknown field `bogus`",
            ),
            (
                "base_url = \"https://news.example.com\"",
                "base_url = \"news.example.com\"",
                "`newsletter.base_url`: `news.example.com` is not an http(s) URL",
            ),
            (
                "secret_env = \"TIPSHEET_SECRET\"",
                "secret_env = \"TIPSHEET_SECRET\"\nprevious_secret_env = \"TIPSHEET_SECRET\"",
                "/srv/tips/config.toml:17: `unsubscribe.previous_secret_env`: `TIPSHEET_SECRET` is also `unsubscribe.secret_env`",
            ),
        ];
        for (from, to, want) in cases {
            let text = GOOD.replace(from, to);
            let err = load(&text).unwrap_err().to_string();
            assert!(err.contains(want), "for {to:?}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn plaintext_smtp_to_a_remote_host_is_refused() {
        let text = format!(
            "{GOOD}\n[delivery]\ntransport = \"smtp\"\n[smtp]\nhost = \"mail.example.net\"\ntls = \"none\"\n"
        );
        let err = load(&text).unwrap_err().to_string();
        assert!(err.contains("`smtp.tls`"), "{err}");
        let ok = text.replace("host = \"mail.example.net\"", "host = \"127.0.0.1\"");
        assert!(load(&ok).is_ok());
    }
}
