//! What the inbound loop, the relays' webhooks, the one-click unsubscribe and
//! `status` ask of the store about mail that came back: the row a report is
//! about, the events recorded, and recording one with its consequences.
//!
//! Owns the [`Feedback`] trait only. What an event does is decided by
//! `inbound::policy` and handed in; both engines carry it out in one
//! transaction with the event's record.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::error::StoreError;
use super::event::{Consequence, Event, EventRecord, Recorded};
use super::records::RecipientRecord;

/// The events side of the store.
#[async_trait]
pub trait Feedback: Send + Sync {
    /// The recipient of issue `slot` whose Message-ID hash starts with `rid`.
    async fn recipient_by_rid(
        &self,
        slot: NaiveDate,
        rid: &str,
    ) -> Result<Option<RecipientRecord>, StoreError>;

    /// The issue and recipient whose copy carried exactly `message_id`
    /// (`<…@…>`, as sent): one indexed probe, never a prefix or a scan.
    async fn recipient_by_message_id(
        &self,
        message_id: &str,
    ) -> Result<Option<(NaiveDate, RecipientRecord)>, StoreError>;

    /// Takes a relay webhook's one-time signature `token` at `seen_at` (RFC
    /// 3339): true when it was not taken before (false: a replay). Tokens
    /// taken before `prune_before` are forgotten first (they are outside the
    /// accepted clock skew, so their requests are refused anyway).
    async fn take_webhook_token(
        &self,
        token: &str,
        seen_at: &str,
        prune_before: &str,
    ) -> Result<bool, StoreError>;

    /// Gives back a token taken by a request that then failed, so the
    /// relay's retry of the same request is not taken for a replay.
    async fn give_back_webhook_token(&self, token: &str) -> Result<(), StoreError>;

    /// The latest issue whose copy went out to `email`.
    async fn latest_issue_of(&self, email: &str) -> Result<Option<NaiveDate>, StoreError>;

    /// Recorded events of one issue (or all), oldest first.
    async fn events(&self, slot: Option<NaiveDate>) -> Result<Vec<EventRecord>, StoreError>;

    /// Whether `email` complained about any issue.
    async fn complained(&self, email: &str) -> Result<bool, StoreError>;

    /// The pseudonym `email` was erased under, if it was.
    async fn erased_as(&self, email: &str) -> Result<Option<String>, StoreError>;

    /// Records `event` once and, when it is new, carries out `decide`'s
    /// [`Consequence`] in the same transaction. `decide` gets the soft-bounce
    /// count at or after `soft_since` (this one included) for a soft bounce;
    /// it must only compute (it may run again on a retried connection).
    async fn record(
        &self,
        event: &Event,
        now: DateTime<Utc>,
        soft_since: &str,
        decide: &(dyn Fn(Option<u64>) -> Consequence + Sync),
    ) -> Result<Recorded, StoreError> {
        let each = |_: usize, soft: Option<u64>| decide(soft);
        let mut done = self
            .record_all(std::slice::from_ref(event), now, soft_since, &each)
            .await?;
        Ok(done.pop().unwrap_or_default())
    }

    /// Records each of `events` as [`Feedback::record`] does, in order, in
    /// one transaction (on the embedded engine with their suppressions in one
    /// append and one flush): a group commit, one [`Recorded`] per event;
    /// `decide` gets the event's index in `events`. An
    /// event's consequences see the events before it (a second unsubscribe
    /// of one address in the batch suppresses nothing). A failure records
    /// none of them.
    async fn record_all(
        &self,
        events: &[Event],
        now: DateTime<Utc>,
        soft_since: &str,
        decide: &(dyn Fn(usize, Option<u64>) -> Consequence + Sync),
    ) -> Result<Vec<Recorded>, StoreError>;
}
