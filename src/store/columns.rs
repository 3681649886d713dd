//! Column values both engines write and read the same way: the time stamp
//! format of the ledger and the selection columns of an issue.
//!
//! Owns these formats. It must not hold SQL or know an engine.

use crate::content::issue::Selection;

/// Now, as the ledger writes times (RFC 3339, milliseconds, UTC).
pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `t` as the ledger writes a given time (RFC 3339, UTC).
pub(super) fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A time the ledger wrote, read back; `None` when it is not RFC 3339.
pub(super) fn read_stamp(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// A selection read back from the `comparisons` (joined by `,`) and `tip`
/// columns, as both engines store it.
pub(super) fn stored_selection(comparisons: &str, tip: String) -> Selection {
    Selection {
        comparisons: comparisons
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        tip,
    }
}
