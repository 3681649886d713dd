//! Dates: ISO dates from metadata, and written dates in "Published …" and
//! "Last updated …" lines.
//!
//! Owns date parsing only.

use chrono::NaiveDate;

/// `2026-03-14`, or the date part of `2026-03-14T09:00:00Z`.
pub(super) fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let d = s.get(..10)?;
    if s.len() > 10 && !s[10..].starts_with(['T', 't', ' ']) {
        return None;
    }
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

pub(super) fn month(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = word.to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    if w == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|m| *m == w || (w.len() == 3 && m.starts_with(&w)))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// A date at the start of `s`: ISO, "March 14, 2026", "Mar. 14 2026", "14 March 2026".
pub(super) fn parse_date_prefix(s: &str) -> Option<NaiveDate> {
    let s = s.trim_start();
    if let Some(d) = s
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    {
        return Some(d);
    }
    let words: Vec<String> = s
        .split_whitespace()
        .take(3)
        .map(|w| {
            w.trim_matches(|c: char| matches!(c, ',' | '.' | '|' | '·'))
                .to_string()
        })
        .collect();
    if words.len() < 3 {
        return None;
    }
    let day = |w: &str| -> Option<u32> {
        let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let d: u32 = digits.parse().ok()?;
        (1..=31).contains(&d).then_some(d)
    };
    let year = |w: &str| -> Option<i32> { (w.len() == 4).then(|| w.parse().ok()).flatten() };
    let (m, d, y) = if let Some(m) = month(&words[0]) {
        (m, day(&words[1])?, year(&words[2])?)
    } else {
        (month(&words[1])?, day(&words[0])?, year(&words[2])?)
    };
    NaiveDate::from_ymd_opt(y, m, d)
}

/// "Published March 14, 2026", "By Ana | Published on 2026-03-14": the date.
pub(super) fn published_line(text: &str) -> Option<NaiveDate> {
    if text.split_whitespace().count() > 30 {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let at = lower.find("published")?;
    let rest = text[at + "published".len()..].trim_start();
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
    let rest = rest
        .strip_prefix("on ")
        .or_else(|| rest.strip_prefix("On "))
        .unwrap_or(rest);
    parse_date_prefix(rest)
}

// ---------------------------------------------------------------------------
// Chrome in text (both formats).

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_from_bylines() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(published_line("Published March 14, 2026"), d(2026, 3, 14));
        assert_eq!(
            published_line("By Ana Ruiz | Published on 2026-03-14 | 6 min read"),
            d(2026, 3, 14)
        );
        assert_eq!(published_line("Published: 3 Feb 2025"), d(2025, 2, 3));
        assert_eq!(published_line("Published Sept. 1st, 2024"), d(2024, 9, 1));
        assert_eq!(published_line("Published recently"), None);
        assert_eq!(published_line("Published February 30, 2026"), None);
        assert_eq!(parse_iso_date("2026-03-14T09:00:00Z"), d(2026, 3, 14));
        assert_eq!(parse_iso_date("2026-03-14x"), None);
    }
}
