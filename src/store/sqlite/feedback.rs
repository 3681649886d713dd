//! The embedded engine's events: recorded in the SQLite ledger, with the
//! suppression the policy decides appended to `suppressed.csv` inside the
//! record's transaction (a failure records nothing, so the same message or
//! webhook retry does it all again).
//!
//! Owns carrying out [`Feedback`] on the ledger and the suppression file.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::index::Pending;
use super::store::{SqliteStore, guard};
use crate::store::error::StoreError;
use crate::store::event::{Consequence, Event, EventKind, EventRecord, Recorded};
use crate::store::feedback::Feedback;
use crate::store::records::{LedgerError, RecipientRecord};

/// A failure that rolls the records back.
struct Failed(StoreError);

impl From<LedgerError> for Failed {
    fn from(e: LedgerError) -> Self {
        Self(e.into())
    }
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Self(e)
    }
}

#[async_trait]
impl Feedback for SqliteStore {
    async fn recipient_by_rid(
        &self,
        slot: NaiveDate,
        rid: &str,
    ) -> Result<Option<RecipientRecord>, StoreError> {
        self.query(None, |db| db.recipient_by_rid(slot, rid))
    }

    async fn recipient_by_message_id(
        &self,
        message_id: &str,
    ) -> Result<Option<(NaiveDate, RecipientRecord)>, StoreError> {
        self.query(None, |db| db.recipient_by_message_id(message_id))
    }

    async fn take_webhook_token(
        &self,
        token: &str,
        seen_at: &str,
        prune_before: &str,
    ) -> Result<bool, StoreError> {
        self.write(|db| db.take_webhook_token(token, seen_at, prune_before))
    }

    async fn give_back_webhook_token(&self, token: &str) -> Result<(), StoreError> {
        self.write(|db| db.give_back_webhook_token(token))
    }

    async fn latest_issue_of(&self, email: &str) -> Result<Option<NaiveDate>, StoreError> {
        self.query(None, |db| db.latest_issue_of(email))
    }

    async fn events(&self, slot: Option<NaiveDate>) -> Result<Vec<EventRecord>, StoreError> {
        self.query(Vec::new(), |db| db.events(slot))
    }

    async fn complained(&self, email: &str) -> Result<bool, StoreError> {
        self.query(false, |db| db.complained(email))
    }

    async fn erased_as(&self, email: &str) -> Result<Option<String>, StoreError> {
        let Some(keyer) = &self.keyer else {
            return Ok(None);
        };
        self.with_suppression_to_update(|set| {
            if !set.is_forgotten(email) {
                return None;
            }
            keyer
                .pseudonyms(email)
                .find(|p| set.is_forgotten(p))
                .or_else(|| Some(keyer.pseudonym(email)))
        })
    }

    async fn record_all(
        &self,
        events: &[Event],
        now: DateTime<Utc>,
        soft_since: &str,
        decide: &(dyn Fn(usize, Option<u64>) -> Consequence + Sync),
    ) -> Result<Vec<Recorded>, StoreError> {
        let _files = guard(&self.files);
        self.write(|db| {
            let mut done = vec![Recorded::default(); events.len()];
            let suppressions = std::cell::RefCell::new(Pending::new(&self.index));
            let kept = db.record_events(
                events,
                |i| -> Result<bool, Failed> {
                    let (event, done) = (&events[i], &mut done[i]);
                    if event.kind == EventKind::SoftBounce {
                        done.soft_count = Some(db.soft_bounces_since(&event.email, soft_since)?);
                    }
                    let then = decide(i, done.soft_count);
                    if let (Some(reply), Some(slot)) = (&then.bounce_row, event.slot) {
                        done.row_bounced = db.mark_bounced(slot, &event.email, reply)?;
                    }
                    if let Some(reason) = &then.suppress {
                        done.suppressed =
                            suppressions.borrow_mut().add(&event.email, reason, now)?;
                    }
                    if then.only_if_suppressing && !done.suppressed {
                        *done = Recorded::default();
                        return Ok(false);
                    }
                    Ok(true)
                },
                // On disk before the records commit: a crash between the
                // two keeps the suppression, and a retry records the events.
                || suppressions.borrow_mut().commit().map_err(Failed),
            );
            Ok(match kept {
                Ok(kept) => {
                    for (d, new) in done.iter_mut().zip(kept) {
                        d.new = new;
                    }
                    Ok(done)
                }
                Err(Failed(e)) => Err(e),
            })
        })?
    }
}
