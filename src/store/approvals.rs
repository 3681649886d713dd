//! What the editorial loop asks of the store: an issue staged with its
//! rendered copy before any recipient is frozen, and the approvals of it.
//!
//! Owns the [`Approvals`] trait and its records only. Whether an issue needs
//! an approval, whether one still holds and what it stops is `editorial`'s
//! business; the store keeps what it is told (every approval a row of its
//! own, so the history stays).

use async_trait::async_trait;
use chrono::NaiveDate;

use super::error::StoreError;
use super::records::IssueRecord;
use crate::content::issue::Selection;

/// One approval of an issue, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Approval {
    /// The issue's slot.
    pub slot: NaiveDate,
    /// The issue's number.
    pub number: u32,
    /// Who approved it (`approve --by`, or the login name).
    pub by: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// SHA-256 of the rendered issue approved, lowercase hex.
    pub digest: String,
    /// Whether this approval took in a new selection and render (`--reassemble`).
    pub reassembled: bool,
}

/// The issue of a slot as staged: its record and its rendered copy.
#[derive(Debug, Clone)]
pub struct Staged {
    /// The issue as recorded after the call.
    pub record: IssueRecord,
    /// The rendered issue recorded with it (`None` only on a ledger row
    /// frozen by a tipsheet that kept no render and not `assembled` any more).
    pub rendered: Option<Vec<u8>>,
    /// Whether this call wrote the selection and the render (a new issue, a
    /// replacement, or a render added to a row that had none).
    pub written: bool,
}

/// The editorial side of the store.
#[async_trait]
pub trait Approvals: Send + Sync {
    /// Records the issue of `slot` with `selection` and `rendered` when the
    /// slot has no issue yet. With `replace`, an issue still `assembled` (no
    /// recipient frozen) gets `selection` and `rendered` instead of what it
    /// had; an `assembled` issue without a render gets `rendered` either way.
    /// An issue that left `assembled` is never changed. Returns the issue as
    /// stored after the call.
    async fn stage(
        &self,
        slot: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: &[u8],
        replace: bool,
    ) -> Result<Staged, StoreError>;

    /// The rendered issue recorded with `slot`, if any.
    async fn rendered(&self, slot: NaiveDate) -> Result<Option<Vec<u8>>, StoreError>;

    /// Appends `approval` to the slot's history (its issue must be recorded).
    async fn record_approval(&self, approval: &Approval) -> Result<(), StoreError>;

    /// Every approval of `slot`, oldest first (none on a ledger from before
    /// approvals, opened to read).
    async fn approvals(&self, slot: NaiveDate) -> Result<Vec<Approval>, StoreError>;
}
