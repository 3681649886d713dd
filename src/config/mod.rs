//! The `config.toml` file: its typed shape, loading, path resolution and validation.
//!
//! Owns every configuration key and the checks on it. It must not read content,
//! subscribers or the ledger: those modules take what they need from [`Config`].
//!
//! This file holds the top-level [`Config`], its errors and loading;
//! `schema.rs` the sections' shapes and defaults; `validate.rs` the checks,
//! one function per section.

mod redact;
mod schema;
mod validate;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use redact::redact_url;
pub use schema::{
    ApprovalMode, Bounces, ContentConfig, Delivery, DkimSettings, Editorial, Newsletter,
    RelayConfig, ScheduleConfig, Server, Smtp, State, StoreConfig, SubscribersConfig, Tls,
    TransportKind, Unsubscribe,
};
pub(crate) use validate::{host_of, is_loopback};

use crate::schedule::{Schedule, ScheduleError};

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
    /// `[editorial]`: approval before sending, proof addresses.
    #[serde(default)]
    pub editorial: Editorial,
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
    pub(crate) fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// `[bounces]` as written, or its defaults.
    pub(crate) fn bounce_settings(&self) -> Bounces {
        self.bounces.clone().unwrap_or_else(Bounces::defaults)
    }

    /// The ledger's path.
    pub(crate) fn ledger_path(&self) -> PathBuf {
        self.state.dir.join("tipsheet.sqlite3")
    }

    /// The From address's domain (for Message-IDs and EHLO).
    #[allow(clippy::wrong_self_convention)] // the From header's domain, not a conversion
    pub(crate) fn from_domain(&self) -> String {
        self.newsletter
            .from
            .parse::<lettre::message::Mailbox>()
            .map(|m| m.email.domain().to_string())
            .unwrap_or_else(|_| "localhost".into())
    }

    /// A dotted key's line in the file, 0 when not written there.
    pub(crate) fn line_of_key(&self, dotted: &str) -> usize {
        key_line(&self.source, dotted)
    }

    /// An `Invalid` error for `dotted`, pointing at its line.
    pub(crate) fn invalid(&self, dotted: &str, message: impl Into<String>) -> ConfigError {
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
    fn feeds_are_read_and_a_bad_one_is_named_with_its_line() {
        let plain = load(GOOD).unwrap();
        assert!(plain.content.feeds.is_empty());
        assert_eq!(plain.content.fetch_max_new, 10);
        assert!(!plain.content.fetches_before_issue());
        let feeds = "\n[content]\nfetch_max_new = 3\n\n[[content.feeds]]\nurl = \"https://www.example.com/feed.xml\"\n\n[[content.feeds]]\nurl = \"https://www.example.com/sitemap.xml\"\n";
        let c = load(&format!("{GOOD}{feeds}")).unwrap();
        assert_eq!(c.content.feeds.len(), 2);
        assert_eq!(c.content.fetch_max_new, 3);
        assert!(c.content.fetches_before_issue());
        let off = format!(
            "{GOOD}{}",
            feeds.replace("fetch_max_new = 3", "fetch_before_issue = false")
        );
        assert!(!load(&off).unwrap().content.fetches_before_issue());
        let lines = GOOD.lines().count();
        let bad = format!(
            "{GOOD}{}",
            feeds.replace("https://www.example.com/sitemap.xml", "ftp://example.com/s")
        );
        let err = load(&bad).unwrap_err().to_string();
        let want = format!(
            "config.toml:{}: `content.feeds.url`: `ftp://example.com/s` is not an http(s) URL",
            lines + 9
        );
        assert!(err.contains(&want), "{err}");
        let unknown = format!(
            "{GOOD}{}",
            feeds.replace(
                "url = \"https://www.example.com/feed.xml\"",
                "url = \"https://a.example\"\ntitle = \"x\""
            )
        );
        let err = load(&unknown).unwrap_err().to_string();
        assert!(err.contains("unknown field `title`"), "{err}");
        let zero = format!(
            "{GOOD}{}",
            feeds.replace("fetch_max_new = 3", "fetch_max_new = 0")
        );
        assert!(
            load(&zero)
                .unwrap_err()
                .to_string()
                .contains("`content.fetch_max_new`: `0` is out of range")
        );
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
