//! Pseudonyms of erased readers: the keyed hash that stands in a list file
//! for an address after `subscribers forget`.
//!
//! Owns the pseudonym form (`hmac:` and 32 hex digits, HMAC-SHA256 of the
//! normalized address under the unsubscribe secret) and the [`Keyer`] that
//! makes and recognises them. It knows no secret and no mail: the caller hands
//! in the keyed hash. It must not read or write files.

use std::sync::Arc;

/// How a pseudonym starts; never a valid address (it has no `@`).
pub(crate) const PSEUDONYM_PREFIX: &str = "hmac:";
/// Token purpose of pseudonyms, so they are never valid unsubscribe tokens.
pub(crate) const PURPOSE: &str = "forget";
/// Hex digits after the prefix (128 bits).
const HEX_CHARS: usize = 32;

/// One secret's keyed hash of a normalized key, as hex.
type Mac = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Makes pseudonyms: HMAC-SHA256 of the normalized address under the
/// unsubscribe secret (`plan::keyer` hands in `mail::token::Signer::sign`
/// with [`PURPOSE`]; this module knows no secret and no mail). Extra
/// (previous) secrets are tried on lookup, so a rotated secret still
/// recognises readers erased under the old one.
#[derive(Clone)]
pub struct Keyer {
    /// The current secret first.
    macs: Vec<Mac>,
}

impl std::fmt::Debug for Keyer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyer(..)") // holds a secret
    }
}

impl Keyer {
    /// A keyer whose pseudonyms are `mac` of the key (hex) under the current secret.
    pub(crate) fn new(mac: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        Self {
            macs: vec![Arc::new(mac)],
        }
    }

    /// Also recognise pseudonyms made under a previous secret.
    pub(crate) fn with_previous(
        mut self,
        mac: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        self.macs.push(Arc::new(mac));
        self
    }

    /// The pseudonym written for a normalized key (under the current secret).
    pub fn pseudonym(&self, key: &str) -> String {
        let mac = &self.macs[0]; // `new` puts one there; never removed
        format!("{PSEUDONYM_PREFIX}{}", mac(key))
    }

    /// Every pseudonym the key may have been written as.
    pub(crate) fn pseudonyms<'a>(&'a self, key: &'a str) -> impl Iterator<Item = String> + 'a {
        self.macs
            .iter()
            .map(move |m| format!("{PSEUDONYM_PREFIX}{}", m(key)))
    }
}

/// Whether `value` has the pseudonym form.
pub(crate) fn is_pseudonym(value: &str) -> bool {
    value.strip_prefix(PSEUDONYM_PREFIX).is_some_and(|h| {
        h.len() == HEX_CHARS
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::token::Signer;

    fn keyer_for(secret: &[u8]) -> Keyer {
        let s = Signer::new(secret);
        Keyer::new(move |k| s.sign(PURPOSE, k))
    }

    fn keyer() -> Keyer {
        keyer_for(b"secret")
    }

    #[test]
    fn pseudonyms_are_keyed_and_recognised() {
        let k = keyer();
        let p = k.pseudonym("ana@example.com");
        assert!(is_pseudonym(&p), "{p}");
        assert_eq!(p.len(), PSEUDONYM_PREFIX.len() + HEX_CHARS);
        assert_ne!(p, keyer_for(b"other").pseudonym("ana@example.com"));
        assert_ne!(p, k.pseudonym("bob@example.com"));
        for bad in ["hmac:", "hmac:XYZ", "ana@example.com", &p[..p.len() - 1]] {
            assert!(!is_pseudonym(bad), "{bad}");
        }
        let old = Signer::new(b"secret");
        let rotated = keyer_for(b"new").with_previous(move |k| old.sign(PURPOSE, k));
        assert!(rotated.pseudonyms("ana@example.com").any(|q| q == p));
    }
}
