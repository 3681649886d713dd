//! What a delivery session tells while it runs: the [`Reporter`] the caller
//! implements (the command line draws a progress bar with it).
//!
//! Owns only the interface; the library calls it and never prints. Must not
//! depend on the session or the run loop that call it.

use chrono::NaiveDate;

use crate::diagnostic::Diagnostic;
use crate::store::Outcome;

/// What a session tells while it runs; every method has a silent default.
/// The library calls it; the command line decides how it looks.
pub trait Reporter: Send + Sync {
    /// The recipient set was frozen: `added` recipients, `skipped` rows.
    fn frozen(&self, _number: u32, _date: NaiveDate, _added: u64, _skipped: &[Diagnostic]) {}
    /// `uncertain` recipients were in flight when an earlier run stopped.
    fn recovered(&self, _uncertain: u64, _resending: bool) {}
    /// Sending starts with `total` open recipients.
    fn started(&self, _total: u64) {}
    /// These outcomes were just recorded.
    fn advanced(&self, _outcomes: &[Outcome]) {}
    /// Sending is over (clears a progress bar).
    fn finished(&self) {}
}

/// A reporter that tells nothing (tests, the scheduler's quiet paths).
pub struct Silent;
impl Reporter for Silent {}
