//! The shared engine's rows: the column lists its queries select and the
//! functions that turn a row into a record, with the slot and status
//! values as the tables keep them.
//!
//! Owns the mapping between tables and records. It must not run queries.

use chrono::NaiveDate;
use tokio_postgres::Row;

use crate::store::columns::stored_selection;
use crate::store::records::{
    IssueRecord, IssueStatus, RecipientRecord, RecipientStatus, StoredSubscriber, StoredSuppression,
};

pub(super) const ISSUE_COLUMNS: &str =
    "slot, number, comparisons, tip, status, assembled_at, started_at, finished_at";
pub(super) const RECIPIENT_COLUMNS: &str =
    "email, address, name, status, attempts, last_code, last_reply, message_id, updated_at";

pub(super) fn names(statuses: &[RecipientStatus]) -> Vec<&'static str> {
    statuses.iter().map(|s| s.as_str()).collect()
}

/// A slot date as the store keeps it: TEXT, `YYYY-MM-DD` (as in SQLite).
pub(super) fn slot_key(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

pub(super) fn issue_row(r: &Row) -> IssueRecord {
    let comparisons: String = r.get(2);
    let slot: String = r.get(0);
    IssueRecord {
        // Only tipsheet writes this column, always as `YYYY-MM-DD`.
        slot: NaiveDate::parse_from_str(&slot, "%Y-%m-%d").unwrap_or_default(),
        number: r.get::<_, i32>(1) as u32,
        selection: stored_selection(&comparisons, r.get(3)),
        status: IssueStatus::parse(r.get(4)),
        assembled_at: r.get(5),
        started_at: r.get(6),
        finished_at: r.get(7),
    }
}

/// A subscriber from a row whose first columns are `email, address, name,
/// subscribed_at`.
pub(super) fn subscriber_row(r: &Row) -> StoredSubscriber {
    StoredSubscriber {
        key: r.get(0),
        address: r.get(1),
        name: r.get(2),
        subscribed_at: r.get(3),
    }
}

/// A suppression from a row whose first columns are `email, address, reason, at`.
pub(super) fn suppression_row(r: &Row) -> StoredSuppression {
    StoredSuppression {
        key: r.get(0),
        address: r.get(1),
        reason: r.get(2),
        at: r.get(3),
    }
}

pub(super) fn recipient_row(r: &Row) -> RecipientRecord {
    let status: String = r.get(3);
    RecipientRecord {
        key: r.get(0),
        address: r.get(1),
        name: r.get(2),
        status: status.parse().unwrap_or(RecipientStatus::Pending),
        attempts: r.get::<_, i32>(4) as u32,
        last_code: r.get::<_, Option<i32>>(5).map(|c| c as u16),
        last_reply: r.get(6),
        message_id: r.get(7),
        updated_at: r.get(8),
    }
}
