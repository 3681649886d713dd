//! Unsubscribe tokens and links: an HMAC-SHA256 of the normalized address under a secret.
//!
//! Owns how a token is made and checked (in constant time) and how the
//! unsubscribe URL looks, and secret rotation: a previous secret whose tokens
//! are still accepted but which never signs anything new; and the one
//! constant-time comparison of secrets the server uses. It does not read
//! the environment (the planner does) and does not touch the suppression
//! list: the server does.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The secret used when none is configured and mail only goes to the outbox.
/// Tokens made with it are forgeable by anyone who reads this source.
pub const DEVELOPMENT_SECRET: &str = "tipsheet-development-secret-do-not-use-in-production";

/// Bytes of the MAC kept in a token (128 bits, 32 hex characters).
const TOKEN_BYTES: usize = 16;

/// Makes tokens under one secret, and checks them under it or, after a
/// rotation, under the previous one.
#[derive(Clone)]
pub struct Signer {
    /// HMAC state with the key already absorbed, cloned per token.
    keyed: Hmac<Sha256>,
    /// The secret before the last rotation: verifies, never signs.
    previous: Option<Hmac<Sha256>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)") // never print the secret
    }
}

impl Signer {
    /// A signer for `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            keyed: keyed(secret),
            previous: None,
        }
    }

    /// The same signer, also accepting tokens made under `previous` (the
    /// secret before a rotation). Nothing is ever signed with it.
    pub(crate) fn with_previous(mut self, previous: &[u8]) -> Self {
        self.previous = Some(keyed(previous));
        self
    }

    /// True when a previous secret is accepted.
    #[cfg(test)]
    pub(crate) fn accepts_previous(&self) -> bool {
        self.previous.is_some()
    }

    /// A hex token binding `message` to `purpose`, under the current secret only.
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        let bytes = mac(&self.keyed, purpose, message).finalize().into_bytes();
        hex::encode(&bytes[..TOKEN_BYTES])
    }

    /// Checks a token in constant time, under the current secret or the
    /// previous one. Both are always tried, so timing does not tell which matched.
    pub(crate) fn verify(&self, purpose: &str, message: &str, token: &str) -> bool {
        let Ok(bytes) = hex::decode(token.trim()) else {
            return false;
        };
        if bytes.len() != TOKEN_BYTES {
            return false;
        }
        let check = |key: &Hmac<Sha256>| {
            mac(key, purpose, message)
                .verify_truncated_left(&bytes)
                .is_ok()
        };
        let current = check(&self.keyed);
        let previous = self.previous.as_ref().is_some_and(check);
        current | previous
    }

    /// The unsubscribe token of a normalized address.
    pub fn unsubscribe_token(&self, key: &str) -> String {
        self.sign("unsubscribe", key)
    }

    /// Checks an unsubscribe token for a normalized address.
    pub fn verify_unsubscribe(&self, key: &str, token: &str) -> bool {
        self.verify("unsubscribe", key, token)
    }

    /// `<base_url>/unsubscribe?e=<address>&t=<token>`.
    pub fn unsubscribe_url(&self, base_url: &str, key: &str) -> String {
        format!(
            "{}/unsubscribe?e={}&t={}",
            base_url.trim_end_matches('/'),
            encode_query(key),
            self.unsubscribe_token(key)
        )
    }
}

/// HMAC state with `secret` absorbed.
fn keyed(secret: &[u8]) -> Hmac<Sha256> {
    // A key of any length is accepted by HMAC; this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("hmac accepts keys of any length"))
}

/// The MAC of `purpose`, a NUL, then `message`, under `key`.
fn mac(key: &Hmac<Sha256>, purpose: &str, message: &str) -> Hmac<Sha256> {
    let mut mac = key.clone();
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(message.as_bytes());
    mac
}

/// Compares two secrets (bearer tokens, webhook keys) without leaking where
/// they differ: both are hashed first, so neither their lengths nor their
/// bytes show in the timing, and the digests are compared in constant time.
pub(crate) fn same_secret(given: impl AsRef<[u8]>, expected: impl AsRef<[u8]>) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_ref()),
        Sha256::digest(expected.as_ref()),
    );
    a[..].ct_eq(&b[..]).into()
}

/// Percent-encodes a query value (kept here for callers of the old path).
pub use crate::content::issue::encode_query;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("", "abc"));
        assert!(!same_secret("abcd", "abc"));
        assert!(same_secret(b"k\0ey".as_slice(), "k\0ey".as_bytes()));
    }

    #[test]
    fn tokens_verify_only_for_their_address_and_secret() {
        let s = Signer::new(b"secret");
        let t = s.unsubscribe_token("ana@example.com");
        assert_eq!(t.len(), 32);
        assert!(s.verify_unsubscribe("ana@example.com", &t));
        assert!(!s.verify_unsubscribe("bob@example.com", &t));
        assert!(!Signer::new(b"other").verify_unsubscribe("ana@example.com", &t));
        assert!(!s.verify("confirm", "ana@example.com", &t));
        assert!(!s.verify_unsubscribe("ana@example.com", &t[..30]));
        assert!(!s.verify_unsubscribe("ana@example.com", "zz"));
    }

    #[test]
    fn after_a_rotation_old_tokens_verify_and_new_ones_use_the_new_secret() {
        let old = Signer::new(b"old secret");
        let rotated = Signer::new(b"new secret").with_previous(b"old secret");
        let neither = Signer::new(b"a third secret");
        let key = "ana@example.com";
        let from_old = old.unsubscribe_token(key);
        assert!(rotated.verify_unsubscribe(key, &from_old));
        assert!(!rotated.verify_unsubscribe("bob@example.com", &from_old));
        assert!(!rotated.verify("confirm", key, &from_old));
        assert!(!rotated.verify_unsubscribe(key, &neither.unsubscribe_token(key)));
        // Signing uses the new secret only.
        let fresh = rotated.unsubscribe_token(key);
        assert_ne!(fresh, from_old);
        assert_eq!(fresh, Signer::new(b"new secret").unsubscribe_token(key));
        assert!(!old.verify_unsubscribe(key, &fresh));
        assert!(rotated.accepts_previous() && !old.accepts_previous());
    }

    #[test]
    fn url_encodes_the_address() {
        let s = Signer::new(b"k");
        let url = s.unsubscribe_url("https://news.example.com/", "a+b@example.com");
        assert!(url.starts_with("https://news.example.com/unsubscribe?e=a%2Bb%40example.com&t="));
    }
}
