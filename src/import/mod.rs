//! `tipsheet import`: turning a published article (Markdown or HTML) into a
//! comparison file in the content format.
//!
//! Owns reading an article from a file or standard input, dropping page chrome
//! (navigation, search boxes, related links, rating widgets, newsletter boxes,
//! cookie banners, author blurbs), recognizing the title's two roles, the
//! sections, the salary ranges written in prose and the publication date, and
//! writing the result. The format itself and section recognition belong to
//! [`content`]: this module reuses them and checks its output with
//! [`content::parse_comparison`] before writing. What it cannot find it reports;
//! it never guesses, never overwrites without `--force`, and never uses the network.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use ego_tree::NodeId;
use ego_tree::iter::Edge;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use scraper::node::Element;
use scraper::{ElementRef, Html, Node};
use serde::Deserialize;

use crate::cli::{Failure, exit};
use crate::config::Config;
use crate::content::{self, ComparisonMeta, ExcerptRule, Per, Role, Salary, SectionKind};
use crate::diagnostic::Diagnostic;
use crate::output::{errln, outln};

/// The excerpt rule an imported file must satisfy: the shipped default.
pub const EXCERPT_RULE: ExcerptRule = ExcerptRule {
    section: SectionKind::Duties,
    words: 60,
};

/// `import` options.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Articles to import, Markdown or HTML; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write into this folder (default: `comparisons/` under the config's `content.dir`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite a comparison file that already exists.
    #[arg(long)]
    pub force: bool,
    /// The article's public address, recorded as `url` (one file only).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Read the input as this format instead of detecting it.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
}

/// The formats an article can be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown, optionally with `+++` TOML or `---` YAML-style front matter.
    Markdown,
    /// An HTML page or fragment.
    Html,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Markdown => "markdown",
            Format::Html => "html",
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
        Format::Markdown => read_markdown(text),
        Format::Html => read_html(text),
    };
    build(doc, format, url)
}

// ---------------------------------------------------------------------------
// The command.

/// Runs `tipsheet import`: 0 when every file was imported (warnings allowed),
/// 1 when any failed, a usage error (2) for bad arguments or a broken config.
pub fn command(args: &ImportArgs, config_path: &Path) -> Result<u8, Failure> {
    let usage = |msg: String| Failure {
        code: exit::USAGE,
        error: anyhow::Error::msg(msg),
    };
    if let Some(url) = &args.url {
        if args.files.len() > 1 {
            return Err(usage(format!(
                "`--url` names one article, but {} files were given; import them one at a time",
                args.files.len()
            )));
        }
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && !url.chars().any(char::is_whitespace);
        if !ok {
            return Err(usage(format!(
                "`--url {url}` is not an http(s) address like `https://www.example.com/career-advice/a-vs-b`"
            )));
        }
    }
    if args.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(usage(
            "standard input (`-`) can be read only once; name it once".into(),
        ));
    }
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => default_out(config_path)?,
    };
    let (mut imported, mut failed) = (0usize, 0usize);
    for file in &args.files {
        let shown = if file.as_os_str() == "-" {
            PathBuf::from("<stdin>")
        } else {
            file.clone()
        };
        match import_file(file, &out, args) {
            Ok((path, result)) => {
                imported += 1;
                print_summary(&shown, &path, &result);
                for mut d in result.warnings {
                    d.path.clone_from(&path);
                    errln!("{d}");
                }
            }
            Err(e) => {
                failed += 1;
                errln!("{}", Diagnostic::error(&shown, 0, e.to_string()));
            }
        }
    }
    if args.files.len() > 1 {
        outln!("import: {imported} imported, {failed} failed");
    }
    Ok(if failed > 0 { exit::FAILED } else { exit::OK })
}

/// `<content.dir>/comparisons` from the config, or `content/comparisons` when
/// there is no config file. A config that exists but does not load is an error.
fn default_out(config_path: &Path) -> Result<PathBuf, Failure> {
    match std::fs::metadata(config_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = PathBuf::from("content").join("comparisons");
            errln!(
                "note: no config file `{}`; writing to `{}` under the current folder (pass `--out DIR` or `--config PATH` to choose)",
                config_path.display(),
                dir.display()
            );
            Ok(dir)
        }
        _ => {
            let config = Config::load(config_path).map_err(|e| Failure {
                code: exit::USAGE,
                error: e.into(),
            })?;
            Ok(config.content.dir.join("comparisons"))
        }
    }
}

fn import_file(
    file: &Path,
    out: &Path,
    args: &ImportArgs,
) -> Result<(PathBuf, Imported), ImportError> {
    let bytes = if file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(ImportError::Read)?;
        buf
    } else {
        std::fs::read(file).map_err(ImportError::Read)?
    };
    let name = (file.as_os_str() != "-").then_some(file);
    let result = import_bytes(name, &bytes, args.format, args.url.as_deref())?;
    let path = out.join(result.file_name());
    write_file(&path, &result.text, args.force)?;
    Ok((path, result))
}

/// Writes `text` to `path`; refuses to replace a file unless `force`.
fn write_file(path: &Path, text: &str, force: bool) -> Result<(), ImportError> {
    let fail = |source| ImportError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    if force {
        // Write beside it, then rename, so a failed write never leaves half a file.
        let tmp = path.with_extension("md.tmp");
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        return written.map_err(fail);
    }
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(ImportError::Exists(path.to_path_buf()));
        }
        Err(e) => return Err(fail(e)),
    };
    if let Err(e) = f.write_all(text.as_bytes()) {
        drop(f);
        let _ = std::fs::remove_file(path);
        return Err(fail(e));
    }
    Ok(())
}

fn print_summary(input: &Path, path: &Path, r: &Imported) {
    let rep = &r.report;
    outln!(
        "imported `{}` ({}) → `{}`",
        input.display(),
        r.format.name(),
        path.display()
    );
    let names: Vec<&str> = r.meta.roles.iter().map(|x| x.name.as_str()).collect();
    outln!("  roles:     {}", names.join(", "));
    outln!("  sections:  {}", rep.sections.join(", "));
    if !rep.missing.is_empty() {
        outln!("  missing:   {}", rep.missing.join(", "));
    }
    if !rep.other_sections.is_empty() {
        outln!("  other:     {}", rep.other_sections.join(", "));
    }
    outln!("  salaries:");
    for (role, found) in r.meta.roles.iter().zip(&rep.salaries) {
        match found {
            Some(f) => outln!(
                "    {}: {}{} (from {}: \"{}\")",
                role.name,
                f.salary,
                if f.per_stated {
                    ""
                } else {
                    ", no period stated: taken as a year"
                },
                f.source,
                f.phrase
            ),
            None => outln!("    {}: none found; written without a salary", role.name),
        }
    }
    match (&r.meta.published, rep.published_from) {
        (Some(p), Some(from)) => outln!("  published: {p} (from {from})"),
        _ => outln!("  published: not stated; omitted"),
    }
    outln!(
        "  url:       {}",
        r.meta
            .url
            .as_deref()
            .unwrap_or("none (pass `--url URL` to record it)")
    );
    if rep.dropped.is_empty() {
        outln!("  dropped:   nothing");
    } else {
        outln!("  dropped:");
        for (what, n) in counted(&rep.dropped) {
            if n > 1 {
                outln!("    - {what} (×{n})");
            } else {
                outln!("    - {what}");
            }
        }
    }
    for note in &rep.notes {
        outln!("  note: {note}");
    }
}

/// Equal entries folded together, first-seen order.
fn counted(items: &[String]) -> Vec<(&str, usize)> {
    let mut out: Vec<(&str, usize)> = Vec::new();
    for i in items {
        match out.iter_mut().find(|(s, _)| *s == i.as_str()) {
            Some((_, n)) => *n += 1,
            None => out.push((i, 1)),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The document both readers produce.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Heading(u8),
    Paragraph,
    List,
    /// Quotes, code: kept, never chrome-checked by paragraph rules.
    Other,
}

#[derive(Debug, Clone)]
struct Block {
    kind: Kind,
    /// The Markdown written for it (headings are re-rendered from `text`).
    md: String,
    /// Its plain text, whitespace collapsed.
    text: String,
    /// Plain text of each list item (lists only).
    items: Vec<String>,
    /// Nothing but links or images (every item, for lists).
    links_only: bool,
}

impl Block {
    fn heading(level: u8, text: &str) -> Self {
        Block {
            kind: Kind::Heading(level),
            md: String::new(),
            text: collapse(text),
            items: Vec::new(),
            links_only: false,
        }
    }
}

#[derive(Debug, Default)]
struct Doc {
    /// `title` from front matter.
    front_title: Option<String>,
    /// HTML: the first `<h1>` outside chrome, `og:title`, `<title>`.
    page_titles: Vec<String>,
    /// A stated publication date and where it came from.
    published: Option<(NaiveDate, &'static str)>,
    /// Roles from `+++` front matter (their salaries are a fallback).
    front_roles: Vec<Role>,
    blocks: Vec<Block>,
    dropped: Vec<String>,
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A short quote of `text` for the summary.
fn snippet(text: &str) -> String {
    let t = collapse(text);
    let mut out: String = t.chars().take(60).collect();
    if t.chars().count() > 60 {
        out.push('…');
    }
    format!("\"{out}\"")
}

// ---------------------------------------------------------------------------
// Markdown.

#[derive(Deserialize)]
struct LooseFront {
    title: Option<String>,
    published: Option<toml::Value>,
    date: Option<toml::Value>,
    #[serde(default)]
    roles: Vec<toml::Value>,
}

fn read_markdown(text: &str) -> Doc {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut doc = Doc::default();
    let body = front_matter(text, &mut doc);
    doc.blocks = markdown_blocks(body, &mut doc.dropped);
    doc
}

/// Reads `+++` TOML or `---` key: value front matter; returns the body.
fn front_matter<'a>(text: &'a str, doc: &mut Doc) -> &'a str {
    let first = text.lines().next().unwrap_or_default().trim_end();
    if first == "+++" {
        let Ok(split) = content::split_front_matter(text) else {
            return text;
        };
        match toml::from_str::<LooseFront>(split.front) {
            Ok(f) => {
                doc.front_title = f.title.filter(|t| !t.trim().is_empty());
                doc.published = f
                    .published
                    .or(f.date)
                    .and_then(|v| match v {
                        toml::Value::String(s) => parse_iso_date(&s),
                        toml::Value::Datetime(d) => parse_iso_date(&d.to_string()),
                        _ => None,
                    })
                    .map(|d| (d, "front matter"));
                doc.front_roles = f
                    .roles
                    .into_iter()
                    .filter_map(|v| v.try_into::<Role>().ok())
                    .collect();
            }
            Err(_) => doc
                .dropped
                .push("front matter that is not valid TOML".into()),
        }
        return split.body;
    }
    if first == "---" {
        let mut offset = text.find('\n').map_or(text.len(), |p| p + 1);
        let start = offset;
        for line in text[start..].split_inclusive('\n') {
            if line.trim_end() == "---" {
                let front = &text[start..offset];
                let keyed = front.lines().all(|l| {
                    let t = l.trim();
                    t.is_empty()
                        || l.starts_with([' ', '\t'])
                        || t.starts_with("- ")
                        || t.starts_with('#')
                        || t.split_once(':').is_some_and(|(k, _)| {
                            !k.is_empty()
                                && k.chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        })
                });
                if !keyed {
                    return text;
                }
                for l in front.lines() {
                    let Some((k, v)) = l.split_once(':') else {
                        continue;
                    };
                    let v = v.trim().trim_matches(|c| c == '"' || c == '\'').trim();
                    match k.trim().to_ascii_lowercase().as_str() {
                        "title" if !v.is_empty() => doc.front_title = Some(v.to_string()),
                        "published" | "date" if doc.published.is_none() => {
                            doc.published = parse_iso_date(v).map(|d| (d, "front matter"));
                        }
                        _ => {}
                    }
                }
                return &text[offset + line.len()..];
            }
            offset += line.len();
        }
    }
    text
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MdKind {
    Heading(u8),
    Paragraph,
    List,
    Quote,
    Code,
    Table,
    Html,
    Other,
}

/// One top-level Markdown block being read.
struct MdBlock {
    kind: MdKind,
    start: usize,
    text: String,
    items: Vec<String>,
    /// Per item: (has a link, has text outside links).
    item_links: Vec<(bool, bool)>,
    open_items: Vec<usize>,
    links: usize,
    has_link: bool,
    outside_text: bool,
    rows: Vec<Vec<String>>,
    head_rows: usize,
    code: String,
    /// Inside a code block nested in a quote or list: its text is not prose.
    nested_code: usize,
}

impl MdBlock {
    fn new(tag: &Tag<'_>, start: usize) -> Self {
        let kind = match tag {
            Tag::Heading { level, .. } => MdKind::Heading(*level as u8),
            Tag::Paragraph => MdKind::Paragraph,
            Tag::List(_) => MdKind::List,
            Tag::BlockQuote(_) => MdKind::Quote,
            Tag::CodeBlock(_) => MdKind::Code,
            Tag::Table(_) => MdKind::Table,
            Tag::HtmlBlock => MdKind::Html,
            _ => MdKind::Other,
        };
        MdBlock {
            kind,
            start,
            text: String::new(),
            items: Vec::new(),
            item_links: Vec::new(),
            open_items: Vec::new(),
            links: 0,
            has_link: false,
            outside_text: false,
            rows: Vec::new(),
            head_rows: 0,
            code: String::new(),
            nested_code: 0,
        }
    }

    fn start(&mut self, tag: &Tag<'_>) {
        match tag {
            Tag::Item => {
                self.items.push(String::new());
                self.item_links.push((false, false));
                self.open_items.push(self.items.len() - 1);
            }
            Tag::Link { .. } | Tag::Image { .. } => {
                self.links += 1;
                self.has_link = true;
                if let Some(&i) = self.open_items.last()
                    && let Some(f) = self.item_links.get_mut(i)
                {
                    f.0 = true;
                }
            }
            Tag::TableHead => {
                self.rows.push(Vec::new());
                self.head_rows += 1;
            }
            Tag::CodeBlock(_) if self.kind != MdKind::Code => self.nested_code += 1,
            Tag::TableRow => self.rows.push(Vec::new()),
            Tag::TableCell => {
                if let Some(r) = self.rows.last_mut() {
                    r.push(String::new());
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: &TagEnd) {
        match tag {
            TagEnd::Item => {
                self.open_items.pop();
            }
            TagEnd::Link | TagEnd::Image => self.links = self.links.saturating_sub(1),
            TagEnd::CodeBlock if self.kind != MdKind::Code => {
                self.nested_code = self.nested_code.saturating_sub(1);
            }
            TagEnd::Paragraph | TagEnd::Heading(_) => self.push_text(" "),
            _ => {}
        }
    }

    fn push_text(&mut self, t: &str) {
        if self.nested_code > 0 {
            return;
        }
        if self.links == 0 && t.chars().any(char::is_alphanumeric) {
            self.outside_text = true;
            if let Some(&i) = self.open_items.last()
                && let Some(f) = self.item_links.get_mut(i)
            {
                f.1 = true;
            }
        }
        match self.kind {
            MdKind::Code => self.code.push_str(t),
            MdKind::Table => {
                if let Some(c) = self.rows.last_mut().and_then(|r| r.last_mut()) {
                    c.push_str(t);
                }
            }
            MdKind::List => match self.open_items.last().and_then(|&i| self.items.get_mut(i)) {
                Some(item) => item.push_str(t),
                None => self.text.push_str(t),
            },
            _ => self.text.push_str(t),
        }
    }

    fn finish(self, body: &str, end: usize, dropped: &mut Vec<String>) -> Option<Block> {
        let source = body.get(self.start..end).unwrap_or_default().trim_end();
        let block = |kind, md: String, text: String| Block {
            kind,
            md,
            text,
            items: Vec::new(),
            links_only: false,
        };
        Some(match self.kind {
            MdKind::Heading(level) => Block::heading(level, &self.text),
            MdKind::Paragraph => Block {
                links_only: self.has_link && !self.outside_text,
                ..block(Kind::Paragraph, source.to_string(), collapse(&self.text))
            },
            MdKind::List => {
                let items: Vec<String> = self.items.iter().map(|i| collapse(i)).collect();
                let links_only =
                    !self.item_links.is_empty() && self.item_links.iter().all(|(l, o)| *l && !o);
                Block {
                    kind: Kind::List,
                    md: source.to_string(),
                    text: items.join("\n"),
                    items,
                    links_only,
                }
            }
            MdKind::Quote | MdKind::Other => {
                block(Kind::Other, source.to_string(), collapse(&self.text))
            }
            MdKind::Code => block(Kind::Other, fenced(&self.code), String::new()),
            MdKind::Table => {
                let items: Vec<String> = self
                    .rows
                    .iter()
                    .skip(self.head_rows)
                    .map(|cells| table_row(cells.iter().map(|c| collapse(c))))
                    .filter(|r| !r.is_empty())
                    .collect();
                if items.is_empty() {
                    return None;
                }
                list_block(items)
            }
            MdKind::Html => {
                if !source.trim().starts_with("<!--") {
                    dropped.push(format!("raw HTML {}", snippet(source)));
                }
                return None;
            }
        })
    }
}

fn markdown_blocks(body: &str, dropped: &mut Vec<String>) -> Vec<Block> {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    let mut blocks = Vec::new();
    let mut depth = 0usize;
    let mut cur: Option<MdBlock> = None;
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    cur = Some(MdBlock::new(&tag, range.start));
                }
                depth += 1;
                if let Some(b) = cur.as_mut() {
                    b.start(&tag);
                }
            }
            Event::End(tag) => {
                depth = depth.saturating_sub(1);
                if let Some(b) = cur.as_mut() {
                    b.end(&tag);
                }
                if depth == 0
                    && let Some(b) = cur.take()
                    && let Some(block) = b.finish(body, range.end, dropped)
                {
                    blocks.push(block);
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(b) = cur.as_mut() {
                    b.push_text(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(b) = cur.as_mut() {
                    b.push_text(if b.kind == MdKind::Code { "\n" } else { " " });
                }
            }
            _ => {}
        }
    }
    blocks
}

/// A fenced code block whose fence no line of `code` can close.
fn fenced(code: &str) -> String {
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
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}\n{}\n{fence}", code.trim_end_matches('\n'))
}

/// A table row as one list item: "Cell: cell, cell".
fn table_row(cells: impl Iterator<Item = String>) -> String {
    let cells: Vec<String> = cells.filter(|c| !c.is_empty()).collect();
    match cells.split_first() {
        None => String::new(),
        Some((first, [])) => first.clone(),
        Some((first, rest)) => format!("{first}: {}", rest.join(", ")),
    }
}

fn list_block(items: Vec<String>) -> Block {
    let md = items
        .iter()
        .map(|i| format!("- {}", escape_line_start(&escape_text(i))))
        .collect::<Vec<_>>()
        .join("\n");
    Block {
        kind: Kind::List,
        md,
        text: items.join("\n"),
        items,
        links_only: false,
    }
}

// ---------------------------------------------------------------------------
// Markdown escaping of plain text (HTML input).

/// Escapes characters that Markdown would read as markup.
fn escape_text(s: &str) -> String {
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
fn entity_like(s: &str) -> bool {
    let rest = &s[1..];
    let body: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '#')
        .collect();
    !body.is_empty() && rest[body.len()..].starts_with(';')
}

/// Escapes what would start a list, quote, heading or break at the start of a line.
fn escape_line_start(s: &str) -> String {
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

/// Tags dropped without a word: they hold no article text.
const SILENT_TAGS: &[&str] = &[
    "head", "script", "style", "noscript", "template", "svg", "canvas", "img", "picture", "video",
    "audio", "iframe", "object", "embed", "button", "input", "select", "textarea", "map", "link",
    "meta", "title",
];

/// Tags that are page chrome by definition.
const CHROME_TAGS: &[&str] = &["nav", "header", "footer", "aside", "form", "dialog"];

/// ARIA roles of page chrome.
const CHROME_ROLES: &[&str] = &[
    "navigation",
    "search",
    "banner",
    "contentinfo",
    "complementary",
    "dialog",
];

/// Inline tags: everything else starts or ends a block.
const INLINE_TAGS: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i",
    "ins", "kbd", "label", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub",
    "sup", "time", "tt", "u", "var", "wbr", "br",
];

/// Does one word of a class or id name page chrome?
fn chrome_word(w: &str) -> bool {
    const PREFIX: &[&str] = &[
        "nav",
        "menu",
        "search",
        "related",
        "rating",
        "newsletter",
        "signup",
        "subscri",
        "cookie",
        "consent",
        "author",
        "byline",
        "share",
        "sharing",
        "social",
        "breadcrumb",
        "sidebar",
        "comment",
        "advert",
        "promo",
        "popup",
    ];
    const EXACT: &[&str] = &[
        "rate", "sign", "ad", "ads", "toc", "footer", "masthead", "modal", "skip",
    ];
    const SUFFIX: &[&str] = &["nav", "menu", "sidebar", "newsletter", "breadcrumbs"];
    PREFIX.iter().any(|p| w.starts_with(p))
        || EXACT.contains(&w)
        || SUFFIX.iter().any(|s| w.ends_with(s))
}

/// Splits a class or id into lowercase words ("siteNav-main" → site, nav, main).
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn chrome_name(name: &str) -> bool {
    name_words(name).iter().any(|w| chrome_word(w))
}

/// `nav`, `div.newsletter-box`, `section#related`: how the summary names an element.
fn element_label(el: &Element) -> String {
    let name = el.name();
    if let Some(id) = el.id().filter(|i| chrome_name(i)) {
        return format!("{name}#{id}");
    }
    if let Some(c) = el
        .classes()
        .find(|c| chrome_name(c))
        .or_else(|| el.classes().next())
    {
        return format!("{name}.{c}");
    }
    if let Some(id) = el.id() {
        return format!("{name}#{id}");
    }
    name.to_string()
}

/// Is this element page chrome? `Some(label)` when it is.
fn html_chrome(el: &Element) -> Option<String> {
    let name = el.name();
    let role = el.attr("role").unwrap_or_default().to_ascii_lowercase();
    // Class names only count on containers: `<span class="rate">` may hold the pay.
    let by_name = !matches!(name, "html" | "body" | "main" | "article")
        && !INLINE_TAGS.contains(&name)
        && (el.id().is_some_and(chrome_name) || el.classes().any(chrome_name));
    let chrome = CHROME_TAGS.contains(&name) || CHROME_ROLES.contains(&role.as_str()) || by_name;
    chrome.then(|| element_label(el))
}

/// The elements holding headings of two or more kinds of article section: a
/// chrome-looking wrapper around them (`<div class="with-sidebar">`) is the article.
fn section_holders(html: &Html, roles: &[&str]) -> HashSet<NodeId> {
    let mut kinds: HashMap<NodeId, u8> = HashMap::new();
    for node in html.tree.nodes() {
        let Some(el) = ElementRef::wrap(node) else {
            continue;
        };
        if !matches!(el.value().name(), "h1" | "h2" | "h3" | "h4") {
            continue;
        }
        let text: String = el.text().flat_map(str::chars).take(200).collect();
        let text = collapse(&text);
        let bit = match SectionKind::classify(&text, roles) {
            _ if chrome_heading(&text).is_some() => continue,
            SectionKind::Other => continue,
            SectionKind::WhatIs(i) => 1u8 << i.min(1),
            SectionKind::Duties => 1 << 2,
            SectionKind::Requirements => 1 << 3,
            SectionKind::Environment => 1 << 4,
            SectionKind::Skills => 1 << 5,
            SectionKind::Salary => 1 << 6,
        };
        // An ancestor that already has this kind has passed it further up:
        // each (element, kind) pair is visited once, however deep the page.
        for a in node.ancestors() {
            let k = kinds.entry(a.id()).or_default();
            if *k & bit != 0 {
                break;
            }
            *k |= bit;
        }
    }
    kinds
        .into_iter()
        .filter(|(_, k)| k.count_ones() >= 2)
        .map(|(id, _)| id)
        .collect()
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

fn read_html(text: &str) -> Doc {
    let html = Html::parse_document(text);
    let mut doc = Doc::default();
    let mut h1: Option<String> = None;
    let mut og: Option<String> = None;
    let mut title: Option<String> = None;
    let mut meta_date: Option<NaiveDate> = None;
    let mut time_date: Option<NaiveDate> = None;
    for node in html.tree.nodes() {
        let Some(el) = ElementRef::wrap(node) else {
            continue;
        };
        let v = el.value();
        match v.name() {
            "meta" => {
                let key = v
                    .attr("property")
                    .or_else(|| v.attr("name"))
                    .or_else(|| v.attr("itemprop"))
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let value = v.attr("content").unwrap_or_default();
                match key.as_str() {
                    "og:title" if og.is_none() => og = Some(collapse(value)),
                    "article:published_time" | "datepublished" if meta_date.is_none() => {
                        meta_date = parse_iso_date(value);
                    }
                    _ => {}
                }
            }
            "title" if title.is_none() => {
                title = Some(collapse(
                    &el.text().flat_map(str::chars).take(300).collect::<String>(),
                ));
            }
            "h1" if h1.is_none() && !under_side_chrome(node) => {
                let t = collapse(&el.text().flat_map(str::chars).take(300).collect::<String>());
                if !t.is_empty() {
                    h1 = Some(t);
                }
            }
            "time" if time_date.is_none() && !under_side_chrome(node) => {
                time_date = v.attr("datetime").and_then(parse_iso_date);
            }
            _ => {}
        }
    }
    doc.published = meta_date
        .map(|d| (d, "the `article:published_time` meta tag"))
        .or(time_date.map(|d| (d, "`<time datetime>`")));
    doc.page_titles = [h1, og, title].into_iter().flatten().collect();
    let roles: Vec<(String, String)> = doc
        .page_titles
        .iter()
        .filter_map(|t| parse_title(t))
        .collect();
    let role_names: Vec<&str> = roles
        .first()
        .map(|(a, b)| vec![a.as_str(), b.as_str()])
        .unwrap_or_default();

    let holders = section_holders(&html, &role_names);
    let mut w = HtmlWalker::default();
    let mut skip: Option<NodeId> = None;
    for edge in html.root_element().traverse() {
        match edge {
            Edge::Open(node) => {
                if skip.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Text(t) => w.text(t),
                    Node::Element(el) => {
                        let hidden =
                            el.attr("hidden").is_some() || el.attr("aria-hidden") == Some("true");
                        if SILENT_TAGS.contains(&el.name()) || hidden {
                            skip = Some(node.id());
                        } else if let Some(label) = html_chrome(el)
                            && !holders.contains(&node.id())
                        {
                            skip = Some(node.id());
                            w.dropped.push(label);
                        } else {
                            w.open(node.id(), el);
                        }
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if let Some(id) = skip {
                    if id == node.id() {
                        skip = None;
                    }
                    continue;
                }
                if let Node::Element(el) = node.value() {
                    w.close(node.id(), el);
                }
            }
        }
    }
    w.flush();
    w.end_lists();
    doc.blocks = w.blocks;
    doc.dropped = w.dropped;
    doc
}

/// Inside an element whose dates and titles belong to other articles.
fn under_side_chrome(node: ego_tree::NodeRef<'_, Node>) -> bool {
    // Bounded: a page nested deeper than this is not one a person wrote.
    node.ancestors().take(256).any(|a| {
        a.value().as_element().is_some_and(|el| {
            matches!(el.name(), "aside" | "nav" | "footer")
                || el.id().into_iter().chain(el.classes()).any(|n| {
                    name_words(n).iter().any(|w| {
                        ["related", "comment", "sidebar", "promo", "nav", "menu"]
                            .iter()
                            .any(|p| w.starts_with(p))
                    })
                })
        })
    })
}

#[derive(Debug, Clone, Copy)]
enum MarkKind {
    Strong,
    Em,
    Code,
}

#[derive(Debug)]
struct Mark {
    id: NodeId,
    kind: Option<MarkKind>,
    href: Option<String>,
    md_at: usize,
    plain_at: usize,
}

/// Inline text being collected: Markdown and plain side by side.
#[derive(Debug, Default)]
struct Inline {
    md: String,
    plain: String,
    marks: Vec<Mark>,
    links: usize,
    has_link: bool,
    outside_text: bool,
}

impl Inline {
    fn space(&mut self) {
        if !self.md.is_empty() && !self.md.ends_with(' ') {
            self.md.push(' ');
        }
        if !self.plain.is_empty() && !self.plain.ends_with(' ') {
            self.plain.push(' ');
        }
    }

    fn text(&mut self, s: &str) {
        for (i, c) in s.char_indices() {
            if c.is_whitespace() {
                self.space();
                continue;
            }
            if self.links == 0 && c.is_alphanumeric() {
                self.outside_text = true;
            }
            self.plain.push(c);
            match c {
                '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '~' | '|' => {
                    self.md.push('\\');
                    self.md.push(c);
                }
                '&' if entity_like(&s[i..]) => self.md.push_str("\\&"),
                _ => self.md.push(c),
            }
        }
    }

    fn open(&mut self, id: NodeId, kind: Option<MarkKind>, href: Option<String>) {
        if href.is_some() || kind.is_none() {
            self.links += 1;
            self.has_link = true;
        }
        self.marks.push(Mark {
            id,
            kind,
            href,
            md_at: self.md.len(),
            plain_at: self.plain.len(),
        });
    }

    fn close(&mut self, id: NodeId) {
        let Some(pos) = self.marks.iter().rposition(|m| m.id == id) else {
            return;
        };
        let mark = self.marks.remove(pos);
        if mark.href.is_some() || mark.kind.is_none() {
            self.links = self.links.saturating_sub(1);
        }
        if !self.md.is_char_boundary(mark.md_at) {
            return;
        }
        let inner = self.md.get(mark.md_at..).unwrap_or_default().to_string();
        let core = inner.trim();
        if core.is_empty() {
            return;
        }
        let lead = if inner.starts_with(' ') { " " } else { "" };
        let trail = if inner.ends_with(' ') { " " } else { "" };
        let wrapped = match (&mark.kind, &mark.href) {
            (Some(MarkKind::Strong), _) => format!("**{core}**"),
            (Some(MarkKind::Em), _) => format!("*{core}*"),
            (Some(MarkKind::Code), _) => {
                let plain = self.plain.get(mark.plain_at..).unwrap_or_default().trim();
                code_span(plain)
            }
            (None, Some(href)) => format!("[{core}]({})", link_destination(href)),
            (None, None) => return,
        };
        self.md.truncate(mark.md_at);
        self.md.push_str(lead);
        self.md.push_str(&wrapped);
        self.md.push_str(trail);
    }

    fn take(&mut self) -> (String, String, bool) {
        let md = self.md.trim().to_string();
        let plain = self.plain.trim().to_string();
        let links_only = self.has_link && !self.outside_text;
        *self = Inline::default();
        (md, plain, links_only)
    }
}

fn code_span(code: &str) -> String {
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
    let fence = "`".repeat(longest + 1);
    if code.starts_with('`') || code.ends_with('`') {
        format!("{fence} {code} {fence}")
    } else {
        format!("{fence}{code}{fence}")
    }
}

fn link_destination(href: &str) -> String {
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
fn keep_link(href: &str) -> bool {
    let h = href.trim().to_ascii_lowercase();
    h.starts_with("https://") || h.starts_with("http://") || h.starts_with("mailto:")
}

#[derive(Debug)]
struct HtmlList {
    ordered: bool,
    next: u64,
    /// Width of the markers of the enclosing lists.
    indent: usize,
}

#[derive(Debug, Default)]
struct HtmlWalker {
    blocks: Vec<Block>,
    dropped: Vec<String>,
    inline: Inline,
    heading: Option<(NodeId, u8)>,
    quote: usize,
    pre: Option<(NodeId, String)>,
    lists: Vec<HtmlList>,
    /// The marker of the open list item, e.g. "- " or "  1. ".
    item: Option<String>,
    list_lines: Vec<String>,
    list_items: Vec<String>,
    list_links_only: bool,
    table: Option<Vec<(bool, Vec<String>)>>,
    in_cell: bool,
    in_head: bool,
}

impl HtmlWalker {
    fn inline_context(&self) -> bool {
        self.heading.is_some()
            || self.pre.is_some()
            || !self.lists.is_empty()
            || self.table.is_some()
    }

    fn text(&mut self, t: &str) {
        if let Some((_, pre)) = self.pre.as_mut() {
            pre.push_str(t);
        } else {
            self.inline.text(t);
        }
    }

    fn open(&mut self, id: NodeId, el: &Element) {
        let name = el.name();
        if self.pre.is_some() {
            return;
        }
        if let Some(level) = heading_level(name) {
            if self.inline_context() {
                self.inline.space();
            } else {
                self.flush();
                self.heading = Some((id, level));
            }
            return;
        }
        match name {
            "a" => {
                let href = el.attr("href").filter(|h| keep_link(h)).map(str::to_string);
                // A link without a usable address still counts as a link for chrome checks.
                match href {
                    Some(h) => self.inline.open(id, None, Some(h)),
                    None => self.inline.open(id, None, None),
                }
            }
            "strong" | "b" => self.inline.open(id, Some(MarkKind::Strong), None),
            "em" | "i" => self.inline.open(id, Some(MarkKind::Em), None),
            "code" | "kbd" | "samp" | "tt" => self.inline.open(id, Some(MarkKind::Code), None),
            "br" => self.inline.space(),
            "ul" | "ol" if self.table.is_none() && self.heading.is_none() => {
                if self.lists.is_empty() {
                    self.flush();
                    self.list_lines.clear();
                    self.list_items.clear();
                    self.list_links_only = true;
                } else {
                    self.end_item();
                }
                let indent = match (self.lists.last(), &self.item) {
                    (Some(_), Some(marker)) => marker.len(),
                    (Some(l), None) => l.indent + 2,
                    (None, _) => 0,
                };
                let start = el
                    .attr("start")
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(1);
                self.lists.push(HtmlList {
                    ordered: name == "ol",
                    next: start,
                    indent,
                });
                self.item = None;
            }
            "li" if !self.lists.is_empty() && self.table.is_none() && self.heading.is_none() => {
                self.end_item();
                if let Some(l) = self.lists.last_mut() {
                    let marker = if l.ordered {
                        let m = format!("{}{}. ", " ".repeat(l.indent), l.next);
                        l.next += 1;
                        m
                    } else {
                        format!("{}- ", " ".repeat(l.indent))
                    };
                    self.item = Some(marker);
                }
            }
            "pre" if !self.inline_context() => {
                self.flush();
                self.pre = Some((id, String::new()));
            }
            "blockquote" if !self.inline_context() => {
                self.flush();
                self.quote += 1;
            }
            "table" if !self.inline_context() => {
                self.flush();
                self.table = Some(Vec::new());
            }
            "thead" => self.in_head = true,
            "tr" if self.table.is_some() => {
                self.end_cell();
                if let Some(t) = self.table.as_mut() {
                    t.push((self.in_head, Vec::new()));
                }
            }
            "td" | "th" if self.table.is_some() => {
                self.end_cell();
                if let Some(t) = self.table.as_mut() {
                    if t.is_empty() {
                        t.push((self.in_head, Vec::new()));
                    }
                    if let Some(row) = t.last_mut() {
                        if name == "td" {
                            row.0 = row.0 && self.in_head;
                        } else if row.1.is_empty() {
                            row.0 = true;
                        }
                    }
                }
                self.in_cell = true;
            }
            n if INLINE_TAGS.contains(&n) => {}
            _ => {
                if self.inline_context() {
                    self.inline.space();
                } else {
                    self.flush();
                }
            }
        }
    }

    fn close(&mut self, id: NodeId, el: &Element) {
        let name = el.name();
        if let Some((pre_id, _)) = &self.pre {
            if *pre_id == id
                && let Some((_, code)) = self.pre.take()
                && !code.trim().is_empty()
            {
                self.push(Block {
                    kind: Kind::Other,
                    md: fenced(&code),
                    text: String::new(),
                    items: Vec::new(),
                    links_only: false,
                });
            }
            return;
        }
        if let Some((hid, level)) = self.heading
            && hid == id
        {
            self.heading = None;
            let (_, plain, _) = self.inline.take();
            if !plain.is_empty() {
                self.push(Block::heading(level, &plain));
            }
            return;
        }
        match name {
            "a" | "strong" | "b" | "em" | "i" | "code" | "kbd" | "samp" | "tt" => {
                self.inline.close(id);
            }
            "ul" | "ol"
                if !self.lists.is_empty() && self.table.is_none() && self.heading.is_none() =>
            {
                self.end_item();
                self.lists.pop();
                self.item = None;
                if self.lists.is_empty() {
                    self.end_lists();
                }
            }
            "li" if !self.lists.is_empty() && self.table.is_none() && self.heading.is_none() => {
                self.end_item();
            }
            "blockquote" if self.quote > 0 && !self.inline_context() => {
                self.flush();
                self.quote -= 1;
            }
            "thead" => self.in_head = false,
            "td" | "th" => self.end_cell(),
            "table" if self.table.is_some() => {
                self.end_cell();
                if let Some(rows) = self.table.take() {
                    let items: Vec<String> = rows
                        .into_iter()
                        .filter(|(head, _)| !head)
                        .map(|(_, cells)| table_row(cells.into_iter()))
                        .filter(|r| !r.is_empty())
                        .collect();
                    if !items.is_empty() {
                        self.push(list_block(items));
                    }
                }
            }
            n if INLINE_TAGS.contains(&n) => {}
            _ => {
                if self.inline_context() {
                    self.inline.space();
                } else {
                    self.flush();
                }
            }
        }
    }

    fn end_cell(&mut self) {
        if !self.in_cell {
            return;
        }
        self.in_cell = false;
        let (_, plain, _) = self.inline.take();
        if let Some(row) = self.table.as_mut().and_then(|t| t.last_mut()) {
            row.1.push(plain);
        }
    }

    /// Closes the open list item into a line.
    fn end_item(&mut self) {
        let (md, plain, links_only) = self.inline.take();
        if plain.is_empty() {
            return;
        }
        let marker = match &self.item {
            Some(m) => m.clone(),
            None => {
                let indent = self.lists.last().map_or(0, |l| l.indent);
                format!("{}- ", " ".repeat(indent))
            }
        };
        // Text after a nested list continues the item under it.
        self.item = Some(" ".repeat(marker.len()));
        self.list_lines
            .push(format!("{marker}{}", escape_line_start(&md)));
        self.list_items.push(plain);
        self.list_links_only &= links_only;
    }

    /// Emits the list collected so far.
    fn end_lists(&mut self) {
        self.end_item();
        self.lists.clear();
        self.item = None;
        if self.list_lines.is_empty() {
            return;
        }
        let items = std::mem::take(&mut self.list_items);
        let block = Block {
            kind: Kind::List,
            md: std::mem::take(&mut self.list_lines).join("\n"),
            text: items.join("\n"),
            items,
            links_only: self.list_links_only,
        };
        self.push(block);
    }

    /// Emits the inline text collected so far as a paragraph.
    fn flush(&mut self) {
        if !self.lists.is_empty() {
            return;
        }
        let (md, plain, links_only) = self.inline.take();
        if plain.is_empty() {
            return;
        }
        self.push(Block {
            kind: Kind::Paragraph,
            md: escape_line_start(&md),
            text: plain,
            items: Vec::new(),
            links_only,
        });
    }

    fn push(&mut self, mut block: Block) {
        if self.quote > 0 && !matches!(block.kind, Kind::Heading(_)) {
            block.md = block
                .md
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        ">".to_string()
                    } else {
                        format!("> {l}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            block.kind = Kind::Other;
        }
        self.blocks.push(block);
    }
}

// ---------------------------------------------------------------------------
// Dates.

/// `2026-03-14`, or the date part of `2026-03-14T09:00:00Z`.
fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let d = s.get(..10)?;
    if s.len() > 10 && !s[10..].starts_with(['T', 't', ' ']) {
        return None;
    }
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

fn month(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = word.to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    if w == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|m| *m == w || (w.len() == 3 && m.starts_with(&w)))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// A date at the start of `s`: ISO, "March 14, 2026", "Mar. 14 2026", "14 March 2026".
fn parse_date_prefix(s: &str) -> Option<NaiveDate> {
    let s = s.trim_start();
    if let Some(d) = s
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    {
        return Some(d);
    }
    let words: Vec<String> = s
        .split_whitespace()
        .take(3)
        .map(|w| {
            w.trim_matches(|c: char| matches!(c, ',' | '.' | '|' | '·'))
                .to_string()
        })
        .collect();
    if words.len() < 3 {
        return None;
    }
    let day = |w: &str| -> Option<u32> {
        let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let d: u32 = digits.parse().ok()?;
        (1..=31).contains(&d).then_some(d)
    };
    let year = |w: &str| -> Option<i32> { (w.len() == 4).then(|| w.parse().ok()).flatten() };
    let (m, d, y) = if let Some(m) = month(&words[0]) {
        (m, day(&words[1])?, year(&words[2])?)
    } else {
        (month(&words[1])?, day(&words[0])?, year(&words[2])?)
    };
    NaiveDate::from_ymd_opt(y, m, d)
}

/// "Published March 14, 2026", "By Ana | Published on 2026-03-14": the date.
fn published_line(text: &str) -> Option<NaiveDate> {
    if text.split_whitespace().count() > 30 {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let at = lower.find("published")?;
    let rest = text[at + "published".len()..].trim_start();
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
    let rest = rest
        .strip_prefix("on ")
        .or_else(|| rest.strip_prefix("On "))
        .unwrap_or(rest);
    parse_date_prefix(rest)
}

// ---------------------------------------------------------------------------
// Chrome in text (both formats).

/// A paragraph that is page chrome; the kind, for the summary. Rules are narrow on
/// purpose: a prose sentence that happens to start with "By" or "Sign up" stays.
fn chrome_text(text: &str) -> Option<&'static str> {
    let original = text.trim();
    let t = original.to_lowercase();
    let words = t.split_whitespace().count();
    if words == 0 || words > 80 {
        return None;
    }
    let starts = |ps: &[&str]| ps.iter().any(|p| t.starts_with(p));
    let has = |ps: &[&str]| ps.iter().any(|p| t.contains(p));
    if starts(&[
        "related:",
        "related articles",
        "related reading",
        "related posts",
        "related content",
        "related stories",
        "see also:",
        "read more:",
        "read next:",
        "read also:",
        "you may also like",
        "you might also like",
        "recommended for you",
        "recommended reading",
    ]) || (t.starts_with("more from ") && words <= 8)
    {
        return Some("related link");
    }
    if has(&[
        "rate this article",
        "rate this post",
        "rate this page",
        "was this article helpful",
        "was this helpful",
        "how helpful was",
    ]) || (t.chars().filter(|c| matches!(c, '★' | '☆')).count() >= 3)
    {
        return Some("rating widget");
    }
    let signup = has(&["sign up", "sign-up", "signup", "subscribe", "join"]);
    let mailing = has(&["newsletter", "inbox", "email updates", "mailing list"]);
    if (signup && mailing) || t.starts_with("get our newsletter") {
        return Some("newsletter sign-up");
    }
    if starts(&[
        "share this",
        "share on ",
        "share:",
        "share article",
        "share the article",
        "share via",
    ]) {
        return Some("share links");
    }
    if t.contains("cookie")
        && has(&[
            "we use",
            "this site uses",
            "this website uses",
            "accept",
            "consent",
            "our use of",
        ])
    {
        return Some("cookie notice");
    }
    // "By Priya Natarajan", not "By contrast, …".
    let byline = t.starts_with("by ")
        && words <= 12
        && original
            .split_whitespace()
            .nth(1)
            .is_some_and(|w| w.starts_with(char::is_uppercase) && !w.ends_with(','));
    if byline
        || starts(&[
            "about the author",
            "written by ",
            "author:",
            "reviewed by ",
            "fact-checked by ",
            "edited by ",
        ])
    {
        return Some("author blurb");
    }
    if (t.starts_with("home ") || t.starts_with("home>") || t.starts_with("home/"))
        && has(&[" > ", " / ", " » ", " › ", ">", "»", "›", " | "])
        && words <= 15
    {
        return Some("breadcrumbs");
    }
    if t == "search"
        || starts(&[
            "search jobs",
            "search articles",
            "search this site",
            "search the site",
            "search our ",
            "search…",
            "search...",
        ]) && words <= 6
    {
        return Some("search box");
    }
    let year_after = |p: &str| {
        t.strip_prefix(p)
            .map(|r| r.trim_start_matches([' ', '©']))
            .is_some_and(|r| r.starts_with("19") || r.starts_with("20"))
    };
    if t.starts_with('©') || year_after("copyright") || t.contains("all rights reserved") {
        return Some("copyright line");
    }
    if matches!(
        t.trim_end_matches(['.', '…']),
        "menu" | "skip to content" | "skip to main content" | "advertisement" | "back to top"
    ) {
        return Some("navigation");
    }
    let updated = ["last updated", "updated"]
        .iter()
        .find_map(|p| t.strip_prefix(p));
    if let Some(rest) = updated {
        let rest = rest.trim_start_matches([':', ' ']);
        let rest = rest.strip_prefix("on ").unwrap_or(rest);
        if words <= 8 && parse_date_prefix(rest).is_some() {
            return Some("updated line");
        }
    }
    None
}

/// A heading that starts a chrome section (dropped with what follows it).
fn chrome_heading(text: &str) -> Option<&'static str> {
    let t = text.trim().to_lowercase();
    let words = t.split_whitespace().count();
    let starts = |ps: &[&str]| ps.iter().any(|p| t.starts_with(p));
    if starts(&[
        "related",
        "you may also like",
        "you might also like",
        "more from",
        "read next",
        "recommended for you",
        "recommended reading",
        "recommended articles",
        "popular posts",
        "popular articles",
        "most read",
        "keep reading",
    ]) {
        Some("related links")
    } else if starts(&["about the author", "meet the author", "author bio"]) || t == "author" {
        Some("author blurb")
    } else if (t.starts_with("share this") || t == "share") && words <= 4 {
        Some("share links")
    } else if starts(&[
        "newsletter",
        "subscribe",
        "join our newsletter",
        "get career tips",
    ]) || (t.starts_with("sign up") && t.contains("newsletter"))
    {
        Some("newsletter sign-up")
    } else if starts(&["rate this", "was this article helpful", "how helpful"]) {
        Some("rating widget")
    } else if starts(&["leave a reply", "leave a comment", "join the conversation"])
        || (t.ends_with("comments") && words <= 3)
    {
        Some("comments")
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Titles.

/// The two roles a title names: "A vs. B", "A vs B", "A versus B", "A or B", with
/// a suffix such as ": What Are The Differences?" or " – Key Differences", or
/// "What's the difference between A and B?".
pub fn parse_title(title: &str) -> Option<(String, String)> {
    let t = collapse(title);
    let mut segments = vec![t.as_str()];
    for sep in [":", " – ", " — ", " - ", " | ", " · ", "?", " // "] {
        segments = segments.into_iter().flat_map(|s| s.split(sep)).collect();
    }
    segments.into_iter().find_map(parse_pair)
}

fn parse_pair(segment: &str) -> Option<(String, String)> {
    let lower = segment.to_ascii_lowercase();
    let (left, right) = if let Some(at) = lower.find("difference between ") {
        let rest = &segment[at + "difference between ".len()..];
        let and = rest.to_ascii_lowercase().find(" and ")?;
        (&rest[..and], &rest[and + " and ".len()..])
    } else {
        let seps = [" vs. ", " vs ", " versus ", " v. ", " vs.", " or "];
        let (at, len) = seps.iter().find_map(|s| {
            let at = lower.find(s)?;
            // " vs." must not swallow a following letter ("vs.Other" aside).
            Some((at, s.len()))
        })?;
        (&segment[..at], &segment[at + len..])
    };
    let left = left.rsplit(',').next().unwrap_or(left);
    let right = right.split(',').next().unwrap_or(right);
    let a = clean_role(left, true)?;
    let b = clean_role(right, false)?;
    (a.to_lowercase() != b.to_lowercase()).then_some((a, b))
}

/// Trims a role name out of the words around it; `None` when it is not a plausible role.
fn clean_role(s: &str, left: bool) -> Option<String> {
    let mut s = collapse(s);
    // "(RN)" and the like.
    while let (Some(open), Some(close)) = (s.find('('), s.rfind(')')) {
        if open >= close {
            break;
        }
        s = collapse(&format!("{}{}", &s[..open], &s[close + 1..]));
    }
    let mut s = s
        .trim_matches(|c: char| matches!(c, '?' | '!' | '.' | ',' | ';' | '"' | '\'' | '“' | '”'))
        .trim()
        .to_string();
    if left {
        // "Should You Become a Nurse" → "Nurse".
        let lower = format!(" {}", s.to_ascii_lowercase());
        if let Some(at) = [" a ", " an ", " the "]
            .iter()
            .filter_map(|a| lower.rfind(a).map(|p| p + a.len()))
            .max()
        {
            s = s
                .get(at.saturating_sub(1)..)
                .unwrap_or_default()
                .trim()
                .to_string();
        }
    }
    for article in ["a ", "an ", "the "] {
        if s.len() > article.len()
            && s.get(..article.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(article))
        {
            s = s[article.len()..].trim().to_string();
        }
    }
    if !left {
        let suffixes = [
            " key differences",
            " differences",
            " difference",
            " comparison",
            " compared",
            " explained",
            " careers",
            " career",
            " jobs",
            " roles",
        ];
        loop {
            let lower = s.to_ascii_lowercase();
            let Some(suf) = suffixes.iter().find(|x| lower.ends_with(*x)) else {
                break;
            };
            s.truncate(s.len() - suf.len());
            s = s.trim().to_string();
        }
    }
    let lower = format!(" {} ", s.to_ascii_lowercase());
    let ok = !s.is_empty()
        && s.chars().any(char::is_alphabetic)
        && s.split_whitespace().count() <= 6
        && s.chars().count() <= 60
        && ![" vs ", " vs. ", " versus ", " or "]
            .iter()
            .any(|x| lower.contains(x));
    ok.then_some(s)
}

/// "associate-producer-vs-assistant-producer".
fn slugify(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.len() > 120 {
        out.truncate(120);
        while out.ends_with('-') {
            out.pop();
        }
    }
    out
}

/// "a" or "an" before a role name.
fn article(role: &str) -> &'static str {
    let first = role.split_whitespace().next().unwrap_or_default();
    let is_acronym = first.len() >= 2 && first.chars().all(|c| c.is_ascii_uppercase());
    if is_acronym {
        return if first.starts_with(['A', 'E', 'F', 'H', 'I', 'L', 'M', 'N', 'O', 'R', 'S', 'X']) {
            "an"
        } else {
            "a"
        };
    }
    let lower = first.to_ascii_lowercase();
    if ["hour", "honest", "heir"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return "an";
    }
    if ["uni", "use", "usu", "eu", "one", "ur"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return "a";
    }
    if lower.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

// ---------------------------------------------------------------------------
// Salaries.

/// A pay range found in prose.
#[derive(Debug, Clone, PartialEq)]
pub struct SalaryMatch {
    /// Byte offset of the first amount (its currency sign) in the text searched.
    pub start: usize,
    /// Byte offset just after the phrase.
    pub end: usize,
    /// The words, e.g. "between $30,000 and $100,000".
    pub phrase: String,
    /// The range.
    pub salary: Salary,
    /// False when no period was written and a year was taken.
    pub per_stated: bool,
}

/// Words near a range that say it is not pay.
const NOT_PAY: &[&str] = &[
    "bonus",
    "bonuses",
    "savings",
    "saving",
    "save",
    "saved",
    "tuition",
    "training",
    "debt",
    "loan",
    "loans",
    "budget",
    "budgets",
    "fee",
    "fees",
    "cost",
    "costs",
    "spend",
    "spent",
    "stipend",
    "signing",
    "relocation",
    "raise",
    "raises",
    "tips",
    "revenue",
    "sales",
    "funding",
    "equity",
    "stock",
    "course",
    "courses",
    "certification",
    "exam",
    "price",
    "prices",
    "million",
    "billion",
    "worth",
];

#[derive(Debug, Clone, Copy)]
struct Amount {
    start: usize,
    end: usize,
    value: f64,
    k: bool,
    currency: &'static str,
}

/// Reads a number like `50,000`, `25.50` or `45k` at `pos`: (value, end, has k).
fn parse_number(text: &str, pos: usize) -> Option<(f64, usize, bool)> {
    let b = text.as_bytes();
    let mut j = pos;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    if j == pos || j - pos > 9 {
        return None;
    }
    let mut digits = text[pos..j].to_string();
    while j + 3 < b.len() + 1
        && b.get(j) == Some(&b',')
        && b.get(j + 1..j + 4)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && !b.get(j + 4).is_some_and(u8::is_ascii_digit)
    {
        digits.push_str(&text[j + 1..j + 4]);
        j += 4;
    }
    if b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
        let d0 = j + 1;
        let mut e = d0;
        while e < b.len() && b[e].is_ascii_digit() {
            e += 1;
        }
        if e - d0 <= 2 {
            digits.push('.');
            digits.push_str(&text[d0..e]);
            j = e;
        } else {
            return None;
        }
    }
    let mut k = false;
    let next_alpha = |i: usize| b.get(i).is_some_and(u8::is_ascii_alphanumeric);
    if matches!(b.get(j), Some(b'k' | b'K')) && !next_alpha(j + 1) {
        k = true;
        j += 1;
    } else if matches!(b.get(j), Some(b'm' | b'M' | b'b' | b'B')) {
        // $2m, $1.5bn, $5,000mo… : not a salary amount we can read.
        return None;
    }
    if next_alpha(j) {
        return None;
    }
    let value: f64 = digits.parse().ok()?;
    value.is_finite().then_some((value, j, k))
}

/// The sign a currency is written with: `US$50 to $60` is one range.
fn sign(currency: &str) -> char {
    match currency {
        "GBP" => '£',
        "EUR" => '€',
        _ => '$',
    }
}

/// A currency sign (with a country prefix such as `US$`) and amount at `pos`.
fn amount_at(text: &str, pos: usize) -> Option<Amount> {
    let c = text[pos..].chars().next()?;
    let mut currency = match c {
        '$' => "USD",
        '£' => "GBP",
        '€' => "EUR",
        _ => return None,
    };
    let mut start = pos;
    if c == '$' {
        let before = &text[..pos];
        let letters = before
            .bytes()
            .rev()
            .take_while(u8::is_ascii_uppercase)
            .count();
        let prefix = &before[before.len() - letters..];
        let bounded = before[..before.len() - letters]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let code = match prefix {
            "US" => Some("USD"),
            "C" | "CA" => Some("CAD"),
            "A" | "AU" => Some("AUD"),
            "NZ" => Some("NZD"),
            _ => None,
        };
        if let Some(code) = code.filter(|_| bounded) {
            currency = code;
            start = pos - letters;
        }
    }
    let (value, end, k) = parse_number(text, pos + c.len_utf8())?;
    Some(Amount {
        start,
        end,
        value,
        k,
        currency,
    })
}

/// Up to `n` words after `pos`, stopping at clause punctuation: (lowercase word, end).
fn words_after(text: &str, pos: usize, n: usize) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_end = pos;
    for (i, c) in text[pos..].char_indices() {
        let at = pos + i;
        if c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.' | '!' | '?' | '(' | ')') {
            if !cur.is_empty() {
                out.push((std::mem::take(&mut cur), cur_end));
                if out.len() >= n {
                    return out;
                }
            }
            if !c.is_whitespace() {
                return out;
            }
        } else {
            cur.extend(c.to_lowercase());
            cur_end = at + c.len_utf8();
        }
    }
    if !cur.is_empty() && out.len() < n {
        out.push((cur, cur_end));
    }
    out
}

/// Up to `n` words before `pos`, nearest first, stopping at clause punctuation:
/// (lowercase word, start).
fn words_before(text: &str, pos: usize, n: usize) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut cur: Vec<char> = Vec::new();
    let mut cur_start = pos;
    for (i, c) in text[..pos].char_indices().rev() {
        if c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.' | '!' | '?' | '(' | ')') {
            if !cur.is_empty() {
                out.push((
                    cur.iter().rev().flat_map(|c| c.to_lowercase()).collect(),
                    cur_start,
                ));
                cur.clear();
                if out.len() >= n {
                    return out;
                }
            }
            if !c.is_whitespace() {
                return out;
            }
        } else {
            cur.push(c);
            cur_start = i;
        }
    }
    if !cur.is_empty() && out.len() < n {
        out.push((
            cur.iter().rev().flat_map(|c| c.to_lowercase()).collect(),
            cur_start,
        ));
    }
    out
}

fn unit_word(w: &str) -> Option<Per> {
    Some(match w {
        "annually" | "annual" | "yearly" | "/year" | "/yr" | "/annum" | "a-year" | "per-year" => {
            Per::Year
        }
        "hourly" | "/hour" | "/hr" | "an-hour" | "per-hour" => Per::Hour,
        "monthly" | "/month" | "/mo" | "a-month" | "per-month" => Per::Month,
        "weekly" | "/week" | "/wk" | "a-week" | "per-week" => Per::Week,
        "daily" | "/day" | "a-day" | "per-day" => Per::Day,
        _ => return None,
    })
}

fn unit_noun(w: &str) -> Option<Per> {
    Some(match w {
        "year" | "yr" | "annum" => Per::Year,
        "hour" | "hr" => Per::Hour,
        "month" | "mo" => Per::Month,
        "week" | "wk" => Per::Week,
        "day" => Per::Day,
        _ => return None,
    })
}

/// The period in `words` (after a range): (period, end of its words).
fn unit_after(words: &[(String, usize)]) -> Option<(Per, usize)> {
    for (i, (w, end)) in words.iter().enumerate() {
        if let Some(p) = unit_word(w) {
            return Some((p, *end));
        }
        if matches!(w.as_str(), "per" | "a" | "an" | "each" | "every")
            && let Some((next, end)) = words.get(i + 1)
            && let Some(p) = unit_noun(next)
        {
            return Some((p, *end));
        }
    }
    None
}

/// Every salary range in `text`: two amounts joined by "to", "and" (after
/// "between") or a dash, with a currency sign, and a period after or before them.
/// Ranges without a period count when they are 10,000 or more (a year); single
/// amounts never do, nor ranges next to words such as "bonus" or "training".
pub fn find_salary_ranges(text: &str) -> Vec<SalaryMatch> {
    let mut out = Vec::new();
    let mut from = 0;
    for (i, c) in text.char_indices() {
        if i < from || !matches!(c, '$' | '£' | '€') {
            continue;
        }
        if let Some(m) = range_at(text, i) {
            from = m.end;
            out.push(m);
        }
    }
    out
}

fn range_at(text: &str, pos: usize) -> Option<SalaryMatch> {
    let a1 = amount_at(text, pos)?;
    // The connector.
    let rest = &text[a1.end..];
    let trimmed = rest.trim_start();
    let mut at = a1.end + (rest.len() - trimmed.len());
    // Only the next few bytes matter: never copy the rest of a long text.
    let word = |w: &str| {
        trimmed
            .get(..w.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(w))
    };
    let mut and_form = false;
    if let Some(c) = trimmed
        .chars()
        .next()
        .filter(|c| matches!(c, '-' | '–' | '—'))
    {
        at += c.len_utf8();
    } else if word("to ") {
        at += 2;
    } else if word("and ") {
        at += 3;
        and_form = true;
    } else {
        return None;
    }
    let before = words_before(text, a1.start, 4);
    if and_form && before.first().map(|(w, _)| w.as_str()) != Some("between") {
        return None;
    }
    let rest = &text[at..];
    at += rest.len() - rest.trim_start().len();
    // The second amount: its own sign (the same currency), or none.
    let prefix = text[at..]
        .bytes()
        .take_while(u8::is_ascii_uppercase)
        .count();
    if (1..=2).contains(&prefix) && text[at + prefix..].starts_with('$') {
        at += prefix;
    }
    let a2 = match text[at..].chars().next()? {
        '$' | '£' | '€' => {
            let a = amount_at(text, at)?;
            if sign(a.currency) != sign(a1.currency) {
                return None;
            }
            a
        }
        c if c.is_ascii_digit() => {
            let (value, end, k) = parse_number(text, at)?;
            Amount {
                start: at,
                end,
                value,
                k,
                currency: a1.currency,
            }
        }
        _ => return None,
    };
    let mut v1 = a1.value * if a1.k { 1000.0 } else { 1.0 };
    let mut v2 = a2.value * if a2.k { 1000.0 } else { 1.0 };
    if a2.k && !a1.k && a1.value < 1000.0 {
        v1 = a1.value * 1000.0;
    }
    if a1.k && !a2.k && a2.value < 1000.0 {
        v2 = a2.value * 1000.0;
    }
    let mut end = a2.end;
    let mut currency = a1.currency;
    let after = words_after(text, end, 5);
    // "$50,000 to $60,000 CAD".
    let mut after_words: &[(String, usize)] = &after;
    if let Some((w, e)) = after.first() {
        let code = w.to_ascii_uppercase();
        let family = match a1.currency {
            "GBP" => &["GBP"][..],
            "EUR" => &["EUR"][..],
            _ => &["USD", "CAD", "AUD", "NZD"][..],
        };
        if family.contains(&code.as_str()) {
            currency = family
                .iter()
                .find(|c| **c == code)
                .copied()
                .unwrap_or(currency);
            end = *e;
            after_words = &after[1..];
        }
    }
    let near_after = &after_words[..after_words.len().min(4)];
    if near_after
        .iter()
        .chain(before.iter().take(3))
        .any(|(w, _)| NOT_PAY.contains(&w.as_str()))
    {
        return None;
    }
    let (per, per_stated) = match unit_after(near_after) {
        Some((p, e)) => {
            end = e;
            (p, true)
        }
        None => match before.iter().find_map(|(w, _)| unit_word(w)) {
            Some(p) => (p, true),
            None if v1 >= 10_000.0 => (Per::Year, false),
            None => return None,
        },
    };
    if !(v1 >= 0.5 && v1 <= v2 && v2 < 1e9) {
        return None;
    }
    // Include "between" / "from" / "anywhere from" in the quoted phrase.
    let mut phrase_start = a1.start;
    if let Some((w, s)) = before.first()
        && matches!(w.as_str(), "between" | "from")
    {
        phrase_start = *s;
        if w == "from"
            && let Some((w2, s2)) = before.get(1)
            && w2 == "anywhere"
        {
            phrase_start = *s2;
        }
    }
    Some(SalaryMatch {
        start: a1.start,
        end,
        phrase: text[phrase_start..end].to_string(),
        salary: Salary {
            min: v1.round() as u64,
            max: v2.round() as u64,
            currency: currency.to_string(),
            per,
        },
        per_stated,
    })
}

/// Where each role is named in `text`: (start, role index), longer names winning
/// over names they contain ("Associate Producer" over "Producer").
fn role_mentions(text: &str, roles: &[&str]) -> Vec<(usize, usize)> {
    let hay = text.to_ascii_lowercase();
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (r, name) in roles.iter().enumerate() {
        let name = name.to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        let mut forms = vec![name.clone(), format!("{name}s"), format!("{name}es")];
        if let Some(stem) = name.strip_suffix('y') {
            forms.push(format!("{stem}ies"));
        }
        for form in forms {
            let mut from = 0;
            while let Some(p) = hay.get(from..).and_then(|h| h.find(&form)) {
                let s = from + p;
                let e = s + form.len();
                let before_ok = hay[..s]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric());
                let after_ok = hay[e..].chars().next().is_none_or(|c| !c.is_alphanumeric());
                if before_ok && after_ok {
                    spans.push((s, e, r));
                }
                from = s + hay[s..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    let mut kept: Vec<(usize, usize)> = spans
        .iter()
        .filter(|(s, e, r)| {
            !spans
                .iter()
                .any(|(s2, e2, r2)| r2 != r && s2 <= s && e <= e2 && (e2 - s2) > (e - s))
        })
        .map(|(s, _, r)| (*s, *r))
        .collect();
    kept.sort_unstable();
    kept.dedup();
    kept
}

/// The one role `text` names, if exactly one.
fn only_role(text: &str, roles: &[&str]) -> Option<usize> {
    let m = role_mentions(text, roles);
    let first = m.first()?.1;
    m.iter().all(|(_, r)| *r == first).then_some(first)
}

// ---------------------------------------------------------------------------
// Building the comparison.

/// Text to search for salaries, with its context.
struct Scan {
    text: String,
    in_salary: bool,
    /// The role of the innermost heading that names exactly one.
    context: Option<usize>,
    heading: String,
}

fn build(doc: Doc, format: Format, url: Option<&str>) -> Result<Imported, ImportError> {
    let mut report = Report {
        dropped: doc.dropped,
        ..Report::default()
    };
    let mut blocks = doc.blocks;

    // The page title: the first `#`/`<h1>` naming two roles before any section, else
    // a first heading of level 1; what came before it is page chrome.
    let limit = blocks
        .iter()
        .position(|b| {
            matches!(b.kind, Kind::Heading(_))
                && SectionKind::classify(&b.text, &[]) != SectionKind::Other
        })
        .unwrap_or(blocks.len());
    let no_other_title =
        doc.front_title.is_none() && !doc.page_titles.iter().any(|t| parse_title(t).is_some());
    let title_at = blocks[..limit]
        .iter()
        .position(|b| b.kind == Kind::Heading(1) && parse_title(&b.text).is_some())
        .or_else(|| {
            let first = blocks
                .iter()
                .position(|b| matches!(b.kind, Kind::Heading(_)))?;
            (first < limit && blocks[first].kind == Kind::Heading(1) && doc.front_title.is_none())
                .then_some(first)
        })
        .or_else(|| {
            // A pasted page whose title is a plain first line, e.g. "**A vs. B**".
            let first = blocks.first()?;
            let short = first.text.split_whitespace().count() <= 10;
            (no_other_title
                && matches!(first.kind, Kind::Heading(_) | Kind::Paragraph)
                && short
                && parse_title(&first.text).is_some())
            .then_some(0)
        });
    let mut title_heading = None;
    if let Some(at) = title_at {
        for b in &blocks[..at] {
            if !b.text.trim().is_empty() {
                report
                    .dropped
                    .push(format!("text before the title {}", snippet(&b.text)));
            }
        }
        title_heading = Some(blocks[at].text.clone());
        blocks.drain(..=at);
    }
    let candidates: Vec<String> = doc
        .front_title
        .into_iter()
        .chain(title_heading)
        .chain(doc.page_titles)
        .filter(|t| !t.trim().is_empty())
        .collect();
    let Some((a, b)) = candidates.iter().find_map(|t| parse_title(t)) else {
        return Err(match candidates.into_iter().next() {
            Some(t) => ImportError::NoRoles(t),
            None => ImportError::NoTitle,
        });
    };
    let title = format!("{a} vs. {b}");
    let slug = slugify(&title);
    if slug.is_empty() {
        return Err(ImportError::NoSlug(title));
    }
    let roles = [a.as_str(), b.as_str()];

    // Chrome in text, and the "Published …" line.
    let mut published = doc.published;
    let mut kept: Vec<Block> = Vec::with_capacity(blocks.len());
    let mut skip_below: Option<u8> = None;
    for block in blocks {
        if let Kind::Heading(level) = block.kind {
            if skip_below.is_some_and(|l| level > l) {
                report
                    .dropped
                    .push(format!("heading {}", snippet(&block.text)));
                continue;
            }
            skip_below = None;
            if SectionKind::classify(&block.text, &roles) == SectionKind::Other
                && let Some(kind) = chrome_heading(&block.text)
            {
                report
                    .dropped
                    .push(format!("{kind} section {}", snippet(&block.text)));
                skip_below = Some(level);
                continue;
            }
            kept.push(block);
            continue;
        }
        if skip_below.is_some() {
            continue;
        }
        if block.kind == Kind::Paragraph
            && let Some(date) = published_line(&block.text)
        {
            if published.is_none() {
                published = Some((date, "a \"Published\" line"));
            }
            report
                .dropped
                .push(format!("byline {}", snippet(&block.text)));
            continue;
        }
        let chrome = match block.kind {
            Kind::Paragraph | Kind::Other => chrome_text(&block.text),
            Kind::List if block.items.iter().all(|i| chrome_text(i).is_some()) => {
                block.items.first().and_then(|i| chrome_text(i))
            }
            _ => None,
        };
        if let Some(kind) = chrome {
            report
                .dropped
                .push(format!("{kind} {}", snippet(&block.text)));
            continue;
        }
        if block.links_only {
            let what = if block.kind == Kind::List {
                format!("list of {} links", block.items.len())
            } else {
                format!("link-only paragraph {}", snippet(&block.text))
            };
            report.dropped.push(what);
            continue;
        }
        kept.push(block);
    }

    // Sections.
    let section_level = kept
        .iter()
        .filter_map(|b| match b.kind {
            Kind::Heading(l) => Some(l),
            _ => None,
        })
        .min();
    let mut out: Vec<String> = Vec::new();
    let mut seen: Vec<SectionKind> = Vec::new();
    let mut headings: Vec<String> = Vec::new();
    let mut current: Option<SectionKind> = None;
    let mut in_first_duties = false;
    let mut duties: Option<(String, String)> = None;
    let mut stack: Vec<(u8, Option<usize>, String)> = Vec::new();
    let mut scans: Vec<Scan> = Vec::new();
    for block in kept {
        match block.kind {
            Kind::Heading(level) => {
                let text = block.text.trim().to_string();
                if Some(level) == section_level {
                    let kind = SectionKind::classify(&text, &roles);
                    let heading = match kind {
                        SectionKind::Other => text.clone(),
                        k if seen.contains(&k) => text.clone(),
                        SectionKind::WhatIs(i) => {
                            format!("What is {} {}?", article(roles[i]), roles[i])
                        }
                        k => k.label().to_string(),
                    };
                    headings.push(text.clone());
                    if kind == SectionKind::Other {
                        report.other_sections.push(heading.clone());
                    } else if !seen.contains(&kind) {
                        report.sections.push(heading.clone());
                    }
                    in_first_duties = kind == SectionKind::Duties && !seen.contains(&kind);
                    if in_first_duties {
                        duties = Some((heading.clone(), String::new()));
                    }
                    seen.push(kind);
                    current = Some(kind);
                    let role = match kind {
                        SectionKind::WhatIs(i) => Some(i),
                        _ => only_role(&text, &roles),
                    };
                    stack = vec![(level, role, heading.clone())];
                    out.push(format!("## {}", escape_text(&heading)));
                } else {
                    let depth = usize::from(level)
                        .saturating_sub(usize::from(section_level.unwrap_or(level)))
                        + 2;
                    let hashes = "#".repeat(depth.clamp(3, 6));
                    stack.retain(|(l, _, _)| *l < level);
                    stack.push((level, only_role(&text, &roles), text.clone()));
                    out.push(format!("{hashes} {}", escape_text(&text)));
                }
                if in_first_duties
                    && let Some((_, md)) = duties.as_mut()
                    && Some(level) != section_level
                {
                    md.push_str(&format!("### {}\n\n", escape_text(&text)));
                }
            }
            _ => {
                if in_first_duties && let Some((_, md)) = duties.as_mut() {
                    md.push_str(&block.md);
                    md.push_str("\n\n");
                }
                let context = stack.iter().rev().find_map(|(_, r, _)| *r);
                let heading = stack.first().map_or_else(
                    || "the introduction".to_string(),
                    |(_, _, h)| format!("`{h}`"),
                );
                let texts = if block.kind == Kind::List {
                    block.items.clone()
                } else {
                    vec![block.text.clone()]
                };
                for text in texts {
                    scans.push(Scan {
                        text,
                        in_salary: current == Some(SectionKind::Salary),
                        context,
                        heading: heading.clone(),
                    });
                }
                out.push(block.md);
            }
        }
    }
    let Some((duties_heading, duties_md)) = duties else {
        let list = if headings.is_empty() {
            "none".to_string()
        } else {
            headings
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(ImportError::NoDuties(list));
    };
    if content::excerpt(&duties_md, EXCERPT_RULE.words).is_none() {
        return Err(ImportError::DutiesWithoutParagraph(duties_heading));
    }
    for (i, name) in roles.iter().enumerate() {
        if !seen.contains(&SectionKind::WhatIs(i)) {
            report
                .missing
                .push(format!("What is {} {}?", article(name), name));
        }
    }
    for kind in [
        SectionKind::Requirements,
        SectionKind::Environment,
        SectionKind::Skills,
        SectionKind::Salary,
    ] {
        if !seen.contains(&kind) {
            report.missing.push(kind.label().to_string());
        }
    }

    // Salaries: the Salary section first, then the rest in order.
    let mut found: [Option<FoundSalary>; 2] = [None, None];
    let (first, rest): (Vec<&Scan>, Vec<&Scan>) = scans.iter().partition(|s| s.in_salary);
    for scan in first.into_iter().chain(rest) {
        let ends = content::sentence_ends(&scan.text);
        let mut start = 0;
        for end in ends.into_iter().chain(std::iter::once(scan.text.len())) {
            if end <= start {
                continue;
            }
            let Some(sentence) = scan.text.get(start..end) else {
                continue;
            };
            start = end;
            let mentions = role_mentions(sentence, &roles);
            for m in find_salary_ranges(sentence) {
                let by_sentence = mentions
                    .iter()
                    .rev()
                    .find(|(p, _)| *p < m.start)
                    .or_else(|| mentions.iter().find(|(p, _)| *p > m.start))
                    .map(|(_, r)| *r);
                let (role, source) = match (by_sentence, scan.context) {
                    (Some(r), _) => (r, "its sentence"),
                    (None, Some(r)) => (r, "its section"),
                    (None, None) => {
                        report.notes.push(format!(
                            "\"{}\" in {} names no role in its sentence or section; not used",
                            m.phrase, scan.heading
                        ));
                        continue;
                    }
                };
                match &found[role] {
                    Some(f) => {
                        if f.salary != m.salary {
                            report.notes.push(format!(
                                "\"{}\" for {} ignored: the first range found is kept",
                                m.phrase, roles[role]
                            ));
                        }
                    }
                    None => {
                        found[role] = Some(FoundSalary {
                            salary: m.salary,
                            phrase: m.phrase,
                            per_stated: m.per_stated,
                            source,
                        });
                    }
                }
            }
        }
    }
    const MAX_NOTES: usize = 20;
    if report.notes.len() > MAX_NOTES {
        let more = report.notes.len() - MAX_NOTES;
        report.notes.truncate(MAX_NOTES);
        report
            .notes
            .push(format!("… and {more} more salary ranges not used"));
    }
    for (i, name) in roles.iter().enumerate() {
        if found[i].is_none()
            && let Some(s) = doc
                .front_roles
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(name))
                .and_then(|r| r.salary.clone())
        {
            found[i] = Some(FoundSalary {
                phrase: s.to_string(),
                salary: s,
                per_stated: true,
                source: "front matter",
            });
        }
    }

    let meta = ComparisonMeta {
        title,
        slug,
        url: url.map(str::to_string),
        published: published.map(|(d, _)| d.format("%Y-%m-%d").to_string()),
        roles: roles
            .iter()
            .zip(&found)
            .map(|(name, f)| Role {
                name: name.to_string(),
                salary: f.as_ref().map(|f| f.salary.clone()),
            })
            .collect(),
    };
    report.published_from = published.map(|(_, from)| from);
    report.salaries = found.to_vec();
    let text = format!("{}\n{}\n", front_matter_text(&meta), out.join("\n\n"));

    // The loader is the judge: never write what `check` would reject.
    let mut diags = Vec::new();
    let path = PathBuf::from(format!("{}.md", meta.slug));
    if content::parse_comparison(&path, &text, EXCERPT_RULE, &mut diags).is_none() {
        let errors: Vec<String> = diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.clone())
            .collect();
        return Err(ImportError::Invalid(errors.join("; ")));
    }
    Ok(Imported {
        format,
        meta,
        text,
        report,
        warnings: diags,
    })
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `+++` block, in the house layout (salaries as inline tables).
fn front_matter_text(meta: &ComparisonMeta) -> String {
    let mut s = String::from("+++\n");
    s.push_str(&format!("title = {}\n", toml_string(&meta.title)));
    s.push_str(&format!("slug = {}\n", toml_string(&meta.slug)));
    if let Some(url) = &meta.url {
        s.push_str(&format!("url = {}\n", toml_string(url)));
    }
    if let Some(p) = &meta.published {
        s.push_str(&format!("published = {}\n", toml_string(p)));
    }
    for role in &meta.roles {
        s.push_str(&format!(
            "\n[[roles]]\nname = {}\n",
            toml_string(&role.name)
        ));
        if let Some(sal) = &role.salary {
            let per = match sal.per {
                Per::Year => "year",
                Per::Month => "month",
                Per::Week => "week",
                Per::Day => "day",
                Per::Hour => "hour",
            };
            s.push_str(&format!(
                "salary = {{ min = {}, max = {}, currency = {}, per = \"{per}\" }}\n",
                sal.min,
                sal.max,
                toml_string(&sal.currency)
            ));
        }
    }
    s.push_str("+++\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Option<(u64, u64, String, Per, bool)> {
        let found = find_salary_ranges(text);
        assert!(found.len() <= 1, "{text:?}: {found:?}");
        found.into_iter().next().map(|m| {
            (
                m.salary.min,
                m.salary.max,
                m.salary.currency,
                m.salary.per,
                m.per_stated,
            )
        })
    }

    #[test]
    fn salary_phrases_are_read_with_currency_and_period() {
        let cases: &[(&str, u64, u64, &str, Per, bool)] = &[
            (
                "They earn anywhere from $50,000 to $150,000 annually.",
                50_000,
                150_000,
                "USD",
                Per::Year,
                true,
            ),
            (
                "Pay runs between $30,000 and $100,000.",
                30_000,
                100_000,
                "USD",
                Per::Year,
                false,
            ),
            (
                "Offers of $45k–$60k are common.",
                45_000,
                60_000,
                "USD",
                Per::Year,
                false,
            ),
            ("Expect $45–60k.", 45_000, 60_000, "USD", Per::Year, false),
            (
                "Trainees start on £28,000 to £35,000 a year.",
                28_000,
                35_000,
                "GBP",
                Per::Year,
                true,
            ),
            (
                "Cooks make $25 to $40 per hour.",
                25,
                40,
                "USD",
                Per::Hour,
                true,
            ),
            ("Cooks make $16-$22/hr.", 16, 22, "USD", Per::Hour, true),
            (
                "An hourly rate of $18.50 to $24 is typical.",
                19,
                24,
                "USD",
                Per::Hour,
                true,
            ),
            (
                "Salaries are €40,000-€55,000 per year.",
                40_000,
                55_000,
                "EUR",
                Per::Year,
                true,
            ),
            (
                "Contracts pay $5,000 – $7,500 a month.",
                5_000,
                7_500,
                "USD",
                Per::Month,
                true,
            ),
            (
                "Day rates are £300 to £450 per day.",
                300,
                450,
                "GBP",
                Per::Day,
                true,
            ),
            (
                "In Toronto it is C$60,000 to C$80,000 a year.",
                60_000,
                80_000,
                "CAD",
                Per::Year,
                true,
            ),
            (
                "Expect $70,000 to $90,000 AUD annually.",
                70_000,
                90_000,
                "AUD",
                Per::Year,
                true,
            ),
        ];
        for (text, min, max, cur, per, stated) in cases {
            assert_eq!(
                one(text),
                Some((*min, *max, cur.to_string(), *per, *stated)),
                "{text}"
            );
        }
    }

    #[test]
    fn amounts_that_are_not_a_salary_range_are_left_alone() {
        let cases = [
            "She had $50,000 in savings.",
            "The job comes with a $5,000 signing bonus.",
            "Employers pay up to $2,000 for training.",
            "Most earn $60,000.",
            "They pay $2,000 to $5,000 for training courses.",
            "A $3,000 to $6,000 signing bonus is common.",
            "Tuition runs $20,000 to $40,000 a year.",
            "Budgets of $1 million to $2 million are common.",
            "Tips of $5 and $10 add up.",
            "$25 to $40 is what a shift brings.",
            "It costs $10 to $20.",
            "Between 30,000 and 40,000 people apply.",
            "Startups raise $2m to $5m.",
        ];
        for text in cases {
            assert_eq!(find_salary_ranges(text), vec![], "{text}");
        }
    }

    #[test]
    fn salary_phrases_quote_their_words() {
        let m = &find_salary_ranges(
            "Associate producers earn anywhere from $50,000 to $150,000 annually, depending on the market.",
        )[0];
        assert_eq!(m.phrase, "anywhere from $50,000 to $150,000 annually");
        let m = &find_salary_ranges("Typically between $30,000 and $100,000.")[0];
        assert_eq!(m.phrase, "between $30,000 and $100,000");
        let two = find_salary_ranges(
            "Paralegals earn $42,000 to $92,000 per year, while assistants earn $36,000 to $70,000 annually.",
        );
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].salary.min, 36_000);
    }

    #[test]
    fn titles_name_two_roles() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (
                "Associate Producer vs. Assistant Producer",
                Some(("Associate Producer", "Assistant Producer")),
            ),
            (
                "Data Analyst vs Data Scientist",
                Some(("Data Analyst", "Data Scientist")),
            ),
            (
                "Solicitor versus Barrister",
                Some(("Solicitor", "Barrister")),
            ),
            (
                "Translator or Interpreter: Which Career Fits You?",
                Some(("Translator", "Interpreter")),
            ),
            (
                "Sous Chef vs. Line Cook: What Are The Differences?",
                Some(("Sous Chef", "Line Cook")),
            ),
            (
                "Dental Hygienist vs Dental Assistant – Key Differences",
                Some(("Dental Hygienist", "Dental Assistant")),
            ),
            (
                "UX Designer VS. UI Designer - Key Differences Explained",
                Some(("UX Designer", "UI Designer")),
            ),
            (
                "Registered Nurse (RN) vs. Licensed Practical Nurse (LPN)",
                Some(("Registered Nurse", "Licensed Practical Nurse")),
            ),
            (
                "What's the Difference Between a Paralegal and a Legal Assistant?",
                Some(("Paralegal", "Legal Assistant")),
            ),
            (
                "Career Advice | Electrician vs. Plumber",
                Some(("Electrician", "Plumber")),
            ),
            (
                "Electrician vs. Plumber | Example Careers",
                Some(("Electrician", "Plumber")),
            ),
            (
                "Should You Become a Nurse or a Doctor?",
                Some(("Nurse", "Doctor")),
            ),
            ("Barista vs. Barista", None),
            ("How to Negotiate Your First Salary", None),
            ("Job Duties", None),
            ("", None),
            ("vs.", None),
        ];
        for (title, want) in cases {
            let got = parse_title(title);
            let want = want.map(|(a, b)| (a.to_string(), b.to_string()));
            assert_eq!(got, want, "{title}");
        }
    }

    #[test]
    fn normalized_titles_parse_to_the_same_roles() {
        for t in [
            "Sous Chef vs. Line Cook: Differences",
            "A or B",
            "C++ Developer vs. C# Developer",
        ] {
            let (a, b) = parse_title(t).unwrap();
            assert_eq!(parse_title(&format!("{a} vs. {b}")), Some((a, b)));
        }
    }

    #[test]
    fn roles_are_found_longest_name_first() {
        let roles = ["Producer", "Associate Producer"];
        let m = role_mentions("Associate producers outrank their assistants.", &roles);
        assert_eq!(m, vec![(0, 1)]);
        let m = role_mentions("Producers and associate producers.", &roles);
        assert_eq!(m, vec![(0, 0), (14, 1)]);
        assert_eq!(
            role_mentions("Secretaries and a secretary", &["Secretary", "Clerk"]),
            vec![(0, 0), (18, 0)]
        );
    }

    #[test]
    fn articles_before_role_names() {
        for (role, want) in [
            ("Associate Producer", "an"),
            ("UX Designer", "a"),
            ("UI Designer", "a"),
            ("LPN", "an"),
            ("Executive Assistant", "an"),
            ("Paralegal", "a"),
            ("Hourly Worker", "an"),
            ("University Lecturer", "a"),
        ] {
            assert_eq!(article(role), want, "{role}");
        }
    }

    #[test]
    fn dates_are_read_from_bylines() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(published_line("Published March 14, 2026"), d(2026, 3, 14));
        assert_eq!(
            published_line("By Ana Ruiz | Published on 2026-03-14 | 6 min read"),
            d(2026, 3, 14)
        );
        assert_eq!(published_line("Published: 3 Feb 2025"), d(2025, 2, 3));
        assert_eq!(published_line("Published Sept. 1st, 2024"), d(2024, 9, 1));
        assert_eq!(published_line("Published recently"), None);
        assert_eq!(published_line("Published February 30, 2026"), None);
        assert_eq!(parse_iso_date("2026-03-14T09:00:00Z"), d(2026, 3, 14));
        assert_eq!(parse_iso_date("2026-03-14x"), None);
    }

    #[test]
    fn chrome_paragraphs_are_dropped_and_prose_is_kept() {
        let chrome = [
            ("Related: Head Chef vs. Executive Chef", "related link"),
            ("Rate this article ★★★★☆", "rating widget"),
            (
                "Sign up for our newsletter to get new comparisons.",
                "newsletter sign-up",
            ),
            (
                "Subscribe to get career tips in your inbox",
                "newsletter sign-up",
            ),
            ("Share this: Facebook · LinkedIn", "share links"),
            (
                "We use cookies to improve your experience. Accept",
                "cookie notice",
            ),
            ("By Priya Natarajan | 7 min read", "author blurb"),
            (
                "About the author: Tom trained as a solicitor.",
                "author blurb",
            ),
            ("Home > Career Advice > Healthcare", "breadcrumbs"),
            ("Search", "search box"),
            ("© 2026 Example Careers", "copyright line"),
            ("Copyright 2026 Careers Hub UK", "copyright line"),
            ("Skip to content", "navigation"),
            ("Last updated: March 1, 2026", "updated line"),
        ];
        for (text, kind) in chrome {
            assert_eq!(chrome_text(text), Some(kind), "{text}");
        }
        let prose = [
            "By contrast, assistant producers earn less.",
            "Copyright law is a common paralegal specialty.",
            "Sign up for a CPR course before you apply.",
            "Menu costing matters to a sous chef.",
            "Updated resumes get more callbacks.",
            "Searching for a first job takes time.",
            "Share your portfolio with recruiters early.",
        ];
        for text in prose {
            assert_eq!(chrome_text(text), None, "{text}");
        }
        for (h, kind) in [
            ("Related Articles", Some("related links")),
            ("About the Author", Some("author blurb")),
            ("3 Comments", Some("comments")),
            ("Recommended Certifications", None),
            ("Authority and Autonomy", None),
            ("Share Your Story", None),
        ] {
            assert_eq!(chrome_heading(h), kind, "{h}");
        }
    }

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

    #[test]
    fn class_names_are_split_into_words() {
        assert_eq!(name_words("siteNav-main"), ["site", "nav", "main"]);
        assert!(chrome_name("newsletter-signup"));
        assert!(chrome_name("c-related_posts"));
        assert!(chrome_name("mainmenu"));
        assert!(!chrome_name("research-notes"));
        assert!(!chrome_name("corporate"));
        assert!(!chrome_name("canvas"));
    }

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
