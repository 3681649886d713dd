//! Reading plain text: an article as a browser's select-all copy of its page. No
//! markup survives, so structure comes from the lines themselves: the first short
//! line naming two roles is the title; a short line that is not a sentence, before
//! prose, is a heading; runs of short lines or bulleted lines are lists; the rest
//! are paragraphs. Widget labels the copy picks up ("Expand", "Close this search
//! box.", "0 / 5 reviews 0") are dropped here and reported.
//!
//! Owns the text reader only; chrome paragraphs, titles and sections are judged
//! later, as for the other formats.

use super::chrome::{chrome_text, rating_counter};
use super::dates::published_line;
use super::doc::{Block, Doc, Kind, collapse, snippet};
use super::escape::{escape_line_start, escape_text};
use super::salaries::find_salary_ranges;
use super::title::parse_title;
use crate::content::SectionKind;

/// One non-empty line of the copy.
struct Line {
    text: String,
    /// A blank line came before it.
    after_blank: bool,
    /// Phrase-rule chrome (a byline, a related link): read as a paragraph so the
    /// chrome rules drop and name it, and ignored when judging its neighbours.
    chrome: bool,
    /// "• item", "- item", "1. item": the item's text, without its marker.
    bullet: Option<String>,
}

impl Line {
    /// Short and not a sentence: a heading or a list item.
    fn short(&self) -> bool {
        let t = self.text.as_str();
        let words = t.split_whitespace().count();
        words <= 12
            && t.chars().count() <= 100
            && !t.ends_with(['.', ',', ';', ':', '!', '"', '”'])
            && t.chars()
                .next()
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
            && find_salary_ranges(t).is_empty()
    }
}

pub(super) fn read_text(text: &str) -> Doc {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut doc = Doc::default();
    let mut lines: Vec<Line> = Vec::new();
    let mut blank = true;
    for raw in text.lines() {
        let t = collapse(&raw.replace('\u{a0}', " "));
        if t.is_empty() {
            blank = true;
            continue;
        }
        if let Some(kind) = widget(&t) {
            doc.dropped.push(format!("{kind} {}", snippet(&t)));
            blank = true;
            continue;
        }
        lines.push(Line {
            chrome: chrome_text(&t).is_some() || published_line(&t).is_some(),
            bullet: bullet(&t),
            after_blank: blank,
            text: t,
        });
        blank = false;
    }
    let title_at = lines.iter().position(|l| {
        !l.chrome && l.text.split_whitespace().count() <= 15 && parse_title(&l.text).is_some()
    });
    let roles = title_at
        .and_then(|i| parse_title(&lines[i].text))
        .unwrap_or_default();
    let roles = [roles.0.as_str(), roles.1.as_str()];
    let mut list: Vec<String> = Vec::new();
    let mut seen: Vec<SectionKind> = Vec::new();
    for i in 0..lines.len() {
        let line = &lines[i];
        let kind = if Some(i) == title_at {
            Kind::Heading(1)
        } else if line.chrome || title_at.is_some_and(|t| i < t) {
            // What precedes the title is the page's masthead, dropped with it.
            Kind::Paragraph
        } else if line.bullet.is_some() {
            Kind::List
        } else if is_heading(&lines, i, &roles, &mut seen) {
            Kind::Heading(2)
        } else if line.short() && (next_is_short(&lines, i) || !list.is_empty()) {
            Kind::List
        } else {
            Kind::Paragraph
        };
        if kind != Kind::List {
            end_list(&mut list, &mut doc.blocks);
        }
        match kind {
            Kind::List => list.push(line.bullet.clone().unwrap_or_else(|| line.text.clone())),
            Kind::Heading(level) => doc.blocks.push(Block::heading(level, &line.text)),
            _ => doc.blocks.push(Block {
                kind: Kind::Paragraph,
                md: escape_line_start(&escape_text(&line.text)),
                text: line.text.clone(),
                items: Vec::new(),
                links_only: false,
            }),
        }
    }
    end_list(&mut list, &mut doc.blocks);
    doc
}

/// The neighbours of line `i` that are not chrome.
fn neighbours(lines: &[Line], i: usize) -> (Option<&Line>, Option<&Line>) {
    let prev = lines[..i].iter().rev().find(|l| !l.chrome);
    let next = lines
        .get(i + 1..)
        .and_then(|r| r.iter().find(|l| !l.chrome));
    (prev, next)
}

fn next_is_short(lines: &[Line], i: usize) -> bool {
    neighbours(lines, i)
        .1
        .is_some_and(|n| n.short() || n.bullet.is_some())
}

/// A heading: short, and either the first heading of a section kind the content
/// format knows ("Job Duties", "What is a Sous Chef?", kinds noted in `seen`) or
/// a short line standing between prose (or after a blank line) and the prose it
/// introduces. A second "Salary …" line is more likely a related link's title.
fn is_heading(lines: &[Line], i: usize, roles: &[&str], seen: &mut Vec<SectionKind>) -> bool {
    let line = &lines[i];
    if !line.short() {
        return false;
    }
    let (prev, next) = neighbours(lines, i);
    let Some(next) = next else {
        return false;
    };
    let kind = SectionKind::classify(&line.text, roles);
    if kind != SectionKind::Other && !seen.contains(&kind) {
        seen.push(kind);
        return true;
    }
    let next_prose = !next.short() && next.bullet.is_none();
    let prev_open = match prev {
        None => true,
        Some(p) => !p.text.ends_with(':') && (!p.short() || line.after_blank),
    };
    next_prose && prev_open
}

fn end_list(items: &mut Vec<String>, blocks: &mut Vec<Block>) {
    if items.is_empty() {
        return;
    }
    let items = std::mem::take(items);
    let md = items
        .iter()
        .map(|i| format!("- {}", escape_line_start(&escape_text(i))))
        .collect::<Vec<_>>()
        .join("\n");
    blocks.push(Block {
        kind: Kind::List,
        md,
        text: items.join("\n"),
        items,
        links_only: false,
    });
}

/// "• item", "- item", "* item", "1. item", "1) item": the item.
fn bullet(t: &str) -> Option<String> {
    for m in ["• ", "- ", "* ", "· ", "– ", "▪ ", "◦ "] {
        if let Some(rest) = t.strip_prefix(m) {
            return Some(rest.trim().to_string()).filter(|r| !r.is_empty());
        }
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=2).contains(&digits) {
        let rest = &t[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(r.trim().to_string()).filter(|r| !r.is_empty());
        }
    }
    None
}

/// Labels of page widgets that a copy of the page picks up as lines of their own.
fn widget(t: &str) -> Option<&'static str> {
    let l = t.to_lowercase();
    let bare = l.trim_end_matches(['.', '…', ':', ' ']);
    const LABELS: &[&str] = &[
        "expand",
        "collapse",
        "expand all",
        "collapse all",
        "show more",
        "show less",
        "close",
        "close this search box",
        "close menu",
        "open menu",
        "toggle navigation",
        "toggle menu",
        "menu",
        "search for",
        "submit",
        "cancel",
        "print",
        "print this page",
        "copy link",
        "email address",
        "your email",
        "your email address",
        "enter your email",
        "first name",
        "loading",
        "×",
        "✕",
        "x",
        "previous",
        "next",
        "reply",
        "yes",
        "no",
    ];
    if LABELS.contains(&bare) {
        return Some("widget");
    }
    if rating_counter(bare) {
        return Some("rating widget");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widget_labels_and_rating_counters_are_recognized() {
        for t in [
            "Expand",
            "Close this search box.",
            "0 / 5 reviews 0",
            "4.5/5",
            "12 reviews",
            "(3 votes)",
            "★★★★☆",
            "Email address",
        ] {
            assert!(widget(t).is_some(), "{t}");
        }
        for t in [
            "Expanding a kitchen takes years.",
            "5 reasons to become a nurse",
            "2026",
            "Search engine marketing",
        ] {
            assert_eq!(widget(t), None, "{t}");
        }
    }

    #[test]
    fn lines_become_headings_lists_and_paragraphs() {
        let text = "Home\nJobs\nNurse vs. Doctor\nBy Ana Ruiz\n\
            Nurses and doctors work side by side in hospitals every day.\n\
            Job Duties\nExpand\nNurses care for patients around the clock.\n\
            Key skills include:\nEmpathy\nStamina\n• Record keeping\n\
            Training\nDoctors study for many years before they practise.\n";
        let doc = read_text(text);
        let got: Vec<(Kind, &str)> = doc
            .blocks
            .iter()
            .map(|b| (b.kind, b.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Kind::Paragraph, "Home"),
                (Kind::Paragraph, "Jobs"),
                (Kind::Heading(1), "Nurse vs. Doctor"),
                (Kind::Paragraph, "By Ana Ruiz"),
                (
                    Kind::Paragraph,
                    "Nurses and doctors work side by side in hospitals every day."
                ),
                (Kind::Heading(2), "Job Duties"),
                (
                    Kind::Paragraph,
                    "Nurses care for patients around the clock."
                ),
                (Kind::Paragraph, "Key skills include:"),
                (Kind::List, "Empathy\nStamina\nRecord keeping"),
                (Kind::Heading(2), "Training"),
                (
                    Kind::Paragraph,
                    "Doctors study for many years before they practise."
                ),
            ]
        );
        assert_eq!(doc.dropped, ["widget \"Expand\""]);
    }

    #[test]
    fn a_second_heading_of_a_known_kind_needs_prose_after_it() {
        let text = "Cook vs. Chef\nSalary\nCooks earn $15 to $20 per hour.\n\
            Related articles\nRestaurant Manager Salary Guide\nPastry Chef Pay in 2026\n";
        let doc = read_text(text);
        let kinds: Vec<Kind> = doc.blocks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::Heading(1),
                Kind::Heading(2),
                Kind::Paragraph,
                Kind::Paragraph,
                Kind::List
            ]
        );
    }
}
