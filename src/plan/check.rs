//! What `tipsheet check` reports: config, content and the list as a send
//! would use them, the DKIM records to publish and their alignment, the
//! secret, and whether the next issue assembles and is short enough.
//!
//! Reads only and never stops at the first problem: everything found goes
//! into one [`CheckReport`].

use chrono::{DateTime, Utc};

use super::content::excerpt_rule;
use super::secrets::check_secret;
use super::slot::{choose, next_slot};
use super::store::{read_store, snapshot};
use crate::config::Config;
use crate::content;
use crate::diagnostic::Diagnostic;
use crate::mail::view::View;

/// What `check` found: every problem, and the DKIM record to publish.
#[derive(Debug, Default)]
pub(crate) struct CheckReport {
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
pub(crate) struct DkimRecord {
    /// `<selector>._domainkey.<domain>`.
    pub dns_name: String,
    /// The TXT record's value.
    pub dns_record: String,
}

/// Checks config, content and subscribers as a send would use them, and the
/// next issue's length. Reads only.
pub(crate) async fn check(config: &Config, now: DateTime<Utc>) -> CheckReport {
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
    diags.extend(check_secret(config));
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

/// DMARC's relaxed alignment (`adkim` is only known from DNS, so relaxed,
/// its default): the rule `check --dns` applies, so both say the same.
fn dkim_aligned(from_domain: &str, dkim_domain: &str) -> bool {
    super::dns::aligned(from_domain, dkim_domain, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dkim_aligns_as_check_dns_decides_it() {
        for (from, dkim, aligned) in [
            ("example.com", "example.com", true),
            ("news.example.com", "example.com", true),
            ("News.Example.com", "example.COM", true),
            ("a.b.example.com", "example.com", true),
            // RFC 7489 3.1.1: relaxed alignment compares organizational
            // domains, so a subdomain signer aligns with its parent's From.
            ("example.com", "news.example.com", true),
            ("badexample.com", "example.com", false),
            ("example.com.evil.net", "example.com", false),
            ("example.org", "example.com", false),
        ] {
            assert_eq!(dkim_aligned(from, dkim), aligned, "{from} / {dkim}");
        }
    }
}
