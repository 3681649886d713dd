//! DKIM: loading the signing key named in `[dkim]`, signing messages with
//! lettre's `dkim` module, and the DNS TXT record to publish.
//!
//! Owns key formats (RSA PKCS#1 or PKCS#8 PEM; Ed25519 as the base64 of its
//! 32-byte seed, or PKCS#8 PEM) and which headers are signed. It must not build
//! message bodies: `render` hands it a finished message.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};

/// `[dkim]` in config.toml: plain data, owned by [`crate::config`].
pub use crate::config::DkimSettings;

/// DKIM errors.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    /// The key file cannot be read.
    #[error("cannot read DKIM key `{path}`: {source} (check `dkim.private_key_path`)")]
    Read {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key is not a usable RSA or Ed25519 key.
    #[error(
        "DKIM key `{path}` is not an RSA (PEM) or Ed25519 key: {reason}; generate one with `openssl genrsa -traditional 2048`"
    )]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The headers every signature covers. RFC 8058 requires List-Unsubscribe and
/// List-Unsubscribe-Post to be signed for one-click unsubscribe.
const SIGNED: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
];

/// A loaded key, ready to sign.
pub struct Signer {
    config: DkimConfig,
    /// `rsa` or `ed25519`.
    pub algorithm: &'static str,
    /// The DNS TXT record value to publish.
    pub dns_record: String,
    /// Where to publish it.
    pub dns_name: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dkim::Signer({}, {})", self.dns_name, self.algorithm)
    }
}

impl Signer {
    /// Loads the key `settings` names; `base` resolves a relative path.
    pub fn load(settings: &DkimSettings, base: &Path) -> Result<Self, DkimError> {
        let path = if settings.private_key_path.is_relative() {
            base.join(&settings.private_key_path)
        } else {
            settings.private_key_path.clone()
        };
        let text = std::fs::read_to_string(&path).map_err(|source| DkimError::Read {
            path: path.clone(),
            source,
        })?;
        let bad = |reason: String| DkimError::Key {
            path: path.clone(),
            reason,
        };
        let text = text.trim();
        let (key, algorithm, public) = if text.contains("PRIVATE KEY-----") {
            // RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8).
            let rsa_key = rsa::RsaPrivateKey::from_pkcs1_pem(text)
                .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(text));
            match rsa_key {
                Ok(k) => {
                    let pkcs1 = k
                        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
                        .map_err(|e| bad(e.to_string()))?;
                    let public = k
                        .to_public_key()
                        .to_public_key_der()
                        .map_err(|e| bad(e.to_string()))?;
                    let key = DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa)
                        .map_err(|e| bad(e.to_string()))?;
                    (key, "rsa", public.as_bytes().to_vec())
                }
                Err(_) => {
                    let k = ed25519_dalek::SigningKey::from_pkcs8_pem(text)
                        .map_err(|e| bad(format!("neither RSA nor Ed25519 PEM ({e})")))?;
                    ed25519(&k.to_bytes(), &bad)?
                }
            }
        } else {
            let seed = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| bad(format!("not PEM, and not base64 ({e})")))?;
            let seed: [u8; 32] = seed
                .try_into()
                .map_err(|_| bad("a base64 Ed25519 key must be 32 bytes".into()))?;
            ed25519(&seed, &bad)?
        };
        let headers = SIGNED
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect();
        let config = DkimConfig::new(
            settings.selector.clone(),
            settings.domain.clone(),
            key,
            headers,
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        );
        let p = base64::engine::general_purpose::STANDARD.encode(public);
        Ok(Signer {
            config,
            algorithm,
            dns_record: format!("v=DKIM1; k={algorithm}; p={p}"),
            dns_name: format!("{}._domainkey.{}", settings.selector, settings.domain),
        })
    }

    /// Adds a DKIM-Signature header to `message`.
    pub fn sign(&self, message: &mut lettre::Message) {
        lettre::message::dkim::dkim_sign(message, &self.config);
    }
}

type Loaded = (DkimSigningKey, &'static str, Vec<u8>);

fn ed25519(seed: &[u8; 32], bad: &dyn Fn(String) -> DkimError) -> Result<Loaded, DkimError> {
    let k = ed25519_dalek::SigningKey::from_bytes(seed);
    let b64 = base64::engine::general_purpose::STANDARD.encode(seed);
    let key =
        DkimSigningKey::new(&b64, DkimSigningAlgorithm::Ed25519).map_err(|e| bad(e.to_string()))?;
    // RFC 8463: the record carries the raw 32-byte public key.
    Ok((key, "ed25519", k.verifying_key().to_bytes().to_vec()))
}
