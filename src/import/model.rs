//! The importer's vocabulary: the formats an article is read from, what an
//! import produces and reports, its errors, and the excerpt rule its output
//! must satisfy.
//!
//! Owns these types only; every phase of the import uses them, and nothing
//! here calls a phase.

use std::path::PathBuf;

use crate::content::{ComparisonMeta, ExcerptRule, Salary, SectionKind};
use crate::diagnostic::Diagnostic;

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
    pub(crate) fn name(self) -> &'static str {
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
pub struct ImportReport {
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
    pub report: ImportReport,
    /// The content loader's warnings for the file, as if it were `<slug>.md`.
    pub warnings: Vec<Diagnostic>,
}

impl Imported {
    /// The file name it is written under: `<slug>.md`.
    pub(crate) fn file_name(&self) -> String {
        format!("{}.md", self.meta.slug)
    }
}
