//! One tip file: its front matter and body, checked.

#[allow(unused_imports)]
use super::*;

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
