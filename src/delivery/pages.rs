//! Where the run loop's recipients come from: pages of due recipients in key
//! order, claimed for this process through [`Ledger::claim`], with the
//! suppressed among them. Must not hand out, mark or record anything: the run
//! loop does.
//!
//! A claim can be a round trip and an `UPDATE` of the whole page, a few
//! milliseconds while a database server is busy with group commits. Claimed
//! in place, every such wait stops the run loop, and so every commit and every
//! worker. So once half a page is left, the next page is claimed in the
//! background while this one is sent; only a run that outpaces the store
//! waits for it.

use std::collections::{HashSet, VecDeque};

use chrono::NaiveDate;
use tokio::task::JoinHandle;

use crate::store::{Claimed, RecipientRecord, RecipientStatus, Store, StoreError};

/// The pages of one run.
pub(super) struct Pages {
    slot: NaiveDate,
    size: usize,
    wanted: Vec<RecipientStatus>,
    /// The store, where the next page is claimed ahead.
    store: Store,
    queue: VecDeque<RecipientRecord>,
    /// The last key claimed: the next page starts after it.
    cursor: String,
    /// The store had no full page after `cursor`.
    exhausted: bool,
    ahead: Option<JoinHandle<Result<Claimed, StoreError>>>,
    suppressed: HashSet<String>,
}

impl Pages {
    /// Pages of `size` recipients whose status is one of `wanted`.
    pub fn new(store: &Store, slot: NaiveDate, size: usize, wanted: Vec<RecipientStatus>) -> Self {
        Self {
            slot,
            size,
            wanted,
            store: store.clone(),
            queue: VecDeque::new(),
            cursor: String::new(),
            exhausted: false,
            ahead: None,
            suppressed: HashSet::new(),
        }
    }

    /// The next recipient, claiming a page when none is queued; `None` when
    /// the store has no more.
    pub async fn next(&mut self, store: &Store) -> Result<Option<RecipientRecord>, StoreError> {
        if self.queue.is_empty() {
            let page = match self.ahead.take() {
                Some(ahead) => ahead.await.map_err(|e| StoreError::Database {
                    store: store.describe(),
                    detail: format!("claiming the next page did not finish: {e}"),
                })??,
                None if !self.exhausted => {
                    store
                        .claim(self.slot, &self.wanted, &self.cursor, self.size)
                        .await?
                }
                None => return Ok(None),
            };
            self.exhausted = page.rows.len() < self.size;
            if let Some(last) = page.rows.last() {
                self.cursor = last.key.clone();
            }
            self.suppressed.extend(page.suppressed);
            self.queue.extend(page.rows);
        }
        let next = self.queue.pop_front();
        self.look_ahead();
        Ok(next)
    }

    /// Whether the store had `key` suppressed when its page was claimed.
    pub fn suppressed(&self, key: &str) -> bool {
        self.suppressed.contains(key)
    }

    /// Nothing queued, nothing being claimed, nothing left to claim.
    pub fn done(&self) -> bool {
        self.queue.is_empty() && self.exhausted && self.ahead.is_none()
    }

    /// Starts again from the first key, for recipients whose status is one
    /// of `wanted` (what hosts that died left).
    pub fn restart(&mut self, wanted: Vec<RecipientStatus>) {
        if let Some(ahead) = self.ahead.take() {
            // A claim cut short leaves rows leased to this host: the next
            // claim takes its own rows again.
            ahead.abort();
        }
        self.wanted = wanted;
        self.queue.clear();
        self.cursor.clear();
        self.exhausted = false;
    }

    /// Waits for a page being claimed ahead, and drops it: its rows are then
    /// this host's claims, which a clean stop releases.
    pub async fn settle(&mut self) {
        if let Some(ahead) = self.ahead.take() {
            let _ = ahead.await;
        }
    }

    /// With half a page left, claims the next one in the background.
    fn look_ahead(&mut self) {
        if self.ahead.is_some() || self.exhausted || self.queue.len() > self.size / 2 {
            return;
        }
        let (store, slot, wanted, cursor, size) = (
            self.store.clone(),
            self.slot,
            self.wanted.clone(),
            self.cursor.clone(),
            self.size,
        );
        self.ahead = Some(tokio::spawn(async move {
            store.claim(slot, &wanted, &cursor, size).await
        }));
    }
}
