//! The document every reader produces: a flat list of blocks (headings, paragraphs,
//! lists, other) with their Markdown and plain text, plus what the reader found on
//! the side (titles, a date, front-matter roles, chrome it dropped).
//!
//! Owns the shape only; it knows no input format and no chrome rules.

use chrono::NaiveDate;

use crate::content::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Heading(u8),
    Paragraph,
    List,
    /// Quotes, code: kept, never chrome-checked by paragraph rules.
    Other,
    /// Where chrome was dropped (already reported): never written, but it marks
    /// where the article may have ended.
    Dropped,
}

#[derive(Debug, Clone)]
pub(super) struct Block {
    pub(super) kind: Kind,
    /// The Markdown written for it (headings are re-rendered from `text`).
    pub(super) md: String,
    /// Its plain text, whitespace collapsed.
    pub(super) text: String,
    /// Plain text of each list item (lists only).
    pub(super) items: Vec<String>,
    /// Nothing but links or images (every item, for lists).
    pub(super) links_only: bool,
}

impl Block {
    /// A marker where a reader or a chrome rule dropped something.
    pub(super) fn dropped() -> Self {
        Block {
            kind: Kind::Dropped,
            md: String::new(),
            text: String::new(),
            items: Vec::new(),
            links_only: false,
        }
    }

    pub(super) fn heading(level: u8, text: &str) -> Self {
        Block {
            kind: Kind::Heading(level),
            md: String::new(),
            text: collapse(text),
            items: Vec::new(),
            links_only: false,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Doc {
    /// `title` from front matter.
    pub(super) front_title: Option<String>,
    /// HTML: the first `<h1>` outside chrome, `og:title`, `<title>`.
    pub(super) page_titles: Vec<String>,
    /// A stated publication date and where it came from.
    pub(super) published: Option<(NaiveDate, &'static str)>,
    /// Roles from `+++` front matter (their salaries are a fallback).
    pub(super) front_roles: Vec<Role>,
    pub(super) blocks: Vec<Block>,
    pub(super) dropped: Vec<String>,
}

pub(super) fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The level of the outermost headings in `blocks` (the smallest number),
/// `None` when there are none: the level the article's sections sit at.
pub(super) fn section_level(blocks: &[Block]) -> Option<u8> {
    blocks
        .iter()
        .filter_map(|b| match b.kind {
            Kind::Heading(l) => Some(l),
            _ => None,
        })
        .min()
}

/// A short quote of `text` for the summary.
pub(super) fn snippet(text: &str) -> String {
    let t = collapse(text);
    let mut out: String = t.chars().take(60).collect();
    if t.chars().count() > 60 {
        out.push('…');
    }
    format!("\"{out}\"")
}

// ---------------------------------------------------------------------------
// Markdown.
