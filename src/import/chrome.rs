//! Page chrome in text, in every format: paragraphs and headings that are related
//! links, rating widgets, sign-up boxes, share links, cookie notices, bylines,
//! breadcrumbs, search boxes, copyright lines.
//!
//! Owns the text rules; element rules for HTML are in [`super::html_chrome`].

use chrono::NaiveDate;

use super::dates::{parse_date_prefix, published_line};
use super::doc::{Block, Kind, snippet};
use crate::content::SectionKind;

/// A paragraph that is page chrome; the kind, for the summary. Rules are narrow on
/// purpose: a prose sentence that happens to start with "By" or "Sign up" stays.
pub(super) fn chrome_text(text: &str) -> Option<&'static str> {
    let original = text.trim();
    let t = original.to_lowercase();
    let words = t.split_whitespace().count();
    if words == 0 || words > 80 {
        return None;
    }
    // "RelatedSupervising Producer vs. …": a related link glued to its title.
    let glued = original
        .strip_prefix("Related")
        .and_then(|r| r.chars().next())
        .is_some_and(char::is_uppercase);
    if glued {
        return Some("related link");
    }
    promo_chrome(&t, words).or_else(|| site_chrome(original, &t, words))
}

/// Related links, ratings, sign-up boxes, share links, cookie notices.
fn promo_chrome(t: &str, words: usize) -> Option<&'static str> {
    let starts = |ps: &[&str]| ps.iter().any(|p| t.starts_with(p));
    let has = |ps: &[&str]| ps.iter().any(|p| t.contains(p));
    if starts(&[
        "related:",
        "related articles",
        "related reading",
        "related posts",
        "related content",
        "related stories",
        "see also:",
        "read more:",
        "read next:",
        "read also:",
        "you may also like",
        "you might also like",
        "recommended for you",
        "recommended reading",
    ]) || (t.starts_with("more from ") && words <= 8)
    {
        return Some("related link");
    }
    if rating_counter(t.trim_end_matches(['.', ':'])) {
        return Some("rating widget");
    }
    if has(&[
        "rate this article",
        "rate this post",
        "rate this page",
        "was this article helpful",
        "was this helpful",
        "how helpful was",
    ]) || (t.chars().filter(|c| matches!(c, '★' | '☆')).count() >= 3)
    {
        return Some("rating widget");
    }
    let signup = has(&["sign up", "sign-up", "signup", "subscribe", "join"]);
    let mailing = has(&["newsletter", "inbox", "email updates", "mailing list"]);
    if (signup && mailing) || t.starts_with("get our newsletter") {
        return Some("newsletter sign-up");
    }
    if starts(&[
        "share this",
        "share on ",
        "share:",
        "share article",
        "share the article",
        "share via",
    ]) {
        return Some("share links");
    }
    if t.contains("cookie")
        && has(&[
            "we use",
            "this site uses",
            "this website uses",
            "accept",
            "consent",
            "our use of",
        ])
    {
        return Some("cookie notice");
    }
    None
}

/// Bylines, breadcrumbs, search boxes, copyright, navigation, "updated" lines.
fn site_chrome(original: &str, t: &str, words: usize) -> Option<&'static str> {
    let starts = |ps: &[&str]| ps.iter().any(|p| t.starts_with(p));
    let has = |ps: &[&str]| ps.iter().any(|p| t.contains(p));
    // "By Priya Natarajan", not "By contrast, …".
    let byline = t.starts_with("by ")
        && words <= 12
        && original
            .split_whitespace()
            .nth(1)
            .is_some_and(|w| w.starts_with(char::is_uppercase) && !w.ends_with(','));
    if byline
        || starts(&[
            "about the author",
            "written by ",
            "author:",
            "reviewed by ",
            "fact-checked by ",
            "edited by ",
        ])
    {
        return Some("author blurb");
    }
    if (t.starts_with("home ") || t.starts_with("home>") || t.starts_with("home/"))
        && has(&[" > ", " / ", " » ", " › ", ">", "»", "›", " | "])
        && words <= 15
    {
        return Some("breadcrumbs");
    }
    if t == "search"
        || starts(&[
            "search jobs",
            "search articles",
            "search this site",
            "search the site",
            "search our ",
            "search…",
            "search...",
        ]) && words <= 6
    {
        return Some("search box");
    }
    let year_after = |p: &str| {
        t.strip_prefix(p)
            .map(|r| r.trim_start_matches([' ', '©']))
            .is_some_and(|r| r.starts_with("19") || r.starts_with("20"))
    };
    if t.starts_with('©') || year_after("copyright") || t.contains("all rights reserved") {
        return Some("copyright line");
    }
    if matches!(
        t.trim_end_matches(['.', '…']),
        "menu" | "skip to content" | "skip to main content" | "advertisement" | "back to top"
    ) {
        return Some("navigation");
    }
    let updated = ["last updated", "updated"]
        .iter()
        .find_map(|p| t.strip_prefix(p));
    if let Some(rest) = updated {
        let rest = rest.trim_start_matches([':', ' ']);
        let rest = rest.strip_prefix("on ").unwrap_or(rest);
        if words <= 8 && parse_date_prefix(rest).is_some() {
            return Some("updated line");
        }
    }
    None
}

/// A heading that starts a chrome section (dropped with what follows it).
pub(super) fn chrome_heading(text: &str) -> Option<&'static str> {
    let t = text.trim().to_lowercase();
    let words = t.split_whitespace().count();
    let starts = |ps: &[&str]| ps.iter().any(|p| t.starts_with(p));
    if starts(&[
        "related",
        "you may also like",
        "you might also like",
        "more from",
        "read next",
        "recommended for you",
        "recommended reading",
        "recommended articles",
        "popular posts",
        "popular articles",
        "most read",
        "keep reading",
    ]) {
        Some("related links")
    } else if starts(&["about the author", "meet the author", "author bio"]) || t == "author" {
        Some("author blurb")
    } else if (t.starts_with("share this") || t == "share") && words <= 4 {
        Some("share links")
    } else if starts(&[
        "newsletter",
        "subscribe",
        "join our newsletter",
        "get career tips",
    ]) || (t.starts_with("sign up") && t.contains("newsletter"))
    {
        Some("newsletter sign-up")
    } else if starts(&["rate this", "was this article helpful", "how helpful"]) {
        Some("rating widget")
    } else if starts(&["leave a reply", "leave a comment", "join the conversation"])
        || (t.ends_with("comments") && words <= 3)
    {
        Some("comments")
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Titles.

/// Drops chrome blocks (reporting each in `dropped`, leaving a
/// [`Kind::Dropped`] marker where each was) and takes the date from a
/// "Published …" line when the reader found none. Returns the article's blocks and
/// the publication date with where it came from.
pub(super) fn drop_chrome(
    blocks: Vec<Block>,
    roles: &[&str],
    mut published: Option<(NaiveDate, &'static str)>,
    dropped: &mut Vec<String>,
) -> (Vec<Block>, Option<(NaiveDate, &'static str)>) {
    let mut kept: Vec<Block> = Vec::with_capacity(blocks.len());
    let mut skip_below: Option<u8> = None;
    for block in blocks {
        if let Kind::Heading(level) = block.kind {
            if skip_below.is_some_and(|l| level > l) {
                dropped.push(format!("heading {}", snippet(&block.text)));
                continue;
            }
            skip_below = None;
            if SectionKind::classify(&block.text, roles) == SectionKind::Other
                && let Some(kind) = chrome_heading(&block.text)
            {
                dropped.push(format!("{kind} section {}", snippet(&block.text)));
                skip_below = Some(level);
                kept.push(Block::dropped());
                continue;
            }
            kept.push(block);
            continue;
        }
        if skip_below.is_some() {
            continue;
        }
        if block.kind == Kind::Paragraph
            && let Some(date) = published_line(&block.text)
        {
            if published.is_none() {
                published = Some((date, "a \"Published\" line"));
            }
            dropped.push(format!("byline {}", snippet(&block.text)));
            continue;
        }
        if let Some(what) = chrome_block(&block) {
            dropped.push(what);
            kept.push(Block::dropped());
            continue;
        }
        kept.push(block);
    }
    (kept, published)
}

/// How the summary names a paragraph or list that is chrome, if it is.
fn chrome_block(block: &Block) -> Option<String> {
    let chrome = match block.kind {
        Kind::Paragraph | Kind::Other => chrome_text(&block.text),
        Kind::List if block.items.iter().all(|i| chrome_text(i).is_some()) => {
            block.items.first().and_then(|i| chrome_text(i))
        }
        _ => None,
    };
    if let Some(kind) = chrome {
        return Some(format!("{kind} {}", snippet(&block.text)));
    }
    if block.links_only {
        return Some(if block.kind == Kind::List {
            format!("list of {} links", block.items.len())
        } else {
            format!("link-only paragraph {}", snippet(&block.text))
        });
    }
    None
}

/// "0 / 5 reviews 0", "4.5/5", "12 reviews", "(3 votes)", "★★★★☆".
pub(super) fn rating_counter(t: &str) -> bool {
    let t = t.trim_matches(|c| c == '(' || c == ')');
    if !t.is_empty() && t.chars().all(|c| matches!(c, '★' | '☆' | ' ')) {
        return true;
    }
    let words: Vec<&str> = t
        .split_whitespace()
        .map(|w| w.trim_matches(['(', ')']))
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() || words.len() > 6 {
        return false;
    }
    let number = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || c == '.');
    let counter = |w: &str| {
        matches!(
            w,
            "/" | "review"
                | "reviews"
                | "rating"
                | "ratings"
                | "vote"
                | "votes"
                | "stars"
                | "out"
                | "of"
        )
    };
    let has_number = words.iter().any(|w| w.split('/').any(number));
    let has_counter = words
        .iter()
        .any(|w| counter(w) || (w.contains('/') && w.split('/').all(number)));
    has_number
        && has_counter
        && words
            .iter()
            .all(|w| counter(w) || w.split('/').all(|p| p.is_empty() || number(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrome_paragraphs_are_dropped_and_prose_is_kept() {
        let chrome = [
            ("Related: Head Chef vs. Executive Chef", "related link"),
            ("Rate this article ★★★★☆", "rating widget"),
            (
                "Sign up for our newsletter to get new comparisons.",
                "newsletter sign-up",
            ),
            (
                "Subscribe to get career tips in your inbox",
                "newsletter sign-up",
            ),
            ("Share this: Facebook · LinkedIn", "share links"),
            (
                "We use cookies to improve your experience. Accept",
                "cookie notice",
            ),
            ("By Priya Natarajan | 7 min read", "author blurb"),
            (
                "About the author: Tom trained as a solicitor.",
                "author blurb",
            ),
            ("Home > Career Advice > Healthcare", "breadcrumbs"),
            ("Search", "search box"),
            ("© 2026 Example Careers", "copyright line"),
            ("Copyright 2026 Careers Hub UK", "copyright line"),
            ("Skip to content", "navigation"),
            ("Last updated: March 1, 2026", "updated line"),
            ("0 / 5 reviews 0", "rating widget"),
            ("4.2/5 (87 votes)", "rating widget"),
            (
                "RelatedSupervising Producer vs. Executive Producer",
                "related link",
            ),
        ];
        for (text, kind) in chrome {
            assert_eq!(chrome_text(text), Some(kind), "{text}");
        }
        let prose = [
            "By contrast, assistant producers earn less.",
            "Copyright law is a common paralegal specialty.",
            "Sign up for a CPR course before you apply.",
            "Menu costing matters to a sous chef.",
            "Updated resumes get more callbacks.",
            "Searching for a first job takes time.",
            "Share your portfolio with recruiters early.",
            "Related fields include film and radio.",
            "5 reasons to become a nurse",
        ];
        for text in prose {
            assert_eq!(chrome_text(text), None, "{text}");
        }
        for (h, kind) in [
            ("Related Articles", Some("related links")),
            ("About the Author", Some("author blurb")),
            ("3 Comments", Some("comments")),
            ("Recommended Certifications", None),
            ("Authority and Autonomy", None),
            ("Share Your Story", None),
        ] {
            assert_eq!(chrome_heading(h), kind, "{h}");
        }
    }
}
