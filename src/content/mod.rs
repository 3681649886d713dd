//! Role comparison articles and the chief coach's tips, read from `content/`.
//!
//! Owns the content format (TOML front matter between `+++` lines, then Markdown),
//! section recognition, and the excerpt. It knows nothing about issues, subscribers
//! or email: it turns files into typed, validated content and reports problems as
//! [`Diagnostic`]s with file and line.

use std::fmt;
use std::path::{Path, PathBuf};

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;

pub mod issue;

/// Front matter of a comparison file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonMeta {
    /// "Associate Producer vs. Assistant Producer".
    pub title: String,
    /// Unique identifier, e.g. `associate-producer-vs-assistant-producer`.
    pub slug: String,
    /// The full article's public address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Publication date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Exactly two roles.
    #[serde(default)]
    pub roles: Vec<Role>,
}

/// One of the two roles compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// "Associate Producer".
    pub name: String,
    /// Its pay range, when the article gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salary: Option<Salary>,
}

/// A pay range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Salary {
    /// Lower bound.
    pub min: u64,
    /// Upper bound.
    pub max: u64,
    /// ISO 4217 code, e.g. `USD`.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// The period the amounts are paid per.
    #[serde(default)]
    pub per: Per,
}

fn default_currency() -> String {
    "USD".into()
}

/// The period a salary is quoted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    /// A year.
    #[default]
    Year,
    /// A month.
    Month,
    /// A week.
    Week,
    /// A day.
    Day,
    /// An hour.
    Hour,
}

impl fmt::Display for Salary {
    /// "$50,000–$150,000 a year", "£28,000–£35,000 a year", "25–40 CHF an hour".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let symbol = match self.currency.as_str() {
            "USD" | "CAD" | "AUD" | "NZD" => Some("$"),
            "GBP" => Some("£"),
            "EUR" => Some("€"),
            _ => None,
        };
        let amount = |n: u64| match symbol {
            Some(s) => format!("{s}{}", thousands(n)),
            None => thousands(n),
        };
        let range = if self.min == self.max {
            amount(self.min)
        } else {
            format!("{}–{}", amount(self.min), amount(self.max))
        };
        let per = match self.per {
            Per::Year => "a year",
            Per::Month => "a month",
            Per::Week => "a week",
            Per::Day => "a day",
            Per::Hour => "an hour",
        };
        match symbol {
            Some(_) => write!(f, "{range} {per}"),
            None => write!(f, "{range} {} {per}", self.currency),
        }
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The kinds of section the publisher's articles have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// "What is an <role>?": the index of the role in `roles`.
    WhatIs(usize),
    /// Job duties / responsibilities.
    Duties,
    /// Job requirements / qualifications / education.
    Requirements,
    /// Work environment.
    Environment,
    /// Skills.
    Skills,
    /// Salary / pay.
    Salary,
    /// Anything else (kept, not featured).
    Other,
}

impl SectionKind {
    /// Parses `content.excerpt_section`.
    pub fn from_config(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "duties" | "job duties" => Self::Duties,
            "requirements" | "job requirements" => Self::Requirements,
            "environment" | "work environment" => Self::Environment,
            "skills" => Self::Skills,
            "salary" => Self::Salary,
            _ => return None,
        })
    }

    /// How a person would name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::WhatIs(_) => "What is a …?",
            Self::Duties => "Job Duties",
            Self::Requirements => "Job Requirements",
            Self::Environment => "Work Environment",
            Self::Skills => "Skills",
            Self::Salary => "Salary",
            Self::Other => "other",
        }
    }

    /// Recognizes a heading by its keywords, not its position; `roles` are the
    /// compared role names, used to tell the two "What is …" sections apart.
    pub fn classify(heading: &str, roles: &[&str]) -> Self {
        let h = heading.to_lowercase();
        let h = h.trim();
        // "What is the difference between a … and a …?" is about both roles, not one.
        let about_both = h.contains(" vs") || h.contains("difference");
        if (h.starts_with("what is") || h.starts_with("what's") || h.starts_with("what does"))
            && !about_both
        {
            // The longest matching name wins ("Producer" vs "Associate Producer").
            let best = roles
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.is_empty() && h.contains(&r.to_lowercase()))
                .max_by_key(|(_, r)| r.len());
            if let Some((i, _)) = best {
                return Self::WhatIs(i);
            }
        }
        let has = |words: &[&str]| words.iter().any(|w| h.contains(w));
        if has(&["duties", "responsibilit", "what they do", "day-to-day"]) {
            Self::Duties
        } else if has(&["salary", "salaries", "pay ", "earnings", "compensation"])
            || h.ends_with("pay")
        {
            Self::Salary
        } else if has(&[
            "work environment",
            "working environment",
            "workplace",
            "environment",
            "working conditions",
            "work setting",
            "where they work",
        ]) {
            Self::Environment
        } else if has(&["skill"]) {
            Self::Skills
        } else if has(&["requirement", "qualification", "education", "training"]) {
            Self::Requirements
        } else {
            Self::Other
        }
    }
}

/// A recognized section of an article body.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// What it is about.
    pub kind: SectionKind,
    /// The heading text as written.
    pub heading: String,
    /// 1-based line of the heading in the file.
    pub line: usize,
    /// The Markdown under the heading, up to the next section.
    pub markdown: String,
}

/// A short, self-contained lead cut from a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// Markdown stripped.
    pub text: String,
    /// Markdown rendered (inline HTML only, no `<p>`).
    pub html: String,
    /// Words in `text`.
    pub words: usize,
}

/// A role comparison article.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The file it came from.
    pub path: PathBuf,
    /// Its front matter.
    pub meta: ComparisonMeta,
    /// Its sections, in file order.
    pub sections: Vec<Section>,
    /// The lead of the configured section.
    pub excerpt: Excerpt,
}

impl Comparison {
    /// The slug.
    pub fn slug(&self) -> &str {
        &self.meta.slug
    }
}

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

/// Everything in `content/`, sorted by slug.
#[derive(Debug, Clone, Default)]
pub struct Library {
    /// Valid comparisons.
    pub comparisons: Vec<Comparison>,
    /// Valid tips.
    pub tips: Vec<Tip>,
}

impl Library {
    /// Looks a comparison up by slug.
    pub fn comparison(&self, slug: &str) -> Option<&Comparison> {
        self.comparisons.iter().find(|c| c.meta.slug == slug)
    }

    /// Looks a tip up by slug.
    pub fn tip(&self, slug: &str) -> Option<&Tip> {
        self.tips.iter().find(|t| t.slug == slug)
    }
}

/// How excerpts are cut.
#[derive(Debug, Clone, Copy)]
pub struct ExcerptRule {
    /// The section the excerpt comes from.
    pub section: SectionKind,
    /// At most this many words.
    pub words: usize,
}

/// Loads `dir/comparisons/*.md` and `dir/tips/*.md`. Files with errors are left
/// out of the library and reported; warnings are reported too.
pub fn load(dir: &Path, rule: ExcerptRule) -> (Library, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut library = Library::default();
    for path in markdown_files(&dir.join("comparisons"), &mut diags) {
        let Some(text) = read(&path, &mut diags) else {
            continue;
        };
        match parse_comparison(&path, &text, rule, &mut diags) {
            Some(c) => {
                if let Some(other) = library.comparison(c.slug()) {
                    diags.push(Diagnostic::error(
                        &path,
                        key_line(&text, "slug"),
                        format!(
                            "slug `{}` is already used by `{}`; slugs must be unique",
                            c.slug(),
                            other.path.display()
                        ),
                    ));
                } else {
                    library.comparisons.push(c);
                }
            }
            None => continue,
        }
    }
    for path in markdown_files(&dir.join("tips"), &mut diags) {
        let Some(text) = read(&path, &mut diags) else {
            continue;
        };
        if let Some(t) = parse_tip(&path, &text, &mut diags) {
            library.tips.push(t);
        }
    }
    library
        .comparisons
        .sort_by(|a, b| a.meta.slug.cmp(&b.meta.slug));
    library.tips.sort_by(|a, b| a.slug.cmp(&b.slug));
    (library, diags)
}

fn markdown_files(dir: &Path, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic::error(
                dir,
                0,
                format!("cannot read folder: {e} (check `content.dir` in config.toml)"),
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md") && p.is_file())
        .collect();
    files.sort();
    files
}

fn read(path: &Path, diags: &mut Vec<Diagnostic>) -> Option<String> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(e) => {
                let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = good.iter().filter(|b| **b == b'\n').count() + 1;
                diags.push(Diagnostic::error(
                    path,
                    line,
                    "file is not valid UTF-8; save it as UTF-8",
                ));
                None
            }
        },
        Err(e) => {
            diags.push(Diagnostic::error(path, 0, format!("cannot read file: {e}")));
            None
        }
    }
}

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

fn parse_front<'de, T: Deserialize<'de>>(
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

fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('=') || r.starts_with(']'))
        })
        .map_or(1, |i| i + 1)
}

fn valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 120
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn one_line(s: &str) -> bool {
    !s.trim().is_empty()
        && !s
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}'))
}

/// Parses one comparison file; `None` when it has errors (already pushed).
pub fn parse_comparison(
    path: &Path,
    text: &str,
    rule: ExcerptRule,
    diags: &mut Vec<Diagnostic>,
) -> Option<Comparison> {
    let split = match split_front_matter(text) {
        Ok(s) => s,
        Err((line, msg)) => {
            diags.push(Diagnostic::error(path, line, msg));
            return None;
        }
    };
    let meta: ComparisonMeta = parse_front(path, &split, diags)?;
    let errors_before = diags.iter().filter(|d| d.is_error()).count();
    let err = |diags: &mut Vec<Diagnostic>, key: &str, msg: String| {
        diags.push(Diagnostic::error(path, key_line(text, key), msg));
    };
    if !one_line(&meta.title) {
        err(
            diags,
            "title",
            "`title` must be one non-empty line, like `Associate Producer vs. Assistant Producer`"
                .into(),
        );
    }
    if !valid_slug(&meta.slug) {
        err(
            diags,
            "slug",
            format!(
                "slug `{}` must be lowercase letters, digits and hyphens, like `associate-producer-vs-assistant-producer`",
                meta.slug
            ),
        );
    }
    if meta.roles.len() != 2 {
        err(
            diags,
            "[[roles",
            format!(
                "a comparison needs exactly two `[[roles]]`, found {}; add one `[[roles]]` table with a `name` per role",
                meta.roles.len()
            ),
        );
    }
    for role in &meta.roles {
        if !one_line(&role.name) {
            err(
                diags,
                "name",
                "every role needs a `name` on one line".into(),
            );
        }
        if let Some(s) = &role.salary {
            if s.min == 0 || s.min > s.max {
                err(
                    diags,
                    "salary",
                    format!(
                        "salary of `{}`: `min` ({}) must be above 0 and not above `max` ({})",
                        role.name, s.min, s.max
                    ),
                );
            }
            if s.currency.len() != 3 || !s.currency.bytes().all(|b| b.is_ascii_uppercase()) {
                err(
                    diags,
                    "salary",
                    format!(
                        "salary of `{}`: currency `{}` is not an ISO 4217 code like `USD`",
                        role.name, s.currency
                    ),
                );
            }
        }
    }
    match &meta.url {
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) || !one_line(u) => {
            err(diags, "url", format!("url `{u}` is not an http(s) address"))
        }
        Some(_) => {}
        None => diags.push(Diagnostic::warning(
            path,
            1,
            "no `url`: the email will not link to the full comparison; add `url = \"https://…\"`",
        )),
    }
    if let Some(p) = &meta.published
        && chrono::NaiveDate::parse_from_str(p, "%Y-%m-%d").is_err()
    {
        err(
            diags,
            "published",
            format!("published `{p}` is not a date; write it as a quoted `YYYY-MM-DD`"),
        );
    }
    for (i, role) in meta.roles.iter().enumerate() {
        if role.salary.is_some() {
            continue;
        }
        let line = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == "[[roles]]")
            .nth(i)
            .map_or(1, |(n, _)| n + 1);
        diags.push(Diagnostic::warning(
            path,
            line,
            format!(
                "role `{}` has no salary; add `salary = {{ min = …, max = …, currency = \"USD\", per = \"year\" }}`",
                role.name
            ),
        ));
    }
    let names: Vec<&str> = meta.roles.iter().map(|r| r.name.as_str()).collect();
    let sections = sections(split.body, split.body_line, &names);
    let mut missing: Vec<String> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if !sections.iter().any(|s| s.kind == SectionKind::WhatIs(i)) {
            missing.push(format!("What is a {name}?"));
        }
    }
    for kind in [
        SectionKind::Duties,
        SectionKind::Requirements,
        SectionKind::Environment,
        SectionKind::Skills,
        SectionKind::Salary,
    ] {
        if kind != rule.section && !sections.iter().any(|s| s.kind == kind) {
            missing.push(kind.label().into());
        }
    }
    if !missing.is_empty() {
        diags.push(Diagnostic::warning(
            path,
            split.body_line,
            format!("no section for {}", missing.join(", ")),
        ));
    }
    let excerpt = sections
        .iter()
        .find(|s| s.kind == rule.section)
        .and_then(|s| excerpt(&s.markdown, rule.words));
    let Some(excerpt) = excerpt else {
        let found: Vec<&str> = sections.iter().map(|s| s.heading.as_str()).collect();
        diags.push(Diagnostic::error(
            path,
            split.body_line,
            format!(
                "no `{}` section with a paragraph to take the excerpt from (headings found: {}); add a `## Job Duties` section, or change `content.excerpt_section`",
                rule.section.label(),
                if found.is_empty() { "none".into() } else { found.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ") }
            ),
        ));
        return None;
    };
    if diags.iter().filter(|d| d.is_error()).count() > errors_before {
        return None;
    }
    Some(Comparison {
        path: path.to_path_buf(),
        meta,
        sections,
        excerpt,
    })
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

fn parser(markdown: &str) -> Parser<'_> {
    Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH)
}

/// Sections of a body: headings of level 1 or 2 start one.
pub fn sections(body: &str, body_line: usize, roles: &[&str]) -> Vec<Section> {
    let mut heads: Vec<(usize, usize, String)> = Vec::new(); // (start, end, text)
    let mut current: Option<(usize, String)> = None;
    for (event, range) in parser(body).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H1 | HeadingLevel::H2,
                ..
            }) => {
                current = Some((range.start, String::new()));
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, s)) = current.as_mut() {
                    s.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(HeadingLevel::H1 | HeadingLevel::H2)) => {
                if let Some((start, s)) = current.take() {
                    heads.push((start, range.end, s.trim().to_string()));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(heads.len());
    // Count line breaks incrementally: linear in the body, however many headings.
    let (mut counted, mut line) = (0usize, body_line);
    for (i, (start, end, heading)) in heads.iter().enumerate() {
        let next = heads.get(i + 1).map_or(body.len(), |h| h.0);
        line += body
            .get(counted..*start)
            .map_or(0, |s| s.bytes().filter(|b| *b == b'\n').count());
        counted = *start;
        out.push(Section {
            kind: SectionKind::classify(heading, roles),
            heading: heading.clone(),
            line,
            markdown: body.get(*end..next).unwrap_or_default().to_string(),
        });
    }
    out
}

const ABBREVIATIONS: &[&str] = &[
    "e.g.", "i.e.", "vs.", "mr.", "mrs.", "ms.", "dr.", "st.", "u.s.", "jr.", "sr.", "inc.",
    "approx.", "no.", "etc.)",
];

/// Byte offsets in `text` just after each sentence end.
pub(crate) fn sentence_ends(text: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        // Swallow closing quotes and brackets.
        let mut j = k + 1;
        while j < chars.len() && matches!(chars[j].1, '"' | '\'' | '”' | '’' | ')') {
            j += 1;
        }
        let at_end = j >= chars.len();
        if !at_end && !chars[j].1.is_whitespace() {
            continue;
        }
        let end = if at_end { text.len() } else { chars[j].0 };
        // After the whitespace char, which may be wider than a byte (NBSP, U+2029).
        let word_start = text[..i]
            .char_indices()
            .rfind(|(_, c)| c.is_whitespace())
            .map_or(0, |(p, c)| p + c.len_utf8());
        let word = text[word_start..=i].to_lowercase();
        if c == '.' && !at_end {
            let initial = word.chars().filter(|c| c.is_alphabetic()).count() == 1;
            if initial || ABBREVIATIONS.contains(&word.as_str()) {
                continue;
            }
        }
        ends.push(end);
    }
    ends
}

/// The lead paragraph of `markdown`, cut at a sentence boundary to at most `max_words`.
pub fn excerpt(markdown: &str, max_words: usize) -> Option<Excerpt> {
    // The first top-level paragraph's inline events.
    let mut events: Vec<Event<'_>> = Vec::new();
    let mut depth = 0usize;
    let mut inside = false;
    for event in parser(markdown) {
        match &event {
            Event::Start(Tag::Paragraph) if depth == 0 => inside = true,
            Event::End(TagEnd::Paragraph) if inside => break,
            Event::Start(_) if !inside => depth += 1,
            Event::End(_) if !inside => depth = depth.saturating_sub(1),
            Event::Html(h) | Event::InlineHtml(h) if inside => events.push(Event::Text(h.clone())),
            _ if inside => events.push(event),
            _ => {}
        }
    }
    // The plain text, and where each event's text sits in it.
    let mut plain = String::new();
    for e in &events {
        match e {
            Event::Text(t) | Event::Code(t) => plain.push_str(t),
            Event::SoftBreak | Event::HardBreak => plain.push(' '),
            _ => {}
        }
    }
    let total = plain.split_whitespace().count();
    if total == 0 {
        return None;
    }
    let words_before = |end: usize| plain[..end].split_whitespace().count();
    let (cut, ellipsis) = if total <= max_words {
        (plain.len(), false)
    } else if let Some(&end) = sentence_ends(&plain)
        .iter()
        .rev()
        .find(|&&e| words_before(e) <= max_words)
    {
        (end, false)
    } else {
        // One sentence longer than the limit: cut at the word limit.
        let end = plain
            .split_whitespace()
            .nth(max_words)
            .and_then(|w| {
                let p = w.as_ptr() as usize - plain.as_ptr() as usize;
                plain[..p]
                    .rfind(|c: char| !c.is_whitespace())
                    .map(|q| q + plain[q..].chars().next().map_or(1, char::len_utf8))
            })
            .unwrap_or(plain.len());
        (end, true)
    };
    // Replay the events up to `cut`, closing whatever is open.
    let mut kept: Vec<Event<'_>> = Vec::new();
    let mut open: Vec<Tag<'_>> = Vec::new();
    let mut pos = 0usize;
    for e in events {
        if pos >= cut {
            break;
        }
        match e {
            Event::Text(t) => {
                let take = (cut - pos).min(t.len());
                let piece = t.get(..take).unwrap_or(&t).to_string();
                pos += t.len();
                kept.push(Event::Text(CowStr::from(piece)));
            }
            Event::Code(t) => {
                pos += t.len();
                kept.push(Event::Code(t));
            }
            Event::SoftBreak | Event::HardBreak => {
                pos += 1;
                kept.push(Event::Text(" ".into()));
            }
            Event::Start(tag) => {
                open.push(tag.clone());
                kept.push(Event::Start(tag));
            }
            Event::End(end) => {
                open.pop();
                kept.push(Event::End(end));
            }
            other => kept.push(other),
        }
    }
    while let Some(tag) = open.pop() {
        kept.push(Event::End(tag.to_end()));
    }
    if ellipsis {
        kept.push(Event::Text("…".into()));
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, kept.into_iter().map(safe_link));
    let mut text = plain[..cut]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if ellipsis {
        text.push('…');
    }
    let words = text.split_whitespace().count();
    Some(Excerpt {
        text,
        html: html.trim().to_string(),
        words,
    })
}

/// A link or image to a `javascript:`, `data:` or other non-web address (an
/// imported article may carry one) gets an empty address; its text stays.
fn safe_link(event: Event<'_>) -> Event<'_> {
    let safe = |url: &str| match url.split_once(':') {
        // No scheme (relative), or the colon is in a path, query or fragment.
        None => true,
        Some((scheme, _)) if scheme.contains(['/', '?', '#']) => true,
        Some((scheme, _)) => ["http", "https", "mailto"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s)),
    };
    match event {
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe(&dest_url) => Event::Start(Tag::Link {
            link_type,
            dest_url: CowStr::Borrowed(""),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe(&dest_url) => Event::Start(Tag::Image {
            link_type,
            dest_url: CowStr::Borrowed(""),
            title,
            id,
        }),
        other => other,
    }
}

/// Renders Markdown to HTML (raw HTML in the source is escaped, never passed
/// through; links only to web and mail addresses).
pub fn markdown_to_html(markdown: &str) -> String {
    let events = parser(markdown).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        other => safe_link(other),
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// Renders Markdown to readable plain text: paragraphs, `- ` bullets, links as `text (url)`.
pub fn markdown_to_text(markdown: &str) -> String {
    let mut out = String::new();
    let mut links: Vec<String> = Vec::new();
    let mut lists: Vec<Option<u64>> = Vec::new();
    for event in parser(markdown) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                out.push_str(&t)
            }
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::Start(Tag::List(first)) => lists.push(first),
            Event::End(TagEnd::List(_)) => {
                lists.pop();
                if lists.is_empty() {
                    out.push('\n');
                }
            }
            Event::Start(Tag::Item) => {
                let indent = "  ".repeat(lists.len().saturating_sub(1));
                match lists.last_mut() {
                    Some(Some(n)) => {
                        out.push_str(&format!("{indent}{n}. "));
                        *n += 1;
                    }
                    _ => out.push_str(&format!("{indent}- ")),
                }
            }
            Event::End(TagEnd::Item) if !out.ends_with('\n') => {
                out.push('\n');
            }
            Event::Start(Tag::Link { dest_url, .. }) => links.push(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = links.pop() {
                    out.push_str(&format!(" ({url})"));
                }
            }
            Event::End(TagEnd::Paragraph) | Event::End(TagEnd::Heading(_)) => {
                if lists.is_empty() {
                    out.push_str("\n\n");
                } else {
                    out.push('\n');
                }
            }
            _ => {}
        }
    }
    let mut text = out.trim().to_string();
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: ExcerptRule = ExcerptRule {
        section: SectionKind::Duties,
        words: 40,
    };

    const GOOD: &str = "+++
title = \"Associate Producer vs. Assistant Producer\"
slug = \"associate-producer-vs-assistant-producer\"
url = \"https://www.example.com/a\"

[[roles]]
name = \"Associate Producer\"
salary = { min = 50000, max = 150000, currency = \"USD\", per = \"year\" }

[[roles]]
name = \"Assistant Producer\"
salary = { min = 30000, max = 100000 }
+++

Intro.

## What is an Associate Producer?

One.

## What is an Assistant Producer?

Two.

## Associate Producer vs. Assistant Producer Job Duties

An associate producer **owns** the schedule. An assistant producer keeps [the paperwork](https://x.example) moving. Both answer to the producer.

- bullet

## Job Requirements
r
## Work environment
w
## Skills
s
## Salary
$
";

    fn parse(text: &str) -> (Option<Comparison>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let c = parse_comparison(Path::new("c.md"), text, RULE, &mut d);
        (c, d)
    }

    #[test]
    fn good_comparison_has_every_section_and_an_excerpt() {
        let (c, d) = parse(GOOD);
        assert!(d.is_empty(), "{d:?}");
        let c = c.unwrap();
        let kinds: Vec<SectionKind> = c.sections.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SectionKind::WhatIs(0),
                SectionKind::WhatIs(1),
                SectionKind::Duties,
                SectionKind::Requirements,
                SectionKind::Environment,
                SectionKind::Skills,
                SectionKind::Salary
            ]
        );
        assert_eq!(c.sections[2].line, 25);
        assert_eq!(
            c.excerpt.text,
            "An associate producer owns the schedule. An assistant producer keeps the paperwork moving. Both answer to the producer."
        );
        assert!(c.excerpt.html.contains("<strong>owns</strong>"));
        assert!(
            c.excerpt
                .html
                .contains("<a href=\"https://x.example\">the paperwork</a>")
        );
        assert_eq!(
            c.meta.roles[0].salary.as_ref().unwrap().to_string(),
            "$50,000–$150,000 a year"
        );
        assert_eq!(
            c.meta.roles[1].salary.as_ref().unwrap().to_string(),
            "$30,000–$100,000 a year"
        );
    }

    #[test]
    fn front_matter_errors_name_the_line_and_the_fix() {
        let cases: &[(&str, usize, &str)] = &[
            ("title = \"x\"\n", 1, "did you forget `+++`?"),
            ("+++\ntitle = \"x\"\n", 1, "front matter is not closed"),
            ("+++\ntitle = \"x\"\nslug = \n+++\n", 3, "front matter:"),
            (
                "+++\ntitle = \"A vs. B\"\nslug = \"a-vs-b\"\n+++\n## Job Duties\nx.\n",
                1,
                "exactly two `[[roles]]`, found 0",
            ),
            (
                "+++\ntitle = \"A\"\nslug = \"a\"\ncolour = 1\n+++\n",
                4,
                "unknown field `colour`",
            ),
        ];
        for (text, line, want) in cases {
            let (c, d) = parse(text);
            assert!(c.is_none());
            let e = d.iter().find(|d| d.is_error()).unwrap();
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.message.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn missing_url_and_salary_are_warnings() {
        let text = GOOD
            .replace("url = \"https://www.example.com/a\"\n", "")
            .replace("salary = { min = 30000, max = 100000 }\n", "");
        let (c, d) = parse(&text);
        assert!(c.is_some());
        assert!(d.iter().all(|d| !d.is_error()));
        assert!(d.iter().any(|d| d.message.starts_with("no `url`")));
        assert!(d.iter().any(|d| {
            d.message
                .contains("role `Assistant Producer` has no salary")
        }));
    }

    #[test]
    fn missing_excerpt_section_is_an_error_listing_headings() {
        let text = GOOD.replace(
            "Associate Producer vs. Assistant Producer Job Duties",
            "Overview",
        );
        let (c, d) = parse(&text);
        assert!(c.is_none());
        let e = d.iter().find(|d| d.is_error()).unwrap();
        assert!(e.message.contains("`Overview`"), "{e}");
    }

    #[test]
    fn headings_are_recognized_by_keywords() {
        let roles = ["Data Analyst", "Data Scientist"];
        let cases: &[(&str, SectionKind)] = &[
            ("What is a Data Analyst?", SectionKind::WhatIs(0)),
            ("what is a data scientist", SectionKind::WhatIs(1)),
            (
                "Data Analyst vs. Data Scientist Job Duties",
                SectionKind::Duties,
            ),
            ("Responsibilities", SectionKind::Duties),
            ("JOB REQUIREMENTS", SectionKind::Requirements),
            ("Education and Qualifications", SectionKind::Requirements),
            (
                "Data Analyst vs. Data Scientist Work Environment",
                SectionKind::Environment,
            ),
            ("Skills", SectionKind::Skills),
            ("Salary", SectionKind::Salary),
            (
                "Data Analyst vs. Data Scientist Salary",
                SectionKind::Salary,
            ),
            ("How much do they make? Pay", SectionKind::Salary),
            ("Conclusion", SectionKind::Other),
            (
                "What is the difference between a Data Analyst and a Data Scientist?",
                SectionKind::Other,
            ),
            (
                "What is a Data Analyst vs. a Data Scientist?",
                SectionKind::Other,
            ),
            ("Where They Work", SectionKind::Environment),
        ];
        for (h, want) in cases {
            assert_eq!(SectionKind::classify(h, &roles), *want, "{h}");
        }
    }

    #[test]
    fn excerpts_cut_at_sentence_boundaries() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "One two three. Four five six. Seven eight.",
                6,
                "One two three. Four five six.",
            ),
            (
                "One two three. Four five six. Seven eight.",
                5,
                "One two three.",
            ),
            ("One two three four five six.", 3, "One two three…"),
            (
                "Use tools, e.g. Excel. Then stop here.",
                5,
                "Use tools, e.g. Excel.",
            ),
            ("Short.", 10, "Short."),
            (
                "Quote \"ends here.\" Next one is long.",
                3,
                "Quote \"ends here.\"",
            ),
            (
                "*Emphasis* first. Then **bold** words here.",
                2,
                "Emphasis first.",
            ),
        ];
        for (md, n, want) in cases {
            let e = excerpt(md, *n).unwrap();
            assert_eq!(e.text, *want, "{md:?} at {n}");
            assert!(e.words <= *n, "{md:?}: {} words", e.words);
        }
        let e = excerpt("Go **very far away now.** Later.", 3).unwrap();
        assert_eq!(e.html, "Go <strong>very far</strong>…");
        assert!(excerpt("## heading only\n", 10).is_none());
    }

    #[test]
    fn markdown_to_text_keeps_structure() {
        let t = markdown_to_text("Hello *there*.\n\n- one\n- [two](https://x.example)\n\nBye.");
        assert_eq!(
            t,
            "Hello there.\n\n- one\n- two (https://x.example)\n\nBye."
        );
        assert_eq!(
            markdown_to_html("<script>x</script>\n"),
            "&lt;script&gt;x&lt;/script&gt;\n"
        );
    }

    #[test]
    fn salaries_format_by_currency_and_period() {
        let s = |min, max, cur: &str, per| {
            Salary {
                min,
                max,
                currency: cur.into(),
                per,
            }
            .to_string()
        };
        assert_eq!(s(28000, 35000, "GBP", Per::Year), "£28,000–£35,000 a year");
        assert_eq!(s(25, 40, "USD", Per::Hour), "$25–$40 an hour");
        assert_eq!(s(1000, 1000, "CHF", Per::Month), "1,000 CHF a month");
    }
}
