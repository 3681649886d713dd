//! Writing plain text (from HTML or a text paste) as Markdown that reads back as the
//! same text: escaping, code spans, link destinations.
//!
//! Owns escaping only; no reader state.

// Markdown escaping of plain text (HTML input).

/// Escapes characters that Markdown would read as markup.
pub(super) fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        match c {
            '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '~' | '#' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '&' if entity_like(&s[i..]) => out.push_str("\\&"),
            _ => out.push(c),
        }
    }
    out
}

/// `&name;` or `&#123;`, which Markdown would decode.
pub(super) fn entity_like(s: &str) -> bool {
    let rest = &s[1..];
    let body: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '#')
        .collect();
    !body.is_empty() && rest[body.len()..].starts_with(';')
}

/// Escapes what would start a list, quote, heading or break at the start of a line.
pub(super) fn escape_line_start(s: &str) -> String {
    let first = s.chars().next();
    if matches!(first, Some('-' | '+' | '=' | '#' | '>')) {
        return format!("\\{s}");
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && matches!(s.as_bytes().get(digits), Some(b'.' | b')')) {
        return format!("{}\\{}", &s[..digits], &s[digits..]);
    }
    s.to_string()
}

// ---------------------------------------------------------------------------
// HTML.

/// The length of the longest run of backticks in `code` (0 when none): a
/// fence one longer cannot be closed from inside.
pub(super) fn longest_backtick_run(code: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in code.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

pub(super) fn code_span(code: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(code) + 1);
    if code.starts_with('`') || code.ends_with('`') {
        format!("{fence} {code} {fence}")
    } else {
        format!("{fence}{code}{fence}")
    }
}

pub(super) fn link_destination(href: &str) -> String {
    let mut out = String::with_capacity(href.len());
    for c in href.trim().chars() {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            c if c.is_whitespace() || c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Links worth keeping: absolute web and mail addresses (relative ones would break).
pub(super) fn keep_link(href: &str) -> bool {
    let h = href.trim().to_ascii_lowercase();
    h.starts_with("https://") || h.starts_with("http://") || h.starts_with("mailto:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_text_is_escaped_for_markdown() {
        assert_eq!(
            escape_text("a*b_[c]<d> \\ `e` ~f #1"),
            "a\\*b\\_\\[c\\]\\<d\\> \\\\ \\`e\\` \\~f \\#1"
        );
        assert_eq!(escape_text("R&D &amp; more"), "R&D \\&amp; more");
        assert_eq!(escape_line_start("- not a list"), "\\- not a list");
        assert_eq!(escape_line_start("1986. A year"), "1986\\. A year");
        assert_eq!(escape_line_start("plain"), "plain");
    }
}
