//! The email itself: the issue view and its MIME form, the per-recipient
//! splice, DKIM signatures and the signed tokens in every link.
//!
//! Owns turning an assembled issue into bytes for one reader. Must not touch
//! the network, the list files or the store.

pub mod dkim;
mod escape;
pub(crate) mod headers;
pub mod prepared;
mod qp;
mod splice;
pub mod token;
pub(crate) mod verp;
pub mod view;

use std::time::SystemTime;

use crate::config::{Config, ConfigError};
use crate::content::issue::Issue;
use prepared::Prepared;
use view::RenderError;

/// Why an issue cannot be prepared for sending.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The templates or the configured addresses failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The DKIM key named in `[dkim]` cannot be used.
    #[error(transparent)]
    Dkim(#[from] ConfigError),
}

/// The signer `[dkim]` configures, `None` without a `[dkim]` section.
pub(crate) fn dkim_signer(config: &Config) -> Result<Option<dkim::DkimSigner>, ConfigError> {
    let Some(d) = &config.dkim else {
        return Ok(None);
    };
    dkim::DkimSigner::load(d, &config.base_dir())
        .map(Some)
        .map_err(|e| config.invalid(e.config_key(), e.to_string()))
}

/// The issue ready to splice per recipient from its frozen render (see
/// [`Prepared::render`]), DKIM-signed when `[dkim]` is configured; `kind`
/// says which copy (the issue, or a proof of it).
pub(crate) fn prepare_frozen(
    config: &Config,
    issue: &Issue<'_>,
    frozen: &prepared::Frozen,
    signer: token::Signer,
    kind: prepared::CopyKind,
) -> Result<Prepared, PrepareError> {
    Ok(Prepared::from_frozen(config, issue, frozen, signer, kind)?.with_dkim(dkim_signer(config)?))
}

/// The issue rendered once and ready to splice per recipient, DKIM-signed
/// when `[dkim]` is configured; `test` marks the subject "[TEST]".
pub(crate) fn prepare(
    config: &Config,
    issue: &Issue<'_>,
    signer: token::Signer,
    test: bool,
) -> Result<Prepared, PrepareError> {
    Ok(
        Prepared::new(config, issue, signer, SystemTime::now(), test)?
            .with_dkim(dkim_signer(config)?),
    )
}
