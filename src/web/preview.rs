//! The admin preview of the next issue (loopback or the admin token only).

//!
//! Owns who counts as the admin and the summary shown above the preview. It
//! must not write anything: a preview freezes nothing and sends nothing.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::app::App;
use super::archive::after_body;
use super::error::PageError;
use super::pages::{message, not_found_page};
use crate::mail::token::same_secret;
use crate::plan;
use crate::schedule::clock::Clock as _;

#[derive(Debug, Deserialize)]
pub(super) struct PreviewParams {
    to: Option<String>,
}

#[derive(Template)]
#[template(path = "preview_summary.html")]
pub(super) struct PreviewSummary {
    number: u32,
    date: String,
    frozen: bool,
    sends_at: String,
    subject: String,
    preheader: String,
    comparisons: Vec<(String, String)>,
    tip_title: String,
    tip_slug: String,
    minutes: usize,
    words: usize,
    max_minutes: u32,
    over: bool,
    active: usize,
    suppressed: usize,
    invalid: usize,
    duplicates: usize,
    rendered_for: String,
}

impl App {
    /// Loopback clients not behind a proxy, or the admin token. A request
    /// relayed by a reverse proxy on this host arrives from loopback too, so
    /// proxy headers take the loopback pass away.
    pub(super) fn admin(&self, headers: &HeaderMap) -> bool {
        // Without a configured token the admin pages are off, from loopback
        // too: a proxy's plain `proxy_pass` looks like loopback, and so does
        // a DNS-rebound page in the operator's own browser.
        let Some(expected) = &self.admin_token else {
            return false;
        };
        if !self.own_host(headers) {
            return false;
        }
        let given = super::app::bearer(headers);
        given.is_some_and(|g| same_secret(g, expected))
    }

    /// Whether the request's `Host` names this server: the host of
    /// `newsletter.base_url` or the address it listens on (a rebound DNS
    /// name does not).
    fn own_host(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let name = |h: &str| crate::config::host_of(h).to_ascii_lowercase();
        let base = self
            .config
            .newsletter
            .base_url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .map(name);
        let wanted = name(host);
        base.as_deref() == Some(wanted.as_str()) || name(&self.config.server.listen) == wanted
    }

    /// The next issue for a sample subscriber (`to`, else the first active one),
    /// with a summary above it.
    /// `None` when `to` is given and is not on the list: a preview renders
    /// a real unsubscribe link, so only for a reader who has one already.
    pub(super) async fn preview_page(&self, to: Option<&str>) -> Result<Option<String>, PageError> {
        let config = &self.config;
        let schedule = config.schedule()?;
        let (library, _) = plan::load_content(config)?;
        let p = plan::preview(
            config,
            &schedule,
            &library,
            None,
            to,
            &self.signer,
            self.clock.now(),
        )
        .await?;
        if to.is_some() && !p.sample.listed {
            return Ok(None);
        }
        let summary = PreviewSummary {
            number: p.issue.number(),
            date: p.issue.slot.date.to_string(),
            frozen: p.frozen,
            sends_at: p.sends_at(&schedule),
            subject: p.view.subject.clone(),
            preheader: p.view.preheader.clone(),
            comparisons: p
                .issue
                .comparisons
                .iter()
                .map(|c| (c.meta.title.clone(), c.slug().to_string()))
                .collect(),
            tip_title: p.issue.tip.meta.title.clone(),
            tip_slug: p.issue.tip.slug.clone(),
            minutes: p.view.reading_minutes,
            words: p.words,
            max_minutes: config.newsletter.max_reading_minutes,
            over: p.too_long(config),
            active: p.counts.active,
            suppressed: p.counts.suppressed,
            invalid: p.counts.invalid,
            duplicates: p.counts.duplicates,
            rendered_for: p.sample.email.clone(),
        }
        .render()?;
        Ok(Some(after_body(&p.view.html()?, &summary)))
    }
}

pub(super) async fn preview(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    params: Result<Query<PreviewParams>, QueryRejection>,
) -> Response {
    if !app.admin(&headers) {
        return not_found_page(&app);
    }
    let to = params
        .ok()
        .and_then(|Query(p)| p.to)
        .filter(|t| !t.trim().is_empty());
    match Some(app.preview_page(to.as_deref()).await) {
        Some(Ok(Some(page))) => (StatusCode::OK, Html(page)).into_response(),
        Some(Ok(None)) => not_found_page(&app),
        other => {
            let detail = match other {
                Some(Err(e)) => e.to_string(),
                _ => "the preview failed".into(),
            };
            app.note(format!("error: preview: {detail}"));
            // Only the admin gets here: show what is wrong.
            message(
                &app,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The preview failed",
                detail,
            )
        }
    }
}
