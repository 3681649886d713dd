//! The web archive: every sent issue as a page, rendered for no reader in
//! particular.
//!
//! A page is made once and kept (`App::kept`): it is served from memory, with
//! a strong `ETag` and `Last-Modified` (a matching `If-None-Match` or
//! `If-Modified-Since` gets 304) and `Cache-Control: public`, like a static
//! file. At most once a second ([`RECHECK`]) a request checks it against the
//! issue's ledger record (one indexed lookup by number: never the recipients)
//! and the content folder's stamp, and makes it again if either changed; an
//! issue the cache does not hold is looked up at once, so a newly sent issue
//! appears with the first request for it.
//!
//! Owns the archive's routes, its list of issues, the note on top of an
//! archived issue and what is kept of them. It must not show anything
//! personal: a page is the same for every reader.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::app::{App, Brand, KeptLibrary, KeptPage, RECHECK};
use super::error::{PageError, WebError, answer, off_thread};
use super::pages::not_found_page;
use crate::config::Config;
use crate::content::{self, Library, Stamp, issue};
use crate::mail::view::View;
use crate::plan::{self, PlanError};
use crate::schedule::Slot;
use crate::store::{IssueRecord, Snapshot, StoreError};

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

    /// The content library, loaded again only when the content folder's
    /// stamp changed (looked at once per [`RECHECK`] at most). Blocking.
    pub(super) fn library(&self) -> Result<(Stamp, Arc<Library>), PlanError> {
        let mut kept = lock(&self.kept.library);
        let dir = &self.config.content.dir;
        if let Some(k) = kept.as_mut() {
            let current = k.checked.elapsed() < RECHECK;
            if !current && content::stamp(dir) == k.stamp {
                k.checked = Instant::now();
            }
            if current || k.checked.elapsed() < RECHECK {
                return Ok((k.stamp, k.library.clone()));
            }
        }
        // Stamped before loading: an edit during the load shows next time.
        let stamp = content::stamp(dir);
        let (library, _) = plan::load_content(&self.config)?;
        let library = Arc::new(library);
        *kept = Some(KeptLibrary {
            stamp,
            library: library.clone(),
            checked: Instant::now(),
        });
        Ok((stamp, library))
    }

    pub(super) fn archive_entries(
        &self,
        ledger: &Snapshot,
    ) -> Result<Vec<ArchiveEntry>, PageError> {
        self.entries(&ledger.issues()?)
    }

    /// The archive's entries for `issues` (oldest first), newest first.
    pub(super) fn entries(&self, issues: &[IssueRecord]) -> Result<Vec<ArchiveEntry>, PageError> {
        let library = self.library().ok().map(|(_, l)| l);
        let mut out = Vec::new();
        for record in issues.iter().rev() {
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
            out.push(ArchiveEntry {
                number: record.number,
                published,
                updated: updated(record, published),
                title: title.unwrap_or_else(|| {
                    format!("{} #{}", self.config.newsletter.name, record.number)
                }),
                date,
            });
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.number));
        Ok(out)
    }

    /// Issue `record` as a web page without personal data, from `library`.
    fn render_issue(&self, record: &IssueRecord, library: &Library) -> Result<String, PageError> {
        let slot = recorded_slot(&self.config, record.slot, record.number)?;
        let issue = issue::assemble(library, slot, record.selection.clone())?;
        let n = &self.config.newsletter;
        let mut view = View::new(&self.config, &issue, &n.greeting_fallback, "you", "");
        // The footer's link leads to a page explaining where the real one is.
        view.unsubscribe_url = format!("{}/unsubscribe", n.base_url.trim_end_matches('/'));
        let page = view.html()?;
        let page = in_head(&page, &feed_link(&n.base_url));
        Ok(after_body(&page, &ArchiveNav.render()?))
    }

    /// The kept page of issue `number`, if any.
    fn kept_page(&self, number: u32) -> Option<Arc<KeptPage>> {
        lock(&self.kept.pages).get(&number).cloned()
    }

    /// The page of `record`: `kept` if it was made from the same record and
    /// content, else made now and kept. Blocking.
    fn page_for(
        &self,
        record: &IssueRecord,
        kept: Option<Arc<KeptPage>>,
    ) -> Result<Arc<KeptPage>, PageError> {
        let (stamp, library) = self.library()?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let selection = &record.selection;
        (
            record.number,
            record.slot,
            &selection.comparisons,
            &selection.tip,
            stamp,
        )
            .hash(&mut h);
        let made_from = h.finish();
        if let Some(page) = kept.filter(|p| p.made_from == made_from) {
            return Ok(page);
        }
        let body = self.render_issue(record, &library)?;
        let content_time = stamp.newest.map(DateTime::<Utc>::from);
        let modified =
            updated(record, DateTime::<Utc>::MIN_UTC).max(content_time.unwrap_or_default());
        let page = Arc::new(KeptPage {
            made_from,
            etag: etag_of(body.as_bytes()),
            last_modified: http_date(modified),
            modified,
            body: Bytes::from(body),
            checked: Mutex::new(Instant::now()),
        });
        lock(&self.kept.pages).insert(record.number, page.clone());
        Ok(page)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// When `record` last changed: sent, else started, else assembled (`or` if none reads).
fn updated(record: &IssueRecord, or: DateTime<Utc>) -> DateTime<Utc> {
    [
        &record.finished_at,
        &record.started_at,
        &Some(record.assembled_at.clone()),
    ]
    .into_iter()
    .flatten()
    .find_map(|t| DateTime::parse_from_rfc3339(t).ok())
    .map_or(or, |t| t.to_utc())
}

/// A strong validator for `body`: a digest of its bytes, quoted.
fn etag_of(body: &[u8]) -> HeaderValue {
    let digest = hex::encode(Sha256::digest(body));
    HeaderValue::from_str(&format!("\"{}\"", &digest[..32]))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// `at` as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(at: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

/// Whether the client's copy is current: its `If-None-Match` names `etag`
/// (weak comparison, as RFC 9110 asks for it), or, without one, its
/// `If-Modified-Since` is not before `modified`.
fn not_modified(headers: &HeaderMap, etag: &HeaderValue, modified: DateTime<Utc>) -> bool {
    if let Some(tags) = headers.get(header::IF_NONE_MATCH) {
        let Ok(tags) = tags.to_str() else {
            return false;
        };
        let ours = etag.to_str().unwrap_or_default();
        return tags
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == ours);
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| modified.timestamp() <= since.timestamp())
}

/// A public page with validators: 304 when the client's copy is current.
fn validated(
    headers: &HeaderMap,
    content_type: &'static str,
    body: Bytes,
    etag: &HeaderValue,
    last_modified: &HeaderValue,
    modified: DateTime<Utc>,
) -> Response {
    let mut res = match not_modified(headers, etag, modified) {
        true => StatusCode::NOT_MODIFIED.into_response(),
        false => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, etag.clone());
    h.insert(header::LAST_MODIFIED, last_modified.clone());
    archive_headers(res)
}

/// A page made for this request, with validators from its bytes.
pub(super) fn validated_now(
    headers: &HeaderMap,
    content_type: &'static str,
    body: String,
    modified: DateTime<Utc>,
) -> Response {
    let etag = etag_of(body.as_bytes());
    validated(
        headers,
        content_type,
        Bytes::from(body),
        &etag,
        &http_date(modified),
        modified,
    )
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

/// The issues the ledger holds, oldest first: one small query, no recipients.
pub(super) async fn issues(
    app: &Arc<App>,
    what: &'static str,
) -> Result<Vec<IssueRecord>, WebError> {
    answer(app, what, "the archive".into(), app.store.issues().await)
}

const HTML: &str = "text/html; charset=utf-8";

pub(super) async fn archive(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let what = "show the archive";
    let records = issues(&app, what).await?;
    let issues = off_thread(&app, what, "the archive".into(), move |a| {
        a.entries(&records)
    })
    .await?;
    let modified = issues.iter().map(|e| e.updated).max().unwrap_or_default();
    let page = ArchivePage {
        brand: &app.brand,
        issues,
        feed_url: feed_url(&app.config.newsletter.base_url),
    };
    let body = answer(&app, what, "the archive".into(), page.render())?;
    Ok(validated_now(&headers, HTML, body, modified))
}

pub(super) async fn archived_issue(
    State(app): State<Arc<App>>,
    axum::extract::Path(number): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let Some(number) = (number.len() <= 9 && number.bytes().all(|b| b.is_ascii_digit()))
        .then(|| number.parse::<u32>().ok())
        .flatten()
    else {
        return Ok(not_found_page(&app));
    };
    let kept = app.kept_page(number);
    let page = match kept {
        Some(page) if page.recent() => page,
        kept => {
            let log = format!("archive issue #{number}");
            let what = "show this issue";
            let record = app.store.issue_by_number(number).await;
            let Some(record) = answer(&app, what, log.clone(), record)? else {
                lock(&app.kept.pages).remove(&number);
                return Ok(not_found_page(&app));
            };
            off_thread(&app, what, log, move |a| a.page_for(&record, kept)).await?
        }
    };
    Ok(validated(
        &headers,
        HTML,
        page.body.clone(),
        &page.etag,
        &page.last_modified,
        page.modified,
    ))
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
