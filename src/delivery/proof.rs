//! Proofs (`send --proof`): a `[PROOF]` copy of an issue to each address of
//! `[editorial] proof_to`, outside the ledger.
//!
//! A proof is the issue as it will be sent: the copy frozen in the store when
//! there is one (an approved issue), else the issue as `send` would assemble
//! and render it now; the same templates, headers and DKIM signature, the
//! subject prefixed with `[PROOF] `. It is personalised for the proof address
//! itself (greeting fallback for the name, that address's own unsubscribe
//! link), so a click on its unsubscribe link unsubscribes only the proof
//! address. Nothing is recorded: no ledger row, no ledger file.

use std::time::SystemTime;

use chrono::NaiveDate;
use lettre::Address;

use super::session::SessionError;
use super::transport::{Transport, send_one};
use crate::config::Config;
use crate::content::Library;
use crate::list;
use crate::mail::prepared::{CopyKind, Prepared, Recipient};
use crate::mail::token::Signer;
use crate::mail::{self, PrepareError};
use crate::plan;
use crate::schedule::Slot;
use crate::store::Store;

/// What `send --proof` did.
#[derive(Debug)]
pub struct Proofs {
    /// The issue number.
    pub number: u32,
    /// Its slot date.
    pub date: NaiveDate,
    /// The subject as sent, `[PROOF] ` included.
    pub subject: String,
    /// Whether the copy came from the store (frozen, e.g. approved) rather
    /// than rendered now.
    pub frozen: bool,
    /// The proofs accepted: (address, reply code, reply text).
    pub sent: Vec<(Address, u16, String)>,
    /// The proofs refused: (address, why).
    pub failed: Vec<(String, String)>,
}

/// Sends a proof of the issue of `slot` to every `[editorial] proof_to`
/// address, reading the store (if there is one) and writing nothing to it.
/// A proof that fails is reported in [`Proofs::failed`]; the others still go.
pub async fn send_proofs(
    config: &Config,
    store: Option<&Store>,
    library: &Library,
    slot: Slot,
    signer: Signer,
) -> Result<Proofs, SessionError> {
    if config.editorial.proof_to.is_empty() {
        return Err(SessionError::NoProofAddress);
    }
    let date = slot.date;
    let (snapshot, stored) = match store {
        Some(s) => (Some(s.snapshot(None).await?), s.rendered(date).await?),
        None => (None, None),
    };
    let (issue, _) = plan::choose(config, library, snapshot.as_ref(), slot)?;
    let frozen = stored.is_some();
    let render = match stored {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| SessionError::Frozen {
            date,
            detail: e.to_string(),
        })?,
        None => Prepared::render(config, &issue, SystemTime::now()).map_err(PrepareError::from)?,
    };
    let prepared = mail::prepare_frozen(config, &issue, &render, signer, CopyKind::Proof)?;
    let transport = Transport::from_config(config, &format!("proof-{date}"));
    let (mut sent, mut failed) = (Vec::new(), Vec::new());
    for to in &config.editorial.proof_to {
        // Checked when the config was read.
        let Ok(address) = to.trim().parse::<Address>() else {
            failed.push((to.clone(), "not an email address".into()));
            continue;
        };
        let key = list::normalize(to);
        let message = prepared.message(&Recipient {
            email: &address,
            key: &key,
            name: "",
        });
        match send_one(&transport, &prepared.envelope(&address), &message).await {
            Ok((code, reply)) => sent.push((address, code, reply)),
            Err(e) => failed.push((address.to_string(), format!("{e:?}"))),
        }
    }
    Ok(Proofs {
        number: issue.number(),
        date,
        subject: prepared.subject.clone(),
        frozen,
        sent,
        failed,
    })
}
