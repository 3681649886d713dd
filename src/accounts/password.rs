//! Passwords: Argon2id hashes in the PHC string format (the parameters kept
//! beside each hash), OWASP's parameters (19 MiB, two passes, one lane), and
//! a dummy hash verified for unknown names so that they take as long as a
//! wrong password.
//!
//! Owns hashing and verifying. It must not store or log a password.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Shortest password accepted (OWASP's length for a single factor).
pub(crate) const MIN_PASSWORD_CHARS: usize = 15;
/// Longest password accepted, in bytes (hashing is bounded work).
pub(crate) const MAX_PASSWORD_BYTES: usize = 1024;

/// The Argon2id hash of `password` with a fresh random salt.
pub(crate) fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches `stored` (constant time inside Argon2's
/// comparison; a hash that cannot be read matches nothing).
pub(crate) fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Spends the time of one verification on a name nobody has, so that an
/// unknown name and a wrong password take as long.
pub(crate) fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("not a password anyone has").unwrap_or_default());
    let _ = verify(password, stored);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let a = hash("correct horse battery staple").unwrap();
        let b = hash("correct horse battery staple").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery staple", &a));
        assert!(!verify("correct horse battery stapl", &a));
        assert!(!verify("correct horse battery staple", "not a hash"));
        verify_dummy("anything");
    }
}
