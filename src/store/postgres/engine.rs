//! The shared engine behind the store traits: each trait method is one of
//! `PgStore`'s queries, or a few of them in the order the trait promises.
//!
//! Owns that mapping only; the SQL is in the sibling files.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use super::pool::PgStore;
use crate::content::issue::Selection;
use crate::diagnostic::Diagnostic;
use crate::list::SuppressionReason;
use crate::list::erase::Row;
use crate::list::{SUBSCRIBERS_HEADER, SUPPRESSION_HEADER, Subscriber, Walked};
use crate::store::error::StoreError;
use crate::store::event::{Consequence, Event, EventRecord, Recorded};
use crate::store::feedback::Feedback;
use crate::store::feeds::{FeedOutcome, Feeds, Validators};
use crate::store::ledger::{Claimed, Exclusive, Frozen, Hold, Ledger, PauseRecord};
use crate::store::limits::mailbox_keys;
use crate::store::quota::{Quotas, Reserved, Window};
use crate::store::records::{
    Counts, Erasure, Forgotten, FrozenIssue, Held, IssueRecord, IssueStatus, Outcome, Places,
    RecipientRecord, RecipientStatus, StoredSubscriber, StoredSuppression,
};
use crate::store::roster::Roster;

#[async_trait]
impl Ledger for PgStore {
    fn describe(&self) -> String {
        self.url().to_string()
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        PgStore::schema_version(self).await
    }

    fn exclusive(&self) -> Result<Exclusive, StoreError> {
        // Several senders on one issue are the design: leases share it out.
        Ok(Exclusive(None))
    }

    async fn sending(&self, slot: Option<NaiveDate>) -> Result<bool, StoreError> {
        match slot {
            Some(slot) => Ok(self.live_leases(slot).await? > 0),
            None => Ok(false),
        }
    }

    async fn issues(&self) -> Result<Vec<IssueRecord>, StoreError> {
        PgStore::issues(self).await
    }

    async fn issue(&self, slot: NaiveDate) -> Result<Option<IssueRecord>, StoreError> {
        PgStore::issue(self, slot).await
    }

    async fn issue_by_number(&self, number: u32) -> Result<Option<IssueRecord>, StoreError> {
        PgStore::issue_by_number(self, number).await
    }

    async fn assemble(
        &self,
        slot: NaiveDate,
        number: u32,
        selection: &Selection,
    ) -> Result<(), StoreError> {
        PgStore::assemble(self, slot, number, selection, None).await
    }

    async fn freeze(
        &self,
        slot: NaiveDate,
        recipients: &mut (dyn Iterator<Item = Result<Frozen, StoreError>> + Send),
    ) -> Result<u64, StoreError> {
        let rows = recipients.collect::<Result<Vec<_>, _>>()?;
        PgStore::freeze(self, slot, &rows).await
    }

    async fn freeze_issue(
        &self,
        slot: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: Option<&[u8]>,
    ) -> Result<FrozenIssue, StoreError> {
        PgStore::freeze_issue(self, slot, number, selection, rendered).await
    }

    async fn recover(&self, slot: NaiveDate) -> Result<u64, StoreError> {
        PgStore::recover(self, slot).await
    }

    async fn due(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        limit: usize,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        PgStore::due(self, slot, statuses, after, limit).await
    }

    fn page_size(&self, window: usize) -> usize {
        // Small pages share an issue evenly between hosts: about four
        // windows, so that at the end the hosts finish within a few messages
        // per connection of each other (a claim is one round trip).
        (window * 4).clamp(32, 128)
    }

    fn renew_every(&self) -> Duration {
        self.lease() / 3
    }

    async fn claim(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
        after: &str,
        size: usize,
    ) -> Result<Claimed, StoreError> {
        // The list of record is here too: the page comes with its suppressed.
        let rows = PgStore::claim(self, slot, statuses, after, size).await?;
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        let suppressed = self.suppressed_among(&keys).await?;
        Ok(Claimed { rows, suppressed })
    }

    fn suppressed_since_claim(&self, _key: &str) -> bool {
        // Answered at the claim; a page is small and soon claimed again.
        false
    }

    async fn renew(&self, slot: NaiveDate) -> Result<u64, StoreError> {
        PgStore::renew(self, slot).await
    }

    async fn release(&self, slot: NaiveDate) -> Result<u64, StoreError> {
        PgStore::release(self, slot).await
    }

    async fn left_by_others(
        &self,
        slot: NaiveDate,
        statuses: &[RecipientStatus],
    ) -> Result<bool, StoreError> {
        PgStore::recover(self, slot).await?;
        let held = self.held_by_others(slot).await?;
        Ok(held > 0 || !PgStore::due(self, slot, statuses, "", 1).await?.is_empty())
    }

    async fn commit(
        &self,
        slot: NaiveDate,
        in_flight: &[&str],
        outcomes: &[Outcome],
    ) -> Result<(), StoreError> {
        PgStore::commit(self, slot, in_flight, outcomes).await
    }

    async fn group_commits_wait_for_disk(&self) -> Result<bool, StoreError> {
        PgStore::group_commits_wait_for_disk(self).await
    }

    async fn counts(&self, slot: NaiveDate) -> Result<Counts, StoreError> {
        PgStore::counts(self, slot).await
    }

    async fn sent_by_relay(&self, slot: NaiveDate) -> Result<Vec<(String, u64)>, StoreError> {
        PgStore::sent_by_relay(self, slot).await
    }

    async fn hold(
        &self,
        slot: NaiveDate,
        reason: Option<&str>,
        at: &str,
    ) -> Result<(), StoreError> {
        self.put_hold(slot, reason, at).await
    }

    async fn unhold(&self, slot: NaiveDate) -> Result<bool, StoreError> {
        self.lift_hold(slot).await
    }

    async fn hold_of(&self, slot: NaiveDate) -> Result<Option<Hold>, StoreError> {
        self.read_hold(slot).await
    }

    async fn record_pauses(&self, pauses: &[PauseRecord]) -> Result<(), StoreError> {
        self.put_pauses(pauses).await
    }

    async fn pauses(&self, slot: NaiveDate) -> Result<Vec<PauseRecord>, StoreError> {
        self.read_pauses(slot).await
    }

    async fn pauses_since(&self, since: &str) -> Result<Vec<PauseRecord>, StoreError> {
        self.read_pauses_since(since).await
    }

    async fn set_continue_at(
        &self,
        slot: NaiveDate,
        at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.put_continue_at(slot, at).await
    }

    async fn capped(&self) -> Result<Vec<(NaiveDate, DateTime<Utc>)>, StoreError> {
        self.read_capped().await
    }

    async fn finish(&self, slot: NaiveDate) -> Result<IssueStatus, StoreError> {
        PgStore::finish(self, slot).await
    }
}

/// A stored row as the list files' [`Row`] (line 0: no file).
fn row(values: [&str; 3], header: &[&str]) -> Row {
    Row {
        line: 0,
        fields: header
            .iter()
            .zip(values)
            .map(|(c, v)| ((*c).to_string(), v.to_string()))
            .collect(),
    }
}

impl PgStore {
    /// The address and every pseudonym it may be stored as.
    fn keys_of(&self, key: &str) -> Vec<String> {
        let mut keys = vec![key.to_string()];
        if let Some(k) = self.keyer() {
            keys.extend(k.pseudonyms(key));
        }
        keys
    }
}

#[async_trait]
impl Roster for PgStore {
    fn places(&self) -> Places {
        let store = self.url().to_string();
        Places {
            list: format!("`{store}` subscribers"),
            suppressions: format!("`{store}` suppressions"),
            ledger: format!("`{store}` recipients and events"),
            erased_suppressions: "replaced by one `forgotten` row holding only the hash",
        }
    }

    async fn walk_list(
        &self,
        visit: &mut (dyn FnMut(Subscriber) + Send),
    ) -> Result<Walked, StoreError> {
        let mut walked = Walked::default();
        let (counts, diags) = (&mut walked.counts, &mut walked.diags);
        let store = self.url().to_string();
        self.walk_subscribers(|s, suppressed| {
            if suppressed {
                counts.suppressed += 1;
                return;
            }
            match s.address.parse() {
                Ok(email) => {
                    counts.active += 1;
                    visit(Subscriber {
                        email,
                        key: s.key,
                        name: s.name,
                        subscribed_at: s
                            .subscribed_at
                            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok()),
                        line: 0,
                    });
                }
                // Imports and sign-ups validate; a row written by hand is not.
                Err(e) => {
                    counts.invalid += 1;
                    diags.push(Diagnostic::warning(
                        &store,
                        0,
                        format!(
                            "`{}` in table `subscribers` is not a valid email address ({e}); row skipped: fix or delete it with SQL, or re-import the list",
                            s.address
                        ),
                    ));
                }
            }
        })
        .await?;
        Ok(walked)
    }

    async fn check_list(&self) -> Vec<Diagnostic> {
        // Every stored row was validated as it was imported or signed up;
        // `check`'s store lines report the list's size.
        Vec::new()
    }

    async fn is_suppressed(&self, key: &str) -> Result<bool, StoreError> {
        // An erased reader is suppressed under its pseudonym.
        self.suppressed_as(&self.keys_of(key)).await
    }

    async fn suppress(
        &self,
        key: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if self.is_suppressed(key).await? {
            return Ok(false);
        }
        PgStore::suppress(
            self,
            &StoredSuppression {
                key: key.to_string(),
                address: key.to_string(),
                reason: reason.to_string(),
                at: at.to_rfc3339_opts(SecondsFormat::Secs, true),
            },
        )
        .await
    }

    async fn resubscribe(&self, key: &str, _at: DateTime<Utc>) -> Result<bool, StoreError> {
        PgStore::resubscribe(self, key).await
    }

    async fn subscribe(&self, reader: &StoredSubscriber) -> Result<bool, StoreError> {
        self.add_subscriber(reader).await
    }

    async fn spend_confirmation(
        &self,
        digest: &str,
        expires: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        PgStore::spend_confirmation(self, digest, expires, now).await
    }

    async fn forgotten_among(&self, keys: &[&str]) -> Result<HashSet<String>, StoreError> {
        let Some(keyer) = self.keyer() else {
            return Ok(HashSet::new());
        };
        let mut of = HashMap::new();
        for key in keys {
            for p in keyer.pseudonyms(key) {
                of.insert(p, (*key).to_string());
            }
        }
        let pseudonyms: Vec<String> = of.keys().cloned().collect();
        let found = self
            .suppressed_for(&pseudonyms, &SuppressionReason::Forgotten.as_str())
            .await?;
        Ok(found.iter().filter_map(|p| of.get(p).cloned()).collect())
    }

    async fn held(&self, key: &str) -> Result<Held, StoreError> {
        let Some(keyer) = self.keyer() else {
            return Err(StoreError::NoKeyer);
        };
        let mailbox = mailbox_keys(keyer, key);
        let held = self.reader(&self.keys_of(key)).await?;
        let list = held
            .subscriber
            .iter()
            .map(|s| {
                let at = s.subscribed_at.as_deref().unwrap_or("");
                row([&s.address, &s.name, at], SUBSCRIBERS_HEADER)
            })
            .collect();
        let suppression = held
            .suppressions
            .iter()
            .map(|s| row([&s.address, &s.reason, &s.at], SUPPRESSION_HEADER))
            .collect();
        Ok(Held {
            list,
            suppression,
            issues: held.issues,
            events: held.events,
            counted: self.counted(&mailbox).await?,
        })
    }

    async fn forget(&self, erasure: &Erasure<'_>) -> Result<Forgotten, StoreError> {
        let Some(keyer) = self.keyer() else {
            return Err(StoreError::NoKeyer);
        };
        let mailboxes = mailbox_keys(keyer, erasure.key);
        self.forget_reader(erasure, &mailboxes).await
    }

    async fn list_counts(&self) -> Result<(u64, u64), StoreError> {
        PgStore::list_counts(self).await
    }

    async fn import_subscribers(&self, rows: &[StoredSubscriber]) -> Result<u64, StoreError> {
        self.add_subscribers(rows).await
    }

    async fn import_suppressions(&self, rows: &[StoredSuppression]) -> Result<u64, StoreError> {
        self.suppress_all(rows).await
    }

    async fn subscribers(&self) -> Result<Vec<StoredSubscriber>, StoreError> {
        PgStore::subscribers(self).await
    }

    async fn suppressions(&self) -> Result<Vec<StoredSuppression>, StoreError> {
        PgStore::suppressions(self).await
    }
}

#[async_trait]
impl Feedback for PgStore {
    async fn recipient_by_rid(
        &self,
        slot: NaiveDate,
        rid: &str,
    ) -> Result<Option<RecipientRecord>, StoreError> {
        PgStore::recipient_by_rid(self, slot, rid).await
    }

    async fn recipient_by_message_id(
        &self,
        message_id: &str,
    ) -> Result<Option<(NaiveDate, RecipientRecord)>, StoreError> {
        PgStore::recipient_by_message_id(self, message_id).await
    }

    async fn take_webhook_token(
        &self,
        token: &str,
        seen_at: &str,
        prune_before: &str,
    ) -> Result<bool, StoreError> {
        PgStore::take_webhook_token(self, token, seen_at, prune_before).await
    }

    async fn give_back_webhook_token(&self, token: &str) -> Result<(), StoreError> {
        PgStore::give_back_webhook_token(self, token).await
    }

    async fn latest_issue_of(&self, email: &str) -> Result<Option<NaiveDate>, StoreError> {
        PgStore::latest_issue_of(self, email).await
    }

    async fn events(&self, slot: Option<NaiveDate>) -> Result<Vec<EventRecord>, StoreError> {
        PgStore::events(self, slot).await
    }

    async fn complained(&self, email: &str) -> Result<bool, StoreError> {
        PgStore::complained(self, email).await
    }

    async fn erased_as(&self, email: &str) -> Result<Option<String>, StoreError> {
        let Some(keyer) = self.keyer() else {
            return Ok(None);
        };
        let all: Vec<String> = keyer.pseudonyms(email).collect();
        PgStore::erased_as(self, &all).await
    }

    async fn record_all(
        &self,
        events: &[Event],
        now: DateTime<Utc>,
        soft_since: &str,
        decide: &(dyn Fn(usize, Option<u64>) -> Consequence + Sync),
    ) -> Result<Vec<Recorded>, StoreError> {
        let at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
        self.record_events(events, soft_since, &at, decide).await
    }
}

#[async_trait]
impl Feeds for PgStore {
    async fn feed_validators(&self, feed: &str) -> Result<Validators, StoreError> {
        PgStore::feed_validators(self, feed).await
    }

    async fn save_feed_validators(
        &self,
        feed: &str,
        validators: &Validators,
    ) -> Result<(), StoreError> {
        PgStore::save_feed_validators(self, feed, validators).await
    }

    async fn record_feed_outcome(&self, feed: &str, error: Option<&str>) -> Result<(), StoreError> {
        PgStore::record_feed_outcome(self, feed, error).await
    }

    async fn feed_outcomes(&self) -> Result<Vec<FeedOutcome>, StoreError> {
        PgStore::feed_outcomes(self).await
    }

    async fn fetched_urls(&self) -> Result<Vec<String>, StoreError> {
        PgStore::fetched_urls(self).await
    }

    async fn record_fetched(&self, urls: &[String], slug: &str) -> Result<(), StoreError> {
        PgStore::record_fetched(self, urls, slug).await
    }
}

#[async_trait]
impl Quotas for PgStore {
    async fn reserve_sends(
        &self,
        minute: i64,
        want: u64,
        windows: &[Window],
    ) -> Result<Reserved, StoreError> {
        PgStore::reserve_sends(self, minute, want, windows).await
    }

    async fn return_sends(&self, minute: i64, count: u64) -> Result<(), StoreError> {
        PgStore::return_sends(self, minute, count).await
    }

    async fn sends_within(&self, minute: i64, window: Window) -> Result<u64, StoreError> {
        PgStore::sends_within(self, minute, window).await
    }
}
