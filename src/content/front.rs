//! Front matter: splitting off the `+++` block and reading it into a typed
//! struct, with the line of each key for messages.

use std::path::Path;

use serde::Deserialize;

use crate::diagnostic::Diagnostic;

/// Front matter and body of a content file.
#[derive(Debug, PartialEq, Eq)]
pub struct Split<'a> {
    /// The TOML between the `+++` lines.
    pub front: &'a str,
    /// 1-based line where `front` starts.
    pub front_line: usize,
    /// The Markdown after the closing `+++`.
    pub body: &'a str,
    /// 1-based line where `body` starts.
    pub body_line: usize,
}

/// Splits `+++`-delimited front matter from the body; the error says what to fix.
pub fn split_front_matter(text: &str) -> Result<Split<'_>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    if first.trim_end() != "+++" {
        return Err((
            1,
            "missing front matter: the file must start with a line `+++`, then TOML, then `+++` (did you forget `+++`?)".into(),
        ));
    }
    let front_start = first.len();
    let mut offset = front_start;
    let mut line = 1;
    for l in lines {
        line += 1;
        if l.trim_end() == "+++" {
            return Ok(Split {
                front: &text[front_start..offset],
                front_line: 2,
                body: &text[offset + l.len()..],
                body_line: line + 1,
            });
        }
        offset += l.len();
    }
    Err((
        1,
        "front matter is not closed: add a line `+++` after the TOML (did you forget `+++`?)"
            .into(),
    ))
}

pub(super) fn parse_front<'de, T: Deserialize<'de>>(
    path: &Path,
    split: &'de Split<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    match toml::from_str::<T>(split.front) {
        Ok(v) => Some(v),
        Err(e) => {
            let line = e.span().map_or(split.front_line, |s| {
                split.front_line
                    + split.front[..s.start.min(split.front.len())]
                        .bytes()
                        .filter(|b| *b == b'\n')
                        .count()
            });
            let msg = e.message().trim().lines().next().unwrap_or("").to_string();
            diags.push(Diagnostic::error(
                path,
                line,
                format!("front matter: {msg}"),
            ));
            None
        }
    }
}

pub(super) fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('=') || r.starts_with(']'))
        })
        .map_or(1, |i| i + 1)
}

pub(super) fn valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 120
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub(super) fn one_line(s: &str) -> bool {
    !s.trim().is_empty()
        && !s
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}'))
}
