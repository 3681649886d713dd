//! Choosing what an issue features: the rotation of comparisons and tips, and the
//! issue's subject, preheader and links.
//!
//! Owns selection (deterministic and fresh first: comparisons never featured,
//! newest `published` first, then the least recently featured) with why each
//! was picked, and the facts about one issue. It reads the library and the history it is given; it never
//! reads files, the ledger or the clock itself.

use std::cmp::Reverse;
use std::fmt;

use chrono::NaiveDate;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::content::{Comparison, Library, Tip};
use crate::schedule::Slot;

/// Errors choosing or assembling an issue.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// Not enough comparisons or no tip to fill an issue.
    #[error("not enough content for an issue: {0}")]
    NotEnough(String),
    /// A frozen selection names content that is gone.
    #[error(
        "issue #{number} was assembled with {kind} `{slug}`, which is no longer in `content/`; restore the file (a started issue is never re-chosen)"
    )]
    Missing {
        /// The issue.
        number: u32,
        /// "comparison" or "tip".
        kind: &'static str,
        /// The missing slug.
        slug: String,
    },
}

/// What an issue features, by slug: frozen in the ledger once a send starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Featured comparisons, in order.
    pub comparisons: Vec<String>,
    /// The featured tip.
    pub tip: String,
}

/// A previous issue, as far as rotation cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastIssue {
    /// Its number.
    pub number: u32,
    /// What it featured.
    pub selection: Selection,
}

/// Why a comparison was picked for an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Never featured before; published on this date, when it says.
    New(Option<NaiveDate>),
    /// The least recently featured: last in this issue number.
    LastFeatured(u32),
}

impl fmt::Display for Why {
    /// "new, published 2026-12-10", "new (no published date)", "last featured in #3".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::New(Some(date)) => write!(f, "new, published {date}"),
            Why::New(None) => write!(f, "new (no published date)"),
            Why::LastFeatured(n) => write!(f, "last featured in #{n}"),
        }
    }
}

/// When `slug` was last featured before issue `number`: (issue number,
/// position in that issue), so that the order within an issue carries over
/// and the rotation stays a true round robin. `None`: never.
fn last_featured(
    history: &[PastIssue],
    number: u32,
    slug: &str,
    tip: bool,
) -> Option<(u32, usize)> {
    history
        .iter()
        .filter(|p| p.number < number)
        .filter_map(|p| {
            if tip {
                (p.selection.tip == slug).then_some((p.number, 0))
            } else {
                p.selection
                    .comparisons
                    .iter()
                    .position(|s| s == slug)
                    .map(|i| (p.number, i))
            }
        })
        .max()
}

fn published(c: &Comparison) -> Option<NaiveDate> {
    c.meta
        .published
        .as_deref()
        .and_then(|p| NaiveDate::parse_from_str(p, "%Y-%m-%d").ok())
}

/// Chooses issue `number`'s content, fresh first: comparisons never featured
/// come first, newest `published` first (undated ones first of all: a file
/// written by hand without a date is as new as it gets), then the least
/// recently featured; the tip is the least recently featured (never featured
/// counts as oldest). Ties are broken by slug. So nothing repeats until
/// everything else has been featured, a new article goes out in the next
/// issue, and the same content and history always give the same issue. Only
/// history before `number` counts.
pub fn select(
    library: &Library,
    history: &[PastIssue],
    number: u32,
    per_issue: usize,
) -> Result<Selection, IssueError> {
    if library.comparisons.len() < per_issue {
        return Err(IssueError::NotEnough(format!(
            "{} valid comparison(s) for {per_issue} per issue; add comparisons or lower `content.comparisons_per_issue`",
            library.comparisons.len()
        )));
    }
    if library.tips.is_empty() {
        return Err(IssueError::NotEnough(
            "no valid tip in `content/tips/`; add one".into(),
        ));
    }
    let mut comparisons: Vec<_> = library
        .comparisons
        .iter()
        .map(|c| {
            let last = last_featured(history, number, c.slug(), false);
            // Never featured sorts first (`None`), and among those the newest;
            // an undated one counts as newest (written by hand just now).
            let date = published(c).unwrap_or(NaiveDate::MAX);
            (last, Reverse(date), c.slug())
        })
        .collect();
    comparisons.sort();
    let mut tips: Vec<(Option<(u32, usize)>, &str)> = library
        .tips
        .iter()
        .map(|t| {
            (
                last_featured(history, number, &t.slug, true),
                t.slug.as_str(),
            )
        })
        .collect();
    tips.sort();
    Ok(Selection {
        comparisons: comparisons
            .iter()
            .take(per_issue)
            .map(|(_, _, s)| s.to_string())
            .collect(),
        tip: tips.first().map(|(_, s)| s.to_string()).unwrap_or_default(),
    })
}

/// Why each of `selection`'s comparisons was picked for issue `number`,
/// given the same history [`select`] had; in the selection's order.
pub fn why(
    library: &Library,
    history: &[PastIssue],
    number: u32,
    selection: &Selection,
) -> Vec<Why> {
    selection
        .comparisons
        .iter()
        .map(|slug| match last_featured(history, number, slug, false) {
            Some((n, _)) => Why::LastFeatured(n),
            None => Why::New(library.comparison(slug).and_then(published)),
        })
        .collect()
}

/// One issue, with its content resolved.
#[derive(Debug, Clone)]
pub struct Issue<'a> {
    /// When it goes out; `slot.number` is the issue number.
    pub slot: Slot,
    /// What it features, by slug.
    pub selection: Selection,
    /// The featured comparisons, in order.
    pub comparisons: Vec<&'a Comparison>,
    /// The featured tip.
    pub tip: &'a Tip,
}

/// Resolves a selection against the library.
pub fn assemble<'a>(
    library: &'a Library,
    slot: Slot,
    selection: Selection,
) -> Result<Issue<'a>, IssueError> {
    let number = slot.number;
    let comparisons = selection
        .comparisons
        .iter()
        .map(|slug| {
            library.comparison(slug).ok_or_else(|| IssueError::Missing {
                number,
                kind: "comparison",
                slug: slug.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tip = library
        .tip(&selection.tip)
        .ok_or_else(|| IssueError::Missing {
            number,
            kind: "tip",
            slug: selection.tip.clone(),
        })?;
    Ok(Issue {
        slot,
        selection,
        comparisons,
        tip,
    })
}

impl Issue<'_> {
    /// The issue number.
    pub(crate) fn number(&self) -> u32 {
        self.slot.number
    }

    /// "Career Tips #12: Associate Producer vs. Assistant Producer, and 2 more comparisons".
    pub(crate) fn subject(&self, newsletter: &str) -> String {
        let lead = self
            .comparisons
            .first()
            .map(|c| c.meta.title.as_str())
            .unwrap_or(self.tip.meta.title.as_str());
        let more = match self.comparisons.len() {
            0 | 1 => String::new(),
            2 => ", and 1 more comparison".into(),
            n => format!(", and {} more comparisons", n - 1),
        };
        format!("{newsletter} #{}: {lead}{more}", self.number())
    }

    /// The inbox preview line.
    pub(crate) fn preheader(&self) -> String {
        let titles: Vec<&str> = self
            .comparisons
            .iter()
            .map(|c| c.meta.title.as_str())
            .collect();
        let list = match titles.as_slice() {
            [] => String::new(),
            [one] => (*one).to_string(),
            [init @ .., last] => format!("{}, and {last}", init.join(", ")),
        };
        format!(
            "Duties, requirements and pay compared: {list}. Plus our coach's tip: {}",
            self.tip.meta.title
        )
    }

    /// `issue-<N>`, the utm campaign.
    pub(crate) fn campaign(&self) -> String {
        format!("issue-{}", self.number())
    }

    /// The comparison's full-article link with utm parameters, if it has a url.
    pub(crate) fn article_link(&self, comparison: &Comparison) -> Option<String> {
        let url = comparison.meta.url.as_deref()?;
        let (base, fragment) = match url.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (url, None),
        };
        let sep = if base.contains('?') { '&' } else { '?' };
        let mut link = format!(
            "{base}{sep}utm_source=newsletter&utm_medium=email&utm_campaign={}",
            encode_query(&self.campaign())
        );
        if let Some(f) = fragment {
            link.push('#');
            link.push_str(f);
        }
        Some(link)
    }
}

/// Characters left as they are in a query value (RFC 3986 unreserved).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query value.
pub fn encode_query(value: &str) -> String {
    utf8_percent_encode(value, QUERY).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{ComparisonMeta, Excerpt, TipMeta};
    use std::path::PathBuf;

    fn library(comparisons: usize, tips: usize) -> Library {
        Library {
            comparisons: (0..comparisons)
                .map(|i| Comparison {
                    path: PathBuf::new(),
                    meta: ComparisonMeta {
                        title: format!("Role {i} vs. Other {i}"),
                        slug: format!("c{i}"),
                        url: Some(format!("https://www.example.com/c{i}")),
                        published: None,
                        roles: Vec::new(),
                    },
                    sections: Vec::new(),
                    excerpt: Excerpt {
                        text: String::new(),
                        html: String::new(),
                        words: 0,
                    },
                })
                .collect(),
            tips: (0..tips)
                .map(|i| Tip {
                    path: PathBuf::new(),
                    slug: format!("t{i}"),
                    meta: TipMeta {
                        title: format!("Tip {i}"),
                        published: None,
                    },
                    html: String::new(),
                    text: String::new(),
                    words: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn rotation_repeats_nothing_until_everything_was_featured() {
        let lib = library(8, 3);
        let mut history = Vec::new();
        let mut seen = Vec::new();
        for number in 1..=8 {
            let s = select(&lib, &history, number, 3).unwrap();
            seen.extend(s.comparisons.clone());
            history.push(PastIssue {
                number,
                selection: s,
            });
        }
        // 8 issues x 3 = 24 features of 8 comparisons: each exactly 3 times,
        // and every window of 8 consecutive features has no repeat.
        for w in seen.windows(8) {
            let mut w = w.to_vec();
            w.sort();
            w.dedup();
            assert_eq!(w.len(), 8, "{seen:?}");
        }
        let tips: Vec<&str> = history.iter().map(|p| p.selection.tip.as_str()).collect();
        assert_eq!(tips, ["t0", "t1", "t2", "t0", "t1", "t2", "t0", "t1"]);
    }

    #[test]
    fn rotation_is_deterministic_and_ignores_later_issues() {
        let lib = library(5, 2);
        let h = vec![PastIssue {
            number: 1,
            selection: select(&lib, &[], 1, 3).unwrap(),
        }];
        assert_eq!(
            select(&lib, &h, 2, 3).unwrap(),
            select(&lib, &h, 2, 3).unwrap()
        );
        assert_eq!(
            select(&lib, &h, 2, 3).unwrap().comparisons,
            ["c3", "c4", "c0"]
        );
        // Previewing issue 1 again ignores issue 1's own record.
        assert_eq!(select(&lib, &h, 1, 3).unwrap(), h[0].selection);
    }

    #[test]
    fn fresh_first_new_articles_newest_first_then_the_least_recently_featured() {
        let mut lib = library(6, 1);
        for (i, date) in [(4, "2026-12-10"), (5, "2026-11-02"), (0, "2025-01-01")] {
            lib.comparisons[i].meta.published = Some(date.into());
        }
        let first = select(&lib, &[], 1, 3).unwrap();
        // Undated first (by slug), then the dated, newest first.
        assert_eq!(first.comparisons, ["c1", "c2", "c3"]);
        assert_eq!(
            why(&lib, &[], 1, &first)[0].to_string(),
            "new (no published date)"
        );
        let mut h = vec![PastIssue {
            number: 1,
            selection: first,
        }];
        let second = select(&lib, &h, 2, 3).unwrap();
        assert_eq!(second.comparisons, ["c4", "c5", "c0"]);
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert_eq!(
            why(&lib, &h, 2, &second),
            [
                Why::New(d("2026-12-10")),
                Why::New(d("2026-11-02")),
                Why::New(d("2025-01-01"))
            ]
        );
        h.push(PastIssue {
            number: 2,
            selection: second,
        });
        // A comparison added after issue 2 goes out next, ahead of the rotation.
        lib.comparisons.push(Comparison {
            meta: ComparisonMeta {
                slug: "fresh".into(),
                published: Some("2026-12-20".into()),
                ..lib.comparisons[0].meta.clone()
            },
            ..lib.comparisons[0].clone()
        });
        let third = select(&lib, &h, 3, 3).unwrap();
        assert_eq!(third.comparisons, ["fresh", "c1", "c2"]);
        let reasons: Vec<String> = why(&lib, &h, 3, &third)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            reasons,
            [
                "new, published 2026-12-20",
                "last featured in #1",
                "last featured in #1"
            ]
        );
    }

    #[test]
    fn too_little_content_is_an_error() {
        assert!(select(&library(2, 1), &[], 1, 3).is_err());
        assert!(select(&library(3, 0), &[], 1, 3).is_err());
    }

    #[test]
    fn subject_and_links() {
        let lib = library(3, 1);
        let slot = Slot {
            number: 12,
            date: chrono::NaiveDate::from_ymd_opt(2027, 5, 4).unwrap(),
            local: chrono::TimeZone::with_ymd_and_hms(&chrono_tz::UTC, 2027, 5, 4, 9, 0, 0)
                .unwrap(),
            utc: chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2027, 5, 4, 9, 0, 0).unwrap(),
        };
        let sel = select(&lib, &[], 12, 3).unwrap();
        let issue = assemble(&lib, slot, sel).unwrap();
        assert_eq!(
            issue.subject("Career Tips"),
            "Career Tips #12: Role 0 vs. Other 0, and 2 more comparisons"
        );
        assert_eq!(
            issue.article_link(issue.comparisons[0]).unwrap(),
            "https://www.example.com/c0?utm_source=newsletter&utm_medium=email&utm_campaign=issue-12"
        );
        let missing = Selection {
            comparisons: vec!["gone".into()],
            tip: "t0".into(),
        };
        let err = assemble(&lib, issue.slot.clone(), missing).unwrap_err();
        assert!(err.to_string().contains("comparison `gone`"));
    }
}
