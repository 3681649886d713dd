//! The content's types: a comparison's front matter, roles and salaries, its
//! sections and excerpt, and the rule the excerpt is cut by.
//!
//! Owns these types and how they print; reading and checking files is in
//! `comparisons.rs`, `front.rs` and `sections.rs`.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
    pub(crate) fn from_config(name: &str) -> Option<Self> {
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
    pub(crate) fn label(self) -> &'static str {
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
    pub(crate) fn classify(heading: &str, roles: &[&str]) -> Self {
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
    pub(crate) fn slug(&self) -> &str {
        &self.meta.slug
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
