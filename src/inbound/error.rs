//! Why a message could not be read, or its event not applied: the one error
//! of `inbound`, shared by its files. Owns nothing else.

use super::policy::PolicyError;
use crate::store::LedgerError;

/// Why a message could not be read. None of these changes anything.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// Over the size cap.
    #[error(
        "{size} bytes, more than the {limit} read; a bounce or report is far smaller, so this is not one"
    )]
    TooLarge {
        /// Its size.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// Not a message at all.
    #[error("not an email message: {0}")]
    Malformed(String),
    /// Nested or split beyond the caps.
    #[error("too complex to read: {0}")]
    TooComplex(String),
    /// A report missing what it must carry.
    #[error("truncated or incomplete: {0}")]
    Truncated(String),
    /// Undecodable content.
    #[error("wrong charset or encoding: {0}")]
    Encoding(String),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Applying the event failed.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}
