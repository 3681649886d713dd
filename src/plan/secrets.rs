//! Which secret signs a command's links and keys its erasure hashes: the one
//! named by `unsubscribe.secret_env`, the development secret only with the
//! outbox, and the previous secret (`unsubscribe.previous_secret_env`)
//! accepted but never used to sign.
//!
//! Owns these rules and the only reads of those variables for signing. Must
//! not open the store or print: the development secret's warning goes back
//! to the caller.

use super::PlanError;
use crate::config::{Config, TransportKind};
use crate::list;
use crate::mail::token::{DEVELOPMENT_SECRET, Signer};

/// The unsubscribe signer. With no secret set, the outbox gets the development
/// secret and a warning to print; SMTP is refused. The secret named by
/// `unsubscribe.previous_secret_env`, when set, is accepted but never signs.
pub fn signer(config: &Config) -> Result<(Signer, Option<String>), PlanError> {
    let (signer, warning) = current_signer(config)?;
    Ok(match previous_secret(config) {
        Some(p) => (signer.with_previous(p.as_bytes()), warning),
        None => (signer, warning),
    })
}

/// The value of `unsubscribe.previous_secret_env`, when named and set.
fn previous_secret(config: &Config) -> Option<String> {
    config
        .unsubscribe
        .previous_secret_env
        .as_deref()
        .and_then(|name| std::env::var(name).ok())
        .filter(|v| !v.trim().is_empty())
}

fn current_signer(config: &Config) -> Result<(Signer, Option<String>), PlanError> {
    let name = &config.unsubscribe.secret_env;
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok((Signer::new(v.as_bytes()), None)),
        _ if config.delivery.transport == TransportKind::Outbox => Ok((
            Signer::new(DEVELOPMENT_SECRET.as_bytes()),
            Some(format!(
                "warning: `{name}` is not set: unsubscribe links use the built-in development secret, which anyone can forge; set `{name}` before sending real mail"
            )),
        )),
        _ => Err(PlanError::NoSecret(name.clone())),
    }
}

/// What recognises erased readers' keyed hashes in the suppression list:
/// keyed like [`signer`] (the development secret with the outbox and no
/// secret set); hashes made under `unsubscribe.previous_secret_env` are
/// recognised too, so a rotation does not forget who was erased.
pub fn keyer(config: &Config) -> Result<list::privacy::Keyer, PlanError> {
    let (signer, _) = current_signer(config)?;
    Ok(with_previous_key(config, keyer_of(signer)))
}

/// `keyer`, also recognising hashes made under the previous secret, if set.
pub fn with_previous_key(config: &Config, keyer: list::privacy::Keyer) -> list::privacy::Keyer {
    match previous_secret(config) {
        Some(p) => {
            let old = Signer::new(p.as_bytes());
            keyer.with_previous(move |key| old.sign(list::privacy::PURPOSE, key))
        }
        None => keyer,
    }
}

/// The keyer of one signer: its HMAC with the purpose `forget`.
pub fn keyer_of(signer: Signer) -> list::privacy::Keyer {
    list::privacy::Keyer::new(move |key| signer.sign(list::privacy::PURPOSE, key))
}
