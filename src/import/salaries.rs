//! Salaries in prose: pay ranges with their currency and period, where each role
//! is named, and which range belongs to which role.
//!
//! Owns salary recognition; it never guesses a role a sentence does not name.

use super::model::FoundSalary;
use crate::content::{self, Per, Role, Salary};

// ---------------------------------------------------------------------------
// Salaries.

/// A pay range found in prose.
#[derive(Debug, Clone, PartialEq)]
pub struct SalaryMatch {
    /// Byte offset of the first amount (its currency sign) in the text searched.
    pub start: usize,
    /// Byte offset just after the phrase.
    pub end: usize,
    /// The words, e.g. "between $30,000 and $100,000".
    pub phrase: String,
    /// The range.
    pub salary: Salary,
    /// False when no period was written and a year was taken.
    pub per_stated: bool,
}

/// Words near a range that say it is not pay.
pub(super) const NOT_PAY: &[&str] = &[
    "bonus",
    "bonuses",
    "savings",
    "saving",
    "save",
    "saved",
    "tuition",
    "training",
    "debt",
    "loan",
    "loans",
    "budget",
    "budgets",
    "fee",
    "fees",
    "cost",
    "costs",
    "spend",
    "spent",
    "stipend",
    "signing",
    "relocation",
    "raise",
    "raises",
    "tips",
    "revenue",
    "sales",
    "funding",
    "equity",
    "stock",
    "course",
    "courses",
    "certification",
    "exam",
    "price",
    "prices",
    "million",
    "billion",
    "worth",
];

#[derive(Debug, Clone, Copy)]
pub(super) struct Amount {
    start: usize,
    end: usize,
    value: f64,
    k: bool,
    currency: &'static str,
}

/// Reads a number like `50,000`, `25.50` or `45k` at `pos`: (value, end, has k).
pub(super) fn parse_number(text: &str, pos: usize) -> Option<(f64, usize, bool)> {
    let b = text.as_bytes();
    let mut j = pos;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    if j == pos || j - pos > 9 {
        return None;
    }
    let mut digits = text[pos..j].to_string();
    while j + 3 < b.len() + 1
        && b.get(j) == Some(&b',')
        && b.get(j + 1..j + 4)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && !b.get(j + 4).is_some_and(u8::is_ascii_digit)
    {
        digits.push_str(&text[j + 1..j + 4]);
        j += 4;
    }
    if b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
        let d0 = j + 1;
        let mut e = d0;
        while e < b.len() && b[e].is_ascii_digit() {
            e += 1;
        }
        if e - d0 <= 2 {
            digits.push('.');
            digits.push_str(&text[d0..e]);
            j = e;
        } else {
            return None;
        }
    }
    let mut k = false;
    let next_alpha = |i: usize| b.get(i).is_some_and(u8::is_ascii_alphanumeric);
    if matches!(b.get(j), Some(b'k' | b'K')) && !next_alpha(j + 1) {
        k = true;
        j += 1;
    } else if matches!(b.get(j), Some(b'm' | b'M' | b'b' | b'B')) {
        // $2m, $1.5bn, $5,000mo… : not a salary amount we can read.
        return None;
    }
    if next_alpha(j) {
        return None;
    }
    let value: f64 = digits.parse().ok()?;
    value.is_finite().then_some((value, j, k))
}

/// The sign a currency is written with: `US$50 to $60` is one range.
pub(super) fn sign(currency: &str) -> char {
    match currency {
        "GBP" => '£',
        "EUR" => '€',
        _ => '$',
    }
}

/// A currency sign (with a country prefix such as `US$`) and amount at `pos`.
pub(super) fn amount_at(text: &str, pos: usize) -> Option<Amount> {
    let c = text[pos..].chars().next()?;
    let mut currency = match c {
        '$' => "USD",
        '£' => "GBP",
        '€' => "EUR",
        _ => return None,
    };
    let mut start = pos;
    if c == '$' {
        let before = &text[..pos];
        let letters = before
            .bytes()
            .rev()
            .take_while(u8::is_ascii_uppercase)
            .count();
        let prefix = &before[before.len() - letters..];
        let bounded = before[..before.len() - letters]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let code = match prefix {
            "US" => Some("USD"),
            "C" | "CA" => Some("CAD"),
            "A" | "AU" => Some("AUD"),
            "NZ" => Some("NZD"),
            _ => None,
        };
        if let Some(code) = code.filter(|_| bounded) {
            currency = code;
            start = pos - letters;
        }
    }
    let (value, end, k) = parse_number(text, pos + c.len_utf8())?;
    Some(Amount {
        start,
        end,
        value,
        k,
        currency,
    })
}

/// Up to `n` words after `pos`, stopping at clause punctuation: (lowercase word, end).
pub(super) fn words_after(text: &str, pos: usize, n: usize) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_end = pos;
    for (i, c) in text[pos..].char_indices() {
        let at = pos + i;
        if c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.' | '!' | '?' | '(' | ')') {
            if !cur.is_empty() {
                out.push((std::mem::take(&mut cur), cur_end));
                if out.len() >= n {
                    return out;
                }
            }
            if !c.is_whitespace() {
                return out;
            }
        } else {
            cur.extend(c.to_lowercase());
            cur_end = at + c.len_utf8();
        }
    }
    if !cur.is_empty() && out.len() < n {
        out.push((cur, cur_end));
    }
    out
}

/// Up to `n` words before `pos`, nearest first, stopping at clause punctuation:
/// (lowercase word, start).
pub(super) fn words_before(text: &str, pos: usize, n: usize) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut cur: Vec<char> = Vec::new();
    let mut cur_start = pos;
    for (i, c) in text[..pos].char_indices().rev() {
        if c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.' | '!' | '?' | '(' | ')') {
            if !cur.is_empty() {
                out.push((
                    cur.iter().rev().flat_map(|c| c.to_lowercase()).collect(),
                    cur_start,
                ));
                cur.clear();
                if out.len() >= n {
                    return out;
                }
            }
            if !c.is_whitespace() {
                return out;
            }
        } else {
            cur.push(c);
            cur_start = i;
        }
    }
    if !cur.is_empty() && out.len() < n {
        out.push((
            cur.iter().rev().flat_map(|c| c.to_lowercase()).collect(),
            cur_start,
        ));
    }
    out
}

pub(super) fn unit_word(w: &str) -> Option<Per> {
    Some(match w {
        "annually" | "annual" | "yearly" | "/year" | "/yr" | "/annum" | "a-year" | "per-year" => {
            Per::Year
        }
        "hourly" | "/hour" | "/hr" | "an-hour" | "per-hour" => Per::Hour,
        "monthly" | "/month" | "/mo" | "a-month" | "per-month" => Per::Month,
        "weekly" | "/week" | "/wk" | "a-week" | "per-week" => Per::Week,
        "daily" | "/day" | "a-day" | "per-day" => Per::Day,
        _ => return None,
    })
}

pub(super) fn unit_noun(w: &str) -> Option<Per> {
    Some(match w {
        "year" | "yr" | "annum" => Per::Year,
        "hour" | "hr" => Per::Hour,
        "month" | "mo" => Per::Month,
        "week" | "wk" => Per::Week,
        "day" => Per::Day,
        _ => return None,
    })
}

/// The period in `words` (after a range): (period, end of its words).
pub(super) fn unit_after(words: &[(String, usize)]) -> Option<(Per, usize)> {
    for (i, (w, end)) in words.iter().enumerate() {
        if let Some(p) = unit_word(w) {
            return Some((p, *end));
        }
        if matches!(w.as_str(), "per" | "a" | "an" | "each" | "every")
            && let Some((next, end)) = words.get(i + 1)
            && let Some(p) = unit_noun(next)
        {
            return Some((p, *end));
        }
    }
    None
}

/// Every salary range in `text`: two amounts joined by "to", "and" (after
/// "between") or a dash, with a currency sign, and a period after or before them.
/// Ranges without a period count when they are 10,000 or more (a year); single
/// amounts never do, nor ranges next to words such as "bonus" or "training".
pub fn find_salary_ranges(text: &str) -> Vec<SalaryMatch> {
    let mut out = Vec::new();
    let mut from = 0;
    for (i, c) in text.char_indices() {
        if i < from || !matches!(c, '$' | '£' | '€') {
            continue;
        }
        if let Some(m) = range_at(text, i) {
            from = m.end;
            out.push(m);
        }
    }
    out
}

pub(super) fn range_at(text: &str, pos: usize) -> Option<SalaryMatch> {
    let a1 = amount_at(text, pos)?;
    // The connector.
    let rest = &text[a1.end..];
    let trimmed = rest.trim_start();
    let mut at = a1.end + (rest.len() - trimmed.len());
    // Only the next few bytes matter: never copy the rest of a long text.
    let word = |w: &str| {
        trimmed
            .get(..w.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(w))
    };
    let mut and_form = false;
    if let Some(c) = trimmed
        .chars()
        .next()
        .filter(|c| matches!(c, '-' | '–' | '—'))
    {
        at += c.len_utf8();
    } else if word("to ") {
        at += 2;
    } else if word("and ") {
        at += 3;
        and_form = true;
    } else {
        return None;
    }
    let before = words_before(text, a1.start, 4);
    if and_form && before.first().map(|(w, _)| w.as_str()) != Some("between") {
        return None;
    }
    let rest = &text[at..];
    at += rest.len() - rest.trim_start().len();
    let a2 = second_amount(text, at, &a1)?;
    let mut v1 = a1.value * if a1.k { 1000.0 } else { 1.0 };
    let mut v2 = a2.value * if a2.k { 1000.0 } else { 1.0 };
    if a2.k && !a1.k && a1.value < 1000.0 {
        v1 = a1.value * 1000.0;
    }
    if a1.k && !a2.k && a2.value < 1000.0 {
        v2 = a2.value * 1000.0;
    }
    let mut end = a2.end;
    let mut currency = a1.currency;
    let after = words_after(text, end, 5);
    // "$50,000 to $60,000 CAD".
    let mut after_words: &[(String, usize)] = &after;
    if let Some((w, e)) = after.first() {
        let code = w.to_ascii_uppercase();
        let family = match a1.currency {
            "GBP" => &["GBP"][..],
            "EUR" => &["EUR"][..],
            _ => &["USD", "CAD", "AUD", "NZD"][..],
        };
        if family.contains(&code.as_str()) {
            currency = family
                .iter()
                .find(|c| **c == code)
                .copied()
                .unwrap_or(currency);
            end = *e;
            after_words = &after[1..];
        }
    }
    let near_after = &after_words[..after_words.len().min(4)];
    if near_after
        .iter()
        .chain(before.iter().take(3))
        .any(|(w, _)| NOT_PAY.contains(&w.as_str()))
    {
        return None;
    }
    let (per, per_stated) = match unit_after(near_after) {
        Some((p, e)) => {
            end = e;
            (p, true)
        }
        None => match before.iter().find_map(|(w, _)| unit_word(w)) {
            Some(p) => (p, true),
            None if v1 >= 10_000.0 => (Per::Year, false),
            None => return None,
        },
    };
    if !(v1 >= 0.5 && v1 <= v2 && v2 < 1e9) {
        return None;
    }
    let phrase_start = phrase_start(&before, a1.start);
    Some(SalaryMatch {
        start: a1.start,
        end,
        phrase: text[phrase_start..end].to_string(),
        salary: Salary {
            min: v1.round() as u64,
            max: v2.round() as u64,
            currency: currency.to_string(),
            per,
        },
        per_stated,
    })
}

/// The range's second amount at `at`: its own sign (the same currency), or none.
fn second_amount(text: &str, mut at: usize, a1: &Amount) -> Option<Amount> {
    let prefix = text[at..]
        .bytes()
        .take_while(u8::is_ascii_uppercase)
        .count();
    if (1..=2).contains(&prefix) && text[at + prefix..].starts_with('$') {
        at += prefix;
    }
    match text[at..].chars().next()? {
        '$' | '£' | '€' => {
            let a = amount_at(text, at)?;
            if sign(a.currency) != sign(a1.currency) {
                return None;
            }
            Some(a)
        }
        c if c.is_ascii_digit() => {
            let (value, end, k) = parse_number(text, at)?;
            Some(Amount {
                start: at,
                end,
                value,
                k,
                currency: a1.currency,
            })
        }
        _ => None,
    }
}

/// Where the quoted phrase starts: "between", "from" or "anywhere from" included.
fn phrase_start(before: &[(String, usize)], first: usize) -> usize {
    let Some((w, s)) = before.first() else {
        return first;
    };
    match w.as_str() {
        "from" => match before.get(1) {
            Some((w2, s2)) if w2 == "anywhere" => *s2,
            _ => *s,
        },
        "between" => *s,
        _ => first,
    }
}

/// Where each role is named in `text`: (start, role index), longer names winning
/// over names they contain ("Associate Producer" over "Producer").
pub(super) fn role_mentions(text: &str, roles: &[&str]) -> Vec<(usize, usize)> {
    let hay = text.to_ascii_lowercase();
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (r, name) in roles.iter().enumerate() {
        let name = name.to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        let mut forms = vec![name.clone(), format!("{name}s"), format!("{name}es")];
        if let Some(stem) = name.strip_suffix('y') {
            forms.push(format!("{stem}ies"));
        }
        for form in forms {
            let mut from = 0;
            while let Some(p) = hay.get(from..).and_then(|h| h.find(&form)) {
                let s = from + p;
                let e = s + form.len();
                let before_ok = hay[..s]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric());
                let after_ok = hay[e..].chars().next().is_none_or(|c| !c.is_alphanumeric());
                if before_ok && after_ok {
                    spans.push((s, e, r));
                }
                from = s + hay[s..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    let mut kept: Vec<(usize, usize)> = spans
        .iter()
        .filter(|(s, e, r)| {
            !spans
                .iter()
                .any(|(s2, e2, r2)| r2 != r && s2 <= s && e <= e2 && (e2 - s2) > (e - s))
        })
        .map(|(s, _, r)| (*s, *r))
        .collect();
    kept.sort_unstable();
    kept.dedup();
    kept
}

/// The one role `text` names, if exactly one.
pub(super) fn only_role(text: &str, roles: &[&str]) -> Option<usize> {
    let m = role_mentions(text, roles);
    let first = m.first()?.1;
    m.iter().all(|(_, r)| *r == first).then_some(first)
}

// ---------------------------------------------------------------------------
// Building the comparison.

/// Text to search for salaries, with its context.
pub(super) struct Scan {
    pub(super) text: String,
    pub(super) in_salary: bool,
    /// The role of the innermost heading that names exactly one.
    pub(super) context: Option<usize>,
    /// How notes name where it is: "`Salary`" or "the introduction".
    pub(super) heading: String,
}

/// Salary notes beyond this many are counted, not listed.
const MAX_NOTES: usize = 20;

/// Each role's salary: the first range whose sentence names the role (the
/// Salary section first, then the rest in order), else the first whose section
/// names it (in the same order), else front matter's. Ranges not used are
/// explained in `notes`.
pub(super) fn assign(
    scans: &[Scan],
    roles: &[&str; 2],
    front_roles: &[Role],
    notes: &mut Vec<String>,
) -> [Option<FoundSalary>; 2] {
    let mut found: [Option<FoundSalary>; 2] = [None, None];
    let (first, rest): (Vec<&Scan>, Vec<&Scan>) = scans.iter().partition(|s| s.in_salary);
    let ordered: Vec<&Scan> = first.into_iter().chain(rest).collect();
    // Ranges whose sentence names a role first, then those given a role by
    // their section only: a sentence is written as it was read, but a heading
    // may be renamed (a text line "Job Duties…<h1>Nurse vs. Barista…" is written
    // "## Job Duties"), so a section's role may not survive into the written
    // file, and must never outrank a range the file still attributes by its
    // own words.
    for by_section in [false, true] {
        for scan in &ordered {
            let ends = content::sentence_ends(&scan.text);
            let mut start = 0;
            for end in ends.into_iter().chain(std::iter::once(scan.text.len())) {
                if end <= start {
                    continue;
                }
                let Some(sentence) = scan.text.get(start..end) else {
                    continue;
                };
                start = end;
                assign_sentence(sentence, scan, roles, by_section, &mut found, notes);
            }
        }
    }
    if notes.len() > MAX_NOTES {
        let more = notes.len() - MAX_NOTES;
        notes.truncate(MAX_NOTES);
        notes.push(format!("… and {more} more salary ranges not used"));
    }
    for (i, name) in roles.iter().enumerate() {
        if found[i].is_none()
            && let Some(s) = front_roles
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(name))
                .and_then(|r| r.salary.clone())
        {
            found[i] = Some(FoundSalary {
                phrase: s.to_string(),
                salary: s,
                per_stated: true,
                source: "front matter",
            });
        }
    }
    found
}

/// The ranges in one sentence, each given to the role it names: only those the
/// sentence names a role for, or (`by_section`) only those it names none for.
fn assign_sentence(
    sentence: &str,
    scan: &Scan,
    roles: &[&str; 2],
    by_section: bool,
    found: &mut [Option<FoundSalary>; 2],
    notes: &mut Vec<String>,
) {
    let mentions = role_mentions(sentence, roles);
    for m in find_salary_ranges(sentence) {
        let by_sentence = mentions
            .iter()
            .rev()
            .find(|(p, _)| *p < m.start)
            .or_else(|| mentions.iter().find(|(p, _)| *p > m.start))
            .map(|(_, r)| *r);
        if by_sentence.is_some() == by_section {
            continue;
        }
        let (role, source) = match (by_sentence, scan.context) {
            (Some(r), _) => (r, "its sentence"),
            (None, Some(r)) => (r, "its section"),
            (None, None) => {
                notes.push(format!(
                    "\"{}\" in {} names no role in its sentence or section; not used",
                    m.phrase, scan.heading
                ));
                continue;
            }
        };
        match &found[role] {
            Some(f) => {
                if f.salary != m.salary {
                    notes.push(format!(
                        "\"{}\" for {} ignored: the first range found is kept",
                        m.phrase, roles[role]
                    ));
                }
            }
            None => {
                found[role] = Some(FoundSalary {
                    salary: m.salary,
                    phrase: m.phrase,
                    per_stated: m.per_stated,
                    source,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Option<(u64, u64, String, Per, bool)> {
        let found = find_salary_ranges(text);
        assert!(found.len() <= 1, "{text:?}: {found:?}");
        found.into_iter().next().map(|m| {
            (
                m.salary.min,
                m.salary.max,
                m.salary.currency,
                m.salary.per,
                m.per_stated,
            )
        })
    }

    #[test]
    fn salary_phrases_are_read_with_currency_and_period() {
        let cases: &[(&str, u64, u64, &str, Per, bool)] = &[
            (
                "They earn anywhere from $50,000 to $150,000 annually.",
                50_000,
                150_000,
                "USD",
                Per::Year,
                true,
            ),
            (
                "Pay runs between $30,000 and $100,000.",
                30_000,
                100_000,
                "USD",
                Per::Year,
                false,
            ),
            (
                "Offers of $45k–$60k are common.",
                45_000,
                60_000,
                "USD",
                Per::Year,
                false,
            ),
            ("Expect $45–60k.", 45_000, 60_000, "USD", Per::Year, false),
            (
                "Trainees start on £28,000 to £35,000 a year.",
                28_000,
                35_000,
                "GBP",
                Per::Year,
                true,
            ),
            (
                "Cooks make $25 to $40 per hour.",
                25,
                40,
                "USD",
                Per::Hour,
                true,
            ),
            ("Cooks make $16-$22/hr.", 16, 22, "USD", Per::Hour, true),
            (
                "An hourly rate of $18.50 to $24 is typical.",
                19,
                24,
                "USD",
                Per::Hour,
                true,
            ),
            (
                "Salaries are €40,000-€55,000 per year.",
                40_000,
                55_000,
                "EUR",
                Per::Year,
                true,
            ),
            (
                "Contracts pay $5,000 – $7,500 a month.",
                5_000,
                7_500,
                "USD",
                Per::Month,
                true,
            ),
            (
                "Day rates are £300 to £450 per day.",
                300,
                450,
                "GBP",
                Per::Day,
                true,
            ),
            (
                "In Toronto it is C$60,000 to C$80,000 a year.",
                60_000,
                80_000,
                "CAD",
                Per::Year,
                true,
            ),
            (
                "Expect $70,000 to $90,000 AUD annually.",
                70_000,
                90_000,
                "AUD",
                Per::Year,
                true,
            ),
        ];
        for (text, min, max, cur, per, stated) in cases {
            assert_eq!(
                one(text),
                Some((*min, *max, cur.to_string(), *per, *stated)),
                "{text}"
            );
        }
    }

    #[test]
    fn amounts_that_are_not_a_salary_range_are_left_alone() {
        let cases = [
            "She had $50,000 in savings.",
            "The job comes with a $5,000 signing bonus.",
            "Employers pay up to $2,000 for training.",
            "Most earn $60,000.",
            "They pay $2,000 to $5,000 for training courses.",
            "A $3,000 to $6,000 signing bonus is common.",
            "Tuition runs $20,000 to $40,000 a year.",
            "Budgets of $1 million to $2 million are common.",
            "Tips of $5 and $10 add up.",
            "$25 to $40 is what a shift brings.",
            "It costs $10 to $20.",
            "Between 30,000 and 40,000 people apply.",
            "Startups raise $2m to $5m.",
        ];
        for text in cases {
            assert_eq!(find_salary_ranges(text), vec![], "{text}");
        }
    }

    #[test]
    fn salary_phrases_quote_their_words() {
        let m = &find_salary_ranges(
            "Associate producers earn anywhere from $50,000 to $150,000 annually, depending on the market.",
        )[0];
        assert_eq!(m.phrase, "anywhere from $50,000 to $150,000 annually");
        let m = &find_salary_ranges("Typically between $30,000 and $100,000.")[0];
        assert_eq!(m.phrase, "between $30,000 and $100,000");
        let two = find_salary_ranges(
            "Paralegals earn $42,000 to $92,000 per year, while assistants earn $36,000 to $70,000 annually.",
        );
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].salary.min, 36_000);
    }

    #[test]
    fn roles_are_found_longest_name_first() {
        let roles = ["Producer", "Associate Producer"];
        let m = role_mentions("Associate producers outrank their assistants.", &roles);
        assert_eq!(m, vec![(0, 1)]);
        let m = role_mentions("Producers and associate producers.", &roles);
        assert_eq!(m, vec![(0, 0), (14, 1)]);
        assert_eq!(
            role_mentions("Secretaries and a secretary", &["Secretary", "Clerk"]),
            vec![(0, 0), (18, 0)]
        );
    }

    #[test]
    fn a_range_its_sentence_names_outranks_one_only_its_section_names() {
        // A heading such as "Job Duties … Barista …" is written as "## Job
        // Duties": the section's role is lost, the sentence's is not. The range
        // the sentence names must win on the first read as on the re-read.
        let scan = |text: &str, context| Scan {
            text: text.to_string(),
            in_salary: false,
            context,
            heading: "`Job Duties`".to_string(),
        };
        let roles = ["Nurse practitioner", "Barista"];
        let salary_of = |scans: &[Scan]| {
            let mut notes = Vec::new();
            let found = assign(scans, &roles, &[], &mut notes);
            found[1].as_ref().map(|f| f.salary.currency.clone())
        };
        let first = [
            scan("Nurses typically earn €10,000-€11,000 per year.", Some(1)),
            scan(
                "Baristas typically earn anywhere from $10,000 to $11,000 annually.",
                Some(1),
            ),
        ];
        let again = [
            scan("Nurses typically earn €10,000-€11,000 per year.", None),
            scan(
                "Baristas typically earn anywhere from $10,000 to $11,000 annually.",
                None,
            ),
        ];
        assert_eq!(salary_of(&first).as_deref(), Some("USD"));
        assert_eq!(salary_of(&again).as_deref(), Some("USD"));
        // With no sentence naming the role, the section's range is still used.
        assert_eq!(salary_of(&first[..1]).as_deref(), Some("EUR"));
    }
}
