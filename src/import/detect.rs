//! Guessing an article's format from its file name, else from its first 4 KB.
//!
//! Owns only the guess; reading is the readers' job.

use std::path::Path;

use super::model::Format;

/// Guesses the format from the file extension, else from the content. Text
/// with no markup at all is plain text (a page copied from the browser); a `.txt`
/// file is plain text unless it is Markdown by its look (front matter, `#`
/// headings).
pub(crate) fn detect_format(path: Option<&Path>, text: &str) -> Format {
    let ext = path
        .and_then(Path::extension)
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm" | "xhtml") => return Format::Html,
        Some("md" | "markdown" | "mdown" | "mkd") => return Format::Markdown,
        _ => {}
    }
    let head: String = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .take(4096)
        .collect::<String>()
        .to_ascii_lowercase();
    let markdown_headings = head
        .lines()
        .any(|l| l.starts_with("# ") || l.starts_with("## "));
    let front_matter = head.starts_with("+++") || head.starts_with("---");
    if front_matter || head.starts_with('#') {
        return Format::Markdown;
    }
    if ext.as_deref() == Some("txt") {
        return if markdown_headings {
            Format::Markdown
        } else {
            Format::Text
        };
    }
    if head.starts_with('<') {
        return Format::Html;
    }
    let tags = ["<p>", "<p ", "<h1", "<h2", "<body", "<article", "<div"];
    if markdown_headings {
        return Format::Markdown;
    }
    if tags.iter().any(|t| head.contains(t)) {
        return Format::Html;
    }
    if markdown_markup(&head) {
        Format::Markdown
    } else {
        Format::Text
    }
}

/// Emphasis, links, lists, quotes, code fences or setext underlines.
fn markdown_markup(head: &str) -> bool {
    ["**", "__", "](", "```"].iter().any(|m| head.contains(m))
        || head.lines().any(|l| {
            let t = l.trim_end();
            t.starts_with("- ")
                || t.starts_with("* ")
                || t.starts_with("> ")
                || (t.len() >= 3 && (t.bytes().all(|b| b == b'=') || t.bytes().all(|b| b == b'-')))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected() {
        let md = Some(Path::new("a.md"));
        let html = Some(Path::new("a.HTML"));
        assert_eq!(detect_format(md, "<p>x</p>"), Format::Markdown);
        assert_eq!(detect_format(html, "# x"), Format::Html);
        assert_eq!(detect_format(None, "<!DOCTYPE html><p>x"), Format::Html);
        assert_eq!(detect_format(None, "  <article><h1>x"), Format::Html);
        assert_eq!(
            detect_format(None, "# Title\n\n<div>x</div>"),
            Format::Markdown
        );
        assert_eq!(
            detect_format(None, "+++\ntitle = 'x'\n+++\n"),
            Format::Markdown
        );
        assert_eq!(detect_format(None, "Intro\n\n<p>para</p>"), Format::Html);
        let txt = Some(Path::new("a.txt"));
        let paste = "Home\nNurse vs. Doctor\nNurses care. Doctors diagnose.\n";
        assert_eq!(detect_format(txt, paste), Format::Text);
        assert_eq!(detect_format(txt, "<p>x</p>"), Format::Text);
        assert_eq!(detect_format(txt, "# Nurse vs. Doctor\n"), Format::Markdown);
        assert_eq!(detect_format(None, paste), Format::Text);
        assert_eq!(
            detect_format(None, "Intro with **bold**\n"),
            Format::Markdown
        );
        assert_eq!(detect_format(None, "Title\n=====\n"), Format::Markdown);
    }
}
