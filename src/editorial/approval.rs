//! Approval: an editor freezes an issue as it stands (its selection and its
//! rendered copy) and signs it off; with `[editorial] approval =
//! "required"`, no command sends an issue whose frozen copy is not the one
//! last approved.
//!
//! An approval names the SHA-256 of the rendered copy it approved, and it
//! holds while the stored copy still has that digest: whatever changes the
//! frozen issue (`--reassemble`, a restore) needs a new approval. The send
//! uses the stored copy, so later edits to content or templates change
//! nothing until `approve --reassemble` takes them in.

use std::time::SystemTime;

use chrono::{NaiveDate, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use super::error::EditorialError;
use crate::config::Config;
use crate::mail::prepared::Prepared;
use crate::plan;
use crate::store::{Approval, IssueStatus, Store};

/// The longest approver name, in characters.
const MAX_NAME: usize = 100;

/// Whether the issue of a slot may go out as far as approval goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ApprovalState {
    /// `[editorial] approval` is off and nobody approved the issue.
    NotRequired,
    /// Approval is required and the issue as it stands has none: it was
    /// never approved (`last` is `None`), or its frozen copy changed since
    /// `last`.
    Awaiting {
        /// The latest approval, which no longer matches.
        last: Option<Approval>,
    },
    /// The issue as it stands is the one last approved.
    Approved(Approval),
}

/// SHA-256 of a rendered issue as stored, lowercase hex: what an approval
/// names.
pub fn digest(rendered: &[u8]) -> String {
    hex::encode(Sha256::digest(rendered))
}

/// Every approval of the issue of `date`, oldest first.
pub async fn approvals(store: &Store, date: NaiveDate) -> Result<Vec<Approval>, EditorialError> {
    Ok(store.approvals(date).await?)
}

/// The approval state of the issue of `date`: approved when its latest
/// approval names the digest of the rendered copy stored now.
pub async fn approval_state(
    store: &Store,
    config: &Config,
    date: NaiveDate,
) -> Result<ApprovalState, EditorialError> {
    let last = store.approvals(date).await?.pop();
    if let Some(a) = &last
        && let Some(rendered) = store.rendered(date).await?
        && digest(&rendered) == a.digest
    {
        return Ok(ApprovalState::Approved(a.clone()));
    }
    Ok(if config.editorial.approval_required() {
        ApprovalState::Awaiting { last }
    } else {
        ApprovalState::NotRequired
    })
}

/// Whether the issue of `date` may be sent now: not on hold and, with
/// approval required, approved as it stands (an issue already sent to
/// everyone has nothing left to send and passes). What every sending
/// command asks first.
pub async fn may_send(
    store: &Store,
    config: &Config,
    date: NaiveDate,
    number: u32,
) -> Result<(), EditorialError> {
    if let Some(hold) = store.hold_of(date).await? {
        return Err(EditorialError::Held {
            date,
            at: hold.at,
            why: hold
                .reason
                .map(|r| format!(", reason: `{r}`"))
                .unwrap_or_default(),
        });
    }
    if !config.editorial.approval_required()
        || store
            .issue(date)
            .await?
            .is_some_and(|i| i.status == IssueStatus::Sent)
    {
        return Ok(());
    }
    match approval_state(store, config, date).await? {
        ApprovalState::Approved(_) | ApprovalState::NotRequired => Ok(()),
        ApprovalState::Awaiting { last } => Err(EditorialError::AwaitingApproval {
            date,
            number,
            detail: match last {
                None => "was never approved".into(),
                Some(a) => format!(
                    "changed since `{}` approved it at `{}`; approve it again to send what it is now",
                    a.by, a.at
                ),
            },
        }),
    }
}

/// Approves the issue of `date` in the name of `by`: assembles it if the
/// store has no record of it (the rotation, as `send` would), freezes its
/// selection and rendered copy in the store, and records who, when and the
/// digest of that copy. An issue already frozen is approved as it is; with
/// `reassemble`, an issue whose recipients are not frozen yet is assembled
/// and rendered again from the content and templates as they are now.
pub async fn approve(
    store: &Store,
    config: &Config,
    date: NaiveDate,
    by: &str,
    reassemble: bool,
) -> Result<Approval, EditorialError> {
    let by = by.trim();
    if by.is_empty() || by.chars().count() > MAX_NAME || by.chars().any(char::is_control) {
        return Err(EditorialError::BadText {
            what: "an approver's name (`--by`)",
            value: by.to_string(),
            max: MAX_NAME,
        });
    }
    let schedule = config.schedule()?;
    let slot = plan::slot_for(&schedule, date)?;
    let number = slot.number;
    let snapshot = store.snapshot(None).await?;
    let record = snapshot.issue(date)?;
    match record.as_ref().map(|r| r.status) {
        Some(IssueStatus::Sent) => return Err(EditorialError::AlreadySent { date, number }),
        Some(IssueStatus::Sending) if reassemble => {
            return Err(EditorialError::Started { date, number });
        }
        _ => {}
    }
    let stored = match &record {
        Some(_) if !reassemble => store.rendered(date).await?,
        _ => None,
    };
    let rendered = match stored {
        Some(r) => r,
        None => {
            let (library, _) = plan::load_content(config)?;
            let issue = if reassemble {
                // The rotation again, as if this slot had never been assembled.
                let history: Vec<_> = snapshot
                    .history()?
                    .into_iter()
                    .filter(|p| p.number != number)
                    .collect();
                plan::rotate(config, &library, &history, slot)?
            } else {
                plan::choose(config, &library, Some(&snapshot), slot)?.0
            };
            let fresh = Prepared::render(config, &issue, SystemTime::now())?;
            // Infallible: a struct of strings and a number.
            let bytes = serde_json::to_vec(&fresh).unwrap_or_default();
            let staged = store
                .stage(date, number, &issue.selection, &bytes, reassemble)
                .await?;
            if reassemble && !staged.written {
                // Its recipients were frozen meanwhile.
                return Err(EditorialError::Started { date, number });
            }
            staged
                .rendered
                .ok_or(EditorialError::NoRender { date, number })?
        }
    };
    let approval = Approval {
        slot: date,
        number,
        by: by.to_string(),
        at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        digest: digest(&rendered),
        reassembled: reassemble,
    };
    store.record_approval(&approval).await?;
    Ok(approval)
}
