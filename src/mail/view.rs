//! What the templates show: the issue's view, its askama templates and the
//! HTML (CSS inlined) and text they render.
//!
//! Owns the view and the templates. Must not encode, splice or build headers.

use askama::Template;

use crate::config::Config;
use crate::content::issue::Issue;
use crate::mail::token::Signer;

/// Errors rendering an issue.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template failed.
    #[error("template `{template}` failed: {source}")]
    Template {
        /// Which template.
        template: &'static str,
        /// askama's error.
        source: askama::Error,
    },
    /// CSS inlining failed.
    #[error("inlining the CSS of `issue.html` failed: {0}")]
    Css(String),
    /// A configured address is not valid.
    #[error("`{value}` is not a valid mailbox: {reason}")]
    Address {
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
}

/// Words per minute for the reading-time estimate.
pub(crate) const WORDS_PER_MINUTE: usize = 230;

/// One role's column in a comparison card.
#[derive(Debug, Clone)]
pub struct RoleView {
    /// Role name.
    pub name: String,
    /// "Role name:" padded with spaces so that both roles' salaries in the
    /// text part start in the same column.
    pub label: String,
    /// "$50,000–$150,000 a year".
    pub salary: Option<String>,
}

/// The roles of one comparison with their text labels padded to one width
/// (counted in characters: role names are words, not wide CJK text).
fn role_views(roles: &[crate::content::Role]) -> Vec<RoleView> {
    let width = roles
        .iter()
        .map(|r| r.name.chars().count() + 1)
        .max()
        .unwrap_or(0);
    roles
        .iter()
        .map(|r| {
            let label = format!("{}:", r.name);
            let pad = width + 2 - label.chars().count();
            RoleView {
                label: format!("{label}{:pad$}", ""),
                name: r.name.clone(),
                salary: r.salary.as_ref().map(ToString::to_string),
            }
        })
        .collect()
}

/// One featured comparison, ready for the templates.
#[derive(Debug, Clone)]
pub struct ComparisonView {
    /// Title.
    pub title: String,
    /// Excerpt as inline HTML.
    pub excerpt_html: String,
    /// Excerpt as text.
    pub excerpt_text: String,
    /// Both roles.
    pub roles: Vec<RoleView>,
    /// "Read the full comparison" link with utm parameters.
    pub link: Option<String>,
}

/// Everything the templates show.
#[derive(Debug, Clone)]
pub struct View {
    /// Newsletter name.
    pub newsletter: String,
    /// Issue number.
    pub number: u32,
    /// "December 1, 2026".
    pub date: String,
    /// Subject line.
    pub subject: String,
    /// Inbox preview text.
    pub preheader: String,
    /// Intro sentence.
    pub intro: String,
    /// Reader's name (or a stand-in).
    pub name: String,
    /// Reader's address (or a stand-in).
    pub email: String,
    /// Featured comparisons.
    pub comparisons: Vec<ComparisonView>,
    /// Tip title.
    pub tip_title: String,
    /// Tip body, HTML.
    pub tip_html: String,
    /// Tip body, text.
    pub tip_text: String,
    /// Who signs the tip.
    pub coach: String,
    /// Why the reader gets this.
    pub why: String,
    /// Sender's postal line.
    pub postal: String,
    /// `<base_url>/issues/<N>`.
    pub view_url: String,
    /// Unsubscribe link (or a stand-in).
    pub unsubscribe_url: String,
    /// `<base_url>/privacy`: "Manage your data" (the unsubscribe link opens no data).
    pub privacy_url: String,
    /// Estimated minutes to read.
    pub reading_minutes: usize,
}

#[derive(Template)]
#[template(path = "issue.html")]
pub(super) struct HtmlTemplate<'a> {
    pub(super) v: &'a View,
}

#[derive(Template)]
#[template(path = "issue.txt")]
pub(super) struct TextTemplate<'a> {
    pub(super) v: &'a View,
}

// askama templates read fields directly; expose the view's fields by deref.
impl std::ops::Deref for HtmlTemplate<'_> {
    type Target = View;
    fn deref(&self) -> &View {
        self.v
    }
}
impl std::ops::Deref for TextTemplate<'_> {
    type Target = View;
    fn deref(&self) -> &View {
        self.v
    }
}

impl View {
    /// The view of `issue` with the given personal values.
    pub(crate) fn new(
        config: &Config,
        issue: &Issue<'_>,
        name: &str,
        email: &str,
        unsubscribe_url: &str,
    ) -> Self {
        let n = &config.newsletter;
        let comparisons = issue
            .comparisons
            .iter()
            .map(|c| ComparisonView {
                title: c.meta.title.clone(),
                excerpt_html: strip_p(&c.excerpt.html),
                excerpt_text: c.excerpt.text.clone(),
                roles: role_views(&c.meta.roles),
                link: issue.article_link(c),
            })
            .collect();
        let mut view = View {
            newsletter: n.name.clone(),
            number: issue.number(),
            date: issue.slot.date.format("%B %-d, %Y").to_string(),
            subject: issue.subject(&n.name),
            preheader: issue.preheader(),
            intro: format!(
                "This issue compares {} pairs of roles people often mix up: what each one does, what it takes, and what it pays.",
                issue.comparisons.len()
            ),
            name: name.to_string(),
            email: email.to_string(),
            comparisons,
            tip_title: issue.tip.meta.title.clone(),
            tip_html: issue.tip.html.clone(),
            tip_text: issue.tip.text.clone(),
            coach: n.coach.clone(),
            why: n.why.clone(),
            postal: n.postal.clone(),
            view_url: format!(
                "{}/issues/{}",
                n.base_url.trim_end_matches('/'),
                issue.number()
            ),
            unsubscribe_url: unsubscribe_url.to_string(),
            privacy_url: format!("{}/privacy", n.base_url.trim_end_matches('/')),
            reading_minutes: 1,
        };
        // Reading time from the text the reader actually gets.
        if let Ok(text) = (TextTemplate { v: &view }).render() {
            view.reading_minutes = text
                .split_whitespace()
                .count()
                .div_ceil(WORDS_PER_MINUTE)
                .max(1);
        }
        view
    }

    /// The HTML part, CSS inlined.
    pub fn html(&self) -> Result<String, RenderError> {
        let html = HtmlTemplate { v: self }
            .render()
            .map_err(|source| RenderError::Template {
                template: "issue.html",
                source,
            })?;
        css_inline::CSSInliner::options()
            .keep_at_rules(true)
            .build()
            .inline(&html)
            .map_err(|e| RenderError::Css(e.to_string()))
    }

    /// The text part.
    pub fn text(&self) -> Result<String, RenderError> {
        TextTemplate { v: self }
            .render()
            .map_err(|source| RenderError::Template {
                template: "issue.txt",
                source,
            })
            .map(|t| tidy_text(&t))
    }
}

fn strip_p(html: &str) -> String {
    let t = html.trim();
    t.strip_prefix("<p>")
        .and_then(|t| t.strip_suffix("</p>"))
        .unwrap_or(t)
        .to_string()
}

/// Trims trailing spaces and collapses runs of blank lines left by template tags.
fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string() + "\n"
}

/// Renders one issue for one reader without any encoding: for previews and the archive.
pub fn personal_view(
    config: &Config,
    issue: &Issue<'_>,
    signer: &Signer,
    name: &str,
    email: &str,
    key: &str,
) -> View {
    let name = if name.is_empty() {
        config.newsletter.greeting_fallback.as_str()
    } else {
        name
    };
    let url = signer.unsubscribe_url(&config.newsletter.base_url, key);
    View::new(config, issue, name, email, &url)
}
