//! Where the article ends. Site furniture after the article (a "Your page rank:"
//! line, a rating counter, the company blurb, the newsletter box) is not on any
//! list of phrases, so it is found by its place instead: after the last featured
//! section has begun and its prose has started, anything that follows a break (a
//! piece of dropped chrome, a section heading, or a fragment that is not a
//! sentence) and never names either role or a salary again is not part of the
//! article.
//!
//! Owns that one structural rule, the same for every format; it also removes the
//! readers' [`Kind::Dropped`] markers. It must not judge text by phrases: that is
//! [`super::chrome`].

use super::doc::{Block, Kind, section_level, snippet};
use super::salaries::{find_salary_ranges, role_mentions};
use crate::content::SectionKind;

/// `blocks` up to the article's end, without markers; what follows the end is
/// reported in `dropped`, one entry per block.
pub(super) fn end_of_article(
    blocks: Vec<Block>,
    roles: &[&str],
    dropped: &mut Vec<String>,
) -> Vec<Block> {
    let section_level = section_level(&blocks);
    let last_featured = blocks.iter().rposition(|b| {
        b.kind == Kind::Heading(section_level.unwrap_or(0))
            && SectionKind::classify(&b.text, roles) != SectionKind::Other
    });
    let mut kept = Vec::with_capacity(blocks.len());
    // Blocks after a break, kept only if a later one names a role.
    let mut held: Vec<Block> = Vec::new();
    let mut holding = false;
    let mut prose = false;
    for (i, block) in blocks.into_iter().enumerate() {
        let in_tail = last_featured.is_some_and(|l| i > l);
        if !in_tail {
            if block.kind != Kind::Dropped {
                kept.push(block);
            }
            continue;
        }
        let is_break = match block.kind {
            Kind::Dropped => true,
            // Sub-headings belong to the last section ("### By region").
            Kind::Heading(l) => Some(l) == section_level,
            _ => fragment(&block, roles),
        };
        if prose && is_break {
            holding = true;
        }
        if holding {
            let names = names_role(&block, roles) || has_salary(&block);
            held.push(block);
            if names {
                kept.extend(held.drain(..).filter(|b| b.kind != Kind::Dropped));
                holding = false;
            }
            continue;
        }
        if matches!(block.kind, Kind::Paragraph | Kind::List | Kind::Other) {
            prose = true;
        }
        if block.kind != Kind::Dropped {
            kept.push(block);
        }
    }
    for b in held {
        if b.kind != Kind::Dropped && !b.text.trim().is_empty() {
            dropped.push(format!("after the article's end {}", snippet(&b.text)));
        }
    }
    kept
}

/// A short paragraph that is not a sentence: "Your page rank:", "0 / 5 reviews 0",
/// "Email address". Lead-ins to a list end in `:` too, but are followed by one, and
/// a line naming a role or a salary is the article's own.
fn fragment(block: &Block, roles: &[&str]) -> bool {
    let t = block.text.trim();
    block.kind == Kind::Paragraph
        && t.split_whitespace().count() <= 8
        && !t.ends_with(['.', '!', '?', '…', '"', '”', ')'])
        && !names_role(block, roles)
        && !has_salary(block)
}

/// A salary range in the block: pay by region or by year is the article's own.
fn has_salary(block: &Block) -> bool {
    let text = if block.kind == Kind::List {
        block.items.join("\n")
    } else {
        block.text.clone()
    };
    !find_salary_ranges(&text).is_empty()
}

/// Does the block name either role in full? (Its last word alone is not enough:
/// a kitchen site's blurb says "chefs" too.)
fn names_role(block: &Block, roles: &[&str]) -> bool {
    let text = if block.kind == Kind::List {
        block.items.join("\n")
    } else {
        block.text.clone()
    };
    !role_mentions(&text, roles).is_empty()
}

#[cfg(test)]
mod tests {
    use crate::import::{Format, import_text};

    const HEAD: &str = "# Cook vs. Chef\n\n## Job Duties\n\nCooks cook and chefs plan the menu.\n\n## Salary\n\nCooks earn $30,000 to $40,000 a year.\n\n";

    fn body(md: &str) -> (String, Vec<String>) {
        let got = import_text(None, &format!("{HEAD}{md}"), Some(Format::Markdown), None).unwrap();
        (got.text, got.report.dropped)
    }

    #[test]
    fn furniture_after_a_break_is_dropped_whatever_it_says() {
        let (text, dropped) = body(
            "Your page rank:\n\nAcme Careers was founded in 2009 in Ohio.\n\n## Stay in touch\n\nTuesdays, straight to you.\n",
        );
        assert!(text.ends_with("$30,000 to $40,000 a year.\n"), "{text}");
        assert_eq!(
            dropped,
            [
                "after the article's end \"Your page rank:\"",
                "after the article's end \"Acme Careers was founded in 2009 in Ohio.\"",
                "after the article's end \"Stay in touch\"",
                "after the article's end \"Tuesdays, straight to you.\"",
            ]
        );
    }

    #[test]
    fn chrome_inside_the_last_section_does_not_end_it_when_the_roles_come_back() {
        let (text, _) = body(
            "Rate this article ★★★★☆\n\nChefs earn $50,000 to $70,000 a year.\n\n## Which Is Right for You?\n\nPick cook if you like the line; pick chef if you like planning.\n",
        );
        assert!(text.contains("Chefs earn $50,000"), "{text}");
        assert!(
            text.ends_with("pick chef if you like planning.\n"),
            "{text}"
        );
        assert!(!text.contains("Rate this"), "{text}");
    }

    #[test]
    fn a_lead_in_or_a_short_line_naming_a_role_is_not_a_break() {
        let (text, dropped) = body("Chef pay by city\n\n- London: high\n\nThe Acme blurb.\n");
        assert!(text.ends_with("The Acme blurb.\n"), "{text}");
        assert!(dropped.is_empty(), "{dropped:?}");
    }

    #[test]
    fn sub_headings_and_salary_tables_in_the_last_section_are_kept() {
        let (text, dropped) = body(
            "### By region\n\n- London: £30,000 to £38,000 a year\n- Leeds: £24,000 to £29,000 a year\n\nShare this: Facebook\n\n- Leeds: £22,000 to £26,000 a year\n",
        );
        assert!(text.contains("### By region\n\n- London"), "{text}");
        assert!(
            text.ends_with("- Leeds: £22,000 to £26,000 a year\n"),
            "{text}"
        );
        assert_eq!(dropped, ["share links \"Share this: Facebook\""]);
    }
}
