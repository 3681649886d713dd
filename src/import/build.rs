//! Building a comparison from a read document, phase by phase: the title and its
//! two roles, chrome and the end of the article, sections, salaries, then the file,
//! checked by the content loader before anyone writes it.
//!
//! Owns the order of the phases; each phase lives in its own module.

use std::path::PathBuf;

use super::doc::Doc;
use super::model::{EXCERPT_RULE, Format, ImportError, ImportReport, Imported};
use super::{chrome, end, salaries, sections, title, write};
use crate::content::{self, ComparisonMeta, Role};

pub(super) fn build(doc: Doc, format: Format, url: Option<&str>) -> Result<Imported, ImportError> {
    let mut report = ImportReport {
        dropped: doc.dropped,
        ..ImportReport::default()
    };
    let mut blocks = doc.blocks;
    let (a, b) = title::take_title(
        doc.front_title,
        doc.page_titles,
        &mut blocks,
        &mut report.dropped,
    )?;
    let title = format!("{a} vs. {b}");
    let slug = title::slugify(&title);
    if slug.is_empty() {
        return Err(ImportError::NoSlug(title));
    }
    let roles = [a.as_str(), b.as_str()];

    let (kept, published) = chrome::drop_chrome(blocks, &roles, doc.published, &mut report.dropped);
    let kept = end::end_of_article(kept, &roles, &mut report.dropped);
    let sections = sections::sections(kept, &roles, &mut report)?;
    let found = salaries::assign(&sections.scans, &roles, &doc.front_roles, &mut report.notes);

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
    let text = format!(
        "{}\n{}\n",
        write::front_matter_text(&meta),
        sections.markdown.join("\n\n")
    );

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
