//! Validation of a parsed [`Config`]: one check per section, in the order the
//! file is written, each error pointing at its key's line.
//!
//! Owns the rules on values. It must not parse the file or resolve paths
//! (`mod.rs` does both before it validates), nor read content,
//! subscribers or the ledger.

use super::redact::redact_url;
use super::schema::{PROXY_HEADERS, Tls, TransportKind};
use super::{Config, ConfigError};

impl Config {
    /// Checks every section; the first problem found stops with its error.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.validate_newsletter()?;
        self.schedule()?;
        self.validate_content()?;
        self.validate_editorial()?;
        self.validate_delivery()?;
        self.validate_store()?;
        self.validate_unsubscribe()?;
        self.validate_server()?;
        self.validate_bounces()?;
        self.validate_smtp()
    }

    /// `[server]`: the trusted proxies, their header, the queue and rates.
    fn validate_server(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if let Err(bad) = s.proxies() {
            return Err(self.invalid(
                "server.trusted_proxies",
                format!(
                    "`{bad}` is neither an IP address nor a CIDR block; write it like `10.0.0.1` or `10.0.0.0/8`"
                ),
            ));
        }
        if !PROXY_HEADERS.contains(&s.proxy_header.as_str()) {
            return Err(self.invalid(
                "server.proxy_header",
                format!(
                    "`{}` is not one of {}; name the header your proxy sets",
                    s.proxy_header,
                    PROXY_HEADERS.map(|h| format!("`{h}`")).join(", ")
                ),
            ));
        }
        if s.mail_queue == 0 {
            return Err(self.invalid(
                "server.mail_queue",
                "must be at least 1 (mails waiting to be sent)",
            ));
        }
        if s.post_burst == 0 {
            return Err(self.invalid(
                "server.post_burst",
                "must be at least 1; set `posts_per_minute = 0` to turn the limit off",
            ));
        }
        Ok(())
    }

    /// `[newsletter]`: the sender, the base URL, the List-Id, one-line texts.
    fn validate_newsletter(&self) -> Result<(), ConfigError> {
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
        if let Some(t) = &n.transactional_from
            && let Err(e) = t.parse::<lettre::message::Mailbox>()
        {
            return Err(self.invalid(
                "newsletter.transactional_from",
                format!(
                    "`{t}` is not a mailbox ({e}); write it like `Career Tips <hello@example.com>`, or remove it to use `newsletter.from`"
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
        if !is_http_url(&n.base_url) {
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
        Ok(())
    }

    /// `[content]`: how an issue is cut.
    fn validate_content(&self) -> Result<(), ConfigError> {
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
        if !(1..=100).contains(&c.fetch_max_new) {
            return Err(self.invalid(
                "content.fetch_max_new",
                format!("`{}` is out of range: use 1 to 100", c.fetch_max_new),
            ));
        }
        for (i, feed) in c.feeds.iter().enumerate() {
            if !is_http_url(&feed.url) {
                return Err(ConfigError::Invalid {
                    path: self.path.clone(),
                    line: self.feed_line(i),
                    key: "content.feeds.url".into(),
                    message: format!(
                        "`{}` is not an http(s) URL; write it like `https://www.example.com/career-advice/feed.xml`",
                        feed.url
                    ),
                });
            }
        }
        Ok(())
    }

    /// `[editorial]`: every proof address is an address.
    fn validate_editorial(&self) -> Result<(), ConfigError> {
        for to in &self.editorial.proof_to {
            if let Err(e) = to.trim().parse::<lettre::Address>() {
                return Err(self.invalid(
                    "editorial.proof_to",
                    format!(
                        "`{to}` is not an email address ({e}); write each like `editor@example.com`"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The line of the `url` of the `index`th `[[content.feeds]]` table (its
    /// header's line when it has none written).
    fn feed_line(&self, index: usize) -> usize {
        let mut header = 0;
        let mut seen = 0;
        for (n, line) in self.source.lines().enumerate() {
            let t = line.trim();
            if t.starts_with('[') {
                let inside = t.trim_start_matches('[').trim_end_matches(']').trim();
                if inside == "content.feeds" {
                    seen += 1;
                    header = n + 1;
                } else if seen == index + 1 {
                    break;
                }
            } else if seen == index + 1 && t.split_once('=').is_some_and(|(k, _)| k.trim() == "url")
            {
                return n + 1;
            }
        }
        header
    }

    /// `[delivery]`: the worker pool and retries.
    fn validate_delivery(&self) -> Result<(), ConfigError> {
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
        self.validate_warmup()
    }

    /// `[delivery] warmup` and `warmup_start`: steps by increasing day, each
    /// with a daily cap, from a start date.
    fn validate_warmup(&self) -> Result<(), ConfigError> {
        let d = &self.delivery;
        match (&d.warmup_start, d.warmup.is_empty()) {
            (None, false) => {
                return Err(self.invalid(
                    "delivery.warmup",
                    "needs `delivery.warmup_start`, the ramp's day 1, e.g. `warmup_start = \"2026-12-01\"`",
                ));
            }
            (Some(s), _) if d.warmup_start_date().is_none() => {
                return Err(self.invalid(
                    "delivery.warmup_start",
                    format!("`{s}` is not a date; write it like `\"2026-12-01\"` (quoted)"),
                ));
            }
            (Some(_), true) => {
                return Err(self.invalid(
                    "delivery.warmup_start",
                    "is set but `delivery.warmup` is empty; add the steps, e.g. `warmup = [[1, 50], [3, 200], [7, 1000]]`, or remove it",
                ));
            }
            _ => {}
        }
        let mut last = 0;
        for &(day, per_day) in &d.warmup {
            if day <= last {
                return Err(self.invalid(
                    "delivery.warmup",
                    format!(
                        "step `[{day}, {per_day}]`: days start at 1 and must increase from step to step"
                    ),
                ));
            }
            if per_day == 0 {
                return Err(self.invalid(
                    "delivery.warmup",
                    format!("step `[{day}, 0]`: a day's cap must be at least 1"),
                ));
            }
            last = day;
        }
        Ok(())
    }

    /// `[store]`: the URL's scheme and the lease.
    fn validate_store(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// `[unsubscribe]`: the mailto address and the secrets' variables.
    fn validate_unsubscribe(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// `[bounces]`, when written: the VERP address and the soft-bounce policy.
    fn validate_bounces(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// `[smtp]`: the CA file when named; the host and TLS when delivery uses SMTP.
    fn validate_smtp(&self) -> Result<(), ConfigError> {
        if let Some(ca) = &self.smtp.ca_file
            && let Err(e) = std::fs::read(ca)
        {
            return Err(self.invalid(
                "smtp.ca_file",
                format!("cannot read `{}`: {e}", ca.display()),
            ));
        }
        let s = &self.smtp;
        if s.relay_backoff_seconds == 0 || s.relay_backoff_max_seconds < s.relay_backoff_seconds {
            return Err(self.invalid(
                "smtp.relay_backoff_max_seconds",
                format!(
                    "`{}` must be at least `smtp.relay_backoff_seconds` (`{}`), which must be at least 1",
                    s.relay_backoff_max_seconds, s.relay_backoff_seconds
                ),
            ));
        }
        if !s.relays.is_empty() {
            // `[smtp]`'s own relay and a list of relays would be two answers
            // to "where does mail go": one of them must go.
            for key in ["host", "port", "tls", "username_env", "password_env"] {
                let dotted = format!("smtp.{key}");
                if self.line_of_key(&dotted) > 0 {
                    return Err(self.invalid(
                        &dotted,
                        format!(
                            "is set in `[smtp]` and `[[smtp.relays]]` is given too; move `{key}` into a `[[smtp.relays]]` entry (with several relays, `[smtp]` keeps only the settings they share)"
                        ),
                    ));
                }
            }
            if s.relays.len() > 16 {
                return Err(self.invalid(
                    "smtp.relays",
                    format!("{} relays: use 16 at most", s.relays.len()),
                ));
            }
        }
        if self.delivery.transport == TransportKind::Smtp {
            let relays = s.relays();
            let mut names = std::collections::HashSet::new();
            for r in &relays {
                let (host, tls) = if s.relays.is_empty() {
                    ("smtp.host", "smtp.tls")
                } else {
                    ("smtp.relays.host", "smtp.relays.tls")
                };
                if r.host.trim().is_empty() {
                    return Err(self.invalid(host, "must not be empty"));
                }
                if r.tls == Tls::None && !s.allow_plaintext && !is_loopback(&r.host) {
                    return Err(self.invalid(
                        tls,
                        format!(
                            "`none` sends credentials and mail in clear text to `{}`; use `starttls` or `tls`, or set `smtp.allow_plaintext = true`",
                            r.host
                        ),
                    ));
                }
                if !(1..=1000).contains(&r.weight) {
                    return Err(self.invalid(
                        "smtp.relays.weight",
                        format!(
                            "`{}` for relay `{}` is out of range: use 1 to 1000",
                            r.weight,
                            r.label()
                        ),
                    ));
                }
                if !names.insert(r.label()) {
                    return Err(self.invalid(
                        "smtp.relays.name",
                        format!(
                            "two relays are called `{}`; give each its own `name` (the ledger records it)",
                            r.label()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// True for `localhost` and loopback IP literals.
/// The host of `host[:port]`, `[v6]:port`, or a bare address (IPv6 too).
pub(crate) fn host_of(authority: &str) -> &str {
    let a = authority.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    if a.parse::<std::net::IpAddr>().is_ok() {
        return a;
    }
    a.rsplit_once(':').map_or(a, |(host, _)| host)
}

/// Whether `host` (no port) is a loopback address or `localhost`.
pub(crate) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An absolute http(s) address on one line, as far as config cares.
fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty()) && !s.contains(char::is_whitespace)
}
