//! HTML escaping of the personal values spliced into a rendered issue.
//!
//! Owns matching the HTML serializer's escaping byte for byte, so a spliced
//! message is what rendering per reader would give. Must not know templates,
//! MIME or headers.

use std::borrow::Cow;

/// HTML-escapes a personal value for text content exactly as the HTML
/// serializer writes rendered text (`&amp;`, `&lt;`, `&gt;`, `&nbsp;`), so a
/// spliced message is byte-for-byte what rendering per reader would give.
pub(crate) fn escape_html(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// The same for an attribute value (also escapes `"`).
pub(crate) fn escape_attribute(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> Cow<'_, str> {
    let special = |c: char| match c {
        '&' | '\u{a0}' => true,
        '<' | '>' => !attribute,
        '"' => attribute,
        _ => false,
    };
    if !s.contains(special) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut last = 0;
    for (i, c) in s.match_indices(special) {
        out.push_str(&s[last..i]);
        out.push_str(match c {
            "&" => "&amp;",
            "\u{a0}" => "&nbsp;",
            "<" => "&lt;",
            ">" => "&gt;",
            _ => "&quot;",
        });
        last = i + c.len();
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}
