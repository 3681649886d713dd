//! The article importer: turning a published article (Markdown, HTML or plain
//! text) into a
//! comparison file in the content format.
//!
//! Owns reading an article, dropping page chrome (navigation, search boxes,
//! related links, rating widgets, newsletter boxes, cookie banners, author
//! blurbs), recognizing the title's two roles, the sections, the salary ranges
//! written in prose and the publication date, and writing the result. Phases, in
//! order: `detect` → a reader (`markdown`, `html`, `text`) → a `doc::Doc` →
//! `build`: `title`, `chrome`, `end`, `sections`, `salaries` → `write`.
//! The format itself and section recognition belong to [`content`]: this module
//! reuses them and checks its output with [`content::parse_comparison`] before
//! writing. What it cannot find it reports in a typed [`ImportReport`]; it never
//! guesses, never overwrites without `force`, never uses the network (`feeds`
//! fetches and hands it the bytes), prints
//! nothing, parses no arguments and loads no config (that is `cli::import`).
//!
//! [`content`]: crate::content
//! [`content::parse_comparison`]: crate::content::parse_comparison

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

mod build;
mod chrome;
mod dates;
mod detect;
mod doc;
mod end;
mod escape;
mod html;
mod html_chrome;
mod markdown;
mod model;
mod salaries;
mod sections;
mod text;
mod title;
mod write;

pub(crate) use detect::detect_format;
pub use model::{EXCERPT_RULE, Format, FoundSalary, ImportError, ImportReport, Imported};
pub use salaries::{SalaryMatch, find_salary_ranges};
pub use title::parse_title;

/// A comparison written to disk.
#[derive(Debug)]
pub(crate) struct Written {
    /// The file written, `<out>/<slug>.md`.
    pub path: PathBuf,
    /// What was imported.
    pub imported: Imported,
}

/// Imports one article and writes it under `out` as `<slug>.md`. `name` is the
/// input's path (for format detection), `None` for standard input.
pub(crate) fn write_comparison(
    name: Option<&Path>,
    bytes: &[u8],
    out: &Path,
    format: Option<Format>,
    url: Option<&str>,
    force: bool,
) -> Result<Written, ImportError> {
    write_imported(import_bytes(name, bytes, format, url)?, out, force)
}

/// Writes an imported article under `out` as `<slug>.md`.
pub(crate) fn write_imported(
    imported: Imported,
    out: &Path,
    force: bool,
) -> Result<Written, ImportError> {
    let path = out.join(imported.file_name());
    write::write_file(&path, &imported.text, force)?;
    Ok(Written { path, imported })
}

/// Imports one article from raw bytes. `name` is only used to detect the format
/// (by extension) when `format` is `None`.
pub fn import_bytes(
    name: Option<&Path>,
    bytes: &[u8],
    format: Option<Format>,
    url: Option<&str>,
) -> Result<Imported, ImportError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ImportError::NotUtf8(e.valid_up_to()))?;
    import_text(name, text, format, url)
}

/// Imports one article from text.
pub fn import_text(
    name: Option<&Path>,
    text: &str,
    format: Option<Format>,
    url: Option<&str>,
) -> Result<Imported, ImportError> {
    import_dated(name, text, format, url, None)
}

/// Imports one article from text whose publication date is known from
/// elsewhere (a feed's entry): `published` is written whatever the page says.
pub fn import_dated(
    name: Option<&Path>,
    text: &str,
    format: Option<Format>,
    url: Option<&str>,
    published: Option<NaiveDate>,
) -> Result<Imported, ImportError> {
    let format = format.unwrap_or_else(|| detect_format(name, text));
    let mut doc = match format {
        Format::Markdown => markdown::read_markdown(text),
        Format::Html => html::read_html(text),
        Format::Text => text::read_text(text),
    };
    if let Some(date) = published {
        doc.published = Some((date, "the feed"));
    }
    build::build(doc, format, url)
}

// ---------------------------------------------------------------------------
// The command.

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Per;

    #[test]
    fn a_logo_heading_before_the_title_and_inline_classes_do_not_confuse_html() {
        let html = "<div class=\"brand\"><h1>Example Careers</h1></div>\
            <h1>Nurse vs. Doctor</h1><p>Two paths in medicine.</p>\
            <h2>Job Duties</h2><p>Nurses care for patients. Doctors diagnose.</p>\
            <h2>Salary</h2><p>Nurses earn <span class=\"rate\">$30 to $45 per hour</span>.</p>";
        let got = import_text(None, html, None, None).unwrap();
        assert_eq!(got.meta.title, "Nurse vs. Doctor");
        let s = got.meta.roles[0].salary.as_ref().unwrap();
        assert_eq!((s.min, s.max, s.per), (30, 45, Per::Hour));
        assert_eq!(
            got.report.dropped,
            ["text before the title \"Example Careers\""]
        );
        assert!(got.text.contains("\nTwo paths in medicine.\n"));
    }

    #[test]
    fn a_plain_first_line_can_be_the_title() {
        let md = "**Nurse vs. Doctor**\n\n## Job Duties\n\nNurses care. Doctors diagnose.\n";
        let got = import_text(None, md, None, None).unwrap();
        assert_eq!(got.meta.slug, "nurse-vs-doctor");
        assert!(!got.text.contains("**Nurse"));
        let md = "Nurses or doctors often work weekends and nights in hospitals.\n\n## Job Duties\n\nCare.\n";
        assert!(matches!(
            import_text(None, md, None, None),
            Err(ImportError::NoTitle)
        ));
    }

    #[test]
    fn code_is_not_prose_in_either_format() {
        let md = "# Cook vs. Chef\n\n## Job Duties\n\nCooks cook.\n\n> ```\n> Cooks earn $50,000 to $60,000 a year.\n> ```\n";
        let html = "<h1>Cook vs. Chef</h1><h2>Job Duties</h2><p>Cooks cook.</p>\
            <blockquote><pre>Cooks earn $50,000 to $60,000 a year.</pre></blockquote>";
        for text in [md, html] {
            let got = import_text(None, text, None, None).unwrap();
            assert_eq!(got.meta.roles[0].salary, None, "{text}");
            assert!(got.text.contains("> ```\n> Cooks earn"), "{}", got.text);
        }
    }
}
