//! One comparison file: its front matter, roles, salaries and sections, checked.

use std::path::Path;

use super::excerpts::excerpt;
use super::front::{key_line, one_line, parse_front, split_front_matter, valid_slug};
use super::model::{Comparison, ComparisonMeta, ExcerptRule, SectionKind};
use super::sections::sections;
use crate::diagnostic::Diagnostic;

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
