//! A tip: its type, and one tip file's front matter and body, checked.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::excerpts::{markdown_to_html, markdown_to_text};
use super::front::{key_line, one_line, parse_front, split_front_matter};
use crate::diagnostic::Diagnostic;

/// Front matter of a tip file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TipMeta {
    /// The tip's headline.
    pub title: String,
    /// Publication date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
}

/// A tip from the chief coach.
#[derive(Debug, Clone)]
pub struct Tip {
    /// The file it came from.
    pub path: PathBuf,
    /// The file stem: identifies the tip in the ledger.
    pub slug: String,
    /// Its front matter.
    pub meta: TipMeta,
    /// The body rendered to HTML.
    pub html: String,
    /// The body as plain text.
    pub text: String,
    /// Words in `text`.
    pub words: usize,
}

/// Parses one tip file; `None` when it has errors (already pushed).
pub fn parse_tip(path: &Path, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Tip> {
    let split = match split_front_matter(text) {
        Ok(s) => s,
        Err((line, msg)) => {
            diags.push(Diagnostic::error(path, line, msg));
            return None;
        }
    };
    let meta: TipMeta = parse_front(path, &split, diags)?;
    if !one_line(&meta.title) {
        diags.push(Diagnostic::error(
            path,
            key_line(text, "title"),
            "`title` must be one non-empty line",
        ));
        return None;
    }
    if split.body.trim().is_empty() {
        diags.push(Diagnostic::error(
            path,
            split.body_line,
            "the tip has no text after the front matter",
        ));
        return None;
    }
    let slug = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let html = markdown_to_html(split.body);
    let text = markdown_to_text(split.body);
    let words = text.split_whitespace().count();
    Some(Tip {
        path: path.to_path_buf(),
        slug,
        meta,
        html,
        text,
        words,
    })
}
