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
//! writing. What it cannot find it reports in a typed [`Report`]; it never
//! guesses, never overwrites without `force`, never uses the network, prints
//! nothing, parses no arguments and loads no config (that is `cli::import`).
//!
//! [`content`]: crate::content
//! [`content::parse_comparison`]: crate::content::parse_comparison

use std::path::{Path, PathBuf};

use crate::content::{ComparisonMeta, ExcerptRule, Salary, SectionKind};
use crate::diagnostic::Diagnostic;

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
mod salaries;
mod sections;
mod text;
mod title;
mod write;

pub use detect::detect_format;
pub use salaries::{SalaryMatch, find_salary_ranges};
pub use title::parse_title;
pub use write::{Written, write_comparison};

/// The excerpt rule an imported file must satisfy: the shipped default.
pub const EXCERPT_RULE: ExcerptRule = ExcerptRule {
    section: SectionKind::Duties,
    words: 60,
};

/// The formats an article can be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Markdown, optionally with `+++` TOML or `---` YAML-style front matter.
    Markdown,
    /// An HTML page or fragment.
    Html,
    /// Plain text, such as a web page copied from the browser (select all, copy).
    Text,
}

impl Format {
    /// How the summary names it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Text => "text",
        }
    }
}

/// Why an article could not be imported. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input could not be read.
    #[error("cannot read the article: {0}")]
    Read(#[source] std::io::Error),
    /// The input is not UTF-8.
    #[error("the article is not valid UTF-8 (at byte {0}); save it as UTF-8 and import again")]
    NotUtf8(usize),
    /// No title anywhere.
    #[error(
        "no title found; the article needs a title like `Associate Producer vs. Assistant Producer` (an `<h1>`, a `# ` heading or a `title` in front matter)"
    )]
    NoTitle,
    /// A title that does not name two roles.
    #[error(
        "title `{0}` does not name two roles; a comparison's title reads like `Associate Producer vs. Assistant Producer` (`vs`, `versus` and `or` work too); nothing was written"
    )]
    NoRoles(String),
    /// A title with no ASCII letters or digits to make a slug from.
    #[error("cannot make a slug from title `{0}`: it has no ASCII letters or digits")]
    NoSlug(String),
    /// No duties section: the newsletter's excerpt comes from it.
    #[error(
        "no job duties section (section headings found: {0}); the newsletter's excerpt comes from it, so add a heading like `Job Duties` above the duties and import again; nothing was written"
    )]
    NoDuties(String),
    /// A duties section without a paragraph to take the excerpt from.
    #[error(
        "the `{0}` section has no paragraph, only lists or headings; the newsletter's excerpt needs one, so add an opening paragraph and import again; nothing was written"
    )]
    DutiesWithoutParagraph(String),
    /// The generated file would not load (a bug, or an odd article).
    #[error("the comparison would not load: {0}; nothing was written")]
    Invalid(String),
    /// The target exists and `--force` was not given.
    #[error("`{0}` already exists; pass `--force` to overwrite it")]
    Exists(PathBuf),
    /// The target could not be written.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The comparison file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One role's salary as found in the article.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundSalary {
    /// The range.
    pub salary: Salary,
    /// The words it was read from, e.g. "anywhere from $50,000 to $150,000 annually".
    pub phrase: String,
    /// False when the article gave no period and a year was taken (amounts of 10,000 or more).
    pub per_stated: bool,
    /// Where it came from, e.g. "sentence" or "front matter".
    pub source: &'static str,
}

/// What an import found and left out, for the summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The headings of the recognized sections, normalized, in file order.
    pub sections: Vec<String>,
    /// Sections the content format expects but the article lacks.
    pub missing: Vec<String>,
    /// Section headings kept as they are (not featured).
    pub other_sections: Vec<String>,
    /// Per role (in `meta.roles` order): the salary found, if any.
    pub salaries: Vec<Option<FoundSalary>>,
    /// Where `published` came from.
    pub published_from: Option<&'static str>,
    /// Page chrome and other text left out, one entry each.
    pub dropped: Vec<String>,
    /// Salary ranges seen but not used, and why.
    pub notes: Vec<String>,
}

/// An imported article.
#[derive(Debug, Clone)]
pub struct Imported {
    /// How the input was read.
    pub format: Format,
    /// The front matter written.
    pub meta: ComparisonMeta,
    /// The whole comparison file.
    pub text: String,
    /// What was found and dropped.
    pub report: Report,
    /// The content loader's warnings for the file, as if it were `<slug>.md`.
    pub warnings: Vec<Diagnostic>,
}

impl Imported {
    /// The file name it is written under: `<slug>.md`.
    pub fn file_name(&self) -> String {
        format!("{}.md", self.meta.slug)
    }
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
    let format = format.unwrap_or_else(|| detect_format(name, text));
    let doc = match format {
        Format::Markdown => markdown::read_markdown(text),
        Format::Html => html::read_html(text),
        Format::Text => text::read_text(text),
    };
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
