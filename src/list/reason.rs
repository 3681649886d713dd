//! Why an address is suppressed: the `reason` column of `suppressed.csv` and
//! of the shared store's suppressions, as one type.
//!
//! Owns the words tipsheet writes there and how they are read back. The
//! stored text never changes: [`SuppressionReason::as_str`] gives exactly what
//! was written before this type existed, and [`SuppressionReason::parse`]
//! keeps any other text an operator wrote (`manual`, …) as
//! [`SuppressionReason::Other`]. It must not read or write files.

use std::borrow::Cow;
use std::fmt;

/// How a bounce reason starts; the rest is what the mail server or the
/// bounce policy said.
const BOUNCED_PREFIX: &str = "bounced: ";
/// A bounce reason with nothing more to say.
const BOUNCED: &str = "bounced";

/// Why an address is suppressed (or, for [`Resubscribed`](Self::Resubscribed),
/// no longer is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuppressionReason {
    /// The reader unsubscribed (the link, the one-click header, a webhook).
    Unsubscribed,
    /// The reader marked an issue as spam.
    Complaint,
    /// The reader was erased (`subscribers forget`); the address is a pseudonym.
    Forgotten,
    /// Lifts an earlier suppression of the same address.
    Resubscribed,
    /// Brought in by `subscribers import` without a reason of its own.
    Imported,
    /// The mail bounced; the text after `bounced: ` (empty: just `bounced`).
    Bounced(String),
    /// Any other text, kept as written (trimmed).
    Other(String),
}

impl SuppressionReason {
    /// A bounce with the given detail (the server's reply, or the policy's summary).
    pub(crate) fn bounced(detail: impl fmt::Display) -> Self {
        Self::Bounced(detail.to_string())
    }

    /// Reads a stored reason: the fixed words in any case, surrounding
    /// spaces ignored.
    pub(crate) fn parse(text: &str) -> Self {
        let text = text.trim();
        let fixed = [
            Self::Unsubscribed,
            Self::Complaint,
            Self::Forgotten,
            Self::Resubscribed,
            Self::Imported,
        ];
        if let Some(known) = fixed
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(text))
        {
            return known;
        }
        if text.eq_ignore_ascii_case(BOUNCED) {
            return Self::Bounced(String::new());
        }
        match text.get(..BOUNCED_PREFIX.len()) {
            Some(head) if head.eq_ignore_ascii_case(BOUNCED_PREFIX) => {
                Self::Bounced(text[BOUNCED_PREFIX.len()..].to_string())
            }
            _ => Self::Other(text.to_string()),
        }
    }

    /// The text stored for this reason.
    pub(crate) fn as_str(&self) -> Cow<'_, str> {
        match self {
            Self::Unsubscribed => "unsubscribed".into(),
            Self::Complaint => "complaint".into(),
            Self::Forgotten => "forgotten".into(),
            Self::Resubscribed => "resubscribed".into(),
            Self::Imported => "imported".into(),
            Self::Bounced(detail) if detail.is_empty() => BOUNCED.into(),
            Self::Bounced(detail) => format!("{BOUNCED_PREFIX}{detail}").into(),
            Self::Other(text) => text.as_str().into(),
        }
    }

    /// Whether the stored `text` is this reason (a fixed word, any case).
    pub(crate) fn is(&self, text: &str) -> bool {
        Self::parse(text) == *self
    }
}

impl fmt::Display for SuppressionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::SuppressionReason as R;

    #[test]
    fn stored_text_reads_back_and_is_unchanged() {
        let cases = [
            (R::Unsubscribed, "unsubscribed"),
            (R::Complaint, "complaint"),
            (R::Forgotten, "forgotten"),
            (R::Resubscribed, "resubscribed"),
            (R::Imported, "imported"),
            (R::bounced("550 no such user"), "bounced: 550 no such user"),
            (R::bounced(""), "bounced"),
            (R::Other("manual".into()), "manual"),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.as_str(), text);
            assert_eq!(R::parse(text), reason, "{text}");
        }
        assert_eq!(R::parse("  Resubscribed "), R::Resubscribed);
        assert_eq!(R::parse("BOUNCED: 5.1.1"), R::bounced("5.1.1"));
        assert!(R::Forgotten.is(" FORGOTTEN"));
        assert!(!R::Forgotten.is("forgotten later"));
        assert_eq!(R::parse(""), R::Other(String::new()));
    }
}
