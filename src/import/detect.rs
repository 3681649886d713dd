//! Guessing an article's format from its file name, else from its first 4 KB.
//!
//! Owns only the guess; reading is the readers' job.

use std::path::Path;

use super::Format;

/// Guesses the format from the file extension, else from the content.
pub fn detect_format(path: Option<&Path>, text: &str) -> Format {
    if let Some(ext) = path.and_then(Path::extension).and_then(|e| e.to_str()) {
        match ext.to_ascii_lowercase().as_str() {
            "html" | "htm" | "xhtml" => return Format::Html,
            "md" | "markdown" | "mdown" | "mkd" | "txt" => return Format::Markdown,
            _ => {}
        }
    }
    let head: String = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .take(4096)
        .collect::<String>()
        .to_ascii_lowercase();
    if head.starts_with("+++") || head.starts_with("---") || head.starts_with('#') {
        return Format::Markdown;
    }
    if head.starts_with('<') {
        return Format::Html;
    }
    let tags = ["<p>", "<p ", "<h1", "<h2", "<body", "<article", "<div"];
    let markdown_headings = head
        .lines()
        .any(|l| l.starts_with("# ") || l.starts_with("## "));
    if !markdown_headings && tags.iter().any(|t| head.contains(t)) {
        Format::Html
    } else {
        Format::Markdown
    }
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
    }
}
