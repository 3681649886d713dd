//! Excerpts (whole sentences up to a word budget) and Markdown to the
//! email's HTML and text, with unsafe links dropped.

use pulldown_cmark::{CowStr, Event, Tag, TagEnd};

use super::model::Excerpt;
use super::sections::parser;

pub(super) const ABBREVIATIONS: &[&str] = &[
    "e.g.", "i.e.", "vs.", "mr.", "mrs.", "ms.", "dr.", "st.", "u.s.", "jr.", "sr.", "inc.",
    "approx.", "no.", "etc.)",
];

/// Byte offsets in `text` just after each sentence end.
pub(crate) fn sentence_ends(text: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        // Swallow closing quotes and brackets.
        let mut j = k + 1;
        while j < chars.len() && matches!(chars[j].1, '"' | '\'' | '”' | '’' | ')') {
            j += 1;
        }
        let at_end = j >= chars.len();
        if !at_end && !chars[j].1.is_whitespace() {
            continue;
        }
        let end = if at_end { text.len() } else { chars[j].0 };
        // After the whitespace char, which may be wider than a byte (NBSP, U+2029).
        let word_start = text[..i]
            .char_indices()
            .rfind(|(_, c)| c.is_whitespace())
            .map_or(0, |(p, c)| p + c.len_utf8());
        let word = text[word_start..=i].to_lowercase();
        if c == '.' && !at_end {
            let initial = word.chars().filter(|c| c.is_alphabetic()).count() == 1;
            if initial || ABBREVIATIONS.contains(&word.as_str()) {
                continue;
            }
        }
        ends.push(end);
    }
    ends
}

/// The lead paragraph of `markdown`, cut at a sentence boundary to at most `max_words`.
pub fn excerpt(markdown: &str, max_words: usize) -> Option<Excerpt> {
    // The first top-level paragraph's inline events.
    let mut events: Vec<Event<'_>> = Vec::new();
    let mut depth = 0usize;
    let mut inside = false;
    for event in parser(markdown) {
        match &event {
            Event::Start(Tag::Paragraph) if depth == 0 => inside = true,
            Event::End(TagEnd::Paragraph) if inside => break,
            Event::Start(_) if !inside => depth += 1,
            Event::End(_) if !inside => depth = depth.saturating_sub(1),
            Event::Html(h) | Event::InlineHtml(h) if inside => events.push(Event::Text(h.clone())),
            _ if inside => events.push(event),
            _ => {}
        }
    }
    // The plain text, and where each event's text sits in it.
    let mut plain = String::new();
    for e in &events {
        match e {
            Event::Text(t) | Event::Code(t) => plain.push_str(t),
            Event::SoftBreak | Event::HardBreak => plain.push(' '),
            _ => {}
        }
    }
    let total = plain.split_whitespace().count();
    if total == 0 {
        return None;
    }
    let words_before = |end: usize| plain[..end].split_whitespace().count();
    let (cut, ellipsis) = if total <= max_words {
        (plain.len(), false)
    } else if let Some(&end) = sentence_ends(&plain)
        .iter()
        .rev()
        .find(|&&e| words_before(e) <= max_words)
    {
        (end, false)
    } else {
        // One sentence longer than the limit: cut at the word limit.
        let end = plain
            .split_whitespace()
            .nth(max_words)
            .and_then(|w| {
                let p = w.as_ptr() as usize - plain.as_ptr() as usize;
                plain[..p]
                    .rfind(|c: char| !c.is_whitespace())
                    .map(|q| q + plain[q..].chars().next().map_or(1, char::len_utf8))
            })
            .unwrap_or(plain.len());
        (end, true)
    };
    // Replay the events up to `cut`, closing whatever is open.
    let mut kept: Vec<Event<'_>> = Vec::new();
    let mut open: Vec<Tag<'_>> = Vec::new();
    let mut pos = 0usize;
    for e in events {
        if pos >= cut {
            break;
        }
        match e {
            Event::Text(t) => {
                let take = (cut - pos).min(t.len());
                let piece = t.get(..take).unwrap_or(&t).to_string();
                pos += t.len();
                kept.push(Event::Text(CowStr::from(piece)));
            }
            Event::Code(t) => {
                pos += t.len();
                kept.push(Event::Code(t));
            }
            Event::SoftBreak | Event::HardBreak => {
                pos += 1;
                kept.push(Event::Text(" ".into()));
            }
            Event::Start(tag) => {
                open.push(tag.clone());
                kept.push(Event::Start(tag));
            }
            Event::End(end) => {
                open.pop();
                kept.push(Event::End(end));
            }
            other => kept.push(other),
        }
    }
    while let Some(tag) = open.pop() {
        kept.push(Event::End(tag.to_end()));
    }
    if ellipsis {
        kept.push(Event::Text("…".into()));
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, kept.into_iter().map(safe_link));
    let mut text = plain[..cut]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if ellipsis {
        text.push('…');
    }
    let words = text.split_whitespace().count();
    Some(Excerpt {
        text,
        html: html.trim().to_string(),
        words,
    })
}

/// A link or image to a `javascript:`, `data:` or other non-web address (an
/// imported article may carry one) gets an empty address; its text stays.
pub(super) fn safe_link(event: Event<'_>) -> Event<'_> {
    let safe = |url: &str| match url.split_once(':') {
        // No scheme (relative), or the colon is in a path, query or fragment.
        None => true,
        Some((scheme, _)) if scheme.contains(['/', '?', '#']) => true,
        Some((scheme, _)) => ["http", "https", "mailto"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s)),
    };
    match event {
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe(&dest_url) => Event::Start(Tag::Link {
            link_type,
            dest_url: CowStr::Borrowed(""),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe(&dest_url) => Event::Start(Tag::Image {
            link_type,
            dest_url: CowStr::Borrowed(""),
            title,
            id,
        }),
        other => other,
    }
}

/// Renders Markdown to HTML (raw HTML in the source is escaped, never passed
/// through; links only to web and mail addresses).
pub fn markdown_to_html(markdown: &str) -> String {
    let events = parser(markdown).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        other => safe_link(other),
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// Renders Markdown to readable plain text: paragraphs, `- ` bullets, links as `text (url)`.
pub fn markdown_to_text(markdown: &str) -> String {
    let mut out = String::new();
    let mut links: Vec<String> = Vec::new();
    let mut lists: Vec<Option<u64>> = Vec::new();
    for event in parser(markdown) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                out.push_str(&t)
            }
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::Start(Tag::List(first)) => lists.push(first),
            Event::End(TagEnd::List(_)) => {
                lists.pop();
                if lists.is_empty() {
                    out.push('\n');
                }
            }
            Event::Start(Tag::Item) => {
                let indent = "  ".repeat(lists.len().saturating_sub(1));
                match lists.last_mut() {
                    Some(Some(n)) => {
                        out.push_str(&format!("{indent}{n}. "));
                        *n += 1;
                    }
                    _ => out.push_str(&format!("{indent}- ")),
                }
            }
            Event::End(TagEnd::Item) if !out.ends_with('\n') => {
                out.push('\n');
            }
            Event::Start(Tag::Link { dest_url, .. }) => links.push(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = links.pop() {
                    out.push_str(&format!(" ({url})"));
                }
            }
            Event::End(TagEnd::Paragraph) | Event::End(TagEnd::Heading(_)) => {
                if lists.is_empty() {
                    out.push_str("\n\n");
                } else {
                    out.push('\n');
                }
            }
            _ => {}
        }
    }
    let mut text = out.trim().to_string();
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text
}
