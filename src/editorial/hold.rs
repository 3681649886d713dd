//! Holds: an issue on hold is sent by no command on any host until it is
//! released, and a send in progress stops taking recipients when it sees
//! the hold (the run loop checks between pages).
//!
//! Owns what a hold may say and when it was set; the store keeps it.

use chrono::{NaiveDate, SecondsFormat, Utc};

use super::error::EditorialError;
use crate::store::{Hold, Store};

/// The longest reason, in characters.
const MAX_REASON: usize = 500;

/// Puts the issue of `date` on hold, `reason` shown by `status` and by every
/// command the hold stops; a second hold replaces the first's reason and time.
pub async fn hold(
    store: &Store,
    date: NaiveDate,
    reason: Option<&str>,
) -> Result<Hold, EditorialError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if let Some(r) = reason
        && (r.chars().count() > MAX_REASON || r.chars().any(char::is_control))
    {
        return Err(EditorialError::BadText {
            what: "a hold's reason (`--reason`)",
            value: r.to_string(),
            max: MAX_REASON,
        });
    }
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    store.hold(date, reason, &at).await?;
    Ok(Hold {
        reason: reason.map(str::to_string),
        at,
    })
}

/// Lifts the hold on the issue of `date`; whether there was one.
pub async fn release(store: &Store, date: NaiveDate) -> Result<bool, EditorialError> {
    Ok(store.unhold(date).await?)
}

/// The hold on the issue of `date`, if any.
pub async fn hold_of(store: &Store, date: NaiveDate) -> Result<Option<Hold>, EditorialError> {
    Ok(store.hold_of(date).await?)
}
