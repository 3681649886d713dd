//! The content as a command uses it: excerpts cut as configured, and a
//! library with errors refused (only `check` reads past them).
//!
//! Must not look at the list, the ledger or the secrets.

use super::error::PlanError;
use crate::config::Config;
use crate::content::{self, ExcerptRule, Library, SectionKind};
use crate::diagnostic::Diagnostic;

/// How excerpts are cut, from config.
pub(crate) fn excerpt_rule(config: &Config) -> ExcerptRule {
    ExcerptRule {
        section: SectionKind::from_config(&config.content.excerpt_section)
            .unwrap_or(SectionKind::Duties),
        words: config.content.excerpt_words,
    }
}

/// Loads content; errors stop everything but `check`.
pub(crate) fn load_content(config: &Config) -> Result<(Library, Vec<Diagnostic>), PlanError> {
    let (library, diags) = content::load(&config.content.dir, excerpt_rule(config));
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(PlanError::Content {
            count: errors.len(),
            list: errors.join("\n"),
        });
    }
    Ok((library, diags))
}
