//! The store as planning reads it: its settings (with the keyer that
//! recognises erased readers), opened to read without creating anything, a
//! [`Snapshot`], and the list streamed as the store holds it.
//!
//! Reads only: must not freeze, claim or record anything.

use chrono::NaiveDate;

use super::error::PlanError;
use super::secrets::keyer;
use crate::config::Config;
use crate::list::{Subscriber, Walked};
use crate::store::{Snapshot, Store, StoreSettings};

/// The store's settings for `config`, erased readers recognised through
/// the configured secret.
pub(crate) fn store_settings(config: &Config) -> Result<StoreSettings, PlanError> {
    let mut settings = StoreSettings::from_config(config)?;
    settings.keyer = keyer(config).ok();
    Ok(settings)
}

/// The store opened to read, creating nothing; `None` when nothing was
/// ever stored there.
pub(crate) async fn read_store(config: &Config) -> Result<Option<Store>, PlanError> {
    Ok(Store::open_to_read(&store_settings(config)?).await?)
}

/// A [`Snapshot`] of the store, with the open recipients of `detail` if
/// given; `None` when nothing was ever stored.
pub(crate) async fn snapshot(
    config: &Config,
    detail: Option<NaiveDate>,
) -> Result<Option<Snapshot>, PlanError> {
    match read_store(config).await? {
        Some(store) => Ok(Some(store.snapshot(detail).await?)),
        None => Ok(None),
    }
}

/// Streams the list of record: `visit` gets each active subscriber once;
/// skipped rows come back as warnings. A list that stops early is an error.
pub(crate) async fn walk_list(
    config: &Config,
    visit: &mut (dyn FnMut(Subscriber) + Send),
) -> Result<Walked, PlanError> {
    match read_store(config).await? {
        Some(store) => Ok(store.walk_list(visit).await?),
        None => Ok(Walked::default()),
    }
}
