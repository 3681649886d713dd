//! Sections: the article's headings at its section level, recognized as the
//! content format's featured sections (renamed to their house headings) or kept as
//! they are; the body Markdown under them; the text to search for salaries, with
//! the role each heading names; and the duties section the excerpt comes from.
//!
//! Owns section assembly; recognizing a heading's kind belongs to [`content`].

use super::doc::{Block, Kind, section_level};
use super::escape::escape_text;
use super::model::{EXCERPT_RULE, ImportError, ImportReport};
use super::salaries::{Scan, only_role};
use super::title::article;
use crate::content::{self, SectionKind};

/// The article's body, sectioned.
pub(super) struct Sections {
    /// The Markdown blocks of the comparison's body, in order.
    pub(super) markdown: Vec<String>,
    /// Every paragraph and list item, to search for salaries.
    pub(super) scans: Vec<Scan>,
}

/// Sections `blocks` under their headings; fills `report.sections`,
/// `other_sections` and `missing`. An article without a duties section with a
/// paragraph is refused: the newsletter's excerpt comes from it.
pub(super) fn sections(
    blocks: Vec<Block>,
    roles: &[&str; 2],
    report: &mut ImportReport,
) -> Result<Sections, ImportError> {
    let section_level = section_level(&blocks);
    let mut s = Sectioner {
        roles,
        section_level,
        out: Vec::new(),
        seen: Vec::new(),
        headings: Vec::new(),
        current: None,
        in_first_duties: false,
        duties: None,
        stack: Vec::new(),
        scans: Vec::new(),
    };
    for block in blocks {
        match block.kind {
            Kind::Heading(level) => s.heading(level, block.text.trim(), report),
            _ => s.body(block),
        }
    }
    let Some((duties_heading, duties_md)) = s.duties else {
        let list = if s.headings.is_empty() {
            "none".to_string()
        } else {
            s.headings
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
        if !s.seen.contains(&SectionKind::WhatIs(i)) {
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
        if !s.seen.contains(&kind) {
            report.missing.push(kind.label().to_string());
        }
    }
    Ok(Sections {
        markdown: s.out,
        scans: s.scans,
    })
}

struct Sectioner<'a> {
    roles: &'a [&'a str; 2],
    /// The highest heading level in the body: its headings start sections.
    section_level: Option<u8>,
    out: Vec<String>,
    seen: Vec<SectionKind>,
    /// The section headings as written, for the "no duties" message.
    headings: Vec<String>,
    current: Option<SectionKind>,
    in_first_duties: bool,
    /// The first duties section: its heading and Markdown, for the excerpt check.
    duties: Option<(String, String)>,
    /// Open headings: level, the one role it names, its text.
    stack: Vec<(u8, Option<usize>, String)>,
    scans: Vec<Scan>,
}

impl Sectioner<'_> {
    fn heading(&mut self, level: u8, text: &str, report: &mut ImportReport) {
        let roles = self.roles;
        if Some(level) == self.section_level {
            let kind = SectionKind::classify(text, roles);
            let heading = match kind {
                SectionKind::Other => text.to_string(),
                k if self.seen.contains(&k) => text.to_string(),
                SectionKind::WhatIs(i) => {
                    format!("What is {} {}?", article(roles[i]), roles[i])
                }
                k => k.label().to_string(),
            };
            self.headings.push(text.to_string());
            if kind == SectionKind::Other {
                report.other_sections.push(heading.clone());
            } else if !self.seen.contains(&kind) {
                report.sections.push(heading.clone());
            }
            self.in_first_duties = kind == SectionKind::Duties && !self.seen.contains(&kind);
            if self.in_first_duties {
                self.duties = Some((heading.clone(), String::new()));
            }
            self.seen.push(kind);
            self.current = Some(kind);
            let role = match kind {
                SectionKind::WhatIs(i) => Some(i),
                _ => only_role(text, roles),
            };
            self.stack = vec![(level, role, heading.clone())];
            self.out.push(format!("## {}", escape_text(&heading)));
            return;
        }
        let depth =
            usize::from(level).saturating_sub(usize::from(self.section_level.unwrap_or(level))) + 2;
        let hashes = "#".repeat(depth.clamp(3, 6));
        self.stack.retain(|(l, _, _)| *l < level);
        self.stack
            .push((level, only_role(text, roles), text.to_string()));
        self.out.push(format!("{hashes} {}", escape_text(text)));
        if self.in_first_duties
            && let Some((_, md)) = self.duties.as_mut()
        {
            md.push_str(&format!("### {}\n\n", escape_text(text)));
        }
    }

    fn body(&mut self, block: Block) {
        if self.in_first_duties
            && let Some((_, md)) = self.duties.as_mut()
        {
            md.push_str(&block.md);
            md.push_str("\n\n");
        }
        let context = self.stack.iter().rev().find_map(|(_, r, _)| *r);
        let heading = self.stack.first().map_or_else(
            || "the introduction".to_string(),
            |(_, _, h)| format!("`{h}`"),
        );
        let texts = if block.kind == Kind::List {
            block.items
        } else {
            vec![block.text]
        };
        for text in texts {
            self.scans.push(Scan {
                text,
                in_salary: self.current == Some(SectionKind::Salary),
                context,
                heading: heading.clone(),
            });
        }
        self.out.push(block.md);
    }
}
