//! Role comparison articles and the chief coach's tips, read from `content/`.
//!
//! Owns the content format (TOML front matter between `+++` lines, then Markdown),
//! section recognition, and the excerpt. It knows nothing about issues, subscribers
//! or email: it turns files into typed, validated content and reports problems as
//! [`Diagnostic`]s with file and line.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;

pub mod issue;

mod comparisons;
mod excerpts;
mod front;
mod model;
mod sections;
mod tips;

pub use comparisons::parse_comparison;
pub(crate) use excerpts::sentence_ends;
pub use excerpts::{excerpt, markdown_to_html, markdown_to_text};
pub use front::{Split, split_front_matter};
pub use model::{
    Comparison, ComparisonMeta, Excerpt, ExcerptRule, Per, Role, Salary, Section, SectionKind,
};
pub use sections::sections;
pub use tips::{Tip, TipMeta, parse_tip};

use front::key_line;

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
    pub(crate) fn comparison(&self, slug: &str) -> Option<&Comparison> {
        self.comparisons.iter().find(|c| c.meta.slug == slug)
    }

    /// Looks a tip up by slug.
    pub(crate) fn tip(&self, slug: &str) -> Option<&Tip> {
        self.tips.iter().find(|t| t.slug == slug)
    }
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

/// What [`load`] would read from `dir`, told apart cheaply (names, sizes
/// and modification times; no file is read): equal stamps mean an equal
/// library, so a copy loaded at one stamp can be kept while it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    hash: u64,
    /// The newest modification time among the files (and their folders).
    pub newest: Option<std::time::SystemTime>,
}

/// The [`Stamp`] of the content in `dir` now.
pub fn stamp(dir: &Path) -> Stamp {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut newest = None;
    for sub in ["comparisons", "tips"] {
        let folder = dir.join(sub);
        let mut paths = vec![folder.clone()];
        paths.extend(markdown_files(&folder, &mut Vec::new()));
        for path in paths {
            path.hash(&mut h);
            let meta = std::fs::metadata(&path).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            (meta.map(|m| m.len()), modified).hash(&mut h);
            newest = newest.max(modified);
        }
    }
    Stamp {
        hash: h.finish(),
        newest,
    }
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
