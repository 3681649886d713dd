//! The shape of every `config.toml` section below the top level: the serde
//! structs, their defaults and how they print.
//!
//! Owns the keys and their default values. It must not check values (that is
//! `validate.rs`) nor read any file.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::redact::redact_url;

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
    /// The From mailbox of mail that is not the newsletter (sign-up
    /// confirmations, welcome mails); `from` when unset.
    #[serde(default)]
    pub transactional_from: Option<String>,
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

impl Newsletter {
    /// The From of mail that is not the newsletter: `transactional_from`, else `from`.
    pub fn transactional_from(&self) -> &str {
        self.transactional_from.as_deref().unwrap_or(&self.from)
    }
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
    /// Feeds `tipsheet fetch` reads new comparisons from (`[[content.feeds]]`).
    pub feeds: Vec<FeedConfig>,
    /// New articles one `fetch` imports at most (the rest wait for the next).
    pub fetch_max_new: usize,
    /// Whether `run` fetches before it assembles an issue; unset: when feeds
    /// are configured (see [`ContentConfig::fetches_before_issue`]).
    pub fetch_before_issue: Option<bool>,
}

impl ContentConfig {
    /// Whether `run` fetches before it assembles an issue.
    pub fn fetches_before_issue(&self) -> bool {
        self.fetch_before_issue.unwrap_or(!self.feeds.is_empty())
    }
}

/// One `[[content.feeds]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// An RSS 2.0, Atom or JSON Feed, or an XML sitemap (http or https).
    pub url: String,
}

/// `[editorial]`: who signs an issue off before it goes out, and where proofs go.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Editorial {
    /// Whether an issue must be approved (`tipsheet approve`) before any
    /// command sends it.
    pub approval: ApprovalMode,
    /// Where `tipsheet send --proof` sends a `[PROOF]` copy of the issue.
    pub proof_to: Vec<String>,
}

impl Editorial {
    /// Whether an issue must be approved before it is sent.
    pub fn approval_required(&self) -> bool {
        self.approval == ApprovalMode::Required
    }
}

/// `editorial.approval`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalMode {
    /// Issues go out on schedule without a sign-off.
    #[default]
    Off,
    /// Nothing is sent until the issue is approved as it stands.
    Required,
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
    /// At most this many messages in any 60 minutes, counted in the store
    /// across runs and hosts (a cap, not a pace); 0 = no cap.
    pub max_per_hour: u32,
    /// At most this many messages in any 24 hours, counted the same way; 0 = no cap.
    pub max_per_day: u32,
    /// A warm-up ramp: `[[day, per_day], …]`, each step's daily cap holding
    /// from its day (day 1 = `warmup_start`) until the next step's.
    pub warmup: Vec<(u32, u32)>,
    /// The warm-up's day 1 (`YYYY-MM-DD`, quoted), in the schedule's timezone.
    pub warmup_start: Option<String>,
    /// Attempts per recipient within one run.
    pub max_attempts: u32,
    /// First retry delay in milliseconds (doubles, capped at a minute).
    pub retry_base_ms: u64,
    /// Consecutive sender-level refusals from one receiving domain (or the
    /// relay) after which a run stops sending there; 0 = never pause.
    pub provider_pause_after: u32,
}

impl Delivery {
    /// The warm-up's day 1 (validated by [`Config::load`](super::Config::load)).
    pub fn warmup_start_date(&self) -> Option<chrono::NaiveDate> {
        self.warmup_start
            .as_deref()
            .and_then(|s| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
    }
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
    /// Several relays (`[[smtp.relays]]`), used in proportion to their
    /// weights; empty: `host`, `port`, `tls` and the credentials above are the one relay.
    pub relays: Vec<RelayConfig>,
    /// How long a relay that fails to connect or authenticate, or refuses
    /// everyone, is left out of rotation the first time (seconds).
    pub relay_backoff_seconds: u64,
    /// The longest back-off: each failure in a row doubles it up to this.
    pub relay_backoff_max_seconds: u64,
}

impl Smtp {
    /// The relays to use: the `[[smtp.relays]]`, or the `[smtp]` section's
    /// own relay as the only one (weight 1, named `host:port`).
    pub fn relays(&self) -> Vec<RelayConfig> {
        if !self.relays.is_empty() {
            return self.relays.clone();
        }
        vec![RelayConfig {
            name: None,
            host: self.host.clone(),
            port: self.port,
            tls: self.tls,
            username_env: Some(self.username_env.clone()),
            password_env: Some(self.password_env.clone()),
            weight: 1,
        }]
    }
}

/// One `[[smtp.relays]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// What the ledger and `status` call it; `host:port` when unset.
    #[serde(default)]
    pub name: Option<String>,
    /// Relay host name.
    pub host: String,
    /// Relay port.
    #[serde(default = "default_relay_port")]
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    #[serde(default = "default_relay_tls")]
    pub tls: Tls,
    /// Env var holding the user name (unset, or the variable unset or empty: no AUTH).
    #[serde(default)]
    pub username_env: Option<String>,
    /// Env var holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Its share of the messages: 3 against another relay's 1 carries three quarters.
    #[serde(default = "default_weight")]
    pub weight: u32,
}

impl RelayConfig {
    /// The name the ledger records: `name`, or `host:port`.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{}:{}", self.host, self.port))
    }
}

fn default_relay_port() -> u16 {
    587
}
fn default_relay_tls() -> Tls {
    Tls::Starttls
}
fn default_weight() -> u32 {
    1
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
    /// Env var holding the bearer token of the admin pages (`/preview`);
    /// unset, they are off.
    pub admin_token_env: String,
    /// Seconds a client has to send a request's headers before the
    /// connection is closed (slow or half-open clients).
    #[serde(default = "default_header_timeout")]
    pub header_timeout_seconds: u64,
    /// Seconds a request may take in all before it is answered 408.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u64,
    /// Open connections at most; more are closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Requests handled at once at most; more wait their turn.
    #[serde(default = "default_max_requests")]
    pub max_requests: usize,
    /// The reverse proxies in front of `serve` (IP addresses or CIDR
    /// blocks): only a request from one of them has its client address read
    /// from `proxy_header`; any other is its peer's address.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Which header the trusted proxies set: `x-forwarded-for`,
    /// `forwarded` (RFC 7239) or `x-real-ip`.
    #[serde(default = "default_proxy_header")]
    pub proxy_header: String,
    /// Link mails (sign-up confirmations and privacy links together) sent
    /// per hour at most, whoever asks; 0: no cap.
    #[serde(default = "default_signups_per_hour")]
    pub signups_per_hour: u32,
    /// Link mails one client address may ask for per hour; 0: no cap.
    #[serde(default = "default_signups_per_client_per_hour")]
    pub signups_per_client_per_hour: u32,
    /// Link mails waiting to be sent at most; a request finding the queue
    /// full is told to try later.
    #[serde(default = "default_mail_queue")]
    pub mail_queue: usize,
    /// State-changing POSTs (sign-up, confirm, unsubscribe, resubscribe,
    /// privacy) one client may make at once before the rate below applies.
    #[serde(default = "default_post_burst")]
    pub post_burst: u32,
    /// Such POSTs per minute and client after the burst; 0: no limit.
    #[serde(default = "default_posts_per_minute")]
    pub posts_per_minute: u32,
    /// Where `tipsheet run` serves `/metrics` and `/healthz` (unset: it
    /// serves none; `serve` always has them).
    pub metrics_listen: Option<String>,
    /// Env var holding the bearer token of `/metrics` (the admin token
    /// opens it too).
    pub metrics_token_env: String,
}

fn default_proxy_header() -> String {
    "x-forwarded-for".into()
}
fn default_signups_per_hour() -> u32 {
    1000
}
fn default_signups_per_client_per_hour() -> u32 {
    20
}
fn default_mail_queue() -> usize {
    256
}
fn default_post_burst() -> u32 {
    30
}
fn default_posts_per_minute() -> u32 {
    60
}

/// The proxy headers `server.proxy_header` may name.
pub const PROXY_HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

impl Server {
    /// `trusted_proxies` parsed: a bare address is its own block (`/32`,
    /// `/128`); the first entry that is neither, as written.
    pub fn proxies(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                let p = p.trim();
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| p.to_string())
            })
            .collect()
    }
}

fn default_header_timeout() -> u64 {
    10
}
fn default_request_timeout() -> u64 {
    30
}
fn default_max_connections() -> usize {
    1024
}
fn default_max_requests() -> usize {
    256
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
    /// Env var holding the bearer token of `POST /webhooks/generic`.
    #[serde(default = "default_webhook_token_env")]
    pub webhook_token_env: String,
    /// Env var holding the password of `POST /webhooks/postmark` (a
    /// credential of its own: the generic token does not open it).
    #[serde(default = "default_postmark_token_env")]
    pub postmark_token_env: String,
    /// Env var holding Mailgun's HTTP webhook signing key.
    #[serde(default = "default_mailgun_key_env")]
    pub mailgun_signing_key_env: String,
    /// How far a Mailgun signature's timestamp may be from now, in seconds,
    /// either way; an event signed outside it is refused as stale.
    #[serde(default = "default_mailgun_max_skew_seconds")]
    pub mailgun_max_skew_seconds: u64,
}

impl Bounces {
    /// The settings that apply when `[bounces]` is absent (no VERP; webhooks and
    /// `inbound` still work with the default policy).
    pub(crate) fn defaults() -> Self {
        Self {
            address: String::new(),
            soft_limit: default_soft_limit(),
            soft_window_days: default_soft_window_days(),
            webhook_token_env: default_webhook_token_env(),
            postmark_token_env: default_postmark_token_env(),
            mailgun_signing_key_env: default_mailgun_key_env(),
            mailgun_max_skew_seconds: default_mailgun_max_skew_seconds(),
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
fn default_postmark_token_env() -> String {
    "TIPSHEET_POSTMARK_TOKEN".into()
}
fn default_mailgun_max_skew_seconds() -> u64 {
    300
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
            feeds: Vec::new(),
            fetch_max_new: 10,
            fetch_before_issue: None,
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
            max_per_day: 0,
            warmup: Vec::new(),
            warmup_start: None,
            max_attempts: 5,
            retry_base_ms: 1000,
            provider_pause_after: 20,
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
            relays: Vec::new(),
            relay_backoff_seconds: 30,
            relay_backoff_max_seconds: 900,
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
            header_timeout_seconds: default_header_timeout(),
            request_timeout_seconds: default_request_timeout(),
            max_connections: default_max_connections(),
            max_requests: default_max_requests(),
            trusted_proxies: Vec::new(),
            proxy_header: default_proxy_header(),
            signups_per_hour: default_signups_per_hour(),
            signups_per_client_per_hour: default_signups_per_client_per_hour(),
            mail_queue: default_mail_queue(),
            post_burst: default_post_burst(),
            posts_per_minute: default_posts_per_minute(),
            metrics_listen: None,
            metrics_token_env: "TIPSHEET_METRICS_TOKEN".into(),
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
