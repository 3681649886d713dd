//! Why an editorial step refused, or why it stopped a send.
//!
//! Owns [`EditorialError`] and its messages; it imports no other file of
//! `editorial/`.

use chrono::NaiveDate;

use crate::config::ConfigError;
use crate::mail::view::RenderError;
use crate::plan::PlanError;
use crate::store::StoreError;

/// Why an approval, a hold or a send was refused.
#[derive(Debug, thiserror::Error)]
pub enum EditorialError {
    /// The issue is on hold (`tipsheet hold`).
    #[error(
        "on hold: nothing was sent (issue of `{date}`, held since `{at}`{why}); `tipsheet release --date {date}` lets it go"
    )]
    Held {
        /// The slot.
        date: NaiveDate,
        /// When the hold was set.
        at: String,
        /// `, reason: `...`` or nothing.
        why: String,
    },
    /// `[editorial] approval = "required"` and the issue as it stands has
    /// no approval.
    #[error(
        "awaiting approval: nothing was sent (issue #{number} of `{date}` {detail}); `tipsheet approve --date {date}` approves it as it stands"
    )]
    AwaitingApproval {
        /// The slot.
        date: NaiveDate,
        /// The issue number.
        number: u32,
        /// "was never approved", or what changed since the last approval.
        detail: String,
    },
    /// There is nothing left to approve.
    #[error(
        "issue #{number} of `{date}` was already sent to everyone; there is nothing to approve"
    )]
    AlreadySent {
        /// The slot.
        date: NaiveDate,
        /// The issue number.
        number: u32,
    },
    /// `--reassemble` after the recipients were frozen.
    #[error(
        "issue #{number} of `{date}` is being sent (its recipients were frozen); it can no longer be reassembled: approve it as it is (without `--reassemble`), or `tipsheet hold --date {date}` it"
    )]
    Started {
        /// The slot.
        date: NaiveDate,
        /// The issue number.
        number: u32,
    },
    /// The issue was frozen without a rendered copy (by a tipsheet before
    /// approvals), so there is nothing to approve byte for byte.
    #[error(
        "issue #{number} of `{date}` was frozen by an older tipsheet without its rendered copy, so it cannot be approved; set `editorial.approval = \"off\"` to finish sending it"
    )]
    NoRender {
        /// The slot.
        date: NaiveDate,
        /// The issue number.
        number: u32,
    },
    /// A name, or a reason, that cannot be shown as given.
    #[error(
        "`{value}` cannot be {what}: use 1 to {max} characters, none of them control characters"
    )]
    BadText {
        /// What it was for, e.g. "an approver's name (`--by`)".
        what: &'static str,
        /// The value.
        value: String,
        /// The longest allowed, in characters.
        max: usize,
    },
    /// The schedule does not work.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The slot or the issue cannot be planned.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The issue cannot be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl EditorialError {
    /// Whether this stops a send that was otherwise possible (exit 6:
    /// on hold, or awaiting approval).
    pub fn stops_send(&self) -> bool {
        matches!(
            self,
            EditorialError::Held { .. } | EditorialError::AwaitingApproval { .. }
        )
    }
}
