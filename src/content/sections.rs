//! The sections of a comparison body, by heading and role.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::model::{Section, SectionKind};

pub(super) fn parser(markdown: &str) -> Parser<'_> {
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
