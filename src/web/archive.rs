//! The web archive: every sent issue as a page, rendered for no reader in
//! particular.

//!
//! Owns the archive's routes, its list of issues and the note on top of an
//! archived issue. It must not show anything personal: a page is the same
//! for every reader.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::app::{App, Brand};
use super::error::{PageError, WebError, answer, off_thread};
use super::pages::{html, not_found_page};
use crate::config::Config;
use crate::content::issue;
use crate::mail::view::View;
use crate::plan;
use crate::schedule::Slot;
use crate::store::{Snapshot, StoreError};

#[derive(Debug)]
pub(super) struct ArchiveEntry {
    pub(super) number: u32,
    date: String,
    pub(super) title: String,
    /// When its slot was (the feed's `published`).
    pub(super) published: chrono::DateTime<chrono::Utc>,
    /// When it last changed: sent, else started, else assembled.
    pub(super) updated: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
impl ArchiveEntry {
    pub(super) fn for_test(number: u32, title: &str, at: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            number,
            date: String::new(),
            title: title.into(),
            published: at,
            updated: at,
        }
    }
}

#[derive(Template)]
#[template(path = "archive.html")]
pub(super) struct ArchivePage<'a> {
    brand: &'a Brand,
    issues: Vec<ArchiveEntry>,
    feed_url: String,
}

#[derive(Template)]
#[template(path = "archive_nav.html")]
pub(super) struct ArchiveNav;

/// The slot of a recorded issue: from the schedule, or (if the schedule changed
/// since) its date at midnight; the ledger's number wins either way.
pub(super) fn recorded_slot(
    config: &Config,
    day: chrono::NaiveDate,
    number: u32,
) -> Result<Slot, PageError> {
    let schedule = config.schedule()?;
    let slot = match schedule.slot_on(day) {
        Some(s) => s,
        None => {
            let utc = day.and_time(chrono::NaiveTime::MIN).and_utc();
            Slot {
                number,
                date: day,
                local: utc.with_timezone(&schedule.timezone()),
                utc,
            }
        }
    };
    Ok(Slot { number, ..slot })
}

impl App {
    /// What the ledger holds now (empty when nothing was ever stored).
    pub(super) async fn ledger(&self) -> Result<Snapshot, StoreError> {
        self.store.snapshot(None).await
    }

    pub(super) fn archive_entries(
        &self,
        ledger: &Snapshot,
    ) -> Result<Vec<ArchiveEntry>, PageError> {
        let library = plan::load_content(&self.config).ok().map(|(l, _)| l);
        let mut out = Vec::new();
        for record in ledger.issues()?.into_iter().rev() {
            let slot = recorded_slot(&self.config, record.slot, record.number)?;
            let date = slot.date.format("%B %-d, %Y").to_string();
            let published = slot.utc;
            // An issue whose content is gone is still listed, by number.
            let title = match &library {
                Some(lib) => issue::assemble(lib, slot, record.selection.clone())
                    .map(|i| i.subject(&self.config.newsletter.name))
                    .ok(),
                None => None,
            };
            let updated = [
                &record.finished_at,
                &record.started_at,
                &Some(record.assembled_at),
            ]
            .into_iter()
            .flatten()
            .find_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(published, |t| t.to_utc());
            out.push(ArchiveEntry {
                number: record.number,
                published,
                updated,
                title: title.unwrap_or_else(|| {
                    format!("{} #{}", self.config.newsletter.name, record.number)
                }),
                date,
            });
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.number));
        Ok(out)
    }

    /// Issue `number` as a web page without personal data; `None` if the
    /// ledger has no such issue.
    pub(super) fn archived(
        &self,
        ledger: &Snapshot,
        number: u32,
    ) -> Result<Option<String>, PageError> {
        let Some(record) = ledger.issue_by_number(number)? else {
            return Ok(None);
        };
        let slot = recorded_slot(&self.config, record.slot, record.number)?;
        let (library, _) = plan::load_content(&self.config)?;
        let issue = issue::assemble(&library, slot, record.selection)?;
        let n = &self.config.newsletter;
        let mut view = View::new(&self.config, &issue, &n.greeting_fallback, "you", "");
        // The footer's link leads to a page explaining where the real one is.
        view.unsubscribe_url = format!("{}/unsubscribe", n.base_url.trim_end_matches('/'));
        let page = view.html()?;
        let page = in_head(&page, &feed_link(&n.base_url));
        Ok(Some(after_body(&page, &ArchiveNav.render()?)))
    }
}

/// The `<link rel="alternate">` that points feed readers to the archive feed.
fn feed_link(base_url: &str) -> String {
    format!(
        "<link rel=\"alternate\" type=\"application/atom+xml\" href=\"{}\">",
        quick_xml::escape::escape(feed_url(base_url))
    )
}

/// `doc` with `fragment` inserted right before its `</head>` (or in front).
fn in_head(doc: &str, fragment: &str) -> String {
    let at = doc.find("</head>").unwrap_or(0);
    format!("{}{fragment}\n{}", &doc[..at], &doc[at..])
}

/// `doc` with `fragment` inserted right after its `<body …>` tag (or in front).
pub(super) fn after_body(doc: &str, fragment: &str) -> String {
    let at = doc
        .find("<body")
        .and_then(|i| doc[i..].find('>').map(|j| i + j + 1))
        .unwrap_or(0);
    let mut out = String::with_capacity(doc.len() + fragment.len() + 1);
    out.push_str(&doc[..at]);
    out.push('\n');
    out.push_str(fragment);
    out.push_str(&doc[at..]);
    out
}

pub(super) fn archive_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    res
}

pub(super) async fn archive(State(app): State<Arc<App>>) -> Result<Response, WebError> {
    let log = "the archive".to_string();
    let ledger = answer(&app, "show the archive", log.clone(), app.ledger().await)?;
    let issues = off_thread(&app, "show the archive", log, move |a| {
        a.archive_entries(&ledger)
    })
    .await?;
    Ok(archive_headers(html(
        &app,
        StatusCode::OK,
        &ArchivePage {
            brand: &app.brand,
            issues,
            feed_url: feed_url(&app.config.newsletter.base_url),
        },
    )))
}

pub(super) async fn archived_issue(
    State(app): State<Arc<App>>,
    axum::extract::Path(number): axum::extract::Path<String>,
) -> Result<Response, WebError> {
    let Some(number) = (number.len() <= 9 && number.bytes().all(|b| b.is_ascii_digit()))
        .then(|| number.parse::<u32>().ok())
        .flatten()
    else {
        return Ok(not_found_page(&app));
    };
    let log = format!("archive issue #{number}");
    let ledger = answer(&app, "show this issue", log.clone(), app.ledger().await)?;
    let page = off_thread(&app, "show this issue", log, move |a| {
        a.archived(&ledger, number)
    })
    .await?;
    Ok(match page {
        Some(page) => archive_headers((StatusCode::OK, Html(page)).into_response()),
        None => not_found_page(&app),
    })
}

/// The archive's Atom feed address under `base_url`, as its pages link it.
pub(super) fn feed_url(base_url: &str) -> String {
    format!("{}/issues/feed.xml", base_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::after_body;

    #[test]
    fn fragments_go_after_the_body_tag() {
        assert_eq!(
            after_body("<html><body style=\"x\"><p>", "N"),
            "<html><body style=\"x\">\nN<p>"
        );
        assert_eq!(after_body("<p>", "N"), "\nN<p>");
    }
}
