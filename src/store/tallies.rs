//! What the console's dashboard asks of the store: each issue's counts by
//! status and its events by kind, counted by the store (aggregates over its
//! indexes), never by reading rows into memory.
//!
//! Owns the [`Tallies`] trait and the text form of a kept tally. A sent
//! issue's recipients change only through the events recorded for it (a
//! later bounce moves a row), so each engine keeps a sent issue's counts
//! with the number of its events when they were taken, and counts again
//! only when that number moved: the last twelve issues of a list of a
//! million cost twelve small reads, not a million rows. The send that
//! marks an issue sent keeps its tally then (it has just counted), so the
//! dashboard counts only an issue an event moved since, or one sent
//! before tallies were kept.

use async_trait::async_trait;
use chrono::NaiveDate;

use super::error::StoreError;
use super::event::EventKind;
use super::records::{Counts, RecipientStatus};

/// The dashboard's side of the store.
#[async_trait]
pub trait Tallies: Send + Sync {
    /// Counts by status of each issue of `slots`, in that order (empty for
    /// a slot with no issue).
    async fn tallies(&self, slots: &[NaiveDate]) -> Result<Vec<Counts>, StoreError>;

    /// For each issue of `slots`, in that order: how many distinct
    /// addresses each kind of event came from.
    async fn event_tallies(
        &self,
        slots: &[NaiveDate],
    ) -> Result<Vec<Vec<(EventKind, u64)>>, StoreError>;

    /// Every recorded event (of any issue or none), counted by kind.
    async fn event_totals(&self) -> Result<Vec<(EventKind, u64)>, StoreError>;
}

/// A kept tally's text: `sent:120,failed:3`.
pub(super) fn tally_text(c: &Counts) -> String {
    c.by_status
        .iter()
        .map(|(s, n)| format!("{}:{n}", s.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A kept tally read back (an unknown status is left out).
pub(super) fn tally_of(text: &str) -> Counts {
    let mut by_status: Vec<(RecipientStatus, u64)> = text
        .split(',')
        .filter_map(|p| p.split_once(':'))
        .filter_map(|(s, n)| Some((s.parse().ok()?, n.parse().ok()?)))
        .collect();
    by_status.sort();
    Counts { by_status }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_reads_back_as_written() {
        let c = Counts {
            by_status: vec![(RecipientStatus::Sent, 120), (RecipientStatus::Bounced, 3)],
        };
        let mut sorted = c.clone();
        sorted.by_status.sort();
        assert_eq!(tally_of(&tally_text(&c)), sorted);
        assert_eq!(tally_of(""), Counts::default());
    }
}
