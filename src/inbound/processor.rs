//! The processor of raw messages against one store: its parts (config,
//! signer, store, policy, clock) and the row a message is about. What it does
//! with a message is in `mod.rs` (`process`) and `plan.rs` (`plan`).

use chrono::{DateTime, Utc};

use super::policy::Policy;
use crate::config::Config;
use crate::mail::token::Signer;
use crate::store::Store;

/// The row a message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(super) slot: chrono::NaiveDate,
    pub(super) email: String,
}

/// Processes raw messages against one store.
pub struct Processor<'a> {
    pub(super) config: &'a Config,
    pub(super) signer: &'a Signer,
    pub(super) store: &'a Store,
    pub(super) policy: Policy,
    pub(super) now: DateTime<Utc>,
}

impl<'a> Processor<'a> {
    /// A processor for `config`'s list and policy, checking tokens with
    /// `signer` (whose secret also keys erased readers' pseudonyms).
    pub fn new(
        config: &'a Config,
        signer: &'a Signer,
        store: &'a Store,
        now: DateTime<Utc>,
    ) -> Self {
        let keyer = crate::plan::with_previous_key(config, crate::plan::keyer_of(signer.clone()));
        Self {
            config,
            signer,
            store,
            policy: Policy::new(&config.bounce_settings(), keyer),
            now,
        }
    }
}
