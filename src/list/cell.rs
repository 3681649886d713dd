//! The one rule for a CSV field a spreadsheet could run (OWASP "CSV
//! injection"): every field the list module writes that starts with `=`,
//! `+`, `-`, `@`, a tab or a carriage return gets a single quote in front, so
//! Excel, LibreOffice and Google Sheets show it as text instead of
//! evaluating it; every field it reads loses one such quote again.
//!
//! Owns [`protect`] and [`unprotect`] and the CSV line writer that applies
//! the first; readers apply the second through `table::text`. It must not
//! know about columns: addresses, names, reasons and times all follow it
//! (a valid address such as `=1+1@example.com` starts with one of these too).
//!
//! Precisely: a value that is any number of `'` (none included) and then a
//! formula character is written with one `'` more, and read with one `'`
//! less. So the round trip is exact for every value, a value that already
//! begins with quotes included (`'-x@example.com` is a valid address, and a
//! suppression must keep its key); a field read and written again gets its
//! quote back, never a second one; and a hand-made file without quotes
//! (`=x`) still reads as written.

use std::borrow::Cow;
use std::io;

/// The characters a spreadsheet reads as the start of a formula.
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// What a protected field starts with.
const QUOTE: char = '\'';

/// `value` as written to a CSV file: with a `'` in front when it starts
/// like a formula, after any quotes of its own.
pub(crate) fn protect(value: &str) -> Cow<'_, str> {
    if value.trim_start_matches(QUOTE).starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("{QUOTE}{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// A field as read from a CSV file: one leading `'` removed when only
/// quotes and then a formula character follow it (what [`protect`] added),
/// otherwise unchanged.
pub(crate) fn unprotect(field: &str) -> &str {
    match field.strip_prefix(QUOTE) {
        Some(rest) if rest.trim_start_matches(QUOTE).starts_with(FORMULA_STARTS) => rest,
        _ => field,
    }
}

/// Writes one record, each field [`protect`]ed, LF-terminated, to `w`.
pub(super) fn write_record<W: io::Write, S: AsRef<str>>(
    w: &mut csv::Writer<W>,
    fields: &[S],
) -> io::Result<()> {
    w.write_record(fields.iter().map(|f| protect(f.as_ref()).into_owned()))
        .map_err(io::Error::other)
}

/// A CSV writer with the list files' dialect (LF line ends, quotes only
/// where needed).
pub(super) fn writer<W: io::Write>(inner: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_quoted_and_read_back() {
        let cases: &[(&str, &str)] = &[
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("=1+1@example.com", "'=1+1@example.com"),
            // Left alone.
            ("Ana Lima", "Ana Lima"),
            ("", ""),
            ("'Tis me", "'Tis me"),
            ("a=b", "a=b"),
            ("2026-10-30T08:00:00Z", "2026-10-30T08:00:00Z"),
            ("''x", "''x"),
            // Quotes of its own before a formula character: one more.
            ("'=x", "''=x"),
            ("'-@a.com", "''-@a.com"),
            ("''+1", "'''+1"),
        ];
        for (value, written) in cases {
            assert_eq!(protect(value), *written, "{value:?}");
            assert_eq!(unprotect(written), *value, "{written:?}");
        }
        // Read then written again: the same field, never a second quote.
        for field in ["'-2", "''=x", "-2"] {
            assert_eq!(
                protect(unprotect(field)),
                "'".to_string() + unprotect(field)
            );
        }
        // A hand-made file without quotes reads as written.
        assert_eq!(unprotect("=x"), "=x");
    }

    #[test]
    fn records_are_written_protected() {
        let mut buf = Vec::new();
        {
            let mut w = writer(&mut buf);
            write_record(&mut w, &["=1+1@example.com", "-Dash, Ann", "ok"]).unwrap();
            w.flush().unwrap();
        }
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "'=1+1@example.com,\"'-Dash, Ann\",ok\n"
        );
    }
}
